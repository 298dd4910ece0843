//! Company registrations and their users: creation, the password policy, and checking a
//! password at login. Passwords are stored only as argon2 hashes (the current one and, in
//! `password_history`, the last few, so they are not chosen again).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use deadpool_postgres::Pool;
use rand::Rng;
use rand::rngs::OsRng;
use rand::seq::SliceRandom;

use crate::domain::{CompanyCode, UserId};

pub use crate::domain::CompanyKind;

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

/// How a user is created besides its id and password.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    /// The natural person the id is issued to.
    pub name: String,
    pub mail: String,
    /// The registration's administrator (issues and administers its users).
    pub administrator: bool,
    /// The password is an initial one: every call but changing it is refused until it is.
    pub must_change_password: bool,
}

/// Issues a user id to a person of a registered company, its password already chosen (not an
/// initial one); see [`create_user_with`].
pub async fn create_user(
    pool: &Pool,
    company: &CompanyCode,
    user: &UserId,
    password: &str,
) -> Result<(), AccountError> {
    create_user_with(pool, company, user, password, &NewUser::default()).await
}

/// Issues a user id to a person of a registered company (the hub operator's CLI, `up`, the
/// tests; administrators issue theirs over the API). The password must meet the default policy.
pub async fn create_user_with(
    pool: &Pool,
    company: &CompanyCode,
    user: &UserId,
    password: &str,
    new: &NewUser,
) -> Result<(), AccountError> {
    PasswordPolicy::default()
        .check(password)
        .map_err(AccountError::WeakPassword)?;
    let hash = hash_password(password)?;
    let mut client = pool.get().await?;
    let client = client.transaction().await?;
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
            "INSERT INTO users (user_id, company_code, password_hash, name, mail, administrator,
                                must_change_password)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (user_id) DO NOTHING",
            &[
                &user.as_str(),
                &company.as_str(),
                &hash,
                &new.name,
                &new.mail,
                &new.administrator,
                &new.must_change_password,
            ],
        )
        .await?;
    if inserted == 0 {
        return Err(AccountError::DuplicateUser(user.to_string()));
    }
    client
        .execute(
            "INSERT INTO password_history (user_id, password_hash) VALUES ($1, $2)",
            &[&user.as_str(), &hash],
        )
        .await?;
    client.commit().await?;
    Ok(())
}

/// The rules a new password must meet (settings `password_min_length`, `password_min_classes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub min_length: usize,
    pub min_classes: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_length: 12,
            min_classes: 3,
        }
    }
}

/// Why a password is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyViolation {
    #[error("a password has at least {0} characters")]
    TooShort(usize),
    #[error("a password mixes at least {0} of: upper case, lower case, digits, symbols")]
    TooFewClasses(usize),
}

impl PolicyViolation {
    pub fn message_ja(&self) -> String {
        match self {
            PolicyViolation::TooShort(n) => format!("パスワードは{n}文字以上にしてください"),
            PolicyViolation::TooFewClasses(n) => format!(
                "パスワードには英大文字・英小文字・数字・記号のうち{n}種類以上を含めてください"
            ),
        }
    }
}

impl PasswordPolicy {
    pub fn check(&self, password: &str) -> Result<(), PolicyViolation> {
        if password.chars().count() < self.min_length {
            return Err(PolicyViolation::TooShort(self.min_length));
        }
        if character_classes(password) < self.min_classes {
            return Err(PolicyViolation::TooFewClasses(self.min_classes));
        }
        Ok(())
    }
}

/// How many of the four classes (upper, lower, digit, symbol) `password` uses. Any character
/// that is not an ASCII letter or digit counts as a symbol.
pub fn character_classes(password: &str) -> usize {
    let has = |f: fn(&char) -> bool| password.chars().any(|c| f(&c));
    [
        has(|c| c.is_ascii_uppercase()),
        has(|c| c.is_ascii_lowercase()),
        has(|c| c.is_ascii_digit()),
        has(|c| !c.is_ascii_alphanumeric()),
    ]
    .into_iter()
    .filter(|&b| b)
    .count()
}

/// A random initial password of 16 characters with all four classes (no look-alikes such as
/// O/0 or l/1), which meets any policy of up to 16 characters.
pub fn initial_password() -> String {
    const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
    const DIGIT: &[u8] = b"23456789";
    const SYMBOL: &[u8] = b"-_.!#%+=";
    let mut rng = OsRng;
    let mut pick = |set: &[u8]| set[rng.gen_range(0..set.len())];
    let mut chars: Vec<u8> = vec![pick(UPPER), pick(LOWER), pick(DIGIT), pick(SYMBOL)];
    let all: Vec<u8> = [UPPER, LOWER, DIGIT, SYMBOL].concat();
    while chars.len() < 16 {
        chars.push(pick(&all));
    }
    chars.shuffle(&mut OsRng);
    String::from_utf8(chars).expect("ASCII")
}

/// Disables every account unused (no login, no creation, no re-enabling) for `days` days;
/// returns the user ids disabled. Their sessions end.
pub async fn disable_unused(pool: &Pool, days: u32) -> Result<Vec<String>, AccountError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "UPDATE users SET disabled = true
             WHERE NOT disabled
               AND greatest(last_login_at, created_at, enabled_at)
                   < now() - make_interval(days => $1)
             RETURNING user_id, company_code",
            &[&(days as i32)],
        )
        .await?;
    let mut disabled = Vec::with_capacity(rows.len());
    for row in rows {
        let (user, company): (String, String) = (row.get(0), row.get(1));
        client
            .execute("DELETE FROM sessions WHERE user_id = $1", &[&user])
            .await?;
        crate::audit::record_as(
            &client,
            &company,
            "kirikae",
            "user.disabled_unused",
            &user,
            serde_json::json!({ "days": days }),
        )
        .await?;
        tracing::info!(user_id = %user, days, "account disabled: unused");
        disabled.push(user);
    }
    Ok(disabled)
}

/// The periodic job that disables unused accounts (hourly), until `shutdown`.
pub async fn run_disable_job(
    settings: crate::config::Settings,
    pool: Pool,
    shutdown: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tick.tick() => {}
        }
        if let Err(e) = disable_unused(&pool, settings.disable_after_days).await {
            tracing::warn!(error = %e, "disabling unused accounts failed; next hour again");
        }
    }
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

    #[test]
    fn a_password_has_at_least_twelve_characters() {
        let p = PasswordPolicy::default();
        assert_eq!(p.check("Ab1-Ab1-Ab1"), Err(PolicyViolation::TooShort(12)));
        assert_eq!(p.check("Ab1-Ab1-Ab1-"), Ok(()));
        // Characters, not bytes: twelve kana are twelve.
        assert_eq!(
            p.check("パスワードパスワードパスA1"),
            Ok(()),
            "kana count as symbols"
        );
    }

    #[test]
    fn a_password_mixes_three_of_the_four_classes() {
        let p = PasswordPolicy::default();
        assert_eq!(
            p.check("alllowercaseletters"),
            Err(PolicyViolation::TooFewClasses(3))
        );
        assert_eq!(
            p.check("lower-and-symbols"),
            Err(PolicyViolation::TooFewClasses(3))
        );
        assert_eq!(p.check("lower-and-symbols-9"), Ok(()));
        assert_eq!(p.check("UpperAndLower9"), Ok(()));
        assert_eq!(p.check("UPPER_AND_SYMBOL_9"), Ok(()));
        assert_eq!(character_classes("aA1!"), 4);
        assert_eq!(character_classes(""), 0);
    }

    #[test]
    fn the_policy_is_configurable() {
        let p = PasswordPolicy {
            min_length: 8,
            min_classes: 4,
        };
        assert_eq!(p.check("aA1!aA1!"), Ok(()));
        assert_eq!(p.check("aA1aaA1a"), Err(PolicyViolation::TooFewClasses(4)));
        assert_eq!(p.check("aA1!"), Err(PolicyViolation::TooShort(8)));
    }

    #[test]
    fn an_initial_password_meets_the_strictest_policy_and_differs_each_time() {
        let strict = PasswordPolicy {
            min_length: 16,
            min_classes: 4,
        };
        let a = initial_password();
        for _ in 0..200 {
            let p = initial_password();
            assert_eq!(strict.check(&p), Ok(()), "{p}");
        }
        assert_ne!(a, initial_password());
    }
}
