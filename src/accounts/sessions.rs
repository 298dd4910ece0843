//! Sessions: who is calling (the principal a bearer token stands for) and the cache of recent
//! sessions that every change to a user must clear.

use chrono::{DateTime, Utc};

use crate::audit::Actor;
use crate::domain::{CompanyCode, CompanyKind, CorporateNumber, Function};

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
