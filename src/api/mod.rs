//! The retailer-facing API (axum over rustls): login, submission of applications, and status.

mod bulk;
mod contractors;
mod deadline;
mod error;
mod events;
mod extract;
mod intermediation;
pub mod limits;
mod notices;
pub mod openapi;
mod operators;
mod session;
mod status;
mod submit;
pub mod tls;
mod users;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{MethodRouter, delete, get, patch, post, put};
use deadpool_postgres::Pool;
use tokio_util::sync::CancellationToken;

pub use crate::accounts::Principal;

use crate::config::Settings;
use crate::domain::Refusal;
use crate::kafka::Publisher;
use crate::messages::Codec;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub pool: Pool,
    pub publisher: Publisher,
    pub codec: Arc<Codec>,
    /// Registrations, users, sessions, passwords and contractors: every rule about them.
    pub accounts: Arc<crate::accounts::Accounts>,
    /// Maintenance windows and the per-registration rate limit.
    pub limits: Arc<limits::Limits>,
    /// Submission of applications and 業務処理状況確認.
    pub submissions: crate::requests::Submissions,
    /// Bulk applications (一括申請): upload, preview, confirm, follow.
    pub bulk: crate::bulk::Bulk,
}

impl AppState {
    pub fn new(settings: Settings, pool: Pool) -> anyhow::Result<Self> {
        // A submission waits at most this long for the broker before answering 503.
        let publisher = Publisher::of(&settings, Duration::from_secs(10))?;
        let codec = Arc::new(Codec::new());
        let accounts = Arc::new(crate::accounts::Accounts::new(&settings, pool.clone()));
        let settings = Arc::new(settings);
        let submissions = crate::requests::Submissions::new(
            pool.clone(),
            publisher.clone(),
            codec.clone(),
            settings.clone(),
        )?;
        let bulk = crate::bulk::Bulk::new(pool.clone());
        Ok(AppState {
            pool,
            publisher,
            codec,
            accounts,
            limits: Arc::new(limits::Limits::new(
                settings.rate_limit_per_sec,
                settings.rate_limit_burst,
            )),
            submissions,
            bulk,
            settings,
        })
    }
}

/// Every route, as (method, path, handler): the router is built from this table, and the
/// OpenAPI test checks each entry is documented.
fn routes() -> Vec<(&'static str, &'static str, MethodRouter<AppState>)> {
    vec![
        ("POST", "/api/v1/session", post(session::login)),
        ("DELETE", "/api/v1/session", delete(session::logout)),
        (
            "POST",
            session::CHANGE_PASSWORD_PATH,
            post(session::change_password),
        ),
        ("GET", "/api/v1/admin/users", get(users::list)),
        ("POST", "/api/v1/admin/users", post(users::create)),
        ("GET", "/api/v1/admin/users.csv", get(users::list_csv)),
        ("POST", "/api/v1/admin/users/bulk", post(users::create_bulk)),
        ("GET", "/api/v1/admin/users/{user_id}", get(users::one)),
        (
            "PATCH",
            "/api/v1/admin/users/{user_id}",
            patch(users::modify),
        ),
        (
            "DELETE",
            "/api/v1/admin/users/{user_id}",
            delete(users::remove),
        ),
        (
            "POST",
            "/api/v1/admin/users/{user_id}/unlock",
            post(users::unlock),
        ),
        (
            "POST",
            "/api/v1/admin/users/{user_id}/enabled",
            post(users::set_enabled),
        ),
        (
            "POST",
            "/api/v1/admin/users/{user_id}/password-reissue",
            post(users::reissue_password),
        ),
        (
            "PUT",
            "/api/v1/admin/users/{user_id}/permissions",
            put(users::set_permissions),
        ),
        ("GET", "/api/v1/admin/contractors", get(contractors::list)),
        (
            "PUT",
            "/api/v1/admin/contractors/{corporate_number}",
            put(contractors::authorise),
        ),
        (
            "DELETE",
            "/api/v1/admin/contractors/{corporate_number}",
            delete(contractors::revoke),
        ),
        ("GET", "/api/v1/requests", get(status::list)),
        ("GET", "/api/v1/requests/{request_id}", get(status::one)),
        (
            "GET",
            "/api/v1/{class}/requests",
            get(status::list_of_class),
        ),
        (
            "GET",
            "/api/v1/{class}/requests/{request_id}",
            get(status::one_of_class),
        ),
        ("GET", "/api/v1/operators", get(operators::list)),
        ("GET", "/api/v1/events", get(events::feed)),
        ("GET", "/api/v1/events/stream", get(events::stream)),
        ("PUT", "/api/v1/admin/webhook", put(events::put_webhook)),
        ("GET", "/api/v1/admin/webhook", get(events::get_webhook)),
        (
            "DELETE",
            "/api/v1/admin/webhook",
            delete(events::delete_webhook),
        ),
        (
            "GET",
            "/api/v1/admin/webhook/deliveries",
            get(events::deliveries),
        ),
        ("GET", "/api/v1/notices", get(notices::list)),
        ("GET", "/api/v1/notices/{id}", get(notices::one)),
        (
            "POST",
            "/api/v1/intermediations",
            post(intermediation::register),
        ),
        ("GET", "/api/v1/intermediations", get(intermediation::list)),
        (
            "GET",
            "/api/v1/intermediations/{id}",
            get(intermediation::one),
        ),
        (
            "POST",
            "/api/v1/intermediations/{id}/decision",
            post(intermediation::decide),
        ),
        (
            "POST",
            "/api/v1/intermediations/{id}/withdrawal",
            post(intermediation::withdraw),
        ),
        (
            "POST",
            "/api/v1/intermediation-decisions",
            post(intermediation::decide_bulk),
        ),
        ("POST", "/api/v1/bulk/{function}", post(bulk::upload)),
        (
            "GET",
            "/api/v1/bulk/{function}/template.csv",
            get(bulk::template),
        ),
        (
            "GET",
            "/api/v1/bulk/{function}/sample.csv",
            get(bulk::sample),
        ),
        ("GET", "/api/v1/bulk/batches/{batch_id}", get(bulk::one)),
        (
            "POST",
            "/api/v1/bulk/batches/{batch_id}/confirm",
            post(bulk::confirm),
        ),
        (
            "GET",
            "/api/v1/bulk/batches/{batch_id}/rows.csv",
            get(bulk::rows_csv),
        ),
        ("POST", "/api/v1/{function}", post(submit::submit)),
        ("GET", "/openapi.json", get(openapi::openapi_json)),
    ]
}

/// Every route as (method, path template): what the access tests walk, so a new route is
/// proven refused without a token the day it is added.
pub fn route_table() -> Vec<(&'static str, &'static str)> {
    routes().into_iter().map(|(m, p, _)| (m, p)).collect()
}

pub fn router(state: AppState) -> Router {
    routes()
        .into_iter()
        .fold(Router::new(), |r, (_, path, handler)| {
            r.route(path, handler)
        })
        .fallback(|| async { Refusal::UnknownFunction("(no such path)".into()) })
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn(extract::strict_input))
        // The screens post forms, not JSON: they are merged after the API's strict input.
        .merge(web_screens(&state))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::enforce,
        ))
        // Outermost: every answer, refusals of the layers above included, is named and counted.
        .layer(axum::middleware::from_fn(crate::telemetry::http_layer))
        .with_state(state)
}

/// The web screens (`crate::web`) on the same listener, behind the same TLS client
/// certificate requirement, rate limit and maintenance gate; each request's certificate is
/// handed to them as a `web::Certificate`.
fn web_screens(state: &AppState) -> Router<AppState> {
    let web = crate::web::WebState {
        accounts: state.accounts.clone(),
        submissions: state.submissions.clone(),
        bulk: state.bulk.clone(),
        idle: chrono::Duration::seconds(state.settings.web_idle_secs as i64),
        pool: state.pool.clone(),
        publisher: state.publisher.clone(),
        codec: state.codec.clone(),
        settings: state.settings.clone(),
    };
    crate::web::router(web).layer(axum::middleware::from_fn(
        |mut req: axum::extract::Request, next: axum::middleware::Next| async move {
            if let Some(id) = req.extensions().get::<tls::ClientIdentity>().cloned() {
                req.extensions_mut().insert(crate::web::Certificate {
                    company: id.company,
                    fingerprint: id.fingerprint,
                    operator: id.operator,
                });
            }
            next.run(req).await
        },
    ))
}

/// Serves the API over TLS on `listener` until `shutdown`; returns its address.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<SocketAddr> {
    let (addr, serving) = serving(state, listener, shutdown)?;
    tokio::spawn(serving);
    Ok(addr)
}

/// The API's address, and its server as a task to run: the task ends once `shutdown` has come
/// and the requests in flight have been answered, so a process can wait for it before it exits.
pub fn serving(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<(SocketAddr, impl Future<Output = ()> + Send + 'static)> {
    let config = tls::server_config(&state.settings.tls_dir)?;
    let addr = listener.local_addr()?;
    let limits = tls::ConnectionLimits {
        handshake: Duration::from_millis(state.settings.tls_handshake_timeout_ms),
        header: Duration::from_millis(state.settings.http_header_timeout_ms),
        body: Duration::from_millis(state.settings.http_body_timeout_ms),
        // A cap of 0 would accept nothing, ever.
        max_connections: state.settings.http_max_connections.max(1),
    };
    // The rate limit is shared with the other API processes for as long as this one serves.
    let heartbeat = limits::heartbeat(
        state.limits.clone(),
        state.accounts.clone(),
        state.pool.clone(),
        shutdown.clone(),
    );
    let app = router(state);
    let serve = tls::serve(listener, config, app, limits, shutdown);
    Ok((addr, async move {
        let heartbeat = tokio::spawn(heartbeat);
        serve.await;
        let _ = heartbeat.await;
    }))
}
