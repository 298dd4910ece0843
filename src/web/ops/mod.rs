//! The hub operator's screens (`/web/ops/…`, issue 12): everything the operator's CLI does —
//! registrations (register, the administrator ID, certificates, suspend, resume, end),
//! maintenance windows, notices, the audit trail with filters, and each area's dead-letter
//! queue with a replay button. The CLI stays; both call the same service functions.
//!
//! The operator is its own role (`accounts::operators`): every screen here needs a connection
//! presenting the hub operator's client certificate (common name `kirikae-operator`) *and* an
//! operator session (its own cookie, `__Host-kirikae-operator`), so a clerk's certificate or a
//! clerk's session reaches none of them (`operator_required`, 403). Every form carries the
//! session's CSRF token; every action is written to the audit trail as `operator:<id>`.

mod hub;
mod registrations;
mod signin;

use askama::Template;
use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};

use super::page::{html, refused};
use super::session::{csrf_of, same_token};
use super::signin::Shown;
use super::{Certificate, WebState};
use crate::accounts::operators::{Operator, OperatorCertificate};
use crate::domain::Refusal;

/// The operator's session cookie (never the clerks' one: a clerk's session is no operator's).
pub const OPERATOR_COOKIE: &str = "__Host-kirikae-operator";

/// The operator screens' routes.
pub fn router<S: Clone + Send + Sync + 'static>(state: WebState) -> Router<S> {
    Router::new()
        .route("/web/ops/", get(menu))
        .route("/web/ops/signin", get(signin::form).post(signin::submit))
        .route("/web/ops/signout", post(signin::signout))
        .route(
            "/web/ops/registrations",
            get(registrations::list).post(registrations::register),
        )
        .route("/web/ops/registrations/{code}", get(registrations::one))
        .route(
            "/web/ops/registrations/{code}/status",
            post(registrations::status),
        )
        .route(
            "/web/ops/registrations/{code}/administrator",
            post(registrations::administrator),
        )
        .route(
            "/web/ops/registrations/{code}/certificates",
            post(registrations::certificate),
        )
        .route(
            "/web/ops/maintenance",
            get(hub::maintenance).post(hub::start_maintenance),
        )
        .route("/web/ops/maintenance/stop", post(hub::stop_maintenance))
        .route("/web/ops/notices", get(hub::notices).post(hub::publish))
        .route("/web/ops/audit", get(hub::audit))
        .route("/web/ops/dead-letters", get(hub::dead_letters))
        .route("/web/ops/dead-letters/{area}/replay", post(hub::replay))
        .with_state(state)
}

/// The operator certificate of the request, as `accounts::operators` reads it.
fn presented(parts: &Parts) -> Option<OperatorCertificate<'_>> {
    parts
        .extensions
        .get::<Certificate>()
        .map(|c| OperatorCertificate {
            operator: c.operator,
            fingerprint: &c.fingerprint,
        })
}

/// A signed-in hub operator on a screen, and the CSRF token its forms carry.
pub struct OperatorVisitor {
    pub operator: Operator,
    pub csrf: String,
}

impl OperatorVisitor {
    /// Whether a POST's form carries this session's CSRF token.
    pub fn csrf_ok(&self, given: &str) -> bool {
        same_token(given, &self.csrf)
    }

    /// How the audit trail names the operator.
    pub fn actor(&self) -> String {
        self.operator.actor()
    }
}

impl FromRequestParts<WebState> for OperatorVisitor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, Response> {
        let cert = presented(parts);
        // A clerk's certificate is refused before anything else, session or not.
        if !cert.is_some_and(|c| c.operator) {
            return Err(refused(&Refusal::OperatorRequired));
        }
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(token) = jar.get(OPERATOR_COOKIE).map(|c| c.value().to_string()) else {
            return Err(Redirect::to("/web/ops/signin").into_response());
        };
        match state
            .accounts
            .operator_authenticate(&token, cert, state.idle)
            .await
        {
            Ok(operator) => Ok(OperatorVisitor {
                operator,
                csrf: csrf_of(&token),
            }),
            Err(Refusal::Unauthenticated) => Err((
                jar.add(signin::removal()),
                Redirect::to("/web/ops/signin?ended=1"),
            )
                .into_response()),
            Err(r) => Err(refused(&r)),
        }
    }
}

/// The frame of every operator screen: who is signed in, and the sign-out form's token.
pub struct OpsChrome {
    pub operator_id: String,
    pub csrf: String,
}

impl OpsChrome {
    fn of(v: &OperatorVisitor) -> Self {
        OpsChrome {
            operator_id: v.operator.operator_id.clone(),
            csrf: v.csrf.clone(),
        }
    }
}

/// A refusal of a form: next to its field when the page has that field, else above the form.
pub struct Errors {
    pub field: Option<Shown>,
    pub top: Option<Shown>,
}

impl Errors {
    pub fn none() -> Self {
        Errors {
            field: None,
            top: None,
        }
    }

    /// `r` placed for a page whose inputs are `fields`.
    pub fn of(r: &Refusal, fields: &[&str]) -> Self {
        let shown = Shown::from(r);
        let at_field = shown.field.as_deref().is_some_and(|f| fields.contains(&f));
        if at_field {
            Errors {
                field: Some(shown),
                top: None,
            }
        } else {
            Errors {
                field: None,
                top: Some(shown),
            }
        }
    }
}

#[derive(Template)]
#[template(path = "ops/menu.html")]
struct Menu {
    chrome: Option<OpsChrome>,
}

/// The operator's menu.
async fn menu(v: OperatorVisitor) -> Response {
    html(
        StatusCode::OK,
        &Menu {
            chrome: Some(OpsChrome::of(&v)),
        },
    )
}

/// A rendered page, or the refusal of a service (internal causes logged, never shown).
fn page_or_refusal(status: StatusCode, t: Result<impl Template, Refusal>) -> Response {
    match t {
        Ok(t) => html(status, &t),
        Err(r) => refused(&r),
    }
}

/// Japan Standard Time: the operator's screens show and read times in it.
fn jst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("JST")
}

/// A time as the screens show it (JST, to the minute).
pub fn shown_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&jst()).format("%Y-%m-%d %H:%M").to_string()
}

/// A time an operator typed: a `datetime-local` value (JST), RFC 3339, a date (JST midnight) or
/// a duration from now (`2h`), as `kirikae maintenance` reads them; `field` names the input.
pub fn typed_time(field: &str, s: &str) -> Result<DateTime<Utc>, Refusal> {
    let s = s.trim();
    let local = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M")
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()?
                .and_hms_opt(0, 0, 0)
        });
    if let Some(t) = local.and_then(|t| jst().from_local_datetime(&t).single()) {
        return Ok(t.with_timezone(&Utc));
    }
    crate::accounts::maintenance::parse_time(s, Utc::now()).map_err(|e| {
        Refusal::invalid(
            field,
            "invalid_time",
            "日時は「2026-12-01T09:00」(日本時間)、日付、または「2h」のような現在からの時間で入力してください",
            e,
        )
    })
}

/// A form field left empty is absent.
pub fn given(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typed_time_is_read_in_japan_time() {
        let t = typed_time("until", "2026-12-01T09:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-12-01T00:00:00+00:00");
        let d = typed_time("until", "2026-12-01").unwrap();
        assert_eq!(d.to_rfc3339(), "2026-11-30T15:00:00+00:00");
        assert!(typed_time("until", "2h").unwrap() > Utc::now());
        let bad = typed_time("until", "soon").unwrap_err();
        assert_eq!(bad.code(), "invalid_time");
        assert!(matches!(bad, Refusal::InvalidField { ref field, .. } if field == "until"));
    }

    #[test]
    fn a_refusal_stands_next_to_its_field_when_the_page_has_it() {
        let r = Refusal::invalid("pem", "certificate_unreadable", "ja", "en");
        assert!(Errors::of(&r, &["pem"]).field.is_some());
        assert!(Errors::of(&r, &["user_id"]).top.is_some());
        assert!(
            Errors::of(&Refusal::OperatorRequired, &["pem"])
                .top
                .is_some()
        );
    }
}
