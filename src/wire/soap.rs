//! The SOAP/XML protocol family's documents, shared by both ends: one SOAP 1.1 envelope per
//! request ([`request`]: written by the connector, read by the simulator) and one per answer
//! (written by the simulator, read strictly into a [`TsoAnswer`] or a classified [`CallError`]
//! by the connector). The connector's HTTP client is `crate::connector::soap`.
//!
//! Every function travels the same way, its fields written and read by the record's shape
//! ([`record`]):
//!
//! ```text
//! <soap:Header><sw:RequestHeader><sw:ServiceId>KF_10610</sw:ServiceId><sw:RequestId>…</sw:RequestId>
//!   <sw:CompanyCode>A0001</sw:CompanyCode><sw:UserId>…</sw:UserId><sw:UpdateFlag>1</sw:UpdateFlag>
//!   <sw:AcceptedAt>2026-11-25T01:02:03Z</sw:AcceptedAt></sw:RequestHeader></soap:Header>
//! <soap:Body><sw:HvSwitchStartRequest><sw:SupplyPointId>…</sw:SupplyPointId>
//!   <sw:ApplicationKind>05</sw:ApplicationKind><sw:PlannedDate>2026-12-01</sw:PlannedDate>…
//! </sw:HvSwitchStartRequest></soap:Body>
//! ```
//!
//! The answer echoes ServiceId and RequestId in a `ResponseHeader`; its body is one of
//! `<sw:HvSwitchStartResult>` (the result record's fields), `<sw:Refusal>` (ErrorCode,
//! ErrorMessage), `<sw:Pending><sw:Stage>05</sw:Stage></sw:Pending>` or `<sw:Acknowledged/>`.

pub mod record;
mod request;
#[cfg(test)]
pub(crate) mod tests;
pub mod xml;

use crate::domain::{Function, RequestId};
use crate::messages::shape::shapes;
use crate::wire::answer::{CallError, TsoAnswer};
use crate::wire::form;
pub use request::{build_envelope, parse_envelope};
use xml::{Element, Fields, SOAP_NS, SW_NS, leaf, wrap};

/// The body element of a refusal (不可), whatever the function.
pub const REFUSAL: &str = "Refusal";
/// The body element of an application the operator holds, with its `Stage`.
pub const PENDING: &str = "Pending";
/// The body element of a correction or withdrawal done, with nothing to return.
pub const ACKNOWLEDGED: &str = "Acknowledged";
/// The header block of a request and of an answer.
pub const REQUEST_HEADER: &str = "RequestHeader";
pub const RESPONSE_HEADER: &str = "ResponseHeader";

/// The body element a function's request travels in: `HvSwitchStartRequest` for
/// `hv-switch-start`.
pub fn request_element(function: Function) -> String {
    format!("{}Request", record::pascal(function.slug()))
}

/// The body element a function's completed answer travels in: `HvSwitchStartResult`.
pub fn result_element(function: Function) -> String {
    format!("{}Result", record::pascal(function.slug()))
}

/// The operator's answer document for one request, as [`parse_answer`]
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
            record::write_fields(&mut fields, &result.to_json(), shape);
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

/// Reads the operator's answer to a `function` request: a result, a refusal, pending,
/// acknowledged, or a SOAP Fault (a Client fault as HTTP 400, any other as 500). Anything else is `Malformed`; never panics.
pub fn parse_answer(function: Function, body: &[u8]) -> Result<TsoAnswer, CallError> {
    read_answer(function, body).map(|(_, answer)| answer)
}

/// The answer and the RequestId its header echoes, which the client checks against its own.
pub fn read_answer(function: Function, body: &[u8]) -> Result<(String, TsoAnswer), CallError> {
    let root = xml::parse(body).map_err(CallError::Malformed)?;
    let (header, content) = xml::open_envelope(&root).map_err(CallError::Malformed)?;
    if content.is(SOAP_NS, "Fault") {
        return Err(fault_status(content)?);
    }
    let header =
        header.ok_or_else(|| CallError::Malformed("an answer without a SOAP Header".into()))?;
    let echoed = response_header(function, header).map_err(CallError::Malformed)?;
    let answer = if content.is(SW_NS, REFUSAL) {
        refusal(content)
    } else if content.is(SW_NS, PENDING) {
        pending(content)
    } else if content.is(SW_NS, ACKNOWLEDGED) {
        Fields::of(content, SW_NS)
            .and_then(Fields::finish)
            .map(|()| TsoAnswer::Acknowledged)
    } else if content.is(SW_NS, &result_element(function)) {
        completed(function, content)
    } else {
        Err(format!(
            "{} is not an answer to {}",
            content.name,
            function.service_id()
        ))
    };
    answer.map(|a| (echoed, a)).map_err(CallError::Malformed)
}

fn fault_status(fault: &Element) -> Result<CallError, CallError> {
    let code = fault
        .children
        .iter()
        .find(|c| c.ns.is_none() && c.name == "faultcode")
        .ok_or_else(|| CallError::Malformed("a SOAP Fault without faultcode".into()))?;
    let client = code.text.trim().rsplit(':').next() == Some("Client");
    Ok(CallError::Status(if client { 400 } else { 500 }))
}

fn response_header(function: Function, header: &Element) -> Result<String, String> {
    if !header.is(SW_NS, RESPONSE_HEADER) {
        return Err(format!("expected {RESPONSE_HEADER}, found {}", header.name));
    }
    let mut fields = Fields::of(header, SW_NS)?;
    let service_id = fields.filled("ServiceId")?;
    let request_id = fields.filled("RequestId")?.to_string();
    fields.finish()?;
    if service_id != function.service_id() {
        return Err(format!(
            "answer for {service_id}, asked {}",
            function.service_id()
        ));
    }
    Ok(request_id)
}

fn refusal(element: &Element) -> Result<TsoAnswer, String> {
    let mut fields = Fields::of(element, SW_NS)?;
    let code = fields.filled("ErrorCode")?.to_string();
    let message = fields.filled("ErrorMessage")?.to_string();
    fields.finish()?;
    Ok(TsoAnswer::Refused { code, message })
}

fn pending(element: &Element) -> Result<TsoAnswer, String> {
    let mut fields = Fields::of(element, SW_NS)?;
    let stage = fields.filled("Stage")?.to_string();
    fields.finish()?;
    Ok(TsoAnswer::Pending { stage })
}

fn completed(function: Function, element: &Element) -> Result<TsoAnswer, String> {
    let json = record::read_record(element, form::result_shape(function))?;
    form::read_result(function, json).map(TsoAnswer::Completed)
}
