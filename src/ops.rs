//! The small plain-HTTP router every process serves for operations: `/metrics` for Prometheus,
//! `/healthz` (the process is alive) and `/readyz` (its broker and database answer, and for a
//! connector, it holds and works through its share of the requests).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use tokio_util::sync::CancellationToken;

/// A readiness check: resolves to `Err(reason)` when a dependency does not answer.
pub type ReadyCheck =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// A readiness check that asks `first`, then (when it is ready) `then`.
pub fn both(first: ReadyCheck, then: ReadyCheck) -> ReadyCheck {
    Arc::new(move || {
        let (first, then) = (first.clone(), then.clone());
        Box::pin(async move {
            first().await?;
            then().await
        })
    })
}

/// Besides the checks, the read-only schema registry ([`crate::registry`]): plain HTTP next to
/// `/metrics`, since what it serves is public and the grid operators' tools reach it without a
/// client certificate, from any process of the hub.
pub fn router(ready: ReadyCheck) -> Router {
    Router::new()
        .merge(crate::registry::router())
        .route("/metrics", get(|| async { crate::metrics::render() }))
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let ready = ready.clone();
                async move {
                    match ready().await {
                        Ok(()) => (StatusCode::OK, "ready".to_string()),
                        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, why),
                    }
                }
            }),
        )
}

/// Serves the ops router until `shutdown`; returns the bound address (port 0 picks one).
pub async fn serve(
    addr: SocketAddr,
    ready: ReadyCheck,
    shutdown: CancellationToken,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(async move {
        let app = router(ready);
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
    });
    Ok(local)
}
