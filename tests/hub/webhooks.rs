//! Webhooks (docs/push.md): a local HTTPS receiver, trusted through the test CA
//! (`webhook_ca_file`), gets each of its registration's events signed, once, in order, even
//! when it fails at first; only the administrator manages the endpoint.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::BodyExt;
use hyper_util::rt::{TokioExecutor, TokioIo};
use kirikae::domain::Area;
use kirikae::push::signature;
use serde_json::{Value, json};

use crate::harness::*;

/// One POST the receiver took.
#[derive(Clone, Debug)]
pub struct Received {
    pub event_id: String,
    pub signature: String,
    pub body: Vec<u8>,
    /// Whether the receiver answered 2xx (it fails its first `fail_first` POSTs with 500).
    pub accepted: bool,
}

/// An HTTPS endpoint on 127.0.0.1 with the hub's test server certificate (`localhost`).
pub struct Receiver {
    pub url: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    /// What it has taken so far.
    pub fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// The events it answered 2xx, as JSON, in the order they came.
    pub fn accepted(&self) -> Vec<Value> {
        self.got()
            .iter()
            .filter(|r| r.accepted)
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect()
    }
}

/// Settings for webhooks to the test receiver: its CA trusted, quick retries.
pub fn trusting_the_test_ca(s: &mut kirikae::config::Settings) {
    s.webhook_ca_file = Some(s.tls_dir.join("ca.pem"));
    s.webhook_retry_min_ms = 50;
    s.webhook_retry_max_ms = 200;
    s.webhook_poll_ms = 50;
}

pub async fn start_receiver(app: &TestApp, fail_first: usize) -> Receiver {
    let acceptor = crate::harness::tls_acceptor(app.certs.path());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = Arc::new(Mutex::new(Vec::new()));
    let failures = Arc::new(AtomicUsize::new(fail_first));
    let shutdown = app.shutdown.clone();
    let (into, left) = (got.clone(), failures.clone());
    tokio::spawn(async move {
        loop {
            let (tcp, _) = tokio::select! {
                _ = shutdown.cancelled() => return,
                a = listener.accept() => a.unwrap(),
            };
            let (acceptor, got, failures) = (acceptor.clone(), into.clone(), left.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let (got, failures) = (got.clone(), failures.clone());
                        async move {
                            let header = |n: &str| {
                                req.headers()
                                    .get(n)
                                    .map(|v| v.to_str().unwrap().to_string())
                                    .unwrap_or_default()
                            };
                            let (event_id, signature) =
                                (header("kirikae-event-id"), header("kirikae-signature"));
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            let fail = failures
                                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                                    n.checked_sub(1)
                                })
                                .is_ok();
                            got.lock().unwrap().push(Received {
                                event_id,
                                signature,
                                body: body.to_vec(),
                                accepted: !fail,
                            });
                            let status = if fail { 500 } else { 204 };
                            Ok::<_, std::convert::Infallible>(
                                hyper::Response::builder()
                                    .status(status)
                                    .body(http_body_util::Empty::<hyper::body::Bytes>::new())
                                    .unwrap(),
                            )
                        }
                    },
                );
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    Receiver {
        url: format!("https://localhost:{port}/hook"),
        got,
    }
}

impl Retailer {
    /// `method` on `path` with the token and an optional JSON body: status and JSON answer.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.api))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        (
            resp.status().as_u16(),
            resp.json().await.unwrap_or(Value::Null),
        )
    }

    /// Registers `url` as the registration's webhook; its secret.
    pub async fn register_webhook(&self, url: &str) -> String {
        let (code, body) = self
            .call(
                reqwest::Method::PUT,
                "/api/v1/admin/webhook",
                Some(json!({"url": url})),
            )
            .await;
        assert_eq!(code, 200, "{body}");
        body["secret"].as_str().unwrap().to_string()
    }

    /// Every event of the feed from the start.
    pub async fn all_events(&self) -> Vec<Value> {
        let (code, page) = self.get("/api/v1/events?limit=500").await;
        assert_eq!(code, 200, "{page}");
        page["events"].as_array().unwrap().clone()
    }
}

/// Waits until the receiver has accepted exactly the registration's feed (same ids, same
/// order); returns it.
async fn until_the_receiver_has_the_feed(
    who: &Retailer,
    receiver: &Receiver,
    ids: &[String],
) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let feed = who.all_events().await;
        let finished = ids.iter().all(|id| {
            feed.iter()
                .any(|e| e["subject_id"] == id.as_str() && e["status"] == "completed")
        });
        let got: Vec<Value> = receiver
            .accepted()
            .iter()
            .map(|e| e["id"].clone())
            .collect();
        let want: Vec<Value> = feed.iter().map(|e| e["id"].clone()).collect();
        if finished && got.len() >= want.len() {
            assert_eq!(
                got, want,
                "the receiver's events are the feed's, once, in order"
            );
            return feed;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the receiver has {got:?}, the feed {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn each_event_reaches_the_webhook_signed_with_its_id_once_and_in_order() {
    let app = spawn_app_tweaked(&[Area::Tokyo], trusting_the_test_ca).await;
    let receiver = start_receiver(&app, 0).await;
    let a = app.login(RETAILER_A).await;
    let secret = a.register_webhook(&receiver.url).await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(a.facility_inquiry(&app.point(Area::Tokyo, 20 + n).0).await);
    }
    let feed = until_the_receiver_has_the_feed(&a, &receiver, &ids).await;
    for r in receiver.got() {
        assert!(
            signature::verifies(&secret, &r.signature, &r.body),
            "{} does not sign {}",
            r.signature,
            String::from_utf8_lossy(&r.body)
        );
        let t: i64 = r.signature[2..r.signature.find(',').unwrap()]
            .parse()
            .unwrap();
        assert!((chrono::Utc::now().timestamp() - t).abs() < 120, "t={t}");
        let event: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            event["id"],
            r.event_id.as_str(),
            "Kirikae-Event-Id is the event's id"
        );
    }
    // The position moves when the last attempt is recorded, just after the receiver answered.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (code, shown) = a.get("/api/v1/admin/webhook").await;
        assert_eq!(code, 200, "{shown}");
        assert_eq!(shown["url"], receiver.url.as_str());
        assert!(
            shown.get("secret").is_none(),
            "the secret is shown only once: {shown}"
        );
        if shown["delivered_through"] == feed.last().unwrap()["id"] {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{shown}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_receiver_failing_at_first_is_retried_and_then_gets_every_event_once_in_order() {
    let app = spawn_app_tweaked(&[Area::Tokyo], trusting_the_test_ca).await;
    let receiver = start_receiver(&app, 4).await;
    let a = app.login(RETAILER_A).await;
    a.register_webhook(&receiver.url).await;
    let mut ids = Vec::new();
    for n in 0..2 {
        ids.push(a.facility_inquiry(&app.point(Area::Tokyo, 30 + n).0).await);
    }
    until_the_receiver_has_the_feed(&a, &receiver, &ids).await;
    let refused = receiver.got().iter().filter(|r| !r.accepted).count();
    assert_eq!(refused, 4, "the receiver failed its first four POSTs");
    let first = &receiver.got()[0];
    assert!(
        receiver.got()[..5]
            .iter()
            .all(|r| r.event_id == first.event_id),
        "the first event is retried until delivered before the next is sent"
    );
    let (code, list) = a.get("/api/v1/admin/webhook/deliveries").await;
    assert_eq!(code, 200, "{list}");
    let outcomes: Vec<(&str, Option<i64>)> = list["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|d| (d["outcome"].as_str().unwrap(), d["http_status"].as_i64()))
        .collect();
    let expected: Vec<(&str, Option<i64>)> = vec![("retrying", Some(500)); 4]
        .into_iter()
        .chain([("delivered", Some(204))])
        .collect();
    assert_eq!(outcomes[..5], expected[..], "{list}");
}

#[tokio::test]
async fn an_event_failing_for_longer_than_the_retry_period_is_marked_failed_and_the_next_follows() {
    let app = spawn_app_tweaked(&[Area::Tokyo], |s| {
        trusting_the_test_ca(s);
        s.webhook_retry_for_secs = 0;
    })
    .await;
    let receiver = start_receiver(&app, 1).await;
    let a = app.login(RETAILER_A).await;
    a.register_webhook(&receiver.url).await;
    let id = a.facility_inquiry(&app.point(Area::Tokyo, 40).0).await;
    a.final_status(&id).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let list = loop {
        let (_, list) = a.get("/api/v1/admin/webhook/deliveries").await;
        let n = list["deliveries"].as_array().unwrap().len();
        let feed = a.all_events().await.len();
        if n >= feed && feed > 0 && receiver.accepted().len() + 1 == feed {
            break list;
        }
        assert!(tokio::time::Instant::now() < deadline, "{list}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let oldest = list["deliveries"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(oldest["outcome"], "failed", "{list}");
    assert_eq!(oldest["http_status"], 500);
}

#[tokio::test]
async fn only_the_administrator_manages_the_webhook_and_only_https_is_taken() {
    let app = spawn_app_tweaked(&[], trusting_the_test_ca).await;
    let staff = app.login_ordinary(RETAILER_A).await;
    for (method, path) in [
        (reqwest::Method::PUT, "/api/v1/admin/webhook"),
        (reqwest::Method::GET, "/api/v1/admin/webhook"),
        (reqwest::Method::DELETE, "/api/v1/admin/webhook"),
        (reqwest::Method::GET, "/api/v1/admin/webhook/deliveries"),
    ] {
        let body = (method == reqwest::Method::PUT).then(|| json!({"url": "https://localhost/x"}));
        let (code, answer) = staff.call(method.clone(), path, body).await;
        assert_eq!(code, 403, "{method} {path}: {answer}");
        assert_eq!(answer["code"], "administrator_required");
    }
    let admin = app.login(RETAILER_A).await;
    let (code, answer) = admin
        .call(
            reqwest::Method::PUT,
            "/api/v1/admin/webhook",
            Some(json!({"url": "http://localhost/x"})),
        )
        .await;
    assert_eq!(code, 422, "{answer}");
    assert_eq!(answer["code"], "invalid_webhook_url");
    let (code, _) = admin.get("/api/v1/admin/webhook").await;
    assert_eq!(code, 404);
    admin.register_webhook("https://localhost:9/x").await;
    let (code, _) = admin
        .call(reqwest::Method::DELETE, "/api/v1/admin/webhook", None)
        .await;
    assert_eq!(code, 204);
    let (code, answer) = admin.get("/api/v1/admin/webhook").await;
    assert_eq!(
        (code, answer["code"].as_str()),
        (404, Some("webhook_not_found"))
    );
}

/// SSRF: a registration may not make the hub call its own network. Without
/// `webhook_allow_private`, a loopback, private, link-local or metadata address is refused at
/// registration (`422 webhook_target_forbidden`), and a name that resolves to one at delivery
/// (re-pointed after registration: DNS rebinding) is never connected to; the attempt is
/// recorded as failing and the receiver gets nothing. (Allowed: with the setting, as every
/// other test here runs, the same receiver gets every event.)
#[tokio::test]
async fn a_webhook_to_an_internal_address_is_refused_and_never_delivered_to() {
    let app = spawn_app_tweaked(&[Area::Tokyo], |s| {
        trusting_the_test_ca(s);
        s.webhook_allow_private = false;
    })
    .await;
    let receiver = start_receiver(&app, 0).await;
    let a = app.login(RETAILER_A).await;
    let port = receiver
        .url
        .split(':')
        .nth(2)
        .unwrap()
        .trim_end_matches("/hook");
    for url in [
        receiver.url.clone(),
        format!("https://127.0.0.1:{port}/hook"),
        "https://[::1]/hook".into(),
        "https://169.254.169.254/latest/meta-data".into(),
        "https://10.0.0.1/hook".into(),
        "https://192.168.0.1/hook".into(),
    ] {
        let (code, answer) = a
            .call(
                reqwest::Method::PUT,
                "/api/v1/admin/webhook",
                Some(json!({"url": url})),
            )
            .await;
        assert_eq!(code, 422, "{url}: {answer}");
        assert_eq!(answer["code"], "webhook_target_forbidden", "{url}");
    }
    // The row a public name would have left, its name now resolving to loopback.
    let pool = kirikae::hub::pool(&app.settings).unwrap();
    pool.get()
        .await
        .unwrap()
        .execute(
            "INSERT INTO webhooks (company_code, url, secret, delivered_through)
             VALUES ($1, $2, 'whsec_test', 0)",
            &[&RETAILER_A, &receiver.url],
        )
        .await
        .unwrap();
    a.facility_inquiry(&app.point(Area::Tokyo, 30).0).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let error = loop {
        let row = pool
            .get()
            .await
            .unwrap()
            .query_opt(
                "SELECT error FROM webhook_deliveries WHERE company_code = $1 LIMIT 1",
                &[&RETAILER_A],
            )
            .await
            .unwrap();
        if let Some(r) = row {
            break r.get::<_, Option<String>>(0).unwrap_or_default();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no attempt recorded"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(error.contains("may not reach"), "{error}");
    assert!(receiver.got().is_empty(), "{:?}", receiver.got());
}
