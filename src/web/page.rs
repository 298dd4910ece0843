//! What every screen shares: the frame (who is signed in, the sign-out button), the menu of
//! what this user may do, and the page that shows a refusal with its code and messages.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::apply;
use super::session::Visitor;
use crate::accounts::Principal;
use crate::domain::{Function, HubFunction, IntermediationStep, PointClass, Refusal};

/// The frame around every signed-in screen.
pub struct Chrome {
    pub user_id: String,
    pub company: String,
    pub csrf: String,
}

impl Chrome {
    pub fn of(v: &Visitor) -> Self {
        Chrome {
            user_id: v.principal.user_id.clone(),
            company: v.principal.company.to_string(),
            csrf: v.csrf.clone(),
        }
    }
}

/// One entry of the menu.
pub struct MenuItem {
    pub href: String,
    pub label: String,
}

#[derive(Template)]
#[template(path = "web/menu.html")]
struct Menu {
    chrome: Option<Chrome>,
    items: Vec<MenuItem>,
}

#[derive(Template)]
#[template(path = "web/refused.html")]
struct Refused {
    chrome: Option<Chrome>,
    code: String,
    message_ja: String,
    message_en: String,
}

/// A rendered template as an HTML answer; a template that fails to render is a 500 page.
pub fn html(status: StatusCode, t: &impl Template) -> Response {
    match t.render() {
        Ok(body) => (status, Html(body)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// The menu: only what this user's registration kind and permissions allow.
pub async fn menu(visitor: Visitor) -> Response {
    let items = menu_items(&visitor.principal);
    html(
        StatusCode::OK,
        &Menu {
            chrome: Some(Chrome::of(&visitor)),
            items,
        },
    )
}

/// The screens `principal` may open: each application task with at least one class it may
/// file, and the status list when its kind may read it.
pub fn menu_items(principal: &Principal) -> Vec<MenuItem> {
    let mut items: Vec<MenuItem> = apply::tasks()
        .into_iter()
        .filter(|t| !apply::classes_for(t, principal).is_empty())
        .map(|t| MenuItem {
            href: format!("/web/apply/{}", t.slug),
            label: t.name_ja.to_string(),
        })
        .collect();
    if HubFunction::StatusList(PointClass::LowVoltage).open_to(principal.kind) {
        items.push(MenuItem {
            href: "/web/requests".into(),
            label: "業務処理状況確認(複数件)".into(),
        });
    }
    items.extend(more_items(principal));
    items
}

/// The screens beyond the forms: 特定地点検索, the intermediation screens of the kinds that
/// take part in them, and the notices every user reads.
fn more_items(principal: &Principal) -> Vec<MenuItem> {
    let item = |href: &str, label: &str| MenuItem {
        href: href.into(),
        label: label.into(),
    };
    let mut items = vec![];
    if crate::requests::may_submit(principal, Function::PointSearch).is_ok() {
        items.push(item("/web/search", "特定地点検索"));
    }
    let step = |s| HubFunction::Intermediation(s, PointClass::LowVoltage).open_to(principal.kind);
    if step(IntermediationStep::Register) {
        items.push(item("/web/intermediations/new", "スイッチング廃止取次登録"));
        items.push(item(
            "/web/intermediations/sent",
            "スイッチング廃止取次結果照会",
        ));
    }
    if step(IntermediationStep::Inbox) {
        items.push(item(
            "/web/intermediations/inbox",
            "スイッチング廃止取次照会",
        ));
    }
    items.push(item("/web/notices", "インフォメーション"));
    items.extend(super::admin::menu_items(principal));
    items
}

/// The HTTP status a refusal is shown with on a screen.
fn status_of(r: &Refusal) -> StatusCode {
    match r {
        Refusal::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        Refusal::BrokerUnavailable(_)
        | Refusal::OutcomeUnknown(_)
        | Refusal::DatabaseUnavailable(_)
        | Refusal::MailUnavailable(_)
        | Refusal::Maintenance { .. } => StatusCode::SERVICE_UNAVAILABLE,
        Refusal::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        Refusal::RequestNotFound
        | Refusal::UnknownFunction(_)
        | Refusal::NoticeNotFound
        | Refusal::IntermediationNotFound => StatusCode::NOT_FOUND,
        Refusal::IntermediationAlreadyDecided | Refusal::IntermediationAlreadyOpen => {
            StatusCode::CONFLICT
        }
        Refusal::Unauthenticated | Refusal::InvalidCredentials => StatusCode::UNAUTHORIZED,
        Refusal::InvalidField { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::FORBIDDEN,
    }
}

/// A refusal as a page of its own: its code, Japanese message and English message. Internal
/// causes are logged, never shown.
pub fn refused(r: &Refusal) -> Response {
    let (message_ja, message_en) = match r {
        Refusal::Internal(e) => {
            tracing::error!(error = %e, "web request failed");
            (
                "システムエラーが発生しました".to_string(),
                "internal error".to_string(),
            )
        }
        _ => r.messages(),
    };
    html(
        status_of(r),
        &Refused {
            chrome: None,
            code: r.code().to_string(),
            message_ja,
            message_en,
        },
    )
}

/// A POST without this session's CSRF token.
pub fn csrf_refused() -> Response {
    html(
        StatusCode::FORBIDDEN,
        &Refused {
            chrome: None,
            code: "csrf_token_invalid".into(),
            message_ja: "画面の有効期限が切れたか、不正な送信です。画面を開き直してください".into(),
            message_en: "the form's CSRF token is missing or wrong; open the screen again".into(),
        },
    )
}
