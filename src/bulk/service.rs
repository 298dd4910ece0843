//! The bulk service: upload (read, check, store), the batch's view, confirm, and the download,
//! each for the batch's own company and for users who may call the batch's single function
//! (an application, or a 廃止取次 registration or decision).

use chrono::Utc;
use deadpool_postgres::Pool;
use uuid::Uuid;

use super::kind::{BulkKind, Filer};
use super::store::{self, Batch, BatchState, NewBatch};
use super::view::BatchView;
use super::{download, parse};
use crate::accounts::{Principal, access};
use crate::csv_text::CsvEncoding;
use crate::domain::{Refusal, today_jst};
use crate::requests::may_submit;

/// The largest file accepted (about 60,000 rows of 開始一括申請); the API refuses a larger body
/// before reading it.
pub const MAX_FILE_BYTES: usize = 20 * 1024 * 1024;

/// How many bad rows a view lists (all of them are in the download).
const LISTED_BAD_ROWS: i64 = 1000;

/// Bulk uploads of one hub.
#[derive(Clone)]
pub struct Bulk {
    pool: Pool,
}

fn unknown_kind(slug: &str) -> Refusal {
    Refusal::invalid(
        "kind",
        "unknown_bulk_function",
        format!("一括申請 {slug} はありません"),
        format!("there is no bulk function {slug}"),
    )
}

impl Bulk {
    pub fn new(pool: Pool) -> Self {
        Bulk { pool }
    }

    /// The bulk function of `slug`, if `principal` may call its single function (the
    /// function's permission, as the single call checks it).
    pub async fn kind_for(&self, principal: &Principal, slug: &str) -> Result<BulkKind, Refusal> {
        let kind = BulkKind::parse(slug).ok_or_else(|| unknown_kind(slug))?;
        match (kind.filer(), kind.hub_function()) {
            (Filer::Submission(f), _) => may_submit(principal, f)?,
            (Filer::Users, _) => crate::accounts::require_admin(principal)?,
            (_, Some(h)) => access::may(&self.pool, principal, h).await?,
            (_, None) => return Err(unknown_kind(slug)),
        }
        Ok(kind)
    }

    /// Reads `bytes` as a file of `slug`, checks every row and stores the batch; its preview.
    /// Nothing is filed. `declared` overrides the detected encoding.
    pub async fn upload(
        &self,
        principal: &Principal,
        slug: &str,
        bytes: Vec<u8>,
        declared: Option<CsvEncoding>,
    ) -> Result<BatchView, Refusal> {
        let kind = self.kind_for(principal, slug).await?;
        let uploader = parse::Uploader {
            company: principal.company.clone(),
            kind: principal.kind,
        };
        // Checking 10,000 rows is CPU work: off the async threads.
        let parsed = tokio::task::spawn_blocking(move || {
            parse::parse(kind, &bytes, declared, &uploader, today_jst())
        })
        .await
        .map_err(|e| Refusal::Internal(e.into()))??;
        let batch_id = Uuid::now_v7();
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let new = NewBatch {
            batch_id,
            company: &principal.company,
            user_id: &principal.user_id,
            kind: kind.slug(),
            encoding: parsed.encoding.charset(),
        };
        store::insert_batch(&tx, &new, &parsed.rows).await?;
        tx.commit().await?;
        self.view(principal, batch_id).await
    }

    /// The batch `batch_id` of the caller's company.
    async fn own(
        &self,
        principal: &Principal,
        batch_id: Uuid,
    ) -> Result<(Batch, BulkKind), Refusal> {
        let client = self.pool.get().await?;
        let batch = store::batch(&client, &principal.company, batch_id)
            .await?
            .ok_or(Refusal::BulkBatchNotFound)?;
        let kind = self.kind_for(principal, &batch.kind).await?;
        Ok((batch, kind))
    }

    /// The batch's preview or progress: counts by status and the bad rows.
    pub async fn view(&self, principal: &Principal, batch_id: Uuid) -> Result<BatchView, Refusal> {
        let (batch, kind) = self.own(principal, batch_id).await?;
        let client = self.pool.get().await?;
        let bad = store::rows(&client, batch_id, true, LISTED_BAD_ROWS).await?;
        let counts = super::view::counts(&client, &principal.company, &batch).await?;
        Ok(BatchView::of(kind, &batch, counts, bad))
    }

    /// Confirms the batch: its good rows will be filed by the filing job. Refused while a row
    /// is bad unless `only_good`; a second confirm changes nothing and answers the same.
    pub async fn confirm(
        &self,
        principal: &Principal,
        batch_id: Uuid,
        only_good: bool,
    ) -> Result<BatchView, Refusal> {
        let (batch, _) = self.own(principal, batch_id).await?;
        if batch.state == BatchState::Previewed {
            if batch.rows_bad > 0 && !only_good {
                return Err(Refusal::invalid(
                    "only_good",
                    "bulk_has_bad_rows",
                    format!(
                        "不備のある行が{}行あります。修正して再度アップロードするか、正しい行だけを申請してください(only_good=true)",
                        batch.rows_bad
                    ),
                    format!(
                        "{} rows are bad: upload a corrected file, or file only the good rows (only_good=true)",
                        batch.rows_bad
                    ),
                ));
            }
            let client = self.pool.get().await?;
            store::confirm(
                &client,
                &principal.company,
                batch_id,
                only_good,
                &principal.user_id,
                &principal.certificate,
            )
            .await?;
            crate::audit::record(
                &client,
                principal,
                "bulk.confirmed",
                &batch_id.to_string(),
                serde_json::json!({"kind": batch.kind, "rows": batch.rows_total,
                                   "bad": batch.rows_bad, "at": Utc::now()}),
            )
            .await?;
        }
        self.view(principal, batch_id).await
    }

    /// Every row with its outcome, as a CSV file in `encoding`.
    pub async fn rows_csv(
        &self,
        principal: &Principal,
        batch_id: Uuid,
        encoding: CsvEncoding,
    ) -> Result<Vec<u8>, Refusal> {
        let (batch, _) = self.own(principal, batch_id).await?;
        let client = self.pool.get().await?;
        let text = download::rows_csv(&client, &principal.company, &batch).await?;
        Ok(crate::csv_text::encode(&text, encoding))
    }
}
