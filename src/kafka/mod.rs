//! Kafka plumbing shared by every process: the idempotent producer, topic creation, and consumer
//! settings. The hub talks plain Kafka; nothing here knows which broker implementation answers.

use std::collections::HashMap;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

pub use rdkafka::producer::future_producer::Delivery;

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("Kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("the producer went away before the broker answered")]
    Canceled,
}

/// A producer with `acks=all`, idempotent unless configured otherwise: a record counts as
/// written only once every in-sync replica has it.
#[derive(Clone)]
pub struct Publisher {
    producer: FutureProducer,
}

impl Publisher {
    /// `delivery_timeout` bounds how long a send may wait for the broker before it is an error.
    pub fn new(
        brokers: &str,
        delivery_timeout: Duration,
        idempotent: bool,
    ) -> Result<Self, BrokerError> {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", brokers)
            .set("enable.idempotence", idempotent.to_string())
            .set("acks", "all")
            .set("linger.ms", "2")
            .set(
                "message.timeout.ms",
                delivery_timeout.as_millis().to_string(),
            )
            .set("socket.keepalive.enable", "true");
        if !idempotent {
            // Without idempotence only one request in flight keeps a partition's order on retry.
            config.set("max.in.flight.requests.per.connection", "1");
        }
        Ok(Publisher {
            producer: config.create()?,
        })
    }

    /// Sends one record and waits for the broker's acknowledgement. The record is enqueued at
    /// once (not on first poll), so many concurrent callers keep many sends in flight.
    pub async fn publish(
        &self,
        topic: &str,
        key: &str,
        payload: &[u8],
    ) -> Result<Delivery, BrokerError> {
        let future = self.enqueue(topic, key, payload).await?;
        match future.await {
            Ok(Ok(delivery)) => Ok(delivery),
            Ok(Err((e, _))) => Err(e.into()),
            Err(_) => Err(BrokerError::Canceled),
        }
    }

    /// Enqueues one record and returns the future of its acknowledgement. Records of one
    /// partition are written in the order they were enqueued (the producer is idempotent), so a
    /// caller may enqueue an informational record and go on without waiting for it.
    pub async fn enqueue(
        &self,
        topic: &str,
        key: &str,
        payload: &[u8],
    ) -> Result<DeliveryFuture, BrokerError> {
        self.enqueue_with_headers(topic, key, payload, &[]).await
    }

    /// [`Publisher::enqueue`] with headers: what a record says about itself beside its payload
    /// (a dead letter's error and attempt history), so that its payload stays the original.
    pub async fn enqueue_with_headers(
        &self,
        topic: &str,
        key: &str,
        payload: &[u8],
        headers: &[(&str, String)],
    ) -> Result<DeliveryFuture, BrokerError> {
        let mut record = FutureRecord::to(topic).key(key).payload(payload);
        if !headers.is_empty() {
            let owned = headers
                .iter()
                .fold(OwnedHeaders::new(), |h, (name, value)| {
                    h.insert(Header {
                        key: name,
                        value: Some(value.as_bytes()),
                    })
                });
            record = record.headers(owned);
        }
        loop {
            match self.producer.send_result(record) {
                Ok(f) => return Ok(f),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err((e, _)) => return Err(e.into()),
            }
        }
    }

    /// [`Publisher::publish`] with headers (see [`Publisher::enqueue_with_headers`]).
    pub async fn publish_with_headers(
        &self,
        topic: &str,
        key: &str,
        payload: &[u8],
        headers: &[(&str, String)],
    ) -> Result<Delivery, BrokerError> {
        let future = self
            .enqueue_with_headers(topic, key, payload, headers)
            .await?;
        match future.await {
            Ok(Ok(delivery)) => Ok(delivery),
            Ok(Err((e, _))) => Err(e.into()),
            Err(_) => Err(BrokerError::Canceled),
        }
    }

    /// Waits for everything queued to be acknowledged (on shutdown).
    pub fn flush(&self, timeout: Duration) {
        let _ = self.producer.flush(Timeout::After(timeout));
    }

    /// Whether the broker answers a metadata request: the readiness check.
    pub fn broker_reachable(&self) -> bool {
        self.producer
            .client()
            .fetch_metadata(None, Timeout::After(Duration::from_secs(2)))
            .is_ok()
    }
}

/// Creates the topics that are missing, each with `partitions` partitions and the retention
/// `retention_ms` (`-1`: kept for good, which the hub's guarantees assume: the projector
/// rebuilds the status from the whole log, and the audit topic is the trail's copy; a broker's
/// default, often seven days, would quietly drop them).
pub async fn ensure_topics(
    brokers: &str,
    topics: &[String],
    partitions: i32,
    replication: i16,
    retention_ms: i64,
) -> Result<(), BrokerError> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()?;
    let retention = retention_ms.to_string();
    let new: Vec<NewTopic> = topics
        .iter()
        .map(|t| {
            NewTopic::new(t, partitions, TopicReplication::Fixed(replication.into()))
                .set("retention.ms", &retention)
        })
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    for result in admin.create_topics(&new, &opts).await? {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(KafkaError::AdminOp(code).into()).inspect_err(|_| {
                    tracing::error!(topic, ?code, "could not create topic");
                });
            }
        }
    }
    Ok(())
}

/// Settings of a consumer in a group whose offsets are stored by hand, only after the work a
/// message asked for is durably done; librdkafka then commits what was stored.
pub fn group_consumer_config(brokers: &str, group: &str) -> ClientConfig {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "500")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "10000")
        .set("heartbeat.interval.ms", "1000")
        .set("enable.partition.eof", "false")
        .set("fetch.wait.max.ms", FETCH_WAIT_MS);
    cfg
}

/// How long a fetch may wait for data. A Kafka broker (and the local tansu with our fetch
/// patch, docs/broker.md) answers as soon as a record arrives, so the wait adds no latency; it
/// only sets how often an idle consumer asks again: 1000 ms keeps the hub's eleven idle
/// consumers at ≈ 4% of a core on the local broker, against ≈ 35% at 100 ms.
const FETCH_WAIT_MS: &str = "1000";

/// Settings of a consumer that assigns partitions itself and keeps its positions elsewhere.
pub fn assigned_consumer_config(brokers: &str, group: &str) -> ClientConfig {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false")
        .set("fetch.wait.max.ms", FETCH_WAIT_MS);
    cfg
}

/// Reads every partition of `topic` from the offset `start(low, high)` picks to the high
/// watermark seen at the start, and returns the records. Blocking: run it off the async threads.
pub fn read_to_end(
    brokers: &str,
    topic: &str,
    start: impl Fn(i64, i64) -> i64,
) -> Result<Vec<OwnedMessage>, KafkaError> {
    let consumer: BaseConsumer = assigned_consumer_config(brokers, "kirikae-reader").create()?;
    let timeout = Duration::from_secs(10);
    let meta = consumer.fetch_metadata(Some(topic), timeout)?;
    let mut tpl = TopicPartitionList::new();
    let mut ends = HashMap::new();
    for p in meta.topics().iter().flat_map(|t| t.partitions()) {
        let (low, high) = consumer.fetch_watermarks(topic, p.id(), timeout)?;
        if high > low {
            let from = start(low, high).clamp(low, high - 1);
            tpl.add_partition_offset(topic, p.id(), Offset::Offset(from))?;
            ends.insert(p.id(), high);
        }
    }
    let mut records = Vec::new();
    if ends.is_empty() {
        return Ok(records);
    }
    consumer.assign(&tpl)?;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !ends.is_empty() {
        if std::time::Instant::now() > deadline {
            return Err(KafkaError::MessageConsumption(
                RDKafkaErrorCode::OperationTimedOut,
            ));
        }
        let Some(msg) = consumer.poll(Duration::from_millis(500)) else {
            continue;
        };
        let msg = msg?;
        if ends
            .get(&msg.partition())
            .is_some_and(|high| msg.offset() + 1 >= *high)
        {
            ends.remove(&msg.partition());
        }
        records.push(msg.detach());
    }
    Ok(records)
}
