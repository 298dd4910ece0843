//! At-least-once delivery with results deduplicated by request id: a crashed connector redoes
//! its work, and a redelivered request never yields a second result.

use std::process::Child;

use kirikae::domain::Area;
use kirikae::hub;
use serde_json::json;

use crate::harness::*;

/// The real `kirikae connector` process, configured like the test app.
pub fn connector_process(app: &TestApp, area: Area) -> Child {
    connector_process_with(app, area, &[])
}

/// A connector process with settings of its own (`KIRIKAE_*` variables).
pub fn connector_process_with(app: &TestApp, area: Area, env: &[(&str, &str)]) -> Child {
    connector_command(app, area, "127.0.0.1:0")
        .envs(env.iter().copied())
        .spawn()
        .expect("the kirikae binary")
}

#[tokio::test]
async fn a_connector_killed_between_consume_and_produce_yields_exactly_one_result_after_restart() {
    let app = spawn_app_without_connectors(&[Area::Tokyo]).await;
    app.set_sim_mode(Area::Tokyo, json!({"mode": "hang"})).await;
    let a = app.login(RETAILER_A).await;
    let point = vacant_point(Area::Tokyo, 0);
    let id = a.accepted("reconnection", reconnection_body(&point)).await;

    let mut first = connector_process(&app, Area::Tokyo);
    let sim = app.sim(Area::Tokyo).1.clone();
    eventually(90, "the first connector's call", || sim.calls() >= 1).await;
    first.kill().expect("kill -9");
    first.wait().unwrap();
    app.set_sim_mode(Area::Tokyo, json!({"mode": "normal"}))
        .await;

    let mut second = connector_process(&app, Area::Tokyo);
    let done = a.final_status(&id).await;
    second.kill().unwrap();
    second.wait().unwrap();
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(final_results_for(&app, Area::Tokyo, &id), 1);
    assert_eq!(sim.applications(), 1, "the operator saw one application");
}

#[tokio::test]
async fn a_redelivered_request_yields_no_second_result() {
    let app = spawn_app(&[Area::Kyushu]).await;
    let a = app.login(RETAILER_A).await;
    let (point, _) = app.point(Area::Kyushu, 30);
    let id = a.facility_inquiry(&point).await;
    a.final_status(&id).await;
    // Deliver the very same record again, as the broker does after a crash before commit.
    let topic = app.settings.requests_topic(Area::Kyushu);
    let original = read_topic(&app.settings.kafka_brokers, &topic);
    assert_eq!(original.len(), 1);
    let publisher = kirikae::kafka::Publisher::new(
        &kirikae::kafka::Link::of(&app.settings),
        std::time::Duration::from_secs(10),
        app.settings.kafka_idempotence,
    )
    .unwrap();
    publisher
        .publish(&topic, point.as_str(), &original[0])
        .await
        .unwrap();
    // A later request on the same point is handled after the copy (same point, same lane).
    let later = a.facility_inquiry(&point).await;
    a.final_status(&later).await;
    assert_eq!(final_results_for(&app, Area::Kyushu, &id), 1);
}

#[tokio::test]
async fn a_second_connector_joining_mid_stream_changes_no_outcome() {
    let area = Area::Tohoku;
    let app = spawn_app(&[area]).await;
    app.set_sim_mode(area, json!({"mode": "slow", "delay_ms": 100}))
        .await;
    let a = app.login(RETAILER_A).await;
    let mut ids = Vec::new();
    for i in 0..20 {
        let point = vacant_point(area, i);
        ids.push(a.accepted("reconnection", reconnection_body(&point)).await);
        if i == 5 {
            let endpoint = Some(app.sim_endpoint(area));
            hub::start_connector(&app.settings, area, endpoint, app.shutdown.clone());
        }
    }
    for id in &ids {
        let done = a.final_status(id).await;
        assert_eq!(done["status"], "completed", "{done}");
    }
    assert_eq!(
        app.sim(area).1.applications(),
        ids.len(),
        "one application per request"
    );
    // Two members may hold a partition at once during the rebalance (seen with tansu), so a
    // request may have more than one final record on the topic; the operator's idempotency
    // makes them one outcome: every final record of a request says the same (completed, with
    // the same application number), and the status shows that one.
    let codec = kirikae::messages::Codec::new();
    let finals: Vec<_> = read_topic(
        &app.settings.kafka_brokers,
        &app.settings.results_topic(area),
    )
    .iter()
    .filter_map(|b| codec.decode_result(b).ok())
    .filter(|r| r.status.is_final())
    .collect();
    let mut duplicates = 0;
    for id in &ids {
        let mine: Vec<_> = finals
            .iter()
            .filter(|r| r.request_id.to_string() == *id)
            .collect();
        assert!(!mine.is_empty(), "no final record for {id}");
        let first = mine[0];
        for r in &mine {
            assert_eq!(
                (r.status, &r.code, &r.payload),
                (first.status, &first.code, &first.payload),
                "two outcomes for {id}"
            );
        }
        let done = a.final_status(id).await;
        let number = done["result"]["application_number"].clone();
        assert!(number.is_string(), "{done}");
        let payload = serde_json::to_value(first.payload.as_ref().expect("a result")).unwrap();
        assert_eq!(payload["application_number"], number, "{id}: {done}");
        duplicates += mine.len() - 1;
    }
    eprintln!(
        "rebalance overlap: {duplicates} duplicate final records for {} requests, all agreeing",
        ids.len()
    );
}
