//! The simulator's JSON endpoint, `POST /json/{service_id}`: reads back the document the
//! client writes, lets the operator decide, and answers in the same dialect — 200 with the
//! result or an acknowledgement, 202 pending, 422 with the refusal — through the same failure
//! modes as the SOAP endpoint.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::control::{Admission, UNAVAILABLE};
use super::{App, Simulator};
use crate::domain::Function;
use crate::wire::json::{IDEMPOTENCY_KEY, build_answer, parse_body};

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
