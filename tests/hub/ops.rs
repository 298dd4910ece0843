//! `/healthz`, `/readyz` and `/metrics`, served by every process for operations.

use kirikae::{hub, ops};
use tokio_util::sync::CancellationToken;

use crate::harness::*;

async fn get(url: String) -> (u16, String) {
    let resp = reqwest::get(url).await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test]
async fn a_process_is_ready_when_its_broker_and_database_answer() {
    let app = spawn_app(&[]).await;
    let pool = hub::pool(&app.settings).unwrap();
    let ready = hub::ready_check(&app.settings, Some(pool)).unwrap();
    let addr = ops::serve("127.0.0.1:0".parse().unwrap(), ready, app.shutdown.clone())
        .await
        .unwrap();
    assert_eq!(
        get(format!("http://{addr}/healthz")).await,
        (200, "ok".into())
    );
    assert_eq!(
        get(format!("http://{addr}/readyz")).await,
        (200, "ready".into())
    );
    let (code, metrics) = get(format!("http://{addr}/metrics")).await;
    assert_eq!(code, 200);
    assert!(
        metrics.contains("kirikae_projector_lag_seconds"),
        "{metrics}"
    );
}

/// The hub's statements are all short; PostgreSQL's JIT would spend hundreds of milliseconds
/// compiling some of them once their tables grow (docs/performance.md), so the services' sessions
/// run without it, and a `database_url` that sets `jit` itself keeps its own.
#[tokio::test]
async fn the_services_database_sessions_run_without_jit_unless_the_url_sets_it() {
    let app = spawn_app(&[]).await;
    let pool = hub::pool(&app.settings).unwrap();
    let jit: String = pool
        .get()
        .await
        .unwrap()
        .query_one("SHOW jit", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(jit, "off");
    let mut settings = app.settings.clone();
    let sep = if settings.database_url.contains('?') {
        '&'
    } else {
        '?'
    };
    settings.database_url = format!("{}{sep}options=-c%20jit%3Don", settings.database_url);
    let own = kirikae::db::Connect::service(&settings)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let jit: String = own.query_one("SHOW jit", &[]).await.unwrap().get(0);
    assert_eq!(jit, "on");
}

#[tokio::test]
async fn a_process_whose_broker_does_not_answer_is_not_ready() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = fresh_settings(dir.path());
    settings.kafka_brokers = "127.0.0.1:1".into();
    let ready = hub::ready_check(&settings, None).unwrap();
    let stop = CancellationToken::new();
    let addr = ops::serve("127.0.0.1:0".parse().unwrap(), ready, stop.clone())
        .await
        .unwrap();
    assert_eq!(
        get(format!("http://{addr}/healthz")).await.0,
        200,
        "alive all the same"
    );
    assert_eq!(
        get(format!("http://{addr}/readyz")).await,
        (503, "broker unreachable".into())
    );
    stop.cancel();
}

#[tokio::test]
async fn request_topics_expire_after_the_request_retention_and_the_audit_topic_is_kept_for_good() {
    use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
    use rdkafka::client::DefaultClientContext;
    let app = spawn_app(&[]).await;
    let admin: AdminClient<DefaultClientContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &app.settings.kafka_brokers)
        .create()
        .unwrap();
    let topics = [
        app.settings.requests_topic(kirikae::domain::Area::Tokyo),
        app.settings.audit_topic(),
    ];
    let specs: Vec<ResourceSpecifier> =
        topics.iter().map(|t| ResourceSpecifier::Topic(t)).collect();
    let answers = admin
        .describe_configs(&specs, &AdminOptions::new())
        .await
        .unwrap();
    let expected = [
        app.settings.request_retention_ms.to_string(),
        "-1".to_string(),
    ];
    assert_ne!(
        expected[0], "-1",
        "request topics hold usage passwords: not for good"
    );
    for ((topic, answer), expected) in topics.iter().zip(answers).zip(&expected) {
        let resource = answer.unwrap_or_else(|e| panic!("{topic}: {e}"));
        let retention = resource.get("retention.ms").and_then(|e| e.value.clone());
        assert_eq!(
            retention.as_deref(),
            Some(expected.as_str()),
            "{topic}: {:?}",
            resource.entries
        );
    }
}
