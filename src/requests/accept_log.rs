//! The accept path's one trip to PostgreSQL: a group commit ([`crate::db::group`]) of the audit
//! row and the `accepted` row of every submission, written *before* the record is produced —
//! one commit for a whole group of concurrent submissions, where the hub used to make two
//! commits per submission (the audit row before producing, the `accepted` row after) and a
//! third with an `Idempotency-Key`.
//!
//! The two promises hold: the audit row is committed before anything is produced (a submission
//! the trail cannot record is refused, not sent), and the `accepted` row exists before the 202
//! (a GET right after it never 404s). The price is the rare path: a record the broker does not
//! acknowledge leaves a row to remove ([`super::store::forget_unsent`]) before its 503.

use deadpool_postgres::Pool;

use super::store;
use crate::audit;
use crate::db::group::GroupCommit;
use crate::domain::Refusal;
use crate::messages::RequestRecord;

/// A submission's two rows.
type Accepted = (audit::Entry, RequestRecord);

/// The sending half of the accept path's group commit.
pub(super) type AcceptLog = GroupCommit<Accepted>;

/// Starts the writer on the current tokio runtime.
pub(super) fn start(pool: Pool) -> AcceptLog {
    GroupCommit::start(pool, "accept log", |pool, group| {
        Box::pin(commit(pool, group))
    })
}

/// One transaction for the group, with one statement for its audit rows and one for its
/// `accepted` rows, sent together (tokio-postgres pipelines the queries of futures polled at
/// once): about three round trips in all, and PostgreSQL plans and runs two statements for the
/// whole group rather than two for each submission.
pub(super) async fn commit(pool: &Pool, group: &[Accepted]) -> Result<(), Refusal> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let audits: Vec<_> = group.iter().map(|(audit, _)| audit).collect();
    let records: Vec<_> = group.iter().map(|(_, record)| record).collect();
    futures::try_join!(
        audit::Entry::write_all(&tx, &audits),
        store::insert_requests(&tx, &records)
    )?;
    tx.commit().await?;
    Ok(())
}

/// [`commit`] for submissions filed under ids their caller chose, which it may file again
/// (`Submissions::submit_under`): a request already recorded keeps its row and gains no
/// second audit row. What each request was before, in the order given.
pub(super) async fn commit_new(
    pool: &Pool,
    group: &[(audit::Entry, &RequestRecord)],
) -> Result<Vec<store::Prior>, Refusal> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let records: Vec<_> = group.iter().map(|(_, record)| *record).collect();
    let priors = store::insert_new_requests(&tx, &records).await?;
    let audits: Vec<_> = (group.iter().zip(&priors))
        .filter(|(_, prior)| **prior == store::Prior::None)
        .map(|((audit, _), _)| audit)
        .collect();
    audit::Entry::write_all(&tx, &audits).await?;
    tx.commit().await?;
    Ok(priors)
}
