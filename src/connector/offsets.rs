//! Which offsets may be committed when requests finish out of order.
//!
//! Requests of different points run concurrently, so a later offset can finish first. An offset
//! may be committed only when it and every offset before it in its partition are done: a crash
//! then redelivers work at most, never skips it.

use std::collections::{BTreeSet, HashMap};

#[derive(Debug, Default)]
pub struct OffsetTracker {
    partitions: HashMap<i32, PartitionState>,
}

#[derive(Debug, Default)]
struct PartitionState {
    /// The first offset this consumer took in the partition: nothing below it is its to store.
    floor: Option<i64>,
    in_flight: BTreeSet<i64>,
    highest_done: Option<i64>,
    stored: Option<i64>,
}

impl OffsetTracker {
    /// Records that `offset` was handed to a worker.
    pub fn start(&mut self, partition: i32, offset: i64) {
        let p = self.partitions.entry(partition).or_default();
        p.floor = Some(p.floor.map_or(offset, |f| f.min(offset)));
        p.in_flight.insert(offset);
    }

    /// Records that `offset` is done; returns the offset now safe to store, if it moved.
    pub fn finish(&mut self, partition: i32, offset: i64) -> Option<i64> {
        let p = self.partitions.get_mut(&partition)?;
        if !p.in_flight.remove(&offset) {
            return None;
        }
        p.highest_done = p.highest_done.max(Some(offset));
        let safe = match p.in_flight.first() {
            Some(&lowest) => Some(lowest - 1).filter(|o| Some(*o) >= p.floor),
            None => p.highest_done,
        }?;
        if p.stored.is_some_and(|s| s >= safe) {
            return None;
        }
        p.stored = Some(safe);
        Some(safe)
    }

    /// Forgets partitions this consumer no longer owns after a rebalance.
    pub fn forget(&mut self, partition: i32) {
        self.partitions.remove(&partition);
    }

    pub fn in_flight(&self) -> usize {
        self.partitions.values().map(|p| p.in_flight.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offset_is_committed_only_when_every_earlier_one_is_done() {
        let mut t = OffsetTracker::default();
        for o in 10..=13 {
            t.start(0, o);
        }
        assert_eq!(t.finish(0, 12), None, "10 and 11 still running");
        assert_eq!(t.finish(0, 10), Some(10));
        assert_eq!(t.finish(0, 11), Some(12), "12 was already done");
        assert_eq!(t.finish(0, 13), Some(13));
        assert_eq!(t.in_flight(), 0);
    }

    #[test]
    fn partitions_are_tracked_apart() {
        let mut t = OffsetTracker::default();
        t.start(0, 5);
        t.start(1, 7);
        assert_eq!(t.finish(1, 7), Some(7));
        assert_eq!(t.finish(0, 5), Some(5));
    }

    #[test]
    fn a_forgotten_partition_stores_nothing() {
        let mut t = OffsetTracker::default();
        t.start(2, 1);
        t.forget(2);
        assert_eq!(t.finish(2, 1), None);
    }
}
