//! `POST /api/v1/<function>`: hands the body to [`crate::requests::Submissions::submit`] and
//! answers `202 Accepted` once the broker has acknowledged the record.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;

use super::AppState;
use crate::accounts::Principal;
use crate::domain::{Function, Refusal, RequestId, RequestStatus};

/// 受付: the request is on the broker.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Accepted {
    request_id: String,
    status: &'static str,
    status_ja: &'static str,
    status_url: String,
}

impl From<RequestId> for Accepted {
    fn from(id: RequestId) -> Self {
        Accepted {
            request_id: id.to_string(),
            status: RequestStatus::Accepted.as_str(),
            status_ja: RequestStatus::Accepted.label_ja(),
            status_url: format!("/api/v1/requests/{id}"),
        }
    }
}

pub async fn submit(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    principal: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Accepted>), Refusal> {
    let function: Function = slug
        .parse()
        .map_err(|_| Refusal::UnknownFunction(slug.clone()))?;
    let body = super::error::parse_json(&body);
    let key = headers.get("idempotency-key").map(|v| v.as_bytes());
    let id = state
        .submissions
        .submit(&principal, function, body, key)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(id.into())))
}
