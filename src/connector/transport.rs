//! What the HTTP-based protocol families share: checking the endpoint, the bounded client, the
//! bounded read of an answer, and sorting transport failures into timeouts and unreachables, so
//! that every family classifies the same failure the same way.

use std::time::Duration;

use reqwest::Url;

use super::protocol::CallError;

/// Largest answer read; anything bigger is malformed rather than buffered.
pub const MAX_ANSWER_BYTES: usize = 1 << 20;

/// The endpoint as a URL; anything but an absolute http(s) URL is refused before any call.
pub fn endpoint_url(endpoint: &str) -> Result<Url, CallError> {
    let url = Url::parse(endpoint)
        .map_err(|e| CallError::Unreachable(format!("bad endpoint {endpoint:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(CallError::Unreachable(format!(
            "endpoint {endpoint:?} is not http(s)"
        )));
    }
    Ok(url)
}

/// A client whose `timeout` bounds a whole call (connect, send, answer): past it the call is
/// transient.
pub fn client(timeout: Duration) -> Result<reqwest::Client, CallError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .build()
        .map_err(|e| CallError::Unreachable(format!("HTTP client: {}", describe(&e))))
}

/// The whole answer body, refused as malformed as soon as it outgrows [`MAX_ANSWER_BYTES`].
pub async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, CallError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(classify)? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(CallError::Malformed(format!(
                "answer over {MAX_ANSWER_BYTES} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A failed send or read: a timeout, or an operator that could not be reached.
pub fn classify(e: reqwest::Error) -> CallError {
    if e.is_timeout() {
        CallError::Timeout
    } else {
        CallError::Unreachable(describe(&e))
    }
}

/// The error with its causes, since reqwest's own message hides the interesting part.
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
