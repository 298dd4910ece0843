//! The accept path's one trip to PostgreSQL: a group commit of the audit row and the `accepted`
//! row of every submission, written *before* the record is produced.
//!
//! Each submission hands its two rows to one writer task and waits. The writer takes everything
//! that has queued while its previous transaction ran (natural batching: no timer, so a lone
//! submission waits only for its own commit) and writes it in one transaction, the statements
//! pipelined on one connection: one commit — one WAL flush — for a whole group of concurrent
//! submissions, where the hub used to make two commits per submission (the audit row before
//! producing, the `accepted` row after) and a third with an `Idempotency-Key`.
//!
//! The two promises hold: the audit row is committed before anything is produced (a submission
//! the trail cannot record is refused, not sent), and the `accepted` row exists before the 202
//! (a GET right after it never 404s). The price is the rare path: a record the broker does not
//! acknowledge leaves a row to remove ([`super::store::forget_unsent`]) before its 503.

use deadpool_postgres::Pool;
use tokio::sync::{mpsc, oneshot};

use super::store;
use crate::audit;
use crate::domain::Refusal;
use crate::messages::RequestRecord;

/// The most submissions one transaction carries; more wait for the next.
const MAX_GROUP: usize = 256;

/// What a submission waits for: its two rows committed, or why not (a database error, given
/// to every submission of the failed group alike).
type Done = oneshot::Sender<Result<(), Failed>>;

/// Why a group was not committed, as each of its submissions is refused: the database out of
/// reach (503), or a statement it refused (500, as a lone write would have been).
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

struct Pending {
    audit: audit::Entry,
    record: RequestRecord,
    done: Done,
}

/// The sending half; the writer task ends when the last clone is dropped.
#[derive(Clone)]
pub(super) struct AcceptLog {
    queue: mpsc::UnboundedSender<Pending>,
}

impl AcceptLog {
    /// Starts the writer on the current tokio runtime.
    pub(super) fn start(pool: Pool) -> Self {
        let (queue, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(pool, rx));
        AcceptLog { queue }
    }

    /// Commits `audit` and `record`'s `accepted` row, with whatever other submissions are
    /// waiting.
    pub(super) async fn write(
        &self,
        audit: audit::Entry,
        record: &RequestRecord,
    ) -> Result<(), Refusal> {
        let (done, answer) = oneshot::channel();
        let pending = Pending {
            audit,
            record: record.clone(),
            done,
        };
        let gone = || Refusal::DatabaseUnavailable("the accept log's writer has stopped".into());
        self.queue.send(pending).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?.map_err(Refusal::from)
    }
}

async fn run(pool: Pool, mut rx: mpsc::UnboundedReceiver<Pending>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while rx.recv_many(&mut group, MAX_GROUP).await > 0 {
        let outcome = commit(&pool, &group).await.map_err(Failed::from);
        if let Err(e) = &outcome {
            tracing::error!(error = ?e, submissions = group.len(), "accept group not committed");
        }
        for p in group.drain(..) {
            // A submission whose caller went away has nothing to be told.
            let _ = p.done.send(outcome.clone());
        }
    }
}

/// One transaction for the group, with one statement for its audit rows and one for its
/// `accepted` rows, sent together (tokio-postgres pipelines the queries of futures polled at
/// once): about three round trips in all, and PostgreSQL plans and runs two statements for the
/// whole group rather than two for each submission.
async fn commit(pool: &Pool, group: &[Pending]) -> Result<(), Refusal> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let audits: Vec<_> = group.iter().map(|p| &p.audit).collect();
    let records: Vec<_> = group.iter().map(|p| &p.record).collect();
    futures::try_join!(
        audit::Entry::write_all(&tx, &audits),
        store::insert_requests(&tx, &records)
    )?;
    tx.commit().await?;
    Ok(())
}
