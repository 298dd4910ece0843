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
use super::error::ApiError;
use super::tls::ClientIdentity;
use crate::accounts;
use crate::domain::{CompanyCode, CompanyKind};

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: String,
    pub company: CompanyCode,
    /// The registration's kind, which caps the functions its users may call.
    pub kind: CompanyKind,
    pub expires_at: DateTime<Utc>,
}

pub struct SessionCache(quick_cache::sync::Cache<[u8; 32], Principal>);

impl SessionCache {
    pub fn new() -> Self {
        SessionCache(quick_cache::sync::Cache::new(100_000))
    }
}

impl Default for SessionCache {
    fn default() -> Self {
        Self::new()
    }
}

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
        (status = 401, description = "invalid_credentials", body = super::error::ErrorBody),
        (status = 403, description = "certificate_company_mismatch", body = super::error::ErrorBody),
    ))]
pub async fn login(
    State(state): State<AppState>,
    identity: Option<axum::Extension<ClientIdentity>>,
    body: axum::body::Bytes,
) -> Result<Json<LoginAnswer>, ApiError> {
    let body: LoginBody =
        serde_json::from_slice(&body).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    let client = state.pool.get().await?;
    let row = client
        .query_opt(
            "SELECT company_code, password_hash, locked FROM users WHERE user_id = $1",
            &[&body.user_id],
        )
        .await?;
    let Some(row) = row else {
        // Spend the same time as a real check, so a missing user is not told apart by timing.
        let _ = tokio::task::spawn_blocking(|| accounts::verify_password("x", &DUMMY_HASH)).await;
        return Err(ApiError::InvalidCredentials);
    };
    let (company, hash, locked): (String, String, bool) = (row.get(0), row.get(1), row.get(2));
    let password = body.password;
    let ok = tokio::task::spawn_blocking(move || accounts::verify_password(&password, &hash))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    if !ok || locked {
        return Err(ApiError::InvalidCredentials);
    }
    let company = CompanyCode::parse(&company).map_err(|e| ApiError::Internal(e.into()))?;
    if identity.as_ref().and_then(|i| i.company.as_ref()) != Some(&company) {
        return Err(ApiError::CertificateMismatch);
    }
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
            "UPDATE users SET last_login_at = now() WHERE user_id = $1",
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
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(ApiError::Unauthenticated)?;
        let digest: [u8; 32] = Sha256::digest(token.trim().as_bytes()).into();
        let principal = match state.sessions.0.get(&digest) {
            Some(p) => p,
            None => {
                let p = load_session(state, &digest).await?;
                state.sessions.0.insert(digest, p.clone());
                p
            }
        };
        if principal.expires_at < Utc::now() {
            state.sessions.0.remove(&digest);
            return Err(ApiError::Unauthenticated);
        }
        let identity = parts.extensions.get::<ClientIdentity>();
        if identity.and_then(|i| i.company.as_ref()) != Some(&principal.company) {
            return Err(ApiError::CertificateMismatch);
        }
        Ok(principal)
    }
}

async fn load_session(state: &AppState, digest: &[u8; 32]) -> Result<Principal, ApiError> {
    let row = state
        .pool
        .get()
        .await?
        .query_opt(
            "SELECT s.user_id, s.company_code, s.expires_at, c.kind
             FROM sessions s JOIN companies c USING (company_code)
             WHERE s.token_sha256 = $1",
            &[&digest.as_slice()],
        )
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    let company: String = row.get(1);
    Ok(Principal {
        user_id: row.get(0),
        company: CompanyCode::parse(&company).map_err(|e| ApiError::Internal(e.into()))?,
        expires_at: row.get(2),
        kind: CompanyKind::parse(row.get(3))
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("unknown company kind")))?,
    })
}
