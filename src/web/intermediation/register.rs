//! スイッチング廃止取次登録 (IS_20110): the new retailer's form. What the clerk typed is the
//! API's `RegistrationBody`, checked and filed by `Intermediations::register`; a refusal comes
//! back next to the field it names.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::service;
use crate::domain::Refusal;
use crate::intermediation::RegistrationBody;
use crate::web::WebState;
use crate::web::list::Choice;
use crate::web::page::{Chrome, html, refused};
use crate::web::session::{Visitor, random_token};
use crate::web::signin::Shown;

/// One text input of the form.
pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    pub kind: &'static str,
    pub help: &'static str,
    pub value: String,
}

/// The registration's fields, as `RegistrationBody` names them (the class is a choice).
const FIELDS: [(&str, &str, &str, &str); 6] = [
    (
        "supply_point_id",
        "供給地点特定番号(発電は受電地点特定番号)",
        "text",
        "22桁の数字",
    ),
    (
        "current_retailer_code",
        "現小売電気事業者コード",
        "text",
        "現在供給している小売電気事業者の事業者コード",
    ),
    (
        "customer_number",
        "お客さま番号",
        "text",
        "現小売電気事業者での契約番号",
    ),
    (
        "contract_name",
        "契約名義",
        "text",
        "現小売電気事業者での契約名義",
    ),
    ("supply_address", "需要場所", "text", "供給場所の住所"),
    (
        "desired_switch_date",
        "スイッチング希望日",
        "date",
        "本日以降の日付",
    ),
];

const CLASSES: [(&str, &str); 3] = [("lv", "低圧"), ("hv", "高圧"), ("gen", "発電(FIT卒業電源)")];

#[derive(Template)]
#[template(path = "web/intermediation_new.html")]
struct NewPage {
    chrome: Option<Chrome>,
    fields: Vec<Field>,
    classes: Vec<Choice>,
    class: String,
    idempotency_key: String,
    error: Option<Shown>,
}

fn value<'a>(values: &'a [(String, String)], name: &str) -> Option<&'a str> {
    values
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn page(visitor: &Visitor, values: &[(String, String)], error: Option<Shown>) -> NewPage {
    NewPage {
        chrome: Some(Chrome::of(visitor)),
        fields: FIELDS
            .iter()
            .map(|&(name, label, kind, help)| Field {
                name,
                label,
                kind,
                help,
                value: value(values, name).unwrap_or_default().to_string(),
            })
            .collect(),
        classes: CLASSES
            .iter()
            .map(|&(v, l)| Choice {
                value: v.into(),
                label: l.into(),
            })
            .collect(),
        class: value(values, "point_class").unwrap_or("lv").to_string(),
        idempotency_key: random_token(),
        error,
    }
}

/// The registration form.
pub async fn form(visitor: Visitor) -> Response {
    html(StatusCode::OK, &page(&visitor, &[], None))
}

/// The body the API would take: an empty field is left out, for the rules to name it.
fn body_of(values: &[(String, String)]) -> RegistrationBody {
    let get = |n: &str| {
        value(values, n)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    RegistrationBody {
        supply_point_id: get("supply_point_id"),
        current_retailer_code: get("current_retailer_code"),
        customer_number: get("customer_number"),
        contract_name: get("contract_name"),
        supply_address: get("supply_address"),
        desired_switch_date: get("desired_switch_date"),
        point_class: get("point_class"),
    }
}

/// Registers through `Intermediations::register`; on success, the intermediation's page.
pub async fn submit(
    State(state): State<WebState>,
    visitor: Visitor,
    Form(values): Form<Vec<(String, String)>>,
) -> Response {
    if !visitor.csrf_ok(value(&values, "csrf").unwrap_or_default()) {
        return crate::web::page::csrf_refused();
    }
    let key = value(&values, "idempotency_key");
    let outcome = service(&state)
        .register(&visitor.principal, body_of(&values), key)
        .await;
    match outcome {
        Ok(done) => Redirect::to(&format!("/web/intermediations/{}", done.id)).into_response(),
        Err(r @ (Refusal::InvalidField { .. } | Refusal::IntermediationAlreadyOpen)) => html(
            StatusCode::UNPROCESSABLE_ENTITY,
            &page(&visitor, &values, Some(Shown::from(&r))),
        ),
        Err(r) => refused(&r),
    }
}
