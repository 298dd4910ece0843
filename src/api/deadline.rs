//! The request-body deadline: a client that sends a header and then dribbles its body, or
//! stops, would otherwise hold its connection and the handler reading the body for ever.
//! Each request's body gets [`TimedBody`]: once `http_body_timeout_ms` has passed since the
//! header, reading it fails, and the answer (whatever the handler made of the failure) is
//! replaced by 408 `request_timeout` and the connection closed.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use tokio::time::Sleep;

use crate::domain::Refusal;

/// A request body that fails once its deadline has passed, and says so in `expired`.
pub struct TimedBody {
    inner: Incoming,
    deadline: Pin<Box<Sleep>>,
    expired: Arc<AtomicBool>,
}

/// Whether a request's body missed its deadline; read after the handler answered.
#[derive(Clone, Default)]
pub struct Expired(Arc<AtomicBool>);

impl TimedBody {
    /// `inner` with `within` from now to arrive whole; `Expired` tells the server afterwards.
    pub fn new(inner: Incoming, within: Duration) -> (Self, Expired) {
        let expired = Expired::default();
        let body = TimedBody {
            inner,
            deadline: Box::pin(tokio::time::sleep(within)),
            expired: expired.0.clone(),
        };
        (body, expired)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
pub struct BodyTimedOut;

impl Body for TimedBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        // The deadline first, so a client trickling bytes cannot keep the body going.
        if this.deadline.as_mut().poll(cx).is_ready() {
            this.expired.store(true, Ordering::Release);
            return Poll::Ready(Some(Err(Box::new(BodyTimedOut))));
        }
        Pin::new(&mut this.inner)
            .poll_frame(cx)
            .map_err(|e| Box::new(e) as Self::Error)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Expired {
    /// The handler's answer, or 408 `request_timeout` (closing an HTTP/1.1 connection, whose
    /// unread rest of the body would otherwise be taken for the next request) if the body
    /// missed its deadline.
    pub fn answer(&self, response: Response, within: Duration, http1: bool) -> Response {
        if !self.0.load(Ordering::Acquire) {
            return response;
        }
        let mut timed_out = Refusal::RequestTimeout(within.as_millis() as u64).into_response();
        // HTTP/2 ends just the stream (and has no Connection header).
        if http1 {
            timed_out.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
        }
        timed_out
    }
}
