//! The operator's sign-in and sign-out: an operator certificate at the TLS level, then the
//! operator ID and password (`Accounts::operator_login`: the same argon2 check, rate limit and
//! lock after failures as a clerk's). The session's token goes in the operator's own cookie.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar};
use serde::Deserialize;

use super::{OPERATOR_COOKIE, OperatorVisitor, OpsChrome, presented};
use crate::domain::Refusal;
use crate::web::WebState;
use crate::web::page::{csrf_refused, html, refused};
use crate::web::session::{SIGNIN_COOKIE, cookie, random_token, same_token};
use crate::web::signin::Shown;

/// The cookie that removes the operator's session cookie.
pub fn removal() -> Cookie<'static> {
    let mut c = cookie(OPERATOR_COOKIE, String::new());
    c.make_removal();
    c
}

#[derive(Template)]
#[template(path = "ops/signin.html")]
struct SignIn {
    chrome: Option<OpsChrome>,
    csrf: String,
    operator_id: String,
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
    operator_id: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

fn page(jar: CookieJar, status: StatusCode, mut p: SignIn) -> Response {
    let csrf = random_token();
    p.csrf = csrf.clone();
    (jar.add(cookie(SIGNIN_COOKIE, csrf)), html(status, &p)).into_response()
}

/// 運用者ログイン: open only on a connection presenting an operator certificate.
pub async fn form(parts: Parts, jar: CookieJar, Query(q): Query<SignInQuery>) -> Response {
    if !presented(&parts).is_some_and(|c| c.operator) {
        return refused(&Refusal::OperatorRequired);
    }
    let notice = q
        .ended
        .map(|_| "セッションが終了しました。もう一度ログインしてください".to_string());
    let p = SignIn {
        chrome: None,
        csrf: String::new(),
        operator_id: String::new(),
        notice,
        error: None,
    };
    page(jar, StatusCode::OK, p)
}

pub async fn submit(
    State(state): State<WebState>,
    jar: CookieJar,
    parts: Parts,
    Form(f): Form<SignInForm>,
) -> Response {
    let cert = presented(&parts);
    if !cert.is_some_and(|c| c.operator) {
        return refused(&Refusal::OperatorRequired);
    }
    let expected = jar.get(SIGNIN_COOKIE).map(|c| c.value().to_string());
    if !expected.is_some_and(|e| same_token(&f.csrf, &e)) {
        return csrf_refused();
    }
    match state
        .accounts
        .operator_login(&f.operator_id, f.password, cert, state.idle)
        .await
    {
        Ok(s) => (
            jar.add(cookie(OPERATOR_COOKIE, s.token)),
            Redirect::to("/web/ops/"),
        )
            .into_response(),
        Err(
            r
            @ (Refusal::Internal(_) | Refusal::DatabaseUnavailable(_) | Refusal::OperatorRequired),
        ) => refused(&r),
        Err(r) => {
            let p = SignIn {
                chrome: None,
                csrf: String::new(),
                operator_id: f.operator_id,
                notice: None,
                error: Some(Shown::from(&r)),
            };
            page(jar, StatusCode::UNAUTHORIZED, p)
        }
    }
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// 運用者ログアウト: ends the session on every process at once.
pub async fn signout(
    State(state): State<WebState>,
    jar: CookieJar,
    v: OperatorVisitor,
    Form(f): Form<CsrfOnly>,
) -> Response {
    if !v.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    if let Err(r) = state.accounts.operator_logout(&v.operator).await {
        return refused(&r);
    }
    (jar.add(removal()), Redirect::to("/web/ops/signin")).into_response()
}
