//! The high-voltage (`hv-`) and post-FIT (`gen-`) bulk functions end to end, each as the
//! low-voltage tests in `bulk.rs` do it: a file with good rows and a bad one, the bad one
//! previewed with its code, the good ones filed on confirm and answered by the operator, and
//! the download showing each row's outcome. The new retailer's 開始 file and the current
//! retailer's 廃止 file of the same points, so both halves complete.

use kirikae::bulk::BulkKind;
use kirikae::csv_text::CsvEncoding;
use kirikae::domain::{Area, SupplyPointId};
use kirikae::tso_sim::register::{PointKind, incumbent_code};

use crate::bulk::{BulkClient, csv_file, planned};
use crate::harness::*;

/// The header line of `function`'s template (the point column is 受電地点特定番号 for `gen-`).
fn header(function: &str) -> String {
    let kind = BulkKind::parse(function).expect("a bulk function");
    kirikae::bulk::template(kind).trim_end().to_string()
}

/// A switch from the incumbent to A of two `kind` points, filed as the bulk functions
/// `{prefix}switch-start` (with one bad row: a date in the past) and `{prefix}switch-end`.
async fn a_switch_file_pair_previews_the_bad_row_files_the_good_ones_and_both_halves_complete(
    prefix: &str,
    kind: PointKind,
    contract_kw: &str,
) {
    let area = Area::Tokyo;
    let app = spawn_app(&[area]).await;
    let a = app.login(RETAILER_A).await;
    let current = incumbent_code(area);
    let points: Vec<SupplyPointId> = (1..3).map(|n| app.incumbent_point(area, kind, n)).collect();
    let date = planned();
    let start = |point: &SupplyPointId, date: &str| {
        format!(
            "{},{date},{current},0012-3456-78,山田 太郎,03-1234-5678,,,1,,{contract_kw}",
            point.as_str()
        )
    };
    let lines = vec![
        start(&points[0], &date),
        start(&points[1], &date),
        start(&points[0], "2020/01/06"), // line 4: in the past
    ];
    let start_function = format!("{prefix}switch-start");
    let bulk = BulkClient(&a);
    let preview = bulk
        .previewed(
            &start_function,
            csv_file(&header(&start_function), &lines).into_bytes(),
        )
        .await;
    assert_eq!(
        (
            preview["counts"]["rows"].as_i64(),
            preview["counts"]["bad"].as_i64()
        ),
        (Some(3), Some(1)),
        "{preview}"
    );
    let bad = &preview["bad_rows"][0];
    assert_eq!(
        (
            bad["line"].as_i64(),
            bad["code"].as_str(),
            bad["column"].as_str()
        ),
        (
            Some(4),
            Some("planned_date_in_past"),
            Some("スイッチング予定日")
        ),
        "{preview}"
    );
    assert_eq!(bulk.confirm(&preview, "?only_good=true").await.0, 202);
    bulk.until(&preview, "both start rows filed", |b| {
        b["counts"]["filed"] == 2
    })
    .await;

    let end_function = format!("{prefix}switch-end");
    let end_lines: Vec<String> = points
        .iter()
        .map(|p| format!("{},{date},{RETAILER_A},0012-3456-78,", p.as_str()))
        .collect();
    let z = app.login(&current).await;
    let zbulk = BulkClient(&z);
    let ends = zbulk
        .previewed(
            &end_function,
            csv_file(&header(&end_function), &end_lines).into_bytes(),
        )
        .await;
    assert_eq!(ends["counts"]["bad"], 0, "{ends}");
    assert_eq!(zbulk.confirm(&ends, "").await.0, 202);
    let done = bulk
        .until(&preview, "both starts completed", |b| {
            b["counts"]["completed"] == 2
        })
        .await;
    assert_eq!(done["state"], "filed", "{done}");
    zbulk
        .until(&ends, "both ends completed", |b| {
            b["counts"]["completed"] == 2
        })
        .await;

    let rows = bulk.rows(&preview, CsvEncoding::Utf8).await;
    assert_eq!(rows.len(), 3, "{rows:?}");
    for r in &rows[..2] {
        assert_eq!(
            (r[2].as_str(), r[4].as_str()),
            ("申請済 filed", "completed"),
            "{r:?}"
        );
        let (code, status) = a.status(&r[3]).await;
        assert_eq!(
            (code, status["function"].as_str(), status["status"].as_str()),
            (200, Some(start_function.as_str()), Some("completed")),
            "{status}"
        );
    }
    let past = &rows[2];
    assert_eq!(
        (past[2].as_str(), past[6].as_str(), past[7].as_str()),
        ("不備 bad", "スイッチング予定日", "planned_date_in_past"),
        "{past:?}"
    );
    assert!(past[3].is_empty(), "a bad row has no request");
}

#[tokio::test]
async fn a_high_voltage_switch_start_file_previews_its_bad_row_files_the_good_ones_and_the_download_shows_each_outcome()
 {
    a_switch_file_pair_previews_the_bad_row_files_the_good_ones_and_both_halves_complete(
        "hv-",
        PointKind::HighVoltage,
        "320",
    )
    .await;
}

#[tokio::test]
async fn a_post_fit_switch_start_file_previews_its_bad_row_files_the_good_ones_and_the_download_shows_each_outcome()
 {
    a_switch_file_pair_previews_the_bad_row_files_the_good_ones_and_both_halves_complete(
        "gen-",
        PointKind::PostFit,
        "",
    )
    .await;
}
