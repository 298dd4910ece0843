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
    assert!(done["result"]["application_number"].is_string(), "{done}");
    assert_eq!(app.sim(area).1.applications(), 1);
    let again = replay::run(&app.settings, &pool, area, &[]).await.unwrap();
    assert!(
        again.is_empty(),
        "a completed request is not replayed again: {again:?}"
    );
}
