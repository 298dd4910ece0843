//! A connector killed without leaving its group (`kill -9`) and started again within seconds, as
//! a supervisor does: its successor must take over every waiting request, and say it is not
//! ready while it holds nothing of its request topic.
//!
//! With tansu, the successor joined while the dead member was still the group's leader; when the
//! dead member's session ran out during the successor's SyncGroup, the broker completed the
//! generation with the successor's (empty) follower assignments, and the successor then held no
//! partition for good while its heartbeats kept succeeding.

use std::time::{Duration, Instant};

use kirikae::connector::{self, Health};
use kirikae::domain::Area;
use serde_json::json;

use crate::connector_crash::connector_process;
use crate::harness::*;

#[tokio::test]
async fn a_connector_restarted_seconds_after_a_crash_takes_over_every_waiting_request() {
    let area = Area::Tokyo;
    let app = spawn_app_without_connectors(&[area]).await;
    app.set_sim_mode(area, json!({"mode": "slow", "delay_ms": 200}))
        .await;
    let a = app.login(RETAILER_A).await;
    let mut ids = Vec::new();
    let mut first = connector_process(&app, area);
    for i in 0..6 {
        let point = vacant_point(area, i);
        ids.push(a.accepted("reconnection", reconnection_body(&point)).await);
    }
    // The group has formed with the first connector (its leader) once a request is done.
    a.final_status(&ids[0]).await;
    first.kill().expect("kill -9: no LeaveGroup");
    first.wait().unwrap();

    let health = Health::default();
    tokio::spawn(connector::run_with_health(
        app.settings.clone(),
        area,
        Some(app.sim_endpoint(area)),
        health.clone(),
        app.shutdown.clone(),
    ));
    let restarted = Instant::now();
    for i in 6..12 {
        let point = vacant_point(area, i);
        ids.push(a.accepted("reconnection", reconnection_body(&point)).await);
    }

    // Not ready while it holds no partition and requests wait, and it says why.
    let mut why = String::new();
    eventually(20, "the successor to say it holds nothing", || {
        why = health.ready().err().unwrap_or_default();
        why.contains("holds no partition")
    })
    .await;
    assert!(why.contains("unread"), "{why}");

    // Every request reaches a final status within a minute of the crash, with one result each.
    let deadline = restarted + Duration::from_secs(50);
    let mut pending = ids.clone();
    while !pending.is_empty() {
        let mut still = Vec::new();
        for id in pending {
            let (_, body) = a.status(&id).await;
            if !matches!(
                body["status"].as_str(),
                Some("completed" | "rejected" | "failed")
            ) {
                still.push(id);
            } else {
                assert_eq!(body["status"], "completed", "{body}");
            }
        }
        pending = still;
        assert!(
            Instant::now() < deadline,
            "{} of {} requests still waiting {:?} after the restart; the successor says {:?}",
            pending.len(),
            ids.len(),
            restarted.elapsed(),
            health.ready()
        );
        if !pending.is_empty() {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    for id in &ids {
        assert_eq!(final_results_for(&app, area, id), 1, "request {id}");
    }
    assert_eq!(app.sim(area).1.applications(), ids.len());
    eventually(10, "the successor to be ready", || health.ready().is_ok()).await;
}
