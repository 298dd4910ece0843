//! Tests of the JSON dialect: the document the connector writes, the answers it reads, and how
//! every kind of bad answer is classified.

use chrono::NaiveDate;
use serde_json::{Value, json};

use super::*;
use crate::domain::{RequestId, UpdateFlag};
use crate::messages::{
    FacilityInquiry, FacilityInquiryResult, Payload, ResultPayload, SwitchStart,
};

mod generic;
mod malformed;

use crate::messages::fixtures::{self, REQUEST_ID};
pub(crate) const FI: Function = Function::FacilityInquiry;
pub(crate) const SS: Function = Function::SwitchStart;
/// Fields of the facility result the operator may leave out.
pub(crate) const FACILITY_OPTIONAL: [&str; 5] = [
    "contract_ampere",
    "contract_kva",
    "current_retailer_code",
    "generation_kw",
    "fit_scheme",
];

pub(crate) fn record(function: Function, payload: Payload) -> RequestRecord {
    let mut request = fixtures::request_at("0400123456789012340001", payload);
    request.function = function;
    request
}

pub(crate) fn switch_request() -> RequestRecord {
    let payload = Payload::SwitchStart(SwitchStart {
        planned_date: NaiveDate::from_ymd_opt(2026, 12, 1).expect("test date"),
        previous_retailer_code: "Z0400".into(),
        previous_customer_number: "C-001".into(),
        customer_name: "山田 \"太郎\" & 'Co'".into(),
        customer_phone: Some("052-123-4567".into()),
        contract_ampere: Some(40),
        intermediation_number: None,
        agreed_to_grid_terms: true,
        contract_method: None,
        contract_kw: None,
    });
    record(SS, payload)
}

pub(crate) fn facility_result() -> Value {
    json!({
        "supply_address": "愛知県名古屋市東区東新町1",
        "contract_kind": "従量電灯B",
        "contract_ampere": 40,
        "contract_kva": 6,
        "smart_meter": true,
        "meter_number": "0412345678",
        "next_meter_reading_date": "2026-12-05",
        "current_retailer_code": "Z0400"
    })
}

pub(crate) fn switch_result() -> Value {
    json!({
        "application_number": "04-2026112500001",
        "switch_date": "2026-12-05",
        "reception_stage": "09"
    })
}

pub(crate) fn refusal_error() -> Value {
    json!({"code": "E1001", "message": "該当する供給地点特定番号が存在しません"})
}

/// A 200 document: `result` for the test's request id.
pub(crate) fn completed(result: Value) -> Value {
    json!({"request_id": REQUEST_ID, "result": result})
}

/// A 422 document: `error` for the test's request id.
pub(crate) fn refused(error: Value) -> Value {
    json!({"request_id": REQUEST_ID, "error": error})
}

pub(crate) fn read(
    function: Function,
    status: u16,
    document: &Value,
) -> Result<TsoAnswer, CallError> {
    parse_answer(function, status, document.to_string().as_bytes())
}

/// `document` with `field` of the object at `pointer` set to `value`, or removed if `None`.
pub(crate) fn edited(document: &Value, pointer: &str, field: &str, value: Option<Value>) -> Value {
    let mut edited = document.clone();
    let object = edited
        .pointer_mut(pointer)
        .and_then(Value::as_object_mut)
        .expect("an object to edit");
    match value {
        Some(value) => object.insert(field.to_string(), value),
        None => object.remove(field),
    };
    edited
}

#[test]
fn the_body_carries_the_routing_facts_and_the_functions_fields() {
    let original: RequestId = "01931f6e-0000-7000-8000-000000000001".parse().expect("id");
    let mut request = switch_request();
    request.update_flag = UpdateFlag::Correct;
    request.original_request_id = Some(original);
    let expected = json!({
        "request_id": REQUEST_ID,
        "company_code": "A0001",
        "user_id": "taro.yamada",
        "update_flag": "2",
        "original_request_id": original.to_string(),
        "accepted_at": "2026-11-25T01:02:03Z",
        "supply_point_id": "0400123456789012340001",
        "fields": {
            "planned_date": "2026-12-01",
            "previous_retailer_code": "Z0400",
            "previous_customer_number": "C-001",
            "customer_name": "山田 \"太郎\" & 'Co'",
            "customer_phone": "052-123-4567",
            "contract_ampere": 40,
            "agreed_to_grid_terms": true
        }
    });
    assert_eq!(build_body(&request), expected);
}

#[test]
fn a_facility_inquiry_body_carries_the_routing_facts_and_no_fields() {
    let request = record(FI, Payload::FacilityInquiry(FacilityInquiry {}));
    let expected = json!({
        "request_id": REQUEST_ID,
        "company_code": "A0001",
        "user_id": "taro.yamada",
        "update_flag": "1",
        "accepted_at": "2026-11-25T01:02:03Z",
        "supply_point_id": "0400123456789012340001",
        "fields": {}
    });
    assert_eq!(build_body(&request), expected);
}

#[test]
fn a_facility_result_is_read_into_its_payload() {
    let expected = FacilityInquiryResult {
        supply_address: "愛知県名古屋市東区東新町1".into(),
        contract_kind: "従量電灯B".into(),
        contract_ampere: Some(40),
        contract_kva: Some(6.0),
        smart_meter: true,
        meter_number: "0412345678".into(),
        next_meter_reading_date: NaiveDate::from_ymd_opt(2026, 12, 5).expect("date"),
        current_retailer_code: Some("Z0400".into()),
        generation_kw: None,
        fit_scheme: None,
    };
    let answer = read(FI, 200, &completed(facility_result()));
    let payload = ResultPayload::FacilityInquiry(expected);
    assert_eq!(answer, Ok(TsoAnswer::Completed(payload)));
}

#[test]
fn optional_contract_fields_may_be_left_out_or_null() {
    for name in FACILITY_OPTIONAL {
        for value in [None, Some(Value::Null)] {
            let document = edited(&completed(facility_result()), "/result", name, value);
            let answer = read(FI, 200, &document);
            assert!(matches!(answer, Ok(TsoAnswer::Completed(_))), "{answer:?}");
        }
    }
}

#[test]
fn a_switch_result_is_read_into_its_payload() {
    let expected = crate::messages::SwitchStartResult {
        application_number: "04-2026112500001".into(),
        switch_date: NaiveDate::from_ymd_opt(2026, 12, 5).expect("date"),
        reception_stage: "09".into(),
    };
    let answer = read(SS, 200, &completed(switch_result()));
    let payload = ResultPayload::SwitchStart(expected);
    assert_eq!(answer, Ok(TsoAnswer::Completed(payload)));
}

#[test]
fn a_refusal_is_422_with_the_operators_code() {
    for &function in Function::ALL {
        let answer = read(function, 422, &refused(refusal_error()));
        let expected = TsoAnswer::Refused {
            code: "E1001".into(),
            message: "該当する供給地点特定番号が存在しません".into(),
        };
        assert_eq!(answer, Ok(expected));
    }
}

#[test]
fn other_statuses_are_http_errors_whatever_the_body() {
    let body = completed(facility_result()).to_string();
    for (status, transient) in [
        (500, true),
        (503, true),
        (429, true),
        (400, false),
        (201, false),
    ] {
        for body in [body.as_bytes(), b"<html>busy</html>".as_slice(), b""] {
            let got = parse_answer(FI, status, body);
            assert_eq!(got, Err(CallError::Status(status)));
            assert_eq!(got.err().map(|e| e.is_transient()), Some(transient));
        }
    }
}
