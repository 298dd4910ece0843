//! Accounts: every rule and every statement about registrations (companies), their users,
//! sessions, passwords, contractors, client certificates and maintenance windows. The API, the
//! web, a bulk CSV row, the CLI and the jobs all call these functions; none of them writes
//! these tables itself.

pub mod access;
pub mod administration;
pub mod bulk;
pub mod certificates;
pub mod contractors;
pub mod enrolment;
pub mod gate;
pub mod login;
pub mod maintenance;
pub mod operators;
pub mod passwords;
pub mod processes;
pub mod registrations;
pub mod sessions;
pub mod users;

use std::sync::Arc;

use deadpool_postgres::Pool;

pub use crate::domain::{CompanyKind, PasswordPolicy, PolicyViolation};
pub use administration::{UserChange, require_admin};
pub use contractors::{Contractor, corporate_number};
pub use enrolment::UserRequest;
pub use login::Session;
pub use passwords::{hash_password, initial_password, verify_password};
pub use sessions::{Presented, Principal, SessionCache};
pub use users::{NewUser, User, disable_unused, run_disable_job};

use crate::config::Settings;
use crate::mail::Mailer;

/// The accounts service: one per process, shared by every front end. It holds what the rules
/// need from the settings, so a password is checked by the same configured policy whether it
/// comes from the API, the CLI or a test.
pub struct Accounts {
    pool: Pool,
    policy: PasswordPolicy,
    /// The last this many passwords of a user cannot be chosen again.
    password_history: usize,
    /// Failed logins in a row that lock an account.
    lockout_after: i32,
    session_ttl: chrono::Duration,
    /// Sessions read recently, each trusted for at most a second; a change to a user made here
    /// clears its own at once (`forget`).
    sessions: SessionCache,
    /// Registration status and client certificates, cached for at most a second.
    gate: gate::Gate,
    /// Mail to users (initial passwords, notices of a change).
    mailer: Arc<Mailer>,
    /// Logins per user id and per client certificate (this process's share).
    login_rate: login::LoginRate,
}

impl Accounts {
    pub fn new(settings: &Settings, pool: Pool) -> Self {
        Accounts {
            pool,
            policy: settings.password_policy(),
            password_history: settings.password_history.max(1),
            lockout_after: settings.lockout_after,
            session_ttl: chrono::Duration::seconds(settings.session_ttl_secs as i64),
            sessions: SessionCache::new(),
            gate: gate::Gate::new(),
            mailer: Arc::new(Mailer::new(settings)),
            login_rate: login::LoginRate::new(
                settings.login_per_user_per_min,
                settings.login_per_certificate_per_min,
            ),
        }
    }

    /// `peers` API processes share the login rates from now on (each takes 1/`peers`); the
    /// heartbeat of `api::limits` tells it, as it tells the registration rate limit.
    pub fn set_login_peers(&self, peers: u32) {
        self.login_rate.set_peers(peers);
    }

    /// How many recent passwords a new one must differ from.
    pub fn password_history(&self) -> usize {
        self.password_history
    }
}
