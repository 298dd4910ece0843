//! Tests of the batch family on its own: the files both ends write and read, how the client
//! batches, matches answers by request id and times out, and the simulator's desk.

use std::path::Path;
use std::time::Duration;

use chrono::NaiveDate;

use super::files::{read_answers, read_requests, write_answers, write_requests};
use super::*;
use crate::domain::{Area, UpdateFlag};
use crate::messages::fixtures;
use crate::messages::{
    FacilityInquiry, FacilityInquiryResult, Payload, ResultPayload, SwitchStart,
};
use crate::tso_sim::{Mode, SimConfig, Simulator, point_id, serve_batch};
use crate::wire::samples;

mod generic;

const FI: Function = Function::FacilityInquiry;
const SS: Function = Function::SwitchStart;

fn inquiry() -> RequestRecord {
    let mut r = fixtures::request_at(
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
        contract_method: None,
        contract_kw: None,
    });
    fixtures::request_at("0500123456789012340001", payload)
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
        current_retailer_code: Some("Z0500".into()),
        generation_kw: None,
        fit_scheme: None,
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
fn files_are_shift_jis_csv_with_a_header_per_service_id() {
    let requests = vec![switch(), switch()];
    let bytes = write_requests(SS, &requests);
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "Japanese text is not UTF-8 here"
    );
    let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(&bytes);
    assert!(!bad);
    let mut lines = text.split("\r\n");
    assert_eq!(
        lines.next(),
        Some(
            "service_id,request_id,company_code,user_id,update_flag,original_request_id,\
             accepted_at,supply_point_id,planned_date,previous_retailer_code,\
             previous_customer_number,customer_name,customer_phone,contract_ampere,\
             intermediation_number,agreed_to_grid_terms,contract_method,contract_kw"
        )
    );
    let line = lines.next().unwrap();
    assert!(line.starts_with("IF_10610,"), "{text}");
    assert!(
        line.ends_with(
            ",2026-12-01,Z0500,C-001,\"山田 \"\"太郎\"\", 髙橋\",076-123-4567,40,,true,,"
        ),
        "{line}"
    );
    assert_eq!(read_requests(SS, &bytes).unwrap(), requests);
    assert!(
        read_requests(FI, &bytes).is_err(),
        "another function's header"
    );

    let answers = vec![
        (RequestId::new(), facility()),
        (RequestId::new(), refused()),
    ];
    let bytes = write_answers(FI, &answers);
    let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(&bytes);
    assert!(!bad);
    assert!(
        text.starts_with(
            "request_id,result,error_code,error_message,stage,supply_address,contract_kind,\
             contract_ampere,contract_kva,smart_meter,meter_number,next_meter_reading_date,\
             current_retailer_code,generation_kw,fit_scheme\r\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(",COMPLETED,,,,富山県富山市牛島町1,従量電灯B,30,,true,"),
        "{text}"
    );
    assert!(
        text.contains(",REFUSED,E1001,供給地点特定番号が存在しません,,,,,,,,,,,\r\n"),
        "{text}"
    );
    let read: Vec<_> = read_answers(FI, &bytes)
        .unwrap()
        .into_iter()
        .map(|(id, a)| (id, a.unwrap()))
        .collect();
    assert_eq!(read, answers);
    assert!(!files::is_shift_jis("絵文字 🙂"));
}

#[test]
fn a_file_name_carries_its_service_id() {
    let name = files::file_name("20261125T010203000", 7, Function::HvSwitchStart);
    assert_eq!(name, "20261125T010203000-000007-KF_10610.csv");
    assert_eq!(files::function_of(&name), Some(Function::HvSwitchStart));
    for bad in ["a.csv", "x-IF_99999.csv", "x-IF_10110.txt", "IF_10110.csv"] {
        assert_eq!(files::function_of(bad), None, "{bad}");
    }
}

#[test]
fn a_malformed_answer_file_is_classified_never_a_panic() {
    let id = RequestId::new();
    let good = write_answers(FI, &[(id, facility()), (RequestId::new(), refused())]);
    for cut in 0..good.len() {
        // Any prefix reads as rows or a malformed file; never a panic.
        let _ = read_answers(FI, &good[..cut]);
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
        let _ = read_answers(FI, &bytes);
    }
    let malformed =
        |f: Function, bytes: &[u8]| matches!(read_answers(f, bytes), Err(CallError::Malformed(_)));
    assert!(malformed(FI, b""), "no header");
    assert!(malformed(FI, b"\xff\xfe\xfd"), "not Shift_JIS");
    assert!(malformed(FI, b"request_id,result\r\n"), "wrong header");
    assert!(malformed(SS, &good), "another function's header");
    let text = String::from_utf8_lossy(&write_answers(FI, &[])).into_owned();
    assert!(
        malformed(FI, format!("{text}{id},COMPLETED\r\n").as_bytes()),
        "columns"
    );
    let not_an_id = format!("{text}x,REFUSED,E1,m,,,,,,,,,,,\r\n");
    assert!(malformed(FI, not_an_id.as_bytes()));
    // A wrong field spoils its own line only, as a malformed (not retried) answer.
    let encoded = encoding_rs::SHIFT_JIS.decode(&good).0.into_owned();
    for (from, to) in [
        ("2026-12-05", "2026-13-05"),
        (",COMPLETED,", ",MAYBE,"),
        (",COMPLETED,", ",REFUSED,"),
        (",COMPLETED,", ",PENDING,"),
        (",COMPLETED,", ",ACKNOWLEDGED,"),
        (",COMPLETED,,,,", ",COMPLETED,E1,,,"),
        (",COMPLETED,,,,", ",COMPLETED,,,05,"),
        (",true,", ",yes,"),
        (",true,", ",1,"),
        (",true,", ",,"),
        (",30,", ",30.5,"),
        ("富山県富山市牛島町1", ""),
        ("富山県富山市牛島町1", "  "),
    ] {
        assert!(encoded.contains(from), "{to}: nothing to edit");
        let bad = encoded.replacen(from, to, 1);
        let answers = read_answers(FI, &encoding_rs::SHIFT_JIS.encode(&bad).0).unwrap();
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
        read_requests(FI, &std::fs::read(&found[0]).unwrap())
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
    let sent = read_requests(FI, &std::fs::read(&found[0]).unwrap()).unwrap();
    assert_eq!(sent, vec![first.clone(), second.clone()]);
    let answers = [
        (second.request_id, refused()),
        (first.request_id, facility()),
    ];
    let name = found[0].file_name().unwrap().to_str().unwrap();
    write_whole(
        &dir.path().join("outbox"),
        name,
        &write_answers(FI, &answers),
    )
    .unwrap();
    let [a, b] = calls;
    assert_eq!(a.await.unwrap(), Ok(facility()));
    assert_eq!(b.await.unwrap(), Ok(refused()));
    assert!(dir.path().join("outbox/done").join(name).exists());
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
    let sim = Simulator::new(SimConfig::new(Area::Hokuriku, 7, 50));
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
            assert_eq!(r.current_retailer_code.as_ref(), Some(current))
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
