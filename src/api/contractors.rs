//! 受託者 (terms 2.3): a registration's administrator lets a contractor act for it. The
//! contractor, named by its 法人番号, gets users of the registration (marked with it); what they
//! do is the registration's, and the audit trail names the contractor. Revoking keeps the row
//! (the trail refers to it) and refuses its users at once: their sessions end, and every API
//! process refuses them within the gate's second.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_postgres::Row;

use super::AppState;
use super::users::require_admin;
use crate::accounts::Principal;
use crate::audit;
use crate::domain::CorporateNumber;
use crate::domain::Refusal;

/// A contractor as the registration's administrator sees it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ContractorView {
    /// 法人番号 of the contractor.
    corporate_number: String,
    name: String,
    authorised_at: DateTime<Utc>,
    /// Set once revoked: its users are refused.
    revoked_at: Option<DateTime<Utc>>,
    /// How many users of the registration work for it.
    users: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ContractorList {
    contractors: Vec<ContractorView>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthoriseBody {
    /// The contractor's company name.
    name: String,
}

const SELECT: &str = "SELECT k.corporate_number, k.name, k.authorised_at, k.revoked_at,
            (SELECT count(*) FROM users u
             WHERE u.company_code = k.company_code AND u.contractor = k.corporate_number)
     FROM contractors k";

fn view(r: &Row) -> ContractorView {
    ContractorView {
        corporate_number: r.get(0),
        name: r.get(1),
        authorised_at: r.get(2),
        revoked_at: r.get(3),
        users: r.get(4),
    }
}

async fn one(
    client: &impl deadpool_postgres::GenericClient,
    principal: &Principal,
    number: &CorporateNumber,
) -> Result<Row, Refusal> {
    Ok(client
        .query_one(
            &format!("{SELECT} WHERE k.company_code = $1 AND k.corporate_number = $2"),
            &[&principal.company.as_str(), &number.as_str()],
        )
        .await?)
}

/// The 法人番号 in a path or body, or a 422 that says what is wrong with it.
pub(super) fn corporate_number(field: &str, s: &str) -> Result<CorporateNumber, Refusal> {
    CorporateNumber::parse(s).map_err(|e| {
        Refusal::invalid(
            field,
            "invalid_corporate_number",
            "法人番号は検査用数字を含む13桁の数字で指定してください",
            e.to_string(),
        )
    })
}

/// 受託者一覧: the contractors the registration has authorised (revoked ones too).
#[utoipa::path(get, path = "/api/v1/admin/contractors", tag = "管理者機能",
    responses(
        (status = 200, description = "The registration's contractors", body = ContractorList),
        (status = 403, description = "administrator_required", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<ContractorList>, Refusal> {
    require_admin(&principal)?;
    let rows = state
        .pool
        .get()
        .await?
        .query(
            &format!("{SELECT} WHERE k.company_code = $1 ORDER BY k.corporate_number"),
            &[&principal.company.as_str()],
        )
        .await?;
    Ok(Json(ContractorList {
        contractors: rows.iter().map(view).collect(),
    }))
}

/// 受託者の登録: lets the contractor act for the registration (again, after a revocation).
#[utoipa::path(put, path = "/api/v1/admin/contractors/{corporate_number}", tag = "管理者機能",
    params(("corporate_number" = String, Path, description = "受託者の法人番号 (13 digits)")),
    request_body = AuthoriseBody,
    responses(
        (status = 200, description = "Authorised", body = ContractorView),
        (status = 403, description = "administrator_required", body = super::error::ErrorBody),
        (status = 422, description = "invalid_corporate_number, invalid_name", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn authorise(
    State(state): State<AppState>,
    principal: Principal,
    Path(number): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<ContractorView>, Refusal> {
    require_admin(&principal)?;
    let number = corporate_number("corporate_number", &number)?;
    let body: AuthoriseBody = super::error::parse_json(&body)?;
    if body.name.trim().is_empty() || body.name.chars().count() > 200 {
        return Err(Refusal::invalid(
            "name",
            "invalid_name",
            "受託者名は1〜200文字で指定してください",
            "name is 1 to 200 characters",
        ));
    }
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute(
        "INSERT INTO contractors (company_code, corporate_number, name) VALUES ($1, $2, $3)
         ON CONFLICT (company_code, corporate_number) DO UPDATE SET
             name = EXCLUDED.name,
             authorised_at = CASE WHEN contractors.revoked_at IS NULL
                                  THEN contractors.authorised_at ELSE now() END,
             revoked_at = NULL",
        &[&principal.company.as_str(), &number.as_str(), &body.name],
    )
    .await?;
    audit::record(
        &tx,
        &principal,
        "contractor.authorise",
        number.as_str(),
        serde_json::json!({ "name": body.name }),
    )
    .await?;
    let row = one(&tx, &principal, &number).await?;
    tx.commit().await?;
    state.gate.forget_company(&principal.company);
    Ok(Json(view(&row)))
}

/// 受託者の取消: the contractor may no longer act for the registration; its users are refused
/// from now on (their sessions end) and kept, with everything they did.
#[utoipa::path(delete, path = "/api/v1/admin/contractors/{corporate_number}", tag = "管理者機能",
    params(("corporate_number" = String, Path, description = "受託者の法人番号 (13 digits)")),
    responses(
        (status = 200, description = "Revoked", body = ContractorView),
        (status = 403, description = "administrator_required", body = super::error::ErrorBody),
        (status = 404, description = "contractor_not_found", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    Path(number): Path<String>,
) -> Result<Json<ContractorView>, Refusal> {
    require_admin(&principal)?;
    let number = corporate_number("corporate_number", &number)?;
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let n = tx
        .execute(
            "UPDATE contractors SET revoked_at = coalesce(revoked_at, now())
             WHERE company_code = $1 AND corporate_number = $2",
            &[&principal.company.as_str(), &number.as_str()],
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
            &[&principal.company.as_str(), &number.as_str()],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    audit::record(
        &tx,
        &principal,
        "contractor.revoke",
        number.as_str(),
        serde_json::json!({ "sessions_ended": users.len() }),
    )
    .await?;
    let row = one(&tx, &principal, &number).await?;
    tx.commit().await?;
    for user in &users {
        state.sessions.forget_user(user);
    }
    state.gate.forget_company(&principal.company);
    Ok(Json(view(&row)))
}
