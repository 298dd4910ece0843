//! The audit trail of reads of personal data (names, addresses, contract numbers): one row of
//! `audit_log` per read, written before the data is answered, and of every administrative action
//! of the hub operator (registrations, certificates, suspension, maintenance). Append-only:
//! nothing here (or anywhere) updates or deletes a row; `kirikae audit` only reads it.

use deadpool_postgres::GenericClient;

use crate::api::Principal;

/// Records that `principal` did `action` on `subject` (an id, or `*` for a list).
pub async fn record<C: GenericClient>(
    client: &C,
    principal: &Principal,
    action: &str,
    subject: &str,
    detail: serde_json::Value,
) -> Result<(), tokio_postgres::Error> {
    record_as(
        client,
        principal.company.as_str(),
        &principal.user_id,
        action,
        subject,
        detail,
    )
    .await
}

/// Records an action of someone who is not a logged-in user (the hub operator at the CLI):
/// `company` is the registration acted on, or `-` for the whole hub (maintenance).
pub async fn record_as<C: GenericClient>(
    client: &C,
    company: &str,
    actor: &str,
    action: &str,
    subject: &str,
    detail: serde_json::Value,
) -> Result<(), tokio_postgres::Error> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO audit_log (company_code, user_id, action, subject_id, detail)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .await?;
    client
        .execute(&stmt, &[&company, &actor, &action, &subject, &detail])
        .await?;
    Ok(())
}
