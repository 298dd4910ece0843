//! Tests of the batch family on its own: the files both ends write and read, how the client
//! batches, matches answers by request id and times out, and the simulator's desk.

use std::path::Path;
use std::time::Duration;

use chrono::NaiveDate;

use super::files::{read_answers, read_requests, write_answers, write_requests};
use super::*;
use crate::domain::Area;
use crate::messages::fixtures;
use crate::messages::{FacilityInquiry, FacilityInquiryResult, Payload, SwitchStart};
use crate::tso_sim::{Mode, SimConfig, Simulator, point_id, serve_batch};

fn inquiry() -> RequestRecord {
    let mut r = fixtures::request(
        "0500123456789012340001",
        Payload::FacilityInquiry(FacilityInquiry {}),
    );
    r.request_id = RequestId::new();
    r
}

fn switch() -> RequestRecord {
    let payload = Payload::SwitchStart(SwitchStart {
        planned_date: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        previous_retailer_code: "Z0500".into(),
        previous_customer_number: "C-001".into(),
        customer_name: "山田 \"太郎\", 髙橋".into(),
        customer_phone: Some("076-123-4567".into()),
        contract_ampere: Some(40),
        intermediation_number: None,
        agreed_to_grid_terms: true,
    });
    fixtures::request("0500123456789012340001", payload)
}

fn facility() -> TsoAnswer {
    TsoAnswer::Completed(ResultPayload::FacilityInquiry(FacilityInquiryResult {
        supply_address: "富山県富山市牛島町1".into(),
        contract_kind: "従量電灯B".into(),
        contract_ampere: Some(30),
        contract_kva: None,
        smart_meter: true,
        meter_number: "0512345678".into(),
        next_meter_reading_date: NaiveDate::from_ymd_opt(2026, 12, 5).unwrap(),
        current_retailer_code: "Z0500".into(),
    }))
}

fn refused() -> TsoAnswer {
    TsoAnswer::Refused {
        code: "E1001".into(),
        message: "供給地点特定番号が存在しません".into(),
    }
}

fn client(dir: &Path, timeout_ms: u64, max: usize, wait_ms: u64) -> BatchClient {
    let endpoint = format!("file://{}", dir.display());
    let wait = Duration::from_millis(wait_ms);
    BatchClient::new(&endpoint, Duration::from_millis(timeout_ms), max, wait).unwrap()
}

/// The request files in the inbox, once there are `n` of them (or after two seconds).
async fn inbox_files(dir: &Path, n: usize) -> Vec<PathBuf> {
    for _ in 0..200 {
        let found = csv_files(&dir.join("inbox"));
        if found.len() >= n {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    csv_files(&dir.join("inbox"))
}

#[test]
fn files_are_shift_jis_csv_with_a_header() {
    let requests = vec![inquiry(), switch()];
    let bytes = write_requests(&requests);
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "Japanese text is not UTF-8 here"
    );
    let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(&bytes);
    assert!(!bad);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(files::REQUEST_HEADER.join(",").as_str()));
    assert!(lines.next().unwrap().starts_with("IF_10110,"), "{text}");
    assert!(text.contains("\"山田 \"\"太郎\"\", 髙橋\""), "{text}");
    assert_eq!(read_requests(&bytes).unwrap(), requests);

    let answers = vec![
        (RequestId::new(), facility()),
        (RequestId::new(), refused()),
    ];
    let bytes = write_answers(&answers);
    let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(&bytes);
    assert!(!bad);
    assert!(text.starts_with(&files::ANSWER_HEADER.join(",")), "{text}");
    let read: Vec<_> = read_answers(&bytes)
        .unwrap()
        .into_iter()
        .map(|(id, a)| (id, a.unwrap()))
        .collect();
    assert_eq!(read, answers);
    assert!(!files::is_shift_jis("絵文字 🙂"));
}

#[test]
fn a_malformed_answer_file_is_classified_never_a_panic() {
    let id = RequestId::new();
    let good = write_answers(&[(id, facility()), (RequestId::new(), refused())]);
    for cut in 0..good.len() {
        // Any prefix reads as rows or a malformed file; never a panic.
        let _ = read_answers(&good[..cut]);
    }
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for len in 0..400 {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        let _ = read_answers(&bytes);
    }
    let malformed = |bytes: &[u8]| matches!(read_answers(bytes), Err(CallError::Malformed(_)));
    assert!(malformed(b""), "no header");
    assert!(malformed(b"\xff\xfe\xfd"), "not Shift_JIS");
    assert!(malformed(b"request_id,result\r\n"), "wrong header");
    let text = String::from_utf8_lossy(&write_answers(&[])).into_owned();
    assert!(
        malformed(format!("{text}{id},OK\r\n").as_bytes()),
        "columns"
    );
    let not_an_id = format!("{text}x,NG,E1,m,,,,,,,,,,,\r\n");
    assert!(malformed(not_an_id.as_bytes()));
    // A wrong field spoils its own line only, as a malformed (not retried) answer.
    let encoded = encoding_rs::SHIFT_JIS.decode(&good).0.into_owned();
    for (from, to) in [
        ("2026-12-05", "2026-13-05"),
        (",OK,", ",MAYBE,"),
        (",1,", ",yes,"),
    ] {
        let bad = encoded.replacen(from, to, 1);
        let answers = read_answers(&encoding_rs::SHIFT_JIS.encode(&bad).0).unwrap();
        assert_eq!(answers[0].0, id);
        assert!(matches!(answers[0].1, Err(CallError::Malformed(_))), "{to}");
        assert!(answers[1].1.is_ok());
    }
}

#[tokio::test]
async fn a_batch_is_written_when_full_or_when_its_wait_is_over() {
    let dir = tempfile::tempdir().unwrap();
    let full = std::sync::Arc::new(client(dir.path(), 5_000, 3, 60_000));
    let calls: Vec<_> = (0..3)
        .map(|_| {
            let c = full.clone();
            tokio::spawn(async move { c.call(&inquiry()).await })
        })
        .collect();
    let found = inbox_files(dir.path(), 1).await;
    assert_eq!(found.len(), 1, "three requests, one full batch");
    assert_eq!(
        read_requests(&std::fs::read(&found[0]).unwrap())
            .unwrap()
            .len(),
        3
    );
    calls.iter().for_each(|c| c.abort());

    let other = tempfile::tempdir().unwrap();
    let waiting = client(other.path(), 5_000, 50, 150);
    let started = std::time::Instant::now();
    let request = inquiry();
    let call = waiting.call(&request);
    tokio::pin!(call);
    let found = tokio::select! {
        _ = &mut call => panic!("no answer was written"),
        found = inbox_files(other.path(), 1) => found,
    };
    assert_eq!(found.len(), 1, "one request, written once its wait is over");
    assert!(started.elapsed() >= Duration::from_millis(150));
    let leftovers = std::fs::read_dir(other.path().join("inbox")).unwrap();
    assert!(
        leftovers
            .filter_map(Result::ok)
            .all(|e| !e.file_name().to_string_lossy().ends_with(".tmp"))
    );
}

#[tokio::test]
async fn an_answer_file_resolves_each_waiting_request_by_id() {
    let dir = tempfile::tempdir().unwrap();
    let c = std::sync::Arc::new(client(dir.path(), 5_000, 2, 60_000));
    let (first, second) = (inquiry(), inquiry());
    let calls = [first.clone(), second.clone()].map(|r| {
        let c = c.clone();
        tokio::spawn(async move { c.call(&r).await })
    });
    let found = inbox_files(dir.path(), 1).await;
    let sent = read_requests(&std::fs::read(&found[0]).unwrap()).unwrap();
    assert_eq!(sent, vec![first.clone(), second.clone()]);
    let answers = [
        (second.request_id, refused()),
        (first.request_id, facility()),
    ];
    write_whole(
        &dir.path().join("outbox"),
        "a.csv",
        &write_answers(&answers),
    )
    .unwrap();
    let [a, b] = calls;
    assert_eq!(a.await.unwrap(), Ok(facility()));
    assert_eq!(b.await.unwrap(), Ok(refused()));
    assert!(dir.path().join("outbox/done/a.csv").exists());
}

#[tokio::test]
async fn a_request_without_an_answer_in_time_is_a_transient_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let c = client(dir.path(), 300, 50, 10);
    let error = c.call(&inquiry()).await.unwrap_err();
    assert_eq!(error, CallError::Timeout);
    assert!(error.is_transient());
}

#[tokio::test]
async fn the_simulators_desk_answers_files_and_leaves_them_unanswered_when_failing() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::new(SimConfig {
        area: Area::Hokuriku,
        seed: 7,
        points: 50,
    });
    let shutdown = tokio_util::sync::CancellationToken::new();
    tokio::spawn(serve_batch(
        dir.path().to_path_buf(),
        sim.clone(),
        shutdown.clone(),
    ));
    let c = client(dir.path(), 3_000, 50, 20);
    let point = point_id(Area::Hokuriku, 3);
    let mut request = inquiry();
    request.point_id = point.clone();
    let answer = c.call(&request).await.unwrap();
    let current = &sim.register().get(&point).unwrap().current_retailer_code;
    match answer {
        TsoAnswer::Completed(ResultPayload::FacilityInquiry(r)) => {
            assert_eq!(&r.current_retailer_code, current)
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(sim.calls(), 1);
    assert_eq!(csv_files(&dir.path().join("inbox/done")).len(), 1);

    sim.set_mode(Mode::Fail);
    let short = client(dir.path(), 500, 50, 20);
    assert_eq!(short.call(&inquiry()).await, Err(CallError::Timeout));
    assert_eq!(sim.calls(), 2);
    shutdown.cancel();
}
