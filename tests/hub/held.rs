//! A held application's status names what it waits for.

use kirikae::domain::Area;
use kirikae::tso_sim::register::{PointKind, incumbent_code};
use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn a_switch_start_awaiting_its_counterpart_shows_it_is_held_for_matching() {
    let area = Area::Tokyo;
    let app = spawn_app(&[area]).await;
    let a = app.login(RETAILER_A).await;
    let p = app.incumbent_point(area, PointKind::LowVoltage, 21);
    let mut start = switch_start_body(&p, &incumbent_code(area));
    start["contract_method"] = json!("AMPERE_BREAKER");
    let id = a.accepted("switch-start", start).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let view = loop {
        let (_, view) = a.status(&id).await;
        if view["code"] == "held" {
            break view;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never shown as held: {view}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(view["status"], "sent", "{view}");
    let message = view["message"].as_str().unwrap();
    assert!(
        message.contains("照合待ち") && message.contains("05"),
        "{view}"
    );
}
