//! Sessions: who is calling (the principal a bearer token stands for), reading it from a token,
//! the cache of recent sessions, and ending a user's sessions — the one place that revokes, so
//! revocation can later reach other processes from here alone.

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
}

impl Principal {
    /// Whether the user's own permissions (not the kind's cap) let it call `function`.
    pub fn permitted(&self, function: Function) -> bool {
        self.permissions
            .as_ref()
            .is_none_or(|allowed| allowed.contains(&function))
    }
}

/// Sessions read recently, by the SHA-256 of their token, so a call does not cost a query.
pub struct SessionCache(quick_cache::sync::Cache<[u8; 32], Principal>);

impl SessionCache {
    pub fn new() -> Self {
        SessionCache(quick_cache::sync::Cache::new(100_000))
    }

    pub fn get(&self, digest: &[u8; 32]) -> Option<Principal> {
        self.0.get(digest)
    }

    pub fn insert(&self, digest: [u8; 32], principal: Principal) {
        self.0.insert(digest, principal);
    }

    pub fn remove(&self, digest: &[u8; 32]) {
        self.0.remove(digest);
    }

    /// Drops the cached sessions of `user_id`, so the next request reads them again (after its
    /// password, permissions or state changed).
    pub fn forget_user(&self, user_id: &str) {
        self.0.retain(|_, p| p.user_id != user_id);
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
/// ones once committed ([`Accounts::forget`]).
pub(super) async fn end_sessions(
    client: &impl GenericClient,
    user_id: &str,
) -> Result<(), Refusal> {
    client
        .execute("DELETE FROM sessions WHERE user_id = $1", &[&user_id])
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
            None => {
                let p = self.load_session(&digest).await?;
                self.sessions.insert(digest, p.clone());
                p
            }
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
        })
    }

    /// Drops this process's cached sessions of `user_id` after a change to it was committed,
    /// so the next call reads them again.
    pub(super) fn forget(&self, user_id: &str) {
        self.sessions.forget_user(user_id);
    }
}
