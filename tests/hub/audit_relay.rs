//! The relay of the audit trail passes no row that can still commit, however long its
//! transaction runs.

use std::time::{Duration, Instant};

use kirikae::audit::record_as;
use serde_json::json;

use crate::harness::*;

fn relayed_actions(app: &TestApp) -> Vec<String> {
    let codec = kirikae::messages::Codec::new();
    read_topic(&app.settings.kafka_brokers, &app.settings.audit_topic())
        .iter()
        .map(|b| codec.decode_audit(b).unwrap().action)
        .collect()
}

#[tokio::test]
async fn a_row_that_commits_long_after_the_patience_is_still_relayed_in_its_place() {
    let app = spawn_app_tweaked(&[], |s| s.audit_gap_patience_ms = 300).await;
    let pool = kirikae::hub::pool(&app.settings).unwrap();
    let mut holder = pool.get().await.unwrap();
    let slow = holder.transaction().await.unwrap();
    record_as(&slow, RETAILER_A, "test", "test.slow", "1", json!({}))
        .await
        .unwrap();
    let client = pool.get().await.unwrap();
    record_as(&client, RETAILER_A, "test", "test.quick", "2", json!({}))
        .await
        .unwrap();
    // Ten times the patience: the relay must still be waiting for the open transaction.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let actions = relayed_actions(&app);
    assert!(
        !actions.iter().any(|a| a == "test.quick"),
        "relayed past a transaction still open: {actions:?}"
    );
    slow.commit().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let actions = relayed_actions(&app);
        let at = |name: &str| actions.iter().position(|a| a == name);
        if let (Some(slow), Some(quick)) = (at("test.slow"), at("test.quick")) {
            assert!(slow < quick, "out of order: {actions:?}");
            break;
        }
        assert!(Instant::now() < deadline, "not relayed: {actions:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
