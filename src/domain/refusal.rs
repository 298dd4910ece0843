//! Why a call was not done, in one vocabulary for every front end: a rule's refusal (with a
//! machine-readable code and the message in Japanese and English), or a dependency that failed.
//! The API maps each to an HTTP answer in one place (`api::error`); a web form or a CSV row
//! shows the same code and messages.

#[derive(Debug, thiserror::Error)]
pub enum Refusal {
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
    #[error("the request's body did not arrive within {0} ms")]
    RequestTimeout(u64),
    #[error("closed for maintenance until {until}")]
    Maintenance {
        until: chrono::DateTime<chrono::Utc>,
        message: String,
    },
    #[error("request not found")]
    RequestNotFound,
    #[error("{0} is not open to this registration's kind")]
    FunctionNotAllowed(super::Callable),
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
    #[error("an intermediation of this point by this retailer already awaits a decision")]
    IntermediationAlreadyOpen,
    #[error("invalid Idempotency-Key")]
    InvalidIdempotencyKey,
    #[error("Idempotency-Key reused with another body")]
    IdempotencyConflict,
    #[error("broker unavailable: {0}")]
    BrokerUnavailable(String),
    /// The broker neither acknowledged the request nor surely lacks it (sent, then no answer):
    /// it may be carried out. Its id is given, to follow it or to send it again under the same
    /// `Idempotency-Key`, which carries the same id.
    #[error("the broker may or may not have request {0}")]
    OutcomeUnknown(crate::domain::RequestId),
    #[error("database unavailable: {0}")]
    DatabaseUnavailable(String),
    /// The password work (argon2) of this process is saturated: the call waited its bounded
    /// time for a turn and was answered rather than queued without end.
    #[error("busy: password checks saturated")]
    Busy,
    #[error("the account is locked")]
    AccountLocked,
    #[error("the account is disabled")]
    AccountDisabled,
    #[error("the initial password must be changed first")]
    PasswordChangeRequired,
    #[error("only the registration's administrator may do this")]
    AdministratorRequired,
    #[error("only the hub operator may do this")]
    OperatorRequired,
    #[error("user not found")]
    UserNotFound,
    #[error("user {0} exists already")]
    UserExists(String),
    #[error("the user may not call {0}")]
    FunctionNotPermitted(super::Callable),
    #[error("{0} cannot be given to a user of this registration's kind")]
    PermissionNotAllowedForKind(super::Callable),
    #[error("contractor {0} is not authorised by this registration")]
    ContractorNotAuthorised(String),
    #[error("contractor not found")]
    ContractorNotFound,
    #[error("the contractor's authorisation was revoked")]
    ContractorRevoked,
    #[error("notice not found")]
    NoticeNotFound,
    #[error("malformed event cursor {0:?}")]
    InvalidEventCursor(String),
    #[error("no webhook is registered")]
    WebhookNotFound,
    #[error("mail could not be sent: {0}")]
    MailUnavailable(String),
    #[error("bulk batch not found")]
    BulkBatchNotFound,
    #[error("the file is larger than {0} bytes")]
    BulkFileTooLarge(usize),
    #[error("the body is not application/json")]
    UnsupportedMediaType(&'static str),
    #[error("the body is over the limit of {0} bytes")]
    BodyTooLarge(usize),
    #[error("the path does not take this method")]
    MethodNotAllowed,
    #[error("the request could not be read: {0}")]
    BadRequest(String),
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

impl Refusal {
    pub fn invalid(
        field: &str,
        code: &'static str,
        ja: impl Into<String>,
        en: impl Into<String>,
    ) -> Self {
        Refusal::InvalidField {
            field: field.into(),
            code,
            ja: ja.into(),
            en: en.into(),
        }
    }

    /// The machine-readable code, also the `reason` label of the refusal metric.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::MalformedJson(_) => "malformed_json",
            Refusal::InvalidField { code, .. } => code,
            Refusal::UnknownFunction(_) => "unknown_function",
            Refusal::Unauthenticated => "unauthenticated",
            Refusal::InvalidCredentials => "invalid_credentials",
            Refusal::CertificateMismatch => "certificate_company_mismatch",
            Refusal::CertificateNotRegistered => "certificate_not_registered",
            Refusal::CertificateExpired => "certificate_expired",
            Refusal::RegistrationSuspended => "registration_suspended",
            Refusal::RegistrationEnded => "registration_ended",
            Refusal::RateLimited { .. } => "rate_limited",
            Refusal::RequestTimeout(_) => "request_timeout",
            Refusal::Maintenance { .. } => "maintenance",
            Refusal::RequestNotFound => "request_not_found",
            Refusal::FunctionNotAllowed(_) => "function_not_allowed",
            Refusal::OriginalNotFound => "original_not_found",
            Refusal::OriginalMismatch => "original_mismatch",
            Refusal::OriginalFinished(_) => "original_finished",
            Refusal::IntermediationNotFound => "intermediation_not_found",
            Refusal::IntermediationAlreadyDecided => "intermediation_already_decided",
            Refusal::IntermediationAlreadyOpen => "intermediation_already_open",
            Refusal::InvalidIdempotencyKey => "invalid_idempotency_key",
            Refusal::IdempotencyConflict => "idempotency_key_reused",
            Refusal::BrokerUnavailable(_) => "broker_unavailable",
            Refusal::OutcomeUnknown(_) => "outcome_unknown",
            Refusal::DatabaseUnavailable(_) => "database_unavailable",
            Refusal::Busy => "busy",
            Refusal::AccountLocked => "account_locked",
            Refusal::AccountDisabled => "account_disabled",
            Refusal::PasswordChangeRequired => "password_change_required",
            Refusal::AdministratorRequired => "administrator_required",
            Refusal::OperatorRequired => "operator_required",
            Refusal::UserNotFound => "user_not_found",
            Refusal::UserExists(_) => "user_exists",
            Refusal::FunctionNotPermitted(_) => "function_not_permitted",
            Refusal::PermissionNotAllowedForKind(_) => "permission_not_allowed_for_kind",
            Refusal::ContractorNotAuthorised(_) => "contractor_not_authorised",
            Refusal::ContractorNotFound => "contractor_not_found",
            Refusal::ContractorRevoked => "contractor_revoked",
            Refusal::NoticeNotFound => "notice_not_found",
            Refusal::InvalidEventCursor(_) => "invalid_event_cursor",
            Refusal::WebhookNotFound => "webhook_not_found",
            Refusal::MailUnavailable(_) => "mail_unavailable",
            Refusal::BulkBatchNotFound => "bulk_batch_not_found",
            Refusal::BulkFileTooLarge(_) => "file_too_large",
            Refusal::UnsupportedMediaType(_) => "unsupported_media_type",
            Refusal::BodyTooLarge(_) => "body_too_large",
            Refusal::MethodNotAllowed => "method_not_allowed",
            Refusal::BadRequest(_) => "bad_request",
            Refusal::Internal(_) => "internal_error",
        }
    }

    pub fn messages(&self) -> (String, String) {
        let pair = |ja: &str, en: &str| (ja.to_string(), en.to_string());
        match self {
            Refusal::MalformedJson(e) => (
                "リクエスト本文がJSONとして解釈できません".into(),
                format!("the request body is not valid JSON: {e}"),
            ),
            Refusal::InvalidField { ja, en, .. } => (ja.clone(), en.clone()),
            Refusal::UnknownFunction(f) => (
                format!("機能 {f} は存在しません"),
                format!("there is no function {f}"),
            ),
            Refusal::Unauthenticated => pair(
                "ログインが必要です(Authorization: Bearer トークンが無効です)",
                "log in first: the Authorization bearer token is missing, invalid or expired",
            ),
            Refusal::InvalidCredentials => pair(
                "ユーザIDまたはパスワードが正しくありません",
                "wrong user id or password",
            ),
            Refusal::CertificateMismatch => pair(
                "クライアント証明書が利用者の事業者のものではありません",
                "the client certificate is not registered to the user's company",
            ),
            Refusal::CertificateNotRegistered => pair(
                "クライアント証明書が利用者の登録に登録されていません",
                "the client certificate is not registered to the user's registration",
            ),
            Refusal::CertificateExpired => pair(
                "クライアント証明書の登録の有効期間外です(期限切れまたは有効期間開始前)",
                "the client certificate's registration is not valid now (expired or not yet valid)",
            ),
            Refusal::RegistrationSuspended => pair(
                "この事業者の利用は中断されています",
                "this registration is suspended; every call is refused until it is resumed",
            ),
            Refusal::RegistrationEnded => pair(
                "この事業者の利用契約は終了しています",
                "this registration has ended; every call is refused",
            ),
            Refusal::RequestTimeout(ms) => (
                format!("リクエスト本文が{ms}ミリ秒以内に届きませんでした。接続を閉じます"),
                format!(
                    "the request's body did not arrive within {ms} ms; the connection is closed"
                ),
            ),
            Refusal::RateLimited { retry_after_secs } => (
                format!("リクエストが多すぎます。{retry_after_secs}秒後に再送してください"),
                format!("too many requests; retry after {retry_after_secs} s"),
            ),
            Refusal::Maintenance { until, message } => (
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
            Refusal::RequestNotFound => pair(
                "指定された受付番号の申請は見つかりません",
                "no request with this id exists for your company",
            ),
            Refusal::FunctionNotAllowed(f) => (
                format!("需要抑制契約者は機能「{}」を利用できません", f.name_ja()),
                format!("a demand-response contractor may not call {f}"),
            ),
            Refusal::OriginalNotFound => pair(
                "訂正・取消の対象の申請(original_request_id)が見つかりません",
                "original_request_id names no request of your company",
            ),
            Refusal::OriginalMismatch => pair(
                "訂正・取消は元の申請と同じ機能・同じ供給地点で行ってください",
                "a correction or withdrawal must be of the original's function and point",
            ),
            Refusal::OriginalFinished(status) => (
                format!("元の申請は既に処理が終わっているため訂正・取消できません(状態: {status})"),
                format!(
                    "the original request is already {status} and can no longer be corrected or withdrawn"
                ),
            ),
            Refusal::IntermediationNotFound => pair(
                "指定されたスイッチング廃止取次は見つかりません",
                "no intermediation with this id is addressed to or registered by your company",
            ),
            Refusal::IntermediationAlreadyDecided => pair(
                "このスイッチング廃止取次は既に判断・取下げ・期限切れのいずれかとなっているか、処理中です",
                "this intermediation is no longer awaiting a decision (decided, withdrawn, expired, or a change is in progress)",
            ),
            Refusal::IntermediationAlreadyOpen => pair(
                "この供給地点には貴社のスイッチング廃止取次が判断待ちのまま残っています。判断を待つか、取り下げてから登録してください",
                "your company already has an intermediation of this point awaiting a decision; wait for it or withdraw it first",
            ),
            Refusal::InvalidIdempotencyKey => pair(
                "Idempotency-Key は1〜128文字の英数字記号で指定してください",
                "Idempotency-Key must be 1 to 128 visible ASCII characters",
            ),
            Refusal::IdempotencyConflict => pair(
                "同じ Idempotency-Key で異なる内容の申請が送信されました",
                "this Idempotency-Key was already used with a different body",
            ),
            Refusal::BrokerUnavailable(_) | Refusal::DatabaseUnavailable(_) => pair(
                "一時的に受付できません。しばらくしてから再送してください(申請は受け付けられていません)",
                "temporarily unable to accept; nothing was accepted, retry later",
            ),
            Refusal::OutcomeUnknown(_) => pair(
                "申請が受け付けられたか確認できませんでした。request_id の状態を照会するか、同じ Idempotency-Key で再送してください(同じ申請として扱われます)",
                "the hub could not confirm whether the application was accepted; look up its request_id, or send it again with the same Idempotency-Key (it is kept as the same application)",
            ),
            Refusal::Busy => pair(
                "混雑のため処理できませんでした。しばらくしてから再送してください",
                "too busy to check a password now; retry later",
            ),
            Refusal::AccountLocked => pair(
                "ログインの失敗が続いたためアカウントがロックされています。貴社の管理者にロック解除を依頼してください",
                "the account is locked after repeated failed logins; ask your administrator to unlock it",
            ),
            Refusal::AccountDisabled => pair(
                "アカウントが無効です。貴社の管理者に有効化を依頼してください",
                "the account is disabled; ask your administrator to enable it",
            ),
            Refusal::PasswordChangeRequired => pair(
                "初期パスワードを変更してください(POST /api/v1/session/password)",
                "change the initial password first (POST /api/v1/session/password)",
            ),
            Refusal::AdministratorRequired => pair(
                "この操作は事業者の管理者のみ行えます",
                "only the registration's administrator may do this",
            ),
            Refusal::OperatorRequired => pair(
                "この画面はハブ運用者のみ利用できます(運用者のクライアント証明書とログインが必要です)",
                "only the hub operator may do this: an operator client certificate and an operator sign-in are required",
            ),
            Refusal::UserNotFound => pair(
                "指定されたユーザIDは見つかりません",
                "no user with this id exists in your registration",
            ),
            Refusal::UserExists(u) => (
                format!("ユーザID {u} は既に登録されています"),
                format!("user id {u} is already registered"),
            ),
            Refusal::FunctionNotPermitted(f) => (
                format!("機能「{}」の利用権限がありません", f.name_ja()),
                format!("you are not permitted to call {f}"),
            ),
            Refusal::PermissionNotAllowedForKind(f) => (
                format!(
                    "機能「{}」は需要抑制契約者の利用者に設定できません",
                    f.name_ja()
                ),
                format!("{f} cannot be given to a demand-response contractor's user"),
            ),
            Refusal::ContractorNotAuthorised(c) => (
                format!("法人番号 {c} の受託者はこの事業者から委託されていません"),
                format!("contractor {c} is not authorised to act for this registration"),
            ),
            Refusal::ContractorNotFound => pair(
                "指定された受託者は見つかりません",
                "no contractor with this corporate number is authorised by your registration",
            ),
            Refusal::ContractorRevoked => pair(
                "受託者への委託が取り消されているため利用できません",
                "the authorisation of this user's contractor was revoked; every call is refused",
            ),
            Refusal::NoticeNotFound => pair(
                "指定されたインフォメーションは見つかりません",
                "no notice with this id exists",
            ),
            Refusal::InvalidEventCursor(c) => (
                format!("イベントの位置指定(after / Last-Event-ID)が正しくありません: {c}"),
                format!(
                    "the event cursor (after / Last-Event-ID) must be an event id or next as the feed gave it, not {c:?}"
                ),
            ),
            Refusal::WebhookNotFound => pair(
                "通知先(Webhook)は登録されていません",
                "no webhook is registered for your registration",
            ),
            Refusal::MailUnavailable(_) => pair(
                "メールを送信できないため処理を行いませんでした。しばらくしてから再度実行してください",
                "mail could not be sent, so nothing was done; retry later",
            ),
            Refusal::BulkBatchNotFound => pair(
                "指定された一括申請は見つかりません",
                "no bulk batch with this id exists for your registration",
            ),
            Refusal::BulkFileTooLarge(limit) => (
                format!(
                    "ファイルが大きすぎます({}MBまで)。ファイルを分けてください",
                    limit / (1024 * 1024)
                ),
                format!(
                    "the file is larger than {} MiB; split it",
                    limit / (1024 * 1024)
                ),
            ),
            Refusal::UnsupportedMediaType(expected) => (
                format!("リクエスト本文は Content-Type: {expected} で送信してください"),
                format!("send the request body with Content-Type: {expected}"),
            ),
            Refusal::BodyTooLarge(limit) => (
                format!("リクエスト本文が上限({limit}バイト)を超えています"),
                format!("the request body is over the limit of {limit} bytes"),
            ),
            Refusal::MethodNotAllowed => pair(
                "このパスはこのメソッドを受け付けません",
                "this path does not take this method",
            ),
            Refusal::BadRequest(why) => (
                "リクエストを解釈できません".into(),
                format!("the request could not be read: {why}"),
            ),
            Refusal::Internal(_) => pair("システムエラーが発生しました", "internal error"),
        }
    }
}
