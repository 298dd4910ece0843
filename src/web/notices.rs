//! インフォメーション一覧 / 詳細: the hub operator's notices, each marked unread until this user
//! opens it. The same `notices` service as `/api/v1/notices`: opening one on a screen marks
//! it read for the API too.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::WebState;
use super::page::{Chrome, html, refused};
use super::session::Visitor;
use crate::domain::Refusal;
use crate::notices::{self, Notice};

#[derive(Template)]
#[template(path = "web/notices.html")]
struct NoticeList {
    chrome: Option<Chrome>,
    notices: Vec<Notice>,
    unread: usize,
}

#[derive(Template)]
#[template(path = "web/notice.html")]
struct NoticePage {
    chrome: Option<Chrome>,
    notice: Notice,
}

/// Every notice, newest first, the unread ones marked.
pub async fn list(State(state): State<WebState>, visitor: Visitor) -> Response {
    match notices::list(&state.pool, &visitor.principal.user_id).await {
        Ok(notices) => html(
            StatusCode::OK,
            &NoticeList {
                chrome: Some(Chrome::of(&visitor)),
                unread: notices.iter().filter(|n| !n.read).count(),
                notices,
            },
        ),
        Err(e) => refused(&Refusal::from(e)),
    }
}

/// One notice with its body; from now on it is read.
pub async fn one(
    State(state): State<WebState>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return refused(&Refusal::NoticeNotFound);
    };
    match notices::read(&state.pool, &visitor.principal.user_id, id).await {
        Ok(Some(notice)) => html(
            StatusCode::OK,
            &NoticePage {
                chrome: Some(Chrome::of(&visitor)),
                notice,
            },
        ),
        Ok(None) => refused(&Refusal::NoticeNotFound),
        Err(e) => refused(&Refusal::from(e)),
    }
}
