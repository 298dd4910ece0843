//! Every metric the hub exports, emitted only through the typed events below so that names and
//! labels follow one spec (`docs/metrics.md`): counters end in `_total`, durations are
//! `_seconds` histograms, and labels hold only small fixed sets (function slug, area, outcome).

use std::sync::LazyLock;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

struct Metrics {
    registry: Registry,
    accepted: IntCounterVec,
    resent: IntCounterVec,
    refused: IntCounterVec,
    e2e: HistogramVec,
    attempts: IntCounterVec,
    tso_call: HistogramVec,
    dead_lettered: IntCounterVec,
    redeliveries: IntCounterVec,
    projected: IntCounterVec,
    projector_lag: OwnedGauge,
    notice_mails_unsent: OwnedGauge,
    notice_mails_overdue: OwnedGauge,
    audit_backlog: OwnedGauge,
    connector_assigned: IntGaugeVec,
    connector_stalled: IntGaugeVec,
    intermediations: IntCounterVec,
    intermediations_pending: IntGaugeVec,
    dlq_depth: IntGaugeVec,
    tls_expiry: IntGaugeVec,
    api_connections: OwnedGauge,
    connector_circuit: IntGaugeVec,
    webhook_deliveries: IntCounterVec,
    webhook_backlog: OwnedGauge,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    logins: IntCounterVec,
    lockouts: IntCounterVec,
    consumer_lag: IntGaugeVec,
    trace_spans_dropped: IntCounterVec,
}

const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

fn counter(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    r.register(Box::new(c.clone())).expect("unique metric");
    c
}

/// A gauge without labels that is exported only once its process has set it: the process
/// that does the work owns it, and the others (which every metric is registered in) show no
/// misleading constant 0 — `kirikae_projector_lag_seconds` only on the projector's `/metrics`.
struct OwnedGauge(IntGaugeVec);

impl OwnedGauge {
    fn set(&self, v: i64) {
        self.0.with_label_values(&[] as &[&str]).set(v);
    }

    fn add(&self, v: i64) {
        self.0.with_label_values(&[] as &[&str]).add(v);
    }
}

fn gauge(r: &Registry, name: &str, help: &str) -> OwnedGauge {
    OwnedGauge(gauge_vec(r, name, help, &[]))
}

fn gauge_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
    r.register(Box::new(g.clone())).expect("unique metric");
    g
}

fn histogram(r: &Registry, name: &str, help: &str, labels: &[&str]) -> HistogramVec {
    let opts = HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec());
    let h = HistogramVec::new(opts, labels).expect("valid metric");
    r.register(Box::new(h.clone())).expect("unique metric");
    h
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let r = Registry::new();
    Metrics {
        projector_lag: gauge(
            &r,
            "kirikae_projector_lag_seconds",
            "Age of the newest record the projector has applied, when it applied it.",
        ),
        notice_mails_unsent: gauge(
            &r,
            "kirikae_notice_mails_unsent",
            "Mails of a terms change not yet accepted by the SMTP server.",
        ),
        notice_mails_overdue: gauge(
            &r,
            "kirikae_notice_mails_overdue",
            "Mails of a terms change still unsent after the period the terms give.",
        ),
        accepted: counter(
            &r,
            "kirikae_requests_accepted_total",
            "Requests acknowledged by the broker and answered 202.",
            &["function", "area"],
        ),
        resent: counter(
            &r,
            "kirikae_requests_resent_total",
            "Request records sent again because the broker may have written one it did not acknowledge.",
            &["area"],
        ),
        refused: counter(
            &r,
            "kirikae_requests_refused_total",
            "Requests refused by the API, by error code.",
            &["function", "reason"],
        ),
        e2e: histogram(
            &r,
            "kirikae_request_e2e_seconds",
            "From acceptance to the final result.",
            &["area", "function", "status"],
        ),
        attempts: counter(
            &r,
            "kirikae_connector_attempts_total",
            "Calls to a grid operator, by outcome.",
            &["area", "outcome"],
        ),
        tso_call: histogram(
            &r,
            "kirikae_tso_call_seconds",
            "Duration of one call to a grid operator.",
            &["area", "family"],
        ),
        dead_lettered: counter(
            &r,
            "kirikae_dlq_records_total",
            "Requests sent to the dead-letter topic.",
            &["area"],
        ),
        redeliveries: counter(
            &r,
            "kirikae_connector_redeliveries_skipped_total",
            "Redelivered requests that already had a result.",
            &["area"],
        ),
        projected: counter(
            &r,
            "kirikae_projector_records_total",
            "Records applied to PostgreSQL, by kind.",
            &["kind"],
        ),
        audit_backlog: gauge(
            &r,
            "kirikae_audit_relay_backlog",
            "Audit rows written but not yet relayed to the audit topic.",
        ),
        connector_assigned: gauge_vec(
            &r,
            "kirikae_connector_assigned_partitions",
            "Partitions of its request topic the area's connector holds.",
            &["area"],
        ),
        connector_stalled: gauge_vec(
            &r,
            "kirikae_connector_stalled",
            "1 while the area's connector holds no partition or makes no progress with requests waiting.",
            &["area"],
        ),
        intermediations: counter(
            &r,
            "kirikae_intermediations_total",
            "Intermediation commands and expiries, by action and outcome (accepted or the refusal code).",
            &["action", "outcome"],
        ),
        dlq_depth: gauge_vec(
            &r,
            "kirikae_dlq_depth",
            "Failed requests of the area not yet replayed: what its dead-letter topic holds for `kirikae replay`.",
            &["area"],
        ),
        intermediations_pending: gauge_vec(
            &r,
            "kirikae_intermediations_pending",
            "Intermediations awaiting a decision, by age since registration (lt_1d, 1d_3d, gt_3d), after each pass of the expiry job.",
            &["age"],
        ),
        tls_expiry: gauge_vec(
            &r,
            "kirikae_tls_certificate_expiry_timestamp_seconds",
            "When the API's TLS certificate expires (Unix time): `server`, or the earliest `ca`.",
            &["certificate"],
        ),
        api_connections: gauge(
            &r,
            "kirikae_api_connections",
            "Connections the API listener holds now, TLS handshakes included.",
        ),
        connector_circuit: gauge_vec(
            &r,
            "kirikae_connector_circuit_state",
            "The area's circuit breaker: 0 closed, 1 open (not calling the operator), 2 half-open (probing).",
            &["area"],
        ),
        webhook_deliveries: counter(
            &r,
            "kirikae_webhook_deliveries_total",
            "Webhook delivery attempts, by outcome: delivered, retrying (failed, tried again later), failed (given up).",
            &["outcome"],
        ),
        webhook_backlog: gauge(
            &r,
            "kirikae_webhook_backlog",
            "Events not yet delivered to the registrations' webhooks, after each idle pass of the delivery job.",
        ),
        http_requests: counter(
            &r,
            "kirikae_http_requests_total",
            "HTTP requests answered, by route template, method and status code.",
            &["route", "method", "status"],
        ),
        http_duration: histogram(
            &r,
            "kirikae_http_request_duration_seconds",
            "From a request's arrival to its answer, by route template.",
            &["route", "method"],
        ),
        logins: counter(
            &r,
            "kirikae_logins_total",
            "Login attempts, by outcome (ok, wrong_password, locked, or the refusal's code).",
            &["outcome"],
        ),
        lockouts: counter(
            &r,
            "kirikae_account_lockouts_total",
            "Accounts locked by a run of wrong passwords.",
            &[],
        ),
        consumer_lag: gauge_vec(
            &r,
            "kirikae_consumer_lag_records",
            "Records of a partition its consumer group has not yet finished.",
            &["group", "topic", "partition"],
        ),
        trace_spans_dropped: counter(
            &r,
            "kirikae_trace_spans_dropped_total",
            "Spans not exported: the export queue was full or the OTLP collector did not take them.",
            &[],
        ),
        registry: r,
    }
});

/// Prometheus text exposition of every metric.
pub fn render() -> String {
    let mut buf = Vec::new();
    let _ = TextEncoder::new().encode(&METRICS.registry.gather(), &mut buf);
    String::from_utf8(buf).unwrap_or_default()
}

pub struct RequestAccepted<'a> {
    pub function: &'a str,
    pub area: &'a str,
}
impl RequestAccepted<'_> {
    pub fn emit(self) {
        METRICS
            .accepted
            .with_label_values(&[self.function, self.area])
            .inc();
    }
}

pub struct RequestResent<'a> {
    pub area: &'a str,
}
impl RequestResent<'_> {
    pub fn emit(self) {
        METRICS.resent.with_label_values(&[self.area]).inc();
    }
}

/// `function` is a catalogue slug or `unknown`; `reason` is the API error code.
pub struct RequestRefused<'a> {
    pub function: &'a str,
    pub reason: &'a str,
}
impl RequestRefused<'_> {
    pub fn emit(self) {
        METRICS
            .refused
            .with_label_values(&[self.function, self.reason])
            .inc();
    }
}

pub struct RequestFinished<'a> {
    pub area: &'a str,
    pub function: &'a str,
    pub status: &'a str,
    pub seconds: f64,
}
impl RequestFinished<'_> {
    pub fn emit(self) {
        METRICS
            .e2e
            .with_label_values(&[self.area, self.function, self.status])
            .observe(self.seconds);
    }
}

/// `outcome`: completed, refused, or a `CallError::kind()`.
pub struct TsoCalled<'a> {
    pub area: &'a str,
    pub family: &'a str,
    pub outcome: &'a str,
    pub seconds: f64,
}
impl TsoCalled<'_> {
    pub fn emit(self) {
        METRICS
            .attempts
            .with_label_values(&[self.area, self.outcome])
            .inc();
        METRICS
            .tso_call
            .with_label_values(&[self.area, self.family])
            .observe(self.seconds);
    }
}

pub struct DeadLettered<'a> {
    pub area: &'a str,
}
impl DeadLettered<'_> {
    pub fn emit(self) {
        METRICS.dead_lettered.with_label_values(&[self.area]).inc();
    }
}

pub struct RedeliverySkipped<'a> {
    pub area: &'a str,
}
impl RedeliverySkipped<'_> {
    pub fn emit(self) {
        METRICS.redeliveries.with_label_values(&[self.area]).inc();
    }
}

/// `kind`: request, result, or undecodable.
pub struct RecordsProjected<'a> {
    pub kind: &'a str,
    pub count: u64,
}
impl RecordsProjected<'_> {
    pub fn emit(self) {
        METRICS
            .projected
            .with_label_values(&[self.kind])
            .inc_by(self.count);
    }
}

pub struct ProjectorLag {
    pub seconds: i64,
}
impl ProjectorLag {
    pub fn emit(self) {
        METRICS.projector_lag.set(self.seconds);
    }
}

/// What the notice mailer still has to send, after each round.
pub struct NoticeMailBacklog {
    pub unsent: i64,
    pub overdue: i64,
}
impl NoticeMailBacklog {
    pub fn emit(self) {
        METRICS.notice_mails_unsent.set(self.unsent);
        METRICS.notice_mails_overdue.set(self.overdue);
    }
}

/// How far the audit relay is behind the trail, after each pass.
pub struct AuditRelayBacklog {
    pub rows: i64,
}
impl AuditRelayBacklog {
    pub fn emit(self) {
        METRICS.audit_backlog.set(self.rows);
    }
}

/// What an area's connector holds of its request topic, after each of its checks: `stalled`
/// while it holds no partition, or makes no progress, with requests waiting (it is not ready).
pub struct ConnectorHolding<'a> {
    pub area: &'a str,
    pub assigned_partitions: i64,
    pub stalled: bool,
}
impl ConnectorHolding<'_> {
    pub fn emit(self) {
        METRICS
            .connector_assigned
            .with_label_values(&[self.area])
            .set(self.assigned_partitions);
        METRICS
            .connector_stalled
            .with_label_values(&[self.area])
            .set(i64::from(self.stalled));
    }
}

/// One intermediation command or expiry: `action` is register, decide, withdraw or expire;
/// `outcome` is `accepted` or the refusal's code (a fixed set: `Refusal::code`).
pub struct IntermediationHandled<'a> {
    pub action: &'a str,
    pub outcome: &'a str,
}
impl IntermediationHandled<'_> {
    pub fn emit(self) {
        METRICS
            .intermediations
            .with_label_values(&[self.action, self.outcome])
            .inc();
    }
}

/// How many intermediations await a decision, by age since registration, after each pass of
/// the expiry job.
pub struct IntermediationsPending {
    pub under_1d: i64,
    pub from_1d_to_3d: i64,
    pub over_3d: i64,
}
impl IntermediationsPending {
    pub fn emit(self) {
        let g = &METRICS.intermediations_pending;
        g.with_label_values(&["lt_1d"]).set(self.under_1d);
        g.with_label_values(&["1d_3d"]).set(self.from_1d_to_3d);
        g.with_label_values(&["gt_3d"]).set(self.over_3d);
    }
}

/// The failed requests of each area awaiting a replay (its dead-letter depth), after each pass
/// of the job that counts them; `areas` holds every area, 0 where none failed.
pub struct DeadLetterDepth<'a> {
    pub areas: &'a [(&'a str, i64)],
}
impl DeadLetterDepth<'_> {
    pub fn emit(self) {
        for (area, n) in self.areas {
            METRICS.dlq_depth.with_label_values(&[area]).set(*n);
        }
    }
}

/// When a certificate the API serves with or checks clients against expires, read at start:
/// `certificate` is `server` or `ca` (the earliest of the CA bundle), so that an alert fires
/// weeks before a handshake would fail.
pub struct TlsCertificateExpiry<'a> {
    pub certificate: &'a str,
    pub not_after_unix: i64,
}
impl TlsCertificateExpiry<'_> {
    pub fn emit(self) {
        METRICS
            .tls_expiry
            .with_label_values(&[self.certificate])
            .set(self.not_after_unix);
    }
}

/// One connection held by the API listener, from its acceptance to its close: counted in
/// `kirikae_api_connections` while the value lives.
pub struct ApiConnection(());

impl ApiConnection {
    #[must_use = "the connection is counted only while this lives"]
    pub fn opened() -> Self {
        METRICS.api_connections.add(1);
        ApiConnection(())
    }
}

impl Drop for ApiConnection {
    fn drop(&mut self) {
        METRICS.api_connections.add(-1);
    }
}

/// The circuit breaker of an area's grid operator moved: `state` is 0 closed, 1 open, 2
/// half-open.
pub struct ConnectorCircuit<'a> {
    pub area: &'a str,
    pub state: i64,
}
impl ConnectorCircuit<'_> {
    pub fn emit(self) {
        METRICS
            .connector_circuit
            .with_label_values(&[self.area])
            .set(self.state);
    }
}

/// One webhook delivery attempt: `outcome` is `delivered`, `retrying` or `failed`.
pub struct WebhookDelivered<'a> {
    pub outcome: &'a str,
}
impl WebhookDelivered<'_> {
    pub fn emit(self) {
        METRICS
            .webhook_deliveries
            .with_label_values(&[self.outcome])
            .inc();
    }
}

/// Events the webhooks still have to deliver, after an idle pass of the delivery job.
pub struct WebhookBacklog {
    pub events: i64,
}
impl WebhookBacklog {
    pub fn emit(self) {
        METRICS.webhook_backlog.set(self.events);
    }
}

/// One HTTP request answered: `route` is the matched route template (`/api/v1/requests/{request_id}`)
/// or `unmatched`, never the raw path, so the label set stays small.
pub struct HttpRequestServed<'a> {
    pub route: &'a str,
    pub method: &'a str,
    pub status: u16,
    pub seconds: f64,
}
impl HttpRequestServed<'_> {
    pub fn emit(self) {
        let status = self.status.to_string();
        METRICS
            .http_requests
            .with_label_values(&[self.route, self.method, &status])
            .inc();
        METRICS
            .http_duration
            .with_label_values(&[self.route, self.method])
            .observe(self.seconds);
    }
}

/// One login attempt: `outcome` is `ok`, `wrong_password`, `locked`, or the refusal's code
/// (`rate_limited`, `busy`, `account_disabled`, …: a fixed set).
pub struct LoginAttempted<'a> {
    pub outcome: &'a str,
}
impl LoginAttempted<'_> {
    pub fn emit(self) {
        METRICS.logins.with_label_values(&[self.outcome]).inc();
    }
}

/// A run of wrong passwords locked an account.
pub struct AccountLockedOut;
impl AccountLockedOut {
    pub fn emit(self) {
        METRICS.lockouts.with_label_values(&[] as &[&str]).inc();
    }
}

/// How far a consumer group is behind on one partition: the log end less its position.
pub struct ConsumerLag<'a> {
    pub group: &'a str,
    pub topic: &'a str,
    pub partition: i32,
    pub records: i64,
}
impl ConsumerLag<'_> {
    pub fn emit(self) {
        let partition = self.partition.to_string();
        METRICS
            .consumer_lag
            .with_label_values(&[self.group, self.topic, &partition])
            .set(self.records);
    }
}

/// Spans given up rather than making the traced work wait (see `telemetry::export`).
pub struct TraceSpansDropped {
    pub spans: u64,
}
impl TraceSpansDropped {
    pub fn emit(self) {
        METRICS
            .trace_spans_dropped
            .with_label_values(&[] as &[&str])
            .inc_by(self.spans);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gauge_is_exported_only_by_the_process_that_sets_it() {
        let r = Registry::new();
        let g = gauge(&r, "kirikae_test_gauge", "A gauge of this test.");
        assert!(r.gather().is_empty(), "exported before it was set");
        g.set(0);
        let families = r.gather();
        assert_eq!(families.len(), 1);
        assert_eq!(families[0].get_metric()[0].get_gauge().get_value(), 0.0);
    }
}
