//! Sign-in (user id and password, after the client certificate the TLS listener required),
//! the first-login password change, and sign-out. Each calls the accounts service the API's
//! login calls, so the lock after failed attempts, the disabled account and the registration
//! gate answer here with the same refusals.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use super::WebState;
use super::page::{Chrome, html, refused};
use super::session::{
    self, PASSWORD_PATH, SESSION_COOKIE, SIGNIN_COOKIE, Visitor, cookie, random_token, removal,
    same_token,
};
use crate::domain::Refusal;

/// A refusal shown on a form: its code and Japanese message, next to `field` when it names one.
pub struct Shown {
    pub field: Option<String>,
    pub code: String,
    pub message_ja: String,
}

impl From<&Refusal> for Shown {
    fn from(r: &Refusal) -> Self {
        let field = match r {
            Refusal::InvalidField { field, .. } => Some(field.clone()),
            _ => None,
        };
        Shown {
            field,
            code: r.code().to_string(),
            message_ja: r.messages().0,
        }
    }
}

#[derive(Template)]
#[template(path = "web/signin.html")]
struct SignIn {
    chrome: Option<Chrome>,
    csrf: String,
    user_id: String,
    notice: Option<String>,
    error: Option<Shown>,
}

#[derive(Deserialize)]
pub struct SignInQuery {
    ended: Option<String>,
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

/// The sign-in screen, with a fresh CSRF token in its own cookie.
pub async fn form(jar: CookieJar, Query(q): Query<SignInQuery>) -> Response {
    let csrf = random_token();
    let notice = q
        .ended
        .map(|_| "セッションが終了しました。もう一度ログインしてください".to_string());
    let page = SignIn {
        chrome: None,
        csrf: csrf.clone(),
        user_id: String::new(),
        notice,
        error: None,
    };
    (
        jar.add(cookie(SIGNIN_COOKIE, csrf)),
        html(StatusCode::OK, &page),
    )
        .into_response()
}

/// ログイン: the password checked by `accounts`, then the session's token in the cookie.
pub async fn submit(
    State(state): State<WebState>,
    jar: CookieJar,
    parts: Parts,
    Form(f): Form<SignInForm>,
) -> Response {
    let expected = jar.get(SIGNIN_COOKIE).map(|c| c.value().to_string());
    if !expected.is_some_and(|e| same_token(&f.csrf, &e)) {
        return super::page::csrf_refused();
    }
    let cert = session::presented(&parts);
    let opened = async {
        let s = state.accounts.login(&f.user_id, f.password, cert).await?;
        // The session starts on the idle clock at once.
        let p = state.accounts.authenticate(&s.token, cert, true).await?;
        state.accounts.keep_alive(&p, state.idle).await?;
        Ok::<_, Refusal>((s.token, p.must_change_password))
    }
    .await;
    match opened {
        Ok((token, must_change)) => {
            let to = if must_change { PASSWORD_PATH } else { "/web/" };
            (jar.add(cookie(SESSION_COOKIE, token)), Redirect::to(to)).into_response()
        }
        Err(r @ (Refusal::Internal(_) | Refusal::DatabaseUnavailable(_))) => refused(&r),
        Err(r) => {
            let csrf = random_token();
            let page = SignIn {
                chrome: None,
                csrf: csrf.clone(),
                user_id: f.user_id,
                notice: None,
                error: Some(Shown::from(&r)),
            };
            (
                jar.add(cookie(SIGNIN_COOKIE, csrf)),
                html(StatusCode::UNAUTHORIZED, &page),
            )
                .into_response()
        }
    }
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// ログアウト: ends this session on every process and drops the cookie.
pub async fn signout(
    State(state): State<WebState>,
    jar: CookieJar,
    visitor: Visitor,
    Form(f): Form<CsrfOnly>,
) -> Response {
    if !visitor.csrf_ok(&f.csrf) {
        return super::page::csrf_refused();
    }
    if let Err(r) = state.accounts.logout(&visitor.principal).await {
        return refused(&r);
    }
    (jar.add(removal()), Redirect::to("/web/signin")).into_response()
}

#[derive(Template)]
#[template(path = "web/password.html")]
struct Password {
    chrome: Option<Chrome>,
    must_change: bool,
    error: Option<Shown>,
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    old_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    new_password_confirm: String,
    #[serde(default)]
    csrf: String,
}

/// パスワード変更: the one screen open to a user still on an initial password.
pub async fn password_form(visitor: Visitor) -> Response {
    let page = Password {
        must_change: visitor.principal.must_change_password,
        chrome: Some(Chrome::of(&visitor)),
        error: None,
    };
    html(StatusCode::OK, &page)
}

pub async fn change_password(
    State(state): State<WebState>,
    visitor: Visitor,
    Form(f): Form<PasswordForm>,
) -> Response {
    if !visitor.csrf_ok(&f.csrf) {
        return super::page::csrf_refused();
    }
    let outcome = if f.new_password != f.new_password_confirm {
        Err(Refusal::invalid(
            "new_password_confirm",
            "password_confirmation_mismatch",
            "確認用の新しいパスワードが一致しません。同じパスワードを2回入力してください",
            "the confirmation differs from the new password",
        ))
    } else {
        state
            .accounts
            .change_password(&visitor.principal, f.old_password, f.new_password)
            .await
    };
    match outcome {
        Ok(()) => Redirect::to("/web/").into_response(),
        Err(r @ Refusal::Internal(_)) => refused(&r),
        Err(r) => {
            let page = Password {
                must_change: visitor.principal.must_change_password,
                error: Some(Shown::from(&r)),
                chrome: Some(Chrome::of(&visitor)),
            };
            html(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
    }
}
