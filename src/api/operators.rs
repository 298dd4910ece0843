//! 事業者一覧取得 (IS_30110): the registered retailers and DR contractors, so that a retailer can
//! name the other party of a switch by its company code. Answered by the hub alone.

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use super::AppState;
use crate::accounts::{Principal, access};
use crate::domain::Refusal;

/// One registration as every user may see it: no contacts, no users.
#[derive(Serialize, utoipa::ToSchema)]
pub struct OperatorView {
    company_code: String,
    name: String,
    /// retailer or dr_contractor
    kind: String,
    kind_ja: &'static str,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct OperatorList {
    service_id: &'static str,
    items: Vec<OperatorView>,
}

/// 事業者一覧取得 (IS_30110): every registration, by company code; retailers only
/// (a DR registration: 403 `function_not_allowed`).
#[utoipa::path(get, path = "/api/v1/operators", tag = "共通",
    responses((status = 200, body = OperatorList),
        (status = 403, description = "function_not_allowed (a DR registration)", body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<OperatorList>, Refusal> {
    let items = access::operators(&state.pool, &principal)
        .await?
        .into_iter()
        .map(|e| OperatorView {
            company_code: e.code,
            name: e.name,
            kind: e.kind.as_str().to_string(),
            kind_ja: e.kind.name_ja(),
        })
        .collect();
    Ok(Json(OperatorList {
        service_id: "IS_30110",
        items,
    }))
}
