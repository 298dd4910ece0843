//! 受託者 (terms 2.3): a registration's administrator lets a contractor act for it. The
//! contractor, named by its 法人番号, gets users of the registration (marked with it); what they
//! do is the registration's, and the audit trail names the contractor. Revoking keeps the row
//! (the trail refers to it) and refuses its users at once: their sessions end, and every API
//! process refuses them within the gate's second. Over HTTP here; the rules are `accounts`'.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::extract::{Admin, Body};
use crate::accounts::{Contractor, Principal, corporate_number};
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

impl From<Contractor> for ContractorView {
    fn from(c: Contractor) -> Self {
        ContractorView {
            corporate_number: c.corporate_number,
            name: c.name,
            authorised_at: c.authorised_at,
            revoked_at: c.revoked_at,
            users: c.users,
        }
    }
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
    let all = state.accounts.list_contractors(&principal).await?;
    let contractors = all.into_iter().map(ContractorView::from).collect();
    Ok(Json(ContractorList { contractors }))
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
    Admin(principal): Admin,
    Path(number): Path<String>,
    Body(body): Body<AuthoriseBody>,
) -> Result<Json<ContractorView>, Refusal> {
    let number = corporate_number("corporate_number", &number)?;
    let authorised = state
        .accounts
        .authorise_contractor(&principal, &number, &body.name)
        .await?;
    Ok(Json(authorised.into()))
}

/// 受託者の取消: the contractor may no longer act for the registration; its users are refused
/// from now on (their sessions end) and kept, with everything they did.
#[utoipa::path(delete, path = "/api/v1/admin/contractors/{corporate_number}", tag = "管理者機能",
    params(("corporate_number" = String, Path, description = "受託者の法人番号 (13 digits)")),
    responses(
        (status = 200, description = "Revoked", body = ContractorView),
        (status = 403, description = "administrator_required", body = super::error::ErrorBody),
        (status = 404, description = "contractor_not_found", body = super::error::ErrorBody),
        (status = 422, description = "invalid_corporate_number", body = super::error::ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn revoke(
    State(state): State<AppState>,
    Admin(principal): Admin,
    Path(number): Path<String>,
) -> Result<Json<ContractorView>, Refusal> {
    let number = corporate_number("corporate_number", &number)?;
    let revoked = state
        .accounts
        .revoke_contractor(&principal, &number)
        .await?;
    Ok(Json(revoked.into()))
}
