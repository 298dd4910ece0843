//! The API described in OpenAPI 3.1, generated from the code and served at `/openapi.json`, so
//! that a retailer's developers can integrate from the document alone.
//!
//! Submission is one route (`POST /api/v1/{function}`) in the router, but each catalogue
//! function is documented as its own path with its own body and result, which is what an
//! integrator needs; `every_function_of_the_catalogue_has_its_path` keeps the two in step.

use serde::Deserialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use super::error::ErrorBody;
use super::submit::Accepted;
use crate::messages::{FacilityInquiryResult, SwitchStart, SwitchStartResult};

/// 設備情報照会 (IF_10110): the point is all it needs.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // documents the body; the handler reads it as JSON
pub struct FacilityInquiryBody {
    /// 供給地点特定番号: 22 digits, the first two the area (01–10).
    #[schema(example = "0300000000000000000001", min_length = 22, max_length = 22)]
    supply_point_id: String,
    /// The area ("01"–"10"); when given it must agree with the point's first two digits.
    area: Option<String>,
}

/// スイッチング開始申請 (IF_10610, 申込種別 05).
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct SwitchStartBody {
    #[schema(example = "0300000000000000000001", min_length = 22, max_length = 22)]
    supply_point_id: String,
    area: Option<String>,
    #[serde(flatten)]
    application: SwitchStart,
}

macro_rules! submission_doc {
    ($name:ident, $path:literal, $body:ty, $summary:literal) => {
        #[utoipa::path(
            post, path = $path, tag = "申請", summary = $summary,
            request_body = $body,
            params(("Idempotency-Key" = Option<String>, Header,
                description = "A retry with the same key and body returns the first answer")),
            responses(
                (status = 202, description = "受付: the broker has the request", body = Accepted),
                (status = 400, description = "malformed_json, invalid_idempotency_key", body = ErrorBody),
                (status = 401, description = "unauthenticated", body = ErrorBody),
                (status = 409, description = "idempotency_key_reused", body = ErrorBody),
                (status = 422, description = "a field breaks a rule; `field` names it", body = ErrorBody),
                (status = 503, description = "nothing accepted; retry", body = ErrorBody),
            ),
            security(("bearer" = []))
        )]
        #[allow(dead_code)]
        fn $name() {}
    };
}

// The result of each function appears in `RequestView.result` once completed; its schema is
// listed in the components (FacilityInquiryResult, SwitchStartResult).
submission_doc!(
    facility_inquiry,
    "/api/v1/facility-inquiry",
    FacilityInquiryBody,
    "設備情報照会 (IF_10110)"
);
submission_doc!(
    switch_start,
    "/api/v1/switch-start",
    SwitchStartBody,
    "スイッチング開始申請 (IF_10610)"
);

/// Bearer tokens come from `POST /api/v1/session`.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build();
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "kirikae (切替) switching hub API",
        description = "TLS with a client certificate whose common name is the company code \
            (事業者コード). Log in at /api/v1/session, then send the bearer token. \
            Errors are {code, message_ja, message_en, field?}."
    ),
    paths(
        super::session::login,
        facility_inquiry,
        switch_start,
        super::status::one,
        super::status::list,
        openapi_json,
    ),
    components(schemas(FacilityInquiryResult, SwitchStartResult)),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "文書",
    responses((status = 200, description = "The OpenAPI 3.1 document")))]
pub async fn openapi_json() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(document())
}

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Function;

    fn operations() -> Vec<(String, String)> {
        let json = serde_json::to_value(document()).unwrap();
        let mut ops = Vec::new();
        for (path, item) in json["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                ops.push((method.to_uppercase(), path.clone()));
            }
        }
        ops
    }

    #[test]
    fn the_document_is_openapi_3_1() {
        let json = serde_json::to_value(document()).unwrap();
        assert!(
            json["openapi"].as_str().unwrap().starts_with("3.1"),
            "{}",
            json["openapi"]
        );
    }

    #[test]
    fn every_function_of_the_catalogue_has_its_path() {
        let ops = operations();
        for f in Function::ALL {
            let op = ("POST".to_string(), format!("/api/v1/{}", f.slug()));
            assert!(ops.contains(&op), "{op:?} is missing from /openapi.json");
        }
    }

    #[test]
    fn every_route_of_the_router_is_documented() {
        let ops = operations();
        for (method, path, _) in super::super::routes() {
            let op = (method.to_string(), path.to_string());
            if path.contains("{function}") {
                continue; // documented per function, checked above
            }
            assert!(ops.contains(&op), "{op:?} is missing from /openapi.json");
        }
    }
}
