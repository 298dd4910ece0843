//! What one call to a grid operator comes to, whatever the family: the operator's answer, or
//! the failure that kept it from coming, classified as worth retrying or not. The simulator
//! writes answers, the connector reads them; each family's reader reports a bad answer as
//! [`CallError::Malformed`].

use crate::messages::ResultPayload;

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
