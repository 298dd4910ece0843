//! The hub operator: its accounts, its sign-in and its sessions (issue 12). An operator runs
//! the hub for every registration (registrations, maintenance, notices, the audit trail, the
//! dead-letter queues), so it is no user of any registration and lives in tables of its own
//! (`operators`, `operator_sessions`, migration V24).
//!
//! Two things identify an operator, as a certificate and a password identify a clerk: the
//! connection presents a client certificate of the hub's CA whose common name is the reserved
//! [`OPERATOR_CN`] (a name no company code can take, so no registration's certificate is
//! one), and the person signs in with its operator ID and password. Accounts are made at the
//! CLI only (`kirikae operator add`), never from a screen.
//!
//! A session is a row read (and its idle end slid forward) on every request, with no cache:
//! operators are few, and ending a session, disabling an operator or deleting the row holds on
//! every process at once. A session is honoured only with the certificate it was opened with.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use rand::RngCore;

use super::Accounts;
use super::login::DUMMY_HASH;
use super::passwords::{hash, verify};
use super::sessions::digest;
use crate::audit;
use crate::domain::{Refusal, UserId};

pub use crate::certs::OPERATOR_CN;

/// A signed-in hub operator.
#[derive(Debug, Clone)]
pub struct Operator {
    pub operator_id: String,
    pub name: String,
    /// The fingerprint of the operator certificate of this connection.
    pub certificate: String,
    session: [u8; 32],
}

impl Operator {
    /// How the audit trail names this operator (`operator:<id>`, as the CLI names its user).
    pub fn actor(&self) -> String {
        format!("operator:{}", self.operator_id)
    }
}

/// The certificate a request to the operator screens came with.
#[derive(Debug, Clone, Copy)]
pub struct OperatorCertificate<'a> {
    /// Whether its common name is [`OPERATOR_CN`] (the TLS listener already checked that it
    /// chains to the hub's CA).
    pub operator: bool,
    pub fingerprint: &'a str,
}

/// The fingerprint of `cert` when it is an operator certificate; any other is refused.
fn operator_fingerprint<'a>(cert: Option<OperatorCertificate<'a>>) -> Result<&'a str, Refusal> {
    match cert {
        Some(c) if c.operator => Ok(c.fingerprint),
        _ => Err(Refusal::OperatorRequired),
    }
}

/// Creates an operator account (the CLI's `kirikae operator add`), its password the policy's;
/// an existing ID is refused.
pub async fn add_operator(
    accounts: &Accounts,
    id: &UserId,
    name: &str,
    password: &str,
    by: &str,
) -> Result<(), Refusal> {
    accounts.check_policy("password", password)?;
    let hashed = hash(password.to_string()).await?;
    let mut client = accounts.pool.get().await?;
    let tx = client.transaction().await?;
    let inserted = tx
        .execute(
            "INSERT INTO operators (operator_id, name, password_hash) VALUES ($1, $2, $3)
             ON CONFLICT (operator_id) DO NOTHING",
            &[&id.as_str(), &name, &hashed],
        )
        .await?;
    if inserted == 0 {
        return Err(Refusal::UserExists(id.to_string()));
    }
    audit::record_as(
        &tx,
        "-",
        by,
        "operator.add",
        id.as_str(),
        serde_json::json!({"name": name}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Disables an operator (ending its sessions at once) or enables it again (which also lifts a
/// lock after failed sign-ins).
pub async fn set_operator_enabled(
    pool: &Pool,
    id: &str,
    enabled: bool,
    by: &str,
) -> Result<(), Refusal> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let n = tx
        .execute(
            "UPDATE operators SET disabled = NOT $2,
                 locked = CASE WHEN $2 THEN false ELSE locked END,
                 failed_logins = CASE WHEN $2 THEN 0 ELSE failed_logins END
             WHERE operator_id = $1",
            &[&id, &enabled],
        )
        .await?;
    if n == 0 {
        return Err(Refusal::UserNotFound);
    }
    if !enabled {
        tx.execute(
            "DELETE FROM operator_sessions WHERE operator_id = $1",
            &[&id],
        )
        .await?;
    }
    let action = if enabled {
        "operator.enable"
    } else {
        "operator.disable"
    };
    audit::record_as(&tx, "-", by, action, id, serde_json::json!({})).await?;
    tx.commit().await?;
    Ok(())
}

/// A session just opened: the token for the cookie.
#[derive(Debug, Clone)]
pub struct OperatorSession {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

impl Accounts {
    /// The operator's sign-in: an operator certificate, then the ID and password (argon2, the
    /// same rate limit and lock after `lockout_after` failures as a clerk's). The session ends
    /// after `idle` without use. Audited, failures too.
    pub async fn operator_login(
        &self,
        id: &str,
        password: String,
        cert: Option<OperatorCertificate<'_>>,
        idle: chrono::Duration,
    ) -> Result<OperatorSession, Refusal> {
        let fingerprint = operator_fingerprint(cert)?;
        self.login_rate.take(id, fingerprint)?;
        let row = self
            .pool
            .get()
            .await?
            .query_opt(
                "SELECT password_hash, locked, disabled FROM operators WHERE operator_id = $1",
                &[&id],
            )
            .await?;
        let Some(row) = row else {
            verify(password, DUMMY_HASH.clone()).await?;
            return Err(Refusal::InvalidCredentials);
        };
        let (stored, locked, disabled): (String, bool, bool) = (row.get(0), row.get(1), row.get(2));
        let client = self.pool.get().await?;
        if !verify(password, stored).await? {
            if !locked {
                client
                    .execute(
                        "UPDATE operators SET failed_logins = failed_logins + 1,
                                              locked = failed_logins + 1 >= $2
                         WHERE operator_id = $1",
                        &[&id, &self.lockout_after],
                    )
                    .await?;
            }
            let detail = serde_json::json!({"certificate": fingerprint});
            audit::record_as(
                &client,
                "-",
                &format!("operator:{id}"),
                "operator.login_failed",
                id,
                detail,
            )
            .await?;
            return Err(Refusal::InvalidCredentials);
        }
        if locked {
            return Err(Refusal::AccountLocked);
        }
        if disabled {
            return Err(Refusal::AccountDisabled);
        }
        let mut raw = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        let token = URL_SAFE_NO_PAD.encode(raw);
        let expires_at = Utc::now() + idle.min(self.session_ttl);
        let mut client = client;
        let tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO operator_sessions (token_sha256, operator_id, certificate, expires_at)
             VALUES ($1, $2, $3, $4)",
            &[&digest(&token).as_slice(), &id, &fingerprint, &expires_at],
        )
        .await?;
        tx.execute(
            "UPDATE operators SET failed_logins = 0, last_login_at = now() WHERE operator_id = $1",
            &[&id],
        )
        .await?;
        let actor = audit::Actor {
            company: "-",
            user: &format!("operator:{id}"),
            contractor: None,
            certificate: Some(fingerprint),
        };
        audit::write(&tx, actor, "operator.login", id, &serde_json::json!({})).await?;
        tx.commit().await?;
        Ok(OperatorSession { token, expires_at })
    }

    /// The operator `token` stands for, on a connection with `cert`; slides the session's end
    /// to `idle` from now (never past `session_ttl` after it opened). One statement per
    /// request, no cache: an ended session or a disabled operator is refused at once.
    pub async fn operator_authenticate(
        &self,
        token: &str,
        cert: Option<OperatorCertificate<'_>>,
        idle: chrono::Duration,
    ) -> Result<Operator, Refusal> {
        let fingerprint = operator_fingerprint(cert)?;
        let key = digest(token.trim());
        let row = self
            .pool
            .get()
            .await?
            .query_opt(
                "UPDATE operator_sessions s
                 SET expires_at = LEAST(now() + make_interval(secs => $2),
                                        s.opened_at + make_interval(secs => $3))
                 FROM operators o
                 WHERE s.token_sha256 = $1 AND o.operator_id = s.operator_id
                       AND NOT o.disabled AND s.expires_at > now() AND s.certificate = $4
                 RETURNING s.operator_id, o.name",
                &[
                    &key.as_slice(),
                    &(idle.num_seconds() as f64),
                    &(self.session_ttl.num_seconds() as f64),
                    &fingerprint,
                ],
            )
            .await?
            // Ended, idle too long, its operator disabled, or another machine's certificate.
            .ok_or(Refusal::Unauthenticated)?;
        Ok(Operator {
            operator_id: row.get(0),
            name: row.get(1),
            certificate: fingerprint.to_string(),
            session: key,
        })
    }

    /// The operator's sign-out: ends this session everywhere at once. Audited.
    pub async fn operator_logout(&self, op: &Operator) -> Result<(), Refusal> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "DELETE FROM operator_sessions WHERE token_sha256 = $1",
            &[&op.session.as_slice()],
        )
        .await?;
        let actor = audit::Actor {
            company: "-",
            user: &op.actor(),
            contractor: None,
            certificate: Some(&op.certificate),
        };
        audit::write(
            &tx,
            actor,
            "operator.logout",
            &op.operator_id,
            &serde_json::json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_operator_certificate_reaches_the_operator_sign_in() {
        let op = OperatorCertificate {
            operator: true,
            fingerprint: "ab",
        };
        let clerk = OperatorCertificate {
            operator: false,
            fingerprint: "cd",
        };
        assert_eq!(operator_fingerprint(Some(op)).unwrap(), "ab");
        assert_eq!(
            operator_fingerprint(Some(clerk)).unwrap_err().code(),
            "operator_required"
        );
        assert_eq!(
            operator_fingerprint(None).unwrap_err().code(),
            "operator_required"
        );
    }

    #[test]
    fn no_company_code_can_be_the_operator_common_name() {
        assert!(crate::domain::CompanyCode::parse(OPERATOR_CN).is_err());
    }
}
