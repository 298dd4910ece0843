//! The simulator's JSON endpoint, `POST /json/{service_id}`: reads back the document the
//! client writes, lets the operator decide, and answers in the same dialect — 200 with the
//! result or an acknowledgement, 202 pending, 422 with the refusal — through the same failure
//! modes as the SOAP endpoint.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::control::{Admission, UNAVAILABLE};
use super::{App, Simulator};
use crate::domain::{CompanyCode, Function, RequestId, SupplyPointId, UpdateFlag};
use crate::messages::RequestRecord;
use crate::wire::TsoAnswer;
use crate::wire::form;
use crate::wire::json::document::{
    self, Done, ErrorBody, Filled, Pending, Refused, RequestBody, Stage,
};
use crate::wire::json::{COMPLETED, IDEMPOTENCY_KEY, PENDING, REFUSED};

/// What `malformed` mode answers with HTTP 200: a document cut off mid-field.
const BROKEN: &str = r#"{"request_id":"01931f6e-7b1a-7c3e-8a4b-0123456789ab","result":{"supp"#;

/// `POST /json/{service_id}`: counted on arrival (before any hang), then answered as the mode
/// says.
pub(super) async fn handle(
    State(app): State<App>,
    Path(service_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match app.sim.admit(&app.closing).await {
        Admission::Answer => respond(&app.sim, &service_id, &headers, &body),
        Admission::Unavailable => problem(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE),
        Admission::Garbled => {
            let json = [(header::CONTENT_TYPE, "application/json")];
            (StatusCode::OK, json, BROKEN).into_response()
        }
    }
}

/// Finds the function by the path, checks the media type and the `Idempotency-Key` against
/// the body, and answers.
fn respond(sim: &Simulator, service_id: &str, headers: &HeaderMap, body: &[u8]) -> Response {
    let Some(function) = Function::by_service_id(service_id) else {
        let reason = format!("unknown service id {service_id}");
        return problem(StatusCode::NOT_FOUND, &reason);
    };
    if !is_json(headers) {
        let reason = "the body must be application/json";
        return problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, reason);
    }
    let request = match parse_body(function, body) {
        Ok(request) => request,
        Err(reason) => {
            tracing::debug!(%reason, service_id, "unreadable JSON request");
            return problem(StatusCode::BAD_REQUEST, &reason);
        }
    };
    let key = headers.get(IDEMPOTENCY_KEY).and_then(|v| v.to_str().ok());
    if key != Some(request.request_id.to_string().as_str()) {
        let reason = format!("{IDEMPOTENCY_KEY} must be the request id");
        return problem(StatusCode::BAD_REQUEST, &reason);
    }
    let (status, document) = build_answer(&request.request_id, &sim.answer(&request));
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(document)).into_response()
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// An error that is not the operator's business answer: `{"error": {"code", "message"}}`
/// with the status as its code.
fn problem(status: StatusCode, message: &str) -> Response {
    let error = json!({"error": {"code": status.as_u16().to_string(), "message": message}});
    (status, Json(error)).into_response()
}

/// Reads what [`crate::wire::json::build_body`] writes for `function`, back into the
/// request record: the routing facts, and `fields` read by the shape of the function's payload
/// record. Strict like the client's reader: unknown, missing or ill-typed fields and fields of
/// another function are errors.
pub fn parse_body(function: Function, body: &[u8]) -> Result<RequestRecord, String> {
    let wire: RequestBody = document::read(body)?;
    let payload = form::read_payload(function, wire.fields).map_err(|e| format!("fields: {e}"))?;
    let accepted_at = DateTime::parse_from_rfc3339(&wire.accepted_at.0)
        .map_err(|e| format!("accepted_at {:?}: {e}", wire.accepted_at.0))?;
    Ok(RequestRecord {
        request_id: request_id(&wire.request_id)?,
        function,
        company_code: CompanyCode::parse(&wire.company_code.0).map_err(|e| e.to_string())?,
        user_id: wire.user_id.0,
        point_id: SupplyPointId::parse(&wire.supply_point_id.0).map_err(|e| e.to_string())?,
        update_flag: UpdateFlag::by_code(&wire.update_flag.0)
            .ok_or_else(|| format!("update_flag {:?} is not 1, 2 or 3", wire.update_flag.0))?,
        original_request_id: wire
            .original_request_id
            .as_ref()
            .map(request_id)
            .transpose()?,
        accepted_at: accepted_at.with_timezone(&Utc),
        payload,
        replay: 0,
    })
}

fn request_id(raw: &Filled) -> Result<RequestId, String> {
    raw.0
        .parse()
        .map_err(|e| format!("request id {:?}: {e}", raw.0))
}

/// The operator's answer to one request, as [`crate::wire::json::parse_answer`] reads it:
/// the HTTP status (200 completed or acknowledged, 202 pending, 422 refused) and the document
/// echoing the request id; a result is its record's JSON form, nulls left out.
pub fn build_answer(request_id: &RequestId, answer: &TsoAnswer) -> (u16, Value) {
    let request_id = Filled(request_id.to_string());
    let (status, document) = match answer {
        TsoAnswer::Completed(result) => {
            let done = Done {
                request_id,
                result: Some(form::compact(result.to_json())),
                acknowledged: None,
            };
            (COMPLETED, serde_json::to_value(done))
        }
        TsoAnswer::Acknowledged => {
            let done = Done {
                request_id,
                result: None,
                acknowledged: Some(true),
            };
            (COMPLETED, serde_json::to_value(done))
        }
        TsoAnswer::Pending { stage } => {
            let pending = Stage {
                stage: Filled(stage.clone()),
            };
            let document = Pending {
                request_id,
                pending,
            };
            (PENDING, serde_json::to_value(document))
        }
        TsoAnswer::Refused { code, message } => {
            let error = ErrorBody {
                code: Filled(code.clone()),
                message: Filled(message.clone()),
            };
            (REFUSED, serde_json::to_value(Refused { request_id, error }))
        }
    };
    // Strings, booleans and JSON values always serialize; `Null` is unreachable.
    (status, document.unwrap_or_default())
}
