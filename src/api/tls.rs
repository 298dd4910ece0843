//! The API's TLS listener: TLS only, a client certificate that chains to the hub's client CA is
//! required, and each connection's certificate travels with its requests as `ClientIdentity`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::deadline::TimedBody;
use crate::domain::CompanyCode;
use crate::metrics;

/// Who the client certificate says is calling: its company (the certificate's common name) and
/// its SHA-256 fingerprint.
#[derive(Debug, Clone)]
pub struct ClientIdentity {
    pub company: Option<CompanyCode>,
    pub fingerprint: String,
    /// A hub operator's certificate (common name `accounts::operators::OPERATOR_CN`).
    pub operator: bool,
}

impl ClientIdentity {
    fn from_der(der: &CertificateDer<'_>) -> Self {
        let fingerprint = hex::encode(Sha256::digest(der.as_ref()));
        let cn = x509_parser::parse_x509_certificate(der.as_ref())
            .ok()
            .and_then(|(_, cert)| {
                let cn = cert.subject().iter_common_name().next()?;
                Some(cn.as_str().ok()?.to_string())
            });
        let company = cn.as_deref().and_then(|cn| CompanyCode::parse(cn).ok());
        let operator = cn.as_deref() == Some(crate::accounts::operators::OPERATOR_CN);
        ClientIdentity {
            company,
            fingerprint,
            operator,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("reading {0}: {1}")]
    Pem(String, rustls_pki_types::pem::Error),
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("client verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}

/// Server configuration from `dir/ca.pem` (the client CA), `dir/server.pem`, `dir/server.key`.
pub fn server_config(dir: &Path) -> Result<rustls::ServerConfig, TlsError> {
    let pem_err = |f: &str| {
        let shown = dir.join(f).display().to_string();
        move |e| TlsError::Pem(shown, e)
    };
    let mut roots = RootCertStore::empty();
    let mut ca_expiry: Option<i64> = None;
    for ca in CertificateDer::pem_file_iter(dir.join("ca.pem")).map_err(pem_err("ca.pem"))? {
        let ca = ca.map_err(pem_err("ca.pem"))?;
        ca_expiry = earliest(ca_expiry, not_after(&ca));
        roots.add(ca)?;
    }
    let chain = CertificateDer::pem_file_iter(dir.join("server.pem"))
        .map_err(pem_err("server.pem"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_err("server.pem"))?;
    let key =
        PrivateKeyDer::from_pem_file(dir.join("server.key")).map_err(pem_err("server.key"))?;
    for (certificate, expiry) in [
        ("server", chain.first().and_then(not_after)),
        ("ca", ca_expiry),
    ] {
        if let Some(not_after_unix) = expiry {
            metrics::TlsCertificateExpiry {
                certificate,
                not_after_unix,
            }
            .emit();
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone()).build()?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// A certificate's notAfter (Unix time); `None` when it does not parse (rustls then says why).
fn not_after(der: &CertificateDer<'_>) -> Option<i64> {
    x509_parser::parse_x509_certificate(der.as_ref())
        .ok()
        .map(|(_, c)| c.validity().not_after.timestamp())
}

fn earliest(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// What bounds a client's connection: how long it may take over the TLS handshake, over a
/// request's header and over its body, and how many connections the listener holds at once.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub handshake: Duration,
    pub header: Duration,
    pub body: Duration,
    pub max_connections: usize,
}

/// How long a shutdown waits for the requests in flight to be answered.
const DRAIN_WITHIN: Duration = Duration::from_secs(20);

/// The largest HTTP/1.1 request head (request line and header block) and HTTP/2 header list a
/// client may send: beyond it hyper answers `431 Request Header Fields Too Large` itself,
/// before the request is read (so the answer has no JSON body), and closes an HTTP/1.1
/// connection. A bearer token and the screens' cookies take well under 1 KiB; the cap bounds
/// what a client can make the server buffer for a header (hyper's default is about 400 KiB
/// for HTTP/1.1). HTTP/1.1 also refuses more than 100 header fields (hyper's default).
pub const HEADER_BLOCK_LIMIT: usize = 16 * 1024;

/// Accepts TLS connections until `shutdown`, serving `app` on each; then stops accepting,
/// lets every connection finish the request in hand (idle ones close at once), and returns
/// once they have, or after [`DRAIN_WITHIN`]. A connection that does not finish its handshake
/// within `limits.handshake`, nor send a request's header within `limits.header` of being
/// ready for one (which also closes an idle kept-alive HTTP/1.1 connection), nor answer an
/// HTTP/2 ping within it, is closed: a slow or silent client holds a socket and a task for a
/// bounded time only. A request's body must arrive within `limits.body` of its header (see
/// [`TimedBody`]). At `limits.max_connections` open connections nothing more is accepted until
/// one closes: a flood of connections waits in the kernel's listen backlog instead of taking
/// the process's file descriptors, and drains at the pace of the timeouts above.
pub async fn serve(
    listener: TcpListener,
    config: rustls::ServerConfig,
    app: Router,
    limits: ConnectionLimits,
    shutdown: CancellationToken,
) {
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let connections = tokio_util::task::TaskTracker::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut at_cap = false;
    loop {
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => {
                at_cap = false;
                slot
            }
            Err(_) => {
                if !at_cap {
                    tracing::warn!(
                        max = limits.max_connections,
                        "API connection cap reached: accepting again once a connection closes"
                    );
                    at_cap = true;
                }
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
                }
            }
        };
        let (tcp, _) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let (acceptor, app, shutdown) = (acceptor.clone(), app.clone(), shutdown.clone());
        connections.spawn(async move {
            // Both released when the connection's task ends, however it ends.
            let _slot = slot;
            let _counted = metrics::ApiConnection::opened();
            let handshake = tokio::time::timeout(limits.handshake, acceptor.accept(tcp));
            let tls = match handshake.await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => return tracing::debug!(error = %e, "TLS handshake refused"),
                Err(_) => return tracing::debug!("TLS handshake timed out"),
            };
            let identity = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .map(ClientIdentity::from_der);
            // The protocol is the one ALPN agreed (HTTP/1.1 without ALPN), so no byte is read
            // without a timeout to guess it.
            let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2".as_slice());
            let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                if let Some(id) = &identity {
                    req.extensions_mut().insert(id.clone());
                }
                let (parts, body) = req.into_parts();
                let (body, expired) = TimedBody::new(body, limits.body);
                let req = hyper::Request::from_parts(parts, Body::new(body));
                let answered = app.clone().oneshot(req);
                async move {
                    let response = answered.await?;
                    Ok::<_, std::convert::Infallible>(expired.answer(response, limits.body, !h2))
                }
            });
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header)
                // A request's head must fit the read buffer, so this bounds it (bodies are
                // streamed through it in pieces).
                .max_buf_size(HEADER_BLOCK_LIMIT);
            builder
                .http2()
                .timer(TokioTimer::new())
                .keep_alive_interval(limits.header)
                .keep_alive_timeout(limits.header)
                .max_header_list_size(HEADER_BLOCK_LIMIT as u32);
            let builder = if h2 {
                builder.http2_only()
            } else {
                builder.http1_only()
            };
            let connection = builder.serve_connection(TokioIo::new(tls), service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = shutdown.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
    }
    drop(listener);
    connections.close();
    if tokio::time::timeout(DRAIN_WITHIN, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            open = connections.len(),
            "API connections still open at the end of the grace period"
        );
    }
}
