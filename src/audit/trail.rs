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
    Ok(rows.iter().map(entry_of).collect())
}

/// What the operator's audit screen filters by; every part optional.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Who: the user id (`operator:<id>` for an operator), exactly.
    pub who: Option<String>,
    /// What: the action, or its family (`registration` matches `registration.suspended`).
    pub what: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// The registration acted for (`-` for hub-wide entries).
    pub company: Option<String>,
    /// A supply point: the entries whose subject or detail names it.
    pub point: Option<String>,
}

/// The newest `limit` entries matching `f`, newest first. Read-only, as [`audit_log`].
pub async fn search(
    pool: &Pool,
    f: &AuditFilter,
    limit: i64,
) -> Result<Vec<AuditEntry>, crate::domain::Refusal> {
    let rows = pool
        .get()
        .await?
        .query(
            "SELECT at, company_code, user_id, action, subject_id, detail, contractor,
                    certificate
             FROM audit_log
             WHERE ($1::text IS NULL OR user_id = $1)
               AND ($2::text IS NULL OR action = $2 OR action LIKE $2 || '.%')
               AND ($3::timestamptz IS NULL OR at >= $3)
               AND ($4::timestamptz IS NULL OR at < $4)
               AND ($5::text IS NULL OR company_code = $5)
               AND ($6::text IS NULL OR subject_id = $6 OR detail->>'point_id' = $6
                    OR detail->>'supply_point_id' = $6)
             ORDER BY id DESC LIMIT $7",
            &[
                &f.who, &f.what, &f.since, &f.until, &f.company, &f.point, &limit,
            ],
        )
        .await?;
    Ok(rows.iter().map(entry_of).collect())
}

/// A row of the two reads above (their columns in the same order).
fn entry_of(r: &tokio_postgres::Row) -> AuditEntry {
    AuditEntry {
        at: r.get(0),
        company_code: r.get(1),
        user_id: r.get(2),
        action: r.get(3),
        subject_id: r.get(4),
        detail: r.get(5),
        contractor: r.get(6),
        certificate: r.get(7),
    }
}
