//! Lanes by point: one point's requests are handled one after another, in the order they came,
//! and the requests of different points at once, up to a bound of calls in flight.
//!
//! Before, a request went to lane `hash(point) % lanes` and so also waited behind any other
//! point that hashed to its lane: with some 25 calls in flight over a batch area's 200 lanes, one
//! request in eight waited for a whole call it had nothing to do with (a batch file's round trip,
//! about a quarter of a second), which was most of the batch areas' p99. Here a point is a lane
//! only while it has a request in hand.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// What a lane does with each of its jobs.
pub type Run<J> = Arc<dyn Fn(J) -> BoxFuture<'static, ()> + Send + Sync>;

/// How many jobs may wait behind busy points, per call in flight: the bound a lane's queue had
/// before, so a burst of one point's requests still stops the consumer rather than memory.
const WAITING_PER_CALL: usize = 16;

/// A job waiting for its point's lane, and its place among the waiting.
type Waiting<J> = (J, OwnedSemaphorePermit);

/// The points with a job in hand, each with the jobs waiting behind it.
type Busy<J> = Arc<Mutex<HashMap<Vec<u8>, VecDeque<Waiting<J>>>>>;

pub struct Lanes<J> {
    busy: Busy<J>,
    calls: Arc<Semaphore>,
    waiting: Arc<Semaphore>,
    run: Run<J>,
}

impl<J: Send + 'static> Lanes<J> {
    /// At most `calls` jobs run at once (never fewer than one).
    pub fn new(calls: usize, run: Run<J>) -> Self {
        let calls = calls.max(1);
        Lanes {
            busy: Arc::default(),
            calls: Arc::new(Semaphore::new(calls)),
            waiting: Arc::new(Semaphore::new(calls * WAITING_PER_CALL)),
            run,
        }
    }

    /// Hands `job` of point `key` to its lane: behind the point's earlier jobs if it has any,
    /// else on a lane of its own once fewer than the bound are running. Waits while the bound
    /// (of calls, or of jobs waiting) is reached. One caller pushes (`&mut`): between the look
    /// and the insert below no other job of the key can arrive.
    pub async fn push(&mut self, key: Vec<u8>, job: J) {
        let busy = self.busy.lock().expect("lanes lock").contains_key(&key);
        let job = if busy {
            let place = self.waiting.clone().acquire_owned().await.expect("open");
            let mut busy = self.busy.lock().expect("lanes lock");
            // The point's lane may have ended while this job waited for a place.
            match busy.get_mut(&key) {
                Some(behind) => {
                    behind.push_back((job, place));
                    None
                }
                None => Some(job),
            }
        } else {
            Some(job)
        };
        if let Some(job) = job {
            self.start(key, job).await;
        }
    }

    async fn start(&mut self, key: Vec<u8>, job: J) {
        let call = self.calls.clone().acquire_owned().await.expect("open");
        self.busy
            .lock()
            .expect("lanes lock")
            .insert(key.clone(), VecDeque::new());
        let (busy, run) = (self.busy.clone(), self.run.clone());
        tokio::spawn(async move {
            let _call = call;
            let mut job = job;
            loop {
                run(job).await;
                let next = {
                    let mut busy = busy.lock().expect("lanes lock");
                    match busy.get_mut(&key).and_then(VecDeque::pop_front) {
                        Some((next, _place)) => Some(next),
                        None => {
                            busy.remove(&key);
                            None
                        }
                    }
                };
                match next {
                    Some(next) => job = next,
                    None => return,
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::sync::mpsc;

    use super::*;

    /// Lanes whose jobs `(name, millis)` sleep, then report their name.
    fn sleeping(
        calls: usize,
    ) -> (
        Lanes<(&'static str, u64)>,
        mpsc::UnboundedReceiver<&'static str>,
    ) {
        let (tx, rx) = mpsc::unbounded_channel();
        let run: Run<(&'static str, u64)> = Arc::new(move |(name, ms)| {
            let tx = tx.clone();
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                let _ = tx.send(name);
            })
        });
        (Lanes::new(calls, run), rx)
    }

    async fn first(rx: &mut mpsc::UnboundedReceiver<&'static str>, n: usize) -> Vec<&'static str> {
        let mut got = Vec::new();
        for _ in 0..n {
            got.push(rx.recv().await.unwrap());
        }
        got
    }

    #[tokio::test]
    async fn a_points_requests_are_handled_in_the_order_they_came() {
        let (mut lanes, mut rx) = sleeping(8);
        lanes.push(b"p".to_vec(), ("first", 300)).await;
        lanes.push(b"p".to_vec(), ("second", 10)).await;
        lanes.push(b"p".to_vec(), ("third", 1)).await;
        assert_eq!(first(&mut rx, 3).await, ["first", "second", "third"]);
    }

    #[tokio::test]
    async fn a_request_does_not_wait_behind_another_points_call() {
        let (mut lanes, mut rx) = sleeping(8);
        lanes.push(b"slow".to_vec(), ("slow", 300)).await;
        lanes.push(b"quick".to_vec(), ("quick", 10)).await;
        assert_eq!(first(&mut rx, 2).await, ["quick", "slow"]);
    }

    #[tokio::test]
    async fn no_more_calls_run_at_once_than_the_bound() {
        let (mut lanes, mut rx) = sleeping(2);
        let started = tokio::time::Instant::now();
        for (key, name) in [(b"a", "a"), (b"b", "b"), (b"c", "c")] {
            lanes.push(key.to_vec(), (name, 100)).await;
        }
        // The third point's call waited for a place: it starts only once one of two ended.
        assert!(started.elapsed() >= Duration::from_millis(100));
        assert_eq!(first(&mut rx, 3).await.len(), 3);
        assert!(started.elapsed() >= Duration::from_millis(200));
    }
}
