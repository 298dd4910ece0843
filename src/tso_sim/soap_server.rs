//! The simulator's SOAP endpoint: reads the hub's envelope, lets the operator decide, and
//! writes the answer in the same dialect the client reads.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::control::{Admission, UNAVAILABLE};
use super::{App, Simulator};
use crate::wire::soap::xml;
use crate::wire::soap::{build_answer, parse_envelope};

/// What `malformed` mode answers with HTTP 200: an envelope cut off mid-element.
const BROKEN: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
    <soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><Resu";

/// `POST /soap`: counted on arrival (before any hang), then answered as the mode says.
pub(super) async fn handle(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    match app.sim.admit(&app.closing).await {
        Admission::Answer => respond(&app.sim, &headers, &body),
        Admission::Unavailable => unavailable(),
        Admission::Garbled => soap(StatusCode::OK, BROKEN.to_string()),
    }
}

/// Parses, checks the SOAPAction against the header's ServiceId, and answers.
fn respond(sim: &Simulator, headers: &HeaderMap, body: &[u8]) -> Response {
    let request = match parse_envelope(body) {
        Ok(request) => request,
        Err(reason) => {
            tracing::debug!(%reason, "unreadable SOAP request");
            return soap(StatusCode::BAD_REQUEST, xml::fault("Client", &reason));
        }
    };
    let service_id = request.function.service_id();
    if let Some(action) = soap_action(headers) {
        if !action.is_empty() && action != service_id {
            let reason = format!("SOAPAction {action} does not match ServiceId {service_id}");
            return soap(StatusCode::BAD_REQUEST, xml::fault("Client", &reason));
        }
    }
    let answer = sim.answer(&request);
    soap(
        StatusCode::OK,
        build_answer(request.function, &request.request_id, &answer),
    )
}

fn soap_action(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get("SOAPAction")?.to_str().ok()?;
    Some(value.trim().trim_matches('"'))
}

/// HTTP 503 with a Server fault: transient for the client.
fn unavailable() -> Response {
    soap(
        StatusCode::SERVICE_UNAVAILABLE,
        xml::fault("Server", UNAVAILABLE),
    )
}

fn soap(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        body,
    )
        .into_response()
}
