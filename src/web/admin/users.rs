//! ユーザ管理: the registration's users on the screen. Each handler checks the form's CSRF
//! token, calls the `Accounts` function of `/api/v1/admin/users…` and renders; after a change
//! the browser is sent to the user's page (or the list) with a note of what was done, so a
//! reload does not post again.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{jst, on_the_form, shown};
use crate::accounts::{Contractor, Principal, User, UserChange, UserRequest, bulk};
use crate::csv_text::{self, CsvEncoding};
use crate::domain::{Callable, HubFunction, PointClass, Refusal};
use crate::web::WebState;
use crate::web::page::{Chrome, csrf_refused, html, refused};
use crate::web::session::Visitor;
use crate::web::signin::Shown;

/// `?done=`: what the last change did, shown once as a note.
#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

/// The note for `?done=` (an unknown one shows nothing).
fn note(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "registered" => {
            "ユーザを登録しました。ユーザIDと初期パスワードを本人にメールで送信しました"
        }
        "edited" => "修正しました。変更の通知を本人にメールで送信しました",
        "unlocked" => "ロックを解除しました",
        "enabled" => "有効にしました",
        "disabled" => "無効にしました",
        "reissued" => "パスワードを再発行し、本人にメールで送信しました",
        "permissions" => "権限を設定しました",
        "deleted" => "ユーザを削除しました",
        _ => return None,
    })
}

/// One line of the user list.
pub struct Line {
    pub user_id: String,
    pub name: String,
    pub mail: String,
    pub administrator: bool,
    pub enabled: bool,
    pub locked: bool,
    pub must_change_password: bool,
    pub last_login: String,
    pub contractor: String,
}

impl From<User> for Line {
    fn from(u: User) -> Self {
        Line {
            last_login: u.last_login_at.as_ref().map(jst).unwrap_or_default(),
            contractor: u.contractor.unwrap_or_default(),
            user_id: u.user_id,
            name: u.name,
            mail: u.mail,
            administrator: u.administrator,
            enabled: u.enabled,
            locked: u.locked,
            must_change_password: u.must_change_password,
        }
    }
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct ListPage {
    chrome: Option<Chrome>,
    users: Vec<Line>,
    note: Option<&'static str>,
}

/// One permission's checkbox.
pub struct Permission {
    pub slug: &'static str,
    pub label: String,
    pub checked: bool,
}

/// The permissions of one class (or of none: 共通), as one group of checkboxes.
pub struct Group {
    pub label: &'static str,
    pub items: Vec<Permission>,
}

/// The class a permission is of, for grouping; `None` for those of no class.
fn class_of(c: Callable) -> Option<PointClass> {
    match c {
        Callable::Operator(f) => Some(f.class()),
        Callable::Hub(
            HubFunction::Intermediation(_, c) | HubFunction::Status(c) | HubFunction::StatusList(c),
        ) => Some(c),
        Callable::Hub(HubFunction::Operators) => None,
    }
}

/// Every permission the registration's kind allows — the function table's rows for the kind,
/// as `accounts` checks them — grouped by class, ticked when `checked` holds its slug.
fn groups(principal: &Principal, checked: &[String]) -> Vec<Group> {
    let all = Callable::default_permissions(principal.kind);
    let classes = PointClass::ALL.map(Some).into_iter().chain([None]);
    classes
        .map(|class| Group {
            label: class.map(PointClass::name_ja).unwrap_or("共通"),
            items: all
                .iter()
                .filter(|&&c| class_of(c) == class)
                .map(|&c| Permission {
                    slug: c.slug(),
                    label: c.name_ja(),
                    checked: checked.iter().any(|s| s == c.slug()),
                })
                .collect(),
        })
        .filter(|g| !g.items.is_empty())
        .collect()
}

/// The user list.
pub async fn list(
    State(state): State<WebState>,
    visitor: Visitor,
    Query(q): Query<Done>,
) -> Response {
    match state.accounts.list_users(&visitor.principal).await {
        Ok(users) => html(
            StatusCode::OK,
            &ListPage {
                chrome: Some(Chrome::of(&visitor)),
                users: users.into_iter().map(Line::from).collect(),
                note: note(q.done.as_deref()),
            },
        ),
        Err(r) => refused(&r),
    }
}

#[derive(Deserialize)]
pub struct EncodingQuery {
    encoding: Option<String>,
}

/// ユーザ一覧ファイルダウンロード: the API's users.csv, in UTF-8 with a BOM or, with
/// `?encoding=shift_jis`, Shift_JIS.
pub async fn list_csv(
    State(state): State<WebState>,
    visitor: Visitor,
    Query(q): Query<EncodingQuery>,
) -> Response {
    let encoding = q
        .encoding
        .as_deref()
        .and_then(CsvEncoding::from_label)
        .unwrap_or_default();
    let text = match state.accounts.list_users(&visitor.principal).await {
        Ok(users) => bulk::users_csv(&users),
        Err(r) => Err(r),
    };
    match text {
        Ok(text) => (
            [
                (
                    header::CONTENT_TYPE,
                    format!("text/csv; charset={}", encoding.charset()),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"users.csv\"".to_string(),
                ),
            ],
            csv_text::encode(&text, encoding),
        )
            .into_response(),
        Err(r) => refused(&r),
    }
}

/// What the registration form holds (as typed, for a refused form to show again).
#[derive(Default)]
pub struct Typed {
    pub user_id: String,
    pub name: String,
    pub mail: String,
    pub administrator: bool,
    /// Permissions chosen one by one (else: the kind's default).
    pub custom: bool,
    pub functions: Vec<String>,
    pub contractor: String,
}

fn value<'a>(values: &'a [(String, String)], name: &str) -> &'a str {
    values
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_default()
}

/// Every value of the checkboxes named `name`.
fn values_of(values: &[(String, String)], name: &str) -> Vec<String> {
    values
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .collect()
}

impl Typed {
    fn of(values: &[(String, String)]) -> Self {
        Typed {
            user_id: value(values, "user_id").trim().to_string(),
            name: value(values, "name").trim().to_string(),
            mail: value(values, "mail").trim().to_string(),
            administrator: value(values, "administrator") == "true",
            custom: value(values, "permissions_mode") == "custom",
            functions: values_of(values, "functions"),
            contractor: value(values, "contractor").trim().to_string(),
        }
    }

    /// The request the API's `NewUserBody` would make.
    fn request(&self) -> UserRequest {
        UserRequest {
            user_id: self.user_id.clone(),
            name: self.name.clone(),
            mail: self.mail.clone(),
            administrator: self.administrator,
            permissions: self.custom.then(|| self.functions.clone()),
            contractor: (!self.contractor.is_empty()).then(|| self.contractor.clone()),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/user_new.html")]
struct NewPage {
    chrome: Option<Chrome>,
    typed: Typed,
    groups: Vec<Group>,
    /// The contractors a user may be registered for (authorised, not revoked).
    contractors: Vec<Contractor>,
    error: Option<Shown>,
}

async fn new_page(
    state: &WebState,
    visitor: &Visitor,
    status: StatusCode,
    typed: Typed,
    error: Option<Shown>,
) -> Response {
    let contractors = match state.accounts.list_contractors(&visitor.principal).await {
        Ok(all) => all.into_iter().filter(|c| c.revoked_at.is_none()).collect(),
        Err(r) => return refused(&r),
    };
    // A fresh form has every permission ticked: choosing one by one starts from all.
    let checked = if typed.custom {
        typed.functions.clone()
    } else {
        Callable::default_permissions(visitor.principal.kind)
            .iter()
            .map(|c| c.slug().to_string())
            .collect()
    };
    html(
        status,
        &NewPage {
            chrome: Some(Chrome::of(visitor)),
            groups: groups(&visitor.principal, &checked),
            typed,
            contractors,
            error,
        },
    )
}

/// ユーザ登録's form.
pub async fn new_form(State(state): State<WebState>, visitor: Visitor) -> Response {
    new_page(&state, &visitor, StatusCode::OK, Typed::default(), None).await
}

/// ユーザ登録: `Accounts::register_user`, which mails the id and the initial password; then
/// the new user's page.
pub async fn register(
    State(state): State<WebState>,
    visitor: Visitor,
    Form(values): Form<Vec<(String, String)>>,
) -> Response {
    if !visitor.csrf_ok(value(&values, "csrf")) {
        return csrf_refused();
    }
    let typed = Typed::of(&values);
    match state
        .accounts
        .register_user(&visitor.principal, typed.request())
        .await
    {
        Ok(user) => to_user(&user.user_id, "registered"),
        Err(r) if on_the_form(&r) => {
            let status = form_status(&r);
            new_page(&state, &visitor, status, typed, Some(shown(&r))).await
        }
        Err(r) => refused(&r),
    }
}

/// The status a form refused on its own page is answered with.
fn form_status(r: &Refusal) -> StatusCode {
    match r {
        Refusal::MailUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        Refusal::UserExists(_) => StatusCode::CONFLICT,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

fn to_user(user_id: &str, done: &str) -> Response {
    let id = urlencoding(user_id);
    Redirect::to(&format!("/web/admin/users/{id}?done={done}")).into_response()
}

/// A user id as a path segment (ids are letters, digits, `.`, `_`, `-`; anything else is
/// escaped all the same).
fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The user's page: its facts, the edit form, its permissions and the buttons of what can be
/// done to it.
#[derive(Template)]
#[template(path = "admin/user.html")]
struct UserPage {
    chrome: Option<Chrome>,
    u: Line,
    created: String,
    failed_logins: i32,
    /// Whether the permissions are the kind's default (never set for this user).
    default_permissions: bool,
    /// The administrator looking at its own page (what it cannot do to itself is not offered).
    itself: bool,
    /// The edit form's values: the user's, or what was typed into a refused form.
    edit_name: String,
    edit_mail: String,
    groups: Vec<Group>,
    note: Option<&'static str>,
    error: Option<Shown>,
    /// Which of the page's forms `error` came from.
    action: &'static str,
}

/// A refused change shown on the user's page, by the form that made it.
struct Failure {
    action: &'static str,
    refusal: Refusal,
    /// What was typed into the edit form, shown again.
    typed: Option<(String, String)>,
    /// The permissions ticked on the refused permissions form.
    ticked: Option<Vec<String>>,
}

async fn user_page(
    state: &WebState,
    visitor: &Visitor,
    user_id: &str,
    note_: Option<&'static str>,
    failure: Option<Failure>,
) -> Response {
    let user = match state.accounts.user(&visitor.principal, user_id).await {
        Ok(u) => u,
        Err(r) => return refused(&r),
    };
    let status = failure
        .as_ref()
        .map(|f| form_status(&f.refusal))
        .unwrap_or(StatusCode::OK);
    let (edit_name, edit_mail) = failure
        .as_ref()
        .and_then(|f| f.typed.clone())
        .unwrap_or_else(|| (user.name.clone(), user.mail.clone()));
    let ticked = failure.as_ref().and_then(|f| f.ticked.clone());
    let groups = groups(
        &visitor.principal,
        ticked.as_deref().unwrap_or(user.permissions.as_slice()),
    );
    html(
        status,
        &UserPage {
            chrome: Some(Chrome::of(visitor)),
            created: jst(&user.created_at),
            failed_logins: user.failed_logins,
            default_permissions: !user.permissions_set,
            itself: user.user_id == visitor.principal.user_id,
            u: Line::from(user),
            edit_name,
            edit_mail,
            groups,
            note: note_,
            action: failure.as_ref().map(|f| f.action).unwrap_or_default(),
            error: failure.as_ref().map(|f| shown(&f.refusal)),
        },
    )
}

/// ユーザ詳細表示.
pub async fn one(
    State(state): State<WebState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Query(q): Query<Done>,
) -> Response {
    user_page(&state, &visitor, &id, note(q.done.as_deref()), None).await
}

/// What a change on the user's page came to: its page with the note of `done`, its page with
/// the refusal next to the form `action`, or a refusal's own page.
async fn after(
    state: &WebState,
    visitor: &Visitor,
    user_id: &str,
    outcome: Result<&str, Failure>,
) -> Response {
    match outcome {
        Ok(done) => to_user(user_id, done),
        Err(f) if on_the_form(&f.refusal) => {
            user_page(state, visitor, user_id, None, Some(f)).await
        }
        Err(f) => refused(&f.refusal),
    }
}

fn failed(action: &'static str) -> impl FnOnce(Refusal) -> Failure {
    move |refusal| Failure {
        action,
        refusal,
        typed: None,
        ticked: None,
    }
}

/// ユーザ修正: name, mail and the administrator flag (`Accounts::modify_user`, which mails a
/// notice of the change).
pub async fn edit(
    State(state): State<WebState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Form(values): Form<Vec<(String, String)>>,
) -> Response {
    if !visitor.csrf_ok(value(&values, "csrf")) {
        return csrf_refused();
    }
    let typed = Typed::of(&values);
    let change = UserChange {
        name: Some(typed.name.clone()),
        mail: Some(typed.mail.clone()),
        administrator: Some(typed.administrator),
    };
    let outcome = state
        .accounts
        .modify_user(&visitor.principal, &id, change)
        .await
        .map(|_| "edited")
        .map_err(|refusal| Failure {
            action: "edit",
            refusal,
            typed: Some((typed.name, typed.mail)),
            ticked: None,
        });
    after(&state, &visitor, &id, outcome).await
}

#[derive(Deserialize)]
pub struct Plain {
    #[serde(default)]
    csrf: String,
}

/// ユーザ削除; then the list.
pub async fn delete(
    State(state): State<WebState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Form(form): Form<Plain>,
) -> Response {
    if !visitor.csrf_ok(&form.csrf) {
        return csrf_refused();
    }
    match state.accounts.delete_user(&visitor.principal, &id).await {
        Ok(()) => Redirect::to("/web/admin/users?done=deleted").into_response(),
        Err(r) => after(&state, &visitor, &id, Err(failed("delete")(r))).await,
    }
}

/// ロック解除.
pub async fn unlock(
    State(state): State<WebState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Form(form): Form<Plain>,
) -> Response {
    if !visitor.csrf_ok(&form.csrf) {
        return csrf_refused();
    }
    let outcome = state
        .accounts
        .unlock(&visitor.principal, &id)
        .await
        .map(|_| "unlocked")
        .map_err(failed("unlock"));
    after(&state, &visitor, &id, outcome).await
}

#[derive(Deserialize)]
pub struct EnabledForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    enabled: String,
}

/// 有効/無効切替.
pub async fn set_enabled(
    State(state): State<WebState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Form(form): Form<EnabledForm>,
) -> Response {
    if !visitor.csrf_ok(&form.csrf) {
        return csrf_refused();
    }
    let enabled = form.enabled == "true";
    let outcome = state
        .accounts
        .set_enabled(&visitor.principal, &id, enabled)
        .await
        .map(|_| if enabled { "enabled" } else { "disabled" })
        .map_err(failed("enabled"));
    after(&state, &visitor, &id, outcome).await
}

/// パスワード再発行 (`Accounts::reissue_password`, which mails the new initial password).
pub async fn reissue_password(
    State(state): State<WebState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Form(form): Form<Plain>,
) -> Response {
    if !visitor.csrf_ok(&form.csrf) {
        return csrf_refused();
    }
    let outcome = state
        .accounts
        .reissue_password(&visitor.principal, &id)
        .await
        .map(|_| "reissued")
        .map_err(failed("reissue"));
    after(&state, &visitor, &id, outcome).await
}

/// 利用者権限設定: the ticked functions, within what the registration's kind allows.
pub async fn set_permissions(
    State(state): State<WebState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Form(values): Form<Vec<(String, String)>>,
) -> Response {
    if !visitor.csrf_ok(value(&values, "csrf")) {
        return csrf_refused();
    }
    let functions = values_of(&values, "functions");
    let outcome = state
        .accounts
        .set_permissions(&visitor.principal, &id, &functions)
        .await
        .map(|_| "permissions")
        .map_err(|refusal| Failure {
            action: "permissions",
            refusal,
            typed: None,
            ticked: Some(functions.clone()),
        });
    after(&state, &visitor, &id, outcome).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_id_is_escaped_as_a_path_segment() {
        assert_eq!(urlencoding("sato.hanako_1-a"), "sato.hanako_1-a");
        assert_eq!(urlencoding("a/b?c"), "a%2Fb%3Fc");
    }

    #[test]
    fn an_unknown_note_shows_nothing() {
        assert!(note(Some("registered")).is_some());
        assert_eq!(note(Some("<script>")), None);
        assert_eq!(note(None), None);
    }
}
