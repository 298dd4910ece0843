//! Login (`POST /api/v1/session`), the bearer token that authenticates every later call, logout
//! (`DELETE /api/v1/session`) and changing one's password, over HTTP. The password is checked once, with argon2, at login;
//! later calls present a random token that `accounts` reads (cached) into the caller.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::ErrorBody;
use super::extract::Body;
use super::tls::ClientIdentity;
use crate::accounts::{Presented, Principal};
use crate::domain::Refusal;

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

/// The client certificate of the call, as `accounts` reads it.
fn presented(identity: Option<&ClientIdentity>) -> Option<Presented<'_>> {
    identity.map(|id| Presented {
        company: id.company.as_ref(),
        fingerprint: &id.fingerprint,
    })
}

/// ログイン: checks the password once (argon2) and returns a bearer token.
#[utoipa::path(post, path = "/api/v1/session", tag = "ログイン", request_body = LoginBody,
    responses(
        (status = 200, description = "The token for every later call", body = LoginAnswer),
        (status = 401, description = "invalid_credentials, account_locked (after `lockout_after` failures in a row, until the administrator unlocks it), account_disabled", body = ErrorBody),
    ))]
pub async fn login(
    State(state): State<AppState>,
    identity: Option<axum::Extension<ClientIdentity>>,
    Body(body): Body<LoginBody>,
) -> Result<Json<LoginAnswer>, Refusal> {
    let cert = presented(identity.as_ref().map(|id| &id.0));
    let session = state
        .accounts
        .login(&body.user_id, body.password, cert)
        .await?;
    Ok(Json(LoginAnswer {
        token: session.token,
        token_type: "Bearer",
        expires_at: session.expires_at,
        user_id: session.user_id,
        company_code: session.company.to_string(),
    }))
}

/// ログアウト: ends the session of the bearer token on every API process (the user's other
/// sessions stay). The token is refused afterwards.
#[utoipa::path(delete, path = "/api/v1/session", tag = "ログイン",
    responses(
        (status = 204, description = "Ended"),
        (status = 401, description = "unauthenticated", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn logout(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<StatusCode, Refusal> {
    state.accounts.logout(&principal).await?;
    Ok(StatusCode::NO_CONTENT)
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Refusal> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(Refusal::Unauthenticated)?;
        let cert = presented(parts.extensions.get::<ClientIdentity>());
        let changing_password = parts.uri.path() == CHANGE_PASSWORD_PATH;
        state
            .accounts
            .authenticate(token, cert, changing_password)
            .await
    }
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
        (status = 401, description = "unauthenticated", body = ErrorBody),
        (status = 422, description = "wrong_old_password, weak_password, password_reused", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn change_password(
    State(state): State<AppState>,
    principal: Principal,
    Body(body): Body<ChangePasswordBody>,
) -> Result<Json<PasswordChanged>, Refusal> {
    let (old, new) = (body.old_password, body.new_password);
    state.accounts.change_password(&principal, old, new).await?;
    Ok(Json(PasswordChanged {
        user_id: principal.user_id,
        changed: true,
    }))
}
