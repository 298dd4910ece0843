//! What a connector asks of a protocol family: deliver one request to the grid operator and
//! bring back its answer, with every failure classified as worth retrying or not.

use crate::messages::{RequestRecord, ResultPayload};

use super::ProtocolFamily;
use super::json::JsonClient;
use super::soap::SoapClient;
use crate::connector::batch::BatchClient;
use crate::connector::definition::ConnectorDefinition;

/// The grid operator's answer to one request.
#[derive(Debug, Clone, PartialEq)]
pub enum TsoAnswer {
    /// Done: the function's result (with 申込番号 inside it where the function has one).
    Completed(ResultPayload),
    /// A business refusal (不可) with the operator's code and message: a normal result.
    Refused { code: String, message: String },
    /// Accepted but not finished: the operator holds the application (a switch awaiting its
    /// counterpart, say) at 受付工程 `stage`. Asking again with the same request id is the
    /// status check (業務処理状況確認): it answers the same way until the application is done.
    Pending { stage: String },
    /// Done, with nothing to return: the answer to a correction (訂正) or withdrawal (取消),
    /// whose effect shows on the original application.
    Acknowledged,
}

/// A delivery that did not produce an answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    #[error("grid operator unreachable: {0}")]
    Unreachable(String),
    #[error("grid operator did not answer in time")]
    Timeout,
    #[error("grid operator answered HTTP {0}")]
    Status(u16),
    #[error("grid operator's answer is malformed: {0}")]
    Malformed(String),
}

impl CallError {
    /// Transient failures are retried with backoff; the rest go to the dead-letter topic at once.
    pub fn is_transient(&self) -> bool {
        match self {
            CallError::Unreachable(_) | CallError::Timeout => true,
            CallError::Status(code) => *code >= 500 || *code == 429 || *code == 408,
            CallError::Malformed(_) => false,
        }
    }

    /// A short, fixed label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::Unreachable(_) => "unreachable",
            CallError::Timeout => "timeout",
            CallError::Status(_) => "http_status",
            CallError::Malformed(_) => "malformed",
        }
    }
}

/// The protocol family an area's definition chose, ready to call.
pub enum Protocol {
    Soap(SoapClient),
    Json(JsonClient),
    Batch(BatchClient),
}

impl Protocol {
    /// The client of the definition's family for its endpoint; a bad endpoint fails here,
    /// before the connector consumes anything.
    pub fn build(def: &ConnectorDefinition) -> Result<Self, CallError> {
        Ok(match def.protocol {
            ProtocolFamily::Soap => Protocol::Soap(SoapClient::new(&def.endpoint, def.timeout())?),
            ProtocolFamily::Json => Protocol::Json(JsonClient::new(&def.endpoint, def.timeout())?),
            ProtocolFamily::Batch => Protocol::Batch(BatchClient::new(
                &def.endpoint,
                def.timeout(),
                def.batch_max(),
                def.batch_wait(),
            )?),
        })
    }

    pub async fn call(&self, request: &RequestRecord) -> Result<TsoAnswer, CallError> {
        match self {
            Protocol::Soap(c) => c.call(request).await,
            Protocol::Json(c) => c.call(request).await,
            Protocol::Batch(c) => c.call(request).await,
        }
    }

    /// The family's name, as definitions spell it, for logs and metric labels.
    pub fn family(&self) -> &'static str {
        match self {
            Protocol::Soap(_) => ProtocolFamily::Soap.name(),
            Protocol::Json(_) => ProtocolFamily::Json.name(),
            Protocol::Batch(_) => ProtocolFamily::Batch.name(),
        }
    }
}

/// Exactly `YYYY-MM-DD`, as every wire format of the operators writes dates: chrono alone would
/// also take `2026-1-5` or a sign, which an operator's format does not allow.
pub fn strict_day(s: &str) -> Option<chrono::NaiveDate> {
    crate::messages::strict_day(s)
}
