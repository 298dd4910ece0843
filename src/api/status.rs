//! 業務処理状況確認: `GET /api/v1/requests/{id}` and the list `GET /api/v1/requests?…`, each
//! also per class (`/api/v1/{class}/requests…`). The queries and their rules are
//! [`crate::requests::Submissions`]'s.

use axum::Json;
use axum::extract::{Path, State};

use super::AppState;
use super::extract::Filters;
use crate::accounts::Principal;
use crate::domain::{PointClass, Refusal};
pub use crate::requests::{ListAnswer, ListQuery, RequestView};

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
    let view = state.submissions.status(&principal, &id, None).await?;
    Ok(Json(view))
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
    Filters(query): Filters<ListQuery>,
) -> Result<Json<ListAnswer>, Refusal> {
    let page = state.submissions.list(&principal, query, None).await?;
    Ok(Json(page))
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
    Filters(query): Filters<ListQuery>,
) -> Result<Json<ListAnswer>, Refusal> {
    let class = PointClass::by_slug(&class).ok_or(Refusal::UnknownFunction(class))?;
    let page = state
        .submissions
        .list(&principal, query, Some(class))
        .await?;
    Ok(Json(page))
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
    let view = state
        .submissions
        .status(&principal, &id, Some(class))
        .await?;
    Ok(Json(view))
}
