//! The dialect for every function alike: each function's sample request and every kind of
//! answer round-trip between the two ends, lists travel inside a result, and the new answers
//! (202 pending, 200 acknowledged) are read strictly.

use super::*;
use crate::wire::samples;

fn pending(stage: Value) -> Value {
    json!({"request_id": REQUEST_ID, "pending": {"stage": stage}})
}

fn acknowledged(flag: Value) -> Value {
    json!({"request_id": REQUEST_ID, "acknowledged": flag})
}

#[test]
fn every_functions_request_round_trips_through_the_simulators_reader() {
    for &function in Function::ALL {
        for full in [true, false] {
            let mut request = samples::request(function, full);
            if !full {
                request.update_flag = UpdateFlag::Correct;
                request.original_request_id = Some(RequestId::new());
            }
            let body = build_body(&request);
            let fields = body["fields"].as_object().expect("fields");
            assert!(
                fields.values().all(|v| !v.is_null()),
                "nulls left out: {body}"
            );
            let bytes = body.to_string().into_bytes();
            assert_eq!(parse_body(function, &bytes), Ok(request), "{body}");
        }
    }
}

#[test]
fn every_kind_of_answer_to_every_function_round_trips_through_the_clients_reader() {
    let id: RequestId = REQUEST_ID.parse().expect("id");
    for &function in Function::ALL {
        for answer in samples::answers(function) {
            let (status, document) = build_answer(&id, &answer);
            let body = document.to_string();
            assert_eq!(
                parse_answer(function, status, body.as_bytes()),
                Ok(answer),
                "{function}: {status} {body}"
            );
        }
    }
}

#[test]
fn pending_is_202_and_acknowledged_is_200_without_a_result() {
    let id: RequestId = REQUEST_ID.parse().expect("id");
    let (status, document) = build_answer(&id, &TsoAnswer::Pending { stage: "05".into() });
    assert_eq!((status, document), (202, pending(json!("05"))));
    let (status, document) = build_answer(&id, &TsoAnswer::Acknowledged);
    assert_eq!((status, document), (200, acknowledged(json!(true))));
}

#[test]
fn pending_and_acknowledged_answers_are_read_strictly() {
    let ss = Function::SwitchStart;
    let cases = [
        (202, pending(json!(""))),
        (202, pending(json!(5))),
        (202, pending(Value::Null)),
        (202, json!({"request_id": REQUEST_ID, "pending": {}})),
        (
            202,
            json!({"request_id": REQUEST_ID, "pending": {"stage": "05", "x": 1}}),
        ),
        (202, json!({"request_id": REQUEST_ID})),
        (202, completed(switch_result())),
        (200, acknowledged(json!(false))),
        (200, acknowledged(json!("true"))),
        (200, acknowledged(Value::Null)),
        (200, json!({"request_id": REQUEST_ID})),
        (
            200,
            edited(
                &acknowledged(json!(true)),
                "",
                "result",
                Some(switch_result()),
            ),
        ),
        (
            200,
            edited(&acknowledged(json!(true)), "", "x", Some(json!(1))),
        ),
        (200, json!({"request_id": REQUEST_ID, "result": null})),
        (200, pending(json!("05"))),
        (422, pending(json!("05"))),
        (422, acknowledged(json!(true))),
    ];
    for (status, document) in cases {
        let got = read(ss, status, &document);
        assert!(
            matches!(got, Err(CallError::Malformed(_))),
            "{status} {document}: {got:?}"
        );
    }
}

#[test]
fn a_result_with_lists_is_read_and_a_list_elsewhere_is_refused() {
    let function = Function::HvUsageInquiry;
    let result = samples::result(function, true);
    let document = completed(result.to_json());
    assert_eq!(
        read(function, 200, &document),
        Ok(TsoAnswer::Completed(result))
    );
    let bad_entry = edited(&document, "/result/monthly/0", "kwh", Some(json!("many")));
    let extra = edited(&document, "/result/half_hourly/1", "x", Some(json!(1)));
    let not_a_list = edited(&document, "/result", "monthly", Some(json!({})));
    let positional = edited(
        &document,
        "/result",
        "monthly",
        Some(json!([["2026-10", 1.5]])),
    );
    let listed_stage = pending(json!(["05"]));
    for (status, document) in [
        (200, bad_entry),
        (200, extra),
        (200, not_a_list),
        (200, positional),
        (202, listed_stage),
    ] {
        let got = read(function, status, &document);
        assert!(
            matches!(got, Err(CallError::Malformed(_))),
            "{document}: {got:?}"
        );
    }
}

#[test]
fn the_simulators_reader_refuses_fields_that_do_not_fit_the_payload_record() {
    let function = Function::AmpereChange;
    let body = build_body(&samples::request(function, true));
    let cases = [
        edited(&body, "/fields", "contract_ampere", None),
        edited(&body, "/fields", "contract_ampere", Some(json!("40"))),
        edited(&body, "/fields", "contract_ampere", Some(json!(1e10))),
        edited(&body, "/fields", "planned_date", Some(json!("2026-12-1"))),
        edited(&body, "/fields", "customer_name", Some(json!("x"))),
        edited(&body, "", "fields", Some(json!([]))),
        edited(&body, "", "fields", None),
        edited(&body, "", "planned_date", Some(json!("2026-12-01"))),
    ];
    for document in cases {
        let got = parse_body(function, document.to_string().as_bytes());
        assert!(got.is_err(), "{document}: {got:?}");
    }
    let repeated =
        body.to_string()
            .replacen("\"fields\":{", "\"fields\":{\"contract_ampere\":30,", 1);
    assert!(
        parse_body(function, repeated.as_bytes()).is_err(),
        "{repeated}"
    );
}
