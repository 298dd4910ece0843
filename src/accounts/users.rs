//! A registration's users: issuing an id with its password, and disabling the unused ones.

use deadpool_postgres::Pool;

use super::AccountError;
use super::passwords::hash_password;
use crate::domain::{CompanyCode, CompanyKind, PasswordPolicy, UserId};
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
