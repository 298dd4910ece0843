//! One trace id follows a request across the hops: the API's request record, the grid
//! operator's HTTP call, and the connector's result record all carry it (W3C `traceparent`).

use kirikae::domain::Area;
use kirikae::kafka;
use kirikae::telemetry::{TraceContext, from_record};
use serde_json::json;

use crate::harness::*;

/// The trace ids on the records of `topic` that `id_of` attributes to `request_id`.
async fn traces_on(
    app: &TestApp,
    topic: String,
    request_id: &str,
    id_of: fn(&kirikae::messages::Codec, &[u8]) -> Option<String>,
) -> Vec<String> {
    let link = kafka::Link::of(&app.settings);
    let records = tokio::task::spawn_blocking(move || kafka::read_to_end(&link, &topic, |l, _| l))
        .await
        .unwrap()
        .unwrap();
    let codec = kirikae::messages::Codec::new();
    records
        .iter()
        .filter(|m| {
            use rdkafka::Message;
            m.payload().and_then(|p| id_of(&codec, p)).as_deref() == Some(request_id)
        })
        .map(|m| {
            from_record(m)
                .expect("the record carries a traceparent")
                .trace_id_hex()
        })
        .collect()
}

fn trace_ids_seen_by(app: &TestApp, area: Area) -> Vec<String> {
    app.sim(area)
        .1
        .traceparents()
        .iter()
        .filter_map(|t| TraceContext::parse(t))
        .map(|t| t.trace_id_hex())
        .collect()
}

/// The trace a request is in, as its request record says, reaches the operator and comes back
/// on its result: with a `traceparent` the client sent (SOAP area 03) and with one the API
/// started itself (JSON area 04).
#[tokio::test]
async fn one_trace_id_follows_a_request_from_the_api_through_the_operator_call_to_its_result() {
    let app = spawn_app(&[Area::Tokyo, Area::Chubu]).await;
    let a = app.login(RETAILER_A).await;
    let client_trace = "4bf92f3577b34da6a3ce929d0e0e4736";

    let (tokyo_point, _) = app.point(Area::Tokyo, 3);
    let answer = a
        .http
        .post(format!("{}/api/v1/facility-inquiry", a.api))
        .bearer_auth(&a.token)
        .header(
            "traceparent",
            format!("00-{client_trace}-00f067aa0ba902b7-01"),
        )
        .json(&json!({"supply_point_id": tokyo_point.as_str()}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 202);
    assert!(answer.headers().contains_key("x-request-id"));
    let joined: serde_json::Value = answer.json().await.unwrap();
    let joined = joined["request_id"].as_str().unwrap().to_string();

    let (chubu_point, _) = app.point(Area::Chubu, 3);
    let started = a.facility_inquiry(&chubu_point).await;

    for (area, id) in [(Area::Tokyo, &joined), (Area::Chubu, &started)] {
        a.final_status(id).await;
        let on_request = traces_on(&app, app.settings.requests_topic(area), id, |c, p| {
            c.decode_request(p).ok().map(|r| r.request_id.to_string())
        })
        .await;
        assert_eq!(on_request.len(), 1, "{area:?}: one request record");
        let trace = &on_request[0];
        if area == Area::Tokyo {
            assert_eq!(trace, client_trace, "the client's trace is joined");
        }
        assert!(
            trace_ids_seen_by(&app, area).contains(trace),
            "{area:?}: the operator saw {:?}, not {trace}",
            app.sim(area).1.traceparents()
        );
        let on_results = traces_on(&app, app.settings.results_topic(area), id, |c, p| {
            c.decode_result(p).ok().map(|r| r.request_id.to_string())
        })
        .await;
        assert!(!on_results.is_empty(), "{area:?}: no result record");
        assert!(
            on_results.iter().all(|t| t == trace),
            "{area:?}: results carry {on_results:?}, the request {trace}"
        );
    }
}
