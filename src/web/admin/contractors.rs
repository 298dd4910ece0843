//! 受託者管理: the contractors (受託者) the registration lets act for it — the list, authorising
//! one (again), and revoking one, whose users are refused at once. The same `Accounts`
//! functions as `/api/v1/admin/contractors`.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{jst, on_the_form, shown};
use crate::accounts::{Contractor, corporate_number};
use crate::web::WebState;
use crate::web::page::{Chrome, csrf_refused, html, refused};
use crate::web::session::Visitor;
use crate::web::signin::Shown;

/// One line of the list.
pub struct Line {
    pub corporate_number: String,
    pub name: String,
    pub authorised: String,
    pub revoked: Option<String>,
    pub users: i64,
}

impl From<Contractor> for Line {
    fn from(c: Contractor) -> Self {
        Line {
            authorised: jst(&c.authorised_at),
            revoked: c.revoked_at.as_ref().map(jst),
            corporate_number: c.corporate_number,
            name: c.name,
            users: c.users,
        }
    }
}

#[derive(Template)]
#[template(path = "admin/contractors.html")]
struct ListPage {
    chrome: Option<Chrome>,
    contractors: Vec<Line>,
    /// The authorise form's values (as typed, when refused).
    number: String,
    typed_name: String,
    note: Option<&'static str>,
    error: Option<Shown>,
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

fn note(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "authorised" => "受託者を登録しました",
        "revoked" => "受託者を取り消しました。そのユーザは以後利用できません",
        _ => return None,
    })
}

async fn page(
    state: &WebState,
    visitor: &Visitor,
    typed: (String, String),
    note: Option<&'static str>,
    error: Option<Shown>,
) -> Response {
    match state.accounts.list_contractors(&visitor.principal).await {
        Ok(all) => html(
            if error.is_some() {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::OK
            },
            &ListPage {
                chrome: Some(Chrome::of(visitor)),
                contractors: all.into_iter().map(Line::from).collect(),
                number: typed.0,
                typed_name: typed.1,
                note,
                error,
            },
        ),
        Err(r) => refused(&r),
    }
}

/// 受託者一覧, with the form to authorise one.
pub async fn list(
    State(state): State<WebState>,
    visitor: Visitor,
    Query(q): Query<Done>,
) -> Response {
    let note = note(q.done.as_deref());
    page(&state, &visitor, Default::default(), note, None).await
}

#[derive(Deserialize)]
pub struct AuthoriseForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    corporate_number: String,
    #[serde(default)]
    name: String,
}

/// 受託者の登録.
pub async fn authorise(
    State(state): State<WebState>,
    visitor: Visitor,
    Form(form): Form<AuthoriseForm>,
) -> Response {
    if !visitor.csrf_ok(&form.csrf) {
        return csrf_refused();
    }
    let number = form.corporate_number.trim().to_string();
    let outcome = match corporate_number("corporate_number", &number) {
        Ok(n) => state
            .accounts
            .authorise_contractor(&visitor.principal, &n, form.name.trim())
            .await
            .map(|_| ()),
        Err(r) => Err(r),
    };
    match outcome {
        Ok(()) => Redirect::to("/web/admin/contractors?done=authorised").into_response(),
        Err(r) if on_the_form(&r) => {
            let typed = (number, form.name);
            page(&state, &visitor, typed, None, Some(shown(&r))).await
        }
        Err(r) => refused(&r),
    }
}

#[derive(Deserialize)]
pub struct Plain {
    #[serde(default)]
    csrf: String,
}

/// 受託者の取消.
pub async fn revoke(
    State(state): State<WebState>,
    visitor: Visitor,
    Path(number): Path<String>,
    Form(form): Form<Plain>,
) -> Response {
    if !visitor.csrf_ok(&form.csrf) {
        return csrf_refused();
    }
    let outcome = match corporate_number("corporate_number", &number) {
        Ok(n) => state
            .accounts
            .revoke_contractor(&visitor.principal, &n)
            .await
            .map(|_| ()),
        Err(r) => Err(r),
    };
    match outcome {
        Ok(()) => Redirect::to("/web/admin/contractors?done=revoked").into_response(),
        Err(r) => refused(&r),
    }
}
