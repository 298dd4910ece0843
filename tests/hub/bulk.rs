//! Bulk applications (一括申請) end to end: a file's bad rows previewed with their messages and
//! nothing filed, the good rows filed on confirm and answered by the operator, the download of
//! every row's outcome, the same file in Shift_JIS and UTF-8 with a BOM, and bad files refused.

use std::time::Duration;

use kirikae::csv_text::{self, CsvEncoding};
use kirikae::domain::{Area, SupplyPointId};
use kirikae::tso_sim::register::{PointKind, incumbent_code};
use serde_json::Value;

use crate::harness::*;

/// A retailer's session, for bulk calls.
pub struct BulkClient<'a>(pub &'a Retailer);

impl BulkClient<'_> {
    /// Uploads `bytes` as a file of `function` (`query` e.g. `?encoding=shift_jis`).
    pub async fn upload(&self, function: &str, query: &str, bytes: Vec<u8>) -> (u16, Value) {
        let resp = self
            .0
            .http
            .post(format!("{}/api/v1/bulk/{function}{query}", self.0.api))
            .bearer_auth(&self.0.token)
            .header("content-type", "text/csv")
            .body(bytes)
            .send()
            .await
            .unwrap();
        (
            resp.status().as_u16(),
            resp.json().await.unwrap_or(Value::Null),
        )
    }

    /// Uploads and expects 201; the preview.
    pub async fn previewed(&self, function: &str, bytes: Vec<u8>) -> Value {
        let (code, body) = self.upload(function, "", bytes).await;
        assert_eq!(code, 201, "{body}");
        body
    }

    /// Uploads a 需要者情報変更 file of `lines`, expects no bad row, and confirms it; the preview.
    pub async fn confirmed_changes(&self, lines: &[String]) -> Value {
        let bytes = csv_file(CHANGE_HEADER, lines).into_bytes();
        let batch = self.previewed("customer-change", bytes).await;
        assert_eq!(batch["counts"]["bad"], 0, "{batch}");
        assert_eq!(self.confirm(&batch, "").await.0, 202);
        batch
    }

    pub async fn confirm(&self, batch: &Value, query: &str) -> (u16, Value) {
        let resp = self
            .0
            .http
            .post(format!(
                "{}{}{query}",
                self.0.api,
                batch["confirm_url"].as_str().unwrap()
            ))
            .bearer_auth(&self.0.token)
            .send()
            .await
            .unwrap();
        (
            resp.status().as_u16(),
            resp.json().await.unwrap_or(Value::Null),
        )
    }

    pub async fn batch(&self, batch: &Value) -> Value {
        let id = batch["batch_id"].as_str().unwrap();
        let (code, body) = self.0.get(&format!("/api/v1/bulk/batches/{id}")).await;
        assert_eq!(code, 200, "{body}");
        body
    }

    /// Polls the batch until `done` holds of it; the batch then.
    pub async fn until(&self, batch: &Value, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        loop {
            let now = self.batch(batch).await;
            if done(&now) {
                return now;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{what} never happened: {now}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Confirms `batch` (`query` e.g. `?only_good=true`), expects 202, and waits until every row
    /// is filed or refused; the batch then.
    pub async fn file(&self, batch: &Value, query: &str) -> Value {
        let (code, body) = self.confirm(batch, query).await;
        assert_eq!(code, 202, "{body}");
        self.until(batch, "every row filed or refused", |b| {
            b["state"] == "filed"
        })
        .await
    }

    /// The download's rows (header dropped), read back from `encoding`.
    pub async fn rows(&self, batch: &Value, encoding: CsvEncoding) -> Vec<Vec<String>> {
        let query = match encoding {
            CsvEncoding::Utf8 => "",
            CsvEncoding::ShiftJis => "?encoding=shift_jis",
        };
        let resp = self
            .0
            .http
            .get(format!(
                "{}{}{query}",
                self.0.api,
                batch["rows_url"].as_str().unwrap()
            ))
            .bearer_auth(&self.0.token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let bytes = resp.bytes().await.unwrap();
        if encoding == CsvEncoding::Utf8 {
            assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "UTF-8 with a BOM");
        }
        let text = csv_text::decode(&bytes, Some(encoding)).unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        reader
            .records()
            .map(|r| r.unwrap().iter().map(str::to_string).collect())
            .collect()
    }
}

pub fn planned() -> String {
    (chrono::Utc::now().date_naive() + chrono::Duration::days(14))
        .format("%Y/%m/%d")
        .to_string()
}

pub const START_HEADER: &str = "供給地点特定番号,スイッチング予定日,現小売事業者コード,現小売お客さま番号,需要者名義,需要者連絡先電話番号,契約電流,廃止取次番号,託送供給等約款への同意,契約決定方法,契約電力";
pub const END_HEADER: &str =
    "供給地点特定番号,スイッチング予定日,新小売事業者コード,お客さま番号,廃止取次番号";
pub const CHANGE_HEADER: &str = "供給地点特定番号,変更日,需要者名義,連絡先電話番号,郵送先住所";

pub fn start_line(point: &SupplyPointId, date: &str, current: &str) -> String {
    format!(
        "{},{date},{current},0012-3456-78,山田 太郎,03-1234-5678,,,1,,",
        point.as_str()
    )
}

pub fn change_line(point: &SupplyPointId, date: &str, name: &str) -> String {
    format!("{},{date},{name},,東京都千代田区1-1", point.as_str())
}

pub fn csv_file(header: &str, lines: &[String]) -> String {
    let mut text = format!("{header}\r\n");
    for l in lines {
        text.push_str(l);
        text.push_str("\r\n");
    }
    text
}

/// The records on `area`'s request topic, as (request id, point).
pub fn requests_on_topic(app: &TestApp, area: Area) -> Vec<(String, String)> {
    let codec = kirikae::messages::Codec::new();
    read_topic(
        &app.settings.kafka_brokers,
        &app.settings.requests_topic(area),
    )
    .iter()
    .map(|b| codec.decode_request(b).expect("a request record"))
    .map(|r| (r.request_id.to_string(), r.point_id.as_str().to_string()))
    .collect()
}

#[tokio::test]
async fn a_switch_start_file_previews_its_bad_rows_files_the_good_ones_on_confirm_and_the_download_shows_each_outcome()
 {
    let area = Area::Tokyo;
    let app = spawn_app(&[area]).await;
    let a = app.login(RETAILER_A).await;
    let current = incumbent_code(area);
    let points: Vec<SupplyPointId> = (20..23)
        .map(|n| app.incumbent_point(area, PointKind::LowVoltage, n))
        .collect();
    let date = planned();
    let mut lines: Vec<String> = points
        .iter()
        .map(|p| start_line(p, &date, &current))
        .collect();
    lines.insert(1, start_line(&points[0], "2020/01/06", &current)); // line 3: in the past
    lines.push(format!(
        "0300000000000000000001,{date},{RETAILER_A},C-9,山田 太郎,,,,1,,"
    )); // line 6: a switch to oneself
    let bulk = BulkClient(&a);
    let preview = bulk
        .previewed("switch-start", csv_file(START_HEADER, &lines).into_bytes())
        .await;
    assert_eq!(preview["state"], "previewed");
    assert_eq!(preview["counts"]["rows"], 5, "{preview}");
    assert_eq!(preview["counts"]["bad"], 2);
    let bad = preview["bad_rows"].as_array().unwrap();
    assert_eq!(bad[0]["line"], 3);
    assert_eq!(bad[0]["code"], "planned_date_in_past");
    assert_eq!(bad[0]["column"], "スイッチング予定日");
    assert!(!bad[0]["message_ja"].as_str().unwrap().is_empty());
    assert_eq!(bad[1]["line"], 6);
    assert_eq!(bad[1]["code"], "switch_to_self");
    // Before anything is filed: nothing on the topic, and a confirm with bad rows is refused.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(requests_on_topic(&app, area).is_empty());
    let (code, refusal) = bulk.confirm(&preview, "").await;
    assert_eq!(
        (code, refusal["code"].as_str()),
        (422, Some("bulk_has_bad_rows"))
    );
    assert!(requests_on_topic(&app, area).is_empty());

    let (code, confirmed) = bulk.confirm(&preview, "?only_good=true").await;
    assert_eq!(code, 202, "{confirmed}");
    bulk.until(&preview, "the start rows filed", |b| {
        b["counts"]["filed"] == 3
    })
    .await;
    // The current retailer ends supply of the same points with 廃止一括申請: both halves match.
    let z = app.login(&current).await;
    let end_lines: Vec<String> = points
        .iter()
        .map(|p| format!("{},{date},{RETAILER_A},0012-3456-78,", p.as_str()))
        .collect();
    let zbulk = BulkClient(&z);
    let ends = zbulk
        .previewed("switch-end", csv_file(END_HEADER, &end_lines).into_bytes())
        .await;
    assert_eq!(ends["counts"]["bad"], 0, "{ends}");
    assert_eq!(zbulk.confirm(&ends, "").await.0, 202);
    let done = bulk
        .until(&preview, "three completed", |b| {
            b["counts"]["completed"] == 3
        })
        .await;
    assert_eq!(done["state"], "filed");
    zbulk
        .until(&ends, "three ends completed", |b| {
            b["counts"]["completed"] == 3
        })
        .await;

    let rows = bulk.rows(&preview, CsvEncoding::Utf8).await;
    assert_eq!(rows.len(), 5);
    let by_line = |l: &str| rows.iter().find(|r| r[0] == l).unwrap().clone();
    for line in ["2", "4", "5"] {
        let r = by_line(line);
        assert_eq!(r[2], "申請済 filed", "{r:?}");
        assert_eq!(r[4], "completed", "{r:?}");
        assert!(r[9].contains("application_number"), "the answer: {r:?}");
        let (code, status) = a.status(&r[3]).await;
        assert_eq!((code, status["status"].as_str()), (200, Some("completed")));
    }
    let past = by_line("3");
    assert_eq!(past[2], "不備 bad");
    assert_eq!(
        (past[6].as_str(), past[7].as_str()),
        ("スイッチング予定日", "planned_date_in_past")
    );
    assert!(past[3].is_empty(), "a bad row has no request");
    assert_eq!(by_line("6")[7], "switch_to_self");
    assert_eq!(
        requests_on_topic(&app, area).len(),
        6,
        "three starts, three ends"
    );
}

#[tokio::test]
async fn the_same_file_in_shift_jis_and_in_utf8_with_a_bom_gives_the_same_rows() {
    let area = Area::Tokyo;
    let app = spawn_app_without_connectors(&[area]).await;
    let z = app.login(&incumbent_code(area)).await;
    let date = planned();
    let lines: Vec<String> = (30..33)
        .map(|n| app.incumbent_point(area, PointKind::LowVoltage, n))
        .map(|p| change_line(&p, &date, "㈱髙橋商店①"))
        // 19 digits: a bad point.
        .chain([format!("0300000000000000000,{date},髙橋 一郎,,")])
        .collect();
    let text = csv_file(CHANGE_HEADER, &lines);
    let bulk = BulkClient(&z);
    let sjis = bulk
        .previewed(
            "customer-change",
            csv_text::encode(&text, CsvEncoding::ShiftJis),
        )
        .await;
    let bom = bulk
        .previewed(
            "customer-change",
            csv_text::encode(&text, CsvEncoding::Utf8),
        )
        .await;
    assert_eq!(sjis["encoding"], "Shift_JIS");
    assert_eq!(bom["encoding"], "utf-8");
    assert_eq!(sjis["counts"], bom["counts"]);
    assert_eq!(sjis["bad_rows"], bom["bad_rows"]);
    assert_eq!(sjis["counts"]["bad"], 1, "{sjis}");
    assert_eq!(sjis["bad_rows"][0]["code"], "invalid_supply_point_id");
    assert_eq!(
        bulk.rows(&sjis, CsvEncoding::ShiftJis).await,
        bulk.rows(&bom, CsvEncoding::Utf8).await
    );
    // The override names the encoding: Shift_JIS bytes declared UTF-8 are refused, not misread.
    let (code, body) = bulk
        .upload(
            "customer-change",
            "?encoding=utf-8",
            csv_text::encode(&text, CsvEncoding::ShiftJis),
        )
        .await;
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["code"], "wrong_header");
}

#[tokio::test]
async fn a_batch_counts_its_filed_rows_by_the_status_of_each_request() {
    let area = Area::Tokyo;
    let app = spawn_app(&[area]).await;
    let incumbent = incumbent_code(area);
    let z = app.login(&incumbent).await;
    let date = planned();
    // Two points the incumbent supplies (the operator completes their change) and two it
    // does not (the operator rejects it).
    let own = (50..52).map(|n| app.incumbent_point(area, PointKind::LowVoltage, n));
    let others = (0..app.settings.sim_points_per_area)
        .map(|i| app.point(area, i))
        .filter(|(_, current)| *current != incumbent)
        .map(|(p, _)| p)
        .take(2);
    let lines: Vec<String> = own
        .chain(others)
        .map(|p| change_line(&p, &date, "需要者 太郎"))
        .collect();
    let bulk = BulkClient(&z);
    let batch = bulk.confirmed_changes(&lines).await;
    let done = bulk
        .until(&batch, "every row answered", |b| {
            let c = &b["counts"];
            c["completed"].as_i64().unwrap() + c["rejected"].as_i64().unwrap() == 4
        })
        .await;
    let c = &done["counts"];
    assert_eq!(
        [
            &c["filed"],
            &c["completed"],
            &c["rejected"],
            &c["accepted"],
            &c["sent"],
            &c["failed"]
        ],
        [4, 2, 2, 0, 0, 0],
        "{done}"
    );
    let statuses: Vec<String> = bulk
        .rows(&batch, CsvEncoding::Utf8)
        .await
        .into_iter()
        .map(|r| r[4].clone())
        .collect();
    assert_eq!(statuses, ["completed", "completed", "rejected", "rejected"]);
}

#[tokio::test]
async fn a_customer_change_file_is_filed_and_each_row_completes() {
    let area = Area::Tokyo;
    let app = spawn_app(&[area]).await;
    let z = app.login(&incumbent_code(area)).await;
    let date = planned();
    let lines: Vec<String> = (40..43)
        .map(|n| app.incumbent_point(area, PointKind::LowVoltage, n))
        .map(|p| change_line(&p, &date, "=HYPERLINK(\"http://evil.example/\")"))
        .collect();
    let bulk = BulkClient(&z);
    let batch = bulk.confirmed_changes(&lines).await;
    bulk.until(&batch, "three completed", |b| b["counts"]["completed"] == 3)
        .await;
    for row in bulk.rows(&batch, CsvEncoding::ShiftJis).await {
        assert_eq!(row[4], "completed", "{row:?}");
        assert!(!row[3].is_empty());
    }
}

#[tokio::test]
async fn a_bad_file_is_refused_naming_what_and_where_and_nothing_is_stored_or_filed() {
    let area = Area::Tokyo;
    let app = spawn_app_without_connectors(&[area]).await;
    let a = app.login(RETAILER_A).await;
    let bulk = BulkClient(&a);
    let point = app.incumbent_point(area, PointKind::LowVoltage, 50);
    let good = start_line(&point, &planned(), &incumbent_code(area));
    let cases: Vec<(Vec<u8>, u16, &str, &str)> = vec![
        (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR".to_vec(),
            422,
            "binary_file",
            "byte",
        ),
        (
            b"user_id,name,mail\na,b,c\n".to_vec(),
            422,
            "wrong_header",
            "供給地点特定番号",
        ),
        (
            csv_file(START_HEADER, &[good.clone(), "0300,2026/12/10".into()]).into_bytes(),
            422,
            "cell_count",
            "line 3",
        ),
        (
            csv_file(START_HEADER, &[good.clone(), format!("\"{good}")]).into_bytes(),
            422,
            "open_quote",
            "line 3",
        ),
        (
            vec![b'a'; kirikae::bulk::MAX_FILE_BYTES + 1],
            413,
            "file_too_large",
            "MiB",
        ),
        (
            // Not CSV at all: a text whose first line is no header.
            b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n1 0 obj\n".to_vec(),
            422,
            "wrong_header",
            "line 1",
        ),
        (
            // Shift_JIS, then a line saved as UTF-8.
            [
                csv_text::encode(
                    &csv_file(START_HEADER, std::slice::from_ref(&good)),
                    CsvEncoding::ShiftJis,
                ),
                format!("{}\r\n", good.replace("山田 太郎", "髙橋 一郎")).into_bytes(),
            ]
            .concat(),
            422,
            "mixed_encoding",
            "line 3",
        ),
    ];
    for (bytes, status, code, place) in cases {
        let (got, body) = bulk.upload("switch-start", "", bytes).await;
        assert_eq!((got, body["code"].as_str()), (status, Some(code)), "{body}");
        assert!(
            body["message_en"].as_str().unwrap().contains(place),
            "{body}"
        );
        assert!(!body["message_ja"].as_str().unwrap().is_empty());
    }
    let (got, body) = bulk
        .upload("switch-start", "?encoding=latin1", good.into_bytes())
        .await;
    assert_eq!(
        (got, body["code"].as_str()),
        (422, Some("invalid_encoding"))
    );
    let (got, _) = bulk.upload("facility-inquiry", "", b"x".to_vec()).await;
    assert_eq!(got, 422, "not a bulk function");
    // A demand-response contractor may not call スイッチング開始申請, so neither its bulk.
    let dr = app.login(DR_CONTRACTOR).await;
    let file = csv_file(START_HEADER, &[start_line(&point, &planned(), "Z0300")]);
    let (got, body) = BulkClient(&dr)
        .upload("switch-start", "", file.into_bytes())
        .await;
    assert_eq!(
        (got, body["code"].as_str()),
        (403, Some("function_not_allowed"))
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(requests_on_topic(&app, area).is_empty());
}

/// How many batches and rows the hub has stored.
async fn stored(app: &TestApp) -> (i64, i64) {
    let pool = kirikae::hub::pool(&app.settings).unwrap();
    let client = pool.get().await.unwrap();
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM bulk_batches), (SELECT count(*) FROM bulk_rows)",
            &[],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

#[tokio::test]
async fn a_file_of_100_mb_is_refused_as_too_large_with_both_messages_and_nothing_is_stored() {
    let area = Area::Tokyo;
    let app = spawn_app_without_connectors(&[area]).await;
    let a = app.login(RETAILER_A).await;
    let point = app.incumbent_point(area, PointKind::LowVoltage, 52);
    // A well-formed file of good rows: refused for its size alone.
    let line = format!("{}\r\n", start_line(&point, &planned(), "Z0300"));
    let mut file = format!("{START_HEADER}\r\n").into_bytes();
    while file.len() < 100 * 1024 * 1024 {
        file.extend_from_slice(line.as_bytes());
    }
    let (status, body) = BulkClient(&a).upload("switch-start", "", file).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (413, Some("file_too_large")),
        "{body}"
    );
    assert!(
        body["message_en"].as_str().unwrap().contains("20 MiB"),
        "{body}"
    );
    assert!(
        body["message_ja"].as_str().unwrap().contains("20MB"),
        "{body}"
    );
    assert_eq!(stored(&app).await, (0, 0), "nothing stored");
    assert!(requests_on_topic(&app, area).is_empty(), "nothing filed");
}

pub const USAGE_HEADER: &str = "供給地点特定番号,需要者名義,需要者連絡先電話番号";

#[tokio::test]
async fn a_usage_password_file_of_one_corporate_customer_previews_other_customers_and_areas_as_bad_and_files_the_rest()
 {
    let area = Area::Tokyo;
    let app = spawn_app(&[area]).await;
    let a = app.login(RETAILER_A).await;
    let points: Vec<SupplyPointId> = (60..63)
        .map(|n| app.incumbent_point(area, PointKind::LowVoltage, n))
        .collect();
    let name = app.customer_name(area, &points[0]);
    let lines = vec![
        format!("{},{name},", points[0].as_str()),
        format!("{},{name},03-1234-5678", points[1].as_str()),
        format!("{},㈱別会社①,", points[2].as_str()), // line 4: another customer
        format!("0600000000000000000003,{name},"),    // line 5: another area
        format!("03000000000000000000,{name},"),      // line 6: 20 digits
    ];
    let bulk = BulkClient(&a);
    let sjis = csv_text::encode(&csv_file(USAGE_HEADER, &lines), CsvEncoding::ShiftJis);
    let preview = bulk.previewed("usage-password", sjis).await;
    assert_eq!(
        (
            preview["counts"]["rows"].as_i64(),
            preview["counts"]["bad"].as_i64()
        ),
        (Some(5), Some(3)),
        "{preview}"
    );
    let bad: Vec<(i64, &str)> = preview["bad_rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["line"].as_i64().unwrap(), b["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        bad,
        [
            (4, "not_one_customer"),
            (5, "not_one_area"),
            (6, "invalid_supply_point_id")
        ]
    );
    assert!(
        requests_on_topic(&app, area).is_empty(),
        "nothing filed yet"
    );
    assert_eq!(bulk.confirm(&preview, "?only_good=true").await.0, 202);
    let done = bulk
        .until(&preview, "both good rows answered", |b| {
            let c = &b["counts"];
            c["completed"].as_i64().unwrap() + c["rejected"].as_i64().unwrap() == 2
        })
        .await;
    assert_eq!(done["counts"]["filed"], 2, "{done}");
    let rows = bulk.rows(&preview, CsvEncoding::Utf8).await;
    assert_eq!(rows.len(), 5);
    for r in &rows[..2] {
        assert_eq!(r[2], "申請済 filed", "{r:?}");
        assert!(["completed", "rejected"].contains(&r[4].as_str()), "{r:?}");
        let (code, status) = a.status(&r[3]).await;
        assert_eq!(
            (code, status["status"].as_str()),
            (200, Some(r[4].as_str()))
        );
    }
    for (r, code) in rows[2..].iter().zip([
        "not_one_customer",
        "not_one_area",
        "invalid_supply_point_id",
    ]) {
        assert_eq!((r[2].as_str(), r[7].as_str()), ("不備 bad", code), "{r:?}");
        assert!(r[3].is_empty(), "a bad row has no request");
    }
    assert_eq!(
        requests_on_topic(&app, area).len(),
        2,
        "the good rows, once each"
    );
}

/// A browser's `multipart/form-data` upload: the CSRF token, the function, the encoding and
/// the file. Its content type and body.
fn web_form(csrf: &str, function: &str, file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----WebKitFormBoundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, value) in [("csrf", csrf), ("function", function), ("encoding", "")] {
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\
             Content-Type: text/csv\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn the_web_upload_reads_the_form_as_it_arrives_and_refuses_a_file_too_large_on_the_form() {
    let area = Area::Tokyo;
    let app = spawn_app_without_connectors(&[area]).await;
    let web = crate::web_http::WebClient::of(&app, RETAILER_A).await;
    let date = planned();
    let point = app.incumbent_point(area, PointKind::LowVoltage, 53);
    let lines = vec![
        change_line(&point, &date, "㈱髙橋商店①"),
        format!("0312345,{date},山田 太郎,,東京都千代田区1-1"), // line 3
    ];
    let sjis = csv_text::encode(&csv_file(CHANGE_HEADER, &lines), CsvEncoding::ShiftJis);
    let (content_type, body) = web_form(&web.csrf, "customer-change", &sjis);
    let page = web.post_raw("/web/bulk", &content_type, body).await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(page.path.starts_with("/web/bulk/"), "{}", page.path);
    assert!(
        page.html.contains("invalid_supply_point_id"),
        "{}",
        page.html
    );
    assert!(page.html.contains("id=\"count-bad\">1<"), "{}", page.html);
    assert_eq!(stored(&app).await, (1, 2));

    // Past 20 MiB the form answers 413 with the refusal, and nothing more is stored.
    let mut big = format!("{CHANGE_HEADER}\r\n").into_bytes();
    let line = format!("{}\r\n", lines[0]);
    while big.len() <= kirikae::bulk::MAX_FILE_BYTES {
        big.extend_from_slice(line.as_bytes());
    }
    let (content_type, body) = web_form(&web.csrf, "customer-change", &big);
    let page = web.post_raw("/web/bulk", &content_type, body).await;
    assert_eq!(page.status, 413, "{}", page.html);
    assert!(page.html.contains("file_too_large"), "{}", page.html);
    assert!(
        page.html.contains("ファイルが大きすぎます"),
        "{}",
        page.html
    );
    assert_eq!(stored(&app).await, (1, 2), "nothing more stored");
}

#[tokio::test]
async fn only_the_batchs_own_company_may_see_confirm_or_download_it() {
    let area = Area::Tokyo;
    let app = spawn_app_without_connectors(&[area]).await;
    let a = app.login(RETAILER_A).await;
    let b = app.login(RETAILER_B).await;
    let point = app.incumbent_point(area, PointKind::LowVoltage, 51);
    let file = csv_file(START_HEADER, &[start_line(&point, &planned(), "Z0300")]);
    let batch = BulkClient(&a)
        .previewed("switch-start", file.into_bytes())
        .await;
    let id = batch["batch_id"].as_str().unwrap();
    let (code, body) = b.get(&format!("/api/v1/bulk/batches/{id}")).await;
    assert_eq!(
        (code, body["code"].as_str()),
        (404, Some("bulk_batch_not_found"))
    );
    let (code, _) = BulkClient(&b).confirm(&batch, "").await;
    assert_eq!(code, 404);
    let (code, _) = b.get(&format!("/api/v1/bulk/batches/{id}/rows.csv")).await;
    assert_eq!(code, 404);
    assert_eq!(BulkClient(&a).batch(&batch).await["state"], "previewed");
}

#[tokio::test]
async fn each_bulk_function_publishes_its_template_and_a_sample_that_previews_without_a_bad_row() {
    let app = spawn_app_without_connectors(&[Area::Tokyo]).await;
    let a = app.login(RETAILER_A).await;
    for kind in kirikae::bulk::BulkKind::ALL {
        let slug = kind.slug();
        let get = |path: String| {
            let a = &a;
            async move {
                let resp = a
                    .http
                    .get(format!("{}{path}", a.api))
                    .bearer_auth(&a.token)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 200, "{path}");
                resp.bytes().await.unwrap().to_vec()
            }
        };
        let template = get(format!("/api/v1/bulk/{slug}/template.csv")).await;
        let text = csv_text::decode(&template, None).unwrap();
        assert_eq!(text, kirikae::bulk::template(kind), "{slug}");
        let sample = get(format!("/api/v1/bulk/{slug}/sample.csv?encoding=shift_jis")).await;
        let preview = BulkClient(&a).previewed(slug, sample).await;
        assert_eq!(preview["counts"]["rows"], 2, "{slug}: {preview}");
        assert_eq!(preview["counts"]["bad"], 0, "{slug}: {preview}");
    }
}
