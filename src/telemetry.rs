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
mod http;

use rand::RngCore;
use tracing::Instrument;

use crate::config::LogFormat;
pub use export::{Span, SpanKind};
pub use http::{API_SERVICE, REQUEST_ID, http_layer, request_id_of};

/// The W3C Trace Context header, on HTTP requests and on Kafka records alike.
pub const TRACEPARENT: &str = "traceparent";

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

/// `work` to run in a task of its own (`tokio::spawn`) for the running hop: a task-local hop
/// does not follow a spawned task by itself, and what the task produces must carry its trace.
pub fn carried<F: Future>(work: F) -> impl Future<Output = F::Output> {
    let hop = CURRENT.try_with(|h| *h).ok();
    let span = tracing::Span::current();
    async move {
        match hop {
            Some(hop) => CURRENT.scope(hop, work.instrument(span)).await,
            None => work.instrument(span).await,
        }
    }
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
}
