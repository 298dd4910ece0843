//! The SOAP/XML protocol family, client side: one SOAP 1.1 envelope per request, posted to the
//! grid operator's endpoint, and its answer read strictly into a [`TsoAnswer`] or a classified
//! [`CallError`]. The documents are [`crate::wire::soap`]'s, shared with the simulator.

use std::time::Duration;

use reqwest::{StatusCode, Url, header};

use super::transport::{self, classify};
use crate::messages::RequestRecord;
use crate::wire::soap::{build_envelope, read_answer};
use crate::wire::{CallError, TsoAnswer};

/// Calls one grid operator's SOAP endpoint; cheap to share, one connection pool inside.
pub struct SoapClient {
    endpoint: Url,
    http: reqwest::Client,
}

impl SoapClient {
    /// `timeout` bounds a whole call (connect, send, answer): past it the call is transient.
    pub fn new(endpoint: &str, timeout: Duration) -> Result<Self, CallError> {
        Ok(SoapClient {
            endpoint: transport::endpoint_url(endpoint)?,
            http: transport::client(timeout)?,
        })
    }

    /// Delivers `request` and classifies what comes back. The operator deduplicates by the
    /// RequestId in the header, so a retried call never files a second application.
    pub async fn call(&self, request: &RequestRecord) -> Result<TsoAnswer, CallError> {
        let service_id = request.function.service_id();
        let call = self
            .http
            .post(self.endpoint.clone())
            .header(header::CONTENT_TYPE, "text/xml; charset=utf-8")
            .header("SOAPAction", format!("\"{service_id}\""))
            .body(build_envelope(request));
        let response = crate::telemetry::send_traced(call, service_id)
            .await
            .map_err(classify)?;
        let status = response.status();
        if status != StatusCode::OK {
            tracing::debug!(%status, service_id, "grid operator answered with an HTTP error");
            return Err(CallError::Status(status.as_u16()));
        }
        let body = transport::read_capped(response).await?;
        let (echoed, answer) = read_answer(request.function, &body)?;
        if echoed != request.request_id.to_string() {
            return Err(CallError::Malformed(format!(
                "answer for request {echoed}, not {}",
                request.request_id
            )));
        }
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    //! The client over real HTTP, with the documents of the dialect's own tests.
    use std::time::Duration;

    use axum::http::{HeaderMap, StatusCode};

    use super::*;
    use crate::domain::RequestId;
    use crate::messages::fixtures::REQUEST_ID;
    use crate::wire::soap::tests::{REFUSED, answer, switch_request};
    use crate::wire::soap::{REFUSAL, xml};

    mod http;
}
