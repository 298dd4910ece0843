//! 特定地点検索, a usage answer and the notices in a real browser (see `web_browser.rs`): a
//! point found by its meter number leads to a form with the point filled in, a usage answer
//! shows its 13-month chart, and a notice loses its unread mark once opened. These also draw
//! the screenshots of those screens.

use fantoccini::Locator;
use kirikae::domain::Area;
use kirikae::hub;
use kirikae::notices::{self, NewNotice};
use kirikae::tso_sim::register::{PointKind, point_of};
use serde_json::json;

use super::harness::{PASSWORD, RETAILER_A, spawn_app, user_of};
use super::web::{screenshot, set_value};
use super::web_browser::Browser;

#[tokio::test]
async fn a_point_found_in_the_browser_leads_to_a_form_with_the_point_filled_in() {
    let area = Area::Tokyo;
    let app = spawn_app(&[area]).await;
    let b = Browser::start(&app, Some(RETAILER_A)).await;
    b.sign_in(&app, &user_of(RETAILER_A), PASSWORD).await;
    let p = point_of(area, PointKind::LowVoltage, 9);
    let reg = kirikae::tso_sim::register::Register::generate(
        area,
        app.settings.sim_seed,
        app.settings.sim_points_per_area,
    );
    let meter = reg.get(&p).unwrap().meter_number.clone();

    b.goto(&format!("{}/web/search", app.api)).await;
    set_value(&b, "area", "03").await;
    b.fill("meter_number", &meter).await;
    screenshot(&b, "point-search").await;
    b.submit("search").await;
    b.wait_text("status-code", "completed", 90).await;
    screenshot(&b, "point-search-answer").await;
    set_value(&b, &format!("task-{}", p.as_str()), "reconnection").await;
    b.submit(&format!("apply-{}", p.as_str())).await;
    assert_eq!(b.path().await, "/web/apply/reconnection");
    let filled = b.client.find(Locator::Id("supply_point_id")).await.unwrap();
    assert_eq!(
        filled.prop("value").await.unwrap().as_deref(),
        Some(p.as_str())
    );
}

#[tokio::test]
async fn a_usage_answer_shows_its_chart_and_a_notice_its_unread_mark_in_the_browser() {
    let area = Area::Tokyo;
    let app = spawn_app(&[area]).await;
    let a = app.login(RETAILER_A).await;
    let p = point_of(area, PointKind::LowVoltage, 3);
    let name = app.customer_name(area, &p);
    let asked = a
        .accepted(
            "usage-password",
            json!({"supply_point_id": p.as_str(), "customer_name": name}),
        )
        .await;
    a.final_status(&asked).await;
    let mail = app.sim(area).1.mails().pop().expect("the customer's mail");
    let id = a
        .accepted(
            "usage-inquiry",
            json!({"supply_point_id": p.as_str(), "usage_password": mail.password}),
        )
        .await;
    a.final_status(&id).await;

    let b = Browser::start(&app, Some(RETAILER_A)).await;
    b.sign_in(&app, &user_of(RETAILER_A), PASSWORD).await;
    b.goto(&format!("{}/web/requests/{id}", app.api)).await;
    let bars = b
        .client
        .find_all(Locator::Css("#usage-chart rect.bar"))
        .await
        .unwrap();
    assert_eq!(bars.len(), 13);
    screenshot(&b, "usage-chart").await;

    let pool = hub::pool(&app.settings).unwrap();
    let notice = NewNotice {
        title: "メンテナンスのお知らせ",
        body: "12月1日 0時から2時まで停止します。",
        terms_change: false,
    };
    let published = notices::publish(&pool, &app.settings, &notice, "operator")
        .await
        .unwrap();
    let mark = format!("unread-{}", published.id);
    b.goto(&format!("{}/web/notices", app.api)).await;
    assert_eq!(b.text(&mark).await.as_deref(), Some("未読"));
    screenshot(&b, "notices").await;
    b.goto(&format!("{}/web/notices/{}", app.api, published.id))
        .await;
    assert!(
        b.text("notice-body")
            .await
            .unwrap_or_default()
            .contains("12月1日")
    );
    b.goto(&format!("{}/web/notices", app.api)).await;
    assert!(b.text(&mark).await.is_none(), "still marked unread");
}
