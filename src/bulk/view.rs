//! A batch as its page and the API show it: where it stands, counts by status, and its bad rows.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde::Serialize;
use uuid::Uuid;

use super::kind::BulkKind;
use super::store::{self, Batch, StoredRow};
use crate::domain::{CompanyCode, Refusal, RequestStatus};

/// How many rows stand where. `good` + `bad` = `rows`; once confirmed, the good rows are
/// `pending`, `refused` (at filing) or filed, and the filed ones are counted by their status.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Counts {
    pub rows: i64,
    pub good: i64,
    pub bad: i64,
    pub pending: i64,
    pub filed: i64,
    pub refused: i64,
    pub accepted: i64,
    pub sent: i64,
    pub completed: i64,
    pub rejected: i64,
    pub failed: i64,
}

/// A bad row: where it is and why.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BadRow {
    pub line: i32,
    pub supply_point_id: String,
    /// The column at fault, by its header, when one is.
    pub column: Option<String>,
    pub code: String,
    pub message_ja: String,
    pub message_en: String,
}

/// A batch: its preview before confirming, its progress after.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchView {
    pub batch_id: Uuid,
    /// The single function each row is filed as.
    pub function: &'static str,
    pub name_ja: String,
    /// `previewed`, `confirmed` (being filed) or `filed`.
    pub state: &'static str,
    pub encoding: String,
    pub only_good: bool,
    pub created_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub filed_at: Option<DateTime<Utc>>,
    pub counts: Counts,
    /// The bad rows by line (the first 1000; the download has every row).
    pub bad_rows: Vec<BadRow>,
    pub confirm_url: String,
    pub rows_url: String,
}

impl BatchView {
    pub fn of(kind: BulkKind, batch: &Batch, counts: Counts, bad: Vec<StoredRow>) -> Self {
        let id = batch.batch_id;
        BatchView {
            batch_id: id,
            function: kind.slug(),
            name_ja: kind.name_ja(),
            state: batch.state.as_str(),
            encoding: batch.encoding.clone(),
            only_good: batch.only_good,
            created_at: batch.created_at,
            confirmed_at: batch.confirmed_at,
            filed_at: batch.filed_at,
            counts,
            bad_rows: bad
                .into_iter()
                .map(|r| BadRow {
                    line: r.line,
                    supply_point_id: r.supply_point_id,
                    column: r.bad_column,
                    code: r.bad_code.unwrap_or_default(),
                    message_ja: r.bad_ja.unwrap_or_default(),
                    message_en: r.bad_en.unwrap_or_default(),
                })
                .collect(),
            confirm_url: format!("/api/v1/bulk/batches/{id}/confirm"),
            rows_url: format!("/api/v1/bulk/batches/{id}/rows.csv"),
        }
    }
}

/// The counts of `batch`, the filed rows by the status of their request.
pub async fn counts<C: GenericClient>(
    client: &C,
    company: &CompanyCode,
    batch: &Batch,
) -> Result<Counts, Refusal> {
    let (filed, refused, pending) = store::filing_counts(client, batch.batch_id).await?;
    let rows = i64::from(batch.rows_total);
    let bad = i64::from(batch.rows_bad);
    let mut c = Counts {
        rows,
        good: rows - bad,
        bad,
        pending,
        filed,
        refused,
        ..Counts::default()
    };
    let submitted = BulkKind::parse(&batch.kind)
        .is_some_and(|k| matches!(k.filer(), super::kind::Filer::Submission(_)));
    if filed > 0 && !submitted {
        // A registration or decision is the hub's own: on the broker, it is done.
        c.completed = filed;
    } else if filed > 0 {
        let ids = store::filed_ids(client, batch.batch_id).await?;
        let counted = crate::requests::store::count_by_status(client, company, &ids).await?;
        // A filed request whose row is not visible yet is counted as accepted: its 202 came.
        c.accepted = filed - counted.iter().map(|(_, n)| n).sum::<i64>();
        for (status, n) in counted {
            *match status {
                RequestStatus::Accepted => &mut c.accepted,
                RequestStatus::Sent => &mut c.sent,
                RequestStatus::Completed => &mut c.completed,
                RequestStatus::Rejected => &mut c.rejected,
                RequestStatus::Failed => &mut c.failed,
            } += n;
        }
    }
    Ok(c)
}
