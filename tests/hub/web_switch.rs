//! The switch and the amendments in a real browser (see `web_browser.rs`): the new retailer
//! registers an intermediation on its screen, the current retailer approves it in a second
//! browser presenting its own company's certificate, both file their half of the switch from
//! the intermediation's page, and both applications' pages show the operator's switch date;
//! a 訂正 is filed from the application's own page.

use std::time::{Duration, Instant};

use fantoccini::Locator;
use kirikae::domain::Area;
use kirikae::tso_sim::register::{PointKind, incumbent_code};

use super::harness::{PASSWORD, RETAILER_A, TestApp, spawn_app, user_of, vacant_point};
use super::web::{file_reconnection, screenshot, set_value};
use super::web_browser::Browser;

fn day(days_ahead: i64) -> String {
    (chrono::Utc::now().date_naive() + chrono::Duration::days(days_ahead)).to_string()
}

/// Reloads `path` until the element of id `id` is on it.
async fn reload_until(b: &Browser, app: &TestApp, path: &str, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        b.goto(&format!("{}{path}", app.api)).await;
        if b.client.find(Locator::Id(id)).await.is_ok() {
            return;
        }
        assert!(Instant::now() < deadline, "{path} never showed #{id}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Reloads `path` until the element of id `id` shows `want`.
async fn reload_until_text(b: &Browser, app: &TestApp, path: &str, id: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        b.goto(&format!("{}{path}", app.api)).await;
        let got = b.text(id).await.unwrap_or_default();
        if got.contains(want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{path}: #{id} shows {got:?}, never {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn a_switch_registered_approved_in_a_second_browser_and_filed_by_both_shows_the_switch_date()
{
    let area = Area::Tokyo;
    let app = spawn_app(&[area]).await;
    let current_code = incumbent_code(area);
    let point = app.incumbent_point(area, PointKind::LowVoltage, 3);
    let new = Browser::start(&app, Some(RETAILER_A)).await;
    let current = Browser::start(&app, Some(&current_code)).await;
    new.sign_in(&app, &user_of(RETAILER_A), PASSWORD).await;
    current
        .sign_in(&app, &user_of(&current_code), PASSWORD)
        .await;
    assert_eq!(
        current.path().await,
        "/web/",
        "the second company signed in"
    );

    // The new retailer registers the intermediation.
    new.goto(&format!("{}/web/intermediations/new", app.api))
        .await;
    new.fill("supply_point_id", point.as_str()).await;
    new.fill("current_retailer_code", &current_code).await;
    new.fill("customer_number", "0012-3456-78").await;
    new.fill("contract_name", "山田 太郎").await;
    new.fill("supply_address", "東京都千代田区丸の内1-1-1")
        .await;
    set_value(&new, "desired_switch_date", &day(14)).await;
    screenshot(&new, "intermediation-new").await;
    new.submit("submit").await;
    let page = new.path().await;
    assert!(page.starts_with("/web/intermediations/"), "{page}");
    let id = page.trim_start_matches("/web/intermediations/").to_string();
    let number = new.text("intermediation-number").await.unwrap();
    assert!(number.starts_with("IS03-"), "{number}");

    // The current retailer, in its own browser, selects it in its inbox and approves.
    let select = format!("select-{id}");
    reload_until(&current, &app, "/web/intermediations/inbox", &select).await;
    screenshot(&current, "intermediation-inbox").await;
    current.click(&select).await;
    current.click("decision-approve").await;
    current.submit("decide").await;
    let outcome = current
        .text(&format!("outcome-{id}"))
        .await
        .unwrap_or_default();
    assert!(outcome.contains("承諾"), "{outcome}");

    // Both file their half from the intermediation's page, the number quoted.
    let detail = format!("/web/intermediations/{id}");
    reload_until_text(&new, &app, &detail, "intermediation-state", "承諾").await;
    screenshot(&new, "intermediation-approved").await;
    new.submit("file-switch").await;
    assert_eq!(new.path().await, "/web/apply/switch-start");
    new.fill("customer_name", "山田 太郎").await;
    new.click("agreed_to_grid_terms").await;
    new.submit("submit").await;
    assert!(
        new.path().await.starts_with("/web/requests/"),
        "{}",
        new.source().await
    );

    current.goto(&format!("{}{detail}", app.api)).await;
    current.submit("file-switch").await;
    assert_eq!(current.path().await, "/web/apply/switch-end");
    let quoted = current
        .client
        .find(Locator::Id("intermediation_number"))
        .await
        .unwrap();
    assert_eq!(
        quoted.prop("value").await.unwrap().as_deref(),
        Some(number.as_str())
    );
    current.submit("submit").await;
    assert!(
        current.path().await.starts_with("/web/requests/"),
        "{}",
        current.source().await
    );

    // Matched by the operator: both pages show the switch date, without a reload.
    new.wait_text("status-code", "completed", 120).await;
    current.wait_text("status-code", "completed", 120).await;
    let started = new.text("answer-switch_date").await.unwrap_or_default();
    let ended = current.text("answer-switch_date").await.unwrap_or_default();
    assert!(!started.is_empty(), "{}", new.source().await);
    assert_eq!(started, ended, "one switch date for both halves");
    screenshot(&new, "switch-completed").await;
}

#[tokio::test]
async fn a_correction_is_filed_from_the_applications_own_page_in_the_browser() {
    // No grid operator: the application stays open, so it may be corrected.
    let app = spawn_app(&[]).await;
    let b = Browser::start(&app, Some(RETAILER_A)).await;
    b.sign_in(&app, &user_of(RETAILER_A), PASSWORD).await;
    let point = vacant_point(Area::Tokyo, 0);
    file_reconnection(&b, &app, point.as_str()).await;
    let original = b
        .path()
        .await
        .trim_start_matches("/web/requests/")
        .to_string();

    b.submit("correct").await;
    assert_eq!(b.path().await, "/web/apply/reconnection");
    assert_eq!(
        b.text("original-request-id").await.as_deref(),
        Some(original.as_str())
    );
    let prefilled = b.client.find(Locator::Id("supply_point_id")).await.unwrap();
    assert_eq!(
        prefilled.prop("value").await.unwrap().as_deref(),
        Some(point.as_str())
    );
    set_value(&b, "planned_date", &day(5)).await;
    b.fill("customer_name", "佐藤 花子").await;
    set_value(&b, "contract_method", "MEASURED").await;
    b.click("agreed_to_grid_terms").await;
    screenshot(&b, "correction-form").await;
    b.submit("submit").await;
    let corrected = b.path().await;
    assert!(
        corrected.starts_with("/web/requests/"),
        "{}",
        b.source().await
    );
    assert_ne!(corrected, format!("/web/requests/{original}"));
    assert_eq!(b.text("update-flag").await.as_deref(), Some("correct"));
}
