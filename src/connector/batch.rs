//! The batch-file protocol family, client side. The endpoint is a folder, `file://<dir>`: the
//! hub writes request files into `<dir>/inbox/` and the operator writes answer files into
//! `<dir>/outbox/` ([`files`] has the format). [`BatchClient::call`] puts a request in the
//! pending batch and waits for its answer; a background task writes the batch when it holds
//! `batch_max` requests or has waited `batch_wait_ms` (under a temporary name, then renamed,
//! so the operator never reads half a file), polls the outbox, hands each answer line to the
//! waiting request of its id and moves the file to `outbox/done/` (an unreadable one to
//! `outbox/bad/`). No answer within the timeout is a transient [`CallError::Timeout`]: the
//! connector retries, and the operator deduplicates by request id.

pub mod files;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::protocol::{CallError, TsoAnswer};
use crate::domain::{Function, RequestId};
use crate::messages::{RequestRecord, ResultPayload};

/// How often the outbox is looked at.
const POLL: Duration = Duration::from_millis(50);

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
            batch: Vec::new(),
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

/// The background task's state: the batch being filled and the requests waiting for answers.
struct Desk {
    dir: PathBuf,
    batch_max: usize,
    batch_wait: Duration,
    batch: Vec<RequestRecord>,
    waiters: HashMap<RequestId, Vec<(Function, Reply)>>,
    seq: u64,
}

impl Desk {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<(RequestRecord, Reply)>) {
        let mut poll = tokio::time::interval(POLL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut due = Instant::now();
        loop {
            tokio::select! {
                next = rx.recv() => {
                    let Some((request, reply)) = next else { break };
                    if self.batch.is_empty() {
                        due = Instant::now() + self.batch_wait;
                    }
                    self.waiters
                        .entry(request.request_id)
                        .or_default()
                        .push((request.function, reply));
                    self.batch.push(request);
                    if self.batch.len() >= self.batch_max {
                        self.flush();
                    }
                }
                () = tokio::time::sleep_until(due), if !self.batch.is_empty() => self.flush(),
                _ = poll.tick() => self.collect(),
            }
        }
    }

    /// Writes the pending batch as one request file; if that fails, its requests fail as
    /// unreachable (transient).
    fn flush(&mut self) {
        let batch = std::mem::take(&mut self.batch);
        self.seq += 1;
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%3f");
        let name = format!("{stamp}-{:06}.csv", self.seq);
        let inbox = self.dir.join("inbox");
        if let Err(e) = write_whole(&inbox, &name, &files::write_requests(&batch)) {
            tracing::warn!(error = %e, "could not write a request file");
            for request in &batch {
                self.resolve(
                    request.request_id,
                    Err(CallError::Unreachable(e.to_string())),
                );
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
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            let sub = match files::read_answers(&bytes) {
                Ok(answers) => {
                    for (id, answer) in answers {
                        self.resolve(id, answer);
                    }
                    "done"
                }
                Err(e) => {
                    tracing::warn!(error = %e, file = %path.display(), "unreadable answer file");
                    "bad"
                }
            };
            if let Some(name) = path.file_name() {
                let _ = std::fs::rename(&path, outbox.join(sub).join(name));
            }
        }
    }

    /// Answers every call waiting on `id`; an answer of another function than the request's
    /// is malformed.
    fn resolve(&mut self, id: RequestId, answer: Result<TsoAnswer, CallError>) {
        for (function, reply) in self.waiters.remove(&id).unwrap_or_default() {
            let fits = match &answer {
                Ok(TsoAnswer::Completed(ResultPayload::FacilityInquiry(_))) => {
                    function == Function::FacilityInquiry
                }
                Ok(TsoAnswer::Completed(ResultPayload::SwitchStart(_))) => {
                    function == Function::SwitchStart
                }
                _ => true,
            };
            let answer = if fits {
                answer.clone()
            } else {
                let reason = format!(
                    "an answer of another function than {}",
                    function.service_id()
                );
                Err(CallError::Malformed(reason))
            };
            let _ = reply.send(answer);
        }
    }
}

/// Writes `bytes` to `dir/name` whole: to a hidden temporary name first, then renamed.
pub fn write_whole(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let temp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&temp, bytes)?;
    std::fs::rename(&temp, dir.join(name))
}

/// The complete `*.csv` files directly in `dir` (not the hidden temporary ones), by name.
pub fn csv_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.ends_with(".csv") && !n.starts_with('.'))
        })
        .collect();
    found.sort();
    found
}
