//! The requests (by id and replay generation) this area already has a final result for, so that
//! a redelivered request (after a
//! crash between producing its result and committing its offset, or a rebalance overlap) is
//! recognised and never yields a second result.
//!
//! Filled from the tail of the results topic when the connector starts, then by every result
//! it produces. Kafka transactions would make this unnecessary, but not every Kafka-protocol
//! broker offers them, so results are deduplicated by request id instead.

use std::collections::HashSet;
use std::sync::Mutex;

use rdkafka::Message;

use crate::domain::RequestId;
use crate::kafka;
use crate::messages::Codec;

#[derive(Default)]
pub struct Ledger {
    finished: Mutex<HashSet<(RequestId, i32)>>,
}

impl Ledger {
    /// Whether generation `replay` of request `id` has its final result.
    pub fn contains(&self, id: RequestId, replay: i32) -> bool {
        self.finished
            .lock()
            .expect("ledger lock")
            .contains(&(id, replay))
    }

    pub fn insert(&self, id: RequestId, replay: i32) {
        self.finished
            .lock()
            .expect("ledger lock")
            .insert((id, replay));
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
