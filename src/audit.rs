//! The audit trail of reads of personal data (names, addresses, contract numbers): one row of
//! `audit_log` per read, written before the data is answered. Append-only: nothing here (or
//! anywhere) updates or deletes a row.

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
    let stmt = client
        .prepare_cached(
            "INSERT INTO audit_log (company_code, user_id, action, subject_id, detail)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .await?;
    client
        .execute(
            &stmt,
            &[
                &principal.company.as_str(),
                &principal.user_id,
                &action,
                &subject,
                &detail,
            ],
        )
        .await?;
    Ok(())
}
