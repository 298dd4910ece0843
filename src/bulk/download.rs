//! The download of a batch: every row with what became of it — bad (and why), not filed yet,
//! refused at filing, or filed with its request id, status, the operator's answer and refusal.
//! Cells pass through `csv_text::neutralise`, so a name like `=HYPERLINK(…)` opens as text.

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::kind::BulkKind;
use super::store::{self, Batch, BatchState, StoredRow};
use crate::csv_text;
use crate::domain::{CompanyCode, Refusal};
use crate::requests::RequestView;

/// The download's columns, in order (the second is the bulk function's point column: 廃止取次ID
/// for decisions).
pub const HEADER: [&str; 10] = [
    "行番号",
    "地点特定番号",
    "結果",
    "申込番号(request id)",
    "処理状況",
    "処理状況(日本語)",
    "項目",
    "エラーコード",
    "エラーメッセージ",
    "回答",
];

/// The batch's rows as CSV text (one line per row of the upload, by line).
pub async fn rows_csv<C: GenericClient>(
    client: &C,
    company: &CompanyCode,
    batch: &Batch,
) -> Result<String, Refusal> {
    let rows = store::rows(client, batch.batch_id, false, i64::MAX).await?;
    let ids: Vec<Uuid> = rows.iter().filter_map(|r| r.request_id).collect();
    let requests: HashMap<Uuid, RequestView> = crate::requests::store::many(client, company, &ids)
        .await?
        .into_iter()
        .map(|r| (r.request_id, r))
        .collect();
    let internal = |e: csv::Error| Refusal::Internal(e.into());
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = HEADER;
    if let Some(kind) = BulkKind::parse(&batch.kind) {
        header[1] = kind.point_column().header;
    }
    w.write_record(header).map_err(internal)?;
    for row in &rows {
        let cells = cells(batch, row, row.request_id.and_then(|id| requests.get(&id)));
        w.write_record(cells.iter().map(|c| csv_text::neutralise(c).into_owned()))
            .map_err(internal)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Refusal::Internal(anyhow::anyhow!("{e}")))?;
    String::from_utf8(bytes).map_err(|e| Refusal::Internal(e.into()))
}

/// One row's cells, in the order of [`HEADER`].
fn cells(batch: &Batch, row: &StoredRow, request: Option<&RequestView>) -> [String; 10] {
    let text = |s: &Option<String>| s.clone().unwrap_or_default();
    let (outcome, column, code, message) = if !row.good {
        (
            "不備 bad",
            text(&row.bad_column),
            text(&row.bad_code),
            text(&row.bad_ja),
        )
    } else if row.refusal_code.is_some() {
        (
            "申請不可 refused",
            String::new(),
            text(&row.refusal_code),
            text(&row.refusal_ja),
        )
    } else if row.request_id.is_some() {
        let (code, message) = request
            .map(|r| (text(&r.code), text(&r.message)))
            .unwrap_or_default();
        ("申請済 filed", String::new(), code, message)
    } else if batch.state == BatchState::Previewed {
        (
            "未申請 not confirmed",
            String::new(),
            String::new(),
            String::new(),
        )
    } else {
        (
            "申請中 pending",
            String::new(),
            String::new(),
            String::new(),
        )
    };
    let (status, status_ja, answer) = match (row.request_id, request) {
        (_, Some(r)) => (
            r.status.clone(),
            r.status_ja.to_string(),
            r.result.as_ref().map(|v| v.to_string()).unwrap_or_default(),
        ),
        (Some(_), None) => match &row.outcome {
            // A registration or decision: the state its filing left the intermediation in.
            Some(o) => (
                o["state"].as_str().unwrap_or_default().to_string(),
                o["state_ja"].as_str().unwrap_or_default().to_string(),
                o.to_string(),
            ),
            None => ("accepted".into(), "受付".into(), String::new()),
        },
        (None, None) => Default::default(),
    };
    [
        row.line.to_string(),
        row.supply_point_id.clone(),
        outcome.to_string(),
        row.request_id.map(|id| id.to_string()).unwrap_or_default(),
        status,
        status_ja,
        column,
        code,
        message,
        answer,
    ]
}
