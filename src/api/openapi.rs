//! The API described in OpenAPI 3.1, generated from the code and served at `/openapi.json`, so
//! that a retailer's developers can integrate from the document alone.
//!
//! Submission is one route (`POST /api/v1/{function}`) in the router, but each catalogue
//! function is documented as its own path with its own body and result, which is what an
//! integrator needs; `every_function_of_the_catalogue_has_its_path` keeps the two in step.

use serde::Deserialize;
use utoipa::openapi::RefOr;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, Required, ResponseBuilder, ResponsesBuilder};
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
        let mut extra = Vec::new();
        nested::<SubmissionEnvelope>(&mut extra);
        nested::<SearchEnvelope>(&mut extra);
        nested::<PointSearch>(&mut extra);
        nested::<PointSearchResult>(&mut extra);
        nested::<FacilityInquiry>(&mut extra);
        nested::<UsagePassword>(&mut extra);
        nested::<UsageInquiry>(&mut extra);
        nested::<Reconnection>(&mut extra);
        nested::<Abolition>(&mut extra);
        nested::<SwitchStart>(&mut extra);
        nested::<SwitchEnd>(&mut extra);
        nested::<CustomerChange>(&mut extra);
        nested::<AmpereChange>(&mut extra);
        nested::<HvUsageRequest>(&mut extra);
        nested::<HvUsageInquiry>(&mut extra);
        nested::<FacilityInquiryResult>(&mut extra);
        nested::<SwitchStartResult>(&mut extra);
        nested::<UsagePasswordResult>(&mut extra);
        nested::<UsageResult>(&mut extra);
        nested::<ApplicationResult>(&mut extra);
        let components = openapi.components.get_or_insert_with(Default::default);
        components.schemas.extend(extra);
        for spec in SPECS {
            let envelope = if spec.function == crate::domain::Function::PointSearch {
                "SearchEnvelope"
            } else {
                "SubmissionEnvelope"
            };
            let body_name = format!("{}Submission", spec.payload_record);
            let merged = submission_body(&components.schemas, envelope, spec.payload_record);
            components.schemas.insert(body_name.clone(), merged);
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
                .response("400", error("malformed_json (also a key twice in one object), invalid_idempotency_key"))
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
                        .schema(Some(idempotency_key_schema()))
                        .description(Some(
                            "1–128 visible ASCII characters. A retry with the same key and body \
                             returns the first answer, even while the first is still in flight",
                        )),
                )
                .request_body(Some(
                    RequestBodyBuilder::new()
                        .required(Some(Required::True))
                        .content(
                            "application/json",
                            ContentBuilder::new()
                                .schema(Some(Ref::from_schema_name(body_name)))
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

/// `T`'s schema and every schema it refers to, so no `$ref` of the document points nowhere.
fn nested<T: ToSchema>(into: &mut Vec<(String, RefOr<Schema>)>) {
    into.push((T::name().into_owned(), T::schema()));
    T::schemas(into);
}

/// The schema of an `Idempotency-Key` header: what [`crate::requests::IdempotencyKey`] takes.
pub fn idempotency_key_schema() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(128))
        .pattern(Some("^[!-~]+$"))
}

/// A submission's body as one object: the envelope's fields and the payload record's, as the
/// handler reads them. (An `allOf` of the two would let no body through: each part forbids
/// the other's fields.)
fn submission_body(
    schemas: &std::collections::BTreeMap<String, RefOr<Schema>>,
    envelope: &str,
    payload: &str,
) -> RefOr<Schema> {
    let mut merged = ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(
            utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
        ));
    let mut description = None;
    for name in [envelope, payload] {
        let Some(RefOr::T(Schema::Object(part))) = schemas.get(name) else {
            panic!("{name} is not an object schema in the components");
        };
        if name == payload {
            description = part.description.clone();
        }
        for (field, schema) in &part.properties {
            merged = merged.property(field.clone(), schema.clone());
        }
        for field in &part.required {
            merged = merged.required(field.clone());
        }
    }
    RefOr::T(Schema::Object(merged.description(description).build()))
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
            for (method, op) in ["get", "put", "post", "delete", "patch"]
                .into_iter()
                .zip(operations)
                .filter_map(|(m, op)| op.as_mut().map(|op| (m, op)))
            {
                let gated = op.security.is_some() || path == "/api/v1/session";
                // One stable, unique name per operation for generated clients; a function's
                // submission keeps its slug.
                if !path.strip_prefix("/api/v1/").is_some_and(is_function_slug) {
                    op.operation_id = Some(operation_id(method, path));
                }
                for p in op.parameters.iter_mut().flatten() {
                    let RefOr::T(p) = p else { continue };
                    if p.name.eq_ignore_ascii_case("idempotency-key") {
                        p.schema = Some(idempotency_key_schema().into());
                    }
                }
                // A response must say what it is; utoipa leaves a bare `body = T` without one.
                for response in op.responses.responses.values_mut() {
                    if let RefOr::T(r) = response {
                        if r.description.is_empty() {
                            r.description = "Done".into();
                        }
                    }
                }
                let has_body = op.request_body.is_some();
                let responses = &mut op.responses.responses;
                if op.security.is_some() && !responses.contains_key("401") {
                    responses.insert(
                        "401".into(),
                        error(
                            "unauthenticated: no bearer token, or one that is invalid or expired"
                                .into(),
                            false,
                        ),
                    );
                }
                if has_body {
                    let malformed = "malformed_json: the body is not JSON of the expected shape, or names a key twice";
                    match responses.get_mut("400") {
                        Some(RefOr::T(r)) if !r.description.contains("malformed_json") => {
                            r.description = format!("{}; {malformed}", r.description)
                        }
                        Some(_) => {}
                        None => {
                            responses.insert("400".into(), error(malformed.into(), false));
                        }
                    }
                    responses.insert(
                        "413".into(),
                        error(
                            format!(
                                "body_too_large: the body is over {} bytes",
                                super::extract::BODY_LIMIT
                            ),
                            false,
                        ),
                    );
                    responses.insert(
                        "415".into(),
                        error(
                            format!(
                                "unsupported_media_type: send the body as Content-Type: {}",
                                super::extract::media_type_of(path)
                            ),
                            false,
                        ),
                    );
                }
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

fn is_function_slug(s: &str) -> bool {
    SPECS.iter().any(|spec| spec.slug == s)
}

/// `get_admin_users_user_id` for `GET /api/v1/admin/users/{user_id}`: unique because the
/// method and path are, and stable while the route is.
fn operation_id(method: &str, path: &str) -> String {
    let words: Vec<String> = path
        .trim_start_matches("/api/v1")
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    format!("{method}_{}", words.join("_"))
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
        super::events::feed,
        super::events::stream,
        super::events::put_webhook,
        super::events::get_webhook,
        super::events::delete_webhook,
        super::events::deliveries,
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
        let json = serde_json::to_value(document()).unwrap();
        for f in Function::ALL {
            let op = ("POST".to_string(), format!("/api/v1/{}", f.slug()));
            assert!(ops.contains(&op), "{op:?} is missing from /openapi.json");
            let record = f.spec().payload_record;
            let body = body_schema(&json, &op.1);
            let payload = &json["components"]["schemas"][record];
            assert!(payload.is_object(), "{record} is not in the components");
            for field in payload["properties"].as_object().into_iter().flatten() {
                assert!(
                    body["properties"][field.0].is_object(),
                    "{op:?} does not take {record}'s {}",
                    field.0
                );
            }
        }
    }

    /// The schema a function's body must satisfy, its `$ref` followed.
    fn body_schema(json: &serde_json::Value, path: &str) -> serde_json::Value {
        let body =
            &json["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"];
        let name = body["$ref"]
            .as_str()
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
            .unwrap_or_else(|| panic!("{path}: {body}"));
        json["components"]["schemas"][name].clone()
    }

    #[test]
    fn a_submission_body_takes_the_point_and_the_functions_own_fields_together() {
        let json = serde_json::to_value(document()).unwrap();
        let body = body_schema(&json, "/api/v1/switch-start");
        assert!(body.get("allOf").is_none(), "{body}");
        let required: Vec<&str> = body["required"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        assert!(required.contains(&"supply_point_id"), "{body}");
        assert!(body["properties"]["planned_date"].is_object(), "{body}");
        assert_eq!(body["additionalProperties"], false, "{body}");
    }

    #[test]
    fn every_ref_of_the_document_points_to_a_component() {
        fn refs(v: &serde_json::Value, out: &mut Vec<String>) {
            match v {
                serde_json::Value::Object(m) => {
                    if let Some(r) = m.get("$ref").and_then(|r| r.as_str()) {
                        out.push(r.to_string());
                    }
                    m.values().for_each(|v| refs(v, out));
                }
                serde_json::Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let json = serde_json::to_value(document()).unwrap();
        let mut found = Vec::new();
        refs(&json, &mut found);
        assert!(found.len() > 20, "{found:?}");
        for r in found {
            let name = r.strip_prefix("#/components/schemas/").unwrap_or(&r);
            assert!(
                json["components"]["schemas"][name].is_object(),
                "{r} points nowhere"
            );
        }
    }

    #[test]
    fn operation_ids_are_unique_and_every_header_parameter_has_a_schema() {
        let json = serde_json::to_value(document()).unwrap();
        let mut ids = std::collections::HashSet::new();
        for (path, item) in json["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let id = op["operationId"].as_str().unwrap_or_default().to_string();
                assert!(!id.is_empty(), "{method} {path} has no operationId");
                assert!(ids.insert(id.clone()), "{id} repeats ({method} {path})");
                for p in op["parameters"].as_array().into_iter().flatten() {
                    assert!(p["schema"].is_object(), "{method} {path}: {p}");
                }
            }
        }
    }

    #[test]
    fn every_response_has_a_description_and_every_path_parameter_is_in_its_path() {
        let json = serde_json::to_value(document()).unwrap();
        for (path, item) in json["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for (code, r) in op["responses"].as_object().unwrap() {
                    let said = r["description"].as_str().unwrap_or_default();
                    assert!(!said.is_empty(), "{method} {path} {code}");
                }
                for p in op["parameters"].as_array().into_iter().flatten() {
                    if p["in"] == "path" {
                        let name = p["name"].as_str().unwrap();
                        assert!(
                            path.contains(&format!("{{{name}}}")),
                            "{method} {path} {name}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_request_list_is_documented_as_a_list_of_requests() {
        let json = serde_json::to_value(document()).unwrap();
        let answer = &json["paths"]["/api/v1/requests"]["get"]["responses"]["200"]["content"]["application/json"]
            ["schema"]["$ref"];
        let name = answer.as_str().unwrap().rsplit('/').next().unwrap();
        let items = &json["components"]["schemas"][name]["properties"]["items"]["items"];
        assert_eq!(
            items["$ref"], "#/components/schemas/RequestView",
            "{name}: {items}"
        );
    }

    #[test]
    fn every_authenticated_call_documents_401_and_every_body_413_and_415() {
        let json = serde_json::to_value(document()).unwrap();
        for (path, item) in json["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let r = &op["responses"];
                if op.get("security").is_some() {
                    assert!(r["401"].is_object(), "{method} {path}");
                }
                if op.get("requestBody").is_some() {
                    for code in ["400", "413", "415"] {
                        assert!(r[code].is_object(), "{method} {path} lacks {code}");
                    }
                }
            }
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
