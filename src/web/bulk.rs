//! 一括申請 on the screen: choose the bulk function, upload the file (a multipart form with the
//! session's CSRF token), see the preview (each bad row with line, column and message), confirm
//! (or file only the good rows), follow the batch (counts and a progress bar, the page
//! reloading itself while rows are filed) and download every row's outcome. Every step calls
//! `bulk::Bulk`, the service the API calls.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use uuid::Uuid;

use super::WebState;
use super::page::{Chrome, html, refused};
use super::session::Visitor;
use crate::accounts::{Principal, access};
use crate::bulk::{BatchView, BulkKind, Filer, MAX_FILE_BYTES};
use crate::csv_text::CsvEncoding;
use crate::domain::Refusal;

/// A bulk function the visitor may choose.
pub struct Choice {
    pub slug: &'static str,
    pub name: String,
}

#[derive(Template)]
#[template(path = "web/bulk.html")]
struct UploadPage {
    chrome: Option<Chrome>,
    choices: Vec<Choice>,
    /// The bulk function chosen before (`?function=`, or the refused upload's).
    selected: String,
    error: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "web/bulk_batch.html")]
struct BatchPage {
    chrome: Option<Chrome>,
    b: BatchView,
    /// Rows settled (filed or refused at filing) of the good rows to file.
    done: i64,
    to_file: i64,
}

/// The bulk functions `principal`'s kind and permissions allow (the service checks again).
fn choices(principal: &Principal) -> Vec<Choice> {
    BulkKind::ALL
        .into_iter()
        .filter(|k| match (k.filer(), k.hub_function()) {
            (Filer::Submission(f), _) => crate::requests::may_submit(principal, f).is_ok(),
            (Filer::Users, _) => crate::accounts::require_admin(principal).is_ok(),
            (_, Some(h)) => access::open(principal, h).is_ok(),
            (_, None) => false,
        })
        .map(|k| Choice {
            slug: k.slug(),
            name: format!("{} ({})", k.name_ja(), k.slug()),
        })
        .collect()
}

fn upload_page(
    visitor: &Visitor,
    status: StatusCode,
    selected: &str,
    error: Option<&Refusal>,
) -> Response {
    let error = error.map(|r| (r.code().to_string(), r.messages().0));
    html(
        status,
        &UploadPage {
            chrome: Some(Chrome::of(visitor)),
            choices: choices(&visitor.principal),
            selected: selected.to_string(),
            error,
        },
    )
}

#[derive(Deserialize)]
pub struct FormQuery {
    function: Option<String>,
}

/// The upload form (`?function=` chooses the bulk function, as the user list's ユーザ一括登録
/// link does).
pub async fn form(visitor: Visitor, Query(q): Query<FormQuery>) -> Response {
    let selected = q.function.unwrap_or_default();
    upload_page(&visitor, StatusCode::OK, &selected, None)
}

/// The upload: the file read and checked, then the batch's page (its preview).
pub async fn upload(State(state): State<WebState>, visitor: Visitor, request: Request) -> Response {
    let boundary = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(boundary_of);
    // The file and the form's few small fields.
    let body = axum::body::to_bytes(request.into_body(), MAX_FILE_BYTES + 64 * 1024).await;
    let (Some(boundary), Ok(body)) = (boundary, body) else {
        return upload_page(
            &visitor,
            StatusCode::PAYLOAD_TOO_LARGE,
            "",
            Some(&Refusal::BulkFileTooLarge(MAX_FILE_BYTES)),
        );
    };
    let parts = multipart(&body, &boundary);
    let field = |name: &str| {
        parts
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    };
    let text = |name: &str| {
        field(name)
            .and_then(|v| std::str::from_utf8(v).ok())
            .unwrap_or_default()
    };
    if !visitor.csrf_ok(text("csrf")) {
        return super::page::csrf_refused();
    }
    let declared = CsvEncoding::from_label(text("encoding"));
    let file = field("file").unwrap_or_default().to_vec();
    match state
        .bulk
        .upload(&visitor.principal, text("function"), file, declared)
        .await
    {
        Ok(view) => Redirect::to(&format!("/web/bulk/{}", view.batch_id)).into_response(),
        Err(r @ Refusal::InvalidField { .. }) => upload_page(
            &visitor,
            StatusCode::UNPROCESSABLE_ENTITY,
            text("function"),
            Some(&r),
        ),
        Err(r) => refused(&r),
    }
}

/// The batch: its preview, or its progress while filed.
pub async fn batch(
    State(state): State<WebState>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Response {
    let id = match Uuid::parse_str(&id) {
        Ok(id) => id,
        Err(_) => return refused(&Refusal::BulkBatchNotFound),
    };
    match state.bulk.view(&visitor.principal, id).await {
        Ok(b) => {
            let c = &b.counts;
            let (done, to_file) = (c.filed + c.refused, c.filed + c.refused + c.pending);
            html(
                StatusCode::OK,
                &BatchPage {
                    chrome: Some(Chrome::of(&visitor)),
                    done,
                    to_file,
                    b,
                },
            )
        }
        Err(r) => refused(&r),
    }
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    csrf: String,
    #[serde(default)]
    only_good: bool,
}

/// Confirms the batch (only its good rows with `only_good`), then shows its progress.
pub async fn confirm(
    State(state): State<WebState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Form(form): Form<ConfirmForm>,
) -> Response {
    if !visitor.csrf_ok(&form.csrf) {
        return super::page::csrf_refused();
    }
    let Ok(id) = Uuid::parse_str(&id) else {
        return refused(&Refusal::BulkBatchNotFound);
    };
    match state
        .bulk
        .confirm(&visitor.principal, id, form.only_good)
        .await
    {
        Ok(_) => Redirect::to(&format!("/web/bulk/{id}")).into_response(),
        Err(r) => refused(&r),
    }
}

/// Every row's outcome as CSV (UTF-8 with a BOM, or `?encoding=shift_jis`).
pub async fn rows_csv(
    State(state): State<WebState>,
    visitor: Visitor,
    Path(id): Path<String>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Response {
    let Ok(id) = Uuid::parse_str(&id) else {
        return refused(&Refusal::BulkBatchNotFound);
    };
    let encoding = q
        .get("encoding")
        .and_then(|l| CsvEncoding::from_label(l))
        .unwrap_or_default();
    match state.bulk.rows_csv(&visitor.principal, id, encoding).await {
        Ok(bytes) => csv_answer(bytes, encoding, &format!("bulk-{id}.csv")),
        Err(r) => refused(&r),
    }
}

/// A bulk function's template (its header line) or, with `?sample=true`, its sample, in
/// UTF-8 with a BOM (or `?encoding=shift_jis`).
pub async fn published(
    State(state): State<WebState>,
    visitor: Visitor,
    Path(function): Path<String>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Response {
    let kind = match state.bulk.kind_for(&visitor.principal, &function).await {
        Ok(k) => k,
        Err(r) => return refused(&r),
    };
    let encoding = q
        .get("encoding")
        .and_then(|l| CsvEncoding::from_label(l))
        .unwrap_or_default();
    let (what, text) = if q.get("sample").is_some_and(|v| v == "true") {
        (
            "sample",
            crate::bulk::sample(kind, crate::domain::today_jst(), &visitor.principal.company),
        )
    } else {
        ("template", crate::bulk::template(kind))
    };
    csv_answer(
        crate::csv_text::encode(&text, encoding),
        encoding,
        &format!("{function}-{what}.csv"),
    )
}

fn csv_answer(bytes: Vec<u8>, encoding: CsvEncoding, filename: &str) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                format!("text/csv; charset={}", encoding.charset()),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// The boundary of a `multipart/form-data` content type.
fn boundary_of(content_type: &str) -> Option<String> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.eq_ignore_ascii_case("boundary")
            .then(|| v.trim_matches('"').to_string())
    })
}

/// The parts of a `multipart/form-data` body, by name (a browser's form: a few small fields
/// and one file). A part without a name is skipped.
fn multipart(body: &[u8], boundary: &str) -> Vec<(String, Vec<u8>)> {
    let delimiter = format!("\r\n--{boundary}");
    // The first delimiter has no line end before it.
    let mut rest = match find(body, &delimiter.as_bytes()[2..]) {
        Some(at) => &body[at + delimiter.len() - 2..],
        None => return Vec::new(),
    };
    let mut parts = Vec::new();
    while !rest.starts_with(b"--") {
        let Some(head_end) = find(rest, b"\r\n\r\n") else {
            break;
        };
        let head = String::from_utf8_lossy(&rest[..head_end]).into_owned();
        let content = &rest[head_end + 4..];
        let Some(end) = find(content, delimiter.as_bytes()) else {
            break;
        };
        if let Some(name) = part_name(&head) {
            parts.push((name, content[..end].to_vec()));
        }
        rest = &content[end + delimiter.len()..];
    }
    parts
}

/// The `name` of a part's `Content-Disposition: form-data; name="…"`.
fn part_name(head: &str) -> Option<String> {
    let disposition = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))?;
    disposition.split(';').find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        (k == "name").then(|| v.trim_matches('"').to_string())
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_browsers_multipart_form_is_read_into_its_fields_and_file() {
        let body = "------b\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nabc\r\n\
                    ------b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\
                    Content-Type: text/csv\r\n\r\nx,y\r\n1,2\r\n\r\n------b--\r\n";
        let ct = "multipart/form-data; boundary=----b";
        let parts = multipart(body.as_bytes(), &boundary_of(ct).unwrap());
        assert_eq!(parts[0], ("csrf".into(), b"abc".to_vec()));
        assert_eq!(parts[1], ("file".into(), b"x,y\r\n1,2\r\n".to_vec()));
        assert_eq!(boundary_of("application/x-www-form-urlencoded"), None);
    }
}
