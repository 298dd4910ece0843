//! Cookie sessions on the accounts' own session store: the cookie holds the same random token
//! an API login returns, so ending a session (sign-out, a disabled user, a suspended
//! registration) holds for the web on every process exactly as for the API. The cookie is
//! `Secure; HttpOnly; SameSite=Strict` and `__Host-` prefixed; every POST form carries a CSRF
//! token derived from the session's token (SHA-256 of a label and the token), so a page of
//! another site can neither read nor forge it. The sign-in form, before any session, uses a
//! random token in a cookie of its own, checked against the form's copy.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::{Certificate, WebState, page};
use crate::accounts::{Presented, Principal};
use crate::domain::Refusal;

/// The session cookie: the session's token.
pub const SESSION_COOKIE: &str = "__Host-kirikae-session";
/// The sign-in form's CSRF cookie (no session yet).
pub const SIGNIN_COOKIE: &str = "__Host-kirikae-signin";
/// The one screen open to a user still on an initial password.
pub const PASSWORD_PATH: &str = "/web/password";

/// A signed-in user on a screen: who, and the CSRF token its forms must carry.
pub struct Visitor {
    pub principal: Principal,
    pub csrf: String,
    /// The session's token, for a long answer (server-sent events) to authenticate again.
    pub(super) token: String,
}

/// A cookie as every one of ours is set: only over TLS, never to scripts, never cross-site.
pub fn cookie(name: &'static str, value: String) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Strict)
        .build()
}

/// The cookie that removes the session cookie.
pub fn removal() -> Cookie<'static> {
    let mut c = cookie(SESSION_COOKIE, String::new());
    c.make_removal();
    c
}

/// The CSRF token of the session of `token`.
pub fn csrf_of(token: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"kirikae web csrf\0");
    h.update(token.as_bytes());
    hex::encode(h.finalize())
}

/// A fresh random token (the sign-in form's CSRF).
pub fn random_token() -> String {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    hex::encode(raw)
}

/// Whether a form's CSRF token is the expected one (compared in constant time).
pub fn same_token(given: &str, expected: &str) -> bool {
    given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// The certificate of the request, as `accounts` reads it.
pub fn presented(parts: &Parts) -> Option<Presented<'_>> {
    parts.extensions.get::<Certificate>().map(|c| Presented {
        company: c.company.as_ref(),
        fingerprint: &c.fingerprint,
    })
}

impl Visitor {
    /// Whether a POST's form carries this session's CSRF token (else: `page::csrf_refused`).
    pub fn csrf_ok(&self, given: &str) -> bool {
        same_token(given, &self.csrf)
    }
}

impl FromRequestParts<WebState> for Visitor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, Response> {
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(token) = jar.get(SESSION_COOKIE).map(|c| c.value().to_string()) else {
            return Err(Redirect::to("/web/signin").into_response());
        };
        let changing_password = parts.uri.path() == PASSWORD_PATH;
        let cert = presented(parts);
        match state
            .accounts
            .authenticate(&token, cert, changing_password)
            .await
        {
            Ok(principal) => {
                keep_alive(state, &principal)
                    .await
                    .map_err(|r| page::refused(&r))?;
                Ok(Visitor {
                    csrf: csrf_of(&token),
                    principal,
                    token,
                })
            }
            Err(Refusal::Unauthenticated) => {
                Err((jar.add(removal()), Redirect::to("/web/signin?ended=1")).into_response())
            }
            Err(Refusal::PasswordChangeRequired) => {
                Err(Redirect::to(PASSWORD_PATH).into_response())
            }
            Err(refusal) => Err(page::refused(&refusal)),
        }
    }
}

/// Slides the session's end to `idle` from now, unless it is already within a tenth of `idle`
/// (at most a minute) of that: one write a minute at most per busy session.
async fn keep_alive(state: &WebState, principal: &Principal) -> Result<(), Refusal> {
    let target = chrono::Utc::now() + state.idle;
    let slack = (state.idle / 10).min(chrono::Duration::seconds(60));
    if (principal.expires_at - target).abs() <= slack {
        return Ok(());
    }
    state.accounts.keep_alive(principal, state.idle).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csrf_token_is_the_sessions_own_and_not_its_token() {
        let a = csrf_of("token-a");
        assert_eq!(a, csrf_of("token-a"));
        assert_ne!(a, csrf_of("token-b"));
        assert!(!a.contains("token-a"));
        assert!(same_token(&a, &csrf_of("token-a")));
        assert!(!same_token(&a, &csrf_of("token-b")));
        assert!(!same_token("", &a));
    }

    #[test]
    fn every_cookie_is_secure_http_only_and_same_site_strict() {
        let c = cookie(SESSION_COOKIE, "x".into()).to_string();
        assert!(c.contains("Secure"), "{c}");
        assert!(c.contains("HttpOnly"), "{c}");
        assert!(c.contains("SameSite=Strict"), "{c}");
        assert!(c.contains("Path=/"), "{c}");
    }
}
