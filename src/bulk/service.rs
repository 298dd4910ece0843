//! The bulk service: upload (read, check, store), the batch's view, confirm, and the download,
//! each for the batch's own company and for users who may call the batch's single function
//! (an application, or a 廃止取次 registration or decision).

use chrono::Utc;
use deadpool_postgres::Pool;
use uuid::Uuid;

use super::kind::{BulkKind, Filer};
use super::spool::Upload;
use super::store::{self, Batch, BatchState, NewBatch};
use super::view::BatchView;
use super::{download, parse};
use crate::accounts::bulk::user_request_of;
use crate::accounts::users::User;
use crate::accounts::{Accounts, Principal, access};
use crate::csv_text::CsvEncoding;
use crate::domain::{Refusal, today_jst};
use crate::requests::may_submit;

/// The largest file accepted (about 60,000 rows of 開始一括申請): a larger upload is refused
/// (413) as soon as it passes this, before anything is read or stored.
pub const MAX_FILE_BYTES: usize = 20 * 1024 * 1024;

/// How many bad rows a view lists (all of them are in the download).
const LISTED_BAD_ROWS: i64 = 1000;

/// A row of a ユーザ一括登録 answered at once: the user registered, or why not.
#[derive(Debug)]
pub struct UserLine {
    /// The line of the file (the header is line 1).
    pub line: u32,
    pub user_id: String,
    pub result: Result<User, parse::RowFault>,
}

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

    /// Reads the uploaded `file` as a file of `slug`, checks every row and stores the batch;
    /// its preview. Nothing is filed. `declared` overrides the detected encoding. The file is
    /// read row by row off the async threads and its rows stored a chunk at a time in one
    /// transaction, so memory stays flat and a file refused half way stores nothing.
    pub async fn upload(
        &self,
        principal: &Principal,
        slug: &str,
        file: Upload,
        declared: Option<CsvEncoding>,
    ) -> Result<BatchView, Refusal> {
        let kind = self.kind_for(principal, slug).await?;
        let uploader = parse::Uploader {
            company: principal.company.clone(),
            kind: principal.kind,
        };
        let encoding = file.encoding(declared);
        let (chunks, mut arriving) = tokio::sync::mpsc::channel::<Vec<parse::Row>>(2);
        let reading = tokio::task::spawn_blocking(move || {
            let abandoned = || Refusal::Internal(anyhow::anyhow!("the upload was abandoned"));
            let mut chunk = Vec::with_capacity(store::CHUNK);
            let summary = file.read(kind, declared, &uploader, today_jst(), |row| {
                chunk.push(row);
                if chunk.len() == store::CHUNK {
                    let full = std::mem::replace(&mut chunk, Vec::with_capacity(store::CHUNK));
                    chunks.blocking_send(full).map_err(|_| abandoned())?;
                }
                Ok(())
            })?;
            if !chunk.is_empty() {
                chunks.blocking_send(chunk).map_err(|_| abandoned())?;
            }
            Ok::<_, Refusal>(summary)
        });
        let batch_id = Uuid::now_v7();
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let new = NewBatch {
            batch_id,
            company: &principal.company,
            user_id: &principal.user_id,
            kind: kind.slug(),
            encoding: encoding.charset(),
        };
        store::insert_batch(&tx, &new).await?;
        while let Some(rows) = arriving.recv().await {
            store::insert_rows(&tx, batch_id, &rows).await?;
        }
        // The reader has ended (the channel closed): the file was read, or refused.
        let summary = reading.await.map_err(|e| Refusal::Internal(e.into()))??;
        store::set_counts(&tx, batch_id, summary.rows, summary.bad).await?;
        tx.commit().await?;
        self.view(principal, batch_id).await
    }

    /// ユーザ一括登録 answered at once (`POST /api/v1/admin/users/bulk`, the older route kept
    /// for existing scripts): `bytes` read by the one reader of bulk files as a `users` file
    /// (the same encodings, header, line and column errors, row rules), then each good row
    /// registered at once through `accounts` as one ユーザ登録, a row refused not stopping the
    /// others. No batch is stored: the answer tells each row.
    pub async fn register_users_now(
        &self,
        accounts: &Accounts,
        principal: &Principal,
        bytes: &[u8],
        declared: Option<CsvEncoding>,
    ) -> Result<Vec<UserLine>, Refusal> {
        let kind = self.kind_for(principal, "users").await?;
        let uploader = parse::Uploader {
            company: principal.company.clone(),
            kind: principal.kind,
        };
        let parsed = parse::parse(kind, bytes, declared, &uploader, today_jst())?;
        let mut lines = Vec::with_capacity(parsed.rows.len());
        for row in parsed.rows {
            let result = match row.outcome {
                Ok(body) => {
                    let registered =
                        match user_request_of(&principal.company, principal.kind, &body) {
                            Ok(request) => accounts.register_user(principal, request).await,
                            Err(refusal) => Err(refusal),
                        };
                    registered.map_err(|r| parse::RowFault::of(kind, &r))
                }
                Err(fault) => Err(fault),
            };
            lines.push(UserLine {
                line: row.line,
                user_id: row.point,
                result,
            });
        }
        Ok(lines)
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
