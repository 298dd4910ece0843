//! インフォメーション一覧 / 詳細: every user of every registration reads the hub operator's
//! notices; opening one marks it read for that user.

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;

use super::AppState;
use crate::accounts::Principal;
use crate::domain::Refusal;
use crate::notices::{self, Notice, NoticeError};

impl From<NoticeError> for Refusal {
    fn from(e: NoticeError) -> Self {
        match e {
            NoticeError::Refused(r) => r,
            NoticeError::Db(e) => e.into(),
            NoticeError::Pool(e) => e.into(),
            NoticeError::Empty => Refusal::Internal(e.into()),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct NoticeList {
    notices: Vec<Notice>,
    /// How many of them this user has not opened.
    unread: usize,
}

/// インフォメーション一覧: every notice, newest first, each marked read or not for the caller.
#[utoipa::path(get, path = "/api/v1/notices", tag = "インフォメーション",
    responses(
        (status = 200, description = "The notices (without their bodies)", body = NoticeList),
        (status = 401, description = "unauthenticated", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<NoticeList>, Refusal> {
    let notices = notices::list(&state.pool, &principal.user_id).await?;
    let unread = notices.iter().filter(|n| !n.read).count();
    Ok(Json(NoticeList { notices, unread }))
}

/// インフォメーション詳細: one notice with its body; it counts as read from now on.
#[utoipa::path(get, path = "/api/v1/notices/{id}", tag = "インフォメーション",
    params(("id" = i64, Path, description = "The notice's number")),
    responses(
        (status = 200, description = "The notice", body = Notice),
        (status = 401, description = "unauthenticated", body = super::error::ErrorBody),
        (status = 404, description = "notice_not_found", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn one(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Notice>, Refusal> {
    let id: i64 = id.parse().map_err(|_| Refusal::NoticeNotFound)?;
    notices::read(&state.pool, &principal.user_id, id)
        .await?
        .map(Json)
        .ok_or(Refusal::NoticeNotFound)
}
