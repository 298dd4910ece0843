//! The run's verdict, reached without the hub's own bookkeeping: the client's log of answers,
//! every record on the request and result topics, the database rows as stored, and what each
//! simulated operator says it applied. Nothing here asks the hub's services; the two queries
//! below read the rows directly, as an auditor would, so that a fault in a service cannot
//! hide itself.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;

use chrono::{DateTime, Utc};
use rdkafka::Message;

use super::faults::{Done, Kind};
use super::load::{Answer, Figures, Outcome};
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

/// What the run saw, from the topics, the database and the operators.
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
}

impl Evidence {
    pub async fn gather(
        settings: &Settings,
        sims: &BTreeMap<Area, SocketAddr>,
    ) -> anyhow::Result<Evidence> {
        let link = Link::of(settings);
        let codec = Codec::new();
        let mut requests: HashMap<String, usize> = HashMap::new();
        let mut finals: HashMap<String, Vec<Final>> = HashMap::new();
        for area in Area::ALL {
            let (link2, topic) = (link.clone(), settings.requests_topic(area));
            let records = tokio::task::spawn_blocking(move || {
                kafka::read_to_end(&link2, &topic, |low, _| low)
            })
            .await??;
            for m in &records {
                if let Ok(r) = codec.decode_request(m.payload().unwrap_or_default()) {
                    *requests.entry(r.request_id.to_string()).or_default() += 1;
                }
            }
            let (link2, topic) = (link.clone(), settings.results_topic(area));
            let mut records = tokio::task::spawn_blocking(move || {
                kafka::read_to_end(&link2, &topic, |low, _| low)
            })
            .await??;
            records.sort_by_key(|m| (m.partition(), m.offset()));
            for m in &records {
                let Ok(r) = codec.decode_result(m.payload().unwrap_or_default()) else {
                    continue;
                };
                if r.status.is_final() {
                    finals
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
        let pool = crate::db::pool(&crate::db::Connect::owner(settings)?, 2)?;
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
        let http = reqwest::Client::new();
        let mut applied = HashMap::new();
        for addr in sims.values() {
            let by_id: HashMap<String, u32> = http
                .get(format!("http://{addr}/sim/applied"))
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            applied.extend(by_id);
        }
        Ok(Evidence {
            requests,
            finals,
            rows,
            keys,
            applied,
        })
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
    pub faults: Vec<FaultLine>,
    pub lost_ids: Vec<String>,
    pub doubled_ids: Vec<String>,
}

impl Report {
    /// Whether every promise held.
    pub fn ok(&self) -> bool {
        self.lost == 0
            && self.doubled == 0
            && self.refused_yet_on_broker == 0
            && self.completed_not_applied == 0
            && self.out_of_order == 0
    }
}

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
            Answer::Refused(503, _) => r.refused_503 += 1,
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
    for (&id, o) in &accepted {
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
        if disagree || applied > 1 {
            r.doubled += 1;
            r.doubled_ids.push(id.to_string());
        } else if finals.len() > 1 {
            r.repeated_records += finals.len() - 1;
        }
        match first.status {
            ResultStatus::Completed => {
                r.completed += 1;
                if APPLICATIONS.contains(&o.function) && applied == 0 {
                    r.completed_not_applied += 1;
                }
            }
            ResultStatus::Rejected => r.rejected += 1,
            _ => r.failed += 1,
        }
    }
    // A 503 promises the request is nowhere on the broker: its key's request id must not be.
    for o in outcomes {
        if let Answer::Refused(503, _) = o.answer
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
        .filter(|(_, o)| in_scope(o) && o.sent_at < d.healed)
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
        writeln!(f, "| refused with 503 | {} |", self.refused_503)?;
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
                "| {:.0} | {} | {} | {:.1} | {} | {} | {} | {} |{}",
                l.at_secs,
                l.fault,
                l.target,
                l.down_secs,
                secs(l.accepting_again_secs),
                secs(l.caught_up_secs),
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
