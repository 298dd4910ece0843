//! Export of the hub's spans to an OpenTelemetry collector over OTLP/HTTP with the JSON
//! encoding (`POST {otlp_endpoint}/v1/traces`), so that one trace shows where a request's time
//! went. Off unless `otlp_endpoint` is set: then nothing is recorded or queued.
//!
//! A finished span goes into a bounded queue; a thread of its own sends what is queued every
//! second or every [`BATCH`] spans. Tracing must never slow or stop the work it watches, so a
//! full queue or an unreachable collector drops spans and counts them
//! (`kirikae_trace_spans_dropped_total`) instead of waiting.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::TraceContext;

/// Spans held for sending at most; past this they are dropped.
const QUEUE: usize = 4096;
/// Spans sent in one request at most.
const BATCH: usize = 512;
/// How long a span waits for a batch to fill.
const SEND_EVERY: Duration = Duration::from_secs(1);
/// A collector slower than this is treated as down (its batch dropped).
const SEND_WITHIN: Duration = Duration::from_secs(5);

/// OTLP's `SpanKind` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    Server = 2,
    Client = 3,
    Producer = 4,
    Consumer = 5,
}

/// One timed piece of work in a trace: `context` names it (its own span id), `parent` the
/// span it was done for (`None` at the root of the trace).
#[derive(Debug, Clone)]
pub struct Span {
    service: &'static str,
    name: String,
    kind: SpanKind,
    context: TraceContext,
    parent: Option<[u8; 8]>,
    start: SystemTime,
    attributes: Vec<(&'static str, String)>,
}

/// A span with its end and outcome, as queued for sending.
#[derive(Debug, Clone)]
struct Finished {
    span: Span,
    end: SystemTime,
    ok: bool,
}

impl Span {
    /// A span starting now, recorded by the process `service` (`kirikae-api`, …).
    pub fn start(
        service: &'static str,
        name: impl Into<String>,
        kind: SpanKind,
        context: TraceContext,
        parent: Option<[u8; 8]>,
    ) -> Self {
        Span {
            service,
            name: name.into(),
            kind,
            context,
            parent,
            start: SystemTime::now(),
            attributes: Vec::new(),
        }
    }

    /// The same span, begun at `start` (work timed before it knew its trace).
    pub fn started_at(mut self, start: SystemTime) -> Self {
        self.start = start;
        self
    }

    /// Adds an attribute (OpenTelemetry's semantic names: `http.route`, …).
    pub fn attribute(mut self, key: &'static str, value: impl ToString) -> Self {
        self.attributes.push((key, value.to_string()));
        self
    }

    /// The span's own context: what a `traceparent` sent on its behalf names.
    pub fn context(&self) -> TraceContext {
        self.context
    }

    /// Ends the span now and queues it for export, if export is on.
    pub fn end(self, ok: bool) {
        if let Some(exporter) = EXPORTER.get() {
            exporter.offer(Finished {
                span: self,
                end: SystemTime::now(),
                ok,
            });
        }
    }
}

/// The queue's sending end.
struct Exporter {
    queue: mpsc::Sender<Finished>,
}

impl Exporter {
    fn offer(&self, span: Finished) {
        if self.queue.try_send(span).is_err() {
            crate::metrics::TraceSpansDropped { spans: 1 }.emit();
        }
    }
}

static EXPORTER: OnceLock<Exporter> = OnceLock::new();

/// Starts exporting to `endpoint` (the collector's OTLP/HTTP base, e.g.
/// `http://127.0.0.1:4318`); `None` leaves export off. The first endpoint a process installs
/// is kept.
pub fn install(endpoint: Option<&str>) {
    let Some(endpoint) = endpoint else { return };
    let url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
    EXPORTER.get_or_init(|| {
        let (queue, spans) = mpsc::channel(QUEUE);
        // A thread with its own runtime: export outlives whichever runtime installed it.
        let started = std::thread::Builder::new()
            .name("otlp-export".into())
            .spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime.block_on(send_batches(url, spans)),
                    Err(e) => tracing::warn!(error = %e, "span export not started"),
                }
            });
        if let Err(e) = started {
            tracing::warn!(error = %e, "span export not started");
        }
        Exporter { queue }
    });
}

async fn send_batches(url: String, mut spans: mpsc::Receiver<Finished>) {
    let client = match reqwest::Client::builder().timeout(SEND_WITHIN).build() {
        Ok(c) => c,
        Err(e) => return tracing::warn!(error = %e, "span export not started"),
    };
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let Some(first) = spans.recv().await else {
            return;
        };
        batch.push(first);
        let deadline = tokio::time::Instant::now() + SEND_EVERY;
        while batch.len() < BATCH {
            match tokio::time::timeout_at(deadline, spans.recv()).await {
                Ok(Some(span)) => batch.push(span),
                Ok(None) | Err(_) => break,
            }
        }
        send(&client, &url, &batch).await;
        batch.clear();
    }
}

/// Posts `batch`; when the collector does not take it, its spans are counted as dropped.
async fn send(client: &reqwest::Client, url: &str, batch: &[Finished]) {
    let sent = client.post(url).json(&body(batch)).send().await;
    let refused = match sent {
        Ok(answer) if answer.status().is_success() => return,
        Ok(answer) => format!("HTTP {}", answer.status()),
        Err(e) => e.to_string(),
    };
    tracing::debug!(error = refused, spans = batch.len(), "span export failed");
    crate::metrics::TraceSpansDropped {
        spans: batch.len() as u64,
    }
    .emit();
}

fn unix_nanos(t: SystemTime) -> String {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
        .to_string()
}

/// An `ExportTraceServiceRequest` in OTLP's JSON encoding: one resource per recording
/// process, ids as lower-case hex, times as decimal strings of nanoseconds.
fn body(batch: &[Finished]) -> Value {
    let mut services: Vec<&'static str> = batch.iter().map(|f| f.span.service).collect();
    services.sort_unstable();
    services.dedup();
    let resource_spans: Vec<Value> = services
        .into_iter()
        .map(|service| {
            let spans: Vec<Value> = batch
                .iter()
                .filter(|f| f.span.service == service)
                .map(span_json)
                .collect();
            json!({
                "resource": {"attributes": [
                    {"key": "service.name", "value": {"stringValue": service}}
                ]},
                "scopeSpans": [{"scope": {"name": "kirikae"}, "spans": spans}],
            })
        })
        .collect();
    json!({ "resourceSpans": resource_spans })
}

fn span_json(f: &Finished) -> Value {
    let s = &f.span;
    let attributes: Vec<Value> = s
        .attributes
        .iter()
        .map(|(k, v)| json!({"key": k, "value": {"stringValue": v}}))
        .collect();
    let mut span = json!({
        "traceId": hex::encode(s.context.trace_id),
        "spanId": hex::encode(s.context.span_id),
        "name": s.name,
        "kind": s.kind as u8,
        "startTimeUnixNano": unix_nanos(s.start),
        "endTimeUnixNano": unix_nanos(f.end),
        "attributes": attributes,
        // STATUS_CODE_OK = 1, STATUS_CODE_ERROR = 2.
        "status": {"code": if f.ok { 1 } else { 2 }},
    });
    if let Some(parent) = s.parent {
        span["parentSpanId"] = json!(hex::encode(parent));
    }
    span
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(service: &'static str, parent: Option<[u8; 8]>, ok: bool) -> Finished {
        let context =
            TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        let span = Span::start(service, "/api/v1/things", SpanKind::Server, context, parent)
            .started_at(UNIX_EPOCH + Duration::from_nanos(1_500))
            .attribute("http.route", "/api/v1/things");
        Finished {
            span,
            end: UNIX_EPOCH + Duration::from_nanos(2_500),
            ok,
        }
    }

    #[test]
    fn spans_are_encoded_as_otlp_json_one_resource_per_process() {
        let batch = [
            finished("kirikae-api", None, true),
            finished("kirikae-connector", Some([1, 2, 3, 4, 5, 6, 7, 8]), false),
            finished("kirikae-api", None, true),
        ];
        let body = body(&batch);
        let resources = body["resourceSpans"].as_array().unwrap();
        assert_eq!(resources.len(), 2, "{body}");
        let api = &resources[0];
        assert_eq!(
            api["resource"]["attributes"][0],
            json!({"key": "service.name", "value": {"stringValue": "kirikae-api"}})
        );
        assert_eq!(api["scopeSpans"][0]["scope"]["name"], "kirikae");
        let spans = api["scopeSpans"][0]["spans"].as_array().unwrap();
        assert_eq!(spans.len(), 2);
        let root = &spans[0];
        assert_eq!(root["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(root["spanId"], "00f067aa0ba902b7");
        assert!(root.get("parentSpanId").is_none(), "{root}");
        assert_eq!(root["kind"], 2);
        assert_eq!(root["startTimeUnixNano"], "1500");
        assert_eq!(root["endTimeUnixNano"], "2500");
        assert_eq!(root["status"]["code"], 1);
        assert_eq!(
            root["attributes"][0],
            json!({"key": "http.route", "value": {"stringValue": "/api/v1/things"}})
        );
        let child = &resources[1]["scopeSpans"][0]["spans"][0];
        assert_eq!(child["parentSpanId"], "0102030405060708");
        assert_eq!(child["status"]["code"], 2);
    }

    fn dropped() -> u64 {
        crate::metrics::render()
            .lines()
            .find_map(|l| l.strip_prefix("kirikae_trace_spans_dropped_total "))
            .map_or(0, |v| v.trim().parse().unwrap())
    }

    #[test]
    fn a_full_span_queue_drops_and_counts_instead_of_waiting() {
        let (queue, _unread) = mpsc::channel(1);
        let exporter = Exporter { queue };
        let before = dropped();
        exporter.offer(finished("kirikae-api", None, true));
        exporter.offer(finished("kirikae-api", None, true));
        assert!(dropped() > before, "the second span is counted as dropped");
    }

    #[tokio::test]
    async fn spans_the_collector_does_not_take_are_counted_as_dropped() {
        // Nothing listens on a port just released.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let before = dropped();
        let batch = [
            finished("kirikae-api", None, true),
            finished("kirikae-api", None, true),
        ];
        let client = reqwest::Client::new();
        send(
            &client,
            &format!("http://127.0.0.1:{port}/v1/traces"),
            &batch,
        )
        .await;
        assert!(dropped() >= before + 2);
    }
}
