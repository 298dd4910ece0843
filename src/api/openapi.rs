//! The API described in OpenAPI 3.1, generated from the code and served at `/openapi.json`, so
//! that a retailer's developers can integrate from the document alone.
//!
//! Submission is one route (`POST /api/v1/{function}`) in the router, but each catalogue
//! function is documented as its own path with its own body and result, which is what an
//! integrator needs; `every_function_of_the_catalogue_has_its_path` keeps the two in step.

use serde::Deserialize;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::AllOfBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, Ref, Required, ResponseBuilder, ResponsesBuilder,
};
use utoipa::{Modify, OpenApi, ToSchema};

use super::error::ErrorBody;
use super::submit::Accepted;
use crate::domain::SPECS;
use crate::messages::*;

/// The fields every submission has besides its function's own: the point and, for a
/// correction (訂正) or withdrawal (取消), the flag and the application it amends.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // documents the body; the handler reads it as JSON
pub struct SubmissionEnvelope {
    /// 供給地点特定番号 (受電地点特定番号 for generation functions): 22 digits, the first two the
    /// area (01–10).
    #[schema(example = "0300000000000000000001", min_length = 22, max_length = 22)]
    supply_point_id: String,
    /// The area ("01"–"10"); when given it must agree with the point's first two digits.
    area: Option<String>,
    /// 更新フラグ: register (1 登録, the default), correct (2 訂正) or withdraw (3 取消). A
    /// correction carries the whole corrected application; a withdrawal carries the application
    /// as filed.
    #[schema(value_type = Option<String>, example = "register")]
    update_flag: Option<crate::domain::UpdateFlag>,
    /// For a correction or withdrawal: the request id of the application it amends.
    original_request_id: Option<String>,
}

/// The envelope of 特定地点検索, which names an area rather than a point.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct SearchEnvelope {
    /// The area to search ("01"–"10").
    #[schema(example = "03")]
    area: String,
}

/// Every catalogue function as its own path (`POST /api/v1/<slug>`), its body the envelope
/// plus the function's payload record, built from the function table so none is forgotten.
struct FunctionPaths;

impl Modify for FunctionPaths {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let extra = ComponentsBuilder::new()
            .schema_from::<SubmissionEnvelope>()
            .schema_from::<SearchEnvelope>()
            .schema_from::<PointSearch>()
            .schema_from::<PointSearchResult>()
            .schema_from::<FacilityInquiry>()
            .schema_from::<UsagePassword>()
            .schema_from::<UsageInquiry>()
            .schema_from::<Reconnection>()
            .schema_from::<Abolition>()
            .schema_from::<SwitchStart>()
            .schema_from::<SwitchEnd>()
            .schema_from::<CustomerChange>()
            .schema_from::<AmpereChange>()
            .schema_from::<HvUsageRequest>()
            .schema_from::<HvUsageInquiry>()
            .schema_from::<FacilityInquiryResult>()
            .schema_from::<SwitchStartResult>()
            .schema_from::<UsagePasswordResult>()
            .schema_from::<UsageResult>()
            .schema_from::<ApplicationResult>()
            .build();
        let components = openapi.components.get_or_insert_with(Default::default);
        components.schemas.extend(extra.schemas);
        for spec in SPECS {
            let body = AllOfBuilder::new()
                .item(Ref::from_schema_name(
                    if spec.function == crate::domain::Function::PointSearch {
                        "SearchEnvelope"
                    } else {
                        "SubmissionEnvelope"
                    },
                ))
                .item(Ref::from_schema_name(spec.payload_record));
            let error = |d: &str| {
                ResponseBuilder::new().description(d).content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
            };
            let responses = ResponsesBuilder::new()
                .response(
                    "202",
                    ResponseBuilder::new()
                        .description(format!(
                            "受付: the broker has the request. Once completed, its \
                             `result` is a {}.",
                            spec.result_record
                        ))
                        .content(
                            "application/json",
                            ContentBuilder::new()
                                .schema(Some(Ref::from_schema_name("Accepted")))
                                .build(),
                        ),
                )
                .response("400", error("malformed_json, invalid_idempotency_key"))
                .response("401", error("unauthenticated"))
                .response("403", error("function_not_allowed (a DR contractor calling a retailer-only function), function_not_permitted (not in the user's permissions)"))
                .response("409", error("idempotency_key_reused, original_finished"))
                .response("422", error("a field breaks a rule; `field` names it"))
                .response("503", error("nothing accepted; retry"));
            let kind = spec
                .application_kind
                .map(|k| format!(", 申込種別 {k}"))
                .unwrap_or_default();
            let who = match spec.callers {
                crate::domain::Callers::Retailers => "小売電気事業者",
                crate::domain::Callers::RetailersAndDr => "小売電気事業者, 需要抑制契約者",
            };
            let operation = OperationBuilder::new()
                .tag("申請")
                .operation_id(Some(spec.slug))
                .summary(Some(format!(
                    "{} ({}{kind})",
                    spec.name_ja, spec.service_id
                )))
                .description(Some(format!(
                    "{}. Who: {who}.{}",
                    spec.class.name_ja(),
                    if spec.post_fit_only {
                        " FIT卒業電源 only: refused for points still under FIT."
                    } else {
                        ""
                    }
                )))
                .parameter(
                    ParameterBuilder::new()
                        .name("Idempotency-Key")
                        .parameter_in(ParameterIn::Header)
                        .required(Required::False)
                        .description(Some(
                            "A retry with the same key and body returns the first answer",
                        )),
                )
                .request_body(Some(
                    RequestBodyBuilder::new()
                        .required(Some(Required::True))
                        .content(
                            "application/json",
                            ContentBuilder::new()
                                .schema(Some(utoipa::openapi::Schema::AllOf(body.build())))
                                .build(),
                        )
                        .build(),
                ))
                .responses(responses.build())
                .security(SecurityRequirement::new("bearer", Vec::<String>::new()));
            openapi.paths.paths.insert(
                format!("/api/v1/{}", spec.slug),
                PathItem::new(HttpMethod::Post, operation),
            );
        }
    }
}

/// The refusals every call can meet whatever its own rules, added to each operation so no
/// path forgets them: the registration gate (403) on every authenticated call, and the limits
/// (429 rate limit, 503 maintenance) on every call at all.
struct CommonRefusals;

/// What the gate refuses on every call made with a bearer token (and at login).
pub const GATE_REFUSALS: &str = "certificate_company_mismatch, certificate_not_registered, \
    certificate_expired, registration_suspended (利用の中断), registration_ended (利用契約の終了), \
    contractor_revoked, password_change_required";

impl Modify for CommonRefusals {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::header::HeaderBuilder;
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        let error = |d: String, retry_after: bool| {
            let mut r = ResponseBuilder::new().description(d).content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            );
            if retry_after {
                r = r.header(
                    "Retry-After",
                    HeaderBuilder::new()
                        .schema(Some(ObjectBuilder::new().schema_type(Type::Integer)))
                        .description(Some("Seconds to wait before trying again"))
                        .build(),
                );
            }
            RefOr::T(r.build())
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in operations.into_iter().flatten() {
                let gated = op.security.is_some() || path == "/api/v1/session";
                let responses = &mut op.responses.responses;
                if gated {
                    match responses.get_mut("403") {
                        Some(RefOr::T(r)) => {
                            r.description = format!("{}; {GATE_REFUSALS}", r.description)
                        }
                        _ => {
                            responses.insert("403".into(), error(GATE_REFUSALS.into(), false));
                        }
                    }
                }
                responses.insert(
                    "429".into(),
                    error(
                        "rate_limited: over the registration's rate limit".into(),
                        true,
                    ),
                );
                let closed = "maintenance: closed for maintenance, `until` is the planned end";
                match responses.get_mut("503") {
                    Some(RefOr::T(r)) => r.description = format!("{}; {closed}", r.description),
                    _ => {
                        responses.insert("503".into(), error(closed.into(), true));
                    }
                }
            }
        }
    }
}

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
        super::session::logout,
        super::session::change_password,
        super::users::list,
        super::users::list_csv,
        super::users::one,
        super::users::create,
        super::users::create_bulk,
        super::users::modify,
        super::users::remove,
        super::users::unlock,
        super::users::set_enabled,
        super::users::reissue_password,
        super::users::set_permissions,
        super::status::one,
        super::status::list_of_class,
        super::status::one_of_class,
        super::operators::list,
        super::status::list,
        super::intermediation::register,
        super::intermediation::list,
        super::intermediation::one,
        super::intermediation::decide,
        super::intermediation::decide_bulk,
        super::intermediation::withdraw,
        super::contractors::list,
        super::contractors::authorise,
        super::contractors::revoke,
        super::notices::list,
        super::notices::one,
        super::bulk::upload,
        super::bulk::one,
        super::bulk::confirm,
        super::bulk::rows_csv,
        super::bulk::template,
        super::bulk::sample,
        openapi_json,
    ),
    components(schemas(ErrorBody, Accepted)),
    modifiers(&BearerAuth, &FunctionPaths, &CommonRefusals)
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
            let json = serde_json::to_value(document()).unwrap();
            let body = &json["paths"][&op.1]["post"]["requestBody"]["content"]["application/json"];
            let record = f.spec().payload_record;
            assert!(
                body.to_string()
                    .contains(&format!("#/components/schemas/{record}")),
                "{op:?} does not document its payload {record}"
            );
            assert!(
                json["components"]["schemas"][record].is_object(),
                "{record} is not in the components"
            );
            assert!(ops.contains(&op), "{op:?} is missing from /openapi.json");
        }
    }

    #[test]
    fn every_call_documents_the_gate_the_rate_limit_and_maintenance() {
        let json = serde_json::to_value(document()).unwrap();
        for (path, item) in json["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let r = &op["responses"];
                let said = |code: &str| r[code]["description"].as_str().unwrap_or("").to_string();
                assert!(said("429").contains("rate_limited"), "{method} {path}");
                assert!(
                    r["429"]["headers"]["Retry-After"].is_object(),
                    "{method} {path}"
                );
                assert!(said("503").contains("maintenance"), "{method} {path}");
                if op.get("security").is_some() {
                    assert!(
                        said("403").contains("registration_suspended"),
                        "{method} {path}"
                    );
                }
            }
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
