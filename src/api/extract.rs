//! The API's extractors: a JSON body, a query string and the administrator, each refusing in
//! the API's own error format (`Refusal`), so a handler only names what it needs.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::AppState;
use super::error::{bad_query, parse_json};
use crate::accounts::{Principal, require_admin};
use crate::domain::Refusal;

/// A request body read as JSON of `T`: 400 `malformed_json` saying why not.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = Refusal;

    async fn from_request(req: Request, state: &S) -> Result<Self, Refusal> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| Refusal::MalformedJson(e.body_text()))?;
        parse_json(&bytes).map(Body)
    }
}

/// A query string read into `T`: 422 `invalid_query` saying why not.
pub struct Filters<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Filters<T> {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Refusal> {
        let Query(q) = Query::<T>::from_request_parts(parts, state)
            .await
            .map_err(bad_query)?;
        Ok(Filters(q))
    }
}

/// The caller, who must be its registration's administrator: 403 `administrator_required`
/// otherwise, before anything else of the request is read.
pub struct Admin(pub Principal);

impl FromRequestParts<AppState> for Admin {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Refusal> {
        let principal = Principal::from_request_parts(parts, state).await?;
        require_admin(&principal)?;
        Ok(Admin(principal))
    }
}

/// The largest request body the API reads (1 MiB): a submission is a few hundred bytes and a
/// bulk user upload of a thousand lines well under it. Larger bodies are 413 `body_too_large`.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// How much of an oversized body is read and thrown away so that the 413 reaches the client
/// as an answer (an HTTP/2 stream reset or a closed connection mid-upload would hide it);
/// beyond this the connection is simply dropped.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// The media type a path's body must have: the bulk uploads (users, and applications under
/// `/api/v1/bulk/`) take CSV, every other body is JSON.
pub fn media_type_of(path: &str) -> &'static str {
    if path == "/api/v1/admin/users/bulk" || is_bulk_upload(path) {
        "text/csv"
    } else {
        "application/json"
    }
}

/// A bulk application file (`POST /api/v1/bulk/{function}`), read up to the bulk limit.
fn is_bulk_upload(path: &str) -> bool {
    path.strip_prefix("/api/v1/bulk/")
        .is_some_and(|rest| !rest.contains('/'))
}

/// The largest body a path takes, and its refusal beyond that.
fn limit_of(path: &str) -> (usize, Refusal) {
    if is_bulk_upload(path) {
        let limit = crate::bulk::MAX_FILE_BYTES;
        (limit, Refusal::BulkFileTooLarge(limit))
    } else {
        (BODY_LIMIT, Refusal::BodyTooLarge(BODY_LIMIT))
    }
}

/// Strict input in front of every API route: the body is read up to the path's limit (413
/// `body_too_large`; a bulk file is left to its handler to stream, `file_too_large`), a non-empty body must be of the
/// path's media type (415 `unsupported_media_type`), and whatever 4xx the router itself answers
/// (405, a rejection of axum's own) is rewritten into the API's error format, so every refusal
/// is JSON. The web screens have their own (form) bodies and are not behind it.
pub async fn strict_input(req: Request, next: axum::middleware::Next) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (parts, body) = req.into_parts();
    let (limit, too_large) = limit_of(parts.uri.path());
    let announced = parts
        .headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if announced.is_some_and(|n| n > limit) {
        return too_large.into_response();
    }
    let expected = media_type_of(parts.uri.path());
    if is_bulk_upload(parts.uri.path()) {
        // A bulk file is streamed by its handler (spooled to disk, its limit enforced there).
        if announced != Some(0) && !has_media_type(&parts.headers, expected) {
            return Refusal::UnsupportedMediaType(expected).into_response();
        }
        let resp = next.run(Request::from_parts(parts, body)).await;
        return as_json_refusal(resp).await;
    }
    let bytes = match read_limited(body, limit, too_large).await {
        Ok(b) => b,
        Err(refusal) => return refusal.into_response(),
    };
    if !bytes.is_empty() && !has_media_type(&parts.headers, expected) {
        return Refusal::UnsupportedMediaType(expected).into_response();
    }
    let resp = next
        .run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await;
    as_json_refusal(resp).await
}

/// Whether `Content-Type` names `expected` (any parameters, such as a charset, allowed).
fn has_media_type(headers: &axum::http::HeaderMap, expected: &str) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(expected))
}

/// The whole body; `too_large` once it passes `limit` (after draining what the client sends,
/// up to [`DRAIN_LIMIT`], so that the 413 reaches the client as an answer), or 400 when the
/// connection breaks mid-body.
async fn read_limited(
    mut body: axum::body::Body,
    limit: usize,
    too_large: Refusal,
) -> Result<Bytes, Refusal> {
    use http_body_util::BodyExt;
    let mut buf = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Refusal::BadRequest(e.to_string()))?;
        if let Ok(data) = frame.into_data() {
            seen += data.len();
            if seen <= limit {
                buf.extend_from_slice(&data);
            } else if seen > DRAIN_LIMIT {
                break;
            }
        }
    }
    if seen > limit {
        return Err(too_large);
    }
    Ok(Bytes::from(buf))
}

/// A 4xx that is not JSON yet (axum's own 405, or a rejection it answered in plain text) as
/// the refusal it stands for, its headers (such as `Allow`) kept.
async fn as_json_refusal(resp: axum::response::Response) -> axum::response::Response {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use http_body_util::BodyExt;
    let json = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !resp.status().is_client_error() || json {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let text = match http_body_util::Limited::new(body, 4096).collect().await {
        Ok(c) => String::from_utf8_lossy(&c.to_bytes()).into_owned(),
        Err(_) => String::new(),
    };
    let refusal = match parts.status {
        StatusCode::METHOD_NOT_ALLOWED => Refusal::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => Refusal::BodyTooLarge(BODY_LIMIT),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => Refusal::UnsupportedMediaType("application/json"),
        StatusCode::NOT_FOUND => Refusal::UnknownFunction("(no such path)".into()),
        _ if text.is_empty() => Refusal::BadRequest(parts.status.to_string()),
        _ => Refusal::BadRequest(text),
    };
    let fresh = refusal.into_response();
    let status = parts.status;
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    parts.headers.extend(fresh.headers().clone());
    let (_, body) = fresh.into_parts();
    let mut out = axum::response::Response::from_parts(parts, body);
    *out.status_mut() = status;
    out
}
