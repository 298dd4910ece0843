//! The JSON over HTTPS protocol family's documents, shared by both ends: one JSON document per
//! request, posted to `<endpoint>/<service_id>` with the request id as its `Idempotency-Key`,
//! and the answer told by its status — 200 a result or an acknowledgement, 202 pending, 422 a
//! refusal, anything else an HTTP error. Each side is written by one end and read strictly by
//! the other: the request by the connector and the simulator, the answer the other way round,
//! into a [`TsoAnswer`] or a classified [`CallError`]. The envelopes are in [`document`]; the
//! function's own fields are the record's JSON form, read by its shape ([`form`]) for every
//! function alike. The connector's HTTP client is `crate::connector::json`.

pub mod document;
#[cfg(test)]
pub(crate) mod tests;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::form;
use crate::domain::{CompanyCode, Function, RequestId, SupplyPointId, UpdateFlag};
use crate::messages::RequestRecord;
use crate::wire::answer::{CallError, TsoAnswer};
use document::{Done, ErrorBody, Filled, Pending, Refused, RequestBody, Stage};

/// The header that names the request, so the operator can recognise a retried call.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
/// The status of a completed request (with its result, or acknowledged).
pub const COMPLETED: u16 = 200;
/// The status of a request the operator holds, not finished yet.
pub const PENDING: u16 = 202;
/// The status of a business refusal (不可): the request was understood and declined.
pub const REFUSED: u16 = 422;

/// The JSON document for one request. Pure, so the exact document on the wire is testable.
pub fn build_body(request: &RequestRecord) -> Value {
    let accepted_at = request
        .accepted_at
        .to_rfc3339_opts(SecondsFormat::AutoSi, true);
    let body = RequestBody {
        request_id: Filled(request.request_id.to_string()),
        company_code: request.company_code.as_str().into(),
        user_id: Filled(request.user_id.clone()),
        update_flag: request.update_flag.code().into(),
        original_request_id: request.original_request_id.map(|id| Filled(id.to_string())),
        accepted_at: Filled(accepted_at),
        supply_point_id: request.point_id.as_str().into(),
        fields: form::compact(request.payload.to_json()),
    };
    // A struct of strings and a JSON value always serializes; `Null` is unreachable.
    serde_json::to_value(body).unwrap_or_default()
}

/// Reads what [`build_body`] writes for `function`, back into the
/// request record: the routing facts, and `fields` read by the shape of the function's payload
/// record. Strict like the answer's reader: unknown, missing or ill-typed fields and fields of
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

/// The operator's answer to one request, as [`parse_answer`] reads it:
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

/// Reads the operator's answer to a `function` request that came with HTTP `status`: 200 a
/// result or an acknowledgement, 202 pending, 422 a refusal, any other status an HTTP error
/// whatever the body. Anything else is `Malformed`; never panics.
pub fn parse_answer(function: Function, status: u16, body: &[u8]) -> Result<TsoAnswer, CallError> {
    read_answer(function, status, body).map(|(_, answer)| answer)
}

/// The answer and the request id it echoes, which the client checks against its own.
pub fn read_answer(
    function: Function,
    status: u16,
    body: &[u8],
) -> Result<(String, TsoAnswer), CallError> {
    match status {
        REFUSED => {
            let refused: Refused = strict(body)?;
            let answer = TsoAnswer::Refused {
                code: refused.error.code.0,
                message: refused.error.message.0,
            };
            Ok((refused.request_id.0, answer))
        }
        PENDING => {
            let pending: Pending = strict(body)?;
            let stage = pending.pending.stage.0;
            Ok((pending.request_id.0, TsoAnswer::Pending { stage }))
        }
        COMPLETED => {
            let done: Done = strict(body)?;
            let answer = match (done.result, done.acknowledged) {
                (Some(result), None) => form::read_result(function, result)
                    .map(TsoAnswer::Completed)
                    .map_err(|e| CallError::Malformed(format!("result: {e}")))?,
                (None, Some(true)) => TsoAnswer::Acknowledged,
                (None, Some(false)) => {
                    return Err(CallError::Malformed("acknowledged: false".into()));
                }
                _ => {
                    let reason = "a 200 answer holds either a result or acknowledged: true";
                    return Err(CallError::Malformed(reason.into()));
                }
            };
            Ok((done.request_id.0, answer))
        }
        other => Err(CallError::Status(other)),
    }
}

/// [`document::read`], its complaint as a malformed answer.
fn strict<T: DeserializeOwned>(body: &[u8]) -> Result<T, CallError> {
    document::read(body).map_err(CallError::Malformed)
}
