//! 一括申請 on the screen, in a real headless Chromium presenting the company's certificate:
//! a file with one bad row is uploaded through the form, the preview shows the bad row's line,
//! column and message, the good rows are filed with "正しい行だけ申請する", the page follows
//! the batch until every good row is filed, and the download gives each row's outcome.

use fantoccini::Locator;
use kirikae::domain::Area;

use super::bulk::{CHANGE_HEADER, change_line, csv_file, planned};
use super::harness::{PASSWORD, RETAILER_A, spawn_app_without_connectors, user_of};
use super::web_browser::Browser;

#[tokio::test]
async fn a_bulk_file_uploaded_on_the_screen_shows_its_bad_row_and_files_the_good_ones() {
    let app = spawn_app_without_connectors(&[Area::Tokyo]).await;
    let b = Browser::start(&app, Some(RETAILER_A)).await;
    b.sign_in(&app, &user_of(RETAILER_A), PASSWORD).await;
    b.goto(&format!("{}/web/", app.api)).await;
    assert!(b.source().await.contains("/web/bulk"), "the menu offers it");

    let date = planned();
    let point = |n: u32| kirikae::domain::SupplyPointId::parse(&format!("03{n:020}")).unwrap();
    let mut lines: Vec<String> = (1..=3)
        .map(|n| change_line(&point(n), &date, "山田 太郎"))
        .collect();
    lines.insert(1, format!("0312345,{date},山田 太郎,,東京都千代田区1-1")); // line 3
    let dir = tempfile::tempdir().unwrap();
    // An ASCII name: chromedriver under the C locale (CI runs with no LANG) loses a Japanese one.
    let path = dir.path().join("change.csv");
    std::fs::write(&path, csv_file(CHANGE_HEADER, &lines)).unwrap();

    b.goto(&format!("{}/web/bulk", app.api)).await;
    b.client
        .execute(
            "document.getElementById('function').value = 'customer-change';",
            vec![],
        )
        .await
        .unwrap();
    b.client
        .find(Locator::Id("file"))
        .await
        .unwrap()
        .send_keys(path.to_str().unwrap())
        .await
        .unwrap();
    b.submit("upload").await;
    assert!(
        b.path().await.starts_with("/web/bulk/"),
        "{}",
        b.path().await
    );
    let bad = b.text("bad-rows").await.expect("the bad rows are listed");
    assert!(bad.contains("invalid_supply_point_id"), "{bad}");
    assert!(bad.contains("供給地点特定番号"), "{bad}");
    assert_eq!(b.text("count-bad").await.as_deref(), Some("1"));
    assert_eq!(b.text("count-good").await.as_deref(), Some("3"));
    assert_eq!(b.text("count-filed").await.as_deref(), Some("0"));

    b.submit("confirm").await;
    b.wait_text("batch-state", "申請完了", 60).await;
    assert_eq!(b.text("count-filed").await.as_deref(), Some("3"));
    b.click("download").await;
    let bytes = b.downloaded(30).await;
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "UTF-8 with a BOM");
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    assert_eq!(text.matches("申請済 filed").count(), 3, "{text}");
    assert_eq!(text.matches("不備 bad").count(), 1, "{text}");
}
