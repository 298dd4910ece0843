//! The company administrator's functions (管理者機能) over its own registration's users: list
//! (also as CSV), detail, registration (one or a CSV of many), modification, deletion, unlock,
//! enabling and disabling, password reissue, and permissions. Every query is scoped to the
//! caller's company in SQL, so another company's user is simply not found; every change is
//! written to the audit log.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_postgres::Row;

use super::AppState;
use crate::accounts;
use crate::accounts::Principal;
use crate::audit;
use crate::domain::Refusal;
use crate::domain::{CompanyKind, Function, UserId};
use crate::mail;

/// A user as the administrator sees it (never its password).
#[derive(Serialize, utoipa::ToSchema)]
pub struct UserView {
    user_id: String,
    name: String,
    mail: String,
    administrator: bool,
    enabled: bool,
    locked: bool,
    failed_logins: i32,
    must_change_password: bool,
    /// The functions (slugs) the user may call: all the registration's kind allows unless set.
    permissions: Vec<String>,
    /// Whether `permissions` was set for the user (false: the kind's default).
    permissions_set: bool,
    created_at: DateTime<Utc>,
    last_login_at: Option<DateTime<Utc>>,
    /// 法人番号 of the contractor (受託者) the person works for, acting for the registration.
    contractor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct UserList {
    users: Vec<UserView>,
}

const COLUMNS: &str = "user_id, name, mail, administrator, disabled, locked, failed_logins,
     must_change_password, permissions, created_at, last_login_at, contractor";

fn view(row: &Row, kind: CompanyKind) -> UserView {
    let set: Option<Vec<String>> = row.get(8);
    let permissions = match &set {
        Some(slugs) => slugs.clone(),
        None => Function::ALL
            .iter()
            .filter(|f| kind.may_call(**f))
            .map(|f| f.slug().to_string())
            .collect(),
    };
    UserView {
        user_id: row.get(0),
        name: row.get(1),
        mail: row.get(2),
        administrator: row.get(3),
        enabled: !row.get::<_, bool>(4),
        locked: row.get(5),
        failed_logins: row.get(6),
        must_change_password: row.get(7),
        permissions,
        permissions_set: set.is_some(),
        created_at: row.get(9),
        last_login_at: row.get(10),
        contractor: row.get(11),
    }
}

pub(super) fn require_admin(principal: &Principal) -> Result<(), Refusal> {
    if principal.administrator {
        Ok(())
    } else {
        Err(Refusal::AdministratorRequired)
    }
}

async fn fetch(
    client: &impl deadpool_postgres::GenericClient,
    principal: &Principal,
    user_id: &str,
) -> Result<UserView, Refusal> {
    let row = client
        .query_opt(
            &format!("SELECT {COLUMNS} FROM users WHERE company_code = $1 AND user_id = $2"),
            &[&principal.company.as_str(), &user_id],
        )
        .await?
        .ok_or(Refusal::UserNotFound)?;
    Ok(view(&row, principal.kind))
}

async fn all_users(state: &AppState, principal: &Principal) -> Result<Vec<UserView>, Refusal> {
    let client = state.pool.get().await?;
    let rows = client
        .query(
            &format!("SELECT {COLUMNS} FROM users WHERE company_code = $1 ORDER BY user_id"),
            &[&principal.company.as_str()],
        )
        .await?;
    audit::record(
        &client,
        principal,
        "user.list",
        "*",
        serde_json::json!({ "count": rows.len() }),
    )
    .await?;
    Ok(rows.iter().map(|r| view(r, principal.kind)).collect())
}

/// ユーザ一覧表示: the registration's users.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "管理者機能",
    responses(
        (status = 200, description = "The registration's users", body = UserList),
        (status = 403, description = "administrator_required", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<UserList>, Refusal> {
    require_admin(&principal)?;
    Ok(Json(UserList {
        users: all_users(&state, &principal).await?,
    }))
}

/// ユーザ一覧ファイルダウンロード: the registration's users as CSV (UTF-8, header line first;
/// permissions separated by spaces).
#[utoipa::path(get, path = "/api/v1/admin/users.csv", tag = "管理者機能",
    responses(
        (status = 200, description = "text/csv: user_id,name,mail,administrator,enabled,locked,must_change_password,permissions,created_at,last_login_at,contractor", content_type = "text/csv", body = String),
        (status = 403, description = "administrator_required", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn list_csv(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Response, Refusal> {
    require_admin(&principal)?;
    let users = all_users(&state, &principal).await?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let internal = |e: csv::Error| Refusal::Internal(e.into());
    w.write_record([
        "user_id",
        "name",
        "mail",
        "administrator",
        "enabled",
        "locked",
        "must_change_password",
        "permissions",
        "created_at",
        "last_login_at",
        "contractor",
    ])
    .map_err(internal)?;
    for u in &users {
        w.write_record([
            u.user_id.as_str(),
            &u.name,
            &u.mail,
            &u.administrator.to_string(),
            &u.enabled.to_string(),
            &u.locked.to_string(),
            &u.must_change_password.to_string(),
            &u.permissions.join(" "),
            &u.created_at.to_rfc3339(),
            &u.last_login_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
            u.contractor.as_deref().unwrap_or_default(),
        ])
        .map_err(internal)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Refusal::Internal(anyhow::anyhow!("{e}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"users.csv\"",
            ),
        ],
        bytes,
    )
        .into_response())
}

/// ユーザ詳細表示: one user of the registration.
#[utoipa::path(get, path = "/api/v1/admin/users/{user_id}", tag = "管理者機能",
    params(("user_id" = String, Path, description = "ユーザID")),
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 403, description = "administrator_required", body = super::error::ErrorBody),
        (status = 404, description = "user_not_found", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn one(
    State(state): State<AppState>,
    principal: Principal,
    Path(user_id): Path<String>,
) -> Result<Json<UserView>, Refusal> {
    require_admin(&principal)?;
    let client = state.pool.get().await?;
    let user = fetch(&client, &principal, &user_id).await?;
    audit::record(
        &client,
        &principal,
        "user.read",
        &user_id,
        serde_json::json!({}),
    )
    .await?;
    Ok(Json(user))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    /// ユーザID: 3 to 32 letters, digits, `.`, `_`, `-`; unique in the hub.
    user_id: String,
    /// The natural person the id is issued to (one person per id).
    name: String,
    /// Where the id and the initial password are mailed.
    mail: String,
    #[serde(default)]
    administrator: bool,
    /// Function slugs; absent: all the registration's kind allows.
    permissions: Option<Vec<String>>,
    /// 法人番号 of an authorised contractor (受託者) the person works for: the user acts for
    /// the registration, and the audit trail names the contractor. Not with `administrator`.
    #[serde(default)]
    contractor: Option<String>,
}

/// The permissions `slugs` name, each allowed to the registration's kind.
fn permissions_of(kind: CompanyKind, slugs: &[String]) -> Result<Vec<Function>, Refusal> {
    let mut out = Vec::with_capacity(slugs.len());
    for slug in slugs {
        let f: Function = slug.parse().map_err(|_| {
            Refusal::invalid(
                "permissions",
                "unknown_function",
                format!("機能 {slug} は存在しません"),
                format!("there is no function {slug}"),
            )
        })?;
        if !kind.may_call(f) {
            return Err(Refusal::PermissionNotAllowedForKind(f));
        }
        if !out.contains(&f) {
            out.push(f);
        }
    }
    Ok(out)
}

fn slugs(functions: &[Function]) -> Vec<String> {
    functions.iter().map(|f| f.slug().to_string()).collect()
}

fn check_name_and_mail(name: &str, mail_address: &str) -> Result<(), Refusal> {
    if name.trim().is_empty() || name.chars().count() > 100 {
        return Err(Refusal::invalid(
            "name",
            "invalid_name",
            "氏名は1〜100文字で指定してください",
            "name is 1 to 100 characters",
        ));
    }
    if !mail::valid_address(mail_address) {
        return Err(Refusal::invalid(
            "mail",
            "invalid_mail",
            "メールアドレスが正しくありません",
            "mail is not a valid mail address",
        ));
    }
    Ok(())
}

/// Registers one user: checks, inserts with a random initial password, mails it, audits; the
/// row is committed only once the mail is sent.
async fn register_one(
    state: &AppState,
    principal: &Principal,
    body: NewUserBody,
) -> Result<UserView, Refusal> {
    let user_id = UserId::parse(&body.user_id).map_err(|e| {
        Refusal::invalid(
            "user_id",
            "invalid_user_id",
            "ユーザIDは3〜32文字の英数字と . _ - で指定してください",
            e.to_string(),
        )
    })?;
    check_name_and_mail(&body.name, &body.mail)?;
    let permissions = body
        .permissions
        .as_deref()
        .map(|p| permissions_of(principal.kind, p))
        .transpose()?;
    let contractor = body
        .contractor
        .as_deref()
        .map(|c| super::contractors::corporate_number("contractor", c))
        .transpose()?;
    if contractor.is_some() && body.administrator {
        return Err(Refusal::invalid(
            "administrator",
            "contractor_cannot_administer",
            "受託者のユーザを管理者にすることはできません",
            "a contractor's user cannot be an administrator of the registration",
        ));
    }
    let password = accounts::initial_password();
    let hash = hash(password.clone()).await?;
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    if let Some(c) = &contractor {
        let authorised = tx
            .query_opt(
                "SELECT 1 FROM contractors
                 WHERE company_code = $1 AND corporate_number = $2 AND revoked_at IS NULL
                 FOR SHARE",
                &[&principal.company.as_str(), &c.as_str()],
            )
            .await?;
        if authorised.is_none() {
            return Err(Refusal::ContractorNotAuthorised(c.to_string()));
        }
    }
    let contractor = contractor.as_ref().map(|c| c.as_str());
    let inserted = tx
        .execute(
            "INSERT INTO users (user_id, company_code, password_hash, name, mail, administrator,
                                must_change_password, permissions, contractor)
             VALUES ($1, $2, $3, $4, $5, $6, true, $7, $8)
             ON CONFLICT (user_id) DO NOTHING",
            &[
                &user_id.as_str(),
                &principal.company.as_str(),
                &hash,
                &body.name,
                &body.mail,
                &body.administrator,
                &permissions.as_deref().map(slugs),
                &contractor,
            ],
        )
        .await?;
    if inserted == 0 {
        return Err(Refusal::UserExists(user_id.to_string()));
    }
    tx.execute(
        "INSERT INTO password_history (user_id, password_hash) VALUES ($1, $2)",
        &[&user_id.as_str(), &hash],
    )
    .await?;
    audit::record(
        &tx,
        principal,
        "user.create",
        user_id.as_str(),
        serde_json::json!({
            "name": body.name, "mail": body.mail, "administrator": body.administrator,
            "permissions": permissions.as_deref().map(slugs), "contractor": contractor,
        }),
    )
    .await?;
    let user = fetch(&tx, principal, user_id.as_str()).await?;
    let (subject, text) = mail::issued(
        principal.company.as_str(),
        user_id.as_str(),
        &body.name,
        &password,
    );
    send(state, &body.mail, &subject, text).await?;
    tx.commit().await?;
    Ok(user)
}

async fn hash(password: String) -> Result<String, Refusal> {
    tokio::task::spawn_blocking(move || accounts::hash_password(&password))
        .await
        .map_err(|e| Refusal::Internal(e.into()))?
        .map_err(|e| Refusal::Internal(e.into()))
}

async fn send(state: &AppState, to: &str, subject: &str, text: String) -> Result<(), Refusal> {
    state
        .mailer
        .send(to, subject, text)
        .await
        .map_err(|e| Refusal::MailUnavailable(e.to_string()))
}

/// ユーザ登録: issues a user id to a person; the id and a random initial password are mailed to
/// them, and the password must be changed at first login.
#[utoipa::path(post, path = "/api/v1/admin/users", tag = "管理者機能",
    request_body = NewUserBody,
    responses(
        (status = 201, description = "Registered; the initial password was mailed", body = UserView),
        (status = 403, description = "administrator_required", body = super::error::ErrorBody),
        (status = 409, description = "user_exists", body = super::error::ErrorBody),
        (status = 422, description = "invalid_user_id, invalid_name, invalid_mail, unknown_function, permission_not_allowed_for_kind, invalid_corporate_number, contractor_not_authorised, contractor_cannot_administer", body = super::error::ErrorBody),
        (status = 503, description = "mail_unavailable: nothing was registered", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<UserView>), Refusal> {
    require_admin(&principal)?;
    let body: NewUserBody = super::error::parse_json(&body)?;
    let user = register_one(&state, &principal, body).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// The answer for one line of a bulk registration.
#[derive(Serialize, utoipa::ToSchema)]
pub struct BulkLine {
    /// The line of the CSV (the header is line 1).
    line: usize,
    user_id: String,
    /// `registered` or `refused`.
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_ja: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_en: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct BulkAnswer {
    registered: usize,
    refused: usize,
    lines: Vec<BulkLine>,
}

/// ユーザ一括登録: a CSV (UTF-8) with the header `user_id,name,mail,administrator,permissions`
/// and optionally `contractor` (administrator `true`/`false`, permissions slugs separated by
/// spaces, empty: the kind's default; contractor a 法人番号 or empty). Each line is
/// registered, or refused, on its own; the answer tells each line.
#[utoipa::path(post, path = "/api/v1/admin/users/bulk", tag = "管理者機能",
    request_body(content = String, content_type = "text/csv",
        description = "user_id,name,mail,administrator,permissions[,contractor]"),
    responses(
        (status = 200, description = "Each line's outcome", body = BulkAnswer),
        (status = 403, description = "administrator_required", body = super::error::ErrorBody),
        (status = 422, description = "invalid_csv: the file itself cannot be read", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn create_bulk(
    State(state): State<AppState>,
    principal: Principal,
    body: axum::body::Bytes,
) -> Result<Json<BulkAnswer>, Refusal> {
    require_admin(&principal)?;
    let bad_csv = |en: String| {
        Refusal::invalid(
            "body",
            "invalid_csv",
            "CSVファイルを読み取れません(1行目は user_id,name,mail,administrator,permissions)",
            en,
        )
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(body.as_ref());
    let headers = reader
        .headers()
        .map_err(|e| bad_csv(e.to_string()))?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h == name);
    let (Some(c_user), Some(c_name), Some(c_mail)) =
        (column("user_id"), column("name"), column("mail"))
    else {
        return Err(bad_csv(
            "the header line names user_id, name and mail".into(),
        ));
    };
    let (c_admin, c_perm, c_contractor) = (
        column("administrator"),
        column("permissions"),
        column("contractor"),
    );
    let mut lines = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let outcome = match record {
            Err(e) => Err((String::new(), bad_csv(e.to_string()))),
            Ok(r) => {
                let field = |c: Option<usize>| c.and_then(|c| r.get(c)).unwrap_or("").to_string();
                let user_id = field(Some(c_user));
                let admin = field(c_admin);
                let perms = field(c_perm);
                let contractor = field(c_contractor);
                let body = NewUserBody {
                    user_id: user_id.clone(),
                    name: field(Some(c_name)),
                    mail: field(Some(c_mail)),
                    administrator: matches!(admin.as_str(), "true" | "1" | "yes"),
                    permissions: (!perms.is_empty())
                        .then(|| perms.split_whitespace().map(str::to_string).collect()),
                    contractor: (!contractor.is_empty()).then_some(contractor),
                };
                if !matches!(
                    admin.as_str(),
                    "" | "true" | "false" | "1" | "0" | "yes" | "no"
                ) {
                    Err((
                        user_id,
                        Refusal::invalid(
                            "administrator",
                            "invalid_administrator",
                            "administrator は true か false で指定してください",
                            "administrator is true or false",
                        ),
                    ))
                } else {
                    register_one(&state, &principal, body)
                        .await
                        .map_err(|e| (user_id, e))
                }
            }
        };
        lines.push(match outcome {
            Ok(user) => BulkLine {
                line,
                user_id: user.user_id,
                outcome: "registered",
                code: None,
                message_ja: None,
                message_en: None,
            },
            Err((user_id, e)) => {
                let (ja, en) = e.messages();
                BulkLine {
                    line,
                    user_id,
                    outcome: "refused",
                    code: Some(e.code()),
                    message_ja: Some(ja),
                    message_en: Some(en),
                }
            }
        });
    }
    let registered = lines.iter().filter(|l| l.outcome == "registered").count();
    Ok(Json(BulkAnswer {
        registered,
        refused: lines.len() - registered,
        lines,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModifyBody {
    name: Option<String>,
    mail: Option<String>,
    administrator: Option<bool>,
}

/// ユーザ修正: changes the person's name, mail address or the administrator flag; a notice
/// of the change is mailed to the user.
#[utoipa::path(patch, path = "/api/v1/admin/users/{user_id}", tag = "管理者機能",
    params(("user_id" = String, Path, description = "ユーザID")),
    request_body = ModifyBody,
    responses(
        (status = 200, description = "Changed; a notice was mailed", body = UserView),
        (status = 403, description = "administrator_required", body = super::error::ErrorBody),
        (status = 404, description = "user_not_found", body = super::error::ErrorBody),
        (status = 422, description = "invalid_name, invalid_mail", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn modify(
    State(state): State<AppState>,
    principal: Principal,
    Path(user_id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<UserView>, Refusal> {
    require_admin(&principal)?;
    let body: ModifyBody = super::error::parse_json(&body)?;
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let before = fetch(&tx, &principal, &user_id).await?;
    let name = body.name.clone().unwrap_or(before.name.clone());
    let mail_address = body.mail.clone().unwrap_or(before.mail.clone());
    check_name_and_mail(&name, &mail_address)?;
    if body.administrator == Some(false) && user_id == principal.user_id {
        return Err(Refusal::invalid(
            "administrator",
            "cannot_demote_self",
            "自分自身の管理者権限は外せません",
            "an administrator cannot remove its own administrator flag",
        ));
    }
    let administrator = body.administrator.unwrap_or(before.administrator);
    tx.execute(
        "UPDATE users SET name = $3, mail = $4, administrator = $5
         WHERE company_code = $1 AND user_id = $2",
        &[
            &principal.company.as_str(),
            &user_id,
            &name,
            &mail_address,
            &administrator,
        ],
    )
    .await?;
    audit::record(
        &tx,
        &principal,
        "user.modify",
        &user_id,
        serde_json::json!({ "name": body.name, "mail": body.mail, "administrator": body.administrator }),
    )
    .await?;
    let after = fetch(&tx, &principal, &user_id).await?;
    tx.commit().await?;
    state.sessions.forget_user(&user_id);
    let (subject, text) = mail::changed(principal.company.as_str(), &user_id, &name);
    // The change is made; a notice that cannot be sent is logged, not undone.
    if let Err(e) = state.mailer.send(&mail_address, &subject, text).await {
        tracing::warn!(error = %e, user_id, "change notice not mailed");
    }
    Ok(Json(after))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Deleted {
    user_id: String,
    deleted: bool,
}

/// ユーザ削除: deletes the user id (its sessions end).
#[utoipa::path(delete, path = "/api/v1/admin/users/{user_id}", tag = "管理者機能",
    params(("user_id" = String, Path, description = "ユーザID")),
    responses(
        (status = 200, description = "Deleted", body = Deleted),
        (status = 403, description = "administrator_required", body = super::error::ErrorBody),
        (status = 404, description = "user_not_found", body = super::error::ErrorBody),
        (status = 422, description = "cannot_delete_self", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    principal: Principal,
    Path(user_id): Path<String>,
) -> Result<Json<Deleted>, Refusal> {
    require_admin(&principal)?;
    if user_id == principal.user_id {
        return Err(Refusal::invalid(
            "user_id",
            "cannot_delete_self",
            "自分自身は削除できません",
            "an administrator cannot delete itself",
        ));
    }
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let n = tx
        .execute(
            "DELETE FROM users WHERE company_code = $1 AND user_id = $2",
            &[&principal.company.as_str(), &user_id],
        )
        .await?;
    if n == 0 {
        return Err(Refusal::UserNotFound);
    }
    audit::record(
        &tx,
        &principal,
        "user.delete",
        &user_id,
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    state.sessions.forget_user(&user_id);
    Ok(Json(Deleted {
        user_id,
        deleted: true,
    }))
}

/// Applies `set` (an SQL assignment list over `$3…`) to the caller's company's `user_id`,
/// audits `action`, and answers the user as it is now.
async fn update(
    state: &AppState,
    principal: &Principal,
    user_id: &str,
    set: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    action: &str,
    detail: serde_json::Value,
) -> Result<UserView, Refusal> {
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let company = principal.company.as_str();
    let mut all: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&company, &user_id];
    all.extend_from_slice(params);
    let n = tx
        .execute(
            &format!("UPDATE users SET {set} WHERE company_code = $1 AND user_id = $2"),
            &all,
        )
        .await?;
    if n == 0 {
        return Err(Refusal::UserNotFound);
    }
    audit::record(&tx, principal, action, user_id, detail).await?;
    let user = fetch(&tx, principal, user_id).await?;
    tx.commit().await?;
    state.sessions.forget_user(user_id);
    Ok(user)
}

/// ロック解除: unlocks an account locked by failed logins.
#[utoipa::path(post, path = "/api/v1/admin/users/{user_id}/unlock", tag = "管理者機能",
    params(("user_id" = String, Path, description = "ユーザID")),
    responses(
        (status = 200, description = "Unlocked", body = UserView),
        (status = 403, description = "administrator_required", body = super::error::ErrorBody),
        (status = 404, description = "user_not_found", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn unlock(
    State(state): State<AppState>,
    principal: Principal,
    Path(user_id): Path<String>,
) -> Result<Json<UserView>, Refusal> {
    require_admin(&principal)?;
    let user = update(
        &state,
        &principal,
        &user_id,
        "locked = false, failed_logins = 0",
        &[],
        "user.unlock",
        serde_json::json!({}),
    )
    .await?;
    Ok(Json(user))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnabledBody {
    enabled: bool,
}

/// 有効/無効切替: enables or disables an account (a disabled one cannot log in, its sessions
/// end). Enabling counts as use for the automatic disabling of unused accounts.
#[utoipa::path(post, path = "/api/v1/admin/users/{user_id}/enabled", tag = "管理者機能",
    params(("user_id" = String, Path, description = "ユーザID")),
    request_body = EnabledBody,
    responses(
        (status = 200, description = "Done", body = UserView),
        (status = 403, description = "administrator_required", body = super::error::ErrorBody),
        (status = 404, description = "user_not_found", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn set_enabled(
    State(state): State<AppState>,
    principal: Principal,
    Path(user_id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<UserView>, Refusal> {
    require_admin(&principal)?;
    let body: EnabledBody = super::error::parse_json(&body)?;
    if !body.enabled && user_id == principal.user_id {
        return Err(Refusal::invalid(
            "enabled",
            "cannot_disable_self",
            "自分自身は無効にできません",
            "an administrator cannot disable itself",
        ));
    }
    let disabled = !body.enabled;
    let user = update(
        &state,
        &principal,
        &user_id,
        "disabled = $3, enabled_at = CASE WHEN $3 THEN enabled_at ELSE now() END",
        &[&disabled],
        if body.enabled {
            "user.enable"
        } else {
            "user.disable"
        },
        serde_json::json!({}),
    )
    .await?;
    if disabled {
        state
            .pool
            .get()
            .await?
            .execute("DELETE FROM sessions WHERE user_id = $1", &[&user_id])
            .await?;
    }
    Ok(Json(user))
}

/// パスワード再発行: sets a new random initial password (to be changed at the next login),
/// unlocks the account, and mails the password to the user.
#[utoipa::path(post, path = "/api/v1/admin/users/{user_id}/password-reissue", tag = "管理者機能",
    params(("user_id" = String, Path, description = "ユーザID")),
    responses(
        (status = 200, description = "Reissued; the password was mailed", body = UserView),
        (status = 403, description = "administrator_required", body = super::error::ErrorBody),
        (status = 404, description = "user_not_found", body = super::error::ErrorBody),
        (status = 503, description = "mail_unavailable: nothing was changed", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn reissue_password(
    State(state): State<AppState>,
    principal: Principal,
    Path(user_id): Path<String>,
) -> Result<Json<UserView>, Refusal> {
    require_admin(&principal)?;
    let password = accounts::initial_password();
    let hash = hash(password.clone()).await?;
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let n = tx
        .execute(
            "UPDATE users SET password_hash = $3, must_change_password = true, locked = false,
                              failed_logins = 0
             WHERE company_code = $1 AND user_id = $2",
            &[&principal.company.as_str(), &user_id, &hash],
        )
        .await?;
    if n == 0 {
        return Err(Refusal::UserNotFound);
    }
    tx.execute(
        "INSERT INTO password_history (user_id, password_hash) VALUES ($1, $2)",
        &[&user_id, &hash],
    )
    .await?;
    audit::record(
        &tx,
        &principal,
        "user.password_reissue",
        &user_id,
        serde_json::json!({}),
    )
    .await?;
    let user = fetch(&tx, &principal, &user_id).await?;
    let (subject, text) =
        mail::reissued(principal.company.as_str(), &user_id, &user.name, &password);
    send(&state, &user.mail, &subject, text).await?;
    tx.commit().await?;
    state.sessions.forget_user(&user_id);
    Ok(Json(user))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PermissionsBody {
    /// The function slugs the user may call (each allowed to the registration's kind).
    functions: Vec<String>,
}

/// 利用者権限設定: the functions the user may call, within what the registration's kind allows.
#[utoipa::path(put, path = "/api/v1/admin/users/{user_id}/permissions", tag = "管理者機能",
    params(("user_id" = String, Path, description = "ユーザID")),
    request_body = PermissionsBody,
    responses(
        (status = 200, description = "Set", body = UserView),
        (status = 403, description = "administrator_required", body = super::error::ErrorBody),
        (status = 404, description = "user_not_found", body = super::error::ErrorBody),
        (status = 422, description = "unknown_function, permission_not_allowed_for_kind", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn set_permissions(
    State(state): State<AppState>,
    principal: Principal,
    Path(user_id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<UserView>, Refusal> {
    require_admin(&principal)?;
    let body: PermissionsBody = super::error::parse_json(&body)?;
    let functions = slugs(&permissions_of(principal.kind, &body.functions)?);
    let user = update(
        &state,
        &principal,
        &user_id,
        "permissions = $3",
        &[&functions],
        "user.permissions",
        serde_json::json!({ "functions": functions }),
    )
    .await?;
    Ok(Json(user))
}
