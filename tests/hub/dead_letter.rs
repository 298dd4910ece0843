//! A grid-operator outage longer than the retry budget: the request fails into the dead-letter
//! topic, and an operator's replay, once the outage is over, delivers it again.

use std::time::{Duration, Instant};

use kirikae::domain::{Area, RequestId};
use kirikae::{hub, replay};
use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn an_operator_outage_beyond_the_retry_budget_fails_the_request_into_the_dead_letter_topic() {
    let app = spawn_app(&[Area::Shikoku]).await;
    app.set_sim_mode(Area::Shikoku, json!({"mode": "fail"}))
        .await;
    let a = app.login(RETAILER_A).await;
    let (point, _) = app.point(Area::Shikoku, 2);
    let id = a.facility_inquiry(&point).await;
    let done = a.final_status(&id).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["status_ja"], "システムエラー");
    assert_eq!(done["code"], "tso_unavailable");
    assert_eq!(done["attempts"], 6, "the definition's retry budget");
    let codec = kirikae::messages::Codec::new();
    let dlq = read_topic(
        &app.settings.kafka_brokers,
        &app.settings.dlq_topic(Area::Shikoku),
    );
    let ids: Vec<String> = dlq
        .iter()
        .filter_map(|b| codec.decode_request(b).ok())
        .map(|r| r.request_id.to_string())
        .collect();
    assert_eq!(ids, vec![id]);
}

#[tokio::test]
async fn a_dead_letter_carries_the_error_and_the_attempt_history_in_its_headers() {
    use kirikae::connector::dead_letter::*;
    use rdkafka::message::{Headers, Message};

    let area = Area::Tokyo;
    let app = spawn_app(&[area]).await;
    app.set_sim_mode(area, json!({"mode": "fail"})).await;
    let a = app.login(RETAILER_A).await;
    let (point, _) = app.point(area, 3);
    let id = a.facility_inquiry(&point).await;
    assert_eq!(a.final_status(&id).await["status"], "failed");

    let records = kirikae::kafka::read_to_end(
        &kirikae::kafka::Link::of(&app.settings),
        &app.settings.dlq_topic(area),
        |low, _| low,
    )
    .unwrap();
    assert_eq!(records.len(), 1);
    let record = &records[0];
    let headers = record.headers().expect("a dead letter has headers");
    let get = |name: &str| {
        headers
            .iter()
            .find(|h| h.key == name)
            .and_then(|h| h.value)
            .map(|v| String::from_utf8(v.to_vec()).unwrap())
            .unwrap_or_else(|| panic!("no header {name}"))
    };
    assert_eq!(get(ERROR_KIND), "http_status");
    assert!(get(ERROR_MESSAGE).contains("503"), "{}", get(ERROR_MESSAGE));
    assert_eq!(get(ATTEMPTS), "6");
    let time = |name| chrono::DateTime::parse_from_rfc3339(&get(name)).unwrap();
    assert!(time(FIRST_ATTEMPT_AT) < time(LAST_ATTEMPT_AT));
    assert_eq!(get(SOURCE_TOPIC), app.settings.requests_topic(area));
    // The source coordinates name the very record consumed: it holds the same request.
    let partition: i32 = get(SOURCE_PARTITION).parse().unwrap();
    let offset: i64 = get(SOURCE_OFFSET).parse().unwrap();
    let requests = kirikae::kafka::read_to_end(
        &kirikae::kafka::Link::of(&app.settings),
        &app.settings.requests_topic(area),
        |low, _| low,
    )
    .unwrap();
    let source = requests
        .iter()
        .find(|m| m.partition() == partition && m.offset() == offset)
        .expect("the source record");
    assert_eq!(
        source.payload(),
        record.payload(),
        "the payload is the request unchanged"
    );
    let codec = kirikae::messages::Codec::new();
    let request = codec.decode_request(record.payload().unwrap()).unwrap();
    assert_eq!(request.request_id.to_string(), id);
}

#[tokio::test]
async fn a_failed_request_replayed_after_the_outage_completes_once() {
    let area = Area::Chugoku; // a SOAP area: a batch area would wait out a file timeout per attempt
    let app = spawn_app(&[area]).await;
    app.set_sim_mode(area, json!({"mode": "fail"})).await;
    let a = app.login(RETAILER_A).await;
    let point = vacant_point(area, 0);
    let id = a.accepted("reconnection", reconnection_body(&point)).await;
    assert_eq!(a.final_status(&id).await["status"], "failed");

    app.set_sim_mode(area, json!({"mode": "normal"})).await;
    let pool = hub::pool(&app.settings).unwrap();
    let depth = || async {
        let client = pool.get().await.unwrap();
        kirikae::requests::store::failed_by_area(&client)
            .await
            .unwrap()
    };
    assert_eq!(
        depth().await,
        vec![(area.code().to_string(), 1)],
        "the dead-letter depth counts the failed request"
    );
    let replayed = replay::run(&app.settings, &pool, area, &[]).await.unwrap();
    assert_eq!(replayed, vec![id.parse::<RequestId>().unwrap()]);

    let deadline = Instant::now() + Duration::from_secs(60);
    let done = loop {
        let (_, body) = a.status(&id).await;
        if body["status"] == "completed" {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "the replay never completed: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(done["replay"], 1, "{done}");
    assert!(
        depth().await.is_empty(),
        "a replayed request leaves the depth"
    );
    assert!(done["result"]["application_number"].is_string(), "{done}");
    assert_eq!(app.sim(area).1.applications(), 1);
    let again = replay::run(&app.settings, &pool, area, &[]).await.unwrap();
    assert!(
        again.is_empty(),
        "a completed request is not replayed again: {again:?}"
    );
}
