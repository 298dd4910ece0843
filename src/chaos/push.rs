//! The push as a retailer meets it (docs/push.md), for the check: the change feed read through
//! the API's `/api/v1/events`, paging to the end as a client would, and a webhook receiver — a
//! small HTTPS listener in the chaos process, registered through the API for one company —
//! that keeps every POST it took, signature and all, so the check can hold both against the
//! topics and the database afterwards.

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use http_body_util::BodyExt;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::load::Clients;

/// Events a feed page asks for (the API's most).
const PAGE: usize = 500;

/// One request event of a registration's change feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEvent {
    pub id: i64,
    pub subject_id: String,
    pub status: String,
}

/// A registration's change feed, read from the start to its end.
#[derive(Debug, Clone, Default)]
pub struct Feed {
    /// Its request events (intermediation events left out: the load files none), in the order
    /// given.
    pub events: Vec<FeedEvent>,
    /// Events whose id was not above the one before (the feed promises id order).
    pub out_of_order: usize,
}

impl Feed {
    /// A feed from its pages' events, as the API gave them.
    fn of(events: &[Value]) -> Feed {
        let mut feed = Feed::default();
        let mut last = 0;
        for e in events {
            let id = e["id"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0);
            if id <= last {
                feed.out_of_order += 1;
            }
            last = last.max(id);
            if e["kind"] == "request" {
                feed.events.push(FeedEvent {
                    id,
                    subject_id: e["subject_id"].as_str().unwrap_or_default().to_string(),
                    status: e["status"].as_str().unwrap_or_default().to_string(),
                });
            }
        }
        feed
    }
}

/// `company`'s whole feed through API `api`: `after=<next>` until a page comes back empty.
pub async fn read_feed(clients: &Clients, api: usize, company: &str) -> anyhow::Result<Feed> {
    let mut all = Vec::new();
    let mut next = "0".to_string();
    loop {
        let path = format!("/api/v1/events?after={next}&limit={PAGE}");
        let (status, page) = clients
            .call(api, company, reqwest::Method::GET, &path, None)
            .await?;
        anyhow::ensure!(status == 200, "GET {path} as {company}: {status} {page}");
        let events = page["events"].as_array().context("a page without events")?;
        if events.is_empty() {
            return Ok(Feed::of(&all));
        }
        next = page["next"]
            .as_str()
            .context("a page without next")?
            .to_string();
        all.extend(events.iter().cloned());
    }
}

/// One POST the receiver took (it answers every one 204).
#[derive(Debug, Clone)]
pub struct Received {
    pub event_id: String,
    pub signature: String,
    pub body: Vec<u8>,
}

/// One event as the webhook delivered it, read from a POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub id: i64,
    pub subject_id: String,
    pub status: String,
    /// Whether `Kirikae-Signature` signs the body with the registration's secret and
    /// `Kirikae-Event-Id` is the body's id.
    pub signed: bool,
}

impl Delivered {
    pub fn of(secret: &str, r: &Received) -> Delivered {
        let event: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        let id_str = event["id"].as_str().unwrap_or_default();
        Delivered {
            id: id_str.parse().unwrap_or(0),
            subject_id: event["subject_id"].as_str().unwrap_or_default().to_string(),
            status: event["status"].as_str().unwrap_or_default().to_string(),
            signed: crate::push::signature::verifies(secret, &r.signature, &r.body)
                && id_str == r.event_id,
        }
    }
}

/// The webhook receiver of a run: where it listens, the registration it serves and what it
/// has taken.
pub struct Receiver {
    pub company: String,
    secret: String,
    got: Arc<Mutex<Vec<Received>>>,
    stop: CancellationToken,
}

impl Receiver {
    /// Listens on 127.0.0.1 with the run's server certificate (`localhost`, trusted by the
    /// hub through `webhook_ca_file`) and registers itself as `company`'s webhook through the
    /// API, as the registration's administrator would.
    pub async fn start(
        tls_dir: &Path,
        clients: &Clients,
        company: &str,
    ) -> anyhow::Result<Receiver> {
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config(tls_dir)?));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("https://localhost:{}/hook", listener.local_addr()?.port());
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let stop = CancellationToken::new();
        tokio::spawn(serve(listener, acceptor, got.clone(), stop.clone()));
        let body = json!({ "url": url });
        let (status, answer) = clients
            .call(
                0,
                company,
                reqwest::Method::PUT,
                "/api/v1/admin/webhook",
                Some(&body),
            )
            .await?;
        if status != 200 {
            stop.cancel();
            anyhow::bail!("registering the webhook of {company}: {status} {answer}");
        }
        let secret = answer["secret"]
            .as_str()
            .context("no secret in the answer")?
            .to_string();
        Ok(Receiver {
            company: company.to_string(),
            secret,
            got,
            stop,
        })
    }

    /// Every event taken so far, in the order the POSTs came.
    pub fn delivered(&self) -> Vec<Delivered> {
        self.got
            .lock()
            .expect("receiver log")
            .iter()
            .map(|r| Delivered::of(&self.secret, r))
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn server_config(dir: &Path) -> anyhow::Result<rustls::ServerConfig> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let chain =
        CertificateDer::pem_file_iter(dir.join("server.pem"))?.collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?)
}

async fn serve(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    got: Arc<Mutex<Vec<Received>>>,
    stop: CancellationToken,
) {
    loop {
        let tcp = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(_) => continue,
            },
        };
        let (acceptor, got) = (acceptor.clone(), got.clone());
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let service = hyper::service::service_fn(move |req: hyper::Request<_>| {
                let got = got.clone();
                async move { Ok::<_, std::convert::Infallible>(take(req, &got).await) }
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}

/// Keeps one POST; 204 once its body is stored, 400 when the body did not arrive whole.
async fn take(
    req: hyper::Request<hyper::body::Incoming>,
    got: &Mutex<Vec<Received>>,
) -> hyper::Response<http_body_util::Empty<hyper::body::Bytes>> {
    let header = |n: &str| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (event_id, signature) = (header("kirikae-event-id"), header("kirikae-signature"));
    let status = match req.into_body().collect().await {
        Ok(body) => {
            got.lock().expect("receiver log").push(Received {
                event_id,
                signature,
                body: body.to_bytes().to_vec(),
            });
            hyper::StatusCode::NO_CONTENT
        }
        Err(_) => hyper::StatusCode::BAD_REQUEST,
    };
    let mut resp = hyper::Response::new(http_body_util::Empty::new());
    *resp.status_mut() = status;
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feed_keeps_its_request_events_and_counts_ids_that_do_not_grow() {
        let e = |id: &str, kind: &str, status: &str| json!({"id": id, "kind": kind, "subject_id": format!("s{id}"), "status": status});
        let feed = Feed::of(&[
            e("3", "request", "accepted"),
            e("5", "intermediation", "approved"),
            e("7", "request", "completed"),
            e("7", "request", "completed"),
            e("6", "request", "sent"),
        ]);
        assert_eq!(feed.events.len(), 4);
        assert_eq!(feed.out_of_order, 2, "7 after 7, and 6 after 7");
        assert_eq!(feed.events[1].status, "completed");
    }

    #[test]
    fn a_delivery_is_signed_only_when_the_signature_and_the_event_id_header_match_the_body() {
        let body = br#"{"id":"42","kind":"request","subject_id":"r1","status":"completed"}"#;
        let good = crate::push::signature::header("whsec_x", 1_700_000_000, body);
        let received = |event_id: &str, signature: &str| Received {
            event_id: event_id.into(),
            signature: signature.into(),
            body: body.to_vec(),
        };
        let d = Delivered::of("whsec_x", &received("42", &good));
        assert_eq!(
            (d.id, d.subject_id.as_str(), d.status.as_str(), d.signed),
            (42, "r1", "completed", true)
        );
        assert!(!Delivered::of("whsec_y", &received("42", &good)).signed);
        assert!(!Delivered::of("whsec_x", &received("41", &good)).signed);
    }
}
