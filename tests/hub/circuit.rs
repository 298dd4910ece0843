//! The circuit breaker per area: an operator that keeps failing is not called until a probe
//! gets through, and the requests waiting at the open circuit keep their retry budget, so an
//! outage longer than the budget delays them instead of failing them.

use std::time::Duration;

use kirikae::domain::Area;
use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn requests_wait_at_an_open_circuit_through_an_outage_and_each_ends_exactly_once() {
    let area = Area::Shikoku; // SOAP: 6 calls at most 3 s apart, a budget spent in under 15 s
    let app = spawn_app(&[area]).await;
    app.set_sim_mode(area, json!({"mode": "fail"})).await;
    let a = app.login(RETAILER_A).await;
    let mut ids = Vec::new();
    for n in 0..8 {
        let point = vacant_point(area, n);
        ids.push(a.accepted("reconnection", reconnection_body(&point)).await);
    }
    let sim = app.sim(area).1.clone();
    eventually(60, "the first calls fail", || sim.calls() >= 5).await;
    // Longer than a request's whole retry budget: without the circuit every one would fail.
    tokio::time::sleep(Duration::from_secs(25)).await;
    let during = sim.calls();
    assert!(
        during < (ids.len() * 6) as u64,
        "an open circuit spares the operator: {during} calls for {} requests",
        ids.len()
    );
    for id in &ids {
        let (_, now) = a.status(id).await;
        assert_ne!(now["status"], "failed", "failed during the outage: {now}");
    }

    app.set_sim_mode(area, json!({"mode": "normal"})).await;
    for id in &ids {
        let done = a.final_status(id).await;
        assert_eq!(done["status"], "completed", "{done}");
        assert_eq!(final_results_for(&app, area, id), 1, "{id}");
    }
    assert_eq!(sim.applications(), ids.len(), "each applied once");
    let dlq = read_topic(&app.settings.kafka_brokers, &app.settings.dlq_topic(area));
    assert!(
        dlq.is_empty(),
        "nothing dead-lettered because the circuit was open"
    );
}
