//! The batch-file protocol family, client side. The endpoint is a folder, `file://<dir>`: the
//! hub writes request files into `<dir>/inbox/` and the operator writes answer files into
//! `<dir>/outbox/` ([`crate::wire::batch`] has the format). [`BatchClient::call`] puts a request in the
//! pending batch of its service id (a file holds one service id) and waits for its answer; a
//! background task writes a batch when it holds `batch_max` requests or has waited
//! `batch_wait_ms` (under a temporary name, then renamed, so the operator never reads half a
//! file), looks at the outbox as soon as a file arrives there (and on a timer besides), hands
//! each answer line to the waiting request of its id and moves the file to `outbox/done/` (an
//! unreadable one to `outbox/bad/`). No answer within the timeout is a transient
//! [`CallError::Timeout`]: the connector retries, and the operator deduplicates by request id.
//! A `PENDING` line is [`TsoAnswer::Pending`]: the worker asks again later by sending the
//! request again.

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::protocol::{CallError, TsoAnswer};
use crate::domain::{Function, RequestId};
use crate::messages::RequestRecord;
use crate::wire::batch as files;
use crate::wire::batch::folder::{Watch, csv_files, write_whole};

/// How often the outbox is looked at while calls wait, besides as soon as a file arrives
/// there: where the folder cannot be watched an answer waits for the next look.
const POLL: Duration = Duration::from_millis(20);

type Reply = oneshot::Sender<Result<TsoAnswer, CallError>>;

/// Delivers requests in files; cheap to share, one background task inside.
pub struct BatchClient {
    queue: mpsc::UnboundedSender<(RequestRecord, Reply)>,
    timeout: Duration,
}

/// The folder of a `file://` endpoint; relative paths resolve from the working directory.
pub fn folder_of(endpoint: &str) -> Result<PathBuf, CallError> {
    match endpoint.strip_prefix("file://") {
        Some(path) if !path.is_empty() => Ok(PathBuf::from(path)),
        _ => Err(CallError::Unreachable(format!(
            "a batch endpoint is file://<folder>, not {endpoint:?}"
        ))),
    }
}

impl BatchClient {
    /// Creates `inbox/` and `outbox/` under the endpoint's folder and starts the background
    /// task, which ends when the client is dropped. Needs a Tokio runtime.
    pub fn new(
        endpoint: &str,
        timeout: Duration,
        batch_max: usize,
        batch_wait: Duration,
    ) -> Result<Self, CallError> {
        let dir = folder_of(endpoint)?;
        for sub in ["inbox", "outbox/done", "outbox/bad"] {
            std::fs::create_dir_all(dir.join(sub))
                .map_err(|e| CallError::Unreachable(format!("{}: {e}", dir.display())))?;
        }
        let (queue, rx) = mpsc::unbounded_channel();
        let desk = Desk {
            dir,
            batch_max: batch_max.max(1),
            batch_wait,
            batches: BTreeMap::new(),
            waiters: HashMap::new(),
            seq: 0,
        };
        tokio::spawn(desk.run(rx));
        Ok(BatchClient { queue, timeout })
    }

    /// Queues `request` and waits for its answer line, at most the timeout.
    pub async fn call(&self, request: &RequestRecord) -> Result<TsoAnswer, CallError> {
        if !files::request_is_encodable(request) {
            let reason = "a text of the request is not in Shift_JIS".to_string();
            return Err(CallError::Malformed(reason));
        }
        let (tx, rx) = oneshot::channel();
        self.queue
            .send((request.clone(), tx))
            .map_err(|_| CallError::Unreachable("the batch task has stopped".into()))?;
        match tokio::time::timeout(self.timeout, rx).await {
            Err(_) => Err(CallError::Timeout),
            Ok(Err(_)) => Err(CallError::Unreachable("the batch task has stopped".into())),
            Ok(Ok(answer)) => answer,
        }
    }
}

/// The background task's state: the batches being filled, one per function, and the requests
/// waiting for answers.
struct Desk {
    dir: PathBuf,
    batch_max: usize,
    batch_wait: Duration,
    batches: BTreeMap<Function, Batch>,
    waiters: HashMap<RequestId, Vec<(Function, Reply)>>,
    seq: u64,
}

/// The requests of one function waiting to be written, and when they must be.
struct Batch {
    due: Instant,
    requests: Vec<RequestRecord>,
}

impl Desk {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<(RequestRecord, Reply)>) {
        let mut poll = tokio::time::interval(POLL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let watch = Watch::of(&self.dir.join("outbox"));
        loop {
            let due = self.batches.values().map(|b| b.due).min();
            tokio::select! {
                next = rx.recv() => {
                    let Some((request, reply)) = next else { break };
                    let function = request.function;
                    self.waiters
                        .entry(request.request_id)
                        .or_default()
                        .push((function, reply));
                    let due = Instant::now() + self.batch_wait;
                    let batch = self.batches.entry(function).or_insert_with(|| Batch {
                        due,
                        requests: Vec::new(),
                    });
                    batch.requests.push(request);
                    if batch.requests.len() >= self.batch_max {
                        self.flush(function);
                    }
                }
                () = tokio::time::sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => {
                    let now = Instant::now();
                    let over: Vec<Function> = self
                        .batches
                        .iter()
                        .filter(|(_, b)| b.due <= now)
                        .map(|(f, _)| *f)
                        .collect();
                    for function in over {
                        self.flush(function);
                    }
                }
                // Only while a call waits: an idle connector does not look at the folder.
                _ = poll.tick(), if !self.waiters.is_empty() => self.collect(),
                () = watch.arrival(), if !self.waiters.is_empty() => self.collect(),
            }
        }
    }

    /// Writes `function`'s pending batch as one request file; if that fails, its requests fail
    /// as unreachable (transient).
    fn flush(&mut self, function: Function) {
        let Some(batch) = self.batches.remove(&function) else {
            return;
        };
        self.seq += 1;
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%3f").to_string();
        let name = files::file_name(&stamp, self.seq, function);
        let inbox = self.dir.join("inbox");
        let bytes = files::write_requests(function, &batch.requests);
        if let Err(e) = write_whole(&inbox, &name, &bytes) {
            tracing::warn!(error = %e, "could not write a request file");
            for request in &batch.requests {
                let failed = Err(CallError::Unreachable(e.to_string()));
                self.resolve(request.request_id, function, failed);
            }
        }
    }

    /// Reads every answer file in the outbox, oldest name first, and resolves its requests.
    fn collect(&mut self) {
        self.waiters.retain(|_, replies| {
            replies.retain(|(_, reply)| !reply.is_closed());
            !replies.is_empty()
        });
        let outbox = self.dir.join("outbox");
        for path in csv_files(&outbox) {
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            let read = files::function_of(name)
                .ok_or_else(|| CallError::Malformed(format!("{name} names no service id")))
                .and_then(|f| files::read_answers(f, &bytes).map(|answers| (f, answers)));
            let sub = match read {
                Ok((function, answers)) => {
                    for (id, answer) in answers {
                        self.resolve(id, function, answer);
                    }
                    "done"
                }
                Err(e) => {
                    tracing::warn!(error = %e, file = %path.display(), "unreadable answer file");
                    "bad"
                }
            };
            let _ = std::fs::rename(&path, outbox.join(sub).join(name));
        }
    }

    /// Answers every call waiting on `id` with `answer`, from a file of `from`; an answer in
    /// a file of another function than the request's is malformed.
    fn resolve(&mut self, id: RequestId, from: Function, answer: Result<TsoAnswer, CallError>) {
        for (function, reply) in self.waiters.remove(&id).unwrap_or_default() {
            let answer = if function == from {
                answer.clone()
            } else {
                let reason = format!(
                    "an answer of {}, not {}",
                    from.service_id(),
                    function.service_id()
                );
                Err(CallError::Malformed(reason))
            };
            let _ = reply.send(answer);
        }
    }
}
