//! 業務処理状況確認: the application's own page, kept current without a reload by server-sent
//! events (the server asks the status service every half second and pushes a change), and the
//! list (複数件) with its filters, paging and CSV download. Every read goes through
//! `Submissions::status` / `Submissions::list`, so the same company scoping and the same audit
//! of personal data hold as at the API.

use std::convert::Infallible;
use std::time::Duration;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::WebState;
use super::page::{Chrome, html, refused};
use super::session::{Visitor, presented};
use super::signin::Shown;
use crate::csv_text::{self, CsvEncoding};
use crate::domain::{Area, Function, PointClass, Refusal, RequestStatus};
use crate::requests::{ListQuery, RequestView};

/// One line of an answer's table.
pub struct AnswerRow {
    pub name: String,
    pub value: String,
}

/// The status part of an application's page: what the events replace.
#[derive(Template)]
#[template(path = "web/status_section.html")]
struct StatusSection<'a> {
    view: &'a RequestView,
    answer: Vec<AnswerRow>,
}

#[derive(Template)]
#[template(path = "web/request.html")]
struct RequestPage<'a> {
    chrome: Option<Chrome>,
    view: &'a RequestView,
    section: String,
}

fn is_final(view: &RequestView) -> bool {
    view.status
        .parse::<RequestStatus>()
        .is_ok_and(|s| s.is_final())
}

/// The operator's answer as rows: each field of the result, a list as its JSON text.
fn answer_rows(view: &RequestView) -> Vec<AnswerRow> {
    let Some(Value::Object(fields)) = &view.result else {
        return vec![];
    };
    fields
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| AnswerRow {
            name: k.clone(),
            value: match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            },
        })
        .collect()
}

fn section(view: &RequestView) -> Result<String, Refusal> {
    StatusSection {
        view,
        answer: answer_rows(view),
    }
    .render()
    .map_err(|e| Refusal::Internal(e.into()))
}

/// The application's page: its status and the operator's answer.
pub async fn one(
    State(state): State<WebState>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Response {
    let shown = async {
        let view = state
            .submissions
            .status(&visitor.principal, &id, None)
            .await?;
        let section = section(&view)?;
        Ok::<_, Refusal>(html(
            StatusCode::OK,
            &RequestPage {
                chrome: Some(Chrome::of(&visitor)),
                view: &view,
                section,
            },
        ))
    }
    .await;
    shown.unwrap_or_else(|r| refused(&r))
}

#[derive(Serialize)]
struct Update {
    status: String,
    html: String,
    #[serde(rename = "final")]
    finished: bool,
}

/// How often the events ask the status service.
const POLL: Duration = Duration::from_millis(500);
/// How long one events answer lasts at most (the browser reconnects after).
const EVENTS_FOR: Duration = Duration::from_secs(600);

/// The status of one application as server-sent events: a `status` event (its JSON: status,
/// the section's HTML, whether final) at once and on every change, until final; an `ended`
/// event when the session ends meanwhile. The session is checked again on every poll, so a
/// sign-out or a suspension stops the events too.
pub async fn events(
    State(state): State<WebState>,
    visitor: Visitor,
    parts: Parts,
    Path(id): Path<String>,
) -> Response {
    let fingerprint = presented(&parts).map(|p| (p.company.cloned(), p.fingerprint.to_string()));
    let started = tokio::time::Instant::now();
    let seed = (visitor, None::<String>, false);
    let stream = futures::stream::unfold(seed, move |(visitor, last, done)| {
        let state = state.clone();
        let id = id.clone();
        let fingerprint = fingerprint.clone();
        async move {
            if done || started.elapsed() > EVENTS_FOR {
                return None;
            }
            loop {
                if last.is_some() {
                    tokio::time::sleep(POLL).await;
                }
                let cert = fingerprint
                    .as_ref()
                    .map(|(c, f)| crate::accounts::Presented {
                        company: c.as_ref(),
                        fingerprint: f,
                    });
                if state
                    .accounts
                    .authenticate(&visitor.token, cert, false)
                    .await
                    .is_err()
                {
                    let ended = Event::default().event("ended").data("session");
                    return Some((Ok::<_, Infallible>(ended), (visitor, last, true)));
                }
                let update = state
                    .submissions
                    .status(&visitor.principal, &id, None)
                    .await
                    .and_then(|v| Ok((v.status.clone(), section(&v)?, is_final(&v))));
                let (status, html, finished) = match update {
                    Ok(u) => u,
                    Err(r) => {
                        let ended = Event::default().event("refused").data(r.code());
                        return Some((Ok(ended), (visitor, last, true)));
                    }
                };
                if last.as_deref() != Some(status.as_str()) {
                    let event = Event::default()
                        .event("status")
                        .json_data(Update {
                            status: status.clone(),
                            html,
                            finished,
                        })
                        .unwrap_or_default();
                    return Some((Ok(event), (visitor, Some(status), finished)));
                }
                if started.elapsed() > EVENTS_FOR {
                    return None;
                }
            }
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// The list's filters as the form sends them: every one optional, an empty one ignored.
#[derive(Debug, Default, Deserialize, Serialize, Clone)]
pub struct ListForm {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    class: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    function: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    area: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    supply_point_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    limit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cursor: Option<String>,
    /// The CSV's encoding: `utf-8` (with BOM) or `shift_jis`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    encoding: Option<String>,
}

fn given(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

impl ListForm {
    /// The status service's query; a limit that is no number is refused as the API refuses it.
    fn query(&self) -> Result<ListQuery, Refusal> {
        let limit = given(&self.limit)
            .map(|l| {
                l.parse::<i64>().map_err(|_| {
                    Refusal::invalid(
                        "limit",
                        "invalid_limit",
                        "limit は1〜1000で指定してください",
                        "limit must be 1 to 1000",
                    )
                })
            })
            .transpose()?;
        Ok(ListQuery {
            class: given(&self.class),
            status: given(&self.status),
            function: given(&self.function),
            area: given(&self.area),
            supply_point_id: given(&self.supply_point_id),
            limit,
            cursor: given(&self.cursor),
        })
    }

    /// The query string of these filters with `cursor` and `encoding` replaced.
    fn link(&self, cursor: Option<&str>, encoding: Option<&str>) -> String {
        let mut f = self.clone();
        f.cursor = cursor.map(str::to_string);
        f.encoding = encoding.map(str::to_string);
        for v in [
            &mut f.class,
            &mut f.function,
            &mut f.area,
            &mut f.status,
            &mut f.supply_point_id,
            &mut f.limit,
        ] {
            *v = given(v);
        }
        serde_urlencoded::to_string(&f).unwrap_or_default()
    }
}

/// A choice of a filter's select.
pub struct Choice {
    pub value: String,
    pub label: String,
}

#[derive(Template)]
#[template(path = "web/list.html")]
struct ListPage {
    chrome: Option<Chrome>,
    form: ListFormView,
    classes: Vec<Choice>,
    functions: Vec<Choice>,
    areas: Vec<Choice>,
    statuses: Vec<Choice>,
    items: Vec<RequestView>,
    next: Option<String>,
    csv_utf8: String,
    csv_sjis: String,
    error: Option<Shown>,
}

/// The filters as typed, for the form to show again.
struct ListFormView {
    class: String,
    function: String,
    area: String,
    status: String,
    supply_point_id: String,
    limit: String,
}

fn choices() -> (Vec<Choice>, Vec<Choice>, Vec<Choice>, Vec<Choice>) {
    let classes = PointClass::ALL
        .iter()
        .map(|c| Choice {
            value: c.slug().into(),
            label: c.name_ja().into(),
        })
        .collect();
    let functions = Function::ALL
        .iter()
        .map(|f| Choice {
            value: f.slug().into(),
            label: f.name_ja().into(),
        })
        .collect();
    let areas = Area::ALL
        .iter()
        .map(|a| Choice {
            value: a.code().into(),
            label: format!("{} {}", a.code(), a.name_ja()),
        })
        .collect();
    let statuses = [
        RequestStatus::Accepted,
        RequestStatus::Sent,
        RequestStatus::Completed,
        RequestStatus::Rejected,
        RequestStatus::Failed,
    ]
    .iter()
    .map(|s| Choice {
        value: s.as_str().into(),
        label: s.label_ja().into(),
    })
    .collect();
    (classes, functions, areas, statuses)
}

/// 業務処理状況確認(複数件): the filters, one page of the caller's requests, the next page's
/// link and the CSV downloads of the same filters.
pub async fn list(
    State(state): State<WebState>,
    visitor: Visitor,
    Query(form): Query<ListForm>,
) -> Response {
    let page = match form.query() {
        Ok(q) => state.submissions.list(&visitor.principal, q, None).await,
        Err(r) => Err(r),
    };
    let (items, next, error) = match page {
        Ok(p) => (p.items, p.next_cursor, None),
        Err(r @ Refusal::InvalidField { .. }) => (vec![], None, Some(Shown::from(&r))),
        Err(r) => return refused(&r),
    };
    let (classes, functions, areas, statuses) = choices();
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    html(
        status,
        &ListPage {
            chrome: Some(Chrome::of(&visitor)),
            next: next.map(|c| form.link(Some(&c), None)),
            csv_utf8: form.link(None, Some("utf-8")),
            csv_sjis: form.link(None, Some("shift_jis")),
            form: ListFormView {
                class: v(&form.class),
                function: v(&form.function),
                area: v(&form.area),
                status: v(&form.status),
                supply_point_id: v(&form.supply_point_id),
                limit: v(&form.limit),
            },
            classes,
            functions,
            areas,
            statuses,
            items,
            error,
        },
    )
}

/// The most rows one CSV download holds.
const CSV_MAX_ROWS: usize = 100_000;

/// The list's CSV: every request the filters select (all pages), with the refusal code and
/// message, in UTF-8 with BOM or Shift_JIS; every cell neutralised against formulas.
pub async fn list_csv(
    State(state): State<WebState>,
    visitor: Visitor,
    Query(form): Query<ListForm>,
) -> Response {
    match csv_of(&state, &visitor, &form).await {
        Ok((bytes, encoding)) => (
            [
                (
                    header::CONTENT_TYPE,
                    format!("text/csv; charset={}", encoding.charset()),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"requests.csv\"".to_string(),
                ),
            ],
            bytes,
        )
            .into_response(),
        Err(r) => refused(&r),
    }
}

const CSV_HEADER: [&str; 11] = [
    "受付番号",
    "機能",
    "機能名",
    "エリア",
    "供給地点特定番号",
    "状態",
    "状態名",
    "エラーコード",
    "エラーメッセージ",
    "受付日時",
    "完了日時",
];

async fn csv_of(
    state: &WebState,
    visitor: &Visitor,
    form: &ListForm,
) -> Result<(Vec<u8>, CsvEncoding), Refusal> {
    let encoding = match given(&form.encoding) {
        None => CsvEncoding::Utf8,
        Some(e) => CsvEncoding::from_label(&e).ok_or_else(|| {
            Refusal::invalid(
                "encoding",
                "invalid_encoding",
                "文字コードは utf-8 か shift_jis を指定してください",
                "encoding is utf-8 or shift_jis",
            )
        })?,
    };
    let mut query = form.query()?;
    query.limit = Some(1000);
    let mut w = csv::Writer::from_writer(Vec::new());
    let io = |e: csv::Error| Refusal::Internal(e.into());
    w.write_record(CSV_HEADER).map_err(io)?;
    let mut rows = 0;
    loop {
        let cursor = query.cursor.clone();
        let page = state
            .submissions
            .list(
                &visitor.principal,
                ListQuery {
                    cursor,
                    ..clone_query(&query)
                },
                None,
            )
            .await?;
        for v in &page.items {
            w.write_record(
                csv_row(v)
                    .iter()
                    .map(|c| csv_text::neutralise(c).into_owned()),
            )
            .map_err(io)?;
        }
        rows += page.items.len();
        match page.next_cursor {
            Some(next) if rows < CSV_MAX_ROWS => query.cursor = Some(next),
            _ => break,
        }
    }
    let bytes = w.into_inner().map_err(|e| Refusal::Internal(e.into()))?;
    let text = String::from_utf8(bytes).map_err(|e| Refusal::Internal(e.into()))?;
    Ok((csv_text::encode(&text, encoding), encoding))
}

fn clone_query(q: &ListQuery) -> ListQuery {
    ListQuery {
        class: q.class.clone(),
        status: q.status.clone(),
        function: q.function.clone(),
        area: q.area.clone(),
        supply_point_id: q.supply_point_id.clone(),
        limit: q.limit,
        cursor: q.cursor.clone(),
    }
}

fn csv_row(v: &RequestView) -> [String; 11] {
    [
        v.request_id.to_string(),
        v.function.clone(),
        v.function_name_ja.to_string(),
        v.area.clone(),
        v.supply_point_id.clone(),
        v.status.clone(),
        v.status_ja.to_string(),
        v.code.clone().unwrap_or_default(),
        v.message.clone().unwrap_or_default(),
        v.accepted_at.to_rfc3339(),
        v.finished_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
    ]
}
