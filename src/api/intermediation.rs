//! スイッチング廃止取次: registration (IS_20110), the lists of both parties (IS_20210 結果照会,
//! IS_20310 照会), one intermediation with its history, decisions (IS_20410, one or in bulk) and
//! withdrawal.
//!
//! Who sees what is decided in SQL: every query names the caller's company as the new or the
//! addressed current retailer, so a third company finds nothing (404). Reads of the personal
//! data (contract number, name, address) are written to `audit_log` before they are answered.
//! A transition is claimed in PostgreSQL, produced with `acks=all`, then answered; the
//! projector applies it (see `crate::intermediation::store`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::AppState;
use super::validate::today_jst;
use crate::accounts::Principal;
use crate::audit;
use crate::domain::CompanyKind;
use crate::domain::Refusal;
use crate::intermediation::store::{self, ClaimRefused};
use crate::intermediation::{
    Decision, DecisionBody, DeclineReason, EventKind, IntermediationEvent, Registration,
    RegistrationBody, State as IState, expires_at, intermediation_number,
};

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

fn parse_id(id: &str) -> Result<Uuid, Refusal> {
    id.parse().map_err(|_| Refusal::IntermediationNotFound)
}

async fn publish(state: &AppState, e: &IntermediationEvent) -> Result<(), Refusal> {
    let bytes = state
        .codec
        .encode_intermediation(e)
        .map_err(|err| Refusal::Internal(err.into()))?;
    state
        .publisher
        .publish(
            &state.settings.intermediations_topic(),
            &e.supply_point_id,
            &bytes,
        )
        .await
        .map_err(|err| Refusal::BrokerUnavailable(err.to_string()))?;
    Ok(())
}

/// The answer to a registration.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Registered {
    intermediation_id: Uuid,
    /// 廃止取次番号: quote it as `intermediation_number` in the switch-start.
    intermediation_number: String,
    state: &'static str,
    state_ja: &'static str,
    expires_at: DateTime<Utc>,
    status_url: String,
}

/// スイッチング廃止取次登録 (IS_20110): the new retailer asks the current retailer, through the
/// hub, to end its contract for the point.
#[utoipa::path(post, path = "/api/v1/intermediations", tag = "スイッチング廃止取次",
    request_body = RegistrationBody,
    responses(
        (status = 202, description = "登録: the event is on the broker", body = Registered),
        (status = 400, description = "malformed_json", body = super::error::ErrorBody),
        (status = 422, description = "a field breaks a rule (missing_field, invalid_supply_point_id, invalid_company_code, switch_to_self, unknown_company, planned_date_in_past, unknown_class, invalid_field)", body = super::error::ErrorBody),
        (status = 503, description = "nothing registered; retry", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn register(
    State(state): State<AppState>,
    principal: Principal,
    body: Bytes,
) -> Result<(StatusCode, Json<Registered>), Refusal> {
    let raw: RegistrationBody = parse_body(&body)?;
    let r = Registration::validate(raw, &principal.company, today_jst())?;
    let client = state.pool.get().await?;
    let known = client
        .query_opt(
            "SELECT kind FROM companies WHERE company_code = $1",
            &[&r.current_retailer.as_str()],
        )
        .await?
        .is_some_and(|row| row.get::<_, &str>(0) == CompanyKind::Retailer.as_str());
    if !known {
        return Err(Refusal::invalid(
            "current_retailer_code",
            "unknown_company",
            format!(
                "事業者コード {} の小売電気事業者は登録されていません",
                r.current_retailer
            ),
            format!(
                "no retailer {} is registered with the hub",
                r.current_retailer
            ),
        ));
    }
    let id = Uuid::now_v7();
    let mut e = IntermediationEvent::new(
        id,
        EventKind::Registered,
        r.point.to_string(),
        principal.company.to_string(),
        principal.user_id.clone(),
    );
    let number = intermediation_number(id, &r.point, e.occurred_at);
    let expires = expires_at(
        e.occurred_at,
        state.settings.intermediation_expiry_business_days,
        state.settings.intermediation_expiry_ms,
    );
    e.intermediation_number = Some(number.clone());
    e.new_retailer_code = Some(principal.company.to_string());
    e.current_retailer_code = Some(r.current_retailer.to_string());
    e.customer_number = Some(r.customer_number);
    e.contract_name = Some(r.contract_name);
    e.supply_address = Some(r.supply_address);
    e.desired_switch_date = Some(r.desired_switch_date);
    e.point_class = Some(r.point_class);
    e.expires_at = Some(expires);
    publish(&state, &e).await?;
    // Durable now. The row lets a GET right after the 202 find it; should this write fail,
    // the projector writes the same row from the topic.
    let written = async {
        let mut client = client;
        let tx = client.transaction().await?;
        store::apply(&tx, &e).await?;
        tx.commit().await
    }
    .await;
    if let Err(err) = written {
        tracing::error!(error = %err, intermediation_id = %id, "registration row not written; the projector will");
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(Registered {
            intermediation_id: id,
            intermediation_number: number,
            state: IState::AwaitingDecision.as_str(),
            state_ja: IState::AwaitingDecision.label_ja(),
            expires_at: expires,
            status_url: format!("/api/v1/intermediations/{id}"),
        }),
    ))
}

/// A decline reason with its wording.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ReasonView {
    #[schema(example = "name_mismatch")]
    code: &'static str,
    #[schema(example = "契約名義不一致")]
    label_ja: &'static str,
    label_en: &'static str,
}

fn reason_views(codes: &[String]) -> Vec<ReasonView> {
    codes
        .iter()
        .filter_map(|c| DeclineReason::by_code(c))
        .map(|r| {
            let s = r.spec();
            ReasonView {
                code: s.code,
                label_ja: s.label_ja,
                label_en: s.label_en,
            }
        })
        .collect()
}

/// One event of an intermediation's history.
#[derive(Serialize, utoipa::ToSchema)]
pub struct EventView {
    event_id: Uuid,
    /// registered, approved, declined, expired or withdrawn.
    kind: String,
    kind_ja: &'static str,
    actor_company_code: String,
    actor_user_id: String,
    occurred_at: DateTime<Utc>,
    decline_reasons: Vec<ReasonView>,
    note: Option<String>,
}

/// One intermediation as either party sees it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct IntermediationView {
    intermediation_id: Uuid,
    /// 廃止取次番号.
    intermediation_number: String,
    supply_point_id: String,
    area: String,
    /// lv, hv or gen.
    point_class: String,
    new_retailer_code: String,
    current_retailer_code: String,
    /// The caller's part: new (新小売) or current (現小売).
    role: &'static str,
    /// お客さま番号 at the current retailer.
    customer_number: String,
    contract_name: String,
    supply_address: String,
    desired_switch_date: NaiveDate,
    /// awaiting_decision, approved, declined, expired or withdrawn.
    state: String,
    state_ja: &'static str,
    decline_reasons: Vec<ReasonView>,
    note: Option<String>,
    registered_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    decided_at: Option<DateTime<Utc>>,
    /// Every event, oldest first (only in the answer for one intermediation).
    #[serde(skip_serializing_if = "Option::is_none")]
    history: Option<Vec<EventView>>,
}

const COLUMNS: &str = "intermediation_id, intermediation_number, point_id, area, point_class,
    new_retailer_code, current_retailer_code, customer_number, contract_name, supply_address,
    desired_switch_date, state, decline_reasons, note, registered_at, expires_at, decided_at";

fn view(r: &Row, company: &str) -> IntermediationView {
    let state: String = r.get(11);
    let new: String = r.get(5);
    let reasons: Vec<String> = r.get(12);
    IntermediationView {
        intermediation_id: r.get(0),
        intermediation_number: r.get(1),
        supply_point_id: r.get(2),
        area: r.get(3),
        point_class: r.get(4),
        role: if new == company { "new" } else { "current" },
        new_retailer_code: new,
        current_retailer_code: r.get(6),
        customer_number: r.get(7),
        contract_name: r.get(8),
        supply_address: r.get(9),
        desired_switch_date: r.get(10),
        state_ja: IState::parse(&state).map_or("", |s| s.label_ja()),
        state,
        decline_reasons: reason_views(&reasons),
        note: r.get(13),
        registered_at: r.get(14),
        expires_at: r.get(15),
        decided_at: r.get(16),
        history: None,
    }
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
    let id = parse_id(&id)?;
    let company = principal.company.as_str();
    let client = state.pool.get().await?;
    let sql = format!(
        "SELECT {COLUMNS} FROM intermediations
          WHERE intermediation_id = $1 AND (new_retailer_code = $2 OR current_retailer_code = $2)"
    );
    let row = client
        .query_opt(&sql, &[&id, &company])
        .await?
        .ok_or(Refusal::IntermediationNotFound)?;
    let mut v = view(&row, company);
    let events = client
        .query(
            "SELECT e.event_id, e.kind, e.actor_company_code, e.actor_user_id, e.occurred_at,
                    e.decline_reasons, e.note
               FROM intermediation_events e JOIN intermediations i USING (intermediation_id)
              WHERE e.intermediation_id = $1 AND e.applied
                AND (i.new_retailer_code = $2 OR i.current_retailer_code = $2)
              ORDER BY e.occurred_at, e.event_id",
            &[&id, &company],
        )
        .await?;
    v.history = Some(
        events
            .iter()
            .map(|r| {
                let kind: String = r.get(1);
                let reasons: Vec<String> = r.get(5);
                EventView {
                    event_id: r.get(0),
                    kind_ja: kind_label(&kind),
                    kind,
                    actor_company_code: r.get(2),
                    actor_user_id: r.get(3),
                    occurred_at: r.get(4),
                    decline_reasons: reason_views(&reasons),
                    note: r.get(6),
                }
            })
            .collect(),
    );
    audit::record(
        &client,
        &principal,
        "intermediation.read",
        &id.to_string(),
        json!({"role": v.role}),
    )
    .await?;
    Ok(Json(v))
}

fn kind_label(kind: &str) -> &'static str {
    [
        EventKind::Registered,
        EventKind::Approved,
        EventKind::Declined,
        EventKind::Expired,
        EventKind::Withdrawn,
    ]
    .into_iter()
    .find(|k| k.as_str() == kind)
    .map_or("", |k| k.label_ja())
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
    limit: Option<i64>,
    cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ListAnswer {
    items: Vec<IntermediationView>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    next_cursor: Option<String>,
}

/// スイッチング廃止取次照会 (IS_20310, role=current) and 結果照会 (IS_20210, role=new): newest first.
#[utoipa::path(get, path = "/api/v1/intermediations", tag = "スイッチング廃止取次", params(ListQuery),
    responses(
        (status = 200, body = ListAnswer),
        (status = 422, description = "a filter is invalid; `field` names it", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ListAnswer>, Refusal> {
    let Query(q) = query.map_err(super::error::bad_query)?;
    let company = principal.company.to_string();
    let mut params: Vec<Box<dyn ToSql + Sync + Send>> = vec![Box::new(company.clone())];
    let mut clauses = vec![match q.role.as_deref() {
        None => "(new_retailer_code = $1 OR current_retailer_code = $1)".to_string(),
        Some("new") => "new_retailer_code = $1".to_string(),
        Some("current") => "current_retailer_code = $1".to_string(),
        Some(other) => {
            return Err(Refusal::invalid(
                "role",
                "invalid_role",
                format!("role {other} は指定できません(new, current)"),
                "role is new or current",
            ));
        }
    }];
    if let Some(s) = &q.state {
        let s = IState::parse(s).ok_or_else(|| {
            Refusal::invalid(
                "state",
                "invalid_state",
                format!("状態 {s} は存在しません"),
                "state is one of awaiting_decision, approved, declined, expired, withdrawn",
            )
        })?;
        params.push(Box::new(s.as_str().to_string()));
        clauses.push(format!("state = ${}", params.len()));
    }
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Refusal::invalid(
            "limit",
            "invalid_limit",
            "limit は1〜1000で指定してください",
            "limit must be 1 to 1000",
        ));
    }
    if let Some(c) = &q.cursor {
        let (at, id) = super::cursor::decode(c).ok_or_else(|| {
            Refusal::invalid(
                "cursor",
                "invalid_cursor",
                "cursor が正しくありません",
                "cursor is not one this API returned",
            )
        })?;
        params.push(Box::new(at));
        params.push(Box::new(id));
        let n = params.len();
        clauses.push(format!(
            "(registered_at, intermediation_id) < (${}, ${n})",
            n - 1
        ));
    }
    params.push(Box::new(limit + 1));
    let sql = format!(
        "SELECT {COLUMNS} FROM intermediations WHERE {}
          ORDER BY registered_at DESC, intermediation_id DESC LIMIT ${}",
        clauses.join(" AND "),
        params.len()
    );
    let refs: Vec<&(dyn ToSql + Sync)> = params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect();
    let client = state.pool.get().await?;
    let rows = client.query(&sql, &refs).await?;
    let mut items: Vec<IntermediationView> = rows.iter().map(|r| view(r, &company)).collect();
    let next_cursor = (items.len() as i64 > limit).then(|| {
        items.truncate(limit as usize);
        let last = items.last().expect("limit >= 1");
        super::cursor::encode(last.registered_at, last.intermediation_id)
    });
    if !items.is_empty() {
        let ids: Vec<String> = items
            .iter()
            .map(|i| i.intermediation_id.to_string())
            .collect();
        audit::record(
            &client,
            &principal,
            "intermediation.list",
            "*",
            json!({"role": q.role, "state": q.state, "ids": ids}),
        )
        .await?;
    }
    Ok(Json(ListAnswer { items, next_cursor }))
}

/// The answer to a decision or withdrawal: the event is on the broker; the state shown by GET
/// follows once the projector has applied it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TransitionAccepted {
    intermediation_id: Uuid,
    event_id: Uuid,
    /// The state the event moves the intermediation to.
    state: &'static str,
    state_ja: &'static str,
}

/// Claims, produces, answers: see the module's documentation.
async fn transit(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    kind: EventKind,
    reasons: Vec<DeclineReason>,
    note: Option<String>,
) -> Result<TransitionAccepted, Refusal> {
    let mut e = IntermediationEvent::new(
        id,
        kind,
        String::new(),
        principal.company.to_string(),
        principal.user_id.clone(),
    );
    e.decline_reasons = reasons;
    e.note = note;
    let client = state.pool.get().await?;
    let claimed = store::claim(
        &client,
        id,
        kind,
        principal.company.as_str(),
        e.event_id,
        state.settings.intermediation_claim_timeout_secs,
    )
    .await?;
    e.supply_point_id = match claimed {
        Ok(point) => point,
        Err(ClaimRefused::NotVisible) => return Err(Refusal::IntermediationNotFound),
        Err(ClaimRefused::NotPending) => return Err(Refusal::IntermediationAlreadyDecided),
    };
    drop(client);
    // A failed send keeps the claim: the record may still have reached the broker, and a
    // second transition must not be produced unless the first surely was not. The claim may be
    // retaken after the claim timeout.
    publish(state, &e).await?;
    let next = crate::intermediation::transition(Some(IState::AwaitingDecision), kind)
        .expect("every transition leaves awaiting_decision");
    Ok(TransitionAccepted {
        intermediation_id: id,
        event_id: e.event_id,
        state: next.as_str(),
        state_ja: next.label_ja(),
    })
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
    let accepted = decide_one(&state, &principal, &id, raw).await?;
    Ok((StatusCode::ACCEPTED, Json(accepted)))
}

async fn decide_one(
    state: &AppState,
    principal: &Principal,
    id: &str,
    raw: DecisionBody,
) -> Result<TransitionAccepted, Refusal> {
    let id = parse_id(id)?;
    let d = Decision::validate(raw)?;
    transit(state, principal, id, d.kind, d.reasons, d.note).await
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

/// The outcome of one item of a bulk decision.
#[derive(Serialize, utoipa::ToSchema)]
pub struct BulkResult {
    id: String,
    /// The HTTP status the single decision would have had: 202, 404, 409, 422, 503.
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_ja: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_en: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct BulkAnswer {
    items: Vec<BulkResult>,
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
    if bulk.items.is_empty() || bulk.items.len() > 100 {
        return Err(Refusal::invalid(
            "items",
            "invalid_field",
            "items は1〜100件で指定してください",
            "items must hold 1 to 100 decisions",
        ));
    }
    let mut results = Vec::with_capacity(bulk.items.len());
    for item in bulk.items {
        let raw = DecisionBody {
            decision: item.body.decision,
            reasons: item.body.reasons,
            note: item.body.note,
        };
        let r = match decide_one(&state, &principal, &item.id, raw).await {
            Ok(a) => BulkResult {
                id: item.id,
                status: 202,
                state: Some(a.state),
                event_id: Some(a.event_id),
                code: None,
                message_ja: None,
                message_en: None,
            },
            Err(e) => {
                let (ja, en) = e.messages();
                BulkResult {
                    id: item.id,
                    status: super::error::status(&e).as_u16(),
                    state: None,
                    event_id: None,
                    code: Some(e.code()),
                    message_ja: Some(ja),
                    message_en: Some(en),
                }
            }
        };
        results.push(r);
    }
    Ok(Json(BulkAnswer { items: results }))
}

/// A withdrawal's optional body.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawalBody {
    /// Free text for the current retailer.
    note: Option<String>,
}

/// 取下げ: the new retailer withdraws an intermediation still awaiting a decision.
#[utoipa::path(post, path = "/api/v1/intermediations/{id}/withdrawal", tag = "スイッチング廃止取次",
    params(("id" = String, Path, description = "The intermediation id")),
    request_body(content = Option<WithdrawalBody>, description = "Optional"),
    responses(
        (status = 202, description = "The withdrawal is on the broker", body = TransitionAccepted),
        (status = 404, description = "intermediation_not_found (also when the caller did not register it)", body = super::error::ErrorBody),
        (status = 409, description = "intermediation_already_decided", body = super::error::ErrorBody),
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
    let id = parse_id(&id)?;
    let note = match raw.note {
        Some(n) => {
            let len = n.trim().chars().count();
            if len == 0 || len > crate::intermediation::NOTE_MAX {
                return Err(Refusal::invalid(
                    "note",
                    "invalid_field",
                    "note は1〜200文字で指定してください",
                    "note must be 1 to 200 characters",
                ));
            }
            Some(n.trim().to_string())
        }
        None => None,
    };
    let accepted = transit(&state, &principal, id, EventKind::Withdrawn, vec![], note).await?;
    Ok((StatusCode::ACCEPTED, Json(accepted)))
}
