//! 業務処理状況確認(複数件): the list with its filters (class, function, area, status, point,
//! accepted dates), paging that keeps the filters, and the CSV download of the same filters.
//! Every read goes through `Submissions::list`, so the same company scoping holds as at the API.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::WebState;
use super::page::{Chrome, html, refused};
use super::session::Visitor;
use super::signin::Shown;
use crate::csv_text::{self, CsvEncoding};
use crate::domain::{Area, Function, PointClass, Refusal, RequestStatus};
use crate::requests::{ListQuery, RequestView};

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
    /// 受付日 from, YYYY-MM-DD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    accepted_from: Option<String>,
    /// 受付日 to, YYYY-MM-DD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    accepted_to: Option<String>,
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
            accepted_from: given(&self.accepted_from),
            accepted_to: given(&self.accepted_to),
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
            &mut f.accepted_from,
            &mut f.accepted_to,
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
    accepted_from: String,
    accepted_to: String,
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
                accepted_from: v(&form.accepted_from),
                accepted_to: v(&form.accepted_to),
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
        accepted_from: q.accepted_from.clone(),
        accepted_to: q.accepted_to.clone(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_page_and_the_csv_keep_every_filter() {
        let form: ListForm = serde_urlencoded::from_str(
            "class=lv&function=&area=03&status=rejected&supply_point_id=&accepted_from=2026-11-01\
             &accepted_to=2026-11-30&limit=20&cursor=old",
        )
        .unwrap();
        let next = form.link(Some("c2"), None);
        assert_eq!(
            next,
            "class=lv&area=03&status=rejected&accepted_from=2026-11-01&accepted_to=2026-11-30\
             &limit=20&cursor=c2"
        );
        let csv = form.link(None, Some("shift_jis"));
        assert!(
            csv.contains("accepted_from=2026-11-01&accepted_to=2026-11-30"),
            "{csv}"
        );
        assert!(
            csv.ends_with("encoding=shift_jis") && !csv.contains("cursor"),
            "{csv}"
        );
    }
}
