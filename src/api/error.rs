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
    /// `outcome_unknown`: the request the hub could not confirm, to follow.
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
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
        Refusal::InvalidEventCursor(_) => StatusCode::BAD_REQUEST,
        Refusal::WebhookNotFound => StatusCode::NOT_FOUND,
        Refusal::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        Refusal::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
        Refusal::Maintenance { .. } => StatusCode::SERVICE_UNAVAILABLE,
        Refusal::OriginalNotFound | Refusal::OriginalMismatch => StatusCode::UNPROCESSABLE_ENTITY,
        Refusal::OriginalFinished(_) => StatusCode::CONFLICT,
        Refusal::IdempotencyConflict => StatusCode::CONFLICT,
        Refusal::IntermediationNotFound => StatusCode::NOT_FOUND,
        Refusal::IntermediationAlreadyDecided | Refusal::IntermediationAlreadyOpen => {
            StatusCode::CONFLICT
        }
        Refusal::BrokerUnavailable(_)
        | Refusal::OutcomeUnknown(_)
        | Refusal::DatabaseUnavailable(_)
        | Refusal::Busy => StatusCode::SERVICE_UNAVAILABLE,
        Refusal::AccountLocked | Refusal::AccountDisabled => StatusCode::UNAUTHORIZED,
        Refusal::PasswordChangeRequired
        | Refusal::AdministratorRequired
        | Refusal::OperatorRequired
        | Refusal::FunctionNotPermitted(_) => StatusCode::FORBIDDEN,
        Refusal::UserNotFound => StatusCode::NOT_FOUND,
        Refusal::UserExists(_) => StatusCode::CONFLICT,
        Refusal::PermissionNotAllowedForKind(_) => StatusCode::UNPROCESSABLE_ENTITY,
        Refusal::MailUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        Refusal::BulkBatchNotFound => StatusCode::NOT_FOUND,
        Refusal::BulkFileTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        Refusal::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Refusal::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        Refusal::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        Refusal::BadRequest(_) => StatusCode::BAD_REQUEST,
        Refusal::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match &self {
            Refusal::Internal(_)
            | Refusal::BrokerUnavailable(_)
            | Refusal::OutcomeUnknown(_)
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
        let request_id = match &self {
            Refusal::OutcomeUnknown(id) => Some(id.to_string()),
            _ => None,
        };
        let body = ErrorBody {
            code: self.code(),
            message_ja,
            message_en,
            field,
            until,
            request_id,
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

/// A request body as JSON of `T`, or 400 `malformed_json` saying why not. A key twice in one
/// object is refused too: serde would keep the last silently, and a client that meant the
/// first would have an application it did not send.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Refusal> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde::Deserializer::deserialize_any(&mut de, UniqueKeys)
        .and_then(|()| de.end())
        .map_err(|e| Refusal::MalformedJson(e.to_string()))?;
    serde_json::from_slice(body).map_err(|e| Refusal::MalformedJson(e.to_string()))
}

/// A string holding U+0000, which no text column can store: refused as malformed rather
/// than failing in the database.
fn no_nul<E: serde::de::Error>(s: &str) -> Result<(), E> {
    if s.contains('\0') {
        return Err(E::custom("a string holds the character U+0000"));
    }
    Ok(())
}

/// Walks a JSON document and fails on an object that names a key twice, or on a string
/// holding U+0000.
struct UniqueKeys;

impl<'de> serde::de::DeserializeSeed<'de> for UniqueKeys {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for UniqueKeys {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<(), E> {
        no_nul(s)
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(UniqueKeys)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            no_nul(&key)?;
            if !seen.insert(key.clone()) {
                return Err(serde::de::Error::custom(format_args!(
                    "duplicate key \"{key}\""
                )));
            }
            map.next_value_seed(UniqueKeys)?;
        }
        Ok(())
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_twice_in_one_object_is_malformed_json() {
        for body in [
            &br#"{"a": 1, "a": 2}"#[..],
            br#"{"outer": {"b": true, "b": false}}"#,
            br#"[{"c": null}, {"c": "x", "c": "y"}]"#,
        ] {
            match parse_json::<serde_json::Value>(body) {
                Err(Refusal::MalformedJson(why)) => assert!(why.contains("duplicate key"), "{why}"),
                other => panic!("{other:?}"),
            }
        }
        let ok: serde_json::Value =
            parse_json(br#"{"a": {"x": 1}, "b": {"x": 2}, "c": [{"x": 3}, {"x": 4}]}"#).unwrap();
        assert_eq!(ok["c"][1]["x"], 4);
    }

    #[test]
    fn a_string_holding_nul_is_malformed_json() {
        for body in [&br#"{"user_id": "a\u0000b"}"#[..], br#"{"a\u0000": 1}"#] {
            assert!(matches!(
                parse_json::<serde_json::Value>(body),
                Err(Refusal::MalformedJson(_))
            ));
        }
    }

    #[test]
    fn trailing_bytes_after_the_document_are_malformed_json() {
        assert!(matches!(
            parse_json::<serde_json::Value>(b"{} {}"),
            Err(Refusal::MalformedJson(_))
        ));
    }
}
