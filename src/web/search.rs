//! 特定地点検索: find a point of one area by its address, service-pole number (引込柱番号) or
//! meter number (計器番号). The search is an application like any other — filed through
//! `Submissions::submit` as `point-search`, answered by the area's grid operator — so the form
//! leads to its own page, where the answer is a list of points, each with the forms a clerk
//! may open for it, the point filled in.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::WebState;
use super::list::Choice;
use super::page::{Chrome, html, refused};
use super::session::{Visitor, random_token};
use super::signin::Shown;
use crate::accounts::Principal;
use crate::domain::{Area, Function, Refusal};

/// The search's criteria, as the form names them (the `point-search` body's fields).
const CRITERIA: [(&str, &str, &str); 3] = [
    (
        "address",
        "供給場所(住所の一部)",
        "2文字以上。空白は無視されます",
    ),
    ("service_pole_number", "引込柱番号", "完全一致"),
    ("meter_number", "計器番号", "完全一致"),
];

/// One criterion's input.
pub struct Criterion {
    pub name: &'static str,
    pub label: &'static str,
    pub help: &'static str,
    pub value: String,
}

#[derive(Template)]
#[template(path = "web/search.html")]
struct SearchPage {
    chrome: Option<Chrome>,
    areas: Vec<Choice>,
    area: String,
    criteria: Vec<Criterion>,
    idempotency_key: String,
    error: Option<Shown>,
}

fn page(visitor: &Visitor, values: &[(String, String)], error: Option<Shown>) -> SearchPage {
    let get = |n: &str| {
        values
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    SearchPage {
        chrome: Some(Chrome::of(visitor)),
        areas: Area::ALL
            .iter()
            .map(|a| Choice {
                value: a.code().into(),
                label: format!("{} {}", a.code(), a.name_ja()),
            })
            .collect(),
        area: get("area"),
        criteria: CRITERIA
            .iter()
            .map(|&(name, label, help)| Criterion {
                name,
                label,
                help,
                value: get(name),
            })
            .collect(),
        idempotency_key: random_token(),
        error,
    }
}

/// The search form, open to whoever may file `point-search`.
pub async fn form(visitor: Visitor) -> Response {
    if let Err(r) = crate::requests::may_submit(&visitor.principal, Function::PointSearch) {
        return refused(&r);
    }
    html(StatusCode::OK, &page(&visitor, &[], None))
}

/// The body the API would take: the area and each criterion given.
fn body_of(values: &[(String, String)]) -> Value {
    let mut body = Map::new();
    for name in ["area"].into_iter().chain(CRITERIA.map(|c| c.0)) {
        let given = values
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty());
        if let Some(v) = given {
            body.insert(name.into(), Value::String(v.into()));
        }
    }
    Value::Object(body)
}

/// Files the search; on success its page, where the answer arrives.
pub async fn submit(
    State(state): State<WebState>,
    visitor: Visitor,
    Form(values): Form<Vec<(String, String)>>,
) -> Response {
    let get = |n: &str| values.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    if !visitor.csrf_ok(get("csrf").unwrap_or_default()) {
        return super::page::csrf_refused();
    }
    let key = get("idempotency_key").map(str::as_bytes);
    let outcome = state
        .submissions
        .submit(
            &visitor.principal,
            Function::PointSearch,
            Ok(body_of(&values)),
            key,
        )
        .await;
    match outcome {
        Ok(id) => Redirect::to(&format!("/web/requests/{id}")).into_response(),
        Err(r @ Refusal::InvalidField { .. }) => html(
            StatusCode::UNPROCESSABLE_ENTITY,
            &page(&visitor, &values, Some(Shown::from(&r))),
        ),
        Err(r) => refused(&r),
    }
}

#[derive(Deserialize)]
pub struct StartQuery {
    task: String,
    supply_point_id: Option<String>,
}

/// From a point picked on a 特定地点検索's answer to the chosen task's form, the point filled.
pub async fn start(_visitor: Visitor, Query(q): Query<StartQuery>) -> Response {
    let task = match super::apply::task_of(&q.task) {
        Ok(t) => t,
        Err(r) => return refused(&r),
    };
    let query = [("supply_point_id", q.supply_point_id.unwrap_or_default())];
    let query = serde_urlencoded::to_string(query).unwrap_or_default();
    Redirect::to(&format!("/web/apply/{}?{query}", task.slug)).into_response()
}

/// One point of a search's answer, with the forms the clerk may open for it.
pub struct PointChoice {
    pub point_id: String,
    pub supply_address: String,
    pub service_pole_number: String,
    pub meter_number: String,
    pub tasks: Vec<Choice>,
}

/// The matches of `result` when it is a point search's answer (it has `matches`).
pub fn choices_of(result: &Value, principal: &Principal) -> Option<Vec<PointChoice>> {
    let matches = result.get("matches")?.as_array()?;
    let tasks: Vec<Choice> = super::apply::tasks()
        .into_iter()
        .filter(|t| !super::apply::classes_for(t, principal).is_empty())
        .map(|t| Choice {
            value: t.slug.into(),
            label: t.name_ja.into(),
        })
        .collect();
    let text = |m: &Value, k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    Some(
        matches
            .iter()
            .map(|m| PointChoice {
                point_id: text(m, "point_id"),
                supply_address: text(m, "supply_address"),
                service_pole_number: text(m, "service_pole_number"),
                meter_number: text(m, "meter_number"),
                tasks: tasks
                    .iter()
                    .map(|c| Choice {
                        value: c.value.clone(),
                        label: c.label.clone(),
                    })
                    .collect(),
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_search_body_is_the_apis_with_only_the_criteria_given() {
        let form = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let body = body_of(&form(&[
            ("csrf", "x"),
            ("area", "03"),
            ("address", " 千代田区 "),
            ("service_pole_number", ""),
            ("meter_number", ""),
        ]));
        assert_eq!(
            body,
            serde_json::json!({"area": "03", "address": "千代田区"})
        );
    }
}
