//! The company administrator's functions (管理者機能) over its own registration's users, over
//! HTTP: each handler reads the call, asks `accounts`, and answers its view. The rules, the
//! statements and the audit trail are all `accounts`'.

mod views;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ErrorBody;
use super::extract::{Admin, Body, Filters};
use crate::accounts::{Principal, bulk};
use crate::csv_text::{self, CsvEncoding};
use crate::domain::Refusal;
pub use views::*;

/// The encoding `?encoding=` names (none: `default`), or 422 `invalid_encoding`.
fn encoding_of(q: CsvQuery, default: Option<CsvEncoding>) -> Result<Option<CsvEncoding>, Refusal> {
    match q.encoding {
        None => Ok(default),
        Some(label) => CsvEncoding::from_label(&label).map(Some).ok_or_else(|| {
            Refusal::invalid(
                "encoding",
                "invalid_encoding",
                "encoding は utf-8 か shift_jis で指定してください",
                "encoding is utf-8 or shift_jis",
            )
        }),
    }
}

/// ユーザ一覧表示: the registration's users.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "管理者機能",
    responses(
        (status = 200, description = "The registration's users", body = UserList),
        (status = 403, description = "administrator_required", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<UserList>, Refusal> {
    let users = state.accounts.list_users(&principal).await?;
    let users = users.into_iter().map(UserView::from).collect();
    Ok(Json(UserList { users }))
}

/// ユーザ一覧ファイルダウンロード: the registration's users as CSV (header line first;
/// permissions separated by spaces), in UTF-8 with a BOM so that Excel reads it, or in
/// Shift_JIS with `?encoding=shift_jis`.
#[utoipa::path(get, path = "/api/v1/admin/users.csv", tag = "管理者機能",
    params(CsvQuery),
    responses(
        (status = 200, description = "text/csv: user_id,name,mail,administrator,enabled,locked,must_change_password,permissions,created_at,last_login_at,contractor", content_type = "text/csv", body = String),
        (status = 403, description = "administrator_required", body = ErrorBody),
        (status = 422, description = "invalid_encoding", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn list_csv(
    State(state): State<AppState>,
    Admin(principal): Admin,
    Filters(query): Filters<CsvQuery>,
) -> Result<Response, Refusal> {
    let encoding = encoding_of(query, None)?.unwrap_or_default();
    let users = state.accounts.list_users(&principal).await?;
    let bytes = csv_text::encode(&bulk::users_csv(&users)?, encoding);
    let content_type = format!("text/csv; charset={}", encoding.charset());
    let disposition = "attachment; filename=\"users.csv\"".to_string();
    let headers = [
        (header::CONTENT_TYPE, content_type),
        (header::CONTENT_DISPOSITION, disposition),
    ];
    Ok((headers, bytes).into_response())
}

/// ユーザ詳細表示: one user of the registration.
#[utoipa::path(get, path = "/api/v1/admin/users/{user_id}", tag = "管理者機能",
    params(("user_id" = String, Path, description = "ユーザID")),
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 403, description = "administrator_required", body = ErrorBody),
        (status = 404, description = "user_not_found", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn one(
    State(state): State<AppState>,
    principal: Principal,
    Path(user_id): Path<String>,
) -> Result<Json<UserView>, Refusal> {
    Ok(Json(
        state.accounts.user(&principal, &user_id).await?.into(),
    ))
}

/// ユーザ登録: issues a user id to a person; the id and a random initial password are mailed to
/// them, and the password must be changed at first login.
#[utoipa::path(post, path = "/api/v1/admin/users", tag = "管理者機能",
    request_body = NewUserBody,
    responses(
        (status = 201, description = "Registered; the initial password was mailed", body = UserView),
        (status = 403, description = "administrator_required", body = ErrorBody),
        (status = 409, description = "user_exists", body = ErrorBody),
        (status = 422, description = "invalid_user_id, invalid_name, invalid_mail, unknown_function, permission_not_allowed_for_kind, invalid_corporate_number, contractor_not_authorised, contractor_cannot_administer", body = ErrorBody),
        (status = 503, description = "mail_unavailable: nothing was registered", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Admin(principal): Admin,
    Body(body): Body<NewUserBody>,
) -> Result<(StatusCode, Json<UserView>), Refusal> {
    let user = state
        .accounts
        .register_user(&principal, body.into())
        .await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// ユーザ一括登録, answered at once: a CSV with the header `user_id,name,mail` and optionally
/// `administrator`, `permissions`, `contractor` (administrator `true`/`false`/`1`/`0`,
/// permissions slugs separated by spaces, empty: the kind's default; contractor a 法人番号 or
/// empty), in UTF-8 (with or without a BOM) or Shift_JIS, told apart by the bytes unless
/// `?encoding=` or the `Content-Type` charset names one. The file is read by the one reader of
/// bulk files (as `POST /api/v1/bulk/users`, which previews before anything is registered): a
/// file it cannot read is refused whole with its code, line and column; each line is then
/// registered, or refused, on its own, and the answer tells each line.
#[utoipa::path(post, path = "/api/v1/admin/users/bulk", tag = "管理者機能",
    params(CsvQuery),
    request_body(content = String, content_type = "text/csv",
        description = "user_id,name,mail,administrator,permissions[,contractor]"),
    responses(
        (status = 200, description = "Each line's outcome", body = BulkAnswer),
        (status = 403, description = "administrator_required", body = ErrorBody),
        (status = 422, description = "the file cannot be read: empty_file, binary_file, open_quote, wrong_header, cell_count, mixed_encoding, wrong_encoding, no_rows, too_many_rows; invalid_encoding", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn create_bulk(
    State(state): State<AppState>,
    Admin(principal): Admin,
    Filters(query): Filters<CsvQuery>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<BulkAnswer>, Refusal> {
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(csv_text::charset_of);
    let encoding = encoding_of(query, declared)?;
    let outcomes = state
        .bulk
        .register_users_now(&state.accounts, &principal, &body, encoding)
        .await?;
    Ok(Json(outcomes.into()))
}

/// ユーザ修正: changes the person's name, mail address or the administrator flag; a notice
/// of the change is mailed to the user.
#[utoipa::path(patch, path = "/api/v1/admin/users/{user_id}", tag = "管理者機能",
    params(("user_id" = String, Path, description = "ユーザID")),
    request_body = ModifyBody,
    responses(
        (status = 200, description = "Changed; a notice was mailed", body = UserView),
        (status = 403, description = "administrator_required", body = ErrorBody),
        (status = 404, description = "user_not_found", body = ErrorBody),
        (status = 422, description = "invalid_name, invalid_mail, cannot_demote_self", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn modify(
    State(state): State<AppState>,
    Admin(principal): Admin,
    Path(user_id): Path<String>,
    Body(body): Body<ModifyBody>,
) -> Result<Json<UserView>, Refusal> {
    let user = state
        .accounts
        .modify_user(&principal, &user_id, body.into())
        .await?;
    Ok(Json(user.into()))
}

/// ユーザ削除: deletes the user id (its sessions end).
#[utoipa::path(delete, path = "/api/v1/admin/users/{user_id}", tag = "管理者機能",
    params(("user_id" = String, Path, description = "ユーザID")),
    responses(
        (status = 200, description = "Deleted", body = Deleted),
        (status = 403, description = "administrator_required", body = ErrorBody),
        (status = 404, description = "user_not_found", body = ErrorBody),
        (status = 422, description = "cannot_delete_self", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    principal: Principal,
    Path(user_id): Path<String>,
) -> Result<Json<Deleted>, Refusal> {
    state.accounts.delete_user(&principal, &user_id).await?;
    let deleted = true;
    Ok(Json(Deleted { user_id, deleted }))
}

/// ロック解除: unlocks an account locked by failed logins.
#[utoipa::path(post, path = "/api/v1/admin/users/{user_id}/unlock", tag = "管理者機能",
    params(("user_id" = String, Path, description = "ユーザID")),
    responses(
        (status = 200, description = "Unlocked", body = UserView),
        (status = 403, description = "administrator_required", body = ErrorBody),
        (status = 404, description = "user_not_found", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn unlock(
    State(state): State<AppState>,
    principal: Principal,
    Path(user_id): Path<String>,
) -> Result<Json<UserView>, Refusal> {
    Ok(Json(
        state.accounts.unlock(&principal, &user_id).await?.into(),
    ))
}

/// 有効/無効切替: enables or disables an account (a disabled one cannot log in, its sessions
/// end). Enabling counts as use for the automatic disabling of unused accounts.
#[utoipa::path(post, path = "/api/v1/admin/users/{user_id}/enabled", tag = "管理者機能",
    params(("user_id" = String, Path, description = "ユーザID")),
    request_body = EnabledBody,
    responses(
        (status = 200, description = "Done", body = UserView),
        (status = 403, description = "administrator_required", body = ErrorBody),
        (status = 404, description = "user_not_found", body = ErrorBody),
        (status = 422, description = "cannot_disable_self", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn set_enabled(
    State(state): State<AppState>,
    Admin(principal): Admin,
    Path(user_id): Path<String>,
    Body(body): Body<EnabledBody>,
) -> Result<Json<UserView>, Refusal> {
    let user = state
        .accounts
        .set_enabled(&principal, &user_id, body.enabled)
        .await?;
    Ok(Json(user.into()))
}

/// パスワード再発行: sets a new random initial password (to be changed at the next login),
/// unlocks the account, and mails the password to the user. An administrator changes its own
/// password instead (it would be locked out until it read the mail).
#[utoipa::path(post, path = "/api/v1/admin/users/{user_id}/password-reissue", tag = "管理者機能",
    params(("user_id" = String, Path, description = "ユーザID")),
    responses(
        (status = 200, description = "Reissued; the password was mailed", body = UserView),
        (status = 403, description = "administrator_required", body = ErrorBody),
        (status = 404, description = "user_not_found", body = ErrorBody),
        (status = 422, description = "cannot_reissue_own_password", body = ErrorBody),
        (status = 503, description = "mail_unavailable: nothing was changed", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn reissue_password(
    State(state): State<AppState>,
    principal: Principal,
    Path(user_id): Path<String>,
) -> Result<Json<UserView>, Refusal> {
    let user = state
        .accounts
        .reissue_password(&principal, &user_id)
        .await?;
    Ok(Json(user.into()))
}

/// 利用者権限設定: the functions the user may call, within what the registration's kind allows.
#[utoipa::path(put, path = "/api/v1/admin/users/{user_id}/permissions", tag = "管理者機能",
    params(("user_id" = String, Path, description = "ユーザID")),
    request_body = PermissionsBody,
    responses(
        (status = 200, description = "Set", body = UserView),
        (status = 403, description = "administrator_required", body = ErrorBody),
        (status = 404, description = "user_not_found", body = ErrorBody),
        (status = 422, description = "unknown_function, permission_not_allowed_for_kind", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn set_permissions(
    State(state): State<AppState>,
    Admin(principal): Admin,
    Path(user_id): Path<String>,
    Body(body): Body<PermissionsBody>,
) -> Result<Json<UserView>, Refusal> {
    let user = state
        .accounts
        .set_permissions(&principal, &user_id, &body.functions)
        .await?;
    Ok(Json(user.into()))
}
