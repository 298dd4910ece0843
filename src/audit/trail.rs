//! Reading the trail (the operator's `kirikae audit`): read-only, like everything else here.

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;

/// One row of the audit trail.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub company_code: String,
    pub user_id: String,
    pub action: String,
    pub subject_id: String,
    pub detail: serde_json::Value,
    /// The contractor (受託者) whose user acted for the registration.
    pub contractor: Option<String>,
    /// The client certificate's fingerprint, for a call over the API.
    pub certificate: Option<String>,
}

/// The audit trail since `since`, of one company (or all), oldest first. Read-only.
pub async fn audit_log(
    pool: &Pool,
    company: Option<&str>,
    since: DateTime<Utc>,
) -> Result<Vec<AuditEntry>, crate::domain::Refusal> {
    let rows = pool
        .get()
        .await?
        .query(
            "SELECT at, company_code, user_id, action, subject_id, detail, contractor,
                    certificate
             FROM audit_log
             WHERE at >= $1 AND ($2::text IS NULL OR company_code = $2)
             ORDER BY at, id",
            &[&since, &company],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| AuditEntry {
            at: r.get(0),
            company_code: r.get(1),
            user_id: r.get(2),
            action: r.get(3),
            subject_id: r.get(4),
            detail: r.get(5),
            contractor: r.get(6),
            certificate: r.get(7),
        })
        .collect())
}
