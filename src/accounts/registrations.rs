//! The hub operator's side of a registration (issue 5): registering a company, issuing its one
//! administrator ID, suspending (利用の中断) and ending (利用契約の終了) it. Its client
//! certificates are in `certificates`, the hub's maintenance windows in `maintenance`. Every
//! action here writes `audit_log` in the transaction that makes it.
//!
//! A registration is one row of `companies`, keyed by its 事業者コード, which the client
//! certificate's common name, users, sessions and requests all carry. A company that sells and
//! also runs demand response has two registrations (terms 2.1.1): a retailer's code and a DR
//! contractor's code, tied together by the company's 法人番号, each with its own
//! administrator, certificates, users and data.

use deadpool_postgres::Pool;

use super::users::{Issued, NewUser};
use super::{Accounts, passwords};
use crate::audit;
use crate::domain::{CompanyCode, CompanyKind, CorporateNumber, Refusal, UserId};

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
    Refused(#[from] Refusal),
    #[error(transparent)]
    Db(#[from] tokio_postgres::Error),
    #[error(transparent)]
    Pool(#[from] deadpool_postgres::PoolError),
}

impl RegistrationError {
    /// The refusal a screen shows (the operator's screens): each of these errors as a field's
    /// refusal with a code and a Japanese message; a wrapped refusal as it is; a database
    /// failure as the database's refusal.
    pub fn into_refusal(self) -> Refusal {
        let en = self.to_string();
        let invalid =
            |field: &str, code: &'static str, ja: String| Refusal::invalid(field, code, ja, en);
        match self {
            RegistrationError::UnknownCompany(c) => invalid(
                "code",
                "company_not_registered",
                format!("事業者コード {c} は登録されていません"),
            ),
            RegistrationError::AdminAlreadyIssued(c, u) => invalid(
                "user_id",
                "administrator_already_issued",
                format!(
                    "{c} の管理者ID({u})は発行済みです。管理者IDは1登録につき1回だけ発行します"
                ),
            ),
            RegistrationError::SecondOfKind {
                number, existing, ..
            } => invalid(
                "corporate_number",
                "second_registration_of_kind",
                format!("法人番号 {number} には同じ種別の登録({existing})が既にあります"),
            ),
            RegistrationError::KindChange(c) => invalid(
                "kind",
                "registration_kind_change",
                format!("{c} は別の種別で登録されています。種別は変更できません"),
            ),
            RegistrationError::ContactAddress(m) => invalid(
                "contact_email",
                "invalid_contact_email",
                format!("{m} はメールアドレスとして正しくありません"),
            ),
            RegistrationError::Ended(c) => invalid(
                "code",
                "registration_ended",
                format!("{c} の利用契約は終了しているため再開できません"),
            ),
            RegistrationError::Certificate(e) => invalid(
                "pem",
                "certificate_unreadable",
                format!("証明書を読み取れません(PEM形式の証明書を貼り付けてください): {e}"),
            ),
            RegistrationError::CertificateSubject { cn, code } => invalid(
                "pem",
                "certificate_subject_mismatch",
                format!("証明書のCN({cn})が事業者コード {code} と一致しません"),
            ),
            RegistrationError::CertificateOfAnother(c) => invalid(
                "pem",
                "certificate_of_another_registration",
                format!("この証明書は既に {c} に登録されています"),
            ),
            RegistrationError::Refused(r) => r,
            RegistrationError::Db(e) => e.into(),
            RegistrationError::Pool(e) => e.into(),
        }
    }
}

/// Where a registration stands. Suspended and ended registrations keep their data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr)]
#[strum(serialize_all = "lowercase")]
pub enum RegistrationStatus {
    Active,
    /// 利用の中断: every call refused, resumable.
    Suspended,
    /// 利用契約の終了: every call refused, final; data kept for the retention period.
    Ended,
}

impl RegistrationStatus {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<Self> {
        s.parse().ok()
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
    register_company_by(pool, r, &operator()).await
}

/// [`register_company`] by the operator `by` (a signed-in operator on its screens).
pub async fn register_company_by(
    pool: &Pool,
    r: &NewRegistration<'_>,
    by: &str,
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
        by,
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

/// The kind of the registration `code`, if it is registered (inside the caller's transaction).
pub async fn kind_of<C: deadpool_postgres::GenericClient>(
    client: &C,
    code: &CompanyCode,
) -> Result<Option<CompanyKind>, crate::domain::Refusal> {
    let row = client
        .query_opt(
            "SELECT kind FROM companies WHERE company_code = $1",
            &[&code.as_str()],
        )
        .await?;
    Ok(row.and_then(|r| CompanyKind::parse(r.get(0))))
}

/// The contact addresses of every registration that has not ended, and the codes of those
/// without one: whom a change of the terms is mailed to (terms 1.3.3).
pub async fn contacts<C: deadpool_postgres::GenericClient>(
    client: &C,
) -> Result<(Vec<(String, String)>, Vec<String>), crate::domain::Refusal> {
    let rows = client
        .query(
            "SELECT company_code, coalesce(contact_email, '') FROM companies
             WHERE status <> 'ended' ORDER BY company_code",
            &[],
        )
        .await?;
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for r in rows {
        let (code, mail): (String, String) = (r.get(0), r.get(1));
        if mail.is_empty() {
            without.push(code);
        } else {
            with.push((code, mail));
        }
    }
    Ok((with, without))
}

/// One entry of the operator list (事業者一覧取得): what every user may see of a registration.
#[derive(Debug, Clone)]
pub struct DirectoryEntry {
    pub code: String,
    pub name: String,
    pub kind: CompanyKind,
}

/// Every registration, by company code, for the operator list: no contacts, no users.
pub async fn directory(pool: &Pool) -> Result<Vec<DirectoryEntry>, crate::domain::Refusal> {
    let rows = pool
        .get()
        .await?
        .query(
            "SELECT company_code, name, kind FROM companies ORDER BY company_code, kind",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            Some(DirectoryEntry {
                code: r.get(0),
                name: r.get(1),
                kind: CompanyKind::parse(r.get(2))?,
            })
        })
        .collect())
}

/// One registration as the hub operator's list shows it.
#[derive(Debug, Clone)]
pub struct RegistrationRow {
    pub code: String,
    pub name: String,
    pub kind: CompanyKind,
    pub status: String,
    pub contact_email: Option<String>,
    pub corporate_number: Option<String>,
    /// The one administrator ID, once issued.
    pub admin_user_id: Option<String>,
}

/// Every registration with its status, contact and administrator: the operator's list.
pub async fn overview(pool: &Pool) -> Result<Vec<RegistrationRow>, Refusal> {
    let rows = pool
        .get()
        .await?
        .query(
            "SELECT company_code, name, kind, status, contact_email, corporate_number,
                    admin_user_id
             FROM companies ORDER BY company_code",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            Some(RegistrationRow {
                code: r.get(0),
                name: r.get(1),
                kind: CompanyKind::parse(r.get(2))?,
                status: r.get(3),
                contact_email: r.get(4),
                corporate_number: r.get(5),
                admin_user_id: r.get(6),
            })
        })
        .collect())
}

impl Accounts {
    /// Issues the registration's one administrator ID (a user with the administrator flag,
    /// its password an initial one the operator chose, its mail the registration's contact
    /// address); a second issue is refused. `companies.admin_user_id` keeps which ID was
    /// issued, which makes "once" atomic; the reservation, the user and the trail are one
    /// transaction.
    pub async fn issue_admin(
        &self,
        code: &CompanyCode,
        user: &UserId,
        name: &str,
        password: &str,
    ) -> Result<(), RegistrationError> {
        self.issue_admin_as(code, user, name, password, true, &operator())
            .await
    }

    /// [`Accounts::issue_admin`] by the operator `by` (a signed-in operator on its screens).
    pub async fn issue_admin_by(
        &self,
        code: &CompanyCode,
        user: &UserId,
        name: &str,
        password: &str,
        by: &str,
    ) -> Result<(), RegistrationError> {
        self.issue_admin_as(code, user, name, password, true, by)
            .await
    }

    /// The same once-only issue with a password the person already chose (no forced change):
    /// `up`'s demo registrations and the tests' log in with it at once. It is still the
    /// registration's one administrator ID, so it cannot make a second one.
    pub async fn issue_admin_with_chosen_password(
        &self,
        code: &CompanyCode,
        user: &UserId,
        name: &str,
        password: &str,
    ) -> Result<(), RegistrationError> {
        self.issue_admin_as(code, user, name, password, false, &operator())
            .await
    }

    async fn issue_admin_as(
        &self,
        code: &CompanyCode,
        user: &UserId,
        name: &str,
        password: &str,
        must_change_password: bool,
        operator: &str,
    ) -> Result<(), RegistrationError> {
        self.check_policy("password", password)?;
        let hash = passwords::hash(password.to_string()).await?;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let reserved = tx
            .query_opt(
                "UPDATE companies SET admin_user_id = $2
                 WHERE company_code = $1 AND admin_user_id IS NULL
                 RETURNING contact_email",
                &[&code.as_str(), &user.as_str()],
            )
            .await?;
        let Some(reserved) = reserved else {
            let row = tx
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
        };
        let mail: Option<String> = reserved.get(0);
        let new = NewUser {
            name: name.to_string(),
            mail: mail.unwrap_or_default(),
            must_change_password,
        };
        self.insert_issued(
            &tx,
            operator,
            code,
            user,
            &hash,
            &new,
            Issued::Administrator,
        )
        .await?;
        let detail = serde_json::json!({});
        let (company, subject) = (code.as_str(), user.as_str());
        audit::record_as(
            &tx,
            company,
            operator,
            "registration.issue_admin",
            subject,
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Suspends, resumes or ends a registration. An ended registration stays ended.
pub async fn set_status(
    pool: &Pool,
    code: &CompanyCode,
    status: RegistrationStatus,
) -> Result<(), RegistrationError> {
    set_status_by(pool, code, status, &operator()).await
}

/// [`set_status`] by the operator `by` (a signed-in operator on its screens). Every session
/// of the registration is refused from the next request on every process (the registration
/// gate, cached for at most `sessions::TRUST`).
pub async fn set_status_by(
    pool: &Pool,
    code: &CompanyCode,
    status: RegistrationStatus,
    by: &str,
) -> Result<(), RegistrationError> {
    let mut client = pool.get().await?;
    let client = client.transaction().await?;
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
        by,
        &format!("registration.{}", status.as_str()),
        code.as_str(),
        serde_json::json!({"before": before}),
    )
    .await?;
    client.commit().await?;
    Ok(())
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
    fn a_registration_error_on_a_screen_is_a_refusal_of_its_field_in_japanese() {
        let r = RegistrationError::AdminAlreadyIssued("A0001".into(), "taro".into()).into_refusal();
        assert_eq!(r.code(), "administrator_already_issued");
        assert!(matches!(&r, Refusal::InvalidField { field, .. } if field == "user_id"));
        assert!(r.messages().0.contains("発行済み"));
        let r = RegistrationError::CertificateSubject {
            cn: "B0002".into(),
            code: "A0001".into(),
        }
        .into_refusal();
        assert_eq!(r.code(), "certificate_subject_mismatch");
        assert!(matches!(&r, Refusal::InvalidField { field, .. } if field == "pem"));
        let inner = RegistrationError::Refused(Refusal::RegistrationEnded).into_refusal();
        assert_eq!(inner.code(), "registration_ended");
    }
}
