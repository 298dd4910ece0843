//! The connector's main loop: consume an area's requests, spread them over lanes by point id
//! (one point's requests stay in order, [`super::lanes`]), and store each offset only once it
//! and all before it have their result durably produced.
//!
//! A watch beside the loop compares what the connector holds with what waits on its request
//! topic. A connector that holds no partition while requests are unread, or takes and finishes
//! nothing for a while with requests waiting, is not ready and says why. When it holds nothing
//! for longer than a session — a predecessor killed without leaving the group can keep a broker's
//! rebalance from ever assigning anything to it — it leaves the group and joins it again.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::telemetry::TraceContext;
use anyhow::Context;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::error::KafkaResult;
use rdkafka::{ClientContext, Message, Offset, TopicPartitionList};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::circuit::Circuit;
use super::definition::ConnectorDefinition;
use super::lanes::{Lanes, Run};
use super::ledger::Ledger;
use super::offsets::OffsetTracker;
use super::protocol::Protocol;
use super::worker::{Handled, Job, Worker};
use crate::config::Settings;
use crate::domain::Area;
use crate::kafka::{self, Publisher};
use crate::messages::Codec;
use crate::metrics;
use crate::ops::ReadyCheck;

/// How often the watch compares what the connector holds with what waits.
const CHECK_EVERY: Duration = Duration::from_secs(2);
/// How long the connector may hold no partition while requests are unread before it leaves the
/// group and joins again: longer than a session (`session.timeout.ms`, 10 s), so that a crashed
/// predecessor's membership has expired by then. Doubles after each rejoin that did not help.
const REJOIN_AFTER: Duration = Duration::from_secs(20);
const REJOIN_AT_MOST_EVERY: Duration = Duration::from_secs(300);
/// How long the connector may take and finish nothing while requests wait before it is not ready.
const PROGRESS_WITHIN: Duration = Duration::from_secs(30);
/// How long a shutdown waits for the calls in flight to finish and their results to be
/// produced: within the 30 s a supervisor (systemd, Kubernetes) gives before it kills.
const DRAIN_WITHIN: Duration = Duration::from_secs(20);

/// The connector's readiness beyond its broker: `Err(reason)` while it holds no partition with
/// requests unread, or makes no progress with requests waiting. Clone it into the ops router
/// with [`Health::check`]; [`run_with_health`] keeps it current.
#[derive(Clone)]
pub struct Health(Arc<Mutex<Result<(), String>>>);

impl Default for Health {
    /// Not ready until the connector has had its first look at its request topic.
    fn default() -> Self {
        Health(Arc::new(Mutex::new(Err("connector starting".into()))))
    }
}

impl Health {
    pub fn ready(&self) -> Result<(), String> {
        self.0.lock().expect("health lock").clone()
    }

    fn set(&self, state: Result<(), String>) {
        *self.0.lock().expect("health lock") = state;
    }

    /// A readiness check answering from the connector's last watch.
    pub fn check(&self) -> ReadyCheck {
        let health = self.clone();
        Arc::new(move || {
            let state = health.ready();
            Box::pin(async move { state })
        })
    }
}

/// What the main loop and the consumer's callbacks tell the watch.
#[derive(Debug)]
struct Holding {
    assigned: BTreeSet<i32>,
    /// Per partition, the next offset this connector has not taken yet.
    next: HashMap<i32, i64>,
    in_flight: usize,
    last_progress: Instant,
}

impl Holding {
    fn new() -> Self {
        Holding {
            assigned: BTreeSet::new(),
            next: HashMap::new(),
            in_flight: 0,
            last_progress: Instant::now(),
        }
    }
}

type Shared = Arc<Mutex<Holding>>;

/// Tells the main loop which partitions a rebalance took away, and the watch what is held.
struct RebalanceNotes {
    revoked: mpsc::UnboundedSender<Vec<i32>>,
    holding: Shared,
    area: &'static str,
}

impl ClientContext for RebalanceNotes {}

impl ConsumerContext for RebalanceNotes {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            let parts: Vec<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
            tracing::info!(area = self.area, partitions = ?parts, "partitions revoked");
            let mut h = self.holding.lock().expect("holding lock");
            for p in &parts {
                h.assigned.remove(p);
                h.next.remove(p);
            }
            let _ = self.revoked.send(parts);
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => {
                let parts: Vec<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
                tracing::info!(area = self.area, partitions = ?parts, "partitions assigned");
                let mut h = self.holding.lock().expect("holding lock");
                h.assigned.extend(parts);
                h.last_progress = Instant::now();
            }
            Rebalance::Revoke(_) => {}
            Rebalance::Error(e) => tracing::warn!(area = self.area, error = %e, "rebalance failed"),
        }
    }
}

/// Runs the connector of `area` until `shutdown`. `endpoint` overrides the definition's.
pub async fn run(
    settings: Settings,
    area: Area,
    endpoint: Option<String>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    run_with_health(settings, area, endpoint, Health::default(), shutdown).await
}

/// [`run`], keeping `health` current for the process's `/readyz`.
pub async fn run_with_health(
    settings: Settings,
    area: Area,
    endpoint: Option<String>,
    health: Health,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut def = ConnectorDefinition::load(&settings.connectors_dir, area)?;
    if let Some(e) = endpoint {
        def.endpoint = e;
    }
    let protocol = Protocol::build(&def).context("connector definition")?;
    let codec = Arc::new(Codec::new());
    let field_keys = crate::vault::keys(&settings)?;
    let publisher = Publisher::of(&settings, Duration::from_secs(30))?;
    let ledger = Arc::new(Ledger::new(
        settings.connector_dedupe_window.max(1) as usize
            * settings.topic_partitions.max(1) as usize,
    ));
    let results_topic = settings.results_topic(area);
    let loaded = {
        let (ledger, codec, brokers, topic) = (
            ledger.clone(),
            codec.clone(),
            kafka::Link::of(&settings),
            results_topic.clone(),
        );
        let window = settings.connector_dedupe_window;
        tokio::task::spawn_blocking(move || ledger.load_tail(&brokers, &topic, window, &codec))
            .await??
    };
    tracing::info!(
        area = area.code(),
        operator = def.operator,
        loaded,
        "connector starting"
    );

    let (revoked_tx, mut revoked_rx) = mpsc::unbounded_channel();
    let group = format!("{}.connector.{}", settings.topic_prefix, area.code());
    let requests_topic = settings.requests_topic(area);
    let holding: Shared = Arc::new(Mutex::new(Holding::new()));
    let create = || -> KafkaResult<StreamConsumer<RebalanceNotes>> {
        let notes = RebalanceNotes {
            revoked: revoked_tx.clone(),
            holding: holding.clone(),
            area: area.code(),
        };
        kafka::group_consumer_config(&kafka::Link::of(&settings), &group).create_with_context(notes)
    };
    let mut consumer = kafka::ClosedApart::new(create()?);
    consumer.subscribe(&[&requests_topic])?;
    let (rejoin_tx, mut rejoin_rx) = mpsc::unbounded_channel::<()>();
    let probe: BaseConsumer =
        kafka::assigned_consumer_config(&kafka::Link::of(&settings), &group).create()?;
    tokio::spawn(watch(
        Watched {
            area,
            group: group.clone(),
            topic: requests_topic.clone(),
        },
        Arc::new(probe),
        holding.clone(),
        health,
        rejoin_tx,
        shutdown.clone(),
    ));

    let worker = Arc::new(Worker {
        area,
        protocol,
        retry: def.retry,
        poll_interval: def.poll_interval(),
        sent_after: Duration::from_millis(settings.connector_sent_after_ms),
        codec: codec.clone(),
        publisher: publisher.clone(),
        ledger,
        results_topic,
        dlq_topic: settings.dlq_topic(area),
        requests_topic: requests_topic.clone(),
        circuit: Circuit::new(area.code(), def.circuit),
        shutdown: shutdown.clone(),
        field_keys,
    });
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(i32, i64)>();
    let mut lanes = Lanes::new(
        def.lanes(settings.connector_lanes),
        handling(worker.clone(), done_tx.clone()),
    );
    let mut tracker = OffsetTracker::default();

    loop {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            Some(parts) = revoked_rx.recv() => parts.into_iter().for_each(|p| tracker.forget(p)),
            Some((partition, offset)) = done_rx.recv() => {
                if let Some(safe) = tracker.finish(partition, offset) {
                    // A partition revoked meanwhile refuses the store; its new owner redoes it.
                    let _ = consumer.store_offset(&requests_topic, partition, safe);
                }
                let mut h = holding.lock().expect("holding lock");
                h.in_flight = tracker.in_flight();
                h.last_progress = Instant::now();
            }
            Some(()) = rejoin_rx.recv() => {
                // Leave the group (committing what is stored), then join it as a new member.
                let old = std::mem::replace(&mut consumer, kafka::ClosedApart::new(create()?));
                tokio::task::spawn_blocking(move || drop(old)).await?;
                // Whatever the old member had taken is redone by whoever holds it now; the
                // ledger skips what finished meanwhile.
                while let Ok(parts) = revoked_rx.try_recv() {
                    parts.into_iter().for_each(|p| tracker.forget(p));
                }
                tracker = OffsetTracker::default();
                let mut h = holding.lock().expect("holding lock");
                h.assigned.clear();
                h.next.clear();
                h.in_flight = 0;
                h.last_progress = Instant::now();
                drop(h);
                consumer.subscribe(&[&requests_topic])?;
            }
            msg = consumer.recv() => {
                let msg = match msg {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::warn!(error = %e, "consumer error");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                };
                let job = Job {
                    partition: msg.partition(),
                    offset: msg.offset(),
                    key: msg.key().map(<[u8]>::to_vec).unwrap_or_default(),
                    payload: msg.payload().map(<[u8]>::to_vec).unwrap_or_default(),
                    trace: crate::telemetry::from_record(&msg),
                    field_key: crate::vault::header_of(&msg, crate::vault::KEY_HEADER).map(<[u8]>::to_vec),
                };
                tracker.start(job.partition, job.offset);
                {
                    let mut h = holding.lock().expect("holding lock");
                    h.next.insert(job.partition, job.offset + 1);
                    h.in_flight = tracker.in_flight();
                    h.last_progress = Instant::now();
                }
                lanes.push(job.key.clone(), job).await;
            }
        }
    }
    // Stop taking work: the lanes finish the call in hand, drop what is queued (its offset
    // stays unstored, so the next owner takes it), and end; the held applications give up.
    drop(lanes);
    drop(done_tx);
    let drained = tokio::time::timeout(DRAIN_WITHIN, async {
        while let Some((partition, offset)) = done_rx.recv().await {
            if let Some(safe) = tracker.finish(partition, offset) {
                let _ = consumer.store_offset(&requests_topic, partition, safe);
            }
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            area = area.code(),
            in_flight = tracker.in_flight(),
            "calls still in flight at the end of the grace period: the next owner redoes them"
        );
    }
    publisher.flush(Duration::from_secs(5));
    // Commit what is stored, then leave the group so its partitions move at once.
    tokio::task::spawn_blocking(move || {
        if let Err(e) = consumer.commit_consumer_state(rdkafka::consumer::CommitMode::Sync) {
            tracing::debug!(error = %e, "final commit: nothing stored or refused");
        }
        drop(consumer);
    })
    .await?;
    tracing::info!(area = area.code(), "connector stopped");
    Ok(())
}

/// The `service.name` of the connector's spans.
const CONNECTOR_SERVICE: &str = "kirikae-connector";

/// What a lane does with each request: handles it (unless the connector is stopping: then it
/// is left to whoever takes the partition next) and reports its offset once done.
fn handling(worker: Arc<Worker>, done: mpsc::UnboundedSender<(i32, i64)>) -> Run<Job> {
    Arc::new(move |job: Job| {
        let (worker, done) = (worker.clone(), done.clone());
        Box::pin(async move {
            if worker.shutdown.is_cancelled() {
                // Queued, not started: left to whoever takes the partition next.
                return;
            }
            let (partition, offset) = (job.partition, job.offset);
            let trace = job
                .trace
                .map(|t| t.child())
                .unwrap_or_else(TraceContext::root);
            let span = crate::telemetry::Span::start(
                CONNECTOR_SERVICE,
                format!("handle {}", worker.requests_topic),
                crate::telemetry::SpanKind::Consumer,
                trace,
                job.trace.map(|t| t.span_id),
            )
            .attribute("kirikae.area", worker.area.code());
            let handled =
                crate::telemetry::in_trace(CONNECTOR_SERVICE, trace, worker.handle(&job)).await;
            span.end(!matches!(handled, Handled::NotDone));
            match handled {
                Handled::Done => {
                    let _ = done.send((partition, offset));
                }
                Handled::NotDone => {}
                Handled::Held(held) => {
                    let (worker, done) = (worker.clone(), done.clone());
                    tokio::spawn(crate::telemetry::in_trace(
                        CONNECTOR_SERVICE,
                        trace,
                        async move {
                            if worker.hold(held).await {
                                let _ = done.send((partition, offset));
                            }
                        },
                    ));
                }
            }
        })
    })
}

/// Every [`CHECK_EVERY`], reads the group's committed offsets and the topic's ends, judges
/// what the connector holds, and keeps `health` and the metrics current; asks the main loop to
/// rejoin the group when holding nothing has lasted.
async fn watch(
    watched: Watched,
    probe: Arc<BaseConsumer>,
    holding: Shared,
    health: Health,
    rejoin: mpsc::UnboundedSender<()>,
    shutdown: CancellationToken,
) {
    let Watched { area, group, topic } = watched;
    let mut judge = Judge::default();
    let mut said_not_ready = false;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(CHECK_EVERY) => {}
        }
        let (p, t) = (probe.clone(), topic.clone());
        let ends = match tokio::task::spawn_blocking(move || backlog(&p, &t)).await {
            Ok(Ok(ends)) => ends,
            // The broker's own readiness check reports an unreachable broker.
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "connector watch: no offsets");
                continue;
            }
            Err(_) => continue,
        };
        for e in &ends {
            metrics::ConsumerLag {
                group: &group,
                topic: &topic,
                partition: e.partition,
                records: (e.end - e.committed).max(0),
            }
            .emit();
        }
        let now = Instant::now();
        let seen = Seen::of(&holding.lock().expect("holding lock"), &ends, now);
        let verdict = judge.judge(now, &seen);
        metrics::ConnectorHolding {
            area: area.code(),
            assigned_partitions: seen.assigned as i64,
            stalled: verdict.state.is_err(),
        }
        .emit();
        match &verdict.state {
            Err(why) if !said_not_ready => {
                tracing::warn!(area = area.code(), why, "connector not ready");
                said_not_ready = true;
            }
            Ok(()) if said_not_ready => {
                tracing::info!(area = area.code(), "connector ready");
                said_not_ready = false;
            }
            _ => {}
        }
        if verdict.rejoin {
            tracing::warn!(
                area = area.code(),
                unread = seen.unread,
                "holding no partition while requests are unread: leaving the group and joining again"
            );
            let _ = rejoin.send(());
        }
        health.set(verdict.state);
    }
}

/// What the watch looks at: the area's consumer group on its request topic.
struct Watched {
    area: Area,
    group: String,
    topic: String,
}

/// One partition of the request topic: the group's committed offset (the log start when it has
/// none) and the log end.
#[derive(Debug, Clone, Copy, PartialEq)]
struct PartitionEnds {
    partition: i32,
    committed: i64,
    end: i64,
}

/// Reads the group's committed offsets and the log ends of every partition of `topic`.
/// Blocking: run it off the async threads.
fn backlog(probe: &BaseConsumer, topic: &str) -> KafkaResult<Vec<PartitionEnds>> {
    let timeout = Duration::from_secs(5);
    let meta = probe.fetch_metadata(Some(topic), timeout)?;
    let mut tpl = TopicPartitionList::new();
    for p in meta.topics().iter().flat_map(|t| t.partitions()) {
        tpl.add_partition(topic, p.id());
    }
    let committed = probe.committed_offsets(tpl, timeout)?;
    committed
        .elements()
        .iter()
        .map(|e| {
            let (low, end) = probe.fetch_watermarks(topic, e.partition(), timeout)?;
            let committed = match e.offset() {
                Offset::Offset(o) => o.max(low),
                _ => low,
            };
            Ok(PartitionEnds {
                partition: e.partition(),
                committed,
                end,
            })
        })
        .collect()
}

/// What one look at the topic and the connector shows.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Seen {
    /// Partitions this connector holds.
    assigned: usize,
    /// Records past the group's committed offsets, over every partition.
    unread: i64,
    /// Records of the partitions it holds that it has not taken yet.
    waiting: i64,
    /// Requests taken and not finished.
    in_flight: usize,
    /// Since the connector last took or finished a request (or was assigned partitions).
    idle: Duration,
}

impl Seen {
    fn of(h: &Holding, ends: &[PartitionEnds], now: Instant) -> Seen {
        let unread = ends.iter().map(|e| (e.end - e.committed).max(0)).sum();
        let waiting = ends
            .iter()
            .filter(|e| h.assigned.contains(&e.partition))
            .map(|e| {
                let taken = h.next.get(&e.partition).copied().unwrap_or(0);
                (e.end - e.committed.max(taken)).max(0)
            })
            .sum();
        Seen {
            assigned: h.assigned.len(),
            unread,
            waiting,
            in_flight: h.in_flight,
            idle: now.saturating_duration_since(h.last_progress),
        }
    }
}

/// The watch's conclusion: readiness, and whether to leave the group and join it again.
#[derive(Debug, PartialEq)]
struct Verdict {
    state: Result<(), String>,
    rejoin: bool,
}

/// Turns looks into verdicts, remembering since when each bad condition has held.
#[derive(Debug, Default)]
struct Judge {
    unheld_since: Option<Instant>,
    waiting_since: Option<Instant>,
    /// How long holding nothing must last before the next rejoin.
    rejoin_after: Option<Duration>,
}

impl Judge {
    fn judge(&mut self, now: Instant, seen: &Seen) -> Verdict {
        if seen.assigned > 0 {
            // Holding something again: the next stall gets the first, short patience.
            self.rejoin_after = None;
        }
        if seen.assigned == 0 && seen.unread > 0 {
            self.waiting_since = None;
            let since = *self.unheld_since.get_or_insert(now);
            let lasted = now.saturating_duration_since(since);
            let patience = *self.rejoin_after.get_or_insert(REJOIN_AFTER);
            let rejoin = lasted >= patience;
            if rejoin {
                self.unheld_since = Some(now);
                self.rejoin_after = Some((patience * 2).min(REJOIN_AT_MOST_EVERY));
            }
            return Verdict {
                state: Err(format!(
                    "holds no partition of its request topic while {} requests are unread (for {} s)",
                    seen.unread,
                    lasted.as_secs()
                )),
                rejoin,
            };
        }
        self.unheld_since = None;
        if seen.waiting == 0 {
            self.waiting_since = None;
            return Verdict {
                state: Ok(()),
                rejoin: false,
            };
        }
        let since = *self.waiting_since.get_or_insert(now);
        let stuck = now.saturating_duration_since(since).min(seen.idle);
        if stuck < PROGRESS_WITHIN {
            return Verdict {
                state: Ok(()),
                rejoin: false,
            };
        }
        Verdict {
            state: Err(format!(
                "took and finished no request for {} s while {} wait ({} in hand)",
                stuck.as_secs(),
                seen.waiting,
                seen.in_flight
            )),
            rejoin: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(assigned: usize, unread: i64, waiting: i64, idle: u64) -> Seen {
        Seen {
            assigned,
            unread,
            waiting,
            in_flight: 0,
            idle: Duration::from_secs(idle),
        }
    }

    #[test]
    fn holding_nothing_while_requests_are_unread_is_not_ready_and_rejoins_after_a_session() {
        let mut j = Judge::default();
        let t0 = Instant::now();
        let v = j.judge(t0, &seen(0, 5, 0, 0));
        assert!(v.state.unwrap_err().contains("holds no partition"));
        assert!(!v.rejoin, "a rebalance may still be under way");
        assert!(!j.judge(t0 + REJOIN_AFTER / 2, &seen(0, 5, 0, 0)).rejoin);
        assert!(j.judge(t0 + REJOIN_AFTER, &seen(0, 5, 0, 0)).rejoin);
        // A rejoin that did not help: the next one waits twice as long.
        let t1 = t0 + REJOIN_AFTER;
        assert!(!j.judge(t1 + REJOIN_AFTER, &seen(0, 5, 0, 0)).rejoin);
        assert!(j.judge(t1 + REJOIN_AFTER * 2, &seen(0, 5, 0, 0)).rejoin);
        // Holding partitions again resets the patience.
        let t2 = t1 + REJOIN_AFTER * 3;
        assert_eq!(j.judge(t2, &seen(3, 5, 0, 0)).state, Ok(()));
        assert!(!j.judge(t2, &seen(0, 5, 0, 0)).rejoin);
        assert!(j.judge(t2 + REJOIN_AFTER, &seen(0, 5, 0, 0)).rejoin);
    }

    #[test]
    fn holding_nothing_with_nothing_unread_is_ready() {
        let mut j = Judge::default();
        let t0 = Instant::now();
        let v = j.judge(t0, &seen(0, 0, 0, 999));
        assert_eq!(
            v,
            Verdict {
                state: Ok(()),
                rejoin: false
            }
        );
        assert!(!j.judge(t0 + REJOIN_AFTER * 10, &seen(0, 0, 0, 999)).rejoin);
    }

    #[test]
    fn requests_waiting_without_progress_make_it_not_ready_after_a_while() {
        let mut j = Judge::default();
        let t0 = Instant::now();
        // A quiet connector that just got a request: it has had no time to take it.
        assert_eq!(j.judge(t0, &seen(3, 1, 1, 3600)).state, Ok(()));
        assert_eq!(
            j.judge(t0 + PROGRESS_WITHIN / 2, &seen(3, 1, 1, 3600))
                .state,
            Ok(())
        );
        let v = j.judge(t0 + PROGRESS_WITHIN, &seen(3, 1, 1, 3600));
        assert!(
            v.state
                .unwrap_err()
                .contains("took and finished no request")
        );
        assert!(
            !v.rejoin,
            "it holds its partitions; a rejoin would not help"
        );
        // Progress within the window keeps it ready although requests keep waiting.
        assert_eq!(
            j.judge(t0 + PROGRESS_WITHIN * 2, &seen(3, 9, 9, 1)).state,
            Ok(())
        );
        // Nothing waiting: ready.
        assert_eq!(
            j.judge(t0 + PROGRESS_WITHIN * 3, &seen(3, 0, 0, 3600))
                .state,
            Ok(())
        );
    }

    #[test]
    fn a_request_taken_and_held_by_the_operator_is_not_waiting() {
        let mut h = Holding::new();
        h.assigned.extend([0, 1]);
        h.next.insert(0, 8);
        h.in_flight = 1;
        let ends = [
            // Offset 7 is taken and held: committed stays at 7, nothing else came.
            PartitionEnds {
                partition: 0,
                committed: 7,
                end: 8,
            },
            PartitionEnds {
                partition: 1,
                committed: 3,
                end: 5,
            },
            // Another member's partition: unread, but not this connector's to take.
            PartitionEnds {
                partition: 2,
                committed: 0,
                end: 4,
            },
        ];
        let s = Seen::of(&h, &ends, Instant::now());
        assert_eq!((s.assigned, s.unread, s.waiting, s.in_flight), (2, 7, 2, 1));
    }
}
