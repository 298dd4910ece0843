//! Accounts: every rule and every statement about registrations (companies), their users,
//! sessions, passwords, contractors, client certificates and maintenance windows. The API, the
//! web, a bulk CSV row, the CLI and the jobs all call these functions; none of them writes
//! these tables itself.

pub mod passwords;
pub mod registrations;
pub mod sessions;
pub mod users;

pub use crate::domain::{CompanyKind, PasswordPolicy, PolicyViolation};
pub use passwords::{hash_password, initial_password, verify_password};
pub use sessions::{Principal, SessionCache};
pub use users::{
    NewUser, create_user, create_user_with, disable_unused, run_disable_job, upsert_company,
};

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    WeakPassword(PolicyViolation),
    #[error("user {0} exists already")]
    DuplicateUser(String),
    #[error("company {0} is not registered")]
    UnknownCompany(String),
    #[error("hashing: {0}")]
    Hash(String),
    #[error(transparent)]
    Db(#[from] tokio_postgres::Error),
    #[error(transparent)]
    Pool(#[from] deadpool_postgres::PoolError),
}
