//! Results pushed to the retailer (docs/push.md): the change feed (`GET /api/v1/events`, with
//! long-polling), the same feed as server-sent events, and the administrator's webhook.
//! Every read names the caller's registration: another's events are never in reach.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{self, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::ErrorBody;
use super::extract::{Admin, Body, Filters};
use super::tls::ClientIdentity;
use crate::accounts::Principal;
use crate::domain::{CompanyCode, Refusal};
use crate::push::events::{self, Cursor, Event};
use crate::push::webhooks::{self, Delivery, Registered, Webhook, WebhookUrl};

/// How often a waiting feed or stream looks for new events.
const POLL: Duration = Duration::from_millis(200);
/// The longest `wait` of the feed.
const MAX_WAIT_SECS: u64 = 30;
const MAX_LIMIT: i64 = 500;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    /// The cursor to resume after: an event's `id` or the last answer's `next` (absent: from
    /// the first event).
    after: Option<String>,
    /// At most this many events (1–500, default 100).
    limit: Option<i64>,
    /// Seconds (0–30, default 0) to wait for an event when there is none after `after`.
    wait: Option<u64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EventPage {
    /// The caller's registration's events after the cursor, oldest first.
    events: Vec<Event>,
    /// The cursor to pass as `after` next time (the given one when there were no events).
    #[schema(example = "1042")]
    next: String,
}

fn cursor_of(after: Option<&str>) -> Result<Cursor, Refusal> {
    after.map_or(Ok(Cursor::START), Cursor::parse)
}

/// The change feed: every status change of the caller's registration's requests and
/// intermediations, in order, resumable from a cursor. With `wait`, an empty answer is held
/// until an event arrives or the wait is over (long-polling).
#[utoipa::path(get, path = "/api/v1/events", tag = "イベント", params(FeedQuery),
    responses(
        (status = 200, description = "The events after the cursor and the next cursor", body = EventPage),
        (status = 400, description = "invalid_event_cursor", body = ErrorBody),
        (status = 401, description = "unauthenticated", body = ErrorBody),
        (status = 422, description = "invalid_limit, invalid_wait, invalid_query; `field` names it", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn feed(
    State(state): State<AppState>,
    principal: Principal,
    Filters(q): Filters<FeedQuery>,
) -> Result<Json<EventPage>, Refusal> {
    let after = cursor_of(q.after.as_deref())?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Refusal::invalid(
            "limit",
            "invalid_limit",
            "limit は1〜500で指定してください",
            "limit must be 1 to 500",
        ));
    }
    let wait = q.wait.unwrap_or(0);
    if wait > MAX_WAIT_SECS {
        return Err(Refusal::invalid(
            "wait",
            "invalid_wait",
            "wait は0〜30(秒)で指定してください",
            "wait must be 0 to 30 seconds",
        ));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
    let events = loop {
        let events = events::after(&state.pool, &principal.company, after, limit).await?;
        if !events.is_empty() || tokio::time::Instant::now() >= deadline {
            break events;
        }
        tokio::time::sleep_until(deadline.min(tokio::time::Instant::now() + POLL)).await;
    };
    let next = events.last().map_or(after, Event::cursor).to_string();
    Ok(Json(EventPage { events, next }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    /// The cursor to start after, for clients that cannot send `Last-Event-ID` (the header
    /// wins when both are given).
    after: Option<String>,
}

/// The change feed as server-sent events: each event's `id:` is its cursor, so a reconnecting
/// `EventSource` resumes with `Last-Event-ID`; `data:` is the event as JSON. A comment is sent
/// every 15 s to keep idle connections open.
#[utoipa::path(get, path = "/api/v1/events/stream", tag = "イベント", params(StreamQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "The cursor to resume after")),
    responses(
        (status = 200, description = "text/event-stream of the caller's registration's events", content_type = "text/event-stream", body = String),
        (status = 400, description = "invalid_event_cursor", body = ErrorBody),
        (status = 401, description = "unauthenticated", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn stream(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    identity: Option<axum::Extension<ClientIdentity>>,
    Filters(q): Filters<StreamQuery>,
) -> Result<Sse<impl Stream<Item = Result<sse::Event, Infallible>>>, Refusal> {
    let last = headers
        .get("last-event-id")
        .map(|v| v.to_str().unwrap_or("(not text)"));
    let after = cursor_of(last.or(q.after.as_deref()))?;
    // The extractor has checked these once; the stream checks them again as it goes.
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_string();
    let session = Session {
        accounts: state.accounts.clone(),
        token,
        identity: identity.map(|axum::Extension(id)| id),
    };
    let events = follow(state.pool.clone(), principal.company, after, session);
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// How often an open stream checks its session again: with the session cache's second of
/// trust (`accounts::sessions`), a session ended anywhere ends the stream within 2 s.
const RECHECK: Duration = Duration::from_millis(500);

/// The session a stream was opened with, to check again while it is open.
#[derive(Clone)]
struct Session {
    accounts: std::sync::Arc<crate::accounts::Accounts>,
    token: String,
    identity: Option<ClientIdentity>,
}

impl Session {
    /// Whether the session still stands (not ended, expired, its user disabled, its
    /// registration suspended or its certificate revoked) and still names `company`.
    async fn stands(&self, company: &CompanyCode) -> bool {
        let cert = self.identity.as_ref().map(|id| crate::accounts::Presented {
            company: id.company.as_ref(),
            fingerprint: &id.fingerprint,
        });
        matches!(
            self.accounts.authenticate(&self.token, cert, false).await,
            Ok(p) if &p.company == company
        )
    }
}

/// `company`'s events after `after` as they come, for as long as the client listens and its
/// session stands: the stream ends once [`Session::stands`] fails.
fn follow(
    pool: deadpool_postgres::Pool,
    company: CompanyCode,
    after: Cursor,
    session: Session,
) -> impl Stream<Item = Result<sse::Event, Infallible>> {
    let checked = tokio::time::Instant::now();
    futures::stream::unfold((after, checked), move |(mut after, mut checked)| {
        let (pool, company, session) = (pool.clone(), company.clone(), session.clone());
        async move {
            loop {
                if checked.elapsed() >= RECHECK {
                    if !session.stands(&company).await {
                        return None;
                    }
                    checked = tokio::time::Instant::now();
                }
                match events::after(&pool, &company, after, 100).await {
                    Ok(batch) if !batch.is_empty() => {
                        after = batch.last().map_or(after, Event::cursor);
                        let items: Vec<Result<sse::Event, Infallible>> =
                            batch.iter().map(|e| Ok(as_sse(e))).collect();
                        return Some((futures::stream::iter(items), (after, checked)));
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "event stream could not read the feed"),
                }
                tokio::time::sleep(POLL).await;
            }
        }
    })
    .flatten()
}

fn as_sse(e: &Event) -> sse::Event {
    let data = serde_json::to_string(e).unwrap_or_default();
    sse::Event::default().id(e.id.clone()).data(data)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookBody {
    /// The endpoint: an absolute `https://` URL.
    #[schema(example = "https://hooks.example.jp/kirikae")]
    url: String,
}

/// Registers (or replaces) the registration's webhook. The answer carries the signing secret,
/// shown this once; events after the registration's latest are delivered from now on.
#[utoipa::path(put, path = "/api/v1/admin/webhook", tag = "管理者機能", request_body = WebhookBody,
    responses(
        (status = 200, description = "Registered; keep the secret", body = Registered),
        (status = 400, description = "malformed_json", body = ErrorBody),
        (status = 401, description = "unauthenticated", body = ErrorBody),
        (status = 403, description = "administrator_required", body = ErrorBody),
        (status = 422, description = "invalid_webhook_url; webhook_target_forbidden (a loopback, private, link-local or other internal address)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn put_webhook(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Body(body): Body<WebhookBody>,
) -> Result<Json<Registered>, Refusal> {
    let url = WebhookUrl::parse(&body.url)?;
    Ok(Json(
        webhooks::register(
            &state.pool,
            &admin.company,
            &url,
            state.settings.webhook_allow_private,
        )
        .await?,
    ))
}

/// The registration's webhook and how its delivery stands, without the secret.
#[utoipa::path(get, path = "/api/v1/admin/webhook", tag = "管理者機能",
    responses(
        (status = 200, description = "The webhook", body = Webhook),
        (status = 401, description = "unauthenticated", body = ErrorBody),
        (status = 403, description = "administrator_required", body = ErrorBody),
        (status = 404, description = "webhook_not_found", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn get_webhook(
    State(state): State<AppState>,
    Admin(admin): Admin,
) -> Result<Json<Webhook>, Refusal> {
    Ok(Json(webhooks::show(&state.pool, &admin.company).await?))
}

/// Removes the registration's webhook: nothing more is delivered.
#[utoipa::path(delete, path = "/api/v1/admin/webhook", tag = "管理者機能",
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "unauthenticated", body = ErrorBody),
        (status = 403, description = "administrator_required", body = ErrorBody),
        (status = 404, description = "webhook_not_found", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn delete_webhook(
    State(state): State<AppState>,
    Admin(admin): Admin,
) -> Result<StatusCode, Refusal> {
    webhooks::remove(&state.pool, &admin.company).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DeliveryList {
    /// The latest 100 delivery attempts, newest first.
    deliveries: Vec<Delivery>,
}

/// The webhook's latest delivery attempts, failures included.
#[utoipa::path(get, path = "/api/v1/admin/webhook/deliveries", tag = "管理者機能",
    responses(
        (status = 200, description = "The latest attempts", body = DeliveryList),
        (status = 401, description = "unauthenticated", body = ErrorBody),
        (status = 403, description = "administrator_required", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn deliveries(
    State(state): State<AppState>,
    Admin(admin): Admin,
) -> Result<Json<DeliveryList>, Refusal> {
    let deliveries = webhooks::deliveries(&state.pool, &admin.company, 100).await?;
    Ok(Json(DeliveryList { deliveries }))
}
