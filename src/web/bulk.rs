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
use crate::bulk::{BatchView, BulkKind, Filer, Spool, Upload};
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

/// The upload: the file read and checked, then the batch's page (its preview). The form is
/// read as it arrives, its file part spooled to disk by `bulk::Spool` as the API's body is:
/// never held in memory.
pub async fn upload(State(state): State<WebState>, visitor: Visitor, request: Request) -> Response {
    let boundary = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(boundary_of);
    let Some(boundary) = boundary else {
        return upload_page(
            &visitor,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "",
            Some(&Refusal::UnsupportedMediaType("multipart/form-data")),
        );
    };
    let (form, file) = match read_form(request.into_body(), &boundary).await {
        Ok(read) => read,
        Err(r @ Refusal::BulkFileTooLarge(_)) => {
            return upload_page(&visitor, StatusCode::PAYLOAD_TOO_LARGE, "", Some(&r));
        }
        Err(r @ Refusal::BadRequest(_)) => {
            return upload_page(&visitor, StatusCode::BAD_REQUEST, "", Some(&r));
        }
        Err(r) => return refused(&r),
    };
    if !visitor.csrf_ok(form.text("csrf")) {
        return super::page::csrf_refused();
    }
    let declared = CsvEncoding::from_label(form.text("encoding"));
    match state
        .bulk
        .upload(&visitor.principal, form.text("function"), file, declared)
        .await
    {
        Ok(view) => Redirect::to(&format!("/web/bulk/{}", view.batch_id)).into_response(),
        Err(r @ Refusal::InvalidField { .. }) => upload_page(
            &visitor,
            StatusCode::UNPROCESSABLE_ENTITY,
            form.text("function"),
            Some(&r),
        ),
        Err(r) => refused(&r),
    }
}

/// The form's body read as it arrives: its small fields, and its `file` part spooled.
async fn read_form(
    body: axum::body::Body,
    boundary: &str,
) -> Result<(FormReader, Upload), Refusal> {
    let mut form = FormReader::new(boundary);
    let file = Spool::receive(body.into_data_stream(), |chunk, file| {
        form.push(chunk, file)
    })
    .await?;
    Ok((form, file))
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

/// The most a part's head, or a field other than the file, may hold.
const FIELD_LIMIT: usize = 64 * 1024;

/// Where a `multipart/form-data` reader stands.
enum Place {
    /// Before the first delimiter.
    Preamble,
    /// Just after a delimiter: the last one (`--`) or a part's head follows.
    Delimiter,
    /// In a part's head (its `Content-Disposition`).
    Head,
    /// In a part's content: the file, or a field of that name (`None`: a part without a name).
    Content { file: bool, name: Option<String> },
    /// After the last delimiter.
    Done,
}

/// A browser's form (a few small fields and one file, `multipart/form-data`) read a chunk at a
/// time: the fields kept by name, the file's bytes handed back as they are found so they can
/// be written on. Only the tail that could begin a delimiter is held between chunks.
struct FormReader {
    /// `\r\n--boundary`: what ends each part.
    delimiter: Vec<u8>,
    buf: Vec<u8>,
    place: Place,
    fields: Vec<(String, Vec<u8>)>,
}

impl FormReader {
    fn new(boundary: &str) -> Self {
        FormReader {
            delimiter: format!("\r\n--{boundary}").into_bytes(),
            // The first delimiter has no line end before it: give it one.
            buf: b"\r\n".to_vec(),
            place: Place::Preamble,
            fields: Vec::new(),
        }
    }

    /// A field's text (empty when absent or not UTF-8).
    fn text(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
            .unwrap_or_default()
    }

    /// The next bytes of the body; the bytes of the file part they complete are appended to
    /// `file`.
    fn push(&mut self, chunk: &[u8], file: &mut Vec<u8>) -> Result<(), Refusal> {
        self.buf.extend_from_slice(chunk);
        loop {
            let d = self.delimiter.len();
            match &self.place {
                Place::Done => {
                    self.buf.clear();
                    return Ok(());
                }
                Place::Preamble => match find(&self.buf, &self.delimiter) {
                    Some(at) => {
                        self.buf.drain(..at + d);
                        self.place = Place::Delimiter;
                    }
                    None => {
                        let keep = self.buf.len().min(d - 1);
                        self.buf.drain(..self.buf.len() - keep);
                        return Ok(());
                    }
                },
                Place::Delimiter => {
                    if self.buf.starts_with(b"--") {
                        self.place = Place::Done;
                    } else if let Some(at) = find(&self.buf, b"\r\n") {
                        self.buf.drain(..at + 2);
                        self.place = Place::Head;
                    } else if self.buf.len() > FIELD_LIMIT {
                        return Err(bad_form());
                    } else {
                        return Ok(());
                    }
                }
                Place::Head => match find(&self.buf, b"\r\n\r\n") {
                    Some(at) => {
                        let head = String::from_utf8_lossy(&self.buf[..at]).into_owned();
                        self.buf.drain(..at + 4);
                        let name = part_name(&head);
                        let file = name.as_deref() == Some("file");
                        if let Some(n) = name.as_ref().filter(|_| !file) {
                            self.fields.push((n.clone(), Vec::new()));
                        }
                        self.place = Place::Content { file, name };
                    }
                    None if self.buf.len() > FIELD_LIMIT => return Err(bad_form()),
                    None => return Ok(()),
                },
                Place::Content {
                    file: is_file,
                    name,
                } => {
                    let (is_file, named) = (*is_file, name.is_some());
                    let (end, done) = match find(&self.buf, &self.delimiter) {
                        Some(at) => (at, true),
                        None => (self.buf.len().saturating_sub(d - 1), false),
                    };
                    if is_file {
                        file.extend_from_slice(&self.buf[..end]);
                    } else if named {
                        let field = &mut self.fields.last_mut().expect("the field").1;
                        if field.len() + end > FIELD_LIMIT {
                            return Err(bad_form());
                        }
                        field.extend_from_slice(&self.buf[..end]);
                    }
                    if done {
                        self.buf.drain(..end + d);
                        self.place = Place::Delimiter;
                    } else {
                        self.buf.drain(..end);
                        return Ok(());
                    }
                }
            }
        }
    }
}

fn bad_form() -> Refusal {
    Refusal::BadRequest("the form (multipart/form-data) cannot be read".into())
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

    /// The form read in chunks of `size` bytes: its fields and its file.
    fn read_in_chunks(body: &[u8], boundary: &str, size: usize) -> (FormReader, Vec<u8>) {
        let mut form = FormReader::new(boundary);
        let mut file = Vec::new();
        for chunk in body.chunks(size) {
            form.push(chunk, &mut file).unwrap();
        }
        (form, file)
    }

    #[test]
    fn a_browsers_multipart_form_is_read_into_its_fields_and_file_however_it_arrives() {
        let body = "------b\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nabc\r\n\
                    ------b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\
                    Content-Type: text/csv\r\n\r\nx,y\r\n1,2\r\n--\r\n\r\n\
                    ------b\r\nContent-Disposition: form-data; name=\"encoding\"\r\n\r\n\r\n\
                    ------b--\r\n";
        let ct = "multipart/form-data; boundary=----b";
        let boundary = boundary_of(ct).unwrap();
        for size in [1, 2, 5, 7, 13, body.len()] {
            let (form, file) = read_in_chunks(body.as_bytes(), &boundary, size);
            assert_eq!(form.text("csrf"), "abc", "chunks of {size}");
            assert_eq!(form.text("encoding"), "", "chunks of {size}");
            assert_eq!(file, b"x,y\r\n1,2\r\n--\r\n", "chunks of {size}");
        }
        assert_eq!(boundary_of("application/x-www-form-urlencoded"), None);
    }
}
