//! The test suite leaves the broker as it found it.

use kirikae::domain::Area;
use rdkafka::consumer::{BaseConsumer, Consumer};
use std::time::Duration;

use crate::harness::*;

/// The topics and consumer groups on `brokers` whose names start with `prefix`.
fn left_behind(brokers: &str, prefix: &str) -> (Vec<String>, Vec<String>) {
    let probe: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    let timeout = Duration::from_secs(10);
    let topics = probe.fetch_metadata(None, timeout).unwrap();
    // tansu 0.6 cannot list groups once one has stored state: then only topics are checked.
    let groups: Vec<String> = probe
        .fetch_group_list(None, timeout)
        .map(|l| l.groups().iter().map(|g| g.name().to_string()).collect())
        .unwrap_or_default();
    (
        topics
            .topics()
            .iter()
            .map(|t| t.name().to_string())
            .filter(|n| n.starts_with(prefix))
            .collect(),
        groups
            .into_iter()
            .filter(|n| n.starts_with(prefix))
            .collect(),
    )
}

#[tokio::test]
async fn a_finished_test_deletes_its_topics_and_consumer_groups() {
    let app = spawn_app(&[Area::Tokyo]).await;
    let a = app.login(RETAILER_A).await;
    let id = a.facility_inquiry(&app.point(Area::Tokyo, 0).0).await;
    a.final_status(&id).await;
    let brokers = app.settings.kafka_brokers.clone();
    let prefix = format!("{}.", app.settings.topic_prefix);
    let probe = (brokers.clone(), prefix.clone());
    let (topics, groups) = tokio::task::spawn_blocking(move || left_behind(&probe.0, &probe.1))
        .await
        .unwrap();
    assert!(!topics.is_empty(), "{topics:?} {groups:?}");
    drop(app);
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        let probe = (brokers.clone(), prefix.clone());
        let left = tokio::task::spawn_blocking(move || left_behind(&probe.0, &probe.1))
            .await
            .unwrap();
        if left.0.is_empty() && left.1.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "left on the broker: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
