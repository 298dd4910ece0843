//! スイッチング廃止取次 over HTTP: registration (IS_20110), the lists of both parties (IS_20210
//! 結果照会, IS_20310 照会), one intermediation with its history, decisions (IS_20410, one or in
//! bulk) and withdrawal. Each handler reads the request, calls `crate::intermediation`, which
//! owns the rules, the SQL and the audit trail, and shapes the answer.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;

use super::AppState;
use super::extract::Filters;
use crate::accounts::Principal;
use crate::domain::Refusal;
use crate::intermediation::queries;
use crate::intermediation::{
    DecisionBody, Intermediations, ListFilter, RegistrationBody, WithdrawalBody,
};

mod views;
pub use views::{
    BulkAnswer, BulkResult, IntermediationView, ListAnswer, Registered, TransitionAccepted,
};

fn service(state: &AppState) -> Intermediations<'_> {
    Intermediations::new(
        &state.pool,
        &state.publisher,
        &state.codec,
        &state.settings,
        state.submissions.vault(),
    )
}

/// An empty body is the default one; otherwise a JSON object of `T`.
fn parse_body<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, Refusal> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let value: serde_json::Value = super::error::parse_json(body)?;
    if !value.is_object() {
        return Err(Refusal::MalformedJson(
            "the body must be a JSON object".into(),
        ));
    }
    serde_json::from_value(value).map_err(|e| {
        let text = e.to_string();
        let code = if text.contains("unknown field") {
            "unknown_field"
        } else {
            "invalid_field"
        };
        Refusal::invalid(
            "body",
            code,
            format!("本文の項目が正しくありません: {text}"),
            text,
        )
    })
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<&str>, Refusal> {
    headers
        .get("idempotency-key")
        .map(|v| v.to_str().map_err(|_| Refusal::InvalidIdempotencyKey))
        .transpose()
}

/// スイッチング廃止取次登録 (IS_20110): the new retailer asks the current retailer, through the
/// hub, to end its contract for the point. With an `Idempotency-Key` header, a retry with the
/// same body is answered as the first was.
#[utoipa::path(post, path = "/api/v1/intermediations", tag = "スイッチング廃止取次",
    request_body = RegistrationBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "1–128 visible ASCII characters; the same key with the same body gets the first answer")),
    responses(
        (status = 202, description = "登録: the event is on the broker", body = Registered),
        (status = 400, description = "malformed_json, invalid_idempotency_key", body = super::error::ErrorBody),
        (status = 409, description = "intermediation_already_open (this company's intermediation of the point awaits a decision), idempotency_key_reused", body = super::error::ErrorBody),
        (status = 422, description = "a field breaks a rule (missing_field, invalid_supply_point_id, invalid_company_code, switch_to_self, unknown_company, planned_date_in_past, unknown_class, invalid_field)", body = super::error::ErrorBody),
        (status = 503, description = "nothing registered; retry", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn register(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Registered>), Refusal> {
    let raw: RegistrationBody = parse_body(&body)?;
    let key = idempotency_key(&headers)?;
    let done = service(&state).register(&principal, raw, key).await?;
    Ok((StatusCode::ACCEPTED, Json(done.into())))
}

/// One intermediation with its history, for its new retailer or its addressed current retailer.
#[utoipa::path(get, path = "/api/v1/intermediations/{id}", tag = "スイッチング廃止取次",
    params(("id" = String, Path, description = "The intermediation id the registration gave")),
    responses(
        (status = 200, body = IntermediationView),
        (status = 404, description = "intermediation_not_found (also one of other companies)", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn one(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<IntermediationView>, Refusal> {
    let found = queries::one(&state.pool, &principal, &id).await?;
    Ok(Json(found.into()))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// new: those the caller registered (IS_20210 結果照会); current: those addressed to the
    /// caller (IS_20310 照会); absent: both.
    role: Option<String>,
    /// awaiting_decision, approved, declined, expired or withdrawn.
    state: Option<String>,
    /// lv (低圧), hv (高圧) or gen (発電).
    point_class: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// スイッチング廃止取次照会 (IS_20310, role=current) and 結果照会 (IS_20210, role=new): newest first.
#[utoipa::path(get, path = "/api/v1/intermediations", tag = "スイッチング廃止取次", params(ListQuery),
    responses(
        (status = 200, body = ListAnswer),
        (status = 422, description = "a filter is invalid (invalid_role, invalid_state, invalid_point_class, invalid_limit, invalid_cursor, invalid_query); `field` names it", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Filters(q): Filters<ListQuery>,
) -> Result<Json<ListAnswer>, Refusal> {
    let mut filter = ListFilter::parse(
        q.role.as_deref(),
        q.state.as_deref(),
        q.point_class.as_deref(),
        q.limit,
    )?;
    if let Some(c) = &q.cursor {
        filter.after = Some(crate::db::cursor::after(c)?);
    }
    let page = queries::list(&state.pool, &principal, &filter).await?;
    Ok(Json(ListAnswer {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next.map(|(at, id)| crate::db::cursor::encode(at, id)),
    }))
}

/// スイッチング廃止取次判断 (IS_20410): the addressed current retailer approves or declines.
#[utoipa::path(post, path = "/api/v1/intermediations/{id}/decision", tag = "スイッチング廃止取次",
    params(("id" = String, Path, description = "The intermediation id")),
    request_body = DecisionBody,
    responses(
        (status = 202, description = "The decision is on the broker", body = TransitionAccepted),
        (status = 404, description = "intermediation_not_found (also when not addressed to the caller)", body = super::error::ErrorBody),
        (status = 409, description = "intermediation_already_decided", body = super::error::ErrorBody),
        (status = 422, description = "invalid_decision, unknown_decline_reason, duplicate_decline_reason, decline_reason_required, reasons_with_approval, note_required", body = super::error::ErrorBody),
        (status = 503, description = "nothing decided; retry", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn decide(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<TransitionAccepted>), Refusal> {
    let raw: DecisionBody = parse_body(&body)?;
    let done = service(&state).decide(&principal, &id, raw).await?;
    Ok((StatusCode::ACCEPTED, Json(done.into())))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkItem {
    id: String,
    #[serde(flatten)]
    #[schema(inline)]
    body: BulkDecision,
}

/// The decision of one item (as the body of a single decision).
#[derive(Deserialize, utoipa::ToSchema)]
pub struct BulkDecision {
    decision: Option<String>,
    #[serde(default)]
    reasons: Vec<String>,
    note: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkBody {
    /// 1 to 100 decisions.
    items: Vec<BulkItem>,
}

/// スイッチング廃止取次一括判断: several decisions at once, answered per id in the given order.
#[utoipa::path(post, path = "/api/v1/intermediation-decisions", tag = "スイッチング廃止取次",
    request_body = BulkBody,
    responses(
        (status = 200, description = "Each item's outcome", body = BulkAnswer),
        (status = 400, description = "malformed_json", body = super::error::ErrorBody),
        (status = 422, description = "invalid_field (items missing, empty or over 100)", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn decide_bulk(
    State(state): State<AppState>,
    principal: Principal,
    body: Bytes,
) -> Result<Json<BulkAnswer>, Refusal> {
    let value: serde_json::Value = super::error::parse_json(&body)?;
    let bulk: BulkBody = serde_json::from_value(value).map_err(|e| {
        Refusal::invalid(
            "items",
            "invalid_field",
            format!("items が正しくありません: {e}"),
            e.to_string(),
        )
    })?;
    let ids: Vec<String> = bulk.items.iter().map(|i| i.id.clone()).collect();
    let items = bulk.items.into_iter().map(|i| {
        let b = i.body;
        let body = DecisionBody {
            decision: b.decision,
            reasons: b.reasons,
            note: b.note,
        };
        (i.id, body)
    });
    let outcomes = service(&state)
        .decide_many(&principal, items.collect())
        .await?;
    let items = ids
        .into_iter()
        .zip(outcomes)
        .map(|(id, o)| BulkResult::of(id, o));
    Ok(Json(BulkAnswer {
        items: items.collect(),
    }))
}

/// 取下げ: the new retailer withdraws an intermediation still awaiting a decision.
#[utoipa::path(post, path = "/api/v1/intermediations/{id}/withdrawal", tag = "スイッチング廃止取次",
    params(("id" = String, Path, description = "The intermediation id")),
    request_body(content = Option<WithdrawalBody>, description = "Optional"),
    responses(
        (status = 202, description = "The withdrawal is on the broker", body = TransitionAccepted),
        (status = 404, description = "intermediation_not_found (also when the caller did not register it)", body = super::error::ErrorBody),
        (status = 409, description = "intermediation_already_decided", body = super::error::ErrorBody),
        (status = 422, description = "the note breaks a rule (`field` names it)", body = super::error::ErrorBody),
        (status = 503, description = "nothing withdrawn; retry", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn withdraw(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<TransitionAccepted>), Refusal> {
    let raw: WithdrawalBody = parse_body(&body)?;
    let done = service(&state).withdraw(&principal, &id, raw).await?;
    Ok((StatusCode::ACCEPTED, Json(done.into())))
}
