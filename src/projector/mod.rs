//! The projector: reads the request and result topics of every area and keeps the status tables
//! in PostgreSQL. Its consumer positions are stored in the same transaction as the rows they
//! produced, so a crash neither loses nor doubles a status change, and replaying the topics
//! into an empty database rebuilds the same state.

mod apply;

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;
use deadpool_postgres::Pool;
use rdkafka::consumer::{Consumer as _, StreamConsumer};
use rdkafka::message::OwnedMessage;
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::domain::Area;
use crate::kafka;
use crate::messages::Codec;

const BATCH_MAX: usize = 500;
const BATCH_WAIT: Duration = Duration::from_millis(20);
const LAG_EVERY_MS: &str = "5000";

type Consumer = StreamConsumer<crate::telemetry::LagFromStatistics>;

/// Runs the projector until `shutdown`.
pub async fn run(
    settings: Settings,
    pool: Pool,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let codec = Codec::new();
    let keys = crate::vault::keys(&settings)?;
    let group = format!("{}.projector", settings.topic_prefix);
    // librdkafka's statistics give each partition's lag (kirikae_consumer_lag_records).
    let consumer: Consumer = kafka::assigned_consumer_config(&kafka::Link::of(&settings), &group)
        .set("statistics.interval.ms", LAG_EVERY_MS)
        .create_with_context(crate::telemetry::LagFromStatistics::new(&group))?;
    let topics: Vec<String> = Area::ALL
        .into_iter()
        .flat_map(|a| [settings.requests_topic(a), settings.results_topic(a)])
        .chain([settings.intermediations_topic()])
        .collect();
    let assignment = assignment(&consumer, &pool, &topics).await?;
    consumer.assign(&assignment)?;
    tracing::info!(partitions = assignment.count(), "projector starting");

    while !shutdown.is_cancelled() {
        let batch = tokio::select! {
            _ = shutdown.cancelled() => break,
            b = next_batch(&consumer) => b,
        };
        if batch.is_empty() {
            continue;
        }
        let storing = std::time::SystemTime::now();
        let mut backoff = Duration::from_millis(100);
        // A batch is applied whole or not at all; on a database error it is tried again.
        while let Err(e) =
            apply::apply_batch(&pool, &codec, &keys, &settings.topic_prefix, &batch).await
        {
            tracing::warn!(
                error = format!("{e:#}"),
                "projector could not apply a batch; retrying"
            );
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = tokio::time::sleep(backoff) => backoff = (backoff * 2).min(Duration::from_secs(5)),
            }
        }
        // The last hop of each record's trace.
        for m in &batch {
            if let Some(trace) = crate::telemetry::from_record(m) {
                tracing::debug!(trace_id = %trace.trace_id_hex(), topic = m.topic(), offset = m.offset(), "projected");
                crate::telemetry::Span::start(
                    "kirikae-projector",
                    format!("project {}", m.topic()),
                    crate::telemetry::SpanKind::Consumer,
                    trace.child(),
                    Some(trace.span_id),
                )
                .started_at(storing)
                .end(true);
            }
        }
    }
    Ok(())
}

/// Every partition of every topic, starting where the database says the projector stopped.
async fn assignment(
    consumer: &Consumer,
    pool: &Pool,
    topics: &[String],
) -> anyhow::Result<TopicPartitionList> {
    let client = pool.get().await?;
    let stored: HashMap<(String, i32), i64> = client
        .query(
            "SELECT topic, partition, next_offset FROM projector_offsets",
            &[],
        )
        .await?
        .into_iter()
        .map(|r| ((r.get(0), r.get(1)), r.get(2)))
        .collect();
    let mut tpl = TopicPartitionList::new();
    for topic in topics {
        let meta = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .with_context(|| format!("metadata of {topic}"))?;
        for p in meta.topics().iter().flat_map(|t| t.partitions()) {
            let offset = match stored.get(&(topic.clone(), p.id())) {
                Some(&o) => start_at(consumer, topic, p.id(), o)?,
                None => Offset::Beginning,
            };
            tpl.add_partition_offset(topic, p.id(), offset)?;
        }
    }
    Ok(tpl)
}

/// Where to resume a partition the database has a position for. A position past the end of
/// the log means the log is not the one the database followed (a rebuilt cluster, a recreated
/// topic): it is read again from its beginning, which every write here tolerates.
fn start_at(
    consumer: &Consumer,
    topic: &str,
    partition: i32,
    stored: i64,
) -> anyhow::Result<Offset> {
    let (_, high) = consumer.fetch_watermarks(topic, partition, Duration::from_secs(10))?;
    if stored <= high {
        return Ok(Offset::Offset(stored));
    }
    tracing::warn!(
        topic,
        partition,
        stored,
        high,
        "stored position is past the log's end: reading it again from the beginning"
    );
    Ok(Offset::Beginning)
}

/// Waits for one record, then takes whatever else arrives within a few milliseconds.
async fn next_batch(consumer: &Consumer) -> Vec<OwnedMessage> {
    let mut batch = Vec::new();
    match consumer.recv().await {
        Ok(m) => batch.push(m.detach()),
        Err(e) => {
            tracing::warn!(error = %e, "projector consumer error");
            tokio::time::sleep(Duration::from_millis(200)).await;
            return batch;
        }
    }
    let deadline = tokio::time::Instant::now() + BATCH_WAIT;
    while batch.len() < BATCH_MAX {
        match tokio::time::timeout_at(deadline, consumer.recv()).await {
            Ok(Ok(m)) => batch.push(m.detach()),
            _ => break,
        }
    }
    batch
}

pub(crate) fn message_age_seconds(m: &OwnedMessage) -> Option<i64> {
    let ts = m.timestamp().to_millis()?;
    Some((chrono::Utc::now().timestamp_millis() - ts).max(0) / 1000)
}
