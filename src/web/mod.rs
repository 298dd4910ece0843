//! The web screens: server-rendered HTML (askama templates under `templates/web/`) for the
//! clerks of a registration, served by the API's own TLS listener, so the client certificate is
//! required at the TLS level exactly as for the API. Every handler extracts, calls the same
//! service the API calls (`accounts::Accounts`, `requests::Submissions`) and renders; every
//! refusal is the service's `domain::Refusal`, shown with its code and Japanese message.
//!
//! The web knows nothing of the API module: the API's router mounts [`router`] and hands each
//! request's certificate over as a [`Certificate`].

mod admin;
mod amend;
mod apply;
mod bulk;
mod intermediation;
mod list;
mod notices;
mod ops;
mod page;
mod search;
mod session;
mod signin;
mod status;
mod usage;

use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};

use crate::accounts::Accounts;
use crate::config::Settings;
use crate::domain::CompanyCode;
use crate::kafka::Publisher;
use crate::messages::Codec;
use crate::requests::Submissions;

/// What every screen shares: the services it calls.
#[derive(Clone)]
pub struct WebState {
    pub accounts: Arc<Accounts>,
    pub submissions: Submissions,
    /// 一括申請 (`web/bulk`).
    pub bulk: crate::bulk::Bulk,
    /// A session unused this long ends (`web_idle_secs`).
    pub idle: chrono::Duration,
    /// What `intermediation::Intermediations` and `notices` are made of, as the API's are.
    pub pool: deadpool_postgres::Pool,
    pub publisher: Publisher,
    pub codec: Arc<Codec>,
    pub settings: Arc<Settings>,
}

/// The client certificate of the connection a request came on, as the TLS listener read it.
#[derive(Debug, Clone)]
pub struct Certificate {
    /// The company its common name names, if it names one.
    pub company: Option<CompanyCode>,
    /// Its SHA-256 fingerprint (hex).
    pub fingerprint: String,
    /// A hub operator's certificate: the operator screens (`web::ops`) need one.
    pub operator: bool,
}

/// Every screen's route, with the state applied (so it merges into a router of any state).
pub fn router<S: Clone + Send + Sync + 'static>(state: WebState) -> Router<S> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/web/") }))
        .route("/web/", get(page::menu))
        .route("/web/static/web.css", get(stylesheet))
        .route("/web/static/web.js", get(script))
        .route("/web/signin", get(signin::form).post(signin::submit))
        .route("/web/signout", post(signin::signout))
        .route(
            "/web/password",
            get(signin::password_form).post(signin::change_password),
        )
        .route("/web/apply", get(search::start))
        .route("/web/apply/{task}", get(apply::form).post(apply::submit))
        .route("/web/requests", get(list::list))
        .route("/web/requests.csv", get(list::list_csv))
        .route("/web/requests/{id}", get(status::one))
        .route("/web/requests/{id}/events", get(status::events))
        .route("/web/bulk", get(bulk::form).post(bulk::upload))
        .route("/web/bulk/{id}", get(bulk::batch))
        .route("/web/bulk/{id}/confirm", post(bulk::confirm))
        .route("/web/bulk/{id}/rows.csv", get(bulk::rows_csv))
        .route("/web/bulk-files/{function}", get(bulk::published))
        .route("/web/search", get(search::form).post(search::submit))
        .route("/web/notices", get(notices::list))
        .route("/web/notices/{id}", get(notices::one))
        .route("/web/intermediations/sent", get(intermediation::sent))
        .route("/web/intermediations/inbox", get(intermediation::inbox))
        .route(
            "/web/intermediations/new",
            get(intermediation::form).post(intermediation::submit),
        )
        .route(
            "/web/intermediations/decisions",
            post(intermediation::decide),
        )
        .route("/web/intermediations/{id}", get(intermediation::one))
        .route(
            "/web/intermediations/{id}/withdrawal",
            post(intermediation::withdraw),
        )
        .merge(admin::routes())
        .merge(ops::router(state.clone()))
        .with_state(state)
}

async fn stylesheet() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../../static/web.css"),
    )
}

async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../../static/web.js"),
    )
}
