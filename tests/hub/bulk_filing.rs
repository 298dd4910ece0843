//! Filing a confirmed batch exactly once: a confirm sent twice, a hub stopped half way
//! through filing and started again, and the filing process killed (SIGKILL) half way and
//! started again, each file every row once (counted on the request topic); a row a rule refuses
//! at filing is refused alone, and rows filed before a crash keep their first requests.

use std::collections::{HashMap, HashSet};
use std::process::Child;
use std::time::Duration;

use kirikae::domain::{Area, SupplyPointId};
use kirikae::hub;
use tokio_util::sync::CancellationToken;

use crate::bulk::{
    BulkClient, CHANGE_HEADER, START_HEADER, change_line, csv_file, planned, requests_on_topic,
    start_line,
};
use crate::harness::*;

/// `n` distinct Tokyo points (the requests are not sent on: no connector runs).
fn points(n: usize) -> Vec<SupplyPointId> {
    (1..=n)
        .map(|i| SupplyPointId::parse(&format!("03{i:020}")).unwrap())
        .collect()
}

fn change_file(n: usize) -> Vec<u8> {
    let date = planned();
    let lines: Vec<String> = points(n)
        .iter()
        .map(|p| change_line(p, &date, "山田 太郎"))
        .collect();
    csv_file(CHANGE_HEADER, &lines).into_bytes()
}

/// Each point's distinct request ids on the topic.
fn ids_by_point(app: &TestApp) -> HashMap<String, HashSet<String>> {
    let mut by_point: HashMap<String, HashSet<String>> = HashMap::new();
    for (id, point) in requests_on_topic(app, Area::Tokyo) {
        by_point.entry(point).or_default().insert(id);
    }
    by_point
}

#[tokio::test]
async fn a_confirm_sent_twice_files_each_row_once() {
    let app = spawn_app_without_connectors(&[Area::Tokyo]).await;
    let a = app.login(RETAILER_A).await;
    let bulk = BulkClient(&a);
    let batch = bulk.previewed("customer-change", change_file(30)).await;
    let (first, second) = tokio::join!(bulk.confirm(&batch, ""), bulk.confirm(&batch, ""));
    assert_eq!((first.0, second.0), (202, 202), "{first:?} {second:?}");
    bulk.until(&batch, "every row filed", |b| b["state"] == "filed")
        .await;
    // A confirm after the filing changes nothing either.
    assert_eq!(bulk.confirm(&batch, "").await.0, 202);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let records = requests_on_topic(&app, Area::Tokyo);
    assert_eq!(records.len(), 30, "one record per row");
    let by_point = ids_by_point(&app);
    assert_eq!(by_point.len(), 30);
    assert!(by_point.values().all(|ids| ids.len() == 1));
    let view = bulk.batch(&batch).await;
    assert_eq!(view["counts"]["filed"], 30, "{view}");
    assert_eq!(view["counts"]["pending"], 0);
}

/// The filing job listens for confirms rather than waiting for its next look: a confirm is
/// announced, with its batch's id, when it commits (and only once however often it is sent).
#[tokio::test]
async fn a_confirm_is_announced_to_the_filing_job_when_it_commits() {
    let app = spawn_app_without_connectors(&[Area::Tokyo]).await;
    let a = app.login(RETAILER_A).await;
    let bulk = BulkClient(&a);
    let batch = bulk.previewed("customer-change", change_file(3)).await;
    let heard = std::sync::Arc::new(tokio::sync::Notify::new());
    let _listening = kirikae::db::Connect::service(&app.settings)
        .unwrap()
        .listen(kirikae::bulk::store::CONFIRMED, heard.clone())
        .await
        .unwrap();
    let waiting = heard.notified();
    tokio::pin!(waiting);
    waiting.as_mut().enable();
    assert!(
        tokio::time::timeout(Duration::from_millis(300), waiting.as_mut())
            .await
            .is_err(),
        "nothing announced before the confirm"
    );
    assert_eq!(bulk.confirm(&batch, "").await.0, 202);
    tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the confirm announced");
    assert_eq!(bulk.confirm(&batch, "").await.0, 202);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), heard.notified())
            .await
            .is_err(),
        "a second confirm announces nothing"
    );
}

#[tokio::test]
async fn filing_resumes_after_the_hub_is_stopped_half_way_and_files_every_row_exactly_once() {
    const ROWS: usize = 10_000;
    let app = spawn_app_without_connectors(&[Area::Tokyo]).await;
    let a = app.login(RETAILER_A).await;
    let bulk = BulkClient(&a);
    let batch = bulk.previewed("customer-change", change_file(ROWS)).await;
    assert_eq!(batch["counts"]["good"], ROWS as u64, "{batch}");
    assert_eq!(bulk.confirm(&batch, "").await.0, 202);
    let started = bulk
        .until(&batch, "the first rows filed", |b| {
            b["counts"]["filed"].as_u64() > Some(0)
        })
        .await;
    // Stop the whole hub (its API, projector and jobs) in the middle of the filing.
    app.shutdown.cancel();
    assert!(
        started["counts"]["pending"].as_u64() > Some(0),
        "the filing was stopped before it finished: {started}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let filed_before = ids_by_point(&app).len();
    assert!(
        filed_before < ROWS,
        "{filed_before} rows were on the topic at the stop"
    );

    // The hub starts again on the same database and topics; its job resumes the batch.
    let pool = hub::pool(&app.settings).unwrap();
    let restart = CancellationToken::new();
    let placement = hub::Placement::Isolated {
        batch_root: app.settings.tls_dir.join("batch"),
    };
    let here = tokio::runtime::Handle::current();
    let again = hub::start(
        &app.settings,
        &pool,
        &[],
        &placement,
        false,
        &restart,
        &here,
    )
    .await
    .unwrap();
    let a = a.on(&format!("https://localhost:{}", again.api.port()));
    let bulk = BulkClient(&a);
    let done = bulk
        .until(&batch, "every row filed after the restart", |b| {
            b["state"] == "filed"
        })
        .await;
    assert_eq!(done["counts"]["filed"], ROWS as u64, "{done}");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let by_point = ids_by_point(&app);
    assert_eq!(by_point.len(), ROWS, "every row reached the topic");
    for (point, ids) in &by_point {
        assert_eq!(ids.len(), 1, "{point} was filed as {ids:?}");
    }
    // The download names, for each row, the one request on the topic.
    let rows = bulk
        .rows(&batch, kirikae::csv_text::CsvEncoding::Utf8)
        .await;
    assert_eq!(rows.len(), ROWS);
    for row in rows {
        assert!(by_point[&row[1]].contains(&row[3]), "{row:?}");
    }
    restart.cancel();
}

/// The real `kirikae projector` process — the projector and the hub's jobs, the bulk filing
/// among them — configured like the test app.
fn filing_process(app: &TestApp) -> Child {
    kirikae_process(app, &["projector", "--ops-listen", "127.0.0.1:0"])
        .spawn()
        .expect("the kirikae binary")
}

#[tokio::test]
async fn filing_killed_half_way_files_every_row_exactly_once_in_the_next_process() {
    const ROWS: usize = 10_000;
    let app = spawn_app_without_connectors(&[Area::Tokyo]).await;
    let a = app.login(RETAILER_A).await;
    let batch = BulkClient(&a)
        .previewed("customer-change", change_file(ROWS))
        .await;
    // From here no filing job runs in the test: the API alone, in this process.
    app.shutdown.cancel();
    let pool = hub::pool(&app.settings).unwrap();
    let stop = CancellationToken::new();
    let (api, _) = hub::spawn_api(
        &app.settings,
        pool,
        "127.0.0.1:0".parse().unwrap(),
        stop.clone(),
    )
    .await
    .unwrap();
    let a = a.on(&format!("https://localhost:{}", api.port()));
    let bulk = BulkClient(&a);
    assert_eq!(bulk.confirm(&batch, "").await.0, 202);

    let mut first = filing_process(&app);
    let started = bulk
        .until(&batch, "the first rows filed", |b| {
            b["counts"]["filed"].as_u64() > Some(0)
        })
        .await;
    first.kill().expect("kill -9");
    first.wait().unwrap();
    let at_kill = bulk.batch(&batch).await;
    assert!(
        started["counts"]["pending"].as_u64() > Some(0) && at_kill["state"] == "confirmed",
        "the filing was killed before it finished: {at_kill}"
    );

    let mut second = filing_process(&app);
    let done = bulk
        .until(&batch, "every row filed by the next process", |b| {
            b["state"] == "filed"
        })
        .await;
    second.kill().unwrap();
    second.wait().unwrap();
    assert_eq!(done["counts"]["filed"], ROWS as u64, "{done}");
    let by_point = ids_by_point(&app);
    assert_eq!(by_point.len(), ROWS, "every row reached the topic");
    for (point, ids) in &by_point {
        assert_eq!(ids.len(), 1, "{point} was filed as {ids:?}");
    }
    let rows = bulk
        .rows(&batch, kirikae::csv_text::CsvEncoding::Utf8)
        .await;
    for row in rows {
        assert!(by_point[&row[1]].contains(&row[3]), "{row:?}");
    }
    stop.cancel();
}

#[tokio::test]
async fn a_row_a_rule_refuses_only_at_filing_is_refused_alone_and_the_rest_of_its_group_is_filed() {
    let app = spawn_app_without_connectors(&[Area::Tokyo]).await;
    let a = app.login(RETAILER_A).await;
    let current = kirikae::tso_sim::register::incumbent_code(Area::Tokyo);
    let [p1, p2, p3]: [SupplyPointId; 3] = points(3).try_into().unwrap();
    let date = planned();
    let lines = vec![
        start_line(&p1, &date, &current),
        // A well-formed 廃止取次番号 that names no intermediation: only filing can tell.
        format!(
            "{},{date},{current},0012-3456-78,山田 太郎,,,IS03-20261107-000000000000,1,,",
            p2.as_str()
        ),
        start_line(&p3, &date, &current),
    ];
    let bulk = BulkClient(&a);
    let batch = bulk
        .previewed("switch-start", csv_file(START_HEADER, &lines).into_bytes())
        .await;
    assert_eq!(batch["counts"]["good"], 3, "{batch}");
    let done = bulk.file(&batch, "").await;
    assert_eq!(
        (&done["counts"]["filed"], &done["counts"]["refused"]),
        (&serde_json::json!(2), &serde_json::json!(1)),
        "{done}"
    );
    let rows = bulk
        .rows(&batch, kirikae::csv_text::CsvEncoding::Utf8)
        .await;
    let refused = rows.iter().find(|r| r[0] == "3").unwrap();
    assert_eq!(
        (refused[2].as_str(), refused[7].as_str()),
        ("申請不可 refused", "intermediation_number_unknown"),
        "{refused:?}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut on_topic: Vec<String> = requests_on_topic(&app, Area::Tokyo)
        .into_iter()
        .map(|(_, point)| point)
        .collect();
    on_topic.sort();
    assert_eq!(on_topic, vec![p1.as_str(), p3.as_str()]);
}

/// What a filing that died after recording and producing lines 2 and 3 (the first two rows),
/// before storing their ids, leaves — made from a real filing by taking the two ids off their rows again and the
/// batch back to `confirmed`, with line 2's request taken up by its connector meanwhile.
#[tokio::test]
async fn rows_filed_before_a_crash_keep_their_first_requests_and_are_sent_again_only_while_accepted()
 {
    let app = spawn_app_without_connectors(&[Area::Tokyo]).await;
    let a = app.login(RETAILER_A).await;
    let bulk = BulkClient(&a);
    let batch = bulk.previewed("customer-change", change_file(5)).await;
    let batch_id: uuid::Uuid = batch["batch_id"].as_str().unwrap().parse().unwrap();
    assert_eq!(bulk.file(&batch, "").await["counts"]["filed"], 5);
    let first: HashMap<String, String> = bulk
        .rows(&batch, kirikae::csv_text::CsvEncoding::Utf8)
        .await
        .into_iter()
        .map(|row| (row[0].clone(), row[3].clone()))
        .collect();
    let id_of = |line: &str| first[line].parse::<uuid::Uuid>().unwrap();
    let pool = hub::pool(&app.settings).unwrap();
    let client = pool.get().await.unwrap();
    client
        .batch_execute(&format!(
            "UPDATE bulk_rows SET request_id = NULL, outcome = NULL
              WHERE batch_id = '{batch_id}' AND line IN (2, 3);
             UPDATE requests SET status = 'sent', status_rank = 1
              WHERE request_id = '{}';
             UPDATE bulk_batches SET state = 'confirmed', filed_at = NULL
              WHERE batch_id = '{batch_id}';",
            id_of("2")
        ))
        .await
        .unwrap();
    bulk.until(&batch, "filed again", |b| b["state"] == "filed")
        .await;
    let again: HashMap<String, String> = bulk
        .rows(&batch, kirikae::csv_text::CsvEncoding::Utf8)
        .await
        .into_iter()
        .map(|row| (row[0].clone(), row[3].clone()))
        .collect();
    assert_eq!(again, first, "every line keeps its first request");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut times: HashMap<String, usize> = HashMap::new();
    for (id, _) in requests_on_topic(&app, Area::Tokyo) {
        *times.entry(id).or_default() += 1;
    }
    let sent = |line: &str| times.get(&first[line]).copied().unwrap_or(0);
    assert_eq!(
        (sent("2"), sent("3"), sent("4"), sent("5"), sent("6")),
        (1, 2, 1, 1, 1),
        "line 3, still accepted, is sent again (its connector keeps one); line 2, taken up, is not"
    );
    assert_eq!(times.len(), 5, "no request but the batch's five: {times:?}");
    let ids: Vec<uuid::Uuid> = first.keys().map(|line| id_of(line)).collect();
    let audited: i64 = client
        .query_one(
            "SELECT count(*) FROM audit_log
              WHERE action = 'request.submitted' AND subject_id = ANY($1)",
            &[&ids.iter().map(|i| i.to_string()).collect::<Vec<_>>()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        audited, 5,
        "one audit row per request, however often it is filed"
    );
}

/// A confirmed batch whose broker is down: every row waits (none is refused for it), and once
/// the broker is back each is filed once and carried to its final status.
#[tokio::test]
async fn rows_confirmed_while_the_broker_is_down_wait_and_are_filed_once_when_it_is_back() {
    const REFUSED: &str =
        r#"kirikae_requests_refused_total{function="customer-change",reason="broker_unavailable"}"#;
    const ROWS: usize = 20;
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let broker = crate::broker_restart::start_broker(data.path(), port);
    let app = spawn_app_on_broker(&[Area::Tokyo], &format!("127.0.0.1:{port}")).await;
    let a = app.login(RETAILER_A).await;
    let bulk = BulkClient(&a);
    let batch = bulk.previewed("customer-change", change_file(ROWS)).await;
    let refused_before = sample(&kirikae::metrics::render(), REFUSED);

    drop(broker);
    assert_eq!(
        bulk.confirm(&batch, "").await.0,
        202,
        "a confirm needs no broker"
    );
    // A filing pass has met the absent broker (the producer gives a record up after 10 s).
    eventually(120, "a filing pass refused by the absent broker", || {
        sample(&kirikae::metrics::render(), REFUSED) > refused_before
    })
    .await;
    let waiting = bulk.batch(&batch).await;
    assert_eq!(waiting["state"], "confirmed", "{waiting}");
    assert_eq!(
        (&waiting["counts"]["pending"], &waiting["counts"]["refused"]),
        (&serde_json::json!(ROWS), &serde_json::json!(0)),
        "every row waits: {waiting}"
    );

    let _broker = crate::broker_restart::start_broker(data.path(), port);
    let done = bulk
        .until(&batch, "every row final", |b| {
            let c = &b["counts"];
            ["completed", "rejected", "failed"]
                .iter()
                .map(|s| c[*s].as_u64().unwrap_or(0))
                .sum::<u64>()
                == ROWS as u64
        })
        .await;
    assert_eq!(done["counts"]["filed"], ROWS, "{done}");
    assert_eq!(done["counts"]["refused"], 0, "{done}");
    let by_point = ids_by_point(&app);
    assert_eq!(by_point.len(), ROWS, "every row on the topic");
    assert!(
        by_point.values().all(|ids| ids.len() == 1),
        "each row filed as one request: {by_point:?}"
    );
}
