//! The one place where errors become HTTP answers: `{code, message_ja, message_en, field?}`.
//! Internal causes are logged with their chain and never sent to the client.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    #[error("invalid field {field}: {en}")]
    InvalidField {
        field: String,
        code: &'static str,
        ja: String,
        en: String,
    },
    #[error("unknown function {0}")]
    UnknownFunction(String),
    #[error("missing or invalid bearer token")]
    Unauthenticated,
    #[error("wrong user id or password")]
    InvalidCredentials,
    #[error("the client certificate belongs to another company")]
    CertificateMismatch,
    #[error("request not found")]
    RequestNotFound,
    #[error("{0} is not open to this registration's kind")]
    FunctionNotAllowed(crate::domain::Function),
    #[error("the original request of a correction or withdrawal was not found")]
    OriginalNotFound,
    #[error("the original request is another function's or another point's")]
    OriginalMismatch,
    #[error("the original request is already {0}")]
    OriginalFinished(&'static str),
    #[error("intermediation not found")]
    IntermediationNotFound,
    #[error("the intermediation is no longer awaiting a decision")]
    IntermediationAlreadyDecided,
    #[error("invalid Idempotency-Key")]
    InvalidIdempotencyKey,
    #[error("Idempotency-Key reused with another body")]
    IdempotencyConflict,
    #[error("broker unavailable: {0}")]
    BrokerUnavailable(String),
    #[error("database unavailable: {0}")]
    DatabaseUnavailable(String),
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

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
}

impl ApiError {
    pub fn invalid(
        field: &str,
        code: &'static str,
        ja: impl Into<String>,
        en: impl Into<String>,
    ) -> Self {
        ApiError::InvalidField {
            field: field.into(),
            code,
            ja: ja.into(),
            en: en.into(),
        }
    }

    /// The machine-readable code, also the `reason` label of the refusal metric.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::MalformedJson(_) => "malformed_json",
            ApiError::InvalidField { code, .. } => code,
            ApiError::UnknownFunction(_) => "unknown_function",
            ApiError::Unauthenticated => "unauthenticated",
            ApiError::InvalidCredentials => "invalid_credentials",
            ApiError::CertificateMismatch => "certificate_company_mismatch",
            ApiError::RequestNotFound => "request_not_found",
            ApiError::FunctionNotAllowed(_) => "function_not_allowed",
            ApiError::OriginalNotFound => "original_not_found",
            ApiError::OriginalMismatch => "original_mismatch",
            ApiError::OriginalFinished(_) => "original_finished",
            ApiError::IntermediationNotFound => "intermediation_not_found",
            ApiError::IntermediationAlreadyDecided => "intermediation_already_decided",
            ApiError::InvalidIdempotencyKey => "invalid_idempotency_key",
            ApiError::IdempotencyConflict => "idempotency_key_reused",
            ApiError::BrokerUnavailable(_) => "broker_unavailable",
            ApiError::DatabaseUnavailable(_) => "database_unavailable",
            ApiError::Internal(_) => "internal_error",
        }
    }

    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ApiError::MalformedJson(_) | ApiError::InvalidIdempotencyKey => StatusCode::BAD_REQUEST,
            ApiError::InvalidField { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::UnknownFunction(_) | ApiError::RequestNotFound => StatusCode::NOT_FOUND,
            ApiError::Unauthenticated | ApiError::InvalidCredentials => StatusCode::UNAUTHORIZED,
            ApiError::CertificateMismatch | ApiError::FunctionNotAllowed(_) => {
                StatusCode::FORBIDDEN
            }
            ApiError::OriginalNotFound | ApiError::OriginalMismatch => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::OriginalFinished(_) => StatusCode::CONFLICT,
            ApiError::IdempotencyConflict => StatusCode::CONFLICT,
            ApiError::IntermediationNotFound => StatusCode::NOT_FOUND,
            ApiError::IntermediationAlreadyDecided => StatusCode::CONFLICT,
            ApiError::BrokerUnavailable(_) | ApiError::DatabaseUnavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub(crate) fn messages(&self) -> (String, String) {
        let pair = |ja: &str, en: &str| (ja.to_string(), en.to_string());
        match self {
            ApiError::MalformedJson(e) => (
                "リクエスト本文がJSONとして解釈できません".into(),
                format!("the request body is not valid JSON: {e}"),
            ),
            ApiError::InvalidField { ja, en, .. } => (ja.clone(), en.clone()),
            ApiError::UnknownFunction(f) => (
                format!("機能 {f} は存在しません"),
                format!("there is no function {f}"),
            ),
            ApiError::Unauthenticated => pair(
                "ログインが必要です(Authorization: Bearer トークンが無効です)",
                "log in first: the Authorization bearer token is missing, invalid or expired",
            ),
            ApiError::InvalidCredentials => pair(
                "ユーザIDまたはパスワードが正しくありません",
                "wrong user id or password",
            ),
            ApiError::CertificateMismatch => pair(
                "クライアント証明書が利用者の事業者のものではありません",
                "the client certificate is not registered to the user's company",
            ),
            ApiError::RequestNotFound => pair(
                "指定された受付番号の申請は見つかりません",
                "no request with this id exists for your company",
            ),
            ApiError::FunctionNotAllowed(f) => (
                format!("需要抑制契約者は機能「{}」を利用できません", f.name_ja()),
                format!("a demand-response contractor may not call {f}"),
            ),
            ApiError::OriginalNotFound => pair(
                "訂正・取消の対象の申請(original_request_id)が見つかりません",
                "original_request_id names no request of your company",
            ),
            ApiError::OriginalMismatch => pair(
                "訂正・取消は元の申請と同じ機能・同じ供給地点で行ってください",
                "a correction or withdrawal must be of the original's function and point",
            ),
            ApiError::OriginalFinished(status) => (
                format!("元の申請は既に処理が終わっているため訂正・取消できません(状態: {status})"),
                format!(
                    "the original request is already {status} and can no longer be corrected or withdrawn"
                ),
            ),
            ApiError::IntermediationNotFound => pair(
                "指定されたスイッチング廃止取次は見つかりません",
                "no intermediation with this id is addressed to or registered by your company",
            ),
            ApiError::IntermediationAlreadyDecided => pair(
                "このスイッチング廃止取次は既に判断・取下げ・期限切れのいずれかとなっているか、処理中です",
                "this intermediation is no longer awaiting a decision (decided, withdrawn, expired, or a change is in progress)",
            ),
            ApiError::InvalidIdempotencyKey => pair(
                "Idempotency-Key は1〜128文字の英数字記号で指定してください",
                "Idempotency-Key must be 1 to 128 visible ASCII characters",
            ),
            ApiError::IdempotencyConflict => pair(
                "同じ Idempotency-Key で異なる内容の申請が送信されました",
                "this Idempotency-Key was already used with a different body",
            ),
            ApiError::BrokerUnavailable(_) | ApiError::DatabaseUnavailable(_) => pair(
                "一時的に受付できません。しばらくしてから再送してください(申請は受け付けられていません)",
                "temporarily unable to accept; nothing was accepted, retry later",
            ),
            ApiError::Internal(_) => pair("システムエラーが発生しました", "internal error"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Internal(_)
            | ApiError::BrokerUnavailable(_)
            | ApiError::DatabaseUnavailable(_) => {
                tracing::error!(error = %self, "request failed")
            }
            _ => tracing::debug!(error = %self, "request refused"),
        }
        let (message_ja, message_en) = self.messages();
        let field = match &self {
            ApiError::InvalidField { field, .. } => Some(field.clone()),
            _ => None,
        };
        let body = ErrorBody {
            code: self.code(),
            message_ja,
            message_en,
            field,
        };
        let mut resp = (self.status(), Json(body)).into_response();
        if matches!(
            self,
            ApiError::BrokerUnavailable(_) | ApiError::DatabaseUnavailable(_)
        ) {
            resp.headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("5"));
        }
        resp
    }
}

impl From<deadpool_postgres::PoolError> for ApiError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        ApiError::DatabaseUnavailable(e.to_string())
    }
}

impl From<tokio_postgres::Error> for ApiError {
    fn from(e: tokio_postgres::Error) -> Self {
        if e.is_closed() || e.as_db_error().is_none() {
            ApiError::DatabaseUnavailable(e.to_string())
        } else {
            ApiError::Internal(e.into())
        }
    }
}
