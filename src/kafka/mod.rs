//! Kafka plumbing shared by every process: the idempotent producer, topic creation, and consumer
//! settings. The hub talks plain Kafka; nothing here knows which broker implementation answers.
//! Every client starts from one [`Link`], so the brokers' address and the transport security
//! (TLS, SASL) reach every producer, consumer and admin client alike.

use std::collections::HashMap;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::util::Timeout;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

use crate::config::{KafkaSaslMechanism, KafkaSecurityProtocol, Settings};

/// Where the brokers are and how to reach them: the first settings of every client config.
#[derive(Debug, Clone)]
pub struct Link {
    brokers: String,
    security: Vec<(&'static str, String)>,
}

impl Link {
    /// The brokers and the transport security the settings name.
    pub fn of(settings: &Settings) -> Self {
        let protocol = match settings.kafka_security_protocol {
            KafkaSecurityProtocol::Plaintext => "plaintext",
            KafkaSecurityProtocol::Ssl => "ssl",
            KafkaSecurityProtocol::SaslSsl => "sasl_ssl",
        };
        let mut security = vec![("security.protocol", protocol.to_string())];
        if settings.kafka_security_protocol != KafkaSecurityProtocol::Plaintext {
            if let Some(ca) = &settings.kafka_ca_file {
                security.push(("ssl.ca.location", ca.display().to_string()));
            }
            // The broker's host name is checked against its certificate (librdkafka's default
            // since 2.0, stated so that no older default can turn it off).
            security.push(("ssl.endpoint.identification.algorithm", "https".into()));
        }
        if settings.kafka_security_protocol == KafkaSecurityProtocol::SaslSsl {
            let mechanism = match settings.kafka_sasl_mechanism {
                KafkaSaslMechanism::Plain => "PLAIN",
                KafkaSaslMechanism::ScramSha256 => "SCRAM-SHA-256",
                KafkaSaslMechanism::ScramSha512 => "SCRAM-SHA-512",
            };
            security.push(("sasl.mechanism", mechanism.into()));
            let user = settings.kafka_sasl_username.clone().unwrap_or_default();
            let password = settings.kafka_sasl_password.clone().unwrap_or_default();
            security.push(("sasl.username", user));
            security.push(("sasl.password", password));
        }
        Link {
            brokers: settings.kafka_brokers.clone(),
            security,
        }
    }

    /// Plain Kafka to `brokers` (a local broker, tests).
    pub fn plaintext(brokers: &str) -> Self {
        Link {
            brokers: brokers.to_string(),
            security: vec![("security.protocol", "plaintext".into())],
        }
    }

    pub fn brokers(&self) -> &str {
        &self.brokers
    }

    /// A client config holding the brokers and the transport security, for the caller to add
    /// its own settings to.
    pub fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.brokers);
        for (key, value) in &self.security {
            config.set(*key, value);
        }
        config
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("Kafka: {0}")]
    Kafka(#[from] KafkaError),
    /// The broker did not acknowledge a record, and what librdkafka knows of its fate.
    #[error("Kafka: {error}{}", if *.possibly_persisted { " (the broker may have written it)" } else { "" })]
    Unacknowledged {
        error: KafkaError,
        /// The record was sent and no answer came (a timeout in flight, a connection lost):
        /// the broker may have written it. False: it never left this process, or the broker
        /// refused it.
        possibly_persisted: bool,
    },
    #[error("the producer went away before the broker answered")]
    Canceled,
}

impl BrokerError {
    /// Whether the record may be on the broker all the same, so that "not sent" cannot be
    /// said of it.
    pub fn possibly_persisted(&self) -> bool {
        matches!(
            self,
            BrokerError::Unacknowledged {
                possibly_persisted: true,
                ..
            } | BrokerError::Canceled
        )
    }
}

/// Where the broker wrote an acknowledged record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    pub partition: i32,
    pub offset: i64,
}

type Acked = Result<Delivery, BrokerError>;

/// The producer's context: each record's acknowledgement, or its failure with librdkafka's
/// message status, goes back to whoever enqueued it. (rdkafka's `FutureProducer` drops the
/// status, and without it a timeout cannot be told from a record never sent.)
struct Acknowledgements;

impl rdkafka::ClientContext for Acknowledgements {}

impl rdkafka::producer::ProducerContext for Acknowledgements {
    type DeliveryOpaque = Box<tokio::sync::oneshot::Sender<Acked>>;

    fn delivery(&self, result: &rdkafka::message::DeliveryResult<'_>, reply: Self::DeliveryOpaque) {
        let acked = match result {
            Ok(m) => Ok(Delivery {
                partition: m.partition(),
                offset: m.offset(),
            }),
            Err((error, m)) => Err(BrokerError::Unacknowledged {
                error: error.clone(),
                possibly_persisted: possibly_persisted(m),
            }),
        };
        let _ = reply.send(acked);
    }
}

/// librdkafka's status of a record that failed: anything but "not persisted" counts as maybe
/// written.
#[allow(unsafe_code)]
fn possibly_persisted(m: &rdkafka::message::BorrowedMessage<'_>) -> bool {
    use rdkafka::bindings::{rd_kafka_message_status, rd_kafka_msg_status_t};
    // SAFETY: `m` borrows the message librdkafka hands to the delivery callback, alive for the
    // callback's duration; rd_kafka_message_status only reads it.
    let status = unsafe { rd_kafka_message_status(m.ptr()) };
    status != rd_kafka_msg_status_t::RD_KAFKA_MSG_STATUS_NOT_PERSISTED
}

/// A record's acknowledgement to come: resolves once the broker answered or the record failed.
pub struct Acknowledgement(tokio::sync::oneshot::Receiver<Acked>);

impl std::future::Future for Acknowledgement {
    type Output = Acked;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Acked> {
        std::pin::Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(BrokerError::Canceled)))
    }
}

/// How long one call of the polling thread lasts. Delivery reports are handled as they arrive
/// within it, so this adds no latency; it sets how often an idle producer wakes (each call
/// still ends by spinning through its last millisecond: at 1 s that was 1.8 ms a second per
/// producer, half of the idle hub's CPU), and how long its thread outlives the last
/// [`Publisher`] handle.
const POLL_WAIT: Duration = Duration::from_secs(5);

/// A producer and the thread that serves its delivery reports, as rdkafka's `ThreadedProducer`
/// but waking every [`POLL_WAIT`] rather than every 100 ms. rdkafka's poll loop truncates the
/// wait left to whole milliseconds, so each call ends by spinning through its last millisecond:
/// with 100 ms that is 1% of a core per producer, and `kirikae up` holds fifteen (measured:
/// 84% of the idle hub's CPU, docs/performance.md).
struct Polled {
    producer: std::sync::Arc<BaseProducer<Acknowledgements>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Polled {
    fn new(config: &ClientConfig) -> Result<Self, BrokerError> {
        let producer: std::sync::Arc<BaseProducer<Acknowledgements>> =
            std::sync::Arc::new(config.create_with_context(Acknowledgements)?);
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (polled, stopped) = (producer.clone(), stop.clone());
        std::thread::Builder::new()
            .name("kafka-producer-poll".into())
            .spawn(move || {
                while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
                    polled.poll(POLL_WAIT);
                }
            })
            .map_err(|e| KafkaError::ClientCreation(e.to_string()))?;
        Ok(Polled { producer, stop })
    }
}

impl Drop for Polled {
    /// The thread ends within [`POLL_WAIT`] and drops the producer with it (which hands every
    /// record still queued its failure); nothing here waits for it.
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A producer with `acks=all`, idempotent unless configured otherwise: a record counts as
/// written only once every in-sync replica has it.
#[derive(Clone)]
pub struct Publisher {
    producer: std::sync::Arc<Polled>,
}

impl Publisher {
    /// The hub's producer as the settings say (brokers, TLS, idempotence); `delivery_timeout`
    /// bounds how long a send may wait for the broker before it is an error.
    pub fn of(settings: &Settings, delivery_timeout: Duration) -> Result<Self, BrokerError> {
        Self::lingering(
            &Link::of(settings),
            delivery_timeout,
            settings.kafka_idempotence,
            settings.kafka_linger_ms,
        )
    }

    /// `delivery_timeout` bounds how long a send may wait for the broker before it is an error.
    pub fn new(
        link: &Link,
        delivery_timeout: Duration,
        idempotent: bool,
    ) -> Result<Self, BrokerError> {
        let linger_ms = Settings::default().kafka_linger_ms;
        Self::lingering(link, delivery_timeout, idempotent, linger_ms)
    }

    fn lingering(
        link: &Link,
        delivery_timeout: Duration,
        idempotent: bool,
        linger_ms: u32,
    ) -> Result<Self, BrokerError> {
        let mut config = link.client_config();
        config
            .set("enable.idempotence", idempotent.to_string())
            .set("acks", "all")
            .set("linger.ms", linger_ms.to_string())
            .set(
                "message.timeout.ms",
                delivery_timeout.as_millis().to_string(),
            )
            // A produce request unanswered for as long fails then too (librdkafka's default
            // is 30 s), with its records' status "possibly persisted".
            .set(
                "request.timeout.ms",
                delivery_timeout.as_millis().to_string(),
            )
            .set("socket.keepalive.enable", "true");
        if !idempotent {
            // Without idempotence only one request in flight keeps a partition's order on retry.
            config.set("max.in.flight.requests.per.connection", "1");
        }
        Ok(Publisher {
            producer: std::sync::Arc::new(Polled::new(&config)?),
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
        self.enqueue(topic, key, payload).await?.await
    }

    /// Enqueues one record and returns its acknowledgement to come. Records of one partition
    /// are written in the order they were enqueued (the producer is idempotent), so a caller may
    /// enqueue an informational record and go on without waiting for it.
    pub async fn enqueue(
        &self,
        topic: &str,
        key: &str,
        payload: &[u8],
    ) -> Result<Acknowledgement, BrokerError> {
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
    ) -> Result<Acknowledgement, BrokerError> {
        // The trace the producing task works for travels with the record (W3C traceparent),
        // naming this publish's own span.
        let publish = crate::telemetry::child_span(
            format!("publish {topic}"),
            crate::telemetry::SpanKind::Producer,
        );
        let trace = publish.as_ref().map(|s| s.context().header());
        let traced;
        let headers = match trace {
            Some(t)
                if !headers
                    .iter()
                    .any(|(k, _)| *k == crate::telemetry::TRACEPARENT) =>
            {
                traced = [headers, &[(crate::telemetry::TRACEPARENT, t)]].concat();
                &traced[..]
            }
            _ => headers,
        };
        let (reply, acknowledged) = tokio::sync::oneshot::channel();
        let mut record = BaseRecord::with_opaque_to(topic, Box::new(reply))
            .key(key)
            .payload(payload);
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
            match self.producer.producer.send(record) {
                Ok(()) => {
                    if let Some(span) = publish {
                        span.attribute("messaging.destination.name", topic)
                            .end(true);
                    }
                    return Ok(Acknowledgement(acknowledged));
                }
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
        self.enqueue_with_headers(topic, key, payload, headers)
            .await?
            .await
    }

    /// Waits for everything queued to be acknowledged (on shutdown).
    pub fn flush(&self, timeout: Duration) {
        let _ = self.producer.producer.flush(Timeout::After(timeout));
    }

    /// Whether the broker answers a metadata request: the readiness check.
    pub fn broker_reachable(&self) -> bool {
        self.producer
            .producer
            .client()
            .fetch_metadata(None, Timeout::After(Duration::from_secs(2)))
            .is_ok()
    }
}

/// Creates the topics that are missing, each with `partitions` partitions and its retention in
/// milliseconds, always stated (`-1`: kept for good; a broker's default, often seven days,
/// would quietly drop a log the projector rebuilds from). A topic that exists keeps its own.
pub async fn ensure_topics(
    link: &Link,
    topics: &[(String, i64)],
    partitions: i32,
    replication: i16,
) -> Result<(), BrokerError> {
    let admin: AdminClient<DefaultClientContext> = link.client_config().create()?;
    let retention: Vec<String> = topics.iter().map(|(_, ms)| ms.to_string()).collect();
    let new: Vec<NewTopic> = topics
        .iter()
        .zip(&retention)
        .map(|((t, _), ms)| {
            NewTopic::new(t, partitions, TopicReplication::Fixed(replication.into()))
                .set("retention.ms", ms)
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
pub fn group_consumer_config(link: &Link, group: &str) -> ClientConfig {
    let mut cfg = link.client_config();
    cfg.set("group.id", group)
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

/// A group consumer that is closed on a thread of its own when dropped, waited for at most
/// [`CLOSE_WAIT`]. Dropping a group consumer closes it, and librdkafka's close can wait
/// forever: an assignment polled while the group terminates makes `rd_kafka_assign` wait for
/// an answer the terminated group never sends (librdkafka#4884; seen once in the suite, as a
/// test whose connector was dropped mid-rebalance and never ended). A close that hangs then
/// costs a parked thread, not the task, runtime or process that dropped the consumer.
pub struct ClosedApart<T: Send + 'static> {
    inner: Option<T>,
    wait: Duration,
}

/// How long dropping a [`ClosedApart`] waits for the close: a close takes about 100 ms, and
/// what it does (leave the group, commit) should be done before the process goes on.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

impl<T: Send + 'static> ClosedApart<T> {
    pub fn new(inner: T) -> Self {
        Self::with_wait(inner, CLOSE_WAIT)
    }

    fn with_wait(inner: T, wait: Duration) -> Self {
        Self {
            inner: Some(inner),
            wait,
        }
    }
}

impl<T: Send + 'static> std::ops::Deref for ClosedApart<T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.inner.as_ref().expect("only taken by drop")
    }
}

impl<T: Send + 'static> Drop for ClosedApart<T> {
    fn drop(&mut self) {
        let Some(inner) = self.inner.take() else {
            return;
        };
        let (closed, done) = std::sync::mpsc::channel();
        let closing = std::thread::Builder::new()
            .name("kafka-close".into())
            .spawn(move || {
                drop(inner);
                let _ = closed.send(());
            });
        // A thread that could not start dropped `inner` with its closure, here.
        if closing.is_ok() && done.recv_timeout(self.wait).is_err() {
            tracing::warn!(
                wait = ?self.wait,
                "a Kafka consumer did not close in time; its close goes on on a thread of its own"
            );
        }
    }
}

/// Settings of a consumer that assigns partitions itself and keeps its positions elsewhere.
pub fn assigned_consumer_config(link: &Link, group: &str) -> ClientConfig {
    let mut cfg = link.client_config();
    cfg.set("group.id", group)
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
    link: &Link,
    topic: &str,
    start: impl Fn(i64, i64) -> i64,
) -> Result<Vec<OwnedMessage>, KafkaError> {
    let consumer: BaseConsumer = assigned_consumer_config(link, "kirikae-reader").create()?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Instant;

    /// A stand-in for a consumer: its drop takes `takes`, or never ends (`None`).
    struct Closing {
        takes: Option<Duration>,
        closed: Arc<AtomicBool>,
    }

    impl Drop for Closing {
        fn drop(&mut self) {
            match self.takes {
                Some(t) => std::thread::sleep(t),
                None => loop {
                    std::thread::park();
                },
            }
            self.closed.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_consumer_that_closes_is_closed_before_its_drop_returns() {
        let closed = Arc::new(AtomicBool::new(false));
        drop(ClosedApart::new(Closing {
            takes: Some(Duration::from_millis(50)),
            closed: closed.clone(),
        }));
        assert!(closed.load(Ordering::SeqCst));
    }

    #[test]
    fn a_consumer_whose_close_never_ends_does_not_hold_up_who_drops_it() {
        let closed = Arc::new(AtomicBool::new(false));
        let consumer = ClosedApart::with_wait(
            Closing {
                takes: None,
                closed: closed.clone(),
            },
            Duration::from_millis(200),
        );
        let (dropped, done) = std::sync::mpsc::channel();
        let started = Instant::now();
        std::thread::spawn(move || {
            drop(consumer);
            let _ = dropped.send(());
        });
        assert!(
            done.recv_timeout(Duration::from_secs(10)).is_ok(),
            "the drop returned"
        );
        assert!(started.elapsed() >= Duration::from_millis(200), "it waited");
        assert!(!closed.load(Ordering::SeqCst));
    }

    fn get(config: &ClientConfig, key: &str) -> Option<String> {
        config.get(key).map(str::to_string)
    }

    #[test]
    fn local_defaults_are_plaintext_without_credentials() {
        let config = Link::of(&Settings::default()).client_config();
        assert_eq!(
            get(&config, "bootstrap.servers").as_deref(),
            Some("127.0.0.1:9092")
        );
        assert_eq!(
            get(&config, "security.protocol").as_deref(),
            Some("plaintext")
        );
        assert_eq!(get(&config, "sasl.username"), None);
        assert_eq!(get(&config, "ssl.ca.location"), None);
    }

    #[test]
    fn sasl_ssl_settings_reach_every_client_config() {
        let settings = Settings {
            kafka_brokers: "broker-a:9093".into(),
            kafka_security_protocol: KafkaSecurityProtocol::SaslSsl,
            kafka_sasl_mechanism: KafkaSaslMechanism::ScramSha256,
            kafka_sasl_username: Some("kirikae".into()),
            kafka_sasl_password: Some("secret".into()),
            kafka_ca_file: Some("/etc/kirikae/kafka-ca.pem".into()),
            ..Settings::default()
        };
        let link = Link::of(&settings);
        for config in [
            link.client_config(),
            group_consumer_config(&link, "g"),
            assigned_consumer_config(&link, "g"),
        ] {
            let expect = [
                ("bootstrap.servers", "broker-a:9093"),
                ("security.protocol", "sasl_ssl"),
                ("sasl.mechanism", "SCRAM-SHA-256"),
                ("sasl.username", "kirikae"),
                ("sasl.password", "secret"),
                ("ssl.ca.location", "/etc/kirikae/kafka-ca.pem"),
                ("ssl.endpoint.identification.algorithm", "https"),
            ];
            for (key, value) in expect {
                assert_eq!(get(&config, key).as_deref(), Some(value), "{key}");
            }
        }
    }

    #[test]
    fn librdkafka_is_built_with_tls_and_sasl() {
        // Creating a client checks its configuration: a librdkafka without SSL refuses
        // `security.protocol=ssl` here, not at the first connection.
        for protocol in [KafkaSecurityProtocol::Ssl, KafkaSecurityProtocol::SaslSsl] {
            let settings = Settings {
                kafka_brokers: "127.0.0.1:1".into(),
                kafka_security_protocol: protocol,
                kafka_sasl_username: Some("u".into()),
                kafka_sasl_password: Some("p".into()),
                ..Settings::default()
            };
            let made = Publisher::new(&Link::of(&settings), Duration::from_secs(1), true);
            assert!(made.is_ok(), "{protocol:?}: {:?}", made.err());
        }
    }
}
