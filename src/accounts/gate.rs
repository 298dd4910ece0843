//! The registration gate, checked at login and on every authenticated call: the registration is
//! active (not suspended, not ended), the client certificate is registered to it and valid
//! now, and, for a contractor's user, the contractor is still authorised. What the database
//! says is cached per (registration, certificate) for at most `TTL`, so the database is not
//! hit on every request yet a suspension made at the CLI (another process) takes hold within a
//! second. The verdict over those facts is pure (`verdict`), and tested as such.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;

use super::registrations::RegistrationStatus;
use crate::domain::Refusal;
use crate::domain::{CompanyCode, CorporateNumber};

/// How long a look-up is trusted.
pub const TTL: Duration = Duration::from_millis(1000);

/// What the database says of a registration and one certificate.
#[derive(Debug, Clone)]
struct Facts {
    loaded: Instant,
    /// `None` when the company is not registered at all.
    status: Option<RegistrationStatus>,
    /// The certificate's validity, when it is registered to this registration.
    validity: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// For a contractor's user: the contractor is authorised and not revoked.
    contractor_authorised: bool,
}

/// The cache of those facts, shared by every call of one process.
pub struct Gate(quick_cache::sync::Cache<(String, String, Option<String>), Facts>);

impl Gate {
    pub fn new() -> Self {
        Gate(quick_cache::sync::Cache::new(10_000))
    }

    /// Refuses the call unless `company` is active, the certificate of `fingerprint` is
    /// registered to it and valid now, and `contractor` (the user's, if any) is authorised by it.
    pub async fn check(
        &self,
        pool: &Pool,
        company: &CompanyCode,
        contractor: Option<&CorporateNumber>,
        fingerprint: &str,
    ) -> Result<(), Refusal> {
        let key = (
            company.to_string(),
            fingerprint.to_string(),
            contractor.map(|c| c.to_string()),
        );
        let facts = match self.0.get(&key) {
            Some(f) if f.loaded.elapsed() < TTL => f,
            _ => {
                let f = load(pool, company, contractor, fingerprint).await?;
                self.0.insert(key, f.clone());
                f
            }
        };
        verdict(&facts, Utc::now())
    }
}

impl Gate {
    /// Drops what is cached of `company`, so a change made in this process (a contractor
    /// revoked) holds here at once rather than within the second.
    pub fn forget_company(&self, company: &CompanyCode) {
        self.0.retain(|(c, _, _), _| c != company.as_str());
    }
}

impl Default for Gate {
    fn default() -> Self {
        Self::new()
    }
}

async fn load(
    pool: &Pool,
    company: &CompanyCode,
    contractor: Option<&CorporateNumber>,
    fingerprint: &str,
) -> Result<Facts, Refusal> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(
            "SELECT c.status, cc.not_before, cc.not_after,
                    $3::text IS NULL OR EXISTS (
                        SELECT 1 FROM contractors k
                        WHERE k.company_code = c.company_code AND k.corporate_number = $3
                          AND k.revoked_at IS NULL)
             FROM companies c
             LEFT JOIN client_certificates cc
                 ON cc.fingerprint = $2 AND cc.company_code = c.company_code
             WHERE c.company_code = $1",
        )
        .await?;
    let contractor = contractor.map(|c| c.as_str());
    let row = client
        .query_opt(&stmt, &[&company.as_str(), &fingerprint, &contractor])
        .await?;
    Ok(match row {
        None => Facts {
            loaded: Instant::now(),
            status: None,
            validity: None,
            contractor_authorised: false,
        },
        Some(r) => {
            let status: String = r.get(0);
            let nb: Option<DateTime<Utc>> = r.get(1);
            let na: Option<DateTime<Utc>> = r.get(2);
            Facts {
                loaded: Instant::now(),
                status: RegistrationStatus::parse(&status),
                validity: nb.zip(na),
                contractor_authorised: r.get(3),
            }
        }
    })
}

fn verdict(facts: &Facts, now: DateTime<Utc>) -> Result<(), Refusal> {
    match facts.status {
        Some(RegistrationStatus::Active) => {}
        Some(RegistrationStatus::Suspended) => return Err(Refusal::RegistrationSuspended),
        Some(RegistrationStatus::Ended) => return Err(Refusal::RegistrationEnded),
        None => return Err(Refusal::CertificateNotRegistered),
    }
    match facts.validity {
        None => Err(Refusal::CertificateNotRegistered),
        Some((from, until)) if now < from || now >= until => Err(Refusal::CertificateExpired),
        Some(_) if !facts.contractor_authorised => Err(Refusal::ContractorRevoked),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(
        status: Option<RegistrationStatus>,
        validity: Option<(DateTime<Utc>, DateTime<Utc>)>,
    ) -> Facts {
        Facts {
            loaded: Instant::now(),
            status,
            validity,
            contractor_authorised: true,
        }
    }

    #[test]
    fn only_an_active_registration_with_a_certificate_valid_now_passes() {
        let now = Utc::now();
        let day = chrono::Duration::days(1);
        let active = Some(RegistrationStatus::Active);
        let code = |r: Result<(), Refusal>| r.err().map(|e| e.code());
        assert_eq!(
            code(verdict(&facts(active, Some((now - day, now + day))), now)),
            None
        );
        assert_eq!(
            code(verdict(&facts(active, None), now)),
            Some("certificate_not_registered")
        );
        assert_eq!(
            code(verdict(
                &facts(active, Some((now - day - day, now - day))),
                now
            )),
            Some("certificate_expired")
        );
        assert_eq!(
            code(verdict(
                &facts(active, Some((now + day, now + day + day))),
                now
            )),
            Some("certificate_expired")
        );
        let valid = Some((now - day, now + day));
        assert_eq!(
            code(verdict(
                &facts(Some(RegistrationStatus::Suspended), valid),
                now
            )),
            Some("registration_suspended")
        );
        assert_eq!(
            code(verdict(&facts(Some(RegistrationStatus::Ended), valid), now)),
            Some("registration_ended")
        );
        let revoked = Facts {
            contractor_authorised: false,
            ..facts(active, valid)
        };
        assert_eq!(code(verdict(&revoked, now)), Some("contractor_revoked"));
    }
}
