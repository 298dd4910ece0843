//! The connector's main loop: consume an area's requests, spread them over worker lanes by point
//! id (one point's requests stay in order), and store each offset only once it and all before it
//! have their result durably produced.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::{ClientContext, Message};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::definition::ConnectorDefinition;
use super::ledger::Ledger;
use super::offsets::OffsetTracker;
use super::protocol::Protocol;
use super::worker::{Handled, Job, Worker};
use crate::config::Settings;
use crate::domain::Area;
use crate::kafka::{self, Publisher};
use crate::messages::Codec;

/// Tells the main loop which partitions a rebalance took away.
struct RebalanceNotes(mpsc::UnboundedSender<Vec<i32>>);

impl ClientContext for RebalanceNotes {}

impl ConsumerContext for RebalanceNotes {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            let parts = tpl.elements().iter().map(|e| e.partition()).collect();
            let _ = self.0.send(parts);
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
    let mut def = ConnectorDefinition::load(&settings.connectors_dir, area)?;
    if let Some(e) = endpoint {
        def.endpoint = e;
    }
    let protocol = Protocol::build(&def).context("connector definition")?;
    let codec = Arc::new(Codec::new());
    let publisher = Publisher::new(
        &settings.kafka_brokers,
        Duration::from_secs(30),
        settings.kafka_idempotence,
    )?;
    let ledger = Arc::new(Ledger::default());
    let results_topic = settings.results_topic(area);
    let loaded = {
        let (ledger, codec, brokers, topic) = (
            ledger.clone(),
            codec.clone(),
            settings.kafka_brokers.clone(),
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
    let consumer: StreamConsumer<RebalanceNotes> =
        kafka::group_consumer_config(&settings.kafka_brokers, &group)
            .create_with_context(RebalanceNotes(revoked_tx))?;
    let requests_topic = settings.requests_topic(area);
    consumer.subscribe(&[&requests_topic])?;

    let worker = Arc::new(Worker {
        area,
        protocol,
        retry: def.retry,
        poll_interval: def.poll_interval(),
        codec: codec.clone(),
        publisher: publisher.clone(),
        ledger,
        results_topic,
        dlq_topic: settings.dlq_topic(area),
        shutdown: shutdown.clone(),
    });
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(i32, i64)>();
    let lanes: Vec<mpsc::Sender<Job>> = (0..settings.connector_lanes.max(1))
        .map(|_| spawn_lane(worker.clone(), done_tx.clone()))
        .collect();
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
                };
                tracker.start(job.partition, job.offset);
                let lane = lane_of(&job.key, lanes.len());
                if lanes[lane].send(job).await.is_err() {
                    break;
                }
            }
        }
    }
    drop(lanes);
    publisher.flush(Duration::from_secs(5));
    tracing::info!(area = area.code(), "connector stopped");
    Ok(())
}

fn lane_of(key: &[u8], lanes: usize) -> usize {
    let mut h = DefaultHasher::new();
    key.hash(&mut h);
    (h.finish() % lanes as u64) as usize
}

fn spawn_lane(worker: Arc<Worker>, done: mpsc::UnboundedSender<(i32, i64)>) -> mpsc::Sender<Job> {
    let (tx, mut rx) = mpsc::channel::<Job>(16);
    tokio::spawn(async move {
        while let Some(job) = rx.recv().await {
            let (partition, offset) = (job.partition, job.offset);
            match worker.handle(&job).await {
                Handled::Done => {
                    let _ = done.send((partition, offset));
                }
                Handled::NotDone => {}
                Handled::Held(held) => {
                    let (worker, done) = (worker.clone(), done.clone());
                    tokio::spawn(async move {
                        if worker.hold(held).await {
                            let _ = done.send((partition, offset));
                        }
                    });
                }
            }
        }
    });
    tx
}
