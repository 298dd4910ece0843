//! The one place where errors become HTTP answers: `{code, message_ja, message_en, field?}`.
//! Internal causes are logged with their chain and never sent to the client.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::domain::Refusal;

/// Every refusal: a machine-readable code, the message in Japanese and English, and the field
/// at fault where there is one.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    #[schema(example = "invalid_supply_point_id")]
    code: &'static str,
    message_ja: String,
    message_en: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
    /// During maintenance: its planned end.
    #[serde(skip_serializing_if = "Option::is_none")]
    until: Option<chrono::DateTime<chrono::Utc>>,
}

/// How each refusal answers over HTTP.
pub(crate) fn status(r: &Refusal) -> StatusCode {
    match r {
        Refusal::MalformedJson(_) | Refusal::InvalidIdempotencyKey => StatusCode::BAD_REQUEST,
        Refusal::InvalidField { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        Refusal::UnknownFunction(_) | Refusal::RequestNotFound => StatusCode::NOT_FOUND,
        Refusal::Unauthenticated | Refusal::InvalidCredentials => StatusCode::UNAUTHORIZED,
        Refusal::CertificateMismatch
        | Refusal::FunctionNotAllowed(_)
        | Refusal::CertificateNotRegistered
        | Refusal::CertificateExpired
        | Refusal::RegistrationSuspended
        | Refusal::RegistrationEnded
        | Refusal::ContractorRevoked => StatusCode::FORBIDDEN,
        Refusal::ContractorNotAuthorised(_) => StatusCode::UNPROCESSABLE_ENTITY,
        Refusal::ContractorNotFound | Refusal::NoticeNotFound => StatusCode::NOT_FOUND,
        Refusal::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        Refusal::Maintenance { .. } => StatusCode::SERVICE_UNAVAILABLE,
        Refusal::OriginalNotFound | Refusal::OriginalMismatch => StatusCode::UNPROCESSABLE_ENTITY,
        Refusal::OriginalFinished(_) => StatusCode::CONFLICT,
        Refusal::IdempotencyConflict => StatusCode::CONFLICT,
        Refusal::IntermediationNotFound => StatusCode::NOT_FOUND,
        Refusal::IntermediationAlreadyDecided | Refusal::IntermediationAlreadyOpen => {
            StatusCode::CONFLICT
        }
        Refusal::BrokerUnavailable(_) | Refusal::DatabaseUnavailable(_) | Refusal::Busy => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        Refusal::AccountLocked | Refusal::AccountDisabled => StatusCode::UNAUTHORIZED,
        Refusal::PasswordChangeRequired
        | Refusal::AdministratorRequired
        | Refusal::FunctionNotPermitted(_) => StatusCode::FORBIDDEN,
        Refusal::UserNotFound => StatusCode::NOT_FOUND,
        Refusal::UserExists(_) => StatusCode::CONFLICT,
        Refusal::PermissionNotAllowedForKind(_) => StatusCode::UNPROCESSABLE_ENTITY,
        Refusal::MailUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        Refusal::BulkBatchNotFound => StatusCode::NOT_FOUND,
        Refusal::BulkFileTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        Refusal::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match &self {
            Refusal::Internal(_)
            | Refusal::BrokerUnavailable(_)
            | Refusal::DatabaseUnavailable(_)
            | Refusal::MailUnavailable(_) => {
                tracing::error!(error = %self, "request failed")
            }
            _ => tracing::debug!(error = %self, "request refused"),
        }
        let (message_ja, message_en) = self.messages();
        let field = match &self {
            Refusal::InvalidField { field, .. } => Some(field.clone()),
            _ => None,
        };
        let until = match &self {
            Refusal::Maintenance { until, .. } => Some(*until),
            _ => None,
        };
        let body = ErrorBody {
            code: self.code(),
            message_ja,
            message_en,
            field,
            until,
        };
        let mut resp = (status(&self), Json(body)).into_response();
        if matches!(
            self,
            Refusal::BrokerUnavailable(_) | Refusal::DatabaseUnavailable(_) | Refusal::Busy
        ) {
            resp.headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("5"));
        }
        let retry_after = match &self {
            Refusal::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            Refusal::Maintenance { until, .. } => Some(seconds_until(*until)),
            _ => None,
        };
        if let Some(secs) = retry_after {
            resp.headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from(secs.max(1)));
        }
        resp
    }
}

/// Whole seconds from now until `t`, rounded up (0 when past).
pub(crate) fn seconds_until(t: chrono::DateTime<chrono::Utc>) -> u64 {
    let ms = (t - chrono::Utc::now()).num_milliseconds().max(0) as u64;
    ms.div_ceil(1000)
}

/// A request body as JSON of `T`, or 400 `malformed_json` saying why not.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Refusal> {
    serde_json::from_slice(body).map_err(|e| Refusal::MalformedJson(e.to_string()))
}

/// A query string axum could not read into the handler's filters: 422 `invalid_query`.
pub fn bad_query(e: axum::extract::rejection::QueryRejection) -> Refusal {
    Refusal::invalid(
        "query",
        "invalid_query",
        "検索条件の指定が正しくありません",
        e.body_text(),
    )
}
