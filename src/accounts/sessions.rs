//! Sessions: who is calling (the principal a bearer token stands for), reading it from a token,
//! the cache of recent sessions, and ending sessions — the one place that revokes.
//!
//! Revocation reaches every process from here: a cached session is trusted for at most
//! [`TRUST`], then its row is read again. Whatever changed the user or its sessions (this
//! process, another API process, the CLI, a job, plain SQL) is therefore honoured by every
//! process within [`TRUST`] plus one query, without any process telling the others. An active
//! token costs one indexed query per [`TRUST`], none per call in between.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use sha2::{Digest, Sha256};

use super::Accounts;
use crate::audit::Actor;
use crate::domain::{CompanyCode, CompanyKind, CorporateNumber, Function, Refusal};

/// The client certificate a call came with: the company of its common name (if it names one)
/// and its SHA-256 fingerprint.
#[derive(Debug, Clone, Copy)]
pub struct Presented<'a> {
    pub company: Option<&'a CompanyCode>,
    pub fingerprint: &'a str,
}

impl<'a> Presented<'a> {
    /// The fingerprint, when the certificate is `company`'s; a certificate of another company
    /// (or none) is refused.
    pub(super) fn of(cert: Option<Self>, company: &CompanyCode) -> Result<&'a str, Refusal> {
        match cert {
            Some(c) if c.company == Some(company) => Ok(c.fingerprint),
            _ => Err(Refusal::CertificateMismatch),
        }
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: String,
    pub company: CompanyCode,
    /// The registration's kind, which caps the functions its users may call.
    pub kind: CompanyKind,
    pub expires_at: DateTime<Utc>,
    /// The registration's administrator.
    pub administrator: bool,
    /// Still on an initial password: every call but changing it is refused.
    pub must_change_password: bool,
    /// The functions the user may call; `None`: all the registration's kind allows.
    pub permissions: Option<Vec<Function>>,
    /// The contractor (受託者) the user works for: it acts for the registration, and what it
    /// does counts as the registration's (terms 2.3); the audit trail names it.
    pub contractor: Option<CorporateNumber>,
    /// The SHA-256 fingerprint of the client certificate of this call (set per call).
    pub certificate: String,
    /// The session this call came with (the SHA-256 of its token), so it can be ended, or kept
    /// while the user's others are.
    session: SessionKey,
}

/// The SHA-256 of a session's token: what `sessions` keys it by. Never the token itself.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SessionKey([u8; 32]);

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(..)")
    }
}

impl Principal {
    /// Whether the user's own permissions (not the kind's cap) let it call `function`.
    pub fn permitted(&self, function: Function) -> bool {
        self.permissions
            .as_ref()
            .is_none_or(|allowed| allowed.contains(&function))
    }
}

/// The principal a job acts as when it carries on what `user_id` of `company` started with
/// the certificate `certificate` (a confirmed bulk batch filed row by row): the user as it is
/// now, so a user disabled, deleted or narrowed meanwhile is refused as it would be at the API.
pub async fn acting_user(
    client: &impl GenericClient,
    company: &CompanyCode,
    user_id: &str,
    certificate: &str,
) -> Result<Principal, Refusal> {
    let row = client
        .query_opt(
            "SELECT c.kind, u.administrator, u.permissions, u.contractor, u.disabled
             FROM users u JOIN companies c USING (company_code)
             WHERE u.user_id = $1 AND u.company_code = $2",
            &[&user_id, &company.as_str()],
        )
        .await?
        .ok_or(Refusal::UserNotFound)?;
    if row.get::<_, bool>(4) {
        return Err(Refusal::AccountDisabled);
    }
    let permissions = row
        .get::<_, Option<Vec<String>>>(2)
        .map(|slugs| slugs.iter().filter_map(|s| s.parse().ok()).collect());
    Ok(Principal {
        user_id: user_id.to_string(),
        company: company.clone(),
        kind: CompanyKind::parse(row.get(0))
            .ok_or_else(|| Refusal::Internal(anyhow::anyhow!("unknown company kind")))?,
        expires_at: Utc::now() + chrono::Duration::hours(1),
        administrator: row.get(1),
        must_change_password: false,
        permissions,
        contractor: contractor_of(row.get(3))?,
        certificate: certificate.to_string(),
        session: SessionKey([0; 32]),
    })
}

/// How long a cached session is trusted before its row is read again: the most any process
/// honours a session after it was ended, or its user disabled, deleted, demoted or narrowed,
/// by whatever means (well within the 2 s the security review asks for).
pub const TRUST: Duration = Duration::from_secs(1);

/// Sessions read recently, by the SHA-256 of their token, each with when it was read, so a
/// call does not cost a query; an entry older than [`TRUST`] is not returned.
pub struct SessionCache(quick_cache::sync::Cache<[u8; 32], (Principal, Instant)>);

impl SessionCache {
    pub fn new() -> Self {
        SessionCache(quick_cache::sync::Cache::new(100_000))
    }

    /// The session of `digest`, if read within the last [`TRUST`].
    pub fn get(&self, digest: &[u8; 32]) -> Option<Principal> {
        self.0
            .get(digest)
            .filter(|(_, read)| read.elapsed() < TRUST)
            .map(|(p, _)| p)
    }

    /// Keeps `principal` as just read.
    pub fn insert(&self, digest: [u8; 32], principal: Principal) {
        self.0.insert(digest, (principal, Instant::now()));
    }

    pub fn remove(&self, digest: &[u8; 32]) {
        self.0.remove(digest);
    }

    /// Drops the cached sessions of `user_id`, so the next request reads them again (after its
    /// password, permissions or state changed).
    pub fn forget_user(&self, user_id: &str) {
        self.0.retain(|_, (p, _)| p.user_id != user_id);
    }
}

impl Default for SessionCache {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> From<&'a Principal> for Actor<'a> {
    fn from(p: &'a Principal) -> Self {
        Actor {
            company: p.company.as_str(),
            user: &p.user_id,
            contractor: p.contractor.as_ref().map(|c| c.as_str()),
            certificate: Some(&p.certificate),
        }
    }
}

/// The SHA-256 of a bearer token: what `sessions` keeps, never the token itself.
pub(super) fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A stored 法人番号 of a contractor.
pub(super) fn contractor_of(stored: Option<String>) -> Result<Option<CorporateNumber>, Refusal> {
    stored
        .map(|c| CorporateNumber::parse(&c))
        .transpose()
        .map_err(|e| Refusal::Internal(e.into()))
}

/// Ends every session of `user_id` in the caller's transaction; the caller forgets the cached
/// ones once committed ([`Accounts::forget`]); other processes stop honouring them within
/// [`TRUST`].
pub(super) async fn end_sessions(
    client: &impl GenericClient,
    user_id: &str,
) -> Result<(), Refusal> {
    client
        .execute("DELETE FROM sessions WHERE user_id = $1", &[&user_id])
        .await?;
    Ok(())
}

/// Ends every session of `p`'s user but the one `p` came with (after a password change), in the
/// caller's transaction; the caller forgets the cached ones once committed.
pub(super) async fn end_other_sessions(
    client: &impl GenericClient,
    p: &Principal,
) -> Result<(), Refusal> {
    client
        .execute(
            "DELETE FROM sessions WHERE user_id = $1 AND token_sha256 <> $2",
            &[&p.user_id, &p.session.0.as_slice()],
        )
        .await?;
    Ok(())
}

impl Accounts {
    /// Who `token` stands for, on a call with `cert`. `changing_password`: the call is the
    /// password change, the one call open to a user still on an initial password. The
    /// registration gate is checked on every call (cached ≤ 1 s), so a suspension holds at
    /// once whatever the session cache says.
    pub async fn authenticate(
        &self,
        token: &str,
        cert: Option<Presented<'_>>,
        changing_password: bool,
    ) -> Result<Principal, Refusal> {
        let digest = digest(token.trim());
        let mut principal = match self.sessions.get(&digest) {
            Some(p) => p,
            None => match self.load_session(&digest).await {
                Ok(p) => {
                    self.sessions.insert(digest, p.clone());
                    p
                }
                Err(refusal) => {
                    // Ended, or its user disabled or deleted: drop the stale entry too.
                    self.sessions.remove(&digest);
                    return Err(refusal);
                }
            },
        };
        if principal.expires_at < Utc::now() {
            self.sessions.remove(&digest);
            return Err(Refusal::Unauthenticated);
        }
        let fingerprint = Presented::of(cert, &principal.company)?;
        self.gate
            .check(
                &self.pool,
                &principal.company,
                principal.contractor.as_ref(),
                fingerprint,
            )
            .await?;
        principal.certificate = fingerprint.to_string();
        if principal.must_change_password && !changing_password {
            return Err(Refusal::PasswordChangeRequired);
        }
        Ok(principal)
    }

    async fn load_session(&self, digest: &[u8; 32]) -> Result<Principal, Refusal> {
        let row = self
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
            session: SessionKey(*digest),
        })
    }

    /// ログアウト: ends the session `principal` came with, on every process (within [`TRUST`]
    /// elsewhere, at once here).
    pub async fn logout(&self, principal: &Principal) -> Result<(), Refusal> {
        self.pool
            .get()
            .await?
            .execute(
                "DELETE FROM sessions WHERE token_sha256 = $1",
                &[&principal.session.0.as_slice()],
            )
            .await?;
        self.sessions.remove(&principal.session.0);
        Ok(())
    }

    /// Idle expiry (the web's cookie sessions): moves the end of the session `principal` came
    /// with to `idle` from now, never past `session_ttl` after it opened. A session left alone
    /// for `idle` is then refused by every process, as an ended one is.
    pub async fn keep_alive(
        &self,
        principal: &Principal,
        idle: chrono::Duration,
    ) -> Result<(), Refusal> {
        self.pool
            .get()
            .await?
            .execute(
                "UPDATE sessions
                 SET expires_at = LEAST(now() + make_interval(secs => $2),
                                        opened_at + make_interval(secs => $3))
                 WHERE token_sha256 = $1",
                &[
                    &principal.session.0.as_slice(),
                    &(idle.num_seconds() as f64),
                    &(self.session_ttl.num_seconds() as f64),
                ],
            )
            .await?;
        self.sessions.remove(&principal.session.0);
        Ok(())
    }

    /// Drops this process's cached sessions of `user_id` after a change to it was committed,
    /// so the next call reads them again.
    pub(super) fn forget(&self, user_id: &str) {
        self.sessions.forget_user(user_id);
    }
}
