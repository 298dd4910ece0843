//! A registration's users: what a user is, the one statement that creates one (with its first
//! password in the history), the hub operator issuing an id with a chosen password, and
//! disabling the unused ones.

use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Pool};
use tokio_postgres::Row;

use super::Accounts;
use super::passwords::{self, remember};
use super::sessions::end_sessions;
use crate::audit;
use crate::domain::{Callable, CompanyCode, CompanyKind, Refusal, UserId};

/// A user as its administrator sees it (never its password).
#[derive(Debug, Clone)]
pub struct User {
    pub user_id: String,
    pub name: String,
    pub mail: String,
    pub administrator: bool,
    pub enabled: bool,
    pub locked: bool,
    pub failed_logins: i32,
    pub must_change_password: bool,
    /// The functions (slugs) the user may call: all the registration's kind allows unless set.
    pub permissions: Vec<String>,
    /// Whether `permissions` was set for the user (false: the kind's default).
    pub permissions_set: bool,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
    /// 法人番号 of the contractor (受託者) the person works for, acting for the registration.
    pub contractor: Option<String>,
}

/// How the hub operator issues a user besides its id and password. It has no administrator
/// flag: the operator makes a registration's one administrator only by
/// [`Accounts::issue_admin`] (once, terms 3.2), so no other door of the operator's (`kirikae
/// user`, `up`, a test) can create a second one.
///
/// ```compile_fail
/// // There is no flag to set: this does not compile.
/// let _ = kirikae::accounts::NewUser { administrator: true, ..Default::default() };
/// ```
/// ```
/// let _ = kirikae::accounts::NewUser { must_change_password: true, ..Default::default() };
/// ```
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    /// The natural person the id is issued to.
    pub name: String,
    pub mail: String,
    /// The password is an initial one: every call but changing it is refused until it is.
    pub must_change_password: bool,
}

/// What the operator's issue makes of the user: one of the registration's people, or (only
/// through `issue_admin`, which reserves the registration's one administrator ID first) its
/// administrator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Issued {
    Person,
    Administrator,
}

/// A user row as it is inserted: the one INSERT of `users`.
pub(super) struct UserRow<'a> {
    pub company: &'a CompanyCode,
    pub user_id: &'a UserId,
    pub hash: &'a str,
    pub name: &'a str,
    pub mail: &'a str,
    pub administrator: bool,
    pub must_change_password: bool,
    pub permissions: Option<Vec<String>>,
    pub contractor: Option<&'a str>,
}

const COLUMNS: &str = "user_id, name, mail, administrator, disabled, locked, failed_logins,
     must_change_password, permissions, created_at, last_login_at, contractor";

fn user(row: &Row, kind: CompanyKind) -> User {
    let set: Option<Vec<String>> = row.get(8);
    let permissions = match &set {
        Some(slugs) => slugs.clone(),
        None => Callable::default_permissions(kind)
            .iter()
            .map(|f| f.slug().to_string())
            .collect(),
    };
    User {
        user_id: row.get(0),
        name: row.get(1),
        mail: row.get(2),
        administrator: row.get(3),
        enabled: !row.get::<_, bool>(4),
        locked: row.get(5),
        failed_logins: row.get(6),
        must_change_password: row.get(7),
        permissions,
        permissions_set: set.is_some(),
        created_at: row.get(9),
        last_login_at: row.get(10),
        contractor: row.get(11),
    }
}

/// `user_id` of `company` (whose kind is `kind`), or `user_not_found`: another company's user
/// is simply not found.
pub(super) async fn fetch(
    client: &impl GenericClient,
    company: &CompanyCode,
    kind: CompanyKind,
    user_id: &str,
) -> Result<User, Refusal> {
    let row = client
        .query_opt(
            &format!("SELECT {COLUMNS} FROM users WHERE company_code = $1 AND user_id = $2"),
            &[&company.as_str(), &user_id],
        )
        .await?
        .ok_or(Refusal::UserNotFound)?;
    Ok(user(&row, kind))
}

/// Every user of `company`, by id.
pub(super) async fn all(
    client: &impl GenericClient,
    company: &CompanyCode,
    kind: CompanyKind,
) -> Result<Vec<User>, Refusal> {
    let rows = client
        .query(
            &format!("SELECT {COLUMNS} FROM users WHERE company_code = $1 ORDER BY user_id"),
            &[&company.as_str()],
        )
        .await?;
    Ok(rows.iter().map(|r| user(r, kind)).collect())
}

/// Inserts the user and its first password into the history; `user_exists` if the id is
/// taken (by the callers' rules, only ever in the registration's own part of the namespace:
/// [`UserId::belongs_to`]).
pub(super) async fn insert(
    client: &impl GenericClient,
    row: &UserRow<'_>,
    keep: usize,
) -> Result<(), Refusal> {
    let inserted = client
        .execute(
            "INSERT INTO users (user_id, company_code, password_hash, name, mail, administrator,
                                must_change_password, permissions, contractor)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (user_id) DO NOTHING",
            &[
                &row.user_id.as_str(),
                &row.company.as_str(),
                &row.hash,
                &row.name,
                &row.mail,
                &row.administrator,
                &row.must_change_password,
                &row.permissions,
                &row.contractor,
            ],
        )
        .await?;
    if inserted == 0 {
        return Err(Refusal::UserExists(row.user_id.to_string()));
    }
    remember(client, row.user_id.as_str(), row.hash, keep).await
}

/// The kind of a registered company, or `None` when it is not registered.
pub(super) async fn kind_of(
    client: &impl GenericClient,
    company: &CompanyCode,
) -> Result<Option<CompanyKind>, Refusal> {
    let row = client
        .query_opt(
            "SELECT kind FROM companies WHERE company_code = $1",
            &[&company.as_str()],
        )
        .await?;
    Ok(row.and_then(|r| CompanyKind::parse(r.get(0))))
}

impl Accounts {
    /// The hub operator (CLI, `up`, tests) issues `user_id` to a person of `company` with a
    /// password already chosen, which must meet the configured policy; `operator` is who the
    /// audit trail names. The user is never an administrator (see [`NewUser`]).
    pub async fn issue_user(
        &self,
        operator: &str,
        company: &CompanyCode,
        user_id: &UserId,
        password: &str,
        new: &NewUser,
    ) -> Result<(), Refusal> {
        self.check_policy("password", password)?;
        let hash = passwords::hash(password.to_string()).await?;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        self.insert_issued(&tx, operator, company, user_id, &hash, new, Issued::Person)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Inserts a user the operator issues (its password already checked and hashed) in the
    /// caller's transaction, and audits it there.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn insert_issued(
        &self,
        tx: &impl GenericClient,
        operator: &str,
        company: &CompanyCode,
        user_id: &UserId,
        hash: &str,
        new: &NewUser,
        issued: Issued,
    ) -> Result<(), Refusal> {
        let administrator = issued == Issued::Administrator;
        if kind_of(tx, company).await?.is_none() {
            return Err(Refusal::invalid(
                "company",
                "unknown_company",
                format!("事業者 {company} は登録されていません"),
                format!("company {company} is not registered"),
            ));
        }
        // The operator too keeps to the namespaces: an id in another registration's part is
        // refused, so an administrator never meets an id it could not have issued itself.
        if let Some(other) = user_id.namespace().filter(|ns| ns != company) {
            if kind_of(tx, &other).await?.is_some() {
                return Err(super::enrolment::outside_namespace(company));
            }
        }
        let row = UserRow {
            company,
            user_id,
            hash,
            name: &new.name,
            mail: &new.mail,
            administrator,
            must_change_password: new.must_change_password,
            permissions: None,
            contractor: None,
        };
        insert(tx, &row, self.password_history).await?;
        let detail = serde_json::json!({
            "name": new.name, "mail": new.mail, "administrator": administrator,
        });
        audit::record_as(
            tx,
            company.as_str(),
            operator,
            "user.create",
            user_id.as_str(),
            detail,
        )
        .await?;
        Ok(())
    }
}

/// Disables every account unused (no login, no creation, no re-enabling) for `days` days;
/// returns the user ids disabled. Their sessions end.
pub async fn disable_unused(pool: &Pool, days: u32) -> Result<Vec<String>, Refusal> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let rows = tx
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
        end_sessions(&tx, &user).await?;
        let detail = serde_json::json!({ "days": days });
        audit::record_as(
            &tx,
            &company,
            "kirikae",
            "user.disabled_unused",
            &user,
            detail,
        )
        .await?;
        tracing::info!(user_id = %user, days, "account disabled: unused");
        disabled.push(user);
    }
    tx.commit().await?;
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
