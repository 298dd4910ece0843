//! Client certificates of a registration: reading a PEM, and registering one to a
//! registration (its dates, or shorter ones the operator sets; an end in the past withdraws it).

use std::path::Path;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use sha2::{Digest, Sha256};

use super::registrations::{RegistrationError, operator};
use crate::audit;
use crate::domain::CompanyCode;

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
    register_certificate_by(pool, code, pem, validity, &operator()).await
}

/// [`register_certificate`] by the operator `by` (a signed-in operator on its screens).
pub async fn register_certificate_by(
    pool: &Pool,
    code: &CompanyCode,
    pem: &[u8],
    validity: Option<(DateTime<Utc>, DateTime<Utc>)>,
    by: &str,
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
    let mut client = pool.get().await?;
    let client = client.transaction().await?;
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
        by,
        "certificate.register",
        &cert.fingerprint,
        serde_json::json!({
            "subject": cert.subject,
            "not_before": cert.not_before,
            "not_after": cert.not_after,
        }),
    )
    .await?;
    client.commit().await?;
    Ok(cert)
}

/// The client certificates registered to `code`, newest first: what the operator's screen
/// lists (a past `not_after` is a withdrawn or expired one).
pub async fn certificates_of(
    pool: &Pool,
    code: &CompanyCode,
) -> Result<Vec<RegisteredCertificate>, crate::domain::Refusal> {
    let rows = pool
        .get()
        .await?
        .query(
            "SELECT fingerprint, subject, not_before, not_after FROM client_certificates
             WHERE company_code = $1 ORDER BY not_after DESC",
            &[&code.as_str()],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| RegisteredCertificate {
            fingerprint: r.get(0),
            subject: r.get(1),
            not_before: r.get(2),
            not_after: r.get(3),
        })
        .collect())
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

#[cfg(test)]
mod tests {
    use super::*;

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
