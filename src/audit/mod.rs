//! The audit trail: one row of `audit_log` per read of personal data (names, addresses,
//! contract numbers), written before the data is answered, per submission, and per
//! administrative action (of a registration's administrator, or of the hub operator at the
//! CLI). Each row says who, for which registration, on whose behalf (the contractor, when a
//! contractor's user acted), what, when, and from which client certificate. Append-only: a
//! trigger refuses every UPDATE, DELETE and TRUNCATE; `kirikae audit` only reads it.

use deadpool_postgres::GenericClient;

mod relay;
mod trail;

pub use relay::{Seal, run_relay};
pub use trail::{AuditEntry, AuditFilter, audit_log, search};

/// Who did something, for the trail.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    /// The registration acted for (`-` for the whole hub).
    pub company: &'a str,
    /// The user, `operator:<name>` at the CLI, or `kirikae` for the hub's own jobs.
    pub user: &'a str,
    /// The contractor (受託者) whose user acted for the registration.
    pub contractor: Option<&'a str>,
    /// The SHA-256 fingerprint of the client certificate the call came with.
    pub certificate: Option<&'a str>,
}

/// Records that `actor` (a logged-in user: `&Principal`) did `action` on `subject` (an id,
/// or `*` for a list).
pub async fn record<'a, C: GenericClient>(
    client: &C,
    actor: impl Into<Actor<'a>>,
    action: &str,
    subject: &str,
    detail: serde_json::Value,
) -> Result<(), tokio_postgres::Error> {
    write(client, actor.into(), action, subject, &detail).await
}

/// Records an action of someone who is not a logged-in user (the hub operator at the CLI, or
/// one of the hub's jobs): `company` is the registration acted on, or `-` for the whole hub.
pub async fn record_as<C: GenericClient>(
    client: &C,
    company: &str,
    actor: &str,
    action: &str,
    subject: &str,
    detail: serde_json::Value,
) -> Result<(), tokio_postgres::Error> {
    let actor = Actor {
        company,
        user: actor,
        contractor: None,
        certificate: None,
    };
    write(client, actor, action, subject, &detail).await
}

/// The audit rows of concurrent callers, each committed before its caller goes on, written
/// together ([`crate::db::group`]): one statement and one commit for a group of reads where
/// each used to pay its own.
pub type GroupLog = crate::db::group::GroupCommit<Entry>;

/// Starts a [`GroupLog`] on the current tokio runtime.
pub fn group_log(pool: deadpool_postgres::Pool) -> GroupLog {
    GroupLog::start(pool, "audit log", |pool, entries| {
        Box::pin(async move {
            let entries: Vec<&Entry> = entries.iter().collect();
            Entry::write_all(&pool.get().await?, &entries).await?;
            Ok(())
        })
    })
}

/// An audit row held by value, for a writer that records it later together with others (the
/// accept path's group commit, [`crate::requests`]): the same columns as [`record`] writes.
#[derive(Debug, Clone)]
pub struct Entry {
    company: String,
    user: String,
    contractor: Option<String>,
    certificate: Option<String>,
    action: &'static str,
    subject: String,
    detail: serde_json::Value,
}

impl Entry {
    pub fn new<'a>(
        actor: impl Into<Actor<'a>>,
        action: &'static str,
        subject: String,
        detail: serde_json::Value,
    ) -> Self {
        let actor = actor.into();
        Entry {
            company: actor.company.to_string(),
            user: actor.user.to_string(),
            contractor: actor.contractor.map(str::to_string),
            certificate: actor.certificate.map(str::to_string),
            action,
            subject,
            detail,
        }
    }

    /// Writes the rows of `entries`, in their order, with one statement (in the caller's
    /// transaction, if it has one): a group commit pays for one statement, not one per row.
    pub async fn write_all<C: GenericClient>(
        client: &C,
        entries: &[&Entry],
    ) -> Result<(), tokio_postgres::Error> {
        let column =
            |f: fn(&Entry) -> Option<&str>| entries.iter().map(|e| f(e)).collect::<Vec<_>>();
        let details: Vec<&serde_json::Value> = entries.iter().map(|e| &e.detail).collect();
        let stmt = client
            .prepare_cached(
                "INSERT INTO audit_log (company_code, user_id, contractor, certificate, action,
                                        subject_id, detail)
                 SELECT company, usr, contractor, certificate, action, subject, detail
                   FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                               $6::text[], $7::jsonb[])
                        WITH ORDINALITY AS e(company, usr, contractor, certificate, action,
                                             subject, detail, n)
                  ORDER BY n",
            )
            .await?;
        client
            .execute(
                &stmt,
                &[
                    &column(|e| Some(&e.company)),
                    &column(|e| Some(&e.user)),
                    &column(|e| e.contractor.as_deref()),
                    &column(|e| e.certificate.as_deref()),
                    &column(|e| Some(e.action)),
                    &column(|e| Some(&e.subject)),
                    &details,
                ],
            )
            .await?;
        Ok(())
    }

    /// Writes the row with `client` (in the caller's transaction, if it has one).
    pub async fn write<C: GenericClient>(&self, client: &C) -> Result<(), tokio_postgres::Error> {
        let actor = Actor {
            company: &self.company,
            user: &self.user,
            contractor: self.contractor.as_deref(),
            certificate: self.certificate.as_deref(),
        };
        write(client, actor, self.action, &self.subject, &self.detail).await
    }
}

/// Writes one row as `actor` with `client` (in the caller's transaction, if it has one).
pub async fn write<C: GenericClient>(
    client: &C,
    actor: Actor<'_>,
    action: &str,
    subject: &str,
    detail: &serde_json::Value,
) -> Result<(), tokio_postgres::Error> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO audit_log (company_code, user_id, contractor, certificate, action,
                                    subject_id, detail)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .await?;
    client
        .execute(
            &stmt,
            &[
                &actor.company,
                &actor.user,
                &actor.contractor,
                &actor.certificate,
                &action,
                &subject,
                detail,
            ],
        )
        .await?;
    Ok(())
}
