//! What lets an operator follow one request: the request id on every log line about it, the W3C
//! trace context (`traceparent`) carried from the API through Kafka record headers to the
//! connector, the grid operator's HTTP call, the result record and the projector, the HTTP
//! metrics by route template, and how log lines are written (text or JSON).
//!
//! The trace context travels implicitly, as OpenTelemetry's does: the HTTP layer (or the
//! connector, for a record it takes) runs the work inside [`in_trace`], and whatever produces a
//! record or calls an operator in that work reads [`current`]. Each hop (the API request, a
//! publish, the connector's handling, an operator call, the projector's store) is a span of its
//! own, child of the span it came from; with `otlp_endpoint` set they are exported ([`export`]).

pub mod export;

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use rand::RngCore;
use tracing::Instrument;

use crate::config::LogFormat;
pub use export::{Span, SpanKind};

/// The W3C Trace Context header, on HTTP requests and on Kafka records alike.
pub const TRACEPARENT: &str = "traceparent";
/// The header a client may name its request by, echoed on every answer.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// One hop of a trace: the trace id shared by every hop, and this hop's span id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub sampled: bool,
}

impl TraceContext {
    /// A new trace, for a request that came without one.
    pub fn root() -> Self {
        let mut trace_id = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut trace_id);
        TraceContext {
            trace_id,
            span_id: new_span_id(),
            sampled: true,
        }
    }

    /// The next hop of the same trace.
    pub fn child(&self) -> Self {
        TraceContext {
            span_id: new_span_id(),
            ..*self
        }
    }

    /// A `traceparent` value (version 00); `None` when it is malformed or names the invalid
    /// all-zero trace or span, which the specification says to ignore.
    pub fn parse(header: &str) -> Option<Self> {
        let parts: Vec<&str> = header.trim().split('-').collect();
        let [version, trace, span, flags, ..] = parts.as_slice() else {
            return None;
        };
        if version.len() != 2 || *version == "ff" || (*version == "00" && parts.len() != 4) {
            return None;
        }
        let lower_hex = |s: &str| {
            s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        };
        if ![version, trace, span, flags].iter().all(|p| lower_hex(p)) {
            return None;
        }
        let trace_id: [u8; 16] = hex::decode(trace).ok()?.try_into().ok()?;
        let span_id: [u8; 8] = hex::decode(span).ok()?.try_into().ok()?;
        let flags = u8::from_str_radix(flags, 16)
            .ok()
            .filter(|_| flags.len() == 2)?;
        if trace_id == [0; 16] || span_id == [0; 8] {
            return None;
        }
        Some(TraceContext {
            trace_id,
            span_id,
            sampled: flags & 1 == 1,
        })
    }

    /// The `traceparent` value naming this hop as the parent of the next.
    pub fn header(&self) -> String {
        format!(
            "00-{}-{}-{:02x}",
            hex::encode(self.trace_id),
            hex::encode(self.span_id),
            u8::from(self.sampled)
        )
    }

    /// The trace id as log lines and the trace backends show it (32 lower-case hex digits).
    pub fn trace_id_hex(&self) -> String {
        hex::encode(self.trace_id)
    }
}

fn new_span_id() -> [u8; 8] {
    let mut id = [0u8; 8];
    while id == [0; 8] {
        rand::thread_rng().fill_bytes(&mut id);
    }
    id
}

/// The hop a task works in: its span's context, and the process recording it.
#[derive(Debug, Clone, Copy)]
struct Hop {
    context: TraceContext,
    service: &'static str,
}

tokio::task_local! {
    static CURRENT: Hop;
}

/// The trace the running task works for (its span id that of the running hop), if any.
pub fn current() -> Option<TraceContext> {
    CURRENT.try_with(|h| h.context).ok()
}

/// A span for work done now on behalf of the running hop: a new span id, the hop's as parent.
pub fn child_span(name: impl Into<String>, kind: SpanKind) -> Option<Span> {
    let hop = CURRENT.try_with(|h| *h).ok()?;
    let context = hop.context.child();
    Some(Span::start(
        hop.service,
        name,
        kind,
        context,
        Some(hop.context.span_id),
    ))
}

/// Runs `work` as one hop of the trace `context`, recorded by `service`, in a span that puts
/// its trace id on every log line written meanwhile.
pub async fn in_trace<F: Future>(
    service: &'static str,
    context: TraceContext,
    work: F,
) -> F::Output {
    let span = tracing::info_span!("trace", trace_id = %context.trace_id_hex());
    CURRENT
        .scope(Hop { context, service }, work.instrument(span))
        .await
}

/// The trace context a Kafka record carries in its headers.
pub fn from_record<M: rdkafka::Message>(message: &M) -> Option<TraceContext> {
    use rdkafka::message::Headers;
    let headers = message.headers()?;
    headers
        .iter()
        .find(|h| h.key == TRACEPARENT)
        .and_then(|h| std::str::from_utf8(h.value?).ok())
        .and_then(TraceContext::parse)
}

/// Sends a call to a grid operator as a client span of the current hop (named `name`, the
/// operator's service id), its `traceparent` naming that span. A transport error or a 5xx is
/// the span's error; a refusal the operator answers with is a reply, not a failure.
pub async fn send_traced(
    request: reqwest::RequestBuilder,
    name: &str,
) -> reqwest::Result<reqwest::Response> {
    let Some(span) = child_span(format!("POST {name}"), SpanKind::Client) else {
        return request.send().await;
    };
    let sent = request
        .header(TRACEPARENT, span.context().header())
        .send()
        .await;
    match &sent {
        Ok(answer) => span
            .attribute("http.response.status_code", answer.status().as_u16())
            .end(!answer.status().is_server_error()),
        Err(_) => span.end(false),
    }
    sent
}

/// The client's `X-Request-Id` when it is a sensible token (1–64 of `A–Z a–z 0–9 . _ -`),
/// otherwise a new UUID v7: ids are logged and echoed, so nothing else is taken.
pub fn request_id_of(given: Option<&HeaderValue>) -> String {
    given
        .and_then(|v| v.to_str().ok())
        .filter(|s| {
            (1..=64).contains(&s.len())
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        })
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

/// The `service.name` of the API's spans.
pub const API_SERVICE: &str = "kirikae-api";

/// The layer on every HTTP listener of the hub: names the request (`X-Request-Id`, echoed),
/// joins or starts its trace, runs it in a span carrying both, and counts it by route template
/// (`kirikae_http_requests_total`, `kirikae_http_request_duration_seconds`).
pub async fn http_layer(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = request_id_of(request.headers().get(&REQUEST_ID));
    let parent = request
        .headers()
        .get(TRACEPARENT)
        .and_then(|v| v.to_str().ok())
        .and_then(TraceContext::parse);
    let context = parent.map_or_else(TraceContext::root, |p| p.child());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = request.method().as_str().to_string();
    let span = tracing::info_span!(
        "http",
        request_id = %request_id,
        trace_id = %context.trace_id_hex(),
        method = %method,
        route = %route,
    );
    let server = Span::start(
        API_SERVICE,
        route.clone(),
        SpanKind::Server,
        context,
        parent.map(|p| p.span_id),
    );
    let hop = Hop {
        context,
        service: API_SERVICE,
    };
    let mut response = CURRENT
        .scope(hop, next.run(request).instrument(span.clone()))
        .await;
    let status = response.status().as_u16();
    server
        .attribute("http.request.method", &method)
        .attribute("http.route", &route)
        .attribute("http.response.status_code", status)
        .end(status < 500);
    span.in_scope(|| tracing::debug!(status, "answered"));
    crate::metrics::HttpRequestServed {
        route: &route,
        method: &method,
        status,
        seconds: started.elapsed().as_secs_f64(),
    }
    .emit();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// A consumer's client context that turns librdkafka's statistics (`statistics.interval.ms`)
/// into `kirikae_consumer_lag_records`: per partition, the log end less the position handed
/// to the application — for a consumer whose positions live outside Kafka (the projector's, in
/// PostgreSQL), where the group's committed offsets say nothing.
pub struct LagFromStatistics {
    group: String,
}

impl LagFromStatistics {
    pub fn new(group: &str) -> Self {
        LagFromStatistics {
            group: group.to_string(),
        }
    }
}

impl rdkafka::ClientContext for LagFromStatistics {
    fn stats(&self, statistics: rdkafka::Statistics) {
        for (topic, t) in &statistics.topics {
            for (partition, p) in &t.partitions {
                let position = [p.app_offset, p.next_offset].into_iter().find(|o| *o >= 0);
                let (Some(position), true) = (position, *partition >= 0 && p.hi_offset >= 0) else {
                    continue;
                };
                crate::metrics::ConsumerLag {
                    group: &self.group,
                    topic,
                    partition: *partition,
                    records: (p.hi_offset - position).max(0),
                }
                .emit();
            }
        }
    }
}

impl rdkafka::consumer::ConsumerContext for LagFromStatistics {}

/// Installs the process's log writer on stderr: `RUST_LOG` (or the hub's default filter), in
/// the format the settings name.
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,rdkafka=warn,librdkafka=warn".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traceparent_round_trips_and_a_child_keeps_the_trace() {
        let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let parsed = TraceContext::parse(header).unwrap();
        assert_eq!(parsed.header(), header);
        let child = parsed.child();
        assert_eq!(child.trace_id, parsed.trace_id);
        assert_ne!(child.span_id, parsed.span_id);
    }

    #[test]
    fn a_malformed_or_invalid_traceparent_is_ignored() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceContext::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_clients_request_id_is_kept_only_when_well_formed() {
        let ok = HeaderValue::from_static("order-42_a.b");
        assert_eq!(request_id_of(Some(&ok)), "order-42_a.b");
        for bad in ["", "has space", "semi;colon", &"x".repeat(65)] {
            let v = HeaderValue::from_str(bad).unwrap();
            let made = request_id_of(Some(&v));
            assert_ne!(made, bad);
            assert!(uuid::Uuid::parse_str(&made).is_ok(), "{made}");
        }
    }
}

#[cfg(test)]
mod layer_tests {
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    /// Every line written while the subscriber is the default, as the JSON formatter writes it.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    async fn answered(request: axum::http::Request<Body>, captured: &Captured) -> Response {
        let app = Router::new()
            .route(
                "/things/{id}",
                get(|| async {
                    tracing::info!("looking the thing up");
                    "ok"
                }),
            )
            .layer(axum::middleware::from_fn(http_layer));
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_writer(move || writer.clone())
            .finish();
        let _default = tracing::subscriber::set_default(subscriber);
        app.oneshot(request).await.unwrap()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_request_id_is_echoed_and_on_every_json_log_line_about_the_request() {
        let captured = Captured::default();
        let request = axum::http::Request::get("/things/7")
            .header("x-request-id", "client-chosen-1")
            .header(
                TRACEPARENT,
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            )
            .body(Body::empty())
            .unwrap();
        let response = answered(request, &captured).await;
        assert_eq!(response.headers()["x-request-id"], "client-chosen-1");
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let line: serde_json::Value = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|l| l["message"] == "looking the thing up")
            .unwrap_or_else(|| panic!("no such line in {text}"));
        assert_eq!(line["span"]["request_id"], "client-chosen-1", "{line}");
        assert_eq!(
            line["span"]["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736",
            "{line}"
        );
        assert_eq!(line["span"]["route"], "/things/{id}", "{line}");
        // Counted by its route template, not by the raw path.
        let exported = crate::metrics::render();
        assert!(
            exported.contains(
                r#"kirikae_http_requests_total{method="GET",route="/things/{id}",status="200"}"#
            ),
            "{exported}"
        );
        assert!(!exported.contains("/things/7"));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_request_without_an_id_gets_a_new_one() {
        let captured = Captured::default();
        let request = axum::http::Request::get("/things/7")
            .body(Body::empty())
            .unwrap();
        let response = answered(request, &captured).await;
        let id = response.headers()["x-request-id"].to_str().unwrap();
        assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 7);
    }
}
