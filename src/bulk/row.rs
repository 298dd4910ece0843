//! One row of a bulk file as its single call sees it: a cell's text turned into the value the
//! call's JSON body would carry, and the body checked by that call's own rules (its [`Filer`]'s),
//! so a row is refused with the very code and message the API gives. Pure: no I/O; what only
//! filing can check (a quoted 廃止取次番号, an intermediation still awaiting a decision) is
//! checked when the row is filed.

use chrono::NaiveDate;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::kind::{BulkKind, Filer};
use super::parse::{Row, RowFault, Uploader, cell_value};
use crate::domain::Refusal;
use crate::intermediation::{Decision, DecisionBody, REASONS, Registration};
use crate::requests::validate;

/// The JSON value of `text` in the column of `field` (never empty: an empty cell is absent).
pub fn cell(kind: BulkKind, field: &str, text: &str) -> Value {
    match (kind.filer(), field) {
        (Filer::IntermediationDecision(_), "decision") => match text {
            "承諾" => "approve".into(),
            "否認" => "decline".into(),
            other => other.to_ascii_lowercase().into(),
        },
        (Filer::IntermediationDecision(_), "reasons") => reasons(text),
        (Filer::Users, "permissions") => text.split_whitespace().map(Value::from).collect(),
        (Filer::Users, "administrator") => match text {
            "yes" => true.into(),
            "no" => false.into(),
            _ => cell_value(&kind.shape_of(field), text),
        },
        _ => cell_value(&kind.shape_of(field), text),
    }
}

/// Decline reasons as a spreadsheet cell holds them: codes or their Japanese names, separated
/// by `;`, `、`, `／`, `/` or spaces. An unknown one stays as written, so the decision's rule
/// names it.
fn reasons(text: &str) -> Value {
    text.split([';', '；', '、', '/', '／', ' ', '\u{3000}'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            REASONS
                .iter()
                .find(|r| r.label_ja == t)
                .map_or_else(|| t.to_string(), |r| r.code.to_string())
        })
        .map(Value::from)
        .collect()
}

/// 同一法人需要者の一括申請: the file is one corporate customer's application in one area, so
/// a good row of another area or another 需要者名義 than the first good row's is bad. Checked
/// row by row as the file is read: only the first good row's area and name are kept.
#[derive(Default)]
pub struct OneCustomer {
    first: Option<(Option<String>, Value)>,
}

impl OneCustomer {
    /// Marks `row` bad if it is good and of another area or customer than the first good row.
    pub fn check(&mut self, kind: BulkKind, row: &mut Row) {
        if !kind.one_customer() {
            return;
        }
        let Ok(body) = &row.outcome else { return };
        let area = row.point.get(..2).map(str::to_string);
        let Some((first_area, first_name)) = &self.first else {
            self.first = Some((area, body["customer_name"].clone()));
            return;
        };
        let name = first_name.as_str().unwrap_or_default();
        let point = kind.point_column().header;
        let fault = if area != *first_area {
            Some(RowFault {
                column: Some(point.to_string()),
                code: "not_one_area".into(),
                ja: "同一法人需要者の一括申請は1エリアの地点だけです(最初の行と別のエリア)".into(),
                en: "one bulk usage application covers one area: this point is in another area than the first row's".into(),
            })
        } else if body["customer_name"] != *first_name {
            Some(RowFault {
                column: Some("需要者名義".into()),
                code: "not_one_customer".into(),
                ja: format!("同一法人需要者の一括申請は1需要者だけです(最初の行は「{name}」)"),
                en: format!(
                    "one bulk usage application is for one customer (the first row's is {name})"
                ),
            })
        } else {
            None
        };
        if let Some(f) = fault {
            row.outcome = Err(f);
        }
    }
}

/// The body a good row is stored with (what the bulk function adds, such as an
/// intermediation's class), or why the single call would refuse it.
pub fn check(
    kind: BulkKind,
    uploader: &Uploader,
    mut body: Map<String, Value>,
    today: NaiveDate,
) -> Result<Value, Refusal> {
    let company = &uploader.company;
    match kind.filer() {
        Filer::Users => {
            let body = Value::Object(body);
            crate::accounts::bulk::user_request_of(company, uploader.kind, &body)?;
            Ok(body)
        }
        Filer::Submission(function) => {
            let body = Value::Object(body);
            validate::submission(function, company, body.clone(), today)?;
            Ok(body)
        }
        Filer::IntermediationRegister(class) => {
            body.insert("point_class".into(), class.slug().into());
            let body = Value::Object(body);
            Registration::validate(typed(body.clone())?, company, today)?;
            Ok(body)
        }
        Filer::IntermediationDecision(_) => {
            let (id, decision) = decision_of(Value::Object(body.clone()))?;
            Decision::validate(decision)?;
            body.insert("id".into(), id.to_string().into());
            Ok(Value::Object(body))
        }
    }
}

/// A decision row's intermediation and decision, as the API's path and body would give them.
pub fn decision_of(body: Value) -> Result<(Uuid, DecisionBody), Refusal> {
    let Value::Object(mut body) = body else {
        return Err(Refusal::Internal(anyhow::anyhow!("a row is an object")));
    };
    let id = match body.remove("id") {
        Some(Value::String(id)) => id,
        _ => {
            return Err(Refusal::invalid(
                "id",
                "missing_field",
                "項目 id (廃止取次ID) は必須です",
                "id is required",
            ));
        }
    };
    // The API answers an id that is not a UUID as it answers one it cannot see.
    let id = id
        .parse::<Uuid>()
        .map_err(|_| Refusal::IntermediationNotFound)?;
    Ok((id, typed(Value::Object(body))?))
}

/// The single call's typed body of a row; a cell that does not fit is the row's fault.
pub fn typed<T: serde::de::DeserializeOwned>(body: Value) -> Result<T, Refusal> {
    serde_json::from_value(body).map_err(|e| {
        Refusal::invalid(
            "body",
            "invalid_field",
            format!("行の項目が正しくありません: {e}"),
            e.to_string(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> Uploader {
        Uploader {
            company: crate::domain::CompanyCode::parse("A0001").unwrap(),
            kind: crate::domain::CompanyKind::Retailer,
        }
    }

    fn decision() -> BulkKind {
        BulkKind::parse("switch-intermediation-decision").unwrap()
    }

    #[test]
    fn a_decision_cell_takes_the_japanese_words_and_reason_names() {
        assert_eq!(cell(decision(), "decision", "否認"), Value::from("decline"));
        assert_eq!(cell(decision(), "decision", "承諾"), Value::from("approve"));
        assert_eq!(
            cell(decision(), "reasons", "契約名義不一致; other"),
            serde_json::json!(["name_mismatch", "other"])
        );
    }

    #[test]
    fn a_decision_row_is_checked_by_the_decisions_own_rule() {
        let company = me();
        let today = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
        let body = |v: Value| v.as_object().unwrap().clone();
        let id = Uuid::now_v7().to_string();
        let refused = check(
            decision(),
            &company,
            body(serde_json::json!({"id": id, "decision": "decline"})),
            today,
        )
        .unwrap_err();
        assert_eq!(refused.code(), "decline_reason_required");
        let not_an_id = check(
            decision(),
            &company,
            body(serde_json::json!({"id": "x", "decision": "approve"})),
            today,
        )
        .unwrap_err();
        assert_eq!(not_an_id.code(), "intermediation_not_found");
        assert!(
            check(
                decision(),
                &company,
                body(serde_json::json!({"id": id, "decision": "approve"})),
                today
            )
            .is_ok()
        );
    }

    #[test]
    fn a_registration_row_carries_its_bulk_functions_class() {
        let company = me();
        let today = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
        let body = serde_json::json!({
            "supply_point_id": "0310000000000000000001", "current_retailer_code": "B0002",
            "customer_number": "1", "contract_name": "山田", "supply_address": "東京都",
            "desired_switch_date": "2026-12-10"});
        let kind = BulkKind::parse("hv-switch-intermediation").unwrap();
        let stored = check(kind, &company, body.as_object().unwrap().clone(), today).unwrap();
        assert_eq!(stored["point_class"], "hv");
        let mut to_self = body.as_object().unwrap().clone();
        to_self.insert("current_retailer_code".into(), "A0001".into());
        assert_eq!(
            check(kind, &company, to_self, today).unwrap_err().code(),
            "switch_to_self"
        );
    }
}
