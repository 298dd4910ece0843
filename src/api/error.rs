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
    #[error("the client certificate is not registered to the user's registration")]
    CertificateNotRegistered,
    #[error("the client certificate's registration is not valid now")]
    CertificateExpired,
    #[error("the registration is suspended")]
    RegistrationSuspended,
    #[error("the registration has ended")]
    RegistrationEnded,
    #[error("rate limited; retry after {retry_after_secs}s")]
    RateLimited { retry_after_secs: u64 },
    #[error("closed for maintenance until {until}")]
    Maintenance {
        until: chrono::DateTime<chrono::Utc>,
        message: String,
    },
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
    #[error("the account is locked")]
    AccountLocked,
    #[error("the account is disabled")]
    AccountDisabled,
    #[error("the initial password must be changed first")]
    PasswordChangeRequired,
    #[error("only the registration's administrator may do this")]
    AdministratorRequired,
    #[error("user not found")]
    UserNotFound,
    #[error("user {0} exists already")]
    UserExists(String),
    #[error("the user may not call {0}")]
    FunctionNotPermitted(crate::domain::Function),
    #[error("{0} cannot be given to a user of this registration's kind")]
    PermissionNotAllowedForKind(crate::domain::Function),
    #[error("contractor {0} is not authorised by this registration")]
    ContractorNotAuthorised(String),
    #[error("contractor not found")]
    ContractorNotFound,
    #[error("the contractor's authorisation was revoked")]
    ContractorRevoked,
    #[error("notice not found")]
    NoticeNotFound,
    #[error("mail could not be sent: {0}")]
    MailUnavailable(String),
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
    /// During maintenance: its planned end.
    #[serde(skip_serializing_if = "Option::is_none")]
    until: Option<chrono::DateTime<chrono::Utc>>,
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

    /// A request body as JSON of `T`, or 400 `malformed_json` saying why not.
    pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
        serde_json::from_slice(body).map_err(|e| ApiError::MalformedJson(e.to_string()))
    }

    /// A query string axum could not read into the handler's filters: 422 `invalid_query`.
    pub fn bad_query(e: axum::extract::rejection::QueryRejection) -> ApiError {
        ApiError::invalid(
            "query",
            "invalid_query",
            "検索条件の指定が正しくありません",
            e.body_text(),
        )
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
            ApiError::CertificateNotRegistered => "certificate_not_registered",
            ApiError::CertificateExpired => "certificate_expired",
            ApiError::RegistrationSuspended => "registration_suspended",
            ApiError::RegistrationEnded => "registration_ended",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Maintenance { .. } => "maintenance",
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
            ApiError::AccountLocked => "account_locked",
            ApiError::AccountDisabled => "account_disabled",
            ApiError::PasswordChangeRequired => "password_change_required",
            ApiError::AdministratorRequired => "administrator_required",
            ApiError::UserNotFound => "user_not_found",
            ApiError::UserExists(_) => "user_exists",
            ApiError::FunctionNotPermitted(_) => "function_not_permitted",
            ApiError::PermissionNotAllowedForKind(_) => "permission_not_allowed_for_kind",
            ApiError::ContractorNotAuthorised(_) => "contractor_not_authorised",
            ApiError::ContractorNotFound => "contractor_not_found",
            ApiError::ContractorRevoked => "contractor_revoked",
            ApiError::NoticeNotFound => "notice_not_found",
            ApiError::MailUnavailable(_) => "mail_unavailable",
            ApiError::Internal(_) => "internal_error",
        }
    }

    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ApiError::MalformedJson(_) | ApiError::InvalidIdempotencyKey => StatusCode::BAD_REQUEST,
            ApiError::InvalidField { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::UnknownFunction(_) | ApiError::RequestNotFound => StatusCode::NOT_FOUND,
            ApiError::Unauthenticated | ApiError::InvalidCredentials => StatusCode::UNAUTHORIZED,
            ApiError::CertificateMismatch
            | ApiError::FunctionNotAllowed(_)
            | ApiError::CertificateNotRegistered
            | ApiError::CertificateExpired
            | ApiError::RegistrationSuspended
            | ApiError::RegistrationEnded
            | ApiError::ContractorRevoked => StatusCode::FORBIDDEN,
            ApiError::ContractorNotAuthorised(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::ContractorNotFound | ApiError::NoticeNotFound => StatusCode::NOT_FOUND,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Maintenance { .. } => StatusCode::SERVICE_UNAVAILABLE,
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
            ApiError::AccountLocked | ApiError::AccountDisabled => StatusCode::UNAUTHORIZED,
            ApiError::PasswordChangeRequired
            | ApiError::AdministratorRequired
            | ApiError::FunctionNotPermitted(_) => StatusCode::FORBIDDEN,
            ApiError::UserNotFound => StatusCode::NOT_FOUND,
            ApiError::UserExists(_) => StatusCode::CONFLICT,
            ApiError::PermissionNotAllowedForKind(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::MailUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
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
            ApiError::CertificateNotRegistered => pair(
                "クライアント証明書が利用者の登録に登録されていません",
                "the client certificate is not registered to the user's registration",
            ),
            ApiError::CertificateExpired => pair(
                "クライアント証明書の登録の有効期間外です(期限切れまたは有効期間開始前)",
                "the client certificate's registration is not valid now (expired or not yet valid)",
            ),
            ApiError::RegistrationSuspended => pair(
                "この事業者の利用は中断されています",
                "this registration is suspended; every call is refused until it is resumed",
            ),
            ApiError::RegistrationEnded => pair(
                "この事業者の利用契約は終了しています",
                "this registration has ended; every call is refused",
            ),
            ApiError::RateLimited { retry_after_secs } => (
                format!("リクエストが多すぎます。{retry_after_secs}秒後に再送してください"),
                format!("too many requests; retry after {retry_after_secs} s"),
            ),
            ApiError::Maintenance { until, message } => (
                format!(
                    "メンテナンスのため停止中です(終了予定: {}){}",
                    until.with_timezone(&chrono::FixedOffset::east_opt(9 * 3600).expect("JST")),
                    if message.is_empty() {
                        String::new()
                    } else {
                        format!(" {message}")
                    }
                ),
                format!(
                    "closed for maintenance until {until}{}",
                    if message.is_empty() {
                        String::new()
                    } else {
                        format!(": {message}")
                    }
                ),
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
            ApiError::AccountLocked => pair(
                "ログインの失敗が続いたためアカウントがロックされています。貴社の管理者にロック解除を依頼してください",
                "the account is locked after repeated failed logins; ask your administrator to unlock it",
            ),
            ApiError::AccountDisabled => pair(
                "アカウントが無効です。貴社の管理者に有効化を依頼してください",
                "the account is disabled; ask your administrator to enable it",
            ),
            ApiError::PasswordChangeRequired => pair(
                "初期パスワードを変更してください(POST /api/v1/session/password)",
                "change the initial password first (POST /api/v1/session/password)",
            ),
            ApiError::AdministratorRequired => pair(
                "この操作は事業者の管理者のみ行えます",
                "only the registration's administrator may do this",
            ),
            ApiError::UserNotFound => pair(
                "指定されたユーザIDは見つかりません",
                "no user with this id exists in your registration",
            ),
            ApiError::UserExists(u) => (
                format!("ユーザID {u} は既に登録されています"),
                format!("user id {u} is already registered"),
            ),
            ApiError::FunctionNotPermitted(f) => (
                format!("機能「{}」の利用権限がありません", f.name_ja()),
                format!("you are not permitted to call {f}"),
            ),
            ApiError::PermissionNotAllowedForKind(f) => (
                format!(
                    "機能「{}」は需要抑制契約者の利用者に設定できません",
                    f.name_ja()
                ),
                format!("{f} cannot be given to a demand-response contractor's user"),
            ),
            ApiError::ContractorNotAuthorised(c) => (
                format!("法人番号 {c} の受託者はこの事業者から委託されていません"),
                format!("contractor {c} is not authorised to act for this registration"),
            ),
            ApiError::ContractorNotFound => pair(
                "指定された受託者は見つかりません",
                "no contractor with this corporate number is authorised by your registration",
            ),
            ApiError::ContractorRevoked => pair(
                "受託者への委託が取り消されているため利用できません",
                "the authorisation of this user's contractor was revoked; every call is refused",
            ),
            ApiError::NoticeNotFound => pair(
                "指定されたインフォメーションは見つかりません",
                "no notice with this id exists",
            ),
            ApiError::MailUnavailable(_) => pair(
                "メールを送信できないため処理を行いませんでした。しばらくしてから再度実行してください",
                "mail could not be sent, so nothing was done; retry later",
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
            | ApiError::DatabaseUnavailable(_)
            | ApiError::MailUnavailable(_) => {
                tracing::error!(error = %self, "request failed")
            }
            _ => tracing::debug!(error = %self, "request refused"),
        }
        let (message_ja, message_en) = self.messages();
        let field = match &self {
            ApiError::InvalidField { field, .. } => Some(field.clone()),
            _ => None,
        };
        let until = match &self {
            ApiError::Maintenance { until, .. } => Some(*until),
            _ => None,
        };
        let body = ErrorBody {
            code: self.code(),
            message_ja,
            message_en,
            field,
            until,
        };
        let mut resp = (self.status(), Json(body)).into_response();
        if matches!(
            self,
            ApiError::BrokerUnavailable(_) | ApiError::DatabaseUnavailable(_)
        ) {
            resp.headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("5"));
        }
        let retry_after = match &self {
            ApiError::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            ApiError::Maintenance { until, .. } => Some(seconds_until(*until)),
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
