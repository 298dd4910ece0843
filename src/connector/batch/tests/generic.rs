//! The files for every function alike: each function's sample requests and every kind of
//! answer round-trip between the two ends, lists travel as JSON text in a cell, a batch is split
//! by service id, and the new answers (pending, acknowledged) reach the waiting call.

use super::*;

#[test]
fn every_functions_requests_round_trip_through_a_file_of_its_own() {
    for &function in Function::ALL {
        let mut correction = samples::request(function, true);
        correction.request_id = RequestId::new();
        correction.update_flag = UpdateFlag::Correct;
        correction.original_request_id = Some(RequestId::new());
        let mut sparse = samples::request(function, false);
        sparse.request_id = RequestId::new();
        let requests = vec![samples::request(function, true), sparse, correction];
        assert!(requests.iter().all(files::request_is_encodable));
        let bytes = write_requests(function, &requests);
        assert_eq!(read_requests(function, &bytes), Ok(requests), "{function}");
    }
}

#[test]
fn every_kind_of_answer_to_every_function_round_trips_through_a_file() {
    for &function in Function::ALL {
        let answers: Vec<_> = samples::answers(function)
            .into_iter()
            .map(|a| (RequestId::new(), a))
            .collect();
        let bytes = write_answers(function, &answers);
        let read: Vec<_> = read_answers(function, &bytes)
            .unwrap()
            .into_iter()
            .map(|(id, a)| (id, a.unwrap()))
            .collect();
        assert_eq!(read, answers, "{function}");
    }
}

#[test]
fn a_list_is_its_json_text_in_one_cell() {
    let function = Function::UsageInquiry;
    let answer = TsoAnswer::Completed(samples::result(function, true));
    let bytes = write_answers(function, &[(RequestId::new(), answer)]);
    let text = encoding_rs::SHIFT_JIS.decode(&bytes).0.into_owned();
    assert!(
        text.starts_with(
            "request_id,result,error_code,error_message,stage,smart_meter,monthly,half_hourly\r\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(r#","[{""kwh"":6.25,""month"":""山田 <\""太郎\""> & 'Co', 髙橋""},"#),
        "{text}"
    );
    let good = encoding_rs::SHIFT_JIS.decode(&bytes).0.into_owned();
    for (what, from, to) in [
        ("not JSON", r#"[{""kwh"":6.25"#, r#"[{""kwh"":6.25,"#),
        (
            "an unknown member",
            r#"[{""kwh"":6.25"#,
            r#"[{""x"":1,""kwh"":6.25"#,
        ),
        (
            "a repeated member",
            r#"[{""kwh"":6.25"#,
            r#"[{""kwh"":1,""kwh"":6.25"#,
        ),
        (
            "an ill-typed entry",
            r#"[{""kwh"":6.25"#,
            r#"[{""kwh"":""6.25"""#,
        ),
        (
            "not a list",
            r#""[{""kwh"":6.25"#,
            r#""{""a"":[{""kwh"":6.25"#,
        ),
    ] {
        assert!(good.contains(from), "{what}: nothing to edit");
        let bad = good.replacen(from, to, 1);
        let answers = read_answers(function, &encoding_rs::SHIFT_JIS.encode(&bad).0);
        let answers = answers.unwrap_or_else(|e| panic!("{what}: the whole file spoilt: {e}"));
        assert!(
            matches!(answers[0].1, Err(CallError::Malformed(_))),
            "{what}"
        );
    }
}

#[tokio::test]
async fn a_batch_is_split_by_service_id_one_file_each() {
    let dir = tempfile::tempdir().unwrap();
    let c = std::sync::Arc::new(client(dir.path(), 5_000, 50, 100));
    let requests = [inquiry(), switch(), inquiry()];
    let calls = requests.clone().map(|r| {
        let c = c.clone();
        tokio::spawn(async move { c.call(&r).await })
    });
    let found = inbox_files(dir.path(), 2).await;
    assert_eq!(found.len(), 2, "{found:?}");
    let mut sent = 0;
    for path in &found {
        let name = path.file_name().unwrap().to_str().unwrap();
        let function = files::function_of(name).expect("a service id in the name");
        let read = read_requests(function, &std::fs::read(path).unwrap()).unwrap();
        assert!(read.iter().all(|r| r.function == function), "{name}");
        sent += read.len();
        let answers: Vec<_> = read
            .iter()
            .map(|r| {
                let answer = match function {
                    Function::SwitchStart => TsoAnswer::Pending { stage: "05".into() },
                    _ => TsoAnswer::Acknowledged,
                };
                (r.request_id, answer)
            })
            .collect();
        let outbox = dir.path().join("outbox");
        write_whole(&outbox, name, &write_answers(function, &answers)).unwrap();
    }
    assert_eq!(sent, 3);
    let [a, b, c] = calls;
    assert_eq!(a.await.unwrap(), Ok(TsoAnswer::Acknowledged));
    assert_eq!(
        b.await.unwrap(),
        Ok(TsoAnswer::Pending { stage: "05".into() })
    );
    assert_eq!(c.await.unwrap(), Ok(TsoAnswer::Acknowledged));
    assert_eq!(csv_files(&dir.path().join("outbox/done")).len(), 2);
}

#[tokio::test]
async fn an_answer_in_a_file_of_another_service_id_is_malformed() {
    let dir = tempfile::tempdir().unwrap();
    let c = client(dir.path(), 5_000, 1, 60_000);
    let request = inquiry();
    let call = c.call(&request);
    tokio::pin!(call);
    let found = tokio::select! {
        _ = &mut call => panic!("no answer was written"),
        found = inbox_files(dir.path(), 1) => found,
    };
    assert_eq!(found.len(), 1);
    let outbox = dir.path().join("outbox");
    let answers = [(request.request_id, TsoAnswer::Acknowledged)];
    let other = files::file_name("20261125T000000000", 1, Function::GenFacilityInquiry);
    write_whole(
        &outbox,
        &other,
        &write_answers(Function::GenFacilityInquiry, &answers),
    )
    .unwrap();
    write_whole(&outbox, "nameless.csv", &write_answers(FI, &answers)).unwrap();
    let got = call.await;
    assert!(matches!(got, Err(CallError::Malformed(_))), "{got:?}");
    for _ in 0..200 {
        if !csv_files(&outbox.join("bad")).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(csv_files(&outbox.join("bad")).len(), 1, "the nameless file");
}

#[test]
fn a_request_file_of_another_service_id_or_with_a_foreign_line_is_refused() {
    let requests = vec![samples::request(Function::HvAbolition, true)];
    let bytes = write_requests(Function::HvAbolition, &requests);
    assert!(read_requests(Function::HvAbolition, &bytes).is_ok());
    // Abolition and HvAbolition share the payload record, so the header alone cannot tell.
    assert!(read_requests(Function::Abolition, &bytes).is_err());
    let text = encoding_rs::SHIFT_JIS.decode(&bytes).0.into_owned();
    for (from, to) in [
        ("\r\nKF_10510,", "\r\nIF_10510,"),
        (",2026-12-01,", ",2026-12-1,"),
        (",false,", ",no,"),
        (",false,", ",,"),
    ] {
        assert!(text.contains(from), "{to}: nothing to edit");
        let bad = encoding_rs::SHIFT_JIS
            .encode(&text.replacen(from, to, 1))
            .0
            .into_owned();
        assert!(read_requests(Function::HvAbolition, &bad).is_err(), "{to}");
    }
}
