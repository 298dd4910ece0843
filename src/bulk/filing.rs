//! The filing job (one entry of `hub::jobs`): files the good rows of every confirmed batch
//! through their bulk function's service (`filers`), as the user who confirmed it, exactly
//! once. Each round re-reads that user and re-checks the registration gate, so a batch
//! confirmed before a suspension is not filed after it.
//!
//! Exactly once, whatever stops it: each row is filed with the body stored at upload, and
//! under what makes a second filing of it (after a crash before its id was recorded, or by a
//! second process) find the first one — an application's request id, derived from the batch
//! and line; the idempotency key `bulk-<batch>-<line>` of a registration; see `filers`. A batch is
//! filed by one process at a time (a PostgreSQL advisory lock held by a transaction). A row waits while the broker or database is unavailable, and keeps a refusal only
//! a rule gave.

use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_postgres::Pool;
use futures::StreamExt;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::filers::{Filed, Filers};
use super::kind::{BulkKind, Filer};
use super::store::{self, Batch};
use crate::accounts::Principal;
use crate::accounts::gate::Gate;
use crate::accounts::sessions::acting_user;
use crate::config::Settings;
use crate::domain::{CompanyCode, Refusal};
use crate::kafka::Publisher;

/// How often the job looks for confirmed batches besides when a confirm is announced
/// (`store::CONFIRMED`): for rows waiting on the broker or the database, and for a confirm
/// announced while the job was not listening.
const POLL: Duration = Duration::from_secs(1);
/// Rows read per round (and marked attempted, but for applications). Several times [`IN_FLIGHT`] and [`GROUP`], so
/// little of a round is spent waiting for its last rows.
const ROUND: i64 = 2048;
/// Rows of the functions filed one call a row (registrations, decisions, users) in flight at
/// once. Concurrent calls share PostgreSQL's WAL flushes and the producer's batches, so this is
/// what their rate scales with; the bound keeps their share of the machine (and of the
/// broker's queue) to what the API's own traffic can run beside.
const IN_FLIGHT: usize = 256;
/// Applications filed together ([`Filers::file_all`]): their keys claimed and settled, and
/// their rows committed, with one statement each, their records produced at once.
const GROUP: usize = 512;
/// Groups in flight at once, so one group's commit overlaps another's produce: a whole round.
const GROUPS_AT_ONCE: usize = ROUND as usize / GROUP;
/// The connections the rows in flight use (idempotency claims, accept rows, settles): a pool
/// of the filing's own, so however many rows wait for one, the API and the projector of the
/// same process never wait behind them for theirs.
const CONNECTIONS: usize = 8;

/// Files confirmed batches until `shutdown`; a round cut short by shutdown resumes at the next
/// start from the rows still pending.
pub async fn run_filing(
    settings: Settings,
    pool: Pool,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let publisher = Publisher::of(&settings, Duration::from_secs(10))?;
    let connect = crate::db::Connect::service(&settings)?;
    let rows_pool = crate::db::pool(&connect, CONNECTIONS)?;
    let filers = Filers::new(rows_pool, publisher, settings)?;
    let mut tick = tokio::time::interval(POLL);
    let confirmed = Arc::new(Notify::new());
    let mut listening: Option<tokio_postgres::Client> = None;
    loop {
        // Listened for again after the connection is lost, at the next round; meanwhile the
        // poll finds what was confirmed.
        if listening.as_ref().is_none_or(|c| c.is_closed()) {
            listening = connect
                .listen(store::CONFIRMED, confirmed.clone())
                .await
                .inspect_err(|e| tracing::debug!(error = %e, "not listening for confirms"))
                .ok();
        }
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tick.tick() => {}
            _ = confirmed.notified() => {}
        }
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            r = file_confirmed(&pool, &filers) => if let Err(e) = r {
                tracing::warn!(error = %e, "bulk filing paused; next round again");
            }
        }
    }
}

/// One round over the confirmed batches.
async fn file_confirmed(pool: &Pool, filers: &Filers) -> Result<(), Refusal> {
    let batches = store::to_file(&pool.get().await?).await?;
    for batch in batches {
        // The lock lives in a transaction of its own, so it ends with it: on commit, on the
        // rollback of a round dropped at shutdown, or with the connection of a process that died.
        let mut lock = pool.get().await?;
        let lock = lock.transaction().await?;
        let mine: bool = lock
            .query_one(
                "SELECT pg_try_advisory_xact_lock($1)",
                &[&lock_key(batch.batch_id)],
            )
            .await?
            .get(0);
        if mine {
            file_batch(pool, filers, &batch).await?;
        }
        lock.commit().await?;
    }
    Ok(())
}

/// The advisory lock of a batch: 64 bits of its id.
fn lock_key(batch_id: Uuid) -> i64 {
    let b = batch_id.as_bytes();
    i64::from_be_bytes([b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]])
}

/// The user who confirmed `batch` as it is now, if it may still act: the user re-read (a user
/// disabled meanwhile is refused) and the registration gate checked again with the
/// certificate of the confirm (a registration suspended or ended, a certificate expired, a
/// contractor revoked meanwhile: refused with the gate's code, as the API would). The gate is
/// read afresh, not from a cache: one look-up per round of rows.
async fn confirming_user(
    pool: &Pool,
    batch: &Batch,
    company: &CompanyCode,
) -> Result<Principal, Refusal> {
    let user = batch.confirmed_by.as_deref().unwrap_or(&batch.user_id);
    let certificate = batch.certificate.as_deref().unwrap_or_default();
    let principal = acting_user(&pool.get().await?, company, user, certificate).await?;
    Gate::new()
        .check(pool, company, principal.contractor.as_ref(), certificate)
        .await?;
    Ok(principal)
}

/// Files the pending rows of `batch` until none is left or one waits for a dependency.
async fn file_batch(pool: &Pool, filers: &Filers, batch: &Batch) -> Result<(), Refusal> {
    let kind = BulkKind::parse(&batch.kind)
        .ok_or_else(|| Refusal::Internal(anyhow::anyhow!("unknown bulk kind {}", batch.kind)))?;
    let company =
        CompanyCode::parse(&batch.company_code).map_err(|e| Refusal::Internal(e.into()))?;
    let client = pool.get().await?;
    loop {
        let principal = confirming_user(pool, batch, &company).await;
        let filer = kind.filer();
        // An application's retry is known by its request id; the others' by this mark.
        let mark = !matches!(filer, Filer::Submission(_));
        let rows = store::pending(&client, batch.batch_id, ROUND, mark).await?;
        if rows.is_empty() {
            store::finish_if_done(&client, batch.batch_id).await?;
            return Ok(());
        }
        let principal = match &principal {
            Ok(p) => p,
            Err(refusal) if transient(refusal) => return Ok(()),
            Err(refusal) => {
                // The user who confirmed can no longer file: every row says why.
                let refused: Vec<_> = rows.iter().map(|row| (row.line, refusal)).collect();
                store::refused(&client, batch.batch_id, &refused).await?;
                continue;
            }
        };
        let started = Instant::now();
        let (settled, waiting) = match filer {
            Filer::Submission(function) => {
                file_applications(&client, filers, principal, function, batch, rows).await?
            }
            _ => file_one_by_one(&client, filers, principal, kind, batch, rows).await?,
        };
        tracing::debug!(
            batch = %batch.batch_id,
            settled,
            waiting,
            ms = started.elapsed().as_millis() as u64,
            "bulk filing round"
        );
        if waiting > 0 {
            return Ok(());
        }
    }
}

/// Files a round of applications a group at a time, each group's keys, rows and records
/// together; how many rows were settled, and how many of them wait for a later round.
async fn file_applications(
    client: &deadpool_postgres::Client,
    filers: &Filers,
    principal: &Principal,
    function: crate::domain::Function,
    batch: &Batch,
    rows: Vec<store::Pending>,
) -> Result<(usize, usize), Refusal> {
    let mut groups: Vec<Vec<(i32, serde_json::Value)>> = Vec::new();
    for row in rows {
        match groups.last_mut() {
            Some(group) if group.len() < GROUP => group.push((row.line, row.body)),
            _ => groups.push(vec![(row.line, row.body)]),
        }
    }
    let mut outcomes = futures::stream::iter(groups)
        .map(|group| async move {
            let lines: Vec<i32> = group.iter().map(|(line, _)| *line).collect();
            let filed = filers
                .file_all(principal, function, batch.batch_id, group)
                .await;
            (lines, filed)
        })
        .buffer_unordered(GROUPS_AT_ONCE);
    let (mut settled, mut waiting) = (0, 0);
    while let Some((lines, filed)) = outcomes.next().await {
        settled += lines.len();
        waiting += match filed {
            Ok(outcomes) => store_outcomes(client, batch.batch_id, outcomes).await?,
            Err(e) if transient(&e) => lines.len(),
            Err(e) => {
                let refused: Vec<_> = lines.iter().map(|line| (*line, &e)).collect();
                store::refused(client, batch.batch_id, &refused).await?;
                0
            }
        };
    }
    Ok((settled, waiting))
}

/// Files a round of rows one call a row ([`IN_FLIGHT`] at once); how many were settled, and
/// how many of them wait for a later round.
async fn file_one_by_one(
    client: &deadpool_postgres::Client,
    filers: &Filers,
    principal: &Principal,
    kind: BulkKind,
    batch: &Batch,
    rows: Vec<store::Pending>,
) -> Result<(usize, usize), Refusal> {
    let mut outcomes = futures::stream::iter(rows)
        .map(|row| async move {
            let outcome = filers
                .file(
                    principal,
                    kind,
                    batch.batch_id,
                    row.line,
                    row.body,
                    row.attempted,
                )
                .await;
            (row.line, outcome)
        })
        .buffer_unordered(IN_FLIGHT)
        .ready_chunks(IN_FLIGHT);
    // Stored as they come, the rows settled since the last store together: progress shows at
    // once, and one slow row does not hold back the outcomes of the others.
    let (mut settled, mut waiting) = (0, 0);
    while let Some(chunk) = outcomes.next().await {
        settled += chunk.len();
        waiting += store_outcomes(client, batch.batch_id, chunk).await?;
    }
    Ok((settled, waiting))
}

/// Stores what filing `outcomes` came to, with one statement for the filed rows and one for
/// the refused ones; how many rows wait for a later round.
async fn store_outcomes(
    client: &deadpool_postgres::Client,
    batch_id: Uuid,
    outcomes: Vec<(i32, Result<Filed, Refusal>)>,
) -> Result<usize, Refusal> {
    let (mut filed, mut refused, mut waiting) = (Vec::new(), Vec::new(), 0);
    for (line, outcome) in outcomes {
        match outcome {
            Ok(f) => filed.push((line, f.id, f.outcome)),
            Err(e) if transient(&e) => waiting += 1,
            Err(e) => refused.push((line, e)),
        }
    }
    store::filed(client, batch_id, &filed).await?;
    let refused: Vec<_> = refused.iter().map(|(line, e)| (*line, e)).collect();
    store::refused(client, batch_id, &refused).await?;
    Ok(waiting)
}

/// A refusal that says nothing about the row: the row waits and is filed in a later round.
fn transient(refusal: &Refusal) -> bool {
    matches!(
        refusal,
        Refusal::BrokerUnavailable(_)
            | Refusal::OutcomeUnknown(_)
            | Refusal::DatabaseUnavailable(_)
            | Refusal::Internal(_)
            | Refusal::RateLimited { .. }
            | Refusal::Maintenance { .. }
    )
}
