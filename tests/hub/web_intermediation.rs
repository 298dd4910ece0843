//! The intermediation screens over HTTPS (see `web_http.rs`): registration through the form
//! with its refusals next to their field, the sent list, the inbox deciding many selected at
//! once with one decision, and the withdrawal; the API sees what the screens did.

use std::time::{Duration, Instant};

use kirikae::domain::Area;
use kirikae::tso_sim::register::{PointKind, incumbent_code};

use super::harness::*;
use super::web_http::{Screen, WebClient};

fn day(days_ahead: i64) -> String {
    (chrono::Utc::now().date_naive() + chrono::Duration::days(days_ahead)).to_string()
}

/// Polls `path` until its HTML contains `want`.
async fn wait_screen(web: &WebClient, path: &str, want: &str) -> Screen {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = web.get(path).await;
        if s.html.contains(want) {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "{path} never showed {want}: {}",
            s.html
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn the_inbox_decides_many_selected_intermediations_with_one_decision() {
    let area = Area::Tokyo;
    let app = spawn_app(&[area]).await;
    let new = WebClient::of(&app, RETAILER_A).await;
    let current_code = incumbent_code(area);
    let current = WebClient::of(&app, &current_code).await;

    // Registered through the form; a refusal comes back next to its field.
    let new_ref = &new;
    let register = |point: String, to: String| async move {
        let fields = [
            ("point_class", "lv".to_string()),
            ("supply_point_id", point),
            ("current_retailer_code", to),
            ("customer_number", "0012-3456-78".into()),
            ("contract_name", "山田 太郎".into()),
            ("supply_address", "東京都千代田区丸の内1-1-1".into()),
            ("desired_switch_date", day(14)),
        ];
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        new_ref.post("/web/intermediations/new", &fields).await
    };
    let to_self = register(
        app.incumbent_point(area, PointKind::LowVoltage, 0)
            .to_string(),
        RETAILER_A.into(),
    )
    .await;
    assert_eq!(to_self.status, 422);
    let shown = to_self
        .html
        .split("id=\"current_retailer_code-error\"")
        .nth(1);
    assert!(
        shown.unwrap_or_default().contains("switch_to_self"),
        "{}",
        to_self.html
    );

    let mut ids = vec![];
    for n in 0..3 {
        let point = app
            .incumbent_point(area, PointKind::LowVoltage, n)
            .to_string();
        let page = register(point, current_code.clone()).await;
        assert!(
            page.path.starts_with("/web/intermediations/"),
            "{}",
            page.html
        );
        ids.push(
            page.path
                .trim_start_matches("/web/intermediations/")
                .to_string(),
        );
    }
    let sent = wait_screen(&new, "/web/intermediations/sent", &ids[2]).await;
    assert!(sent.html.contains("判断待ち"), "{}", sent.html);

    // Many selected, one decision: "other" needs its note, refused next to the note.
    let inbox = wait_screen(
        &current,
        "/web/intermediations/inbox",
        &format!("select-{}", ids[2]),
    )
    .await;
    assert_eq!(inbox.status, 200);
    let without_note = current
        .post(
            "/web/intermediations/decisions",
            &[
                ("id", &ids[0]),
                ("id", &ids[1]),
                ("decision", "decline"),
                ("reasons", "other"),
            ],
        )
        .await;
    assert_eq!(without_note.status, 422);
    let shown = without_note.html.split("id=\"note-error\"").nth(1);
    assert!(
        shown.unwrap_or_default().contains("note_required"),
        "{}",
        without_note.html
    );
    let decided = current
        .post(
            "/web/intermediations/decisions",
            &[("id", &ids[0]), ("id", &ids[1]), ("decision", "approve")],
        )
        .await;
    assert_eq!(decided.status, 200, "{}", decided.html);
    assert_eq!(
        decided.html.matches("受付済み: 承諾").count(),
        2,
        "{}",
        decided.html
    );
    for id in &ids[..2] {
        wait_screen(
            &new,
            &format!("/web/intermediations/{id}"),
            "data-state=\"approved\"",
        )
        .await;
    }

    // The new retailer withdraws the third from its page.
    let withdrawn = new
        .post(&format!("/web/intermediations/{}/withdrawal", ids[2]), &[])
        .await;
    assert_eq!(withdrawn.status, 200, "{}", withdrawn.html);
    wait_screen(
        &new,
        &format!("/web/intermediations/{}", ids[2]),
        "data-state=\"withdrawn\"",
    )
    .await;
    let (_, api) = new
        .api
        .get(&format!("/api/v1/intermediations/{}", ids[2]))
        .await;
    assert_eq!(api["state"], "withdrawn", "{api}");
}
