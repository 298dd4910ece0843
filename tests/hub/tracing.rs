//! One trace id follows a request across the hops: the API's request record, the grid
//! operator's HTTP call, and the connector's result record all carry it (W3C `traceparent`);
//! with a collector configured, every hop's span is exported to it over OTLP.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use kirikae::domain::Area;
use kirikae::kafka;
use kirikae::telemetry::{TraceContext, from_record};
use serde_json::{Value, json};

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

/// The spans a local OTLP/HTTP receiver has been sent, as (service.name, span) pairs.
#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Vec<(String, Value)>>>);

impl Collector {
    /// Listens on a free port for `POST /v1/traces` (JSON); its base URL.
    async fn start(&self) -> String {
        async fn take(
            State(c): State<Collector>,
            headers: axum::http::HeaderMap,
            body: String,
        ) -> &'static str {
            assert_eq!(headers["content-type"], "application/json");
            let body: Value = serde_json::from_str(&body).expect("OTLP JSON");
            let mut got = c.0.lock().unwrap();
            for resource in body["resourceSpans"].as_array().expect("resourceSpans") {
                let service = resource["resource"]["attributes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|a| a["key"] == "service.name")
                    .map(|a| a["value"]["stringValue"].as_str().unwrap().to_string())
                    .expect("service.name");
                for scope in resource["scopeSpans"].as_array().unwrap() {
                    for span in scope["spans"].as_array().unwrap() {
                        got.push((service.clone(), span.clone()));
                    }
                }
            }
            "{}"
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .route("/v1/traces", axum::routing::post(take))
            .with_state(self.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    fn of_trace(&self, trace: &str) -> Vec<(String, Value)> {
        let got = self.0.lock().unwrap();
        got.iter()
            .filter(|(_, s)| s["traceId"] == trace)
            .cloned()
            .collect()
    }
}

/// What is missing from a request's trace, or `None` once it is whole: a server span of the
/// API, the connector's handling and its operator call (client), the projector's store, and
/// no span whose parent is not in the trace (save the one root).
fn missing(spans: &[(String, Value)]) -> Option<String> {
    let has = |service: &str, kind: u64| {
        spans
            .iter()
            .any(|(s, span)| s == service && span["kind"] == kind)
    };
    for (service, kind) in [
        ("kirikae-api", 2),
        ("kirikae-api", 4),
        ("kirikae-connector", 5),
        ("kirikae-connector", 3),
        ("kirikae-connector", 4),
        ("kirikae-projector", 5),
    ] {
        if !has(service, kind) {
            return Some(format!("no span of kind {kind} from {service}"));
        }
    }
    let ids: Vec<&Value> = spans.iter().map(|(_, s)| &s["spanId"]).collect();
    let roots: Vec<&Value> = spans
        .iter()
        .map(|(_, s)| s)
        .filter(|s| s.get("parentSpanId").is_none())
        .collect();
    if roots.len() != 1 || roots[0]["kind"] != 2 {
        return Some(format!(
            "roots {roots:?}: one, the API's request, was expected"
        ));
    }
    spans
        .iter()
        .filter_map(|(_, s)| s.get("parentSpanId").map(|p| (s, p)))
        .find(|(_, p)| !ids.contains(p))
        .map(|(s, _)| format!("the parent of {s} is not in the trace"))
}

/// With `otlp_endpoint` set, a request's trace reaches the collector whole: every hop's span,
/// each the child of the span it came from.
#[tokio::test]
async fn a_requests_spans_from_every_hop_are_exported_over_otlp_with_consistent_parents() {
    let collector = Collector::default();
    let endpoint = collector.start().await;
    let app = spawn_app_tweaked(&[Area::Chubu], |s| s.otlp_endpoint = Some(endpoint)).await;
    let a = app.login(RETAILER_A).await;
    let (point, _) = app.point(Area::Chubu, 3);
    let id = a.facility_inquiry(&point).await;
    a.final_status(&id).await;
    let on_request = traces_on(
        &app,
        app.settings.requests_topic(Area::Chubu),
        &id,
        |c, p| c.decode_request(p).ok().map(|r| r.request_id.to_string()),
    )
    .await;
    let trace = on_request[0].clone();

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while let Some(what) = missing(&collector.of_trace(&trace)) {
        assert!(
            std::time::Instant::now() < deadline,
            "{what}; the collector has {:#?}",
            collector.of_trace(&trace)
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let spans = collector.of_trace(&trace);
    let server = spans.iter().find(|(_, s)| s["kind"] == 2).unwrap();
    assert_eq!(server.1["name"], "/api/v1/{function}", "the route template");
    // The operator was told the span of the call, not the connector's.
    let calls: Vec<&Value> = spans
        .iter()
        .filter(|(_, s)| s["kind"] == 3)
        .map(|(_, s)| &s["spanId"])
        .collect();
    let told: Vec<String> = app
        .sim(Area::Chubu)
        .1
        .traceparents()
        .iter()
        .filter_map(|t| TraceContext::parse(t))
        .filter(|t| t.trace_id_hex() == trace)
        .map(|t| hex::encode(t.span_id))
        .collect();
    assert!(!told.is_empty());
    assert!(
        told.iter().all(|t| calls.iter().any(|c| *c == t)),
        "{told:?} {calls:?}"
    );
}
