//! The JSON over HTTPS protocol family, client side: one JSON document per request, posted to
//! `<endpoint>/<service_id>` with the request id as its `Idempotency-Key`, and the answer read
//! by its status into a [`TsoAnswer`] or a classified [`CallError`]. The documents are
//! [`crate::wire::json`]'s, shared with the simulator.

use std::time::Duration;

use reqwest::Url;

use super::transport::{self, classify};
use crate::messages::RequestRecord;
use crate::wire::json::{COMPLETED, IDEMPOTENCY_KEY, PENDING, REFUSED, build_body, read_answer};
use crate::wire::{CallError, TsoAnswer};

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
        let call = self
            .http
            .post(self.url_of(service_id))
            .header(IDEMPOTENCY_KEY, request.request_id.to_string())
            .header(reqwest::header::ACCEPT, "application/json")
            .json(&build_body(request));
        let response = crate::telemetry::send_traced(call, service_id)
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

#[cfg(test)]
mod tests {
    //! The client over real HTTP, with the documents of the dialect's own tests.
    use std::time::Duration;

    use serde_json::Value;

    use super::*;
    use crate::domain::RequestId;
    use crate::messages::fixtures::REQUEST_ID;
    use crate::wire::json::tests::*;

    mod http;
}
