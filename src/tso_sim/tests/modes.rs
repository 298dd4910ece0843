//! Tests of the failure modes and the HTTP surface: control, stats, and requests the
//! simulator cannot read.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Days;
use reqwest::StatusCode;

use super::*;
use crate::wire::soap::{build_envelope, parse_answer};

#[tokio::test]
async fn fail_mode_answers_503_which_is_transient() {
    let sim = tokyo().await;
    assert_eq!(sim.control(r#"{"mode":"fail"}"#).await.0, StatusCode::OK);
    let got = sim.client.call(&inquiry(&sim.point(0).id)).await;
    assert_eq!(got, Err(CallError::Status(503)));
    assert!(got.err().is_some_and(|e| e.is_transient()));
    sim.control(r#"{"mode":"normal"}"#).await;
    assert!(sim.client.call(&inquiry(&sim.point(0).id)).await.is_ok());
}

#[tokio::test]
async fn slow_mode_delays_the_answer_past_a_short_timeout() {
    let sim = tokyo().await;
    sim.control(r#"{"mode":"slow","delay_ms":400}"#).await;
    let impatient =
        SoapClient::new(&format!("{}/soap", sim.base), Duration::from_millis(100)).expect("client");
    assert_eq!(
        impatient.call(&inquiry(&sim.point(0).id)).await,
        Err(CallError::Timeout)
    );
    let started = Instant::now();
    assert!(sim.client.call(&inquiry(&sim.point(0).id)).await.is_ok());
    assert!(started.elapsed() >= Duration::from_millis(400));
}

#[tokio::test]
async fn hang_mode_holds_the_call_until_released() {
    let sim = Arc::new(tokyo().await);
    sim.control(r#"{"mode":"hang"}"#).await;
    let request = switch(&sim.point(14), |_| {});
    let caller = sim.clone();
    let call = tokio::spawn(async move { caller.client.call(&request).await });
    until("the call arrives", || sim.sim.calls() == 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!call.is_finished(), "a hung call answered");
    sim.control(r#"{"mode":"normal"}"#).await;
    let answer = tokio::time::timeout(Duration::from_secs(5), call)
        .await
        .expect("released")
        .expect("joined");
    // A switch start waits for its counterpart (照合待ち): not yet a completed application.
    assert!(
        matches!(answer, Ok(TsoAnswer::Pending { .. })),
        "{answer:?}"
    );
    assert_eq!(sim.sim.applications(), 0);
}

#[tokio::test]
async fn a_hung_call_is_answered_503_when_the_server_stops() {
    let sim = Arc::new(tokyo().await);
    sim.sim.set_mode(Mode::Hang);
    let caller = sim.clone();
    let call = tokio::spawn(async move {
        caller
            .client
            .call(&inquiry(&point_id(Area::Tokyo, 0)))
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

#[tokio::test]
async fn malformed_mode_is_a_malformed_answer_never_retried() {
    let sim = tokyo().await;
    sim.sim.set_mode(Mode::Malformed);
    let got = sim.client.call(&inquiry(&sim.point(0).id)).await;
    assert!(matches!(&got, Err(CallError::Malformed(_))), "{got:?}");
    assert!(got.err().is_some_and(|e| !e.is_transient()));
}

#[tokio::test]
async fn bad_control_json_is_refused_with_400() {
    let sim = tokyo().await;
    for bad in [
        "not json",
        r#"{"mode":"sideways"}"#,
        r#"{"mode":"slow"}"#,
        r#"{"mode":"normal","x":1}"#,
        "{}",
    ] {
        let (status, body) = sim.control(bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(body["error"].is_string(), "{bad}: {body}");
    }
    assert_eq!(sim.sim.mode(), Mode::Normal);
}

#[tokio::test]
async fn stats_report_area_calls_applications_and_mode() {
    let sim = start(Simulator::new(config(Area::Tokyo))).await;
    let point = sim.point(15);
    let request = switch(&point, |s| s.planned_date = sim.sim.today() + Days::new(3));
    assert!(sim.client.call(&request).await.is_ok());
    sim.control(r#"{"mode":"slow","delay_ms":250}"#).await;
    let expected =
        serde_json::json!({"area":"03","calls":1,"applications":0,"mode":"slow","delay_ms":250});
    assert_eq!(sim.stats().await, expected);
}

#[tokio::test]
async fn an_unparseable_soap_request_gets_400_with_a_soap_fault() {
    let sim = tokyo().await;
    let valid = build_envelope(&inquiry(&sim.point(0).id));
    let cases = [
        ("<not-soap/>".to_string(), "IF_10110"),
        (
            valid.replace("<sw:UserId>taro.yamada</sw:UserId>", ""),
            "IF_10110",
        ),
        (valid.clone(), "IF_10610"),
    ];
    for (body, action) in cases {
        let response = reqwest::Client::new()
            .post(format!("{}/soap", sim.base))
            .header("SOAPAction", format!("\"{action}\""))
            .body(body)
            .send()
            .await
            .expect("a response");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let fault = response.bytes().await.expect("a body");
        assert_eq!(
            parse_answer(Function::FacilityInquiry, &fault),
            Err(CallError::Status(400))
        );
    }
    assert_eq!(sim.sim.applications(), 0);
}
