//! 受託者 (terms 2.3): a registration's administrator lets a contractor act for it. The
//! contractor, named by its 法人番号, gets users of the registration (marked with it); what they
//! do is the registration's, and the audit trail names the contractor. Revoking keeps the row
//! (the trail refers to it) and refuses its users at once: their sessions end, and every API
//! process refuses them within the gate's second.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::administration::require_admin;
use super::{Accounts, Principal};
use crate::audit;
use crate::domain::{CompanyCode, CorporateNumber, Refusal};

/// A contractor as the registration's administrator sees it.
#[derive(Debug, Clone)]
pub struct Contractor {
    /// 法人番号 of the contractor.
    pub corporate_number: String,
    pub name: String,
    pub authorised_at: DateTime<Utc>,
    /// Set once revoked: its users are refused.
    pub revoked_at: Option<DateTime<Utc>>,
    /// How many users of the registration work for it.
    pub users: i64,
}

const SELECT: &str = "SELECT k.corporate_number, k.name, k.authorised_at, k.revoked_at,
            (SELECT count(*) FROM users u
             WHERE u.company_code = k.company_code AND u.contractor = k.corporate_number)
     FROM contractors k";

fn contractor(r: &Row) -> Contractor {
    Contractor {
        corporate_number: r.get(0),
        name: r.get(1),
        authorised_at: r.get(2),
        revoked_at: r.get(3),
        users: r.get(4),
    }
}

async fn one(
    client: &impl GenericClient,
    company: &CompanyCode,
    number: &CorporateNumber,
) -> Result<Contractor, Refusal> {
    let row = client
        .query_one(
            &format!("{SELECT} WHERE k.company_code = $1 AND k.corporate_number = $2"),
            &[&company.as_str(), &number.as_str()],
        )
        .await?;
    Ok(contractor(&row))
}

/// A 法人番号 given as `field`, or a refusal that says what is wrong with it.
pub fn corporate_number(field: &str, s: &str) -> Result<CorporateNumber, Refusal> {
    CorporateNumber::parse(s).map_err(|e| {
        Refusal::invalid(
            field,
            "invalid_corporate_number",
            "法人番号は検査用数字を含む13桁の数字で指定してください",
            e.to_string(),
        )
    })
}

/// Refuses unless `company` authorises the contractor `number` now; holds the authorisation
/// (FOR SHARE) until the caller's transaction ends, so a revocation cannot slip in between.
pub(super) async fn require_authorised(
    client: &impl GenericClient,
    company: &CompanyCode,
    number: &CorporateNumber,
) -> Result<(), Refusal> {
    let authorised = client
        .query_opt(
            "SELECT 1 FROM contractors
             WHERE company_code = $1 AND corporate_number = $2 AND revoked_at IS NULL
             FOR SHARE",
            &[&company.as_str(), &number.as_str()],
        )
        .await?;
    match authorised {
        Some(_) => Ok(()),
        None => Err(Refusal::ContractorNotAuthorised(number.to_string())),
    }
}

impl Accounts {
    /// 受託者一覧: the contractors the registration has authorised (revoked ones too).
    pub async fn list_contractors(&self, admin: &Principal) -> Result<Vec<Contractor>, Refusal> {
        require_admin(admin)?;
        let rows = self
            .pool
            .get()
            .await?
            .query(
                &format!("{SELECT} WHERE k.company_code = $1 ORDER BY k.corporate_number"),
                &[&admin.company.as_str()],
            )
            .await?;
        Ok(rows.iter().map(contractor).collect())
    }

    /// 受託者の登録: lets the contractor act for the registration (again, after a revocation).
    pub async fn authorise_contractor(
        &self,
        admin: &Principal,
        number: &CorporateNumber,
        name: &str,
    ) -> Result<Contractor, Refusal> {
        require_admin(admin)?;
        if name.trim().is_empty() || name.chars().count() > 200 {
            return Err(Refusal::invalid(
                "name",
                "invalid_name",
                "受託者名は1〜200文字で指定してください",
                "name is 1 to 200 characters",
            ));
        }
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO contractors (company_code, corporate_number, name) VALUES ($1, $2, $3)
             ON CONFLICT (company_code, corporate_number) DO UPDATE SET
                 name = EXCLUDED.name,
                 authorised_at = CASE WHEN contractors.revoked_at IS NULL
                                      THEN contractors.authorised_at ELSE now() END,
                 revoked_at = NULL",
            &[&admin.company.as_str(), &number.as_str(), &name],
        )
        .await?;
        let detail = serde_json::json!({ "name": name });
        audit::record(&tx, admin, "contractor.authorise", number.as_str(), detail).await?;
        let authorised = one(&tx, &admin.company, number).await?;
        tx.commit().await?;
        self.gate.forget_company(&admin.company);
        Ok(authorised)
    }

    /// 受託者の取消: the contractor may no longer act for the registration; its users are
    /// refused from now on (their sessions end) and kept, with everything they did.
    pub async fn revoke_contractor(
        &self,
        admin: &Principal,
        number: &CorporateNumber,
    ) -> Result<Contractor, Refusal> {
        require_admin(admin)?;
        let company = admin.company.as_str();
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let n = tx
            .execute(
                "UPDATE contractors SET revoked_at = coalesce(revoked_at, now())
                 WHERE company_code = $1 AND corporate_number = $2",
                &[&company, &number.as_str()],
            )
            .await?;
        if n == 0 {
            return Err(Refusal::ContractorNotFound);
        }
        let users: Vec<String> = tx
            .query(
                "DELETE FROM sessions s USING users u
                 WHERE s.user_id = u.user_id AND u.company_code = $1 AND u.contractor = $2
                 RETURNING u.user_id",
                &[&company, &number.as_str()],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let detail = serde_json::json!({ "sessions_ended": users.len() });
        audit::record(&tx, admin, "contractor.revoke", number.as_str(), detail).await?;
        let revoked = one(&tx, &admin.company, number).await?;
        tx.commit().await?;
        for user in &users {
            self.forget(user);
        }
        self.gate.forget_company(&admin.company);
        Ok(revoked)
    }
}
