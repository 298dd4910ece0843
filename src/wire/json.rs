//! The JSON over HTTPS protocol family, client side: one JSON document per request, posted to
//! `<endpoint>/<service_id>` with the request id as its `Idempotency-Key`, and the answer read
//! strictly by its status — 200 a result or an acknowledgement, 202 pending, 422 a refusal,
//! anything else an HTTP error — into a [`TsoAnswer`] or a classified [`CallError`]. The
//! documents live in [`document`], shared with the simulator; the function's own fields are the
//! record's JSON form, read by its shape ([`form`]) for every function alike.

pub mod document;

use std::time::Duration;

use chrono::SecondsFormat;
use reqwest::Url;
use serde::de::DeserializeOwned;

use super::form;
use crate::connector::transport::{self, classify};
use crate::domain::Function;
use crate::messages::RequestRecord;
use crate::wire::answer::{CallError, TsoAnswer};
use document::{Done, Filled, Pending, Refused, RequestBody};

/// The header that names the request, so the operator can recognise a retried call.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
/// The status of a completed request (with its result, or acknowledged).
pub const COMPLETED: u16 = 200;
/// The status of a request the operator holds, not finished yet.
pub const PENDING: u16 = 202;
/// The status of a business refusal (不可): the request was understood and declined.
pub const REFUSED: u16 = 422;

/// Calls one grid operator's JSON API; cheap to share, one connection pool inside.
pub struct JsonClient {
    endpoint: Url,
    http: reqwest::Client,
}

impl JsonClient {
    /// `endpoint` is the API's base (`…/json`); `timeout` bounds a whole call (connect, send,
    /// answer): past it the call is transient.
    pub fn new(endpoint: &str, timeout: Duration) -> Result<Self, CallError> {
        Ok(JsonClient {
            endpoint: transport::endpoint_url(endpoint)?,
            http: transport::client(timeout)?,
        })
    }

    /// Delivers `request` and classifies what comes back. The operator deduplicates by the
    /// request id (body and `Idempotency-Key`), so a retried call never files a second
    /// application.
    pub async fn call(&self, request: &RequestRecord) -> Result<TsoAnswer, CallError> {
        let service_id = request.function.service_id();
        let response = self
            .http
            .post(self.url_of(service_id))
            .header(IDEMPOTENCY_KEY, request.request_id.to_string())
            .header(reqwest::header::ACCEPT, "application/json")
            .json(&build_body(request))
            .send()
            .await
            .map_err(classify)?;
        let status = response.status().as_u16();
        if ![COMPLETED, PENDING, REFUSED].contains(&status) {
            tracing::debug!(
                status,
                service_id,
                "grid operator answered with an HTTP error"
            );
            return Err(CallError::Status(status));
        }
        let body = transport::read_capped(response).await?;
        let (echoed, answer) = read_answer(request.function, status, &body)?;
        if echoed != request.request_id.to_string() {
            return Err(CallError::Malformed(format!(
                "answer for request {echoed}, not {}",
                request.request_id
            )));
        }
        Ok(answer)
    }

    /// `<endpoint>/<service_id>`, whether or not the endpoint ends in a slash.
    fn url_of(&self, service_id: &str) -> Url {
        let mut url = self.endpoint.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().push(service_id);
        }
        url
    }
}

/// The JSON document for one request. Pure, so the exact document on the wire is testable.
pub fn build_body(request: &RequestRecord) -> serde_json::Value {
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

/// Reads the operator's answer to a `function` request that came with HTTP `status`: 200 a
/// result or an acknowledgement, 202 pending, 422 a refusal, any other status an HTTP error
/// whatever the body. Anything else is `Malformed`; never panics.
pub fn parse_answer(function: Function, status: u16, body: &[u8]) -> Result<TsoAnswer, CallError> {
    read_answer(function, status, body).map(|(_, answer)| answer)
}

/// The answer and the request id it echoes.
fn read_answer(
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

#[cfg(test)]
mod tests;
