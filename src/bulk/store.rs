//! Every statement on `bulk_batches` and `bulk_rows`. A batch and all its rows are written in
//! one transaction at upload (the rows a chunk at a time, as the file is read), so what is
//! confirmed is exactly what was previewed; a row is pending until it holds a request id or
//! the refusal its filing met.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde_json::Value;
use uuid::Uuid;

use super::parse::{Row, RowFault};
use crate::domain::{CompanyCode, Refusal};

/// How far a batch got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchState {
    /// Read and checked; nothing filed.
    Previewed,
    /// Confirmed: its good rows are being filed.
    Confirmed,
    /// Every row it files holds a request id or a refusal.
    Filed,
}

impl BatchState {
    pub fn as_str(self) -> &'static str {
        match self {
            BatchState::Previewed => "previewed",
            BatchState::Confirmed => "confirmed",
            BatchState::Filed => "filed",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "confirmed" => BatchState::Confirmed,
            "filed" => BatchState::Filed,
            _ => BatchState::Previewed,
        }
    }
}

/// A batch as stored.
#[derive(Debug, Clone)]
pub struct Batch {
    pub batch_id: Uuid,
    pub company_code: String,
    pub user_id: String,
    pub kind: String,
    pub encoding: String,
    pub rows_total: i32,
    pub rows_bad: i32,
    pub state: BatchState,
    pub only_good: bool,
    pub confirmed_by: Option<String>,
    pub certificate: Option<String>,
    pub created_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub filed_at: Option<DateTime<Utc>>,
}

/// A new batch's own facts.
pub struct NewBatch<'a> {
    pub batch_id: Uuid,
    pub company: &'a CompanyCode,
    pub user_id: &'a str,
    pub kind: &'a str,
    pub encoding: &'a str,
}

/// How many rows go into one INSERT (and how many rows of a file are held at once while it
/// is read).
pub const CHUNK: usize = 1000;

/// Stores `batch`, no rows yet, in the caller's transaction (its rows follow in chunks and its
/// counts once the file is read: [`insert_rows`], [`set_counts`]).
pub async fn insert_batch<C: GenericClient>(
    client: &C,
    batch: &NewBatch<'_>,
) -> Result<(), Refusal> {
    client
        .execute(
            "INSERT INTO bulk_batches (batch_id, company_code, user_id, kind, encoding,
                                       rows_total, rows_bad, state)
             VALUES ($1, $2, $3, $4, $5, 0, 0, 'previewed')",
            &[
                &batch.batch_id,
                &batch.company.as_str(),
                &batch.user_id,
                &batch.kind,
                &batch.encoding,
            ],
        )
        .await?;
    Ok(())
}

/// Stores `rows` of the batch `batch_id` in one statement (at most [`CHUNK`] of them).
pub async fn insert_rows<C: GenericClient>(
    client: &C,
    batch_id: Uuid,
    rows: &[Row],
) -> Result<(), Refusal> {
    let lines: Vec<i32> = rows.iter().map(|r| r.line as i32).collect();
    let points: Vec<&str> = rows.iter().map(|r| r.point.as_str()).collect();
    let bodies: Vec<Option<&Value>> = rows.iter().map(|r| r.outcome.as_ref().ok()).collect();
    let columns = faults(rows, |f| f.column.as_deref());
    let codes = faults(rows, |f| Some(f.code.as_str()));
    let ja = faults(rows, |f| Some(f.ja.as_str()));
    let en = faults(rows, |f| Some(f.en.as_str()));
    client
        .execute(
            "INSERT INTO bulk_rows (batch_id, line, supply_point_id, body,
                                    bad_column, bad_code, bad_ja, bad_en)
             SELECT $1, * FROM UNNEST($2::int[], $3::text[], $4::jsonb[],
                                      $5::text[], $6::text[], $7::text[], $8::text[])",
            &[
                &batch_id, &lines, &points, &bodies, &columns, &codes, &ja, &en,
            ],
        )
        .await?;
    Ok(())
}

/// What `of` tells of each bad row (`None` for a good one).
fn faults(rows: &[Row], of: fn(&RowFault) -> Option<&str>) -> Vec<Option<&str>> {
    rows.iter()
        .map(|r| r.outcome.as_ref().err().and_then(of))
        .collect()
}

/// The counts of a batch whose rows are all stored.
pub async fn set_counts<C: GenericClient>(
    client: &C,
    batch_id: Uuid,
    rows: usize,
    bad: usize,
) -> Result<(), Refusal> {
    client
        .execute(
            "UPDATE bulk_batches SET rows_total = $2, rows_bad = $3 WHERE batch_id = $1",
            &[&batch_id, &(rows as i32), &(bad as i32)],
        )
        .await?;
    Ok(())
}

const BATCH_COLUMNS: &str = "batch_id, company_code, user_id, kind, encoding, rows_total,
    rows_bad, state, only_good, confirmed_by, certificate, created_at, confirmed_at, filed_at";

fn batch_of(row: &tokio_postgres::Row) -> Batch {
    Batch {
        batch_id: row.get(0),
        company_code: row.get(1),
        user_id: row.get(2),
        kind: row.get(3),
        encoding: row.get(4),
        rows_total: row.get(5),
        rows_bad: row.get(6),
        state: BatchState::parse(row.get(7)),
        only_good: row.get(8),
        confirmed_by: row.get(9),
        certificate: row.get(10),
        created_at: row.get(11),
        confirmed_at: row.get(12),
        filed_at: row.get(13),
    }
}

/// The batch `batch_id` of `company`; another company's batch is not found.
pub async fn batch<C: GenericClient>(
    client: &C,
    company: &CompanyCode,
    batch_id: Uuid,
) -> Result<Option<Batch>, Refusal> {
    let row = client
        .query_opt(
            &format!(
                "SELECT {BATCH_COLUMNS} FROM bulk_batches WHERE batch_id = $1 AND company_code = $2"
            ),
            &[&batch_id, &company.as_str()],
        )
        .await?;
    Ok(row.as_ref().map(batch_of))
}

/// Confirms a previewed batch (once: a second confirm changes nothing); the batch as it is now.
pub async fn confirm<C: GenericClient>(
    client: &C,
    company: &CompanyCode,
    batch_id: Uuid,
    only_good: bool,
    user_id: &str,
    certificate: &str,
) -> Result<Option<Batch>, Refusal> {
    // Told to the filing job ([`CONFIRMED`]) when the confirm commits, so it starts at once.
    client
        .execute(
            "WITH confirmed AS (
                 UPDATE bulk_batches SET state = 'confirmed', only_good = $3, confirmed_by = $4,
                        certificate = $5, confirmed_at = now()
                 WHERE batch_id = $1 AND company_code = $2 AND state = 'previewed'
                 RETURNING batch_id)
             SELECT pg_notify($6, batch_id::text) FROM confirmed",
            &[
                &batch_id,
                &company.as_str(),
                &only_good,
                &user_id,
                &certificate,
                &CONFIRMED,
            ],
        )
        .await?;
    batch(client, company, batch_id).await
}

/// The channel a confirm notifies (PostgreSQL `NOTIFY`), with the batch's id.
pub const CONFIRMED: &str = "bulk_confirmed";

/// The batches confirmed and not yet filed, oldest first.
pub async fn to_file<C: GenericClient>(client: &C) -> Result<Vec<Batch>, Refusal> {
    let rows = client
        .query(
            &format!(
                "SELECT {BATCH_COLUMNS} FROM bulk_batches WHERE state = 'confirmed'
                 ORDER BY confirmed_at LIMIT 20"
            ),
            &[],
        )
        .await?;
    Ok(rows.iter().map(batch_of).collect())
}

/// A good row waiting to be filed: its line, its body, and whether a filing was attempted.
pub struct Pending {
    pub line: i32,
    pub body: Value,
    pub attempted: bool,
}

/// Up to `limit` good rows of a batch not yet filed, by line; with `mark`, each marked
/// attempted from now on (so a retry knows an earlier filing may have reached the broker).
pub async fn pending<C: GenericClient>(
    client: &C,
    batch_id: Uuid,
    limit: i64,
    mark: bool,
) -> Result<Vec<Pending>, Refusal> {
    const DUE: &str = "SELECT line, body, attempted_at IS NOT NULL AS attempted FROM bulk_rows
                       WHERE batch_id = $1 AND body IS NOT NULL AND request_id IS NULL
                             AND refusal_code IS NULL
                       ORDER BY line LIMIT $2";
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&batch_id, &limit];
    let rows = if mark {
        let marked = format!(
            "WITH due AS ({DUE})
             UPDATE bulk_rows r SET attempted_at = coalesce(r.attempted_at, now())
             FROM due WHERE r.batch_id = $1 AND r.line = due.line
             RETURNING r.line, r.body, due.attempted"
        );
        client.query(&marked, &params).await?
    } else {
        client.query(DUE, &params).await?
    };
    let mut due: Vec<Pending> = rows
        .iter()
        .map(|r| Pending {
            line: r.get(0),
            body: r.get(1),
            attempted: r.get(2),
        })
        .collect();
    due.sort_by_key(|p| p.line);
    Ok(due)
}

/// Records what rows were filed as, in one statement: each line's request (or
/// intermediation) id, and what else its filing answered. One statement for the rows settled
/// together rather than one per row: at thousands of rows, a commit per row (one after another)
/// was a large part of a round.
pub async fn filed<C: GenericClient>(
    client: &C,
    batch_id: Uuid,
    rows: &[(i32, Uuid, Option<Value>)],
) -> Result<(), Refusal> {
    if rows.is_empty() {
        return Ok(());
    }
    let lines: Vec<i32> = rows.iter().map(|r| r.0).collect();
    let ids: Vec<Uuid> = rows.iter().map(|r| r.1).collect();
    let outcomes: Vec<Option<&Value>> = rows.iter().map(|r| r.2.as_ref()).collect();
    client
        .execute(
            "UPDATE bulk_rows r SET request_id = f.request_id, outcome = f.outcome
             FROM UNNEST($2::int[], $3::uuid[], $4::jsonb[]) AS f(line, request_id, outcome)
             WHERE r.batch_id = $1 AND r.line = f.line",
            &[&batch_id, &lines, &ids, &outcomes],
        )
        .await?;
    Ok(())
}

/// Records the refusal each row's filing met (a rule only the filing can check, such as the
/// intermediation it quotes), all of them in one statement.
pub async fn refused<C: GenericClient>(
    client: &C,
    batch_id: Uuid,
    rows: &[(i32, &Refusal)],
) -> Result<(), Refusal> {
    if rows.is_empty() {
        return Ok(());
    }
    let lines: Vec<i32> = rows.iter().map(|r| r.0).collect();
    let codes: Vec<&str> = rows.iter().map(|r| r.1.code()).collect();
    let (ja, en): (Vec<String>, Vec<String>) = rows.iter().map(|r| r.1.messages()).unzip();
    client
        .execute(
            "UPDATE bulk_rows r SET refusal_code = f.code, refusal_ja = f.ja, refusal_en = f.en
             FROM UNNEST($2::int[], $3::text[], $4::text[], $5::text[]) AS f(line, code, ja, en)
             WHERE r.batch_id = $1 AND r.line = f.line",
            &[&batch_id, &lines, &codes, &ja, &en],
        )
        .await?;
    Ok(())
}

/// Marks a confirmed batch filed once none of its good rows is pending.
pub async fn finish_if_done<C: GenericClient>(client: &C, batch_id: Uuid) -> Result<bool, Refusal> {
    let n = client
        .execute(
            "UPDATE bulk_batches SET state = 'filed', filed_at = now()
             WHERE batch_id = $1 AND state = 'confirmed' AND NOT EXISTS (
                 SELECT 1 FROM bulk_rows WHERE batch_id = $1 AND body IS NOT NULL
                        AND request_id IS NULL AND refusal_code IS NULL)",
            &[&batch_id],
        )
        .await?;
    Ok(n == 1)
}

/// A row as stored, for the preview, the progress and the download.
#[derive(Debug, Clone)]
pub struct StoredRow {
    pub line: i32,
    pub supply_point_id: String,
    pub good: bool,
    pub bad_column: Option<String>,
    pub bad_code: Option<String>,
    pub bad_ja: Option<String>,
    pub bad_en: Option<String>,
    pub request_id: Option<Uuid>,
    pub refusal_code: Option<String>,
    pub refusal_ja: Option<String>,
    pub refusal_en: Option<String>,
    /// What a filing other than a submission answered (see `Filer`).
    pub outcome: Option<Value>,
}

/// Rows of a batch by line: all of them, or only the bad ones; at most `limit`.
pub async fn rows<C: GenericClient>(
    client: &C,
    batch_id: Uuid,
    only_bad: bool,
    limit: i64,
) -> Result<Vec<StoredRow>, Refusal> {
    let rows = client
        .query(
            "SELECT line, supply_point_id, body IS NOT NULL, bad_column, bad_code, bad_ja,
                    bad_en, request_id, refusal_code, refusal_ja, refusal_en, outcome
             FROM bulk_rows WHERE batch_id = $1 AND (NOT $2 OR body IS NULL)
             ORDER BY line LIMIT $3",
            &[&batch_id, &only_bad, &limit],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| StoredRow {
            line: r.get(0),
            supply_point_id: r.get(1),
            good: r.get(2),
            bad_column: r.get(3),
            bad_code: r.get(4),
            bad_ja: r.get(5),
            bad_en: r.get(6),
            request_id: r.get(7),
            refusal_code: r.get(8),
            refusal_ja: r.get(9),
            refusal_en: r.get(10),
            outcome: r.get(11),
        })
        .collect())
}

/// The request ids of a batch's filed rows (an intermediation's id for a registration or a
/// decision), and nothing else of them: what a batch's progress counts by.
pub async fn filed_ids<C: GenericClient>(client: &C, batch_id: Uuid) -> Result<Vec<Uuid>, Refusal> {
    let rows = client
        .query(
            "SELECT request_id FROM bulk_rows WHERE batch_id = $1 AND request_id IS NOT NULL",
            &[&batch_id],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// How many good rows of a batch are filed, refused at filing, and still pending.
pub async fn filing_counts<C: GenericClient>(
    client: &C,
    batch_id: Uuid,
) -> Result<(i64, i64, i64), Refusal> {
    let row = client
        .query_one(
            "SELECT count(*) FILTER (WHERE request_id IS NOT NULL),
                    count(*) FILTER (WHERE refusal_code IS NOT NULL),
                    count(*) FILTER (WHERE request_id IS NULL AND refusal_code IS NULL)
             FROM bulk_rows WHERE batch_id = $1 AND body IS NOT NULL",
            &[&batch_id],
        )
        .await?;
    Ok((row.get(0), row.get(1), row.get(2)))
}
