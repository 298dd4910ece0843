//! The run's verdict, reached without the hub's own bookkeeping: the client's log of answers,
//! every record on the request and result topics, the database rows as stored, what each
//! simulated operator says it applied, each company's change feed as the API gives it to the
//! client, and what the run's webhook receiver took. Nothing here asks the hub's services; the
//! two queries below read the rows directly, as an auditor would, so that a fault in a service
//! cannot hide itself.
//!
//! Each source is read again with a backoff while it fails (a broker just restarted under load
//! may time out a metadata request for a while); one still unreadable at the deadline is named
//! in the table, the requests it would have shown are counted as not checked, and the run gets
//! no verdict rather than none at all.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use chrono::{DateTime, Utc};
use rdkafka::Message;
use rdkafka::message::OwnedMessage;
use tokio::time::Instant;

use super::faults::{Done, Kind};
use super::load::{Answer, Clients, Figures, Outcome};
use super::push::{self, Delivered, Feed, Receiver};
use crate::config::Settings;
use crate::domain::{Area, Function};
use crate::kafka::{self, Link};
use crate::messages::{Codec, ResultStatus};

/// A final result as it stands on a results topic.
#[derive(Debug, Clone)]
struct Final {
    status: ResultStatus,
    code: Option<String>,
    occurred_at: DateTime<Utc>,
    /// (partition, offset): the order of one point's results.
    place: (i32, i64),
}

/// One place the check reads evidence from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    RequestTopic(Area),
    ResultTopic(Area),
    /// The `requests` and `idempotency_keys` rows.
    Database,
    /// A simulator's `GET /sim/applied`.
    Simulator(Area),
    /// A company's change feed, `GET /api/v1/events`.
    Feed(String),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::RequestTopic(a) => write!(f, "the request topic of area {}", a.code()),
            Source::ResultTopic(a) => write!(f, "the results topic of area {}", a.code()),
            Source::Database => f.write_str("the database (requests, idempotency_keys)"),
            Source::Simulator(a) => write!(f, "the simulator of area {} (/sim/applied)", a.code()),
            Source::Feed(c) => write!(f, "the change feed of {c} (/api/v1/events)"),
        }
    }
}

/// What the run's webhook receiver took.
#[derive(Debug, Clone, Default)]
pub struct WebhookSeen {
    pub company: String,
    /// In the order the POSTs came.
    pub delivered: Vec<Delivered>,
}

/// What the run saw, from the topics, the database, the operators and the push.
#[derive(Default)]
pub struct Evidence {
    /// Request ids on the request topics, with how many records each.
    requests: HashMap<String, usize>,
    finals: HashMap<String, Vec<Final>>,
    /// Database rows: status and when the row was last written.
    rows: HashMap<String, (String, DateTime<Utc>)>,
    /// The request id each Idempotency-Key of the run was given.
    keys: HashMap<(String, String), String>,
    /// Per request id, how many times an operator applied it.
    applied: HashMap<String, u32>,
    /// Each company's change feed.
    feeds: HashMap<String, Feed>,
    webhook: Option<WebhookSeen>,
    /// The sources that could not be read, with the last error.
    unread: BTreeMap<Source, String>,
}

/// How a failing read is tried again: from half a second, doubling to 10 s, with jitter.
fn backoff() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(500))
        .with_max_delay(Duration::from_secs(10))
        .with_jitter()
        .without_max_times()
}

/// Reads `source` with `attempt`, again after `backoff` while it fails and `deadline` is
/// ahead (at least once); the last error when it never could.
async fn read<T, Fut>(
    source: &Source,
    deadline: Instant,
    backoff: ExponentialBuilder,
    attempt: impl FnMut() -> Fut,
) -> Result<T, String>
where
    Fut: Future<Output = anyhow::Result<T>>,
{
    attempt
        .retry(backoff)
        .when(|_| Instant::now() < deadline)
        .notify(|e, after| {
            eprintln!(
                "chaos: reading {source} failed, again in {:.1} s: {e:#}",
                after.as_secs_f64()
            )
        })
        .await
        .map_err(|e| format!("{e:#}"))
}

async fn topic(link: &Link, topic: String) -> anyhow::Result<Vec<OwnedMessage>> {
    let link = link.clone();
    Ok(
        tokio::task::spawn_blocking(move || kafka::read_to_end(&link, &topic, |low, _| low))
            .await??,
    )
}

type Rows = (
    HashMap<String, (String, DateTime<Utc>)>,
    HashMap<(String, String), String>,
);

async fn database(settings: &Settings) -> anyhow::Result<Rows> {
    let pool = crate::db::pool(&crate::db::Connect::owner(settings)?, 1)?;
    let client = pool.get().await?;
    let mut rows = HashMap::new();
    for row in client
        .query("SELECT request_id, status, updated_at FROM requests", &[])
        .await?
    {
        let id: uuid::Uuid = row.get(0);
        rows.insert(id.to_string(), (row.get(1), row.get(2)));
    }
    let mut keys = HashMap::new();
    for row in client
        .query(
            "SELECT company_code, key, request_id FROM idempotency_keys",
            &[],
        )
        .await?
    {
        let id: uuid::Uuid = row.get(2);
        keys.insert((row.get(0), row.get(1)), id.to_string());
    }
    Ok((rows, keys))
}

async fn simulator(
    http: &reqwest::Client,
    addr: SocketAddr,
) -> anyhow::Result<HashMap<String, u32>> {
    Ok(http
        .get(format!("http://{addr}/sim/applied"))
        .timeout(Duration::from_secs(30))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}

impl Evidence {
    /// Reads every source, each tried again until `read_for` has passed since the first;
    /// what could not be read is named in `unread`.
    pub async fn gather(
        settings: &Settings,
        sims: &BTreeMap<Area, SocketAddr>,
        clients: &Clients,
        receiver: Option<&Receiver>,
        read_for: Duration,
    ) -> Evidence {
        let deadline = Instant::now() + read_for;
        let mut ev = Evidence::default();
        let link = Link::of(settings);
        let codec = Codec::new();
        for area in Area::ALL {
            let source = Source::RequestTopic(area);
            match read(&source, deadline, backoff(), || {
                topic(&link, settings.requests_topic(area))
            })
            .await
            {
                Ok(records) => {
                    for m in &records {
                        if let Ok(r) = codec.decode_request(m.payload().unwrap_or_default()) {
                            *ev.requests.entry(r.request_id.to_string()).or_default() += 1;
                        }
                    }
                }
                Err(e) => {
                    ev.unread.insert(source, e);
                }
            }
            let source = Source::ResultTopic(area);
            match read(&source, deadline, backoff(), || {
                topic(&link, settings.results_topic(area))
            })
            .await
            {
                Ok(mut records) => {
                    records.sort_by_key(|m| (m.partition(), m.offset()));
                    for m in &records {
                        let Ok(r) = codec.decode_result(m.payload().unwrap_or_default()) else {
                            continue;
                        };
                        if r.status.is_final() {
                            ev.finals
                                .entry(r.request_id.to_string())
                                .or_default()
                                .push(Final {
                                    status: r.status,
                                    code: r.code.clone(),
                                    occurred_at: r.occurred_at,
                                    place: (m.partition(), m.offset()),
                                });
                        }
                    }
                }
                Err(e) => {
                    ev.unread.insert(source, e);
                }
            }
        }
        match read(&Source::Database, deadline, backoff(), || {
            database(settings)
        })
        .await
        {
            Ok((rows, keys)) => (ev.rows, ev.keys) = (rows, keys),
            Err(e) => {
                ev.unread.insert(Source::Database, e);
            }
        }
        let http = reqwest::Client::new();
        for (&area, &addr) in sims {
            let source = Source::Simulator(area);
            match read(&source, deadline, backoff(), || simulator(&http, addr)).await {
                Ok(by_id) => ev.applied.extend(by_id),
                Err(e) => {
                    ev.unread.insert(source, e);
                }
            }
        }
        let mut companies: Vec<&str> = clients.companies().collect();
        companies.sort_unstable();
        for company in companies {
            let source = Source::Feed(company.to_string());
            // Each attempt on the other API: one of them may be the one just restarted.
            let mut api = 0;
            let attempt = || {
                api += 1;
                push::read_feed(clients, api, company)
            };
            match read(&source, deadline, backoff(), attempt).await {
                Ok(feed) => {
                    ev.feeds.insert(company.to_string(), feed);
                }
                Err(e) => {
                    ev.unread.insert(source, e);
                }
            }
        }
        ev.webhook = receiver.map(|r| WebhookSeen {
            company: r.company.clone(),
            delivered: r.delivered(),
        });
        ev
    }

    fn read(&self, source: &Source) -> bool {
        !self.unread.contains_key(source)
    }

    /// Whether everything one accepted request of `area` is checked against was read.
    fn area_read(&self, area: Area) -> bool {
        self.read(&Source::RequestTopic(area))
            && self.read(&Source::ResultTopic(area))
            && self.read(&Source::Database)
    }
}

/// The functions whose completion is an application the operator carries out (look-ups are
/// not): each completed one must have been applied exactly once.
const APPLICATIONS: [Function; 5] = [
    Function::UsagePassword,
    Function::HvUsageRequest,
    Function::Reconnection,
    Function::SwitchStart,
    Function::SwitchEnd,
];

/// Latency figures of a set of requests, in milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Latency {
    pub n: usize,
    pub p50: i64,
    pub p95: i64,
    pub max: i64,
}

impl Latency {
    fn of(mut ms: Vec<i64>) -> Latency {
        if ms.is_empty() {
            return Latency::default();
        }
        ms.sort_unstable();
        let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
        Latency {
            n: ms.len(),
            p50: at(0.50),
            p95: at(0.95),
            max: *ms.last().expect("not empty"),
        }
    }
}

impl std::fmt::Display for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.n == 0 {
            return f.write_str("-");
        }
        write!(
            f,
            "{}/{}/{} ms (n={})",
            self.p50, self.p95, self.max, self.n
        )
    }
}

/// One fault's line of the table.
#[derive(Debug, Clone)]
pub struct FaultLine {
    pub at_secs: f64,
    pub fault: &'static str,
    pub target: String,
    pub down_secs: f64,
    /// From the fault undone to the first 202 (of that API, for an API fault).
    pub accepting_again_secs: Option<f64>,
    /// From the fault undone until every request of its scope accepted before that had its
    /// final result (on the results topic; in the database for the projector and PostgreSQL).
    pub caught_up_secs: Option<f64>,
    /// A source the figures of its scope come from was not read (they cover the rest).
    pub partly_read: bool,
    pub during: Latency,
    pub after: Latency,
    pub error: Option<String>,
}

/// The verdict of a run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub submitted: usize,
    pub accepted: usize,
    pub completed: usize,
    pub rejected: usize,
    pub failed: usize,
    pub refused_503: usize,
    /// Of those, `outcome_unknown` (the broker may hold the request; sent again by the load).
    pub outcome_unknown: usize,
    pub refused_other: usize,
    /// The other refusals by HTTP status and code.
    pub refused_other_by: BTreeMap<String, usize>,
    pub unanswered: usize,
    pub dropped: usize,
    /// Accepted (202) but with no final result on its results topic or no final row.
    pub lost: usize,
    /// Final results that disagree, or an application the operator carried out twice.
    pub doubled: usize,
    /// Identical final records repeated on a results topic (a producer's retry without
    /// idempotence, a redelivery): the projector keeps one; counted, not a fault.
    pub repeated_records: usize,
    /// Accepted requests whose record stands more than once on the request topic.
    pub repeated_requests: usize,
    /// A 503 whose request id is on a request topic after all.
    pub refused_yet_on_broker: usize,
    /// A completed application the operator never applied.
    pub completed_not_applied: usize,
    /// A chain whose results came in another order than its requests were accepted.
    pub out_of_order: usize,
    pub chains_checked: usize,
    /// Requests the operators applied that no client holds a 202 for (sent to an API that
    /// died before answering; the client's retry got its 202 on the other API otherwise).
    pub applied_without_202: usize,
    /// Accepted requests not checked because a source they are checked against (their area's
    /// topics, the database) was not read.
    pub unchecked: usize,
    /// Final requests checked against their company's change feed.
    pub feed_checked: usize,
    /// A final request whose final status is not in its company's feed.
    pub feed_missing: usize,
    /// A final request with more than one final event in its company's feed.
    pub feed_doubled: usize,
    /// Feed events whose id is not above the one before (the feed is in id order).
    pub feed_out_of_order: usize,
    /// The company whose webhook the run's receiver is.
    pub webhook_company: Option<String>,
    /// That company's final requests, each of which the webhook must have delivered.
    pub webhook_checked: usize,
    /// A final request of that company whose final event never reached the receiver.
    pub webhook_missing: usize,
    /// POSTs of an event the receiver had already taken (at least once: allowed, counted).
    pub webhook_repeats: usize,
    /// POSTs of an event older than the one before (delivery is in order).
    pub webhook_out_of_order: usize,
    /// POSTs whose signature or `Kirikae-Event-Id` does not match the body.
    pub webhook_unsigned: usize,
    /// The sources not read, with why.
    pub unread: Vec<(String, String)>,
    pub faults: Vec<FaultLine>,
    pub lost_ids: Vec<String>,
    pub doubled_ids: Vec<String>,
}

/// What a run shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Everything read, every must-be-zero count 0.
    Held,
    /// A must-be-zero count above 0 in what was read: a source left unread cannot undo that.
    Broken,
    /// Nothing broken in what was read, but a source could not be read.
    NoVerdict,
}

impl Report {
    /// Whether a must-be-zero count is above 0.
    pub fn broken(&self) -> bool {
        self.lost
            + self.doubled
            + self.refused_yet_on_broker
            + self.completed_not_applied
            + self.out_of_order
            + self.feed_missing
            + self.feed_doubled
            + self.feed_out_of_order
            + self.webhook_missing
            + self.webhook_out_of_order
            + self.webhook_unsigned
            > 0
    }

    pub fn verdict(&self) -> Verdict {
        if self.broken() {
            Verdict::Broken
        } else if !self.unread.is_empty() {
            Verdict::NoVerdict
        } else {
            Verdict::Held
        }
    }

    /// Whether every promise held, with every source read.
    pub fn ok(&self) -> bool {
        self.verdict() == Verdict::Held
    }
}

/// The statuses that end a request, as the feed names them.
const FINAL: [&str; 3] = ["completed", "rejected", "failed"];

pub fn verdict(
    outcomes: &[Outcome],
    figures: Figures,
    faults: &[Done],
    load_began: DateTime<Utc>,
    ev: &Evidence,
) -> Report {
    let mut r = Report {
        submitted: outcomes.len(),
        dropped: figures.dropped,
        ..Report::default()
    };
    let mut accepted: HashMap<&str, &Outcome> = HashMap::new();
    for o in outcomes {
        match &o.answer {
            Answer::Accepted(id) => {
                accepted.insert(id.as_str(), o);
            }
            Answer::Refused(503, _) => {
                r.refused_503 += 1;
                r.outcome_unknown += usize::from(o.answer.outcome_unknown());
            }
            Answer::Refused(status, code) => {
                r.refused_other += 1;
                *r.refused_other_by
                    .entry(format!("{status} {code}"))
                    .or_default() += 1;
            }
            Answer::Transport => r.unanswered += 1,
        }
    }
    r.accepted = accepted.len();
    r.unread = ev
        .unread
        .iter()
        .map(|(s, e)| (s.to_string(), e.clone()))
        .collect();
    // Each company's final feed events, by request id.
    let mut feed_finals: HashMap<(&str, &str), Vec<&str>> = HashMap::new();
    for (company, feed) in &ev.feeds {
        r.feed_out_of_order += feed.out_of_order;
        for e in feed
            .events
            .iter()
            .filter(|e| FINAL.contains(&e.status.as_str()))
        {
            feed_finals
                .entry((company.as_str(), e.subject_id.as_str()))
                .or_default()
                .push(e.status.as_str());
        }
    }
    r.webhook_company = ev.webhook.as_ref().map(|w| w.company.clone());
    let delivered: HashSet<(&str, &str)> = ev
        .webhook
        .iter()
        .flat_map(|w| &w.delivered)
        .map(|d| (d.subject_id.as_str(), d.status.as_str()))
        .collect();
    for (&id, o) in &accepted {
        if !ev.area_read(o.area) {
            r.unchecked += 1;
            continue;
        }
        let finals = ev.finals.get(id).map(Vec::as_slice).unwrap_or_default();
        let row_final = ev
            .rows
            .get(id)
            .is_some_and(|(s, _)| matches!(s.as_str(), "completed" | "rejected" | "failed"));
        if !ev.requests.contains_key(id) || finals.is_empty() || !row_final {
            r.lost += 1;
            r.lost_ids.push(id.to_string());
            continue;
        }
        if ev.requests[id] > 1 {
            r.repeated_requests += 1;
        }
        let first = &finals[0];
        let disagree = finals
            .iter()
            .any(|f| f.status != first.status || f.code != first.code);
        let applied = ev.applied.get(id).copied().unwrap_or(0);
        // Without its operator's word, "applied" is unknown rather than 0.
        let sim_read = ev.read(&Source::Simulator(o.area));
        if disagree || applied > 1 {
            r.doubled += 1;
            r.doubled_ids.push(id.to_string());
        } else if finals.len() > 1 {
            r.repeated_records += finals.len() - 1;
        }
        match first.status {
            ResultStatus::Completed => {
                r.completed += 1;
                if APPLICATIONS.contains(&o.function) && applied == 0 && sim_read {
                    r.completed_not_applied += 1;
                }
            }
            ResultStatus::Rejected => r.rejected += 1,
            _ => r.failed += 1,
        }
        // The push: the final status the row holds (what the projector appended with it).
        let status = ev.rows[id].0.as_str();
        if ev.read(&Source::Feed(o.company.clone())) {
            r.feed_checked += 1;
            let in_feed = feed_finals
                .get(&(o.company.as_str(), id))
                .map(Vec::as_slice)
                .unwrap_or_default();
            if !in_feed.contains(&status) {
                r.feed_missing += 1;
            } else if in_feed.len() > 1 {
                r.feed_doubled += 1;
            }
        }
        if r.webhook_company.as_deref() == Some(o.company.as_str()) {
            r.webhook_checked += 1;
            if !delivered.contains(&(id, status)) {
                r.webhook_missing += 1;
            }
        }
    }
    if let Some(w) = &ev.webhook {
        let ids: HashSet<i64> = w.delivered.iter().map(|d| d.id).collect();
        r.webhook_repeats = w.delivered.len() - ids.len();
        r.webhook_out_of_order = w.delivered.windows(2).filter(|p| p[1].id < p[0].id).count();
        r.webhook_unsigned = w.delivered.iter().filter(|d| !d.signed).count();
    }
    // A 503 promises the request is nowhere on the broker — all but `outcome_unknown`, which
    // says it may be: its key's request id must not be.
    for o in outcomes {
        if let Answer::Refused(503, _) = o.answer
            && !o.answer.outcome_unknown()
            && ev.area_read(o.area)
            && let Some(id) = ev.keys.get(&(o.company.clone(), o.key.clone()))
            && ev.requests.contains_key(id)
        {
            r.refused_yet_on_broker += 1;
        }
    }
    // An application carried out twice is doubled whether or not its client saw a 202.
    for (id, n) in &ev.applied {
        if *n > 1 && !accepted.contains_key(id.as_str()) {
            r.doubled += 1;
            r.doubled_ids.push(id.clone());
        }
    }
    r.applied_without_202 = ev
        .applied
        .keys()
        .filter(|id| !accepted.contains_key(id.as_str()))
        .count();
    // One point's requests: each chain's results in the order of its 202s.
    let mut chains: BTreeMap<usize, Vec<(usize, &str)>> = BTreeMap::new();
    for o in outcomes {
        if let (Some((c, place)), Answer::Accepted(id)) = (o.chain, &o.answer) {
            chains.entry(c).or_default().push((place, id.as_str()));
        }
    }
    r.chains_checked = chains.len();
    for links in chains.values_mut() {
        links.sort_unstable();
        let places: Vec<(i32, i64)> = links
            .iter()
            .filter_map(|(_, id)| ev.finals.get(*id).and_then(|f| f.first()).map(|f| f.place))
            .collect();
        if places.windows(2).any(|w| w[0] >= w[1]) {
            r.out_of_order += 1;
        }
    }
    r.faults = faults
        .iter()
        .map(|d| fault_line(d, outcomes, &accepted, load_began, ev))
        .collect();
    r
}

fn secs_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_milliseconds() as f64 / 1000.0
}

fn fault_line(
    d: &Done,
    outcomes: &[Outcome],
    accepted: &HashMap<&str, &Outcome>,
    load_began: DateTime<Utc>,
    ev: &Evidence,
) -> FaultLine {
    let p = d.planned;
    let in_scope = |o: &Outcome| !p.kind.area_scoped() || o.area == p.area;
    let accepting_again_secs = outcomes
        .iter()
        .filter(|o| o.sent_at >= d.healed && matches!(o.answer, Answer::Accepted(_)))
        .filter(|o| p.kind != Kind::Api || o.api == p.api)
        .map(|o| o.answered_at)
        .min()
        .map(|t| secs_between(d.healed, t));
    let by_db = matches!(p.kind, Kind::Projector | Kind::Postgres);
    // The figures cover the requests whose final results could be read.
    let readable = |o: &Outcome| {
        ev.read(&if by_db {
            Source::Database
        } else {
            Source::ResultTopic(o.area)
        })
    };
    let partly_read = accepted
        .values()
        .any(|o| in_scope(o) && o.sent_at < d.healed && !readable(o));
    let final_at = |id: &str| -> Option<DateTime<Utc>> {
        if by_db {
            ev.rows.get(id).map(|(_, at)| *at)
        } else {
            ev.finals
                .get(id)
                .and_then(|f| f.first())
                .map(|f| f.occurred_at)
        }
    };
    // Switch halves are left out: an unmatched half waits for its window, not for the hub.
    let backlog: Vec<Option<DateTime<Utc>>> = accepted
        .iter()
        .filter(|(_, o)| in_scope(o) && o.sent_at < d.healed && readable(o))
        .filter(|(_, o)| !matches!(o.function, Function::SwitchStart | Function::SwitchEnd))
        .map(|(id, _)| final_at(id))
        .collect();
    let caught_up_secs = if backlog.iter().any(Option::is_none) {
        None
    } else {
        Some(
            backlog
                .iter()
                .flatten()
                .map(|t| secs_between(d.healed, *t).max(0.0))
                .fold(0.0, f64::max),
        )
    };
    let e2e = |from: DateTime<Utc>, to: DateTime<Utc>| {
        Latency::of(
            accepted
                .iter()
                .filter(|(_, o)| in_scope(o) && o.sent_at >= from && o.sent_at < to)
                .filter(|(_, o)| !matches!(o.function, Function::SwitchStart | Function::SwitchEnd))
                .filter_map(|(id, o)| {
                    let f = ev.finals.get(*id)?.first()?;
                    Some((f.occurred_at - o.sent_at).num_milliseconds())
                })
                .collect(),
        )
    };
    FaultLine {
        at_secs: secs_between(load_began, d.began),
        fault: p.kind.name(),
        target: p.target(),
        down_secs: secs_between(d.began, d.healed),
        accepting_again_secs,
        caught_up_secs,
        partly_read,
        during: e2e(d.began, d.healed),
        after: e2e(d.healed, d.healed + chrono::Duration::seconds(30)),
        error: d.error.clone(),
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let must = |n: usize| {
            if n == 0 {
                "0".to_string()
            } else {
                format!("{n}  <-- MUST BE 0")
            }
        };
        writeln!(f, "| figure | count |")?;
        writeln!(f, "|---|---|")?;
        writeln!(f, "| submitted | {} |", self.submitted)?;
        writeln!(f, "| accepted (202) | {} |", self.accepted)?;
        writeln!(f, "| completed | {} |", self.completed)?;
        writeln!(f, "| rejected (by the operator) | {} |", self.rejected)?;
        writeln!(f, "| failed (dead-lettered) | {} |", self.failed)?;
        writeln!(
            f,
            "| refused with 503 | {} (of which outcome_unknown: {}) |",
            self.refused_503, self.outcome_unknown
        )?;
        let by: Vec<String> = self
            .refused_other_by
            .iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect();
        writeln!(
            f,
            "| refused otherwise | {} {} |",
            self.refused_other,
            if by.is_empty() {
                String::new()
            } else {
                format!("({})", by.join(", "))
            }
        )?;
        writeln!(f, "| no answer from either API | {} |", self.unanswered)?;
        writeln!(
            f,
            "| not sent (over the in-flight cap) | {} |",
            self.dropped
        )?;
        writeln!(f, "| **lost** | **{}** |", must(self.lost))?;
        writeln!(f, "| **doubled** | **{}** |", must(self.doubled))?;
        writeln!(
            f,
            "| 503 yet on the broker | {} |",
            must(self.refused_yet_on_broker)
        )?;
        writeln!(
            f,
            "| completed, never applied by the operator | {} |",
            must(self.completed_not_applied)
        )?;
        writeln!(
            f,
            "| chains out of order (of {}) | {} |",
            self.chains_checked,
            must(self.out_of_order)
        )?;
        writeln!(
            f,
            "| identical final records repeated on a results topic | {} |",
            self.repeated_records
        )?;
        writeln!(
            f,
            "| accepted requests repeated on a request topic | {} |",
            self.repeated_requests
        )?;
        writeln!(
            f,
            "| applied by an operator without a 202 to the client | {} |",
            self.applied_without_202
        )?;
        writeln!(
            f,
            "| change feed: final status missing (of {} final requests) | {} |",
            self.feed_checked,
            must(self.feed_missing)
        )?;
        writeln!(
            f,
            "| change feed: more than one final event for a request | {} |",
            must(self.feed_doubled)
        )?;
        writeln!(
            f,
            "| change feed: events out of id order | {} |",
            must(self.feed_out_of_order)
        )?;
        match &self.webhook_company {
            Some(company) => {
                writeln!(
                    f,
                    "| webhook of {company}: final result never delivered (of {}) | {} |",
                    self.webhook_checked,
                    must(self.webhook_missing)
                )?;
                writeln!(
                    f,
                    "| webhook: deliveries repeated (at least once: allowed, counted) | {} |",
                    self.webhook_repeats
                )?;
                writeln!(
                    f,
                    "| webhook: delivered out of order | {} |",
                    must(self.webhook_out_of_order)
                )?;
                writeln!(
                    f,
                    "| webhook: signature or event id not matching the body | {} |",
                    must(self.webhook_unsigned)
                )?;
            }
            None => writeln!(f, "| webhook | not checked (no receiver) |")?,
        }
        if !self.unread.is_empty() {
            writeln!(
                f,
                "| **accepted, not checked: a source not read** | **{}** |",
                self.unchecked
            )?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "| at (s) | fault | target | down (s) | accepting again (s) | caught up (s) | e2e during p50/p95/max | e2e 30 s after p50/p95/max |"
        )?;
        writeln!(f, "|---|---|---|---|---|---|---|---|")?;
        let secs = |s: Option<f64>| {
            s.map(|s| format!("{s:.1}"))
                .unwrap_or_else(|| "never".into())
        };
        for l in &self.faults {
            writeln!(
                f,
                "| {:.0} | {} | {} | {:.1} | {} | {}{} | {} | {} |{}",
                l.at_secs,
                l.fault,
                l.target,
                l.down_secs,
                secs(l.accepting_again_secs),
                secs(l.caught_up_secs),
                if l.partly_read { " (partly read)" } else { "" },
                l.during,
                l.after,
                l.error
                    .as_ref()
                    .map(|e| format!(" error: {e}"))
                    .unwrap_or_default()
            )?;
        }
        if !self.lost_ids.is_empty() {
            writeln!(
                f,
                "lost: {:?}",
                &self.lost_ids[..self.lost_ids.len().min(20)]
            )?;
        }
        if !self.doubled_ids.is_empty() {
            writeln!(
                f,
                "doubled: {:?}",
                &self.doubled_ids[..self.doubled_ids.len().min(20)]
            )?;
        }
        for (source, error) in &self.unread {
            writeln!(f, "NOT READ: {source}: {error}")?;
        }
        Ok(())
    }
}

/// Accepted request ids whose database row is not final yet (the drain waits for none).
pub async fn unfinished(settings: &Settings, ids: &HashSet<String>) -> anyhow::Result<usize> {
    let pool = crate::db::pool(&crate::db::Connect::owner(settings)?, 1)?;
    let client = pool.get().await?;
    let finished: HashSet<String> = client
        .query(
            "SELECT request_id FROM requests WHERE status IN ('completed', 'rejected', 'failed')",
            &[],
        )
        .await?
        .iter()
        .map(|row| row.get::<_, uuid::Uuid>(0).to_string())
        .collect();
    Ok(ids.iter().filter(|id| !finished.contains(*id)).count())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chaos::push::FeedEvent;

    const RETAILER: &str = "A0001";

    fn accepted(id: &str, area: Area, company: &str) -> Outcome {
        Outcome {
            function: Function::FacilityInquiry,
            area,
            company: company.into(),
            key: format!("key-{id}"),
            chain: None,
            api: 0,
            sent_at: Utc::now(),
            answered_at: Utc::now(),
            answer: Answer::Accepted(id.into()),
        }
    }

    /// Each of `ids` on its request topic, completed once on its results topic and in the
    /// database, and its `accepted` and `completed` events in `RETAILER`'s feed.
    fn ended(ids: &[&str]) -> Evidence {
        let mut ev = Evidence::default();
        let mut feed = Feed::default();
        for (n, id) in ids.iter().enumerate() {
            ev.requests.insert(id.to_string(), 1);
            ev.finals.insert(
                id.to_string(),
                vec![Final {
                    status: ResultStatus::Completed,
                    code: None,
                    occurred_at: Utc::now(),
                    place: (0, n as i64),
                }],
            );
            ev.rows
                .insert(id.to_string(), ("completed".into(), Utc::now()));
            for status in ["accepted", "completed"] {
                feed.events
                    .push(event(feed.events.len() as i64 + 1, id, status));
            }
        }
        ev.feeds.insert(RETAILER.into(), feed);
        ev
    }

    fn event(id: i64, subject: &str, status: &str) -> FeedEvent {
        FeedEvent {
            id,
            subject_id: subject.into(),
            status: status.into(),
        }
    }

    fn delivered(id: i64, subject: &str, status: &str) -> Delivered {
        Delivered {
            id,
            subject_id: subject.into(),
            status: status.into(),
            signed: true,
        }
    }

    fn check(outcomes: &[Outcome], ev: &Evidence) -> Report {
        verdict(outcomes, Figures::default(), &[], Utc::now(), ev)
    }

    #[test]
    fn every_source_read_and_every_end_in_the_feed_once_and_at_the_webhook_is_held() {
        let mut ev = ended(&["r1", "r2"]);
        ev.webhook = Some(WebhookSeen {
            company: RETAILER.into(),
            delivered: vec![
                delivered(2, "r1", "completed"),
                delivered(2, "r1", "completed"),
                delivered(4, "r2", "completed"),
            ],
        });
        let outcomes = [
            accepted("r1", Area::Tokyo, RETAILER),
            accepted("r2", Area::Tokyo, RETAILER),
        ];
        let r = check(&outcomes, &ev);
        assert_eq!((r.feed_checked, r.webhook_checked), (2, 2), "{r}");
        assert_eq!(r.webhook_repeats, 1, "a repeat is counted: {r}");
        assert_eq!(r.verdict(), Verdict::Held, "a repeat breaks nothing: {r}");
    }

    #[test]
    fn a_final_status_missing_from_the_feed_or_in_it_twice_breaks_the_promise() {
        let mut ev = ended(&["r1", "r2", "r3"]);
        let feed = ev.feeds.get_mut(RETAILER).unwrap();
        // r1: no final event; r2: completed twice; r3: a final event, but not its status.
        feed.events
            .retain(|e| e.subject_id != "r1" || e.status == "accepted");
        feed.events.push(event(10, "r2", "completed"));
        feed.events
            .retain(|e| e.subject_id != "r3" || e.status == "accepted");
        feed.events.push(event(11, "r3", "rejected"));
        let outcomes = ["r1", "r2", "r3"].map(|id| accepted(id, Area::Tokyo, RETAILER));
        let r = check(&outcomes, &ev);
        assert_eq!((r.feed_missing, r.feed_doubled), (2, 1), "{r}");
        assert_eq!(r.verdict(), Verdict::Broken);
        assert!(r.to_string().contains("MUST BE 0"), "{r}");
    }

    #[test]
    fn a_final_result_the_webhook_never_delivered_breaks_the_promise() {
        let mut ev = ended(&["r1", "r2", "other"]);
        let mut other = Feed::default();
        other.events.push(event(1, "other", "completed"));
        ev.feeds.insert("B0002".into(), other);
        ev.webhook = Some(WebhookSeen {
            company: RETAILER.into(),
            // r2 only as sent: its final event never came.
            delivered: vec![delivered(2, "r1", "completed"), delivered(3, "r2", "sent")],
        });
        let outcomes = [
            accepted("r1", Area::Tokyo, RETAILER),
            accepted("r2", Area::Tokyo, RETAILER),
            accepted("other", Area::Kansai, "B0002"),
        ];
        let r = check(&outcomes, &ev);
        assert_eq!(
            (r.webhook_checked, r.webhook_missing),
            (2, 1),
            "only the webhook's own company is checked: {r}"
        );
        assert_eq!(r.verdict(), Verdict::Broken);
    }

    #[test]
    fn webhook_deliveries_out_of_order_or_not_signed_break_the_promise() {
        let mut ev = ended(&["r1", "r2"]);
        let mut forged = delivered(4, "r2", "completed");
        forged.signed = false;
        ev.webhook = Some(WebhookSeen {
            company: RETAILER.into(),
            delivered: vec![
                delivered(4, "r2", "completed"),
                delivered(2, "r1", "completed"),
                forged,
            ],
        });
        let outcomes = ["r1", "r2"].map(|id| accepted(id, Area::Tokyo, RETAILER));
        let r = check(&outcomes, &ev);
        assert_eq!((r.webhook_out_of_order, r.webhook_unsigned), (1, 1), "{r}");
        assert_eq!(r.verdict(), Verdict::Broken);
    }

    #[test]
    fn a_source_not_read_leaves_its_requests_unchecked_names_it_and_gives_no_verdict() {
        // Area 03's results topic could not be read: r1 has no final result in the evidence.
        let mut ev = ended(&["r2"]);
        ev.requests.insert("r1".into(), 1);
        ev.unread.insert(
            Source::ResultTopic(Area::Tokyo),
            "Meta data fetch error: OperationTimedOut".into(),
        );
        let outcomes = [
            accepted("r1", Area::Tokyo, RETAILER),
            accepted("r2", Area::Kansai, RETAILER),
        ];
        let r = check(&outcomes, &ev);
        assert_eq!((r.lost, r.unchecked, r.feed_checked), (0, 1, 1), "{r}");
        assert_eq!(r.verdict(), Verdict::NoVerdict);
        assert!(!r.ok());
        let table = r.to_string();
        assert!(
            table.contains(
                "NOT READ: the results topic of area 03: Meta data fetch error: OperationTimedOut"
            ),
            "{table}"
        );
        assert!(table.contains("a source not read** | **1**"), "{table}");
    }

    #[test]
    fn a_feed_not_read_is_named_and_its_requests_are_not_counted_missing() {
        let mut ev = ended(&["r1"]);
        ev.feeds.clear();
        ev.unread.insert(
            Source::Feed(RETAILER.into()),
            "503 broker_unavailable".into(),
        );
        let r = check(&[accepted("r1", Area::Tokyo, RETAILER)], &ev);
        assert_eq!((r.feed_checked, r.feed_missing), (0, 0), "{r}");
        assert_eq!(r.verdict(), Verdict::NoVerdict);
    }

    #[test]
    fn a_promise_broken_in_what_was_read_is_broken_even_with_a_source_not_read() {
        let mut ev = ended(&[]);
        ev.requests.insert("r2".into(), 1);
        ev.unread
            .insert(Source::ResultTopic(Area::Tokyo), "timed out".into());
        // r2, of an area read in full, has no final result anywhere: lost.
        let r = check(&[accepted("r2", Area::Kansai, RETAILER)], &ev);
        assert_eq!(r.lost, 1, "{r}");
        assert_eq!(r.verdict(), Verdict::Broken);
    }

    #[test]
    fn a_completed_application_is_not_called_unapplied_when_its_simulator_was_not_read() {
        let mut ev = ended(&["r1"]);
        ev.unread
            .insert(Source::Simulator(Area::Tokyo), "connection refused".into());
        let mut o = accepted("r1", Area::Tokyo, RETAILER);
        o.function = Function::Reconnection;
        let r = check(&[o], &ev);
        assert_eq!(r.completed_not_applied, 0, "{r}");
        assert_eq!(r.verdict(), Verdict::NoVerdict);
    }

    fn quick() -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(5))
            .with_max_delay(Duration::from_millis(20))
            .without_max_times()
    }

    #[tokio::test]
    async fn a_source_failing_at_first_is_read_on_a_later_try() {
        let mut tries = 0;
        let got = read(
            &Source::Database,
            Instant::now() + Duration::from_secs(10),
            quick(),
            || {
                tries += 1;
                let n = tries;
                async move {
                    anyhow::ensure!(n >= 3, "OperationTimedOut");
                    Ok(n)
                }
            },
        )
        .await;
        assert_eq!(got, Ok(3));
    }

    #[tokio::test]
    async fn a_source_still_failing_at_the_deadline_is_given_up_with_its_last_error() {
        let began = Instant::now();
        let mut tries = 0;
        let got: Result<(), String> = read(
            &Source::ResultTopic(Area::Tokyo),
            began + Duration::from_millis(200),
            quick(),
            || {
                tries += 1;
                let n = tries;
                async move { anyhow::bail!("Meta data fetch error: OperationTimedOut ({n})") }
            },
        )
        .await;
        let e = got.unwrap_err();
        assert!(
            e.starts_with("Meta data fetch error: OperationTimedOut"),
            "{e}"
        );
        assert!(tries > 2, "tried again before giving up: {tries}");
        assert_eq!(
            e,
            format!("Meta data fetch error: OperationTimedOut ({tries})")
        );
        let took = began.elapsed();
        assert!(
            took >= Duration::from_millis(200) && took < Duration::from_secs(5),
            "{took:?}"
        );
    }

    #[tokio::test]
    async fn a_source_is_tried_once_even_past_the_deadline() {
        let mut tries = 0;
        let got: Result<(), String> = read(&Source::Database, Instant::now(), quick(), || {
            tries += 1;
            async { anyhow::bail!("refused") }
        })
        .await;
        assert_eq!((got, tries), (Err("refused".to_string()), 1));
    }
}
