//! The requests this area already has a final result for, so that a redelivered request (after a
//! crash between producing its result and committing its offset, or a rebalance overlap) is
//! recognised and never yields a second result.
//!
//! Filled from the tail of the results topic when the connector starts, then by every result
//! it produces. Kafka transactions would make this unnecessary, but not every Kafka-protocol
//! broker offers them, so results are deduplicated by request id instead.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};

use crate::domain::RequestId;
use crate::kafka;
use crate::messages::Codec;

#[derive(Default)]
pub struct Ledger {
    finished: Mutex<HashSet<RequestId>>,
}

impl Ledger {
    pub fn contains(&self, id: &RequestId) -> bool {
        self.finished.lock().expect("ledger lock").contains(id)
    }

    pub fn insert(&self, id: RequestId) {
        self.finished.lock().expect("ledger lock").insert(id);
    }

    pub fn len(&self) -> usize {
        self.finished.lock().expect("ledger lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads the last `window` records of every partition of `results_topic` and remembers the
    /// request ids that have a final result. Blocking: run it off the async threads.
    pub fn load_tail(
        &self,
        brokers: &str,
        results_topic: &str,
        window: i64,
        codec: &Codec,
    ) -> Result<usize, rdkafka::error::KafkaError> {
        let consumer: BaseConsumer =
            kafka::assigned_consumer_config(brokers, "kirikae-ledger-scan").create()?;
        let timeout = Duration::from_secs(10);
        let meta = consumer.fetch_metadata(Some(results_topic), timeout)?;
        let mut tpl = TopicPartitionList::new();
        let mut ends = Vec::new();
        for p in meta.topics().iter().flat_map(|t| t.partitions()) {
            let (low, high) = consumer.fetch_watermarks(results_topic, p.id(), timeout)?;
            if high > low {
                let start = (high - window).max(low);
                tpl.add_partition_offset(results_topic, p.id(), Offset::Offset(start))?;
                ends.push((p.id(), high));
            }
        }
        if ends.is_empty() {
            return Ok(0);
        }
        consumer.assign(&tpl)?;
        let mut found = 0;
        let mut remaining = ends.clone();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !remaining.is_empty() && std::time::Instant::now() < deadline {
            let Some(msg) = consumer.poll(Duration::from_millis(500)) else {
                continue;
            };
            let msg = msg?;
            if let Some(result) = msg.payload().and_then(|b| codec.decode_result(b).ok())
                && result.status.is_final()
            {
                self.insert(result.request_id);
                found += 1;
            }
            let (part, off) = (msg.partition(), msg.offset());
            remaining.retain(|(p, high)| !(*p == part && off + 1 >= *high));
        }
        Ok(found)
    }
}
