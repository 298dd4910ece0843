//! The application forms, one screen per task with the class (低圧 / 高圧 / 発電) as a choice.
//! The tasks and their fields are not written by hand: a task is the functions of the
//! function table (`domain::SPECS`) that share a payload record, and its fields are that
//! record's, read from its `.avsc` (`messages::shape`), so a field added to a schema appears
//! on its form at once. What the clerk typed goes to `Submissions::submit` as the same JSON the
//! API takes, so the form gets the API's refusal, shown next to the field it names.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Map, Value};

use super::WebState;
use super::amend::{Amendment, amendment_of};
use super::page::{Chrome, html, refused};
use super::session::{Visitor, random_token};
use super::signin::Shown;
use crate::accounts::Principal;
use crate::domain::{Function, PayloadRecord, PointClass, Refusal, SPECS};
use crate::messages::shape::{FieldShape, Shape, scalar_from_text, shapes};

/// A task as a clerk thinks of it: the functions of every class that file the same record.
pub struct Task {
    /// The low-voltage function's slug (the first of the table), the task's name in its URL.
    pub slug: &'static str,
    pub name_ja: &'static str,
    pub record: PayloadRecord,
    pub functions: Vec<Function>,
}

/// Every task with a form: each payload record of the table but 特定地点検索 (a search by
/// area, a screen of its own), in the table's order.
pub fn tasks() -> Vec<Task> {
    let mut tasks: Vec<Task> = Vec::new();
    for spec in SPECS {
        if spec.payload == PayloadRecord::PointSearch {
            continue;
        }
        match tasks.iter_mut().find(|t| t.record == spec.payload) {
            Some(t) => t.functions.push(spec.function),
            None => tasks.push(Task {
                slug: spec.slug,
                name_ja: spec.name_ja,
                record: spec.payload,
                functions: vec![spec.function],
            }),
        }
    }
    tasks
}

/// The task's functions `principal` may file: its registration's kind and its permissions.
pub fn classes_for(task: &Task, principal: &Principal) -> Vec<Function> {
    task.functions
        .iter()
        .copied()
        .filter(|&f| crate::requests::may_submit(principal, f).is_ok())
        .collect()
}

/// One input of a form, as the template draws it.
pub struct Input {
    pub name: String,
    pub label: String,
    /// `text`, `date`, `number`, `select` or `checkbox`.
    pub kind: &'static str,
    pub required: bool,
    pub options: Vec<String>,
    pub value: String,
    pub help: String,
}

/// A choice of class (the function it files).
pub struct ClassChoice {
    pub slug: &'static str,
    pub label: &'static str,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "web/apply.html")]
struct ApplyPage {
    chrome: Option<Chrome>,
    task_slug: &'static str,
    title: &'static str,
    classes: Vec<ClassChoice>,
    inputs: Vec<Input>,
    idempotency_key: String,
    amendment: Option<Amendment>,
    error: Option<Shown>,
}

/// The label of a field: its doc up to the first sentence mark (the schemas open each doc with
/// the Japanese item name: `再点予定日. …`, `契約決定方法: …`).
fn label_of(doc: &str) -> String {
    let end = [". ", ":", " (", "（"]
        .iter()
        .filter_map(|m| doc.find(m))
        .min()
        .unwrap_or(doc.len());
    doc[..end].trim_end_matches('.').trim().to_string()
}

fn input_of(field: &FieldShape, value: Option<&str>) -> Input {
    let inner = match &field.shape {
        Shape::Nullable(s) => s.as_ref(),
        s => s,
    };
    let (kind, options) = match inner {
        Shape::Date => ("date", vec![]),
        Shape::Int | Shape::Long | Shape::Double => ("number", vec![]),
        Shape::Bool => ("checkbox", vec![]),
        Shape::Enum(symbols) => ("select", symbols.clone()),
        _ => ("text", vec![]),
    };
    Input {
        name: field.name.clone(),
        label: label_of(&field.doc),
        kind,
        required: field.required() && kind != "checkbox",
        options,
        value: value.unwrap_or_default().to_string(),
        help: field.doc.clone(),
    }
}

fn point_input(value: Option<&str>) -> Input {
    Input {
        name: "supply_point_id".into(),
        label: "供給地点特定番号(発電は受電地点特定番号)".into(),
        kind: "text",
        required: true,
        options: vec![],
        value: value.unwrap_or_default().to_string(),
        help: "22桁の数字。先頭2桁がエリアです".into(),
    }
}

/// The form's inputs, filled with `values` (a form sent back with a refusal).
fn inputs(task: &Task, values: &[(String, String)]) -> Vec<Input> {
    let get = |n: &str| values.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    let record = shapes().known(task.record.into());
    std::iter::once(point_input(get("supply_point_id")))
        .chain(record.fields.iter().map(|f| input_of(f, get(&f.name))))
        .collect()
}

pub fn task_of(slug: &str) -> Result<Task, Refusal> {
    tasks()
        .into_iter()
        .find(|t| t.slug == slug)
        .ok_or_else(|| Refusal::UnknownFunction(slug.to_string()))
}

/// The task `function` is filed under.
pub fn task_of_function(function: Function) -> Option<Task> {
    tasks()
        .into_iter()
        .find(|t| t.functions.contains(&function))
}

fn page(
    visitor: &Visitor,
    task: &Task,
    chosen: Option<&str>,
    values: &[(String, String)],
    error: Option<Shown>,
) -> Result<ApplyPage, Refusal> {
    let allowed = classes_for(task, &visitor.principal);
    let Some(&first) = allowed.first() else {
        // Not one class of the task is open: the same refusal the API gives.
        let refusal = crate::requests::may_submit(&visitor.principal, task.functions[0]);
        return Err(refusal
            .err()
            .unwrap_or(Refusal::UnknownFunction(task.slug.into())));
    };
    let chosen = chosen.unwrap_or(first.slug());
    let amendment = amendment_of(values);
    let classes = allowed
        .iter()
        // An amendment is of the original's function: its class is not a choice.
        .filter(|f| amendment.is_none() || f.slug() == chosen)
        .map(|f| ClassChoice {
            slug: f.slug(),
            label: class_label(f.class()),
            checked: f.slug() == chosen || f.class().slug() == chosen,
        })
        .collect();
    Ok(ApplyPage {
        chrome: Some(Chrome::of(visitor)),
        task_slug: task.slug,
        title: task.name_ja,
        classes,
        inputs: inputs(task, values),
        idempotency_key: random_token(),
        amendment,
        error,
    })
}

fn class_label(c: PointClass) -> &'static str {
    match c {
        PointClass::LowVoltage => "低圧",
        PointClass::HighVoltage => "高圧",
        PointClass::Generation => "発電",
    }
}

/// The task's form; `?class=lv|hv|gen` or `?function=<slug>` preselects a class, and any
/// field of the form given in the query is prefilled (a point picked from a 特定地点検索, the
/// 廃止取次番号 of an approved intermediation, the original a 訂正 or 取消 quotes).
pub async fn form(
    visitor: Visitor,
    Path(slug): Path<String>,
    Query(values): Query<Vec<(String, String)>>,
) -> Response {
    let get = |n: &str| values.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    let chosen = get("function").or(get("class"));
    let built = task_of(&slug).and_then(|t| page(&visitor, &t, chosen, &values, None));
    match built {
        Ok(p) => html(StatusCode::OK, &p),
        Err(r) => refused(&r),
    }
}

/// Files the form through `Submissions::submit`; on success, the application's own page.
pub async fn submit(
    State(state): State<WebState>,
    visitor: Visitor,
    Path(slug): Path<String>,
    Form(values): Form<Vec<(String, String)>>,
) -> Response {
    let get = |n: &str| values.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    if !visitor.csrf_ok(get("csrf").unwrap_or_default()) {
        return super::page::csrf_refused();
    }
    let task = match task_of(&slug) {
        Ok(t) => t,
        Err(r) => return refused(&r),
    };
    let chosen = get("function");
    let outcome = match chosen.and_then(|c| task.functions.iter().find(|f| f.slug() == c)) {
        None => Err(Refusal::invalid(
            "function",
            "class_required",
            "区分(低圧・高圧・発電)を選んでください",
            "choose the class (low voltage, high voltage or generation)",
        )),
        Some(&function) => {
            let body = body_of(&task, &values);
            let key = get("idempotency_key").map(str::as_bytes);
            state
                .submissions
                .submit(&visitor.principal, function, Ok(body), key)
                .await
        }
    };
    match outcome {
        Ok(id) => Redirect::to(&format!("/web/requests/{id}")).into_response(),
        Err(
            r @ (Refusal::Internal(_)
            | Refusal::FunctionNotAllowed(_)
            | Refusal::FunctionNotPermitted(_)),
        ) => refused(&r),
        Err(r) => match page(&visitor, &task, chosen, &values, Some(Shown::from(&r))) {
            Ok(p) => html(StatusCode::UNPROCESSABLE_ENTITY, &p),
            Err(r) => refused(&r),
        },
    }
}

/// The JSON body the API would take for what the clerk typed: an empty optional field is left
/// out, a checkbox is `true` when ticked and `false` otherwise, a value is typed by its shape;
/// one that does not fit its shape is passed as typed, for the validation to refuse with the
/// API's own refusal.
fn body_of(task: &Task, values: &[(String, String)]) -> Value {
    let get = |n: &str| values.iter().find(|(k, _)| k == n).map(|(_, v)| v.trim());
    let mut body = Map::new();
    for name in ["supply_point_id", "update_flag", "original_request_id"] {
        if let Some(v) = get(name).filter(|v| !v.is_empty()) {
            body.insert(name.into(), Value::String(v.into()));
        }
    }
    for field in &shapes().known(task.record.into()).fields {
        let inner = match &field.shape {
            Shape::Nullable(s) => s.as_ref(),
            s => s,
        };
        let text = get(&field.name).unwrap_or_default();
        let value = match inner {
            Shape::Bool => Value::Bool(text == "true"),
            _ if text.is_empty() => continue,
            _ => scalar_from_text(text, inner).unwrap_or_else(|_| Value::String(text.into())),
        };
        body.insert(field.name.clone(), value);
    }
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_task_groups_the_classes_that_file_the_same_record() {
        let tasks = tasks();
        let reconnection = tasks.iter().find(|t| t.slug == "reconnection").unwrap();
        assert_eq!(
            reconnection.functions,
            vec![Function::Reconnection, Function::GenReconnection]
        );
        let abolition = tasks.iter().find(|t| t.slug == "abolition").unwrap();
        assert_eq!(abolition.functions.len(), 3);
        assert!(tasks.iter().all(|t| t.record != PayloadRecord::PointSearch));
    }

    #[test]
    fn a_label_is_the_item_name_that_opens_the_fields_doc() {
        assert_eq!(
            label_of("再点予定日. A retroactive date is allowed"),
            "再点予定日"
        );
        assert_eq!(
            label_of("契約決定方法: required in 09 九州"),
            "契約決定方法"
        );
        assert_eq!(
            label_of("契約電流希望 (A), ampere-breaker areas."),
            "契約電流希望"
        );
        assert_eq!(
            label_of("託送供給等約款への同意."),
            "託送供給等約款への同意"
        );
    }

    #[test]
    fn the_body_is_the_apis_json_typed_by_the_records_shape() {
        let task = task_of("reconnection").unwrap();
        let form = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let body = body_of(
            &task,
            &form(&[
                ("supply_point_id", "0300000000000000000007"),
                ("planned_date", "2026-12-01"),
                ("customer_name", "佐藤 花子"),
                ("customer_phone", ""),
                ("contract_ampere", "30"),
                ("agreed_to_grid_terms", "true"),
            ]),
        );
        assert_eq!(
            body,
            serde_json::json!({
                "supply_point_id": "0300000000000000000007",
                "planned_date": "2026-12-01",
                "customer_name": "佐藤 花子",
                "contract_ampere": 30,
                "agreed_to_grid_terms": true
            })
        );
        let correction = body_of(
            &task,
            &form(&[
                ("update_flag", "correct"),
                (
                    "original_request_id",
                    "0190c0de-0000-7000-8000-000000000000",
                ),
            ]),
        );
        assert_eq!(correction["update_flag"], "correct");
        assert_eq!(
            correction["original_request_id"],
            "0190c0de-0000-7000-8000-000000000000"
        );
        let unticked = body_of(&task, &form(&[("contract_ampere", "thirty")]));
        assert_eq!(unticked["agreed_to_grid_terms"], false);
        assert_eq!(unticked["contract_ampere"], "thirty");
    }
}
