//! Bulk applications (一括申請) over HTTP: upload a CSV file, see its preview, confirm it, follow
//! it and download every row's outcome. Each handler reads the call, asks `bulk::Bulk`, and
//! answers its view; the reading, the rules and the filing are all `bulk`'s.

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use uuid::Uuid;

use super::AppState;
use super::error::ErrorBody;
use super::extract::Filters;
use crate::accounts::Principal;
use crate::bulk::{self, BatchView};
use crate::csv_text::{self, CsvEncoding};
use crate::domain::{Refusal, today_jst};

/// `?encoding=`: `utf-8` or `shift_jis` (also `sjis`, `cp932`, `windows-31j`).
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EncodingQuery {
    encoding: Option<String>,
}

/// `?only_good=true`: file the good rows although some are bad.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConfirmQuery {
    #[serde(default)]
    only_good: bool,
}

fn encoding_of(label: Option<&str>) -> Result<Option<CsvEncoding>, Refusal> {
    label
        .map(|l| {
            CsvEncoding::from_label(l).ok_or_else(|| {
                Refusal::invalid(
                    "encoding",
                    "invalid_encoding",
                    "encoding は utf-8 か shift_jis で指定してください",
                    "encoding is utf-8 or shift_jis",
                )
            })
        })
        .transpose()
}

fn batch_id(raw: &str) -> Result<Uuid, Refusal> {
    Uuid::parse_str(raw).map_err(|_| Refusal::BulkBatchNotFound)
}

fn csv_response(bytes: Vec<u8>, encoding: CsvEncoding, filename: &str) -> Response {
    let headers = [
        (
            header::CONTENT_TYPE,
            format!("text/csv; charset={}", encoding.charset()),
        ),
        (
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ),
    ];
    (headers, bytes).into_response()
}

/// 一括申請のアップロード: reads and checks every row of the file and answers the preview
/// (201); nothing is filed until the batch is confirmed. `{function}` is the single function
/// each row is filed as (`switch-start`, `hv-switch-end`, `customer-change`, …, see
/// docs/bulk.md). The encoding is detected (UTF-8 with or without a BOM, else Shift_JIS)
/// unless `?encoding=` or the `Content-Type` charset names it. At most 20 MiB, streamed to
/// disk as it arrives.
#[utoipa::path(post, path = "/api/v1/bulk/{function}", tag = "一括申請",
    params(("function" = String, Path, description = "the bulk function's single function"), EncodingQuery),
    request_body(content = String, content_type = "text/csv",
        description = "the header line of the function's template, then one application per line"),
    responses(
        (status = 201, description = "The batch's preview", body = BatchView),
        (status = 403, description = "function_not_allowed / function_not_permitted", body = ErrorBody),
        (status = 413, description = "file_too_large", body = ErrorBody),
        (status = 422, description = "the file cannot be read: empty_file, binary_file, open_quote, wrong_header, cell_count, mixed_encoding, wrong_encoding, no_rows, too_many_rows, invalid_encoding, unknown_bulk_function", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn upload(
    State(state): State<AppState>,
    Path(function): Path<String>,
    principal: Principal,
    Filters(query): Filters<EncodingQuery>,
    request: Request,
) -> Result<(StatusCode, Json<BatchView>), Refusal> {
    state.bulk.kind_for(&principal, &function).await?;
    let charset = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(csv_text::charset_of);
    let declared = encoding_of(query.encoding.as_deref())?.or(charset);
    let body = request.into_body().into_data_stream();
    let file = bulk::Spool::receive(body, |chunk, file| {
        file.extend_from_slice(chunk);
        Ok(())
    })
    .await?;
    let view = state
        .bulk
        .upload(&principal, &function, file, declared)
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// 一括申請の状況: the batch's preview before it is confirmed, its progress after (counts by
/// status, the bad rows).
#[utoipa::path(get, path = "/api/v1/bulk/batches/{batch_id}", tag = "一括申請",
    params(("batch_id" = String, Path, description = "the batch's id")),
    responses(
        (status = 200, description = "The batch", body = BatchView),
        (status = 404, description = "bulk_batch_not_found (also another company's batch)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn one(
    State(state): State<AppState>,
    Path(id): Path<String>,
    principal: Principal,
) -> Result<Json<BatchView>, Refusal> {
    Ok(Json(state.bulk.view(&principal, batch_id(&id)?).await?))
}

/// 一括申請の確定: files the batch's rows, each as one application, exactly once (a second
/// confirm changes nothing). Refused while a row is bad unless `?only_good=true`.
#[utoipa::path(post, path = "/api/v1/bulk/batches/{batch_id}/confirm", tag = "一括申請",
    params(("batch_id" = String, Path, description = "the batch's id"), ConfirmQuery),
    responses(
        (status = 202, description = "Confirmed: the rows are being filed", body = BatchView),
        (status = 404, description = "bulk_batch_not_found", body = ErrorBody),
        (status = 422, description = "bulk_has_bad_rows", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn confirm(
    State(state): State<AppState>,
    Path(id): Path<String>,
    principal: Principal,
    Filters(query): Filters<ConfirmQuery>,
) -> Result<(StatusCode, Json<BatchView>), Refusal> {
    let view = state
        .bulk
        .confirm(&principal, batch_id(&id)?, query.only_good)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(view)))
}

/// 一括申請の結果ダウンロード: every row with its outcome (request id, status, the operator's
/// answer, refusal code and message), UTF-8 with a BOM or `?encoding=shift_jis`.
#[utoipa::path(get, path = "/api/v1/bulk/batches/{batch_id}/rows.csv", tag = "一括申請",
    params(("batch_id" = String, Path, description = "the batch's id"), EncodingQuery),
    responses(
        (status = 200, description = "text/csv: 行番号,地点特定番号,結果,申込番号(request id),処理状況,処理状況(日本語),項目,エラーコード,エラーメッセージ,回答", content_type = "text/csv", body = String),
        (status = 404, description = "bulk_batch_not_found", body = ErrorBody),
        (status = 422, description = "invalid_encoding", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn rows_csv(
    State(state): State<AppState>,
    Path(id): Path<String>,
    principal: Principal,
    Filters(query): Filters<EncodingQuery>,
) -> Result<Response, Refusal> {
    let encoding = encoding_of(query.encoding.as_deref())?.unwrap_or_default();
    let id = batch_id(&id)?;
    let bytes = state.bulk.rows_csv(&principal, id, encoding).await?;
    Ok(csv_response(bytes, encoding, &format!("bulk-{id}.csv")))
}

/// The template of a bulk function: its header line alone.
#[utoipa::path(get, path = "/api/v1/bulk/{function}/template.csv", tag = "一括申請",
    params(("function" = String, Path, description = "the bulk function's single function"), EncodingQuery),
    responses(
        (status = 200, description = "text/csv: the header line", content_type = "text/csv", body = String),
        (status = 422, description = "unknown_bulk_function, invalid_encoding", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn template(
    State(state): State<AppState>,
    Path(function): Path<String>,
    principal: Principal,
    Filters(query): Filters<EncodingQuery>,
) -> Result<Response, Refusal> {
    let kind = state.bulk.kind_for(&principal, &function).await?;
    published_file(kind, &query, "template", bulk::template)
}

/// A file published for a bulk function (`what`: `template` or `sample`), as the caller may see
/// that function and in the encoding asked for.
fn published_file(
    kind: bulk::BulkKind,
    query: &EncodingQuery,
    what: &str,
    make: impl FnOnce(bulk::BulkKind) -> String,
) -> Result<Response, Refusal> {
    let function = kind.slug();
    let encoding = encoding_of(query.encoding.as_deref())?.unwrap_or_default();
    let bytes = csv_text::encode(&make(kind), encoding);
    Ok(csv_response(
        bytes,
        encoding,
        &format!("{function}-{what}.csv"),
    ))
}

/// A sample file of a bulk function: the header line and two rows to edit.
#[utoipa::path(get, path = "/api/v1/bulk/{function}/sample.csv", tag = "一括申請",
    params(("function" = String, Path, description = "the bulk function's single function"), EncodingQuery),
    responses(
        (status = 200, description = "text/csv: the header and two rows", content_type = "text/csv", body = String),
        (status = 422, description = "unknown_bulk_function, invalid_encoding", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn sample(
    State(state): State<AppState>,
    Path(function): Path<String>,
    principal: Principal,
    Filters(query): Filters<EncodingQuery>,
) -> Result<Response, Refusal> {
    let kind = state.bulk.kind_for(&principal, &function).await?;
    published_file(kind, &query, "sample", |kind| {
        bulk::sample(kind, today_jst(), &principal.company)
    })
}
