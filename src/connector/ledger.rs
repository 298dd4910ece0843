//! The requests (by id and replay generation) this area already has a final result for, so that
//! a redelivered request (after a
//! crash between producing its result and committing its offset, or a rebalance overlap) is
//! recognised and never yields a second result.
//!
//! Filled from the tail of the results topic when the connector starts, then by every result
//! it produces; it keeps the most recent ones only (`connector_dedupe_window` per partition, as
//! many as it reads back at start): a redelivery is of records after the last committed
//! offset, a few seconds' worth, and a ledger of every request ever finished grew by ~50 bytes
//! a request without end. Kafka transactions would make this unnecessary, but not every Kafka-protocol
//! broker offers them, so results are deduplicated by request id instead.

use std::sync::Mutex;

use rdkafka::Message;

use crate::domain::RequestId;
use crate::kafka;
use crate::messages::Codec;
use crate::recent::Recent;

pub struct Ledger {
    finished: Mutex<Recent<(RequestId, i32), ()>>,
}

impl Ledger {
    /// Remembers the last `capacity` finished requests.
    pub fn new(capacity: usize) -> Self {
        Ledger {
            finished: Mutex::new(Recent::new(capacity)),
        }
    }

    /// Whether generation `replay` of request `id` has its final result.
    pub fn contains(&self, id: RequestId, replay: i32) -> bool {
        self.finished
            .lock()
            .expect("ledger lock")
            .contains_key(&(id, replay))
    }

    pub fn insert(&self, id: RequestId, replay: i32) {
        self.finished
            .lock()
            .expect("ledger lock")
            .insert((id, replay), ());
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
        link: &kafka::Link,
        results_topic: &str,
        window: i64,
        codec: &Codec,
    ) -> Result<usize, rdkafka::error::KafkaError> {
        let records = kafka::read_to_end(link, results_topic, |_, high| high - window)?;
        let finals = records
            .iter()
            .filter_map(|m| codec.decode_result(m.payload()?).ok())
            .filter(|r| r.status.is_final())
            .map(|r| self.insert(r.request_id, r.replay))
            .count();
        Ok(finals)
    }
}
