//! The SOAP request document, both ways: the envelope the connector writes for a request and
//! the simulator's strict reading of it back into the request record.

use chrono::{DateTime, SecondsFormat, Utc};

use super::record::{read_fields, write_fields};
use super::xml::{self, Element, Fields, SW_NS, is_blank, leaf, wrap};
use super::{REQUEST_HEADER, request_element};
use crate::domain::{CompanyCode, Function, RequestId, SupplyPointId, UpdateFlag};
use crate::messages::RequestRecord;
use crate::messages::shape::shapes;
use crate::wire::form;

/// The SOAP document for one request: the routing facts in the header, the function's fields
/// in the body. Pure, so the exact bytes on the wire are testable.
pub fn build_envelope(request: &RequestRecord) -> String {
    let mut head = String::new();
    leaf(&mut head, "ServiceId", request.function.service_id());
    leaf(&mut head, "RequestId", &request.request_id.to_string());
    leaf(&mut head, "CompanyCode", request.company_code.as_str());
    leaf(&mut head, "UserId", &request.user_id);
    leaf(&mut head, "UpdateFlag", request.update_flag.code());
    if let Some(original) = &request.original_request_id {
        leaf(&mut head, "OriginalRequestId", &original.to_string());
    }
    let accepted_at = request
        .accepted_at
        .to_rfc3339_opts(SecondsFormat::AutoSi, true);
    leaf(&mut head, "AcceptedAt", &accepted_at);

    let mut body = String::new();
    leaf(&mut body, "SupplyPointId", request.point_id.as_str());
    if let Some(kind) = request.application_kind() {
        leaf(&mut body, "ApplicationKind", kind);
    }
    let payload = &request.payload;
    let shape = shapes().known(payload.record_name());
    write_fields(&mut body, &payload.to_json(), shape);
    xml::envelope(
        Some(&wrap(REQUEST_HEADER, &head)),
        &wrap(&request_element(request.function), &body),
    )
}

/// The body's routing fields, ahead of the payload's.
const ROUTING: [&str; 2] = ["SupplyPointId", "ApplicationKind"];

/// Reads what [`build_envelope`] writes, back into the request record:
/// the header names the function, the function names the payload record, and the record's
/// shape reads the body. Strict like the answer's reader: unknown, repeated, missing or
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
