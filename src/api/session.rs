//! Login (`POST /api/v1/session`) and the bearer token that authenticates every later call.
//!
//! The password is checked once, with argon2, at login; later requests present a random token
//! whose SHA-256 is looked up in a small in-process cache before the database, so the API is not
//! capped by argon2's deliberate slowness.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::AppState;
use super::tls::ClientIdentity;
use crate::accounts::{self, Principal};
use crate::domain::Refusal;
use crate::domain::{CompanyCode, CompanyKind, CorporateNumber};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LoginBody {
    user_id: String,
    password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LoginAnswer {
    token: String,
    token_type: &'static str,
    expires_at: DateTime<Utc>,
    user_id: String,
    company_code: String,
}

/// ログイン: checks the password once (argon2) and returns a bearer token.
#[utoipa::path(post, path = "/api/v1/session", tag = "ログイン", request_body = LoginBody,
    responses(
        (status = 200, description = "The token for every later call", body = LoginAnswer),
        (status = 401, description = "invalid_credentials, account_locked (after `lockout_after` failures in a row, until the administrator unlocks it), account_disabled", body = super::error::ErrorBody),
    ))]
pub async fn login(
    State(state): State<AppState>,
    identity: Option<axum::Extension<ClientIdentity>>,
    body: axum::body::Bytes,
) -> Result<Json<LoginAnswer>, Refusal> {
    let body: LoginBody = super::error::parse_json(&body)?;
    let client = state.pool.get().await?;
    let row = client
        .query_opt(
            "SELECT company_code, password_hash, locked, disabled, contractor
             FROM users WHERE user_id = $1",
            &[&body.user_id],
        )
        .await?;
    let Some(row) = row else {
        // Spend the same time as a real check, so a missing user is not told apart by timing.
        let _ = tokio::task::spawn_blocking(|| accounts::verify_password("x", &DUMMY_HASH)).await;
        return Err(Refusal::InvalidCredentials);
    };
    let (company, hash, locked, disabled): (String, String, bool, bool) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    let contractor = contractor_of(row.get(4))?;
    let password = body.password;
    let ok = tokio::task::spawn_blocking(move || accounts::verify_password(&password, &hash))
        .await
        .map_err(|e| Refusal::Internal(e.into()))?;
    if !ok {
        // Failures in a row lock the account; the lock and the state are told only to whoever
        // knows the password, so a wrong guess never learns more than "wrong".
        if !locked {
            client
                .execute(
                    "UPDATE users SET failed_logins = failed_logins + 1,
                                      locked = failed_logins + 1 >= $2
                     WHERE user_id = $1",
                    &[&body.user_id, &state.settings.lockout_after],
                )
                .await?;
        }
        return Err(Refusal::InvalidCredentials);
    }
    if locked {
        return Err(Refusal::AccountLocked);
    }
    if disabled {
        return Err(Refusal::AccountDisabled);
    }
    let company = CompanyCode::parse(&company).map_err(|e| Refusal::Internal(e.into()))?;
    let identity = match identity.as_ref() {
        Some(id) if id.company.as_ref() == Some(&company) => &id.0,
        _ => return Err(Refusal::CertificateMismatch),
    };
    // The registration is active, this certificate is registered to it and valid now, and the
    // user's contractor (if any) is still authorised.
    state
        .gate
        .check(&state.pool, &company, contractor.as_ref(), identity)
        .await?;
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let token = URL_SAFE_NO_PAD.encode(raw);
    let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    let expires_at = Utc::now() + chrono::Duration::seconds(state.settings.session_ttl_secs as i64);
    client
        .execute(
            "INSERT INTO sessions (token_sha256, user_id, company_code, expires_at) VALUES ($1, $2, $3, $4)",
            &[&digest.as_slice(), &body.user_id, &company.as_str(), &expires_at],
        )
        .await?;
    client
        .execute(
            "UPDATE users SET last_login_at = now(), failed_logins = 0 WHERE user_id = $1",
            &[&body.user_id],
        )
        .await?;
    Ok(Json(LoginAnswer {
        token,
        token_type: "Bearer",
        expires_at,
        user_id: body.user_id,
        company_code: company.to_string(),
    }))
}

/// An argon2 hash of a random secret, so that refusing an unknown user costs a real check.
static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let mut secret = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    accounts::hash_password(&hex::encode(secret)).unwrap_or_default()
});

impl FromRequestParts<AppState> for Principal {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Refusal> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(Refusal::Unauthenticated)?;
        let digest: [u8; 32] = Sha256::digest(token.trim().as_bytes()).into();
        let mut principal = match state.sessions.get(&digest) {
            Some(p) => p,
            None => {
                let p = load_session(state, &digest).await?;
                state.sessions.insert(digest, p.clone());
                p
            }
        };
        if principal.expires_at < Utc::now() {
            state.sessions.remove(&digest);
            return Err(Refusal::Unauthenticated);
        }
        let identity = match parts.extensions.get::<ClientIdentity>() {
            Some(id) if id.company.as_ref() == Some(&principal.company) => id,
            _ => return Err(Refusal::CertificateMismatch),
        };
        // Checked on every call (cached ≤ 1 s), so a suspension holds at once whatever the
        // session cache says.
        state
            .gate
            .check(
                &state.pool,
                &principal.company,
                principal.contractor.as_ref(),
                identity,
            )
            .await?;
        principal.certificate.clone_from(&identity.fingerprint);
        if principal.must_change_password && parts.uri.path() != CHANGE_PASSWORD_PATH {
            return Err(Refusal::PasswordChangeRequired);
        }
        Ok(principal)
    }
}

async fn load_session(state: &AppState, digest: &[u8; 32]) -> Result<Principal, Refusal> {
    let row = state
        .pool
        .get()
        .await?
        .query_opt(
            "SELECT s.user_id, s.company_code, s.expires_at, c.kind,
                    u.administrator, u.must_change_password, u.permissions, u.contractor
             FROM sessions s JOIN companies c USING (company_code)
                  JOIN users u ON u.user_id = s.user_id
             WHERE s.token_sha256 = $1 AND NOT u.disabled",
            &[&digest.as_slice()],
        )
        .await?
        .ok_or(Refusal::Unauthenticated)?;
    let company: String = row.get(1);
    let permissions = row
        .get::<_, Option<Vec<String>>>(6)
        .map(|slugs| slugs.iter().filter_map(|s| s.parse().ok()).collect());
    Ok(Principal {
        user_id: row.get(0),
        company: CompanyCode::parse(&company).map_err(|e| Refusal::Internal(e.into()))?,
        expires_at: row.get(2),
        kind: CompanyKind::parse(row.get(3))
            .ok_or_else(|| Refusal::Internal(anyhow::anyhow!("unknown company kind")))?,
        administrator: row.get(4),
        must_change_password: row.get(5),
        permissions,
        contractor: contractor_of(row.get(7))?,
        certificate: String::new(),
    })
}

fn contractor_of(stored: Option<String>) -> Result<Option<CorporateNumber>, Refusal> {
    stored
        .map(|c| CorporateNumber::parse(&c))
        .transpose()
        .map_err(|e| Refusal::Internal(e.into()))
}

/// The one call open to a user still on an initial password.
pub const CHANGE_PASSWORD_PATH: &str = "/api/v1/session/password";

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ChangePasswordBody {
    old_password: String,
    new_password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PasswordChanged {
    user_id: String,
    changed: bool,
}

/// パスワード変更: the caller changes its own password (the old one, then the new one). The
/// new one must meet the policy and differ from the last `password_history` ones; an initial
/// password must be changed this way before any other call.
#[utoipa::path(post, path = "/api/v1/session/password", tag = "ログイン",
    request_body = ChangePasswordBody,
    responses(
        (status = 200, description = "Changed", body = PasswordChanged),
        (status = 401, description = "unauthenticated", body = super::error::ErrorBody),
        (status = 422, description = "wrong_old_password, weak_password, password_reused", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn change_password(
    State(state): State<AppState>,
    principal: Principal,
    body: axum::body::Bytes,
) -> Result<Json<PasswordChanged>, Refusal> {
    let body: ChangePasswordBody = super::error::parse_json(&body)?;
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let current: String = tx
        .query_one(
            "SELECT password_hash FROM users WHERE user_id = $1 AND company_code = $2 FOR UPDATE",
            &[&principal.user_id, &principal.company.as_str()],
        )
        .await?
        .get(0);
    let old = body.old_password;
    let ok = tokio::task::spawn_blocking(move || accounts::verify_password(&old, &current))
        .await
        .map_err(|e| Refusal::Internal(e.into()))?;
    if !ok {
        return Err(Refusal::invalid(
            "old_password",
            "wrong_old_password",
            "現在のパスワードが正しくありません",
            "the old password is wrong",
        ));
    }
    state
        .settings
        .password_policy()
        .check(&body.new_password)
        .map_err(|v| {
            Refusal::invalid(
                "new_password",
                "weak_password",
                v.message_ja(),
                v.to_string(),
            )
        })?;
    let history = state.settings.password_history.max(1);
    let recent: Vec<String> = tx
        .query(
            "SELECT password_hash FROM password_history WHERE user_id = $1 ORDER BY id DESC LIMIT $2",
            &[&principal.user_id, &(history as i64)],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let new = body.new_password;
    let (reused, hash) = tokio::task::spawn_blocking(move || {
        let reused = recent.iter().any(|h| accounts::verify_password(&new, h));
        (reused, accounts::hash_password(&new))
    })
    .await
    .map_err(|e| Refusal::Internal(e.into()))?;
    if reused {
        return Err(Refusal::invalid(
            "new_password",
            "password_reused",
            format!("直近{history}回以内に使用したパスワードは使用できません"),
            format!("the new password was one of the last {history}"),
        ));
    }
    let hash = hash.map_err(|e| Refusal::Internal(e.into()))?;
    tx.execute(
        "UPDATE users SET password_hash = $2, must_change_password = false WHERE user_id = $1",
        &[&principal.user_id, &hash],
    )
    .await?;
    tx.execute(
        "INSERT INTO password_history (user_id, password_hash) VALUES ($1, $2)",
        &[&principal.user_id, &hash],
    )
    .await?;
    tx.execute(
        "DELETE FROM password_history WHERE user_id = $1 AND id NOT IN
           (SELECT id FROM password_history WHERE user_id = $1 ORDER BY id DESC LIMIT $2)",
        &[&principal.user_id, &(history as i64)],
    )
    .await?;
    crate::audit::record(
        &tx,
        &principal,
        "user.password_changed",
        &principal.user_id,
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    state.sessions.forget_user(&principal.user_id);
    Ok(Json(PasswordChanged {
        user_id: principal.user_id,
        changed: true,
    }))
}
