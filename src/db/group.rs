//! Group commit: rows that concurrent callers must each see committed before they answer,
//! written together.
//!
//! Each caller hands its item to one writer task and waits. The writer takes everything that
//! queued while its previous commit ran (natural batching: no timer, so a lone caller waits
//! only for its own commit) and commits it in one transaction — one WAL flush for a whole group
//! where every caller used to pay its own. Every caller of a group is told the group's outcome.

use std::future::Future;
use std::pin::Pin;

use deadpool_postgres::Pool;
use tokio::sync::{mpsc, oneshot};

use crate::domain::Refusal;

/// The most items one commit carries; more wait for the next.
const MAX_GROUP: usize = 256;

/// Why a group was not committed, as each of its callers is refused: the database out of reach
/// (503), or a statement it refused (500, as a lone write would have been).
#[derive(Debug, Clone)]
enum Failed {
    Unavailable(String),
    Refused(String),
}

impl From<Refusal> for Failed {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::DatabaseUnavailable(e) => Failed::Unavailable(e),
            Refusal::Internal(e) => Failed::Refused(format!("{e:#}")),
            other => Failed::Refused(other.to_string()),
        }
    }
}

impl From<Failed> for Refusal {
    fn from(f: Failed) -> Self {
        match f {
            Failed::Unavailable(e) => Refusal::DatabaseUnavailable(e),
            Failed::Refused(e) => Refusal::Internal(anyhow::anyhow!(e)),
        }
    }
}

/// How a group is written: one transaction (or one statement) for all of its items.
pub type Commit<T> =
    for<'a> fn(&'a Pool, &'a [T]) -> Pin<Box<dyn Future<Output = Result<(), Refusal>> + Send + 'a>>;

struct Pending<T> {
    item: T,
    done: oneshot::Sender<Result<(), Failed>>,
}

/// The sending half; the writer task ends when the last clone is dropped.
pub struct GroupCommit<T> {
    queue: mpsc::UnboundedSender<Pending<T>>,
    what: &'static str,
}

impl<T> Clone for GroupCommit<T> {
    fn clone(&self) -> Self {
        GroupCommit {
            queue: self.queue.clone(),
            what: self.what,
        }
    }
}

impl<T: Send + 'static> GroupCommit<T> {
    /// Starts the writer of `what` (named in its log lines) on the current tokio runtime.
    pub fn start(pool: Pool, what: &'static str, commit: Commit<T>) -> Self {
        let (queue, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(pool, rx, what, commit));
        GroupCommit { queue, what }
    }

    /// Commits `item` with whatever else is waiting; `Ok` once it is committed.
    pub async fn write(&self, item: T) -> Result<(), Refusal> {
        let (done, answer) = oneshot::channel();
        let gone = || Refusal::DatabaseUnavailable(format!("the {} writer has stopped", self.what));
        self.queue
            .send(Pending { item, done })
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?.map_err(Refusal::from)
    }
}

async fn run<T>(
    pool: Pool,
    mut rx: mpsc::UnboundedReceiver<Pending<T>>,
    what: &'static str,
    commit: Commit<T>,
) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while rx.recv_many(&mut group, MAX_GROUP).await > 0 {
        let (items, done): (Vec<T>, Vec<_>) = group.drain(..).map(|p| (p.item, p.done)).unzip();
        let outcome = commit(&pool, &items).await.map_err(Failed::from);
        if let Err(e) = &outcome {
            tracing::error!(error = ?e, items = items.len(), "{what}: group not committed");
        }
        for done in done {
            // A caller that went away has nothing to be told.
            let _ = done.send(outcome.clone());
        }
    }
}
