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
