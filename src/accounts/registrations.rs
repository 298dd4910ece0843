//! The hub operator's side of a registration (issue 5): registering a company, issuing its one
//! administrator ID, its client certificates, suspending (利用の中断) and ending (利用契約の終了)
//! it, and closing the whole service for maintenance. Every action here writes `audit_log`.
//!
//! A registration is one row of `companies`, keyed by its 事業者コード, which the client
//! certificate's common name, users, sessions and requests all carry. A company that sells and
//! also runs demand response has two registrations (terms 2.1.1): a retailer's code and a DR
//! contractor's code, tied together by the company's 法人番号, each with its own
//! administrator, certificates, users and data.

use std::path::Path;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use sha2::{Digest, Sha256};

use crate::accounts::{self, AccountError, CompanyKind};
use crate::audit;
use crate::domain::{CompanyCode, CorporateNumber, UserId};

/// Who the audit trail names for an action at the CLI.
pub fn operator() -> String {
    match std::env::var("USER") {
        Ok(u) if !u.is_empty() => format!("operator:{u}"),
        _ => "operator".into(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error("company {0} is not registered")]
    UnknownCompany(String),
    #[error("the administrator ID of {0} was issued already ({1}); it is issued once")]
    AdminAlreadyIssued(String, String),
    #[error(
        "company {number} already has a {kind} registration ({existing}); a company has one of each kind"
    )]
    SecondOfKind {
        number: String,
        kind: &'static str,
        existing: String,
    },
    #[error(
        "{0} is registered with another kind; a registration's kind does not change (register the other kind under its own code)"
    )]
    KindChange(String),
    #[error("{0:?} is not a mail address")]
    ContactAddress(String),
    #[error("the registration of {0} has ended; it cannot be resumed")]
    Ended(String),
    #[error("reading the certificate: {0}")]
    Certificate(String),
    #[error("the certificate's common name is {cn:?}, not the company code {code}")]
    CertificateSubject { cn: String, code: String },
    #[error("this certificate is registered to {0} already")]
    CertificateOfAnother(String),
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error(transparent)]
    Db(#[from] tokio_postgres::Error),
    #[error(transparent)]
    Pool(#[from] deadpool_postgres::PoolError),
}

/// Where a registration stands. Suspended and ended registrations keep their data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationStatus {
    Active,
    /// 利用の中断: every call refused, resumable.
    Suspended,
    /// 利用契約の終了: every call refused, final; data kept for the retention period.
    Ended,
}

impl RegistrationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RegistrationStatus::Active => "active",
            RegistrationStatus::Suspended => "suspended",
            RegistrationStatus::Ended => "ended",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Active, Self::Suspended, Self::Ended]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// What the operator registers: one registration of one kind, under its own code.
#[derive(Debug, Clone)]
pub struct NewRegistration<'a> {
    pub code: &'a CompanyCode,
    pub name: &'a str,
    pub kind: CompanyKind,
    /// Where notices of the terms (and the administrator's initial password) are mailed.
    pub contact_email: Option<&'a str>,
    /// The company's 法人番号: a company that sells and also runs demand response registers
    /// twice under it, once of each kind (terms 2.1.1), never twice of one kind.
    pub corporate_number: Option<&'a CorporateNumber>,
}

/// Registers a company (again: changes its name, contact and corporate number; the kind
/// stays) and writes the audit trail.
pub async fn register_company(
    pool: &Pool,
    r: &NewRegistration<'_>,
) -> Result<(), RegistrationError> {
    if let Some(mail) = r.contact_email
        && !crate::mail::valid_address(mail)
    {
        return Err(RegistrationError::ContactAddress(mail.into()));
    }
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let number = r.corporate_number.map(|n| n.as_str());
    if let Some(n) = number {
        let other = tx
            .query_opt(
                "SELECT company_code FROM companies
                 WHERE corporate_number = $1 AND kind = $2 AND company_code <> $3",
                &[&n, &r.kind.as_str(), &r.code.as_str()],
            )
            .await?;
        if let Some(other) = other {
            return Err(RegistrationError::SecondOfKind {
                number: n.into(),
                kind: r.kind.name_ja(),
                existing: other.get(0),
            });
        }
    }
    let kind: String = tx
        .query_one(
            "INSERT INTO companies (company_code, name, kind, contact_email, corporate_number)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (company_code) DO UPDATE SET
                 name = EXCLUDED.name,
                 contact_email = coalesce(EXCLUDED.contact_email, companies.contact_email),
                 corporate_number = coalesce(EXCLUDED.corporate_number,
                                             companies.corporate_number)
             RETURNING kind",
            &[
                &r.code.as_str(),
                &r.name,
                &r.kind.as_str(),
                &r.contact_email,
                &number,
            ],
        )
        .await
        .map_err(|e| match e.code() {
            // Two operators registering the same company's second registration at once.
            Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) => {
                RegistrationError::SecondOfKind {
                    number: number.unwrap_or_default().into(),
                    kind: r.kind.name_ja(),
                    existing: "?".into(),
                }
            }
            _ => e.into(),
        })?
        .get(0);
    if kind != r.kind.as_str() {
        return Err(RegistrationError::KindChange(r.code.to_string()));
    }
    audit::record_as(
        &tx,
        r.code.as_str(),
        &operator(),
        "registration.register",
        r.code.as_str(),
        serde_json::json!({
            "name": r.name,
            "kind": r.kind.as_str(),
            "contact_email": r.contact_email,
            "corporate_number": number,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The registrations of one company (by its 法人番号): at most one of each kind.
pub async fn registrations_of(
    pool: &Pool,
    number: &CorporateNumber,
) -> Result<Vec<(CompanyCode, CompanyKind)>, RegistrationError> {
    let rows = pool
        .get()
        .await?
        .query(
            "SELECT company_code, kind FROM companies WHERE corporate_number = $1
             ORDER BY company_code",
            &[&number.as_str()],
        )
        .await?;
    rows.iter()
        .map(|r| {
            let code =
                CompanyCode::parse(r.get(0)).map_err(|e| RegistrationError::UnknownCompany(e.0))?;
            let kind = CompanyKind::parse(r.get(1))
                .ok_or_else(|| RegistrationError::UnknownCompany(code.to_string()))?;
            Ok((code, kind))
        })
        .collect()
}

/// Issues the registration's one administrator ID (a user with the administrator flag, its
/// password an initial one, its mail the registration's contact address); a second issue is
/// refused. `companies.admin_user_id` keeps which ID was issued, which makes "once" atomic.
pub async fn issue_admin(
    pool: &Pool,
    code: &CompanyCode,
    user: &UserId,
    name: &str,
    password: &str,
) -> Result<(), RegistrationError> {
    let client = pool.get().await?;
    // Reserve the slot first, so two issues at once cannot both succeed.
    let reserved = client
        .execute(
            "UPDATE companies SET admin_user_id = $2
             WHERE company_code = $1 AND admin_user_id IS NULL",
            &[&code.as_str(), &user.as_str()],
        )
        .await?;
    if reserved == 0 {
        let row = client
            .query_opt(
                "SELECT admin_user_id FROM companies WHERE company_code = $1",
                &[&code.as_str()],
            )
            .await?
            .ok_or_else(|| RegistrationError::UnknownCompany(code.to_string()))?;
        let issued: Option<String> = row.get(0);
        return Err(RegistrationError::AdminAlreadyIssued(
            code.to_string(),
            issued.unwrap_or_default(),
        ));
    }
    let mail: Option<String> = client
        .query_one(
            "SELECT contact_email FROM companies WHERE company_code = $1",
            &[&code.as_str()],
        )
        .await?
        .get(0);
    let new = accounts::NewUser {
        name: name.to_string(),
        mail: mail.unwrap_or_default(),
        administrator: true,
        // Issued by the operator: an initial password, changed at the first login.
        must_change_password: true,
    };
    if let Err(e) = accounts::create_user_with(pool, code, user, password, &new).await {
        client
            .execute(
                "UPDATE companies SET admin_user_id = NULL
                 WHERE company_code = $1 AND admin_user_id = $2",
                &[&code.as_str(), &user.as_str()],
            )
            .await?;
        return Err(e.into());
    }
    audit::record_as(
        &client,
        code.as_str(),
        &operator(),
        "registration.issue_admin",
        user.as_str(),
        serde_json::json!({}),
    )
    .await?;
    Ok(())
}

/// Suspends, resumes or ends a registration. An ended registration stays ended.
pub async fn set_status(
    pool: &Pool,
    code: &CompanyCode,
    status: RegistrationStatus,
) -> Result<(), RegistrationError> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "SELECT status FROM companies WHERE company_code = $1",
            &[&code.as_str()],
        )
        .await?
        .ok_or_else(|| RegistrationError::UnknownCompany(code.to_string()))?;
    let before: String = row.get(0);
    if before == "ended" && status != RegistrationStatus::Ended {
        return Err(RegistrationError::Ended(code.to_string()));
    }
    client
        .execute(
            "UPDATE companies SET status = $2, status_changed_at = now() WHERE company_code = $1",
            &[&code.as_str(), &status.as_str()],
        )
        .await?;
    audit::record_as(
        &client,
        code.as_str(),
        &operator(),
        &format!("registration.{}", status.as_str()),
        code.as_str(),
        serde_json::json!({"before": before}),
    )
    .await?;
    Ok(())
}

/// A client certificate as registered.
#[derive(Debug, Clone)]
pub struct RegisteredCertificate {
    pub fingerprint: String,
    pub subject: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

/// The SHA-256 fingerprint (lower-case hex of the DER), as `ClientIdentity` carries it.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// Reads the first certificate of a PEM text: its fingerprint, common name and validity.
pub fn read_certificate(pem: &[u8]) -> Result<RegisteredCertificate, RegistrationError> {
    let bad = |e: String| RegistrationError::Certificate(e);
    let der = CertificateDer::pem_slice_iter(pem)
        .next()
        .ok_or_else(|| bad("no certificate in the PEM".into()))?
        .map_err(|e| bad(e.to_string()))?;
    let (_, cert) =
        x509_parser::parse_x509_certificate(der.as_ref()).map_err(|e| bad(e.to_string()))?;
    let subject = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .unwrap_or_default()
        .to_string();
    let time = |t: x509_parser::time::ASN1Time| {
        DateTime::from_timestamp(t.timestamp(), 0).ok_or_else(|| bad("validity date".into()))
    };
    Ok(RegisteredCertificate {
        fingerprint: fingerprint(der.as_ref()),
        subject,
        not_before: time(cert.validity().not_before)?,
        not_after: time(cert.validity().not_after)?,
    })
}

/// Registers a client certificate (PEM) to a registration, valid over the certificate's own
/// dates or, when given, over `validity` (the operator may shorten it). Registering the same
/// certificate again replaces its dates, so setting an end in the past withdraws it.
pub async fn register_certificate(
    pool: &Pool,
    code: &CompanyCode,
    pem: &[u8],
    validity: Option<(DateTime<Utc>, DateTime<Utc>)>,
) -> Result<RegisteredCertificate, RegistrationError> {
    let mut cert = read_certificate(pem)?;
    if cert.subject != code.as_str() {
        return Err(RegistrationError::CertificateSubject {
            cn: cert.subject,
            code: code.to_string(),
        });
    }
    if let Some((from, until)) = validity {
        cert.not_before = from;
        cert.not_after = until;
    }
    let client = pool.get().await?;
    let known = client
        .query_opt(
            "SELECT 1 FROM companies WHERE company_code = $1",
            &[&code.as_str()],
        )
        .await?;
    if known.is_none() {
        return Err(RegistrationError::UnknownCompany(code.to_string()));
    }
    let row = client
        .query_opt(
            "INSERT INTO client_certificates (fingerprint, company_code, subject, not_before, not_after)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (fingerprint) DO UPDATE
                 SET not_before = EXCLUDED.not_before, not_after = EXCLUDED.not_after
                 WHERE client_certificates.company_code = EXCLUDED.company_code
             RETURNING company_code",
            &[
                &cert.fingerprint,
                &code.as_str(),
                &cert.subject,
                &cert.not_before,
                &cert.not_after,
            ],
        )
        .await?;
    if row.is_none() {
        // The conflict's WHERE held: the certificate is another company's.
        let owner: String = client
            .query_one(
                "SELECT company_code FROM client_certificates WHERE fingerprint = $1",
                &[&cert.fingerprint],
            )
            .await?
            .get(0);
        return Err(RegistrationError::CertificateOfAnother(owner));
    }
    audit::record_as(
        &client,
        code.as_str(),
        &operator(),
        "certificate.register",
        &cert.fingerprint,
        serde_json::json!({
            "subject": cert.subject,
            "not_before": cert.not_before,
            "not_after": cert.not_after,
        }),
    )
    .await?;
    Ok(cert)
}

/// Registers each company's development certificate `dir/client-<CODE>.pem` (written by
/// `certs::generate`); the companies must be registered first.
pub async fn register_dev_certificates(
    pool: &Pool,
    dir: &Path,
    codes: &[CompanyCode],
) -> Result<(), RegistrationError> {
    for code in codes {
        let path = dir.join(format!("client-{code}.pem"));
        let pem = std::fs::read(&path)
            .map_err(|e| RegistrationError::Certificate(format!("{}: {e}", path.display())))?;
        register_certificate(pool, code, &pem, None).await?;
    }
    Ok(())
}

/// A planned closure of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintenanceWindow {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub message: String,
}

/// Closes the API from `from` (now when not given) until `until`.
pub async fn start_maintenance(
    pool: &Pool,
    from: Option<DateTime<Utc>>,
    until: DateTime<Utc>,
    message: &str,
) -> Result<(), RegistrationError> {
    let from = from.unwrap_or_else(Utc::now);
    let client = pool.get().await?;
    let id: i64 = client
        .query_one(
            "INSERT INTO maintenance (starts_at, ends_at, message) VALUES ($1, $2, $3) RETURNING id",
            &[&from, &until, &message],
        )
        .await?
        .get(0);
    audit::record_as(
        &client,
        "-",
        &operator(),
        "maintenance.start",
        &id.to_string(),
        serde_json::json!({"from": from, "until": until, "message": message}),
    )
    .await?;
    Ok(())
}

/// Ends every current or planned maintenance window now; returns how many.
pub async fn stop_maintenance(pool: &Pool) -> Result<u64, RegistrationError> {
    let client = pool.get().await?;
    let n = client
        .execute(
            "UPDATE maintenance SET stopped_at = now()
             WHERE stopped_at IS NULL AND ends_at > now()",
            &[],
        )
        .await?;
    audit::record_as(
        &client,
        "-",
        &operator(),
        "maintenance.stop",
        "*",
        serde_json::json!({"windows": n}),
    )
    .await?;
    Ok(n)
}

/// The maintenance window in force now, if any (the latest-ending one).
pub async fn active_maintenance(
    client: &deadpool_postgres::Client,
) -> Result<Option<MaintenanceWindow>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT starts_at, ends_at, message FROM maintenance
             WHERE stopped_at IS NULL AND starts_at <= now() AND ends_at > now()
             ORDER BY ends_at DESC LIMIT 1",
            &[],
        )
        .await?;
    Ok(row.map(|r| MaintenanceWindow {
        starts_at: r.get(0),
        ends_at: r.get(1),
        message: r.get(2),
    }))
}

/// Parses a CLI time: RFC 3339 (`2026-05-01T06:00:00+09:00`), a date (midnight UTC), or a
/// duration from now (`30m`, `2h`, `1d`).
pub fn parse_time(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc());
    }
    let (n, unit) = s.split_at(s.len().saturating_sub(1));
    let n: i64 = n
        .parse()
        .map_err(|_| format!("not a time: {s:?} (RFC 3339, YYYY-MM-DD, or 30m/2h/1d)"))?;
    let d = match unit {
        "s" => chrono::Duration::seconds(n),
        "m" => chrono::Duration::minutes(n),
        "h" => chrono::Duration::hours(n),
        "d" => chrono::Duration::days(n),
        _ => {
            return Err(format!(
                "not a time: {s:?} (RFC 3339, YYYY-MM-DD, or 30m/2h/1d)"
            ));
        }
    };
    Ok(now + d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_reads_back_as_written() {
        for s in [
            RegistrationStatus::Active,
            RegistrationStatus::Suspended,
            RegistrationStatus::Ended,
        ] {
            assert_eq!(RegistrationStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(RegistrationStatus::parse("paused"), None);
    }

    #[test]
    fn cli_times_are_rfc3339_dates_or_durations_from_now() {
        let now = DateTime::parse_from_rfc3339("2026-05-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(parse_time("2026-05-01T09:00:00+09:00", now).unwrap(), now);
        assert_eq!(parse_time("2026-05-01", now).unwrap(), now);
        assert_eq!(
            parse_time("2h", now).unwrap(),
            now + chrono::Duration::hours(2)
        );
        assert!(parse_time("soon", now).is_err());
    }

    #[test]
    fn a_development_certificate_reads_with_its_common_name_and_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let code = CompanyCode::parse("A0001").unwrap();
        crate::certs::generate(dir.path(), "test CA", std::slice::from_ref(&code)).unwrap();
        let pem = std::fs::read(dir.path().join("client-A0001.pem")).unwrap();
        let cert = read_certificate(&pem).unwrap();
        assert_eq!(cert.subject, "A0001");
        assert_eq!(cert.fingerprint.len(), 64);
        assert!(cert.not_before < Utc::now() && Utc::now() < cert.not_after);
        assert!(read_certificate(b"not a pem").is_err());
    }
}
