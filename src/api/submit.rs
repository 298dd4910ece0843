//! `POST /api/v1/<function>`: validate, produce to the area's request topic, and answer
//! `202 Accepted` only once the broker has acknowledged the record.
//!
//! With an `Idempotency-Key`, a retry with the same body gets the first request id (and a
//! record lost before acknowledgement is produced again under that same id, which the connector
//! deduplicates); the same key with another body is `409`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{SubsecRound, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{AppState, validate};
use crate::accounts::Principal;
use crate::domain::Refusal;
use crate::domain::{Function, RequestId, RequestStatus};
use crate::messages::RequestRecord;
use crate::metrics;

/// 受付: the request is on the broker.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Accepted {
    request_id: String,
    status: &'static str,
    status_ja: &'static str,
    status_url: String,
}

pub async fn submit(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    principal: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Accepted>), Refusal> {
    let function: Function = slug
        .parse()
        .map_err(|_| Refusal::UnknownFunction(slug.clone()))?;
    let outcome = accept(&state, function, &principal, &headers, &body).await;
    if let Err(e) = &outcome {
        metrics::RequestRefused {
            function: function.slug(),
            reason: e.code(),
        }
        .emit();
    }
    let id = outcome?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            request_id: id.to_string(),
            status: "accepted",
            status_ja: "受付",
            status_url: format!("/api/v1/requests/{id}"),
        }),
    ))
}

async fn accept(
    state: &AppState,
    function: Function,
    principal: &Principal,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<RequestId, Refusal> {
    if !principal.kind.may_call(function) {
        return Err(Refusal::FunctionNotAllowed(function));
    }
    if !principal.permitted(function) {
        return Err(Refusal::FunctionNotPermitted(function));
    }
    let value: serde_json::Value = super::error::parse_json(body)?;
    let body_hash = Sha256::digest(format!("{}\n{value}", function.slug()));
    let submission =
        validate::submission(function, &principal.company, value, validate::today_jst())?;
    if let Some(original) = submission.original_request_id {
        check_original(state, principal, function, &submission, original).await?;
    }

    let request_id = match idempotency_key(headers)? {
        None => RequestId::new(),
        Some(key) => {
            let (id, replay) = claim_key(state, principal, key, &body_hash).await?;
            if replay && request_row_exists(state, id).await? {
                return Ok(id);
            }
            id
        }
    };
    let record = RequestRecord {
        request_id,
        function,
        company_code: principal.company.clone(),
        user_id: principal.user_id.clone(),
        point_id: submission.point,
        update_flag: submission.update_flag,
        original_request_id: submission.original_request_id,
        // Milliseconds, as the Avro record carries it: the row and its replay must agree.
        accepted_at: Utc::now().trunc_subsecs(3),
        payload: submission.payload,
        replay: 0,
    };
    // Who submitted it (a contractor's user included) and from which certificate, before it
    // can be sent: a submission the trail cannot record is refused, not sent unrecorded.
    crate::audit::record(
        &state.pool.get().await?,
        principal,
        "request.submitted",
        &request_id.to_string(),
        serde_json::json!({
            "function": function.slug(),
            "point_id": record.point_id.as_str(),
            "update_flag": record.update_flag.code(),
        }),
    )
    .await?;
    let bytes = state
        .codec
        .encode_request(&record)
        .map_err(|e| Refusal::Internal(e.into()))?;
    let topic = state.settings.requests_topic(record.area());
    state
        .publisher
        .publish(&topic, record.point_id.as_str(), &bytes)
        .await
        .map_err(|e| Refusal::BrokerUnavailable(e.to_string()))?;
    // The record is durable now. The row makes a GET right after the 202 find it; should the
    // database fail here, the projector writes the same row from the topic.
    if let Err(e) = insert_accepted_row(state, &record).await {
        tracing::error!(error = %e, request_id = %record.request_id, "accepted row not written; the projector will");
    }
    metrics::RequestAccepted {
        function: function.slug(),
        area: record.area().code(),
    }
    .emit();
    Ok(request_id)
}

/// A correction or withdrawal amends an application of the same company, function and point
/// that the grid operator has not finished: the hub refuses what it already knows is finished,
/// and the operator refuses the rest (a completion the hub has not heard of yet).
async fn check_original(
    state: &AppState,
    principal: &Principal,
    function: Function,
    submission: &validate::Submission,
    original: RequestId,
) -> Result<(), Refusal> {
    let row = state
        .pool
        .get()
        .await?
        .query_opt(
            "SELECT function, point_id, status FROM requests
             WHERE request_id = $1 AND company_code = $2",
            &[&original.as_uuid(), &principal.company.as_str()],
        )
        .await?
        .ok_or(Refusal::OriginalNotFound)?;
    let (slug, point, status): (String, String, String) = (row.get(0), row.get(1), row.get(2));
    if slug != function.slug() || point != submission.point.as_str() {
        return Err(Refusal::OriginalMismatch);
    }
    match status.parse::<RequestStatus>() {
        Ok(s) if s.is_final() => Err(Refusal::OriginalFinished(s.as_str())),
        _ => Ok(()),
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<&str>, Refusal> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = v.to_str().map_err(|_| Refusal::InvalidIdempotencyKey)?;
    let ok = (1..=128).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic());
    ok.then_some(Some(key))
        .ok_or(Refusal::InvalidIdempotencyKey)
}

/// Claims `key` for this body; returns the request id under the key and whether it was
/// claimed before (a replay).
async fn claim_key(
    state: &AppState,
    principal: &Principal,
    key: &str,
    body_hash: &[u8],
) -> Result<(RequestId, bool), Refusal> {
    let client = state.pool.get().await?;
    let fresh = RequestId::new();
    let inserted = client
        .execute(
            "INSERT INTO idempotency_keys (company_code, key, body_sha256, request_id)
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            &[
                &principal.company.as_str(),
                &key,
                &body_hash,
                &fresh.as_uuid(),
            ],
        )
        .await?;
    if inserted == 1 {
        return Ok((fresh, false));
    }
    let row = client
        .query_one(
            "SELECT body_sha256, request_id FROM idempotency_keys WHERE company_code = $1 AND key = $2",
            &[&principal.company.as_str(), &key],
        )
        .await?;
    let stored: Vec<u8> = row.get(0);
    if stored != body_hash {
        return Err(Refusal::IdempotencyConflict);
    }
    Ok((RequestId::from(row.get::<_, uuid::Uuid>(1)), true))
}

async fn request_row_exists(state: &AppState, id: RequestId) -> Result<bool, Refusal> {
    let row = state
        .pool
        .get()
        .await?
        .query_opt(
            "SELECT 1 FROM requests WHERE request_id = $1",
            &[&id.as_uuid()],
        )
        .await?;
    Ok(row.is_some())
}

async fn insert_accepted_row(state: &AppState, r: &RequestRecord) -> Result<(), Refusal> {
    let client = state.pool.get().await?;
    crate::projector::insert_request(&client, r).await?;
    Ok(())
}
