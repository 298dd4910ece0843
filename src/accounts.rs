//! Company registrations and their users: creation, and checking a password at login.
//! Passwords are stored only as argon2 hashes.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use deadpool_postgres::Pool;
use rand::rngs::OsRng;

use crate::domain::{CompanyCode, UserId};

pub use crate::domain::CompanyKind;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("a password has at least 12 characters")]
    WeakPassword,
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

/// Registers a company (idempotent: registering the same code again changes its name).
pub async fn upsert_company(
    pool: &Pool,
    code: &CompanyCode,
    name: &str,
    kind: CompanyKind,
) -> Result<(), AccountError> {
    pool.get()
        .await?
        .execute(
            "INSERT INTO companies (company_code, name, kind) VALUES ($1, $2, $3)
             ON CONFLICT (company_code) DO UPDATE SET name = EXCLUDED.name",
            &[&code.as_str(), &name, &kind.as_str()],
        )
        .await?;
    Ok(())
}

/// Issues a user id to a person of a registered company.
pub async fn create_user(
    pool: &Pool,
    company: &CompanyCode,
    user: &UserId,
    password: &str,
) -> Result<(), AccountError> {
    if password.chars().count() < 12 {
        return Err(AccountError::WeakPassword);
    }
    let hash = hash_password(password)?;
    let client = pool.get().await?;
    let known = client
        .query_opt(
            "SELECT 1 FROM companies WHERE company_code = $1",
            &[&company.as_str()],
        )
        .await?;
    if known.is_none() {
        return Err(AccountError::UnknownCompany(company.to_string()));
    }
    let inserted = client
        .execute(
            "INSERT INTO users (user_id, company_code, password_hash) VALUES ($1, $2, $3)
             ON CONFLICT (user_id) DO NOTHING",
            &[&user.as_str(), &company.as_str(), &hash],
        )
        .await?;
    if inserted == 0 {
        return Err(AccountError::DuplicateUser(user.to_string()));
    }
    Ok(())
}

pub fn hash_password(password: &str) -> Result<String, AccountError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AccountError::Hash(e.to_string()))
}

/// Checks a password against a stored hash. Deliberately slow (argon2): call it off the
/// async threads, and only at login.
pub fn verify_password(password: &str, stored_hash: &str) -> bool {
    PasswordHash::new(stored_hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_only_against_its_own_hash() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterY", &h));
        assert!(!verify_password("anything", "not a hash"));
    }
}
