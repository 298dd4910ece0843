//! The hub-wide operator screens: maintenance windows (メンテナンス), notices (インフォメーション
//! の掲載, 利用規約の変更), the audit trail with filters, and each area's dead-letter queue with
//! its replay button. Each calls what the CLI calls (`accounts::maintenance`, `notices`,
//! `audit::search`, `replay`), the operator named in the trail.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{Errors, OperatorVisitor, OpsChrome, given, page_or_refusal, shown_time, typed_time};
use crate::accounts::maintenance;
use crate::audit::{AuditEntry, AuditFilter};
use crate::domain::{Area, Refusal, RequestId};
use crate::notices::{self, NoticeError};
use crate::requests::{self, DeadLetter};
use crate::web::WebState;
use crate::web::page::{csrf_refused, refused};

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

/// A window as the screen lists it.
pub struct WindowRow {
    pub starts_at: String,
    pub ends_at: String,
    pub message: String,
    pub in_force: bool,
}

#[derive(Template)]
#[template(path = "ops/maintenance.html")]
struct Maintenance {
    chrome: Option<OpsChrome>,
    windows: Vec<WindowRow>,
    form: MaintenanceForm,
    errors: Errors,
    done: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct MaintenanceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub until: String,
    #[serde(default)]
    pub message: String,
}

async fn maintenance_page(
    state: &WebState,
    v: &OperatorVisitor,
    form: MaintenanceForm,
    errors: Errors,
    done: Option<String>,
) -> Result<Maintenance, Refusal> {
    let now = chrono::Utc::now();
    let windows = maintenance::upcoming_maintenance(&state.pool)
        .await?
        .into_iter()
        .map(|w| WindowRow {
            in_force: w.starts_at <= now,
            starts_at: shown_time(w.starts_at),
            ends_at: shown_time(w.ends_at),
            message: w.message,
        })
        .collect();
    Ok(Maintenance {
        chrome: Some(OpsChrome::of(v)),
        windows,
        form,
        errors,
        done,
    })
}

/// メンテナンス: the windows in force or planned, the form to plan one, the stop button.
pub async fn maintenance(
    State(state): State<WebState>,
    v: OperatorVisitor,
    Query(q): Query<Done>,
) -> Response {
    let page = maintenance_page(
        &state,
        &v,
        MaintenanceForm::default(),
        Errors::none(),
        q.done,
    );
    page_or_refusal(StatusCode::OK, page.await)
}

/// Plans a window (`kirikae maintenance start`): from (empty: now) until, with a message.
pub async fn start_maintenance(
    State(state): State<WebState>,
    v: OperatorVisitor,
    Form(f): Form<MaintenanceForm>,
) -> Response {
    if !v.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    let outcome = async {
        let from = given(&f.from).map(|t| typed_time("from", &t)).transpose()?;
        let until = typed_time("until", &f.until)?;
        maintenance::start_maintenance_by(&state.pool, from, until, f.message.trim(), &v.actor())
            .await
            .map_err(|e| e.into_refusal())
    }
    .await;
    match outcome {
        Ok(()) => Redirect::to("/web/ops/maintenance?done=started").into_response(),
        Err(r @ (Refusal::Internal(_) | Refusal::DatabaseUnavailable(_))) => refused(&r),
        Err(r) => {
            let errors = Errors::of(&r, &["from", "until", "message"]);
            let page = maintenance_page(&state, &v, f, errors, None).await;
            page_or_refusal(StatusCode::UNPROCESSABLE_ENTITY, page)
        }
    }
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// Ends every window in force or planned now (`kirikae maintenance stop`).
pub async fn stop_maintenance(
    State(state): State<WebState>,
    v: OperatorVisitor,
    Form(f): Form<CsrfOnly>,
) -> Response {
    if !v.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    match maintenance::stop_maintenance_by(&state.pool, &v.actor()).await {
        Ok(_) => Redirect::to("/web/ops/maintenance?done=stopped").into_response(),
        Err(e) => refused(&e.into_refusal()),
    }
}

/// A notice as the operator's list shows it.
pub struct NoticeRow {
    pub id: i64,
    pub published_at: String,
    pub title: String,
    pub terms_change: bool,
    pub unsent_mails: i64,
}

#[derive(Template)]
#[template(path = "ops/notices.html")]
struct Notices {
    chrome: Option<OpsChrome>,
    notices: Vec<NoticeRow>,
    form: NoticeForm,
    errors: Errors,
    done: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct NoticeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub body: String,
    /// A checkbox: present when ticked.
    #[serde(default)]
    pub terms_change: Option<String>,
}

async fn notices_page(
    state: &WebState,
    v: &OperatorVisitor,
    form: NoticeForm,
    errors: Errors,
    done: Option<String>,
) -> Result<Notices, Refusal> {
    let mut notices: Vec<NoticeRow> = notices::overview(&state.pool)
        .await?
        .into_iter()
        .map(|n| NoticeRow {
            id: n.id,
            published_at: shown_time(n.published_at),
            title: n.title,
            terms_change: n.terms_change,
            unsent_mails: n.unsent_mails,
        })
        .collect();
    notices.reverse();
    Ok(Notices {
        chrome: Some(OpsChrome::of(v)),
        notices,
        form,
        errors,
        done,
    })
}

/// インフォメーション掲載: what was published (newest first) and the form to publish.
pub async fn notices(
    State(state): State<WebState>,
    v: OperatorVisitor,
    Query(q): Query<Done>,
) -> Response {
    let page = notices_page(&state, &v, NoticeForm::default(), Errors::none(), q.done);
    page_or_refusal(StatusCode::OK, page.await)
}

/// Publishes a notice (`kirikae notice publish`); a terms change is also mailed to every
/// registration's contact.
pub async fn publish(
    State(state): State<WebState>,
    v: OperatorVisitor,
    Form(f): Form<NoticeForm>,
) -> Response {
    if !v.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    let notice = notices::NewNotice {
        title: f.title.trim(),
        body: &f.body,
        terms_change: f.terms_change.is_some(),
    };
    let outcome = notices::publish(&state.pool, &state.settings, &notice, &v.actor()).await;
    match outcome {
        Ok(p) => Redirect::to(&format!("/web/ops/notices?done={}", p.id)).into_response(),
        Err(NoticeError::Empty) => {
            let field = if f.title.trim().is_empty() || f.title.chars().count() > 200 {
                "title"
            } else {
                "body"
            };
            let r = Refusal::invalid(
                field,
                "notice_incomplete",
                "件名(1〜200文字)と本文を入力してください",
                NoticeError::Empty.to_string(),
            );
            let errors = Errors::of(&r, &["title", "body"]);
            let page = notices_page(&state, &v, f, errors, None).await;
            page_or_refusal(StatusCode::UNPROCESSABLE_ENTITY, page)
        }
        Err(e) => refused(&Refusal::from(e)),
    }
}

/// The audit screen's filters, as its form sends them (every one optional).
#[derive(Deserialize, Default)]
pub struct AuditQuery {
    #[serde(default)]
    pub who: String,
    #[serde(default)]
    pub what: String,
    #[serde(default)]
    pub company: String,
    #[serde(default)]
    pub point: String,
    /// 日付 from (JST), inclusive.
    #[serde(default)]
    pub from: String,
    /// 日付 to (JST), inclusive.
    #[serde(default)]
    pub to: String,
}

/// An audit entry as the screen shows it.
pub struct AuditRow {
    pub at: String,
    pub company: String,
    pub who: String,
    pub action: String,
    pub subject: String,
    pub detail: String,
}

impl From<AuditEntry> for AuditRow {
    fn from(e: AuditEntry) -> Self {
        let who = match e.contractor {
            Some(c) => format!("{} (受託者 {c})", e.user_id),
            None => e.user_id,
        };
        AuditRow {
            at: shown_time(e.at),
            company: e.company_code,
            who,
            action: e.action,
            subject: e.subject_id,
            detail: e.detail.to_string(),
        }
    }
}

/// The most entries the screen shows at once (newest first); narrow the filters for older.
const AUDIT_LIMIT: i64 = 500;

#[derive(Template)]
#[template(path = "ops/audit.html")]
struct Audit {
    chrome: Option<OpsChrome>,
    q: AuditQuery,
    rows: Vec<AuditRow>,
    limit: i64,
    errors: Errors,
}

/// 監査ログ: who, what, when, company, point; newest first.
pub async fn audit(
    State(state): State<WebState>,
    v: OperatorVisitor,
    Query(q): Query<AuditQuery>,
) -> Response {
    let filter = (|| {
        let day = |field: &str, s: &str| given(s).map(|d| typed_time(field, &d)).transpose();
        let until = day("to", &q.to)?.map(|t| t + chrono::Duration::days(1));
        Ok::<_, Refusal>(AuditFilter {
            who: given(&q.who),
            what: given(&q.what),
            since: day("from", &q.from)?,
            until,
            company: given(&q.company),
            point: given(&q.point),
        })
    })();
    let (rows, errors, status) = match filter {
        Ok(f) => match crate::audit::search(&state.pool, &f, AUDIT_LIMIT).await {
            Ok(rows) => (rows, Errors::none(), StatusCode::OK),
            Err(r) => return refused(&r),
        },
        Err(r) => (
            vec![],
            Errors::of(&r, &["from", "to"]),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    };
    let page = Audit {
        chrome: Some(OpsChrome::of(&v)),
        q,
        rows: rows.into_iter().map(AuditRow::from).collect(),
        limit: AUDIT_LIMIT,
        errors,
    };
    crate::web::page::html(status, &page)
}

/// One area's line of the dead-letter screen.
pub struct AreaDepth {
    pub code: &'static str,
    pub name: &'static str,
    pub depth: i64,
}

/// A failed request as the screen lists it.
pub struct LetterRow {
    pub request_id: String,
    pub company: String,
    pub function: String,
    pub point: String,
    pub replay: i32,
    pub code: String,
    pub message: String,
    pub accepted_at: String,
}

impl From<DeadLetter> for LetterRow {
    fn from(d: DeadLetter) -> Self {
        LetterRow {
            request_id: d.request_id.to_string(),
            company: d.company_code,
            function: d.function,
            point: d.point_id,
            replay: d.replay,
            code: d.code.unwrap_or_default(),
            message: d.message.unwrap_or_default(),
            accepted_at: shown_time(d.accepted_at),
        }
    }
}

#[derive(Template)]
#[template(path = "ops/dead_letters.html")]
struct DeadLetters {
    chrome: Option<OpsChrome>,
    areas: Vec<AreaDepth>,
    /// The area picked, with its failed requests.
    area: Option<AreaDepth>,
    letters: Vec<LetterRow>,
    done: Option<String>,
}

#[derive(Deserialize)]
pub struct DeadLetterQuery {
    area: Option<String>,
    done: Option<String>,
}

/// The most failed requests listed for one area.
const LETTERS_LIMIT: i64 = 200;

fn area_of(code: &str) -> Result<Area, Refusal> {
    Area::ALL
        .into_iter()
        .find(|a| a.code() == code)
        .ok_or_else(|| {
            Refusal::invalid(
                "area",
                "invalid_area",
                "エリアは01〜10で指定してください",
                "an area is 01 to 10",
            )
        })
}

/// 滞留(デッドレター): each area's depth (what `kirikae_dlq_depth` shows), and one area's
/// failed requests with the replay button.
pub async fn dead_letters(
    State(state): State<WebState>,
    v: OperatorVisitor,
    Query(q): Query<DeadLetterQuery>,
) -> Response {
    let page = async {
        let areas: Vec<AreaDepth> = requests::depth_by_area(&state.pool)
            .await?
            .into_iter()
            .map(|(a, depth)| AreaDepth {
                code: a.code(),
                name: a.name_ja(),
                depth,
            })
            .collect();
        let (area, letters) = match q.area.as_deref().and_then(given) {
            Some(code) => {
                let a = area_of(&code)?;
                let depth = areas
                    .iter()
                    .find(|d| d.code == a.code())
                    .map_or(0, |d| d.depth);
                let letters = requests::dead_letters_of(&state.pool, a, LETTERS_LIMIT).await?;
                let shown = AreaDepth {
                    code: a.code(),
                    name: a.name_ja(),
                    depth,
                };
                (
                    Some(shown),
                    letters.into_iter().map(LetterRow::from).collect(),
                )
            }
            None => (None, vec![]),
        };
        Ok::<_, Refusal>(DeadLetters {
            chrome: Some(OpsChrome::of(&v)),
            areas,
            area,
            letters,
            done: q.done,
        })
    };
    page_or_refusal(StatusCode::OK, page.await)
}

#[derive(Deserialize)]
pub struct ReplayForm {
    #[serde(default)]
    csrf: String,
    /// Replay only this request; empty: every failed one of the area.
    #[serde(default)]
    request_id: String,
}

/// 再送: what `kirikae replay --area NN [--request-id …]` does (`replay::run_by`).
pub async fn replay(
    State(state): State<WebState>,
    v: OperatorVisitor,
    Path(area): Path<String>,
    Form(f): Form<ReplayForm>,
) -> Response {
    if !v.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    let area = match area_of(&area) {
        Ok(a) => a,
        Err(r) => return refused(&r),
    };
    let only: Vec<RequestId> = match given(&f.request_id).map(|r| r.parse()).transpose() {
        Ok(r) => r.into_iter().collect(),
        Err(_) => {
            return refused(&Refusal::invalid(
                "request_id",
                "invalid_request_id",
                "受付番号が正しくありません",
                "not a request id",
            ));
        }
    };
    match crate::replay::run_by(&state.settings, &state.pool, area, &only, &v.actor()).await {
        Ok(replayed) => Redirect::to(&format!(
            "/web/ops/dead-letters?area={}&done={}",
            area.code(),
            replayed.len()
        ))
        .into_response(),
        Err(e) => refused(&Refusal::Internal(e)),
    }
}
