//! 業務処理状況確認: `GET /api/v1/requests/{id}` and the list `GET /api/v1/requests?…`.
//! Every query is filtered by the caller's company in SQL, so another company's request is
//! simply not found.

use axum::Json;
use axum::extract::{Path, Query, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::AppState;
use crate::accounts::Principal;
use crate::domain::Refusal;
use crate::domain::{Area, Function, PointClass, RequestStatus, SupplyPointId};

/// One request as the status API shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RequestView {
    request_id: Uuid,
    function: String,
    function_name_ja: &'static str,
    service_id: String,
    area: String,
    supply_point_id: String,
    update_flag: String,
    status: String,
    status_ja: &'static str,
    code: Option<String>,
    message: Option<String>,
    attempts: i32,
    /// How often an operator replayed it from the dead-letter topic.
    replay: i32,
    /// The function's result once completed (FacilityInquiryResult, SwitchStartResult, …).
    #[schema(value_type = Option<Object>)]
    result: Option<serde_json::Value>,
    user_id: String,
    accepted_at: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "request_id, function, service_id, area, point_id, update_flag, status, code,
    message, attempts, result, user_id, accepted_at, sent_at, finished_at, replay";

impl From<Row> for RequestView {
    fn from(r: Row) -> Self {
        let function: String = r.get(1);
        let status: String = r.get(6);
        RequestView {
            request_id: r.get(0),
            function_name_ja: function.parse::<Function>().map_or("", |f| f.name_ja()),
            function,
            service_id: r.get(2),
            area: r.get(3),
            supply_point_id: r.get(4),
            update_flag: r.get(5),
            status_ja: status.parse::<RequestStatus>().map_or("", |s| s.label_ja()),
            status,
            code: r.get(7),
            message: r.get(8),
            attempts: r.get(9),
            result: r.get(10),
            user_id: r.get(11),
            accepted_at: r.get(12),
            sent_at: r.get(13),
            finished_at: r.get(14),
            replay: r.get(15),
        }
    }
}

/// 業務処理状況確認: one request of the caller's company.
#[utoipa::path(get, path = "/api/v1/requests/{request_id}", tag = "業務処理状況確認",
    params(("request_id" = String, Path, description = "The id the 202 answer gave")),
    responses(
        (status = 200, body = RequestView),
        (status = 404, description = "request_not_found (also another company's id)", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn one(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<RequestView>, Refusal> {
    let id: Uuid = id.parse().map_err(|_| Refusal::RequestNotFound)?;
    let sql = format!("SELECT {COLUMNS} FROM requests WHERE request_id = $1 AND company_code = $2");
    let client = state.pool.get().await?;
    let row = client
        .query_opt(&sql, &[&id, &principal.company.as_str()])
        .await?
        .ok_or(Refusal::RequestNotFound)?;
    let view = RequestView::from(row);
    audit_personal_data(&client, &principal, std::slice::from_ref(&view)).await?;
    Ok(Json(view))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// lv (低圧), hv (高圧) or gen (FIT電源): only that class's functions.
    class: Option<String>,
    status: Option<String>,
    function: Option<String>,
    area: Option<String>,
    supply_point_id: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ListAnswer {
    items: Vec<RequestView>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    next_cursor: Option<String>,
}

/// 業務処理状況確認(複数件): the caller's requests, newest first, filtered and paged.
#[utoipa::path(get, path = "/api/v1/requests", tag = "業務処理状況確認", params(ListQuery),
    responses(
        (status = 200, body = ListAnswer),
        (status = 422, description = "a filter is invalid; `field` names it", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ListAnswer>, Refusal> {
    list_with(state, principal, query, None).await
}

/// 業務処理状況確認(複数件) of one class: `hv-status-list` (`/api/v1/hv/requests`) and
/// `gen-status-list` (`/api/v1/gen/requests`); `lv` gives the low-voltage ones.
#[utoipa::path(get, path = "/api/v1/{class}/requests", tag = "業務処理状況確認",
    params(("class" = String, Path, description = "lv, hv or gen"), ListQuery),
    responses(
        (status = 200, body = ListAnswer),
        (status = 404, description = "no such class", body = super::error::ErrorBody),
        (status = 422, description = "a filter is invalid; `field` names it", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn list_of_class(
    State(state): State<AppState>,
    principal: Principal,
    Path(class): Path<String>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ListAnswer>, Refusal> {
    let class = PointClass::by_slug(&class).ok_or(Refusal::UnknownFunction(class))?;
    list_with(state, principal, query, Some(class)).await
}

/// 業務処理状況確認 of one class (`hv-status`, `gen-status`): another class's request is 404.
#[utoipa::path(get, path = "/api/v1/{class}/requests/{request_id}", tag = "業務処理状況確認",
    params(("class" = String, Path, description = "lv, hv or gen"),
        ("request_id" = String, Path, description = "The id the 202 answer gave")),
    responses(
        (status = 200, body = RequestView),
        (status = 404, description = "request_not_found (also another company's or class's id)", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn one_of_class(
    State(state): State<AppState>,
    principal: Principal,
    Path((class, id)): Path<(String, String)>,
) -> Result<Json<RequestView>, Refusal> {
    let class = PointClass::by_slug(&class).ok_or(Refusal::UnknownFunction(class))?;
    let Json(view) = one(State(state), principal, Path(id)).await?;
    let same = view
        .function
        .parse::<Function>()
        .is_ok_and(|f| f.class() == class);
    if !same {
        return Err(Refusal::RequestNotFound);
    }
    Ok(Json(view))
}

async fn list_with(
    state: AppState,
    principal: Principal,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
    class: Option<PointClass>,
) -> Result<Json<ListAnswer>, Refusal> {
    let Query(mut q) = query.map_err(super::error::bad_query)?;
    if let Some(class) = class {
        q.class = Some(class.slug().to_string());
    }
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Refusal::invalid(
            "limit",
            "invalid_limit",
            "limit は1〜1000で指定してください",
            "limit must be 1 to 1000",
        ));
    }
    let filters = Filters::from_query(&q, &principal)?;
    let (sql, params) = filters.sql(limit + 1);
    let params: Vec<&(dyn ToSql + Sync)> = params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect();
    let client = state.pool.get().await?;
    let rows = client.query(&sql, &params).await?;
    let mut items: Vec<RequestView> = rows.into_iter().map(Into::into).collect();
    let next_cursor = (items.len() as i64 > limit).then(|| {
        items.truncate(limit as usize);
        let last = items.last().expect("limit >= 1");
        super::cursor::encode(last.accepted_at, last.request_id)
    });
    audit_personal_data(&client, &principal, &items).await?;
    Ok(Json(ListAnswer { items, next_cursor }))
}

/// Answers that carry a customer's or generator's personal data (addresses, names, usage):
/// every read of them is written to the audit log before they are shown (terms 4.1–4.5).
fn carries_personal_data(function: &str) -> bool {
    use crate::domain::Operation as O;
    function.parse::<Function>().is_ok_and(|f| {
        matches!(
            f.operation(),
            O::FacilityInquiry | O::UsageInquiry | O::PointSearch
        )
    })
}

async fn audit_personal_data(
    client: &deadpool_postgres::Client,
    principal: &Principal,
    views: &[RequestView],
) -> Result<(), Refusal> {
    let read: Vec<String> = views
        .iter()
        .filter(|v| v.result.is_some() && carries_personal_data(&v.function))
        .map(|v| v.request_id.to_string())
        .collect();
    if read.is_empty() {
        return Ok(());
    }
    let subject = if read.len() == 1 {
        read[0].clone()
    } else {
        "(list)".into()
    };
    crate::audit::record(
        client,
        principal,
        "request.result_read",
        &subject,
        serde_json::json!({ "request_ids": read }),
    )
    .await
    .map_err(Refusal::from)
}

/// The list's WHERE clause, built from validated filters only.
struct Filters {
    clauses: Vec<String>,
    params: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl Filters {
    fn from_query(q: &ListQuery, principal: &Principal) -> Result<Self, Refusal> {
        let mut f = Filters {
            clauses: vec![],
            params: vec![],
        };
        f.push("company_code", Box::new(principal.company.to_string()));
        if let Some(s) = &q.status {
            let s: RequestStatus = s.parse().map_err(|_| {
                Refusal::invalid(
                    "status",
                    "invalid_status",
                    format!("状態 {s} は存在しません"),
                    "status is one of accepted, sent, completed, rejected, failed",
                )
            })?;
            f.push("status", Box::new(s.as_str().to_string()));
        }
        if let Some(c) = &q.class {
            let class = PointClass::by_slug(c).ok_or_else(|| {
                Refusal::invalid(
                    "class",
                    "unknown_class",
                    format!("区分 {c} は存在しません(lv, hv, gen)"),
                    format!("there is no class {c}: lv, hv or gen"),
                )
            })?;
            let slugs: Vec<String> = Function::ALL
                .iter()
                .filter(|f| f.class() == class)
                .map(|f| f.slug().to_string())
                .collect();
            f.params.push(Box::new(slugs));
            let n = f.params.len();
            f.clauses.push(format!("function = ANY(${n})"));
        }
        if let Some(func) = &q.function {
            let func: Function = func.parse().map_err(|_| {
                Refusal::invalid(
                    "function",
                    "unknown_function",
                    format!("機能 {func} は存在しません"),
                    format!("there is no function {func}"),
                )
            })?;
            f.push("function", Box::new(func.slug().to_string()));
        }
        if let Some(a) = &q.area {
            let a: Area = a.parse().map_err(|_| {
                Refusal::invalid(
                    "area",
                    "unknown_area",
                    format!("エリアコード {a} は存在しません(01〜10)"),
                    format!("there is no area {a}"),
                )
            })?;
            f.push("area", Box::new(a.code().to_string()));
        }
        if let Some(p) = &q.supply_point_id {
            let p = SupplyPointId::parse(p).map_err(|e| {
                Refusal::invalid(
                    "supply_point_id",
                    "invalid_supply_point_id",
                    "供給地点特定番号の形式が正しくありません",
                    e.to_string(),
                )
            })?;
            f.push("point_id", Box::new(p.to_string()));
        }
        if let Some(c) = &q.cursor {
            let (at, id) = super::cursor::decode(c).ok_or_else(|| {
                Refusal::invalid(
                    "cursor",
                    "invalid_cursor",
                    "cursor が正しくありません",
                    "cursor is not one this API returned",
                )
            })?;
            f.params.push(Box::new(at));
            f.params.push(Box::new(id));
            let n = f.params.len();
            f.clauses
                .push(format!("(accepted_at, request_id) < (${}, ${})", n - 1, n));
        }
        Ok(f)
    }

    fn push(&mut self, column: &str, value: Box<dyn ToSql + Sync + Send>) {
        self.params.push(value);
        self.clauses
            .push(format!("{column} = ${}", self.params.len()));
    }

    fn sql(mut self, limit: i64) -> (String, Vec<Box<dyn ToSql + Sync + Send>>) {
        self.params.push(Box::new(limit));
        let sql = format!(
            "SELECT {COLUMNS} FROM requests WHERE {} ORDER BY accepted_at DESC, request_id DESC LIMIT ${}",
            self.clauses.join(" AND "),
            self.params.len()
        );
        (sql, self.params)
    }
}
