//! Graceful shutdown: on SIGTERM a connector stops taking work, finishes the calls it has in
//! flight and produces their results, commits its offsets and exits 0; after a restart every
//! request has exactly one final result.

use std::collections::HashMap;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use kirikae::domain::Area;
use serde_json::json;

use crate::connector_crash::connector_process;
use crate::harness::*;

fn terminate(child: &Child) {
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill(1)");
    assert!(sent.success());
}

async fn exit_within(child: &mut Child, grace: Duration) -> ExitStatus {
    let deadline = Instant::now() + grace;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("still running {grace:?} after SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Final results on `area`'s result topic, per request id.
fn final_results(app: &TestApp, area: Area) -> HashMap<String, usize> {
    let codec = kirikae::messages::Codec::new();
    let mut counts = HashMap::new();
    let topic = app.settings.results_topic(area);
    for bytes in read_topic(&app.settings.kafka_brokers, &topic) {
        if let Ok(r) = codec.decode_result(&bytes)
            && r.status.is_final()
        {
            *counts.entry(r.request_id.to_string()).or_default() += 1;
        }
    }
    counts
}

#[tokio::test]
async fn a_connector_stopped_by_sigterm_mid_load_finishes_its_calls_and_exits_cleanly() {
    let area = Area::Tohoku; // SOAP
    let app = spawn_app_without_connectors(&[area]).await;
    // Each call takes a second, so the connector is stopped with calls in flight.
    app.set_sim_mode(area, json!({"mode": "slow", "delay_ms": 1000}))
        .await;
    let a = app.login(RETAILER_A).await;
    let mut ids = Vec::new();
    for n in 0..60 {
        let point = vacant_point(area, n);
        ids.push(a.accepted("reconnection", reconnection_body(&point)).await);
    }
    let sim = app.sim(area).1.clone();
    let mut first = connector_process(&app, area);
    eventually(90, "calls under way", || sim.applications() >= 8).await;
    terminate(&first);
    let status = exit_within(&mut first, Duration::from_secs(30)).await;
    assert!(
        status.success(),
        "SIGTERM ends the connector cleanly: {status}"
    );

    // Every call that reached the operator (counted on arrival, so the ones in flight at the
    // signal too) was finished and has its result: none was cut off, none started after.
    let by_first = final_results(&app, area);
    assert!(by_first.len() < ids.len(), "stopped mid-load");
    assert_eq!(
        sim.calls() as usize,
        by_first.len(),
        "each call the operator got has its result"
    );
    assert_eq!(sim.applications(), by_first.len());

    app.set_sim_mode(area, json!({"mode": "normal"})).await;
    let mut second = connector_process(&app, area);
    for id in &ids {
        assert_eq!(a.final_status(id).await["status"], "completed", "{id}");
    }
    terminate(&second);
    assert!(
        exit_within(&mut second, Duration::from_secs(30))
            .await
            .success()
    );
    let all = final_results(&app, area);
    for id in &ids {
        assert_eq!(all.get(id), Some(&1), "exactly one final result for {id}");
    }
    assert_eq!(sim.applications(), ids.len(), "each applied once");
}
