//! The simulator's SOAP endpoint: reads the hub's envelope, lets the operator decide, and
//! writes the answer in the same dialect the client reads.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

use super::control::{Admission, UNAVAILABLE};
use super::{App, Simulator};
use crate::domain::{CompanyCode, Function, RequestId, SupplyPointId, UpdateFlag};
use crate::messages::RequestRecord;
use crate::messages::shape::shapes;
use crate::wire::TsoAnswer;
use crate::wire::form;
use crate::wire::soap::record::{read_fields, write_fields};
use crate::wire::soap::xml::{self, Element, Fields, SW_NS, is_blank, leaf, wrap};
use crate::wire::soap::{
    ACKNOWLEDGED, PENDING, REFUSAL, REQUEST_HEADER, RESPONSE_HEADER, request_element,
    result_element,
};

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

/// The body's routing fields, ahead of the payload's.
const ROUTING: [&str; 2] = ["SupplyPointId", "ApplicationKind"];

/// Reads what [`crate::wire::soap::build_envelope`] writes, back into the request record:
/// the header names the function, the function names the payload record, and the record's
/// shape reads the body. Strict like the client's reader: unknown, repeated, missing or
/// ill-typed fields are errors, and so is an ApplicationKind that does not fit the request.
pub fn parse_envelope(body: &[u8]) -> Result<RequestRecord, String> {
    let root = xml::parse(body)?;
    let (header, content) = xml::open_envelope(&root)?;
    let head = read_head(header.ok_or("a request without a SOAP Header")?)?;
    let function = head.function;
    if !content.is(SW_NS, &request_element(function)) {
        return Err(format!(
            "{} does not carry {}",
            content.name,
            function.service_id()
        ));
    }
    if content.children.is_empty() && !is_blank(&content.text) {
        return Err(format!("{} holds text where fields belong", content.name));
    }
    let (routing, fields): (Vec<&Element>, Vec<&Element>) = content
        .children
        .iter()
        .partition(|c| c.ns.as_deref() == Some(SW_NS) && ROUTING.contains(&c.name.as_str()));
    let routing = Element {
        ns: content.ns.clone(),
        name: content.name.clone(),
        text: String::new(),
        children: routing.into_iter().cloned().collect(),
    };
    let mut f = Fields::of(&routing, SW_NS)?;
    let point_id = SupplyPointId::parse(f.filled("SupplyPointId")?).map_err(|e| e.to_string())?;
    let kind = f.optional("ApplicationKind").map(str::to_string);
    f.finish()?;
    let json = read_fields(&content.name, fields, form::payload_shape(function))?;
    let payload = form::read_payload(function, json)?;
    let request = RequestRecord {
        request_id: head.request_id,
        function,
        company_code: head.company_code,
        user_id: head.user_id,
        point_id,
        update_flag: head.update_flag,
        original_request_id: head.original_request_id,
        accepted_at: head.accepted_at,
        payload,
        replay: 0,
    };
    if kind.as_deref() != request.application_kind() {
        return Err(format!(
            "ApplicationKind {kind:?} does not fit this {} request",
            function.service_id()
        ));
    }
    Ok(request)
}

/// The facts a request header carries.
struct Head {
    function: Function,
    request_id: RequestId,
    company_code: CompanyCode,
    user_id: String,
    update_flag: UpdateFlag,
    original_request_id: Option<RequestId>,
    accepted_at: DateTime<Utc>,
}

fn read_head(header: &Element) -> Result<Head, String> {
    if !header.is(SW_NS, REQUEST_HEADER) {
        return Err(format!("expected {REQUEST_HEADER}, found {}", header.name));
    }
    let mut f = Fields::of(header, SW_NS)?;
    let service_id = f.filled("ServiceId")?;
    let function = Function::by_service_id(service_id)
        .ok_or_else(|| format!("unknown ServiceId {service_id}"))?;
    let head = Head {
        function,
        request_id: request_id(f.filled("RequestId")?)?,
        company_code: CompanyCode::parse(f.filled("CompanyCode")?).map_err(|e| e.to_string())?,
        user_id: f.filled("UserId")?.to_string(),
        update_flag: update_flag(f.filled("UpdateFlag")?)?,
        original_request_id: f
            .optional("OriginalRequestId")
            .map(request_id)
            .transpose()?,
        accepted_at: DateTime::parse_from_rfc3339(f.filled("AcceptedAt")?.trim())
            .map_err(|e| format!("AcceptedAt: {e}"))?
            .with_timezone(&Utc),
    };
    f.finish()?;
    Ok(head)
}

fn request_id(raw: &str) -> Result<RequestId, String> {
    raw.trim()
        .parse()
        .map_err(|e| format!("RequestId {raw:?}: {e}"))
}

fn update_flag(code: &str) -> Result<UpdateFlag, String> {
    UpdateFlag::by_code(code.trim()).ok_or_else(|| format!("UpdateFlag {code:?} is not 1, 2 or 3"))
}

/// The operator's answer document for one request, as [`crate::wire::soap::parse_answer`]
/// reads it: the ServiceId and RequestId echoed in the header, the result (by its record's
/// shape), refusal, pending stage or acknowledgement in the body.
pub fn build_answer(function: Function, request_id: &RequestId, answer: &TsoAnswer) -> String {
    let mut head = String::new();
    leaf(&mut head, "ServiceId", function.service_id());
    leaf(&mut head, "RequestId", &request_id.to_string());
    let body = match answer {
        TsoAnswer::Completed(result) => {
            let mut fields = String::new();
            let shape = shapes().known(result.record_name());
            write_fields(&mut fields, &result.to_json(), shape);
            wrap(&result_element(function), &fields)
        }
        TsoAnswer::Refused { code, message } => {
            let mut fields = String::new();
            leaf(&mut fields, "ErrorCode", code);
            leaf(&mut fields, "ErrorMessage", message);
            wrap(REFUSAL, &fields)
        }
        TsoAnswer::Pending { stage } => {
            let mut fields = String::new();
            leaf(&mut fields, "Stage", stage);
            wrap(PENDING, &fields)
        }
        TsoAnswer::Acknowledged => wrap(ACKNOWLEDGED, ""),
    };
    xml::envelope(Some(&wrap(RESPONSE_HEADER, &head)), &body)
}
