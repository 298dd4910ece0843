//! The simulator over the JSON family: the same operator, register and modes as over SOAP,
//! reached through the real JSON client, plus the JSON endpoint's own refusals of what it
//! cannot read.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::*;
use crate::connector::json::JsonClient;
use crate::wire::json::{build_answer, parse_body};
use crate::wire::json::{build_body, parse_answer};
use crate::wire::samples;

fn json_client(sim: &Running, timeout: Duration) -> JsonClient {
    JsonClient::new(&format!("{}/json", sim.base), timeout).expect("client")
}

/// Posts `body` to `/json/{service_id}` with the given headers, as no client of ours would.
async fn post_raw(
    sim: &Running,
    service_id: &str,
    headers: &[(&str, &str)],
    body: String,
) -> (StatusCode, Value) {
    let mut call = reqwest::Client::new()
        .post(format!("{}/json/{service_id}", sim.base))
        .body(body);
    for (name, value) in headers {
        call = call.header(*name, *value);
    }
    let response = call.send().await.expect("a response");
    let status = response.status();
    (status, response.json().await.expect("a JSON body"))
}

#[test]
fn a_body_round_trips_through_the_simulator_parser() {
    let register = Register::generate(Area::Chubu, SEED, 3);
    let point = register.iter().next().expect("a point");
    let mut correction = switch(point, |s| {
        s.customer_name = "山田 \"花子\" & <Co>".into();
        s.customer_phone = Some("090-1234-5678".into());
        s.intermediation_number = Some("T-0001".into());
    });
    correction.update_flag = UpdateFlag::Withdraw;
    correction.original_request_id = Some(RequestId::new());
    for request in [
        inquiry(&point.id),
        switch(point, |s| s.contract_ampere = None),
        correction,
    ] {
        let body = build_body(&request).to_string();
        assert_eq!(parse_body(request.function, body.as_bytes()), Ok(request));
    }
}

#[test]
fn an_answer_round_trips_through_the_client_parser() {
    let register = Register::generate(Area::Kyushu, SEED, 3);
    let point = register.iter().next().expect("a point");
    let facility = ResultPayload::FacilityInquiry(rules::facility_result(point, today()));
    let switch = ResultPayload::SwitchStart(SwitchStartResult {
        application_number: "09-2026112500001".into(),
        switch_date: days_from_today(12),
        reception_stage: "09".into(),
    });
    let id = RequestId::new();
    for (function, answer) in [
        (Function::FacilityInquiry, TsoAnswer::Completed(facility)),
        (Function::SwitchStart, TsoAnswer::Completed(switch)),
        (Function::SwitchStart, Rule::RetailerMismatch.answer()),
        (
            Function::SwitchStart,
            TsoAnswer::Pending { stage: "05".into() },
        ),
        (Function::SwitchEnd, TsoAnswer::Acknowledged),
    ] {
        let (status, document) = build_answer(&id, &answer);
        let body = document.to_string();
        assert_eq!(parse_answer(function, status, body.as_bytes()), Ok(answer));
    }
}

/// スイッチング開始申請's fields a body must carry.
const SWITCH_REQUIRED: [&str; 5] = [
    "planned_date",
    "previous_retailer_code",
    "previous_customer_number",
    "customer_name",
    "agreed_to_grid_terms",
];

/// `body` with `field` set to `value`, or removed if `None`, as bytes: a payload field under
/// `fields`, any other at the top.
fn edited(body: &Value, field: &str, value: Option<Value>) -> Vec<u8> {
    let mut edited = body.clone();
    let payload_field = edited["fields"].get(field).is_some();
    let object = match payload_field {
        true => &mut edited["fields"],
        false => &mut edited,
    };
    let object = object.as_object_mut().expect("an object");
    match value {
        Some(value) => object.insert(field.to_string(), value),
        None => object.remove(field),
    };
    edited.to_string().into_bytes()
}

/// A wrong value for each routing field, and fields that have no place in an inquiry.
fn ill_typed_request_fields() -> [(&'static str, Value); 10] {
    [
        ("request_id", json!("not-a-uuid")),
        ("company_code", json!("a0001")),
        ("user_id", json!("")),
        ("update_flag", json!("4")),
        ("update_flag", json!(1)),
        ("accepted_at", json!("2026-11-25")),
        ("supply_point_id", json!("0312")),
        ("original_request_id", json!("x")),
        ("surprise", json!(true)),
        ("planned_date", json!("2026-12-01")),
    ]
}

#[test]
fn the_body_reader_refuses_each_missing_unknown_or_ill_typed_field() {
    for (what, function, body) in unreadable_bodies() {
        let got = parse_body(function, &body);
        assert!(got.is_err(), "{what}: read as {got:?}");
    }
}

/// Bodies the reader must refuse: (what each breaks, the function of the path, the body).
fn unreadable_bodies() -> Vec<(String, Function, Vec<u8>)> {
    let (fi, ss) = (Function::FacilityInquiry, Function::SwitchStart);
    let register = Register::generate(Area::Chubu, SEED, 1);
    let point = register.iter().next().expect("a point");
    let inquiry = build_body(&inquiry(&point.id));
    let switch = build_body(&switch(point, |_| {}));
    let bytes = |body: &Value| body.to_string().into_bytes();
    let mut cases = vec![
        (
            "an inquiry sent as a switch".to_string(),
            ss,
            bytes(&inquiry),
        ),
        (
            "a switch sent as an inquiry".to_string(),
            fi,
            bytes(&switch),
        ),
    ];
    for field in inquiry.as_object().expect("an object").keys() {
        cases.push((
            format!("without {field}"),
            fi,
            edited(&inquiry, field, None),
        ));
    }
    for field in SWITCH_REQUIRED {
        cases.push((format!("without {field}"), ss, edited(&switch, field, None)));
    }
    for (field, bad) in ill_typed_request_fields() {
        let what = format!("{field} = {bad}");
        cases.push((what, fi, edited(&inquiry, field, Some(bad))));
    }
    for bad in ["{", "[]", "", "null"] {
        cases.push((format!("{bad:?}"), fi, bad.as_bytes().to_vec()));
    }
    cases
}

#[tokio::test]
async fn the_client_and_the_simulator_speak_the_same_json() {
    let sim = tokyo().await;
    let client = json_client(&sim, Duration::from_secs(5));
    let point = sim.point(3);
    let over_soap = sim.client.call(&inquiry(&point.id)).await;
    let over_json = client.call(&inquiry(&point.id)).await;
    assert!(
        matches!(over_json, Ok(TsoAnswer::Completed(_))),
        "{over_json:?}"
    );
    assert_eq!(
        over_json, over_soap,
        "one operator, two dialects, one answer"
    );
    let point = sim.point(5);
    let start = switch(&point, |_| {});
    let pending = client.call(&start).await;
    assert_eq!(pending, Ok(TsoAnswer::Pending { stage: "05".into() }));
    let end = client.call(&switch_end(&point, days_from_today(10))).await;
    assert!(matches!(end, Ok(TsoAnswer::Completed(_))), "{end:?}");
    let answer = client.call(&start).await;
    assert!(
        matches!(answer, Ok(TsoAnswer::Completed(ResultPayload::SwitchStart(ref r)))
        if r.application_number == "03-2026112500001"),
        "{answer:?}"
    );
    assert_eq!((sim.sim.calls(), sim.sim.applications()), (5, 2));
}

#[tokio::test]
async fn every_function_gets_the_same_answer_over_json_as_over_soap() {
    let (over_soap, over_json) = (tokyo().await, tokyo().await);
    let client = json_client(&over_json, Duration::from_secs(5));
    for (i, &function) in Function::ALL.iter().enumerate() {
        let mut request = samples::request(function, true);
        request.request_id = RequestId::new();
        request.point_id = over_soap.point(i as u32 + 20).id;
        let soap = over_soap.client.call(&request).await;
        let json = client.call(&request).await;
        assert!(soap.is_ok(), "{function}: {soap:?}");
        assert_eq!(json, soap, "{function}");
    }
}

#[tokio::test]
async fn the_simulator_refuses_with_422_and_the_operators_code() {
    let sim = tokyo().await;
    let unknown = inquiry(&point_id(Area::Tokyo, POINTS + 1));
    let key = unknown.request_id.to_string();
    let headers = [
        ("content-type", "application/json"),
        ("idempotency-key", key.as_str()),
    ];
    let body = build_body(&unknown).to_string();
    let (status, document) = post_raw(&sim, "IF_10110", &headers, body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(document["request_id"], key.as_str());
    assert_eq!(document["error"]["code"], "E1001");
    let client = json_client(&sim, Duration::from_secs(5));
    let request = switch(&sim.point(9), |s| s.previous_retailer_code = "B0002".into());
    let got = client.call(&request).await;
    assert!(
        matches!(got, Ok(TsoAnswer::Refused { ref code, .. }) if code == "E2102"),
        "{got:?}"
    );
}

#[tokio::test]
async fn one_request_id_is_one_application_whichever_family_carries_it() {
    let sim = tokyo().await;
    let client = json_client(&sim, Duration::from_secs(5));
    let point = sim.point(12);
    let start = switch(&point, |_| {});
    let pending = Ok(TsoAnswer::Pending { stage: "05".into() });
    assert_eq!(sim.client.call(&start).await, pending);
    assert_eq!(
        client.call(&start).await,
        pending,
        "the status check over JSON"
    );
    let end = switch_end(&point, days_from_today(10));
    let first = client.call(&end).await.expect("an answer over JSON");
    assert_eq!(sim.client.call(&end).await, Ok(first));
    let done = sim.client.call(&start).await;
    assert!(matches!(done, Ok(TsoAnswer::Completed(_))), "{done:?}");
    assert_eq!(client.call(&start).await, done);
    assert_eq!(sim.sim.applications(), 2);
}

#[tokio::test]
async fn an_unreadable_json_request_gets_a_client_error_and_files_nothing() {
    let sim = tokyo().await;
    let request = inquiry(&sim.point(0).id);
    let key = request.request_id.to_string();
    let valid = build_body(&request).to_string();
    let (json, xml) = ("application/json", "text/xml");
    // (service id, content type, idempotency key, body, expected status)
    let cases = [
        ("IF_99999", json, Some(key.as_str()), valid.as_str(), 404),
        ("IF_10110", xml, Some(key.as_str()), valid.as_str(), 415),
        ("IF_10110", json, Some(key.as_str()), "not json", 400),
        ("IF_10610", json, Some(key.as_str()), valid.as_str(), 400),
        ("IF_10110", json, None, valid.as_str(), 400),
        ("IF_10110", json, Some("another"), valid.as_str(), 400),
    ];
    for (service_id, media, key, body, expected) in cases {
        let mut headers = vec![("content-type", media)];
        headers.extend(key.map(|key| ("idempotency-key", key)));
        let (status, document) = post_raw(&sim, service_id, &headers, body.to_string()).await;
        assert_eq!(
            status.as_u16(),
            expected,
            "{service_id} {headers:?}: {document}"
        );
        assert!(document["error"]["message"].is_string(), "{document}");
    }
    assert_eq!((sim.sim.calls(), sim.sim.applications()), (6, 0));
}

#[tokio::test]
async fn fail_slow_and_malformed_modes_mean_the_same_over_json() {
    let sim = tokyo().await;
    let client = json_client(&sim, Duration::from_secs(5));
    let request = || inquiry(&sim.point(0).id);
    sim.sim.set_mode(Mode::Fail);
    let got = client.call(&request()).await;
    assert_eq!(got, Err(CallError::Status(503)));
    assert!(got.err().is_some_and(|e| e.is_transient()));
    sim.sim.set_mode(Mode::Malformed);
    let got = client.call(&request()).await;
    assert!(matches!(&got, Err(CallError::Malformed(_))), "{got:?}");
    assert!(got.err().is_some_and(|e| !e.is_transient()));
    sim.sim.set_mode(Mode::Slow { delay_ms: 400 });
    let impatient = json_client(&sim, Duration::from_millis(100));
    assert_eq!(impatient.call(&request()).await, Err(CallError::Timeout));
    let started = Instant::now();
    assert!(client.call(&request()).await.is_ok());
    assert!(started.elapsed() >= Duration::from_millis(400));
}

#[tokio::test]
async fn hang_mode_holds_a_json_call_until_released() {
    let sim = Arc::new(tokyo().await);
    sim.sim.set_mode(Mode::Hang);
    let request = switch(&sim.point(14), |_| {});
    let caller = sim.clone();
    let call = tokio::spawn(async move {
        json_client(&caller, Duration::from_secs(10))
            .call(&request)
            .await
    });
    until("the call arrives", || sim.sim.calls() == 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!call.is_finished(), "a hung call answered");
    sim.sim.set_mode(Mode::Normal);
    let answer = tokio::time::timeout(Duration::from_secs(5), call)
        .await
        .expect("released")
        .expect("joined");
    assert_eq!(answer, Ok(TsoAnswer::Pending { stage: "05".into() }));
}

#[tokio::test]
async fn a_hung_json_call_is_answered_503_when_the_server_stops() {
    let sim = Arc::new(tokyo().await);
    sim.sim.set_mode(Mode::Hang);
    let caller = sim.clone();
    let call = tokio::spawn(async move {
        let request = inquiry(&point_id(Area::Tokyo, 0));
        json_client(&caller, Duration::from_secs(10))
            .call(&request)
            .await
    });
    until("the call arrives", || sim.sim.calls() == 1).await;
    sim.stop.cancel();
    let answer = tokio::time::timeout(Duration::from_secs(5), call)
        .await
        .expect("released")
        .expect("joined");
    assert_eq!(answer, Err(CallError::Status(503)));
}
