//! The retailer-facing API (axum over rustls): login, submission of applications, and status.

mod contractors;
mod error;
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
}

impl AppState {
    pub fn new(settings: Settings, pool: Pool) -> anyhow::Result<Self> {
        // A submission waits at most this long for the broker before answering 503.
        let publisher = Publisher::new(
            &settings.kafka_brokers,
            Duration::from_secs(10),
            settings.kafka_idempotence,
        )?;
        let codec = Arc::new(Codec::new());
        let accounts = Arc::new(crate::accounts::Accounts::new(&settings, pool.clone()));
        let settings = Arc::new(settings);
        let submissions = crate::requests::Submissions::new(
            pool.clone(),
            publisher.clone(),
            codec.clone(),
            settings.clone(),
        );
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
        ("POST", "/api/v1/{function}", post(submit::submit)),
        ("GET", "/openapi.json", get(openapi::openapi_json)),
    ]
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
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::enforce,
        ))
        .with_state(state)
}

/// Serves the API over TLS on `listener` until `shutdown`; returns its address.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<SocketAddr> {
    let config = tls::server_config(&state.settings.tls_dir)?;
    let addr = listener.local_addr()?;
    let app = router(state);
    tokio::spawn(tls::serve(listener, config, app, shutdown));
    Ok(addr)
}
