//! The change feed and its server-sent events (docs/push.md): a registration's status changes
//! in order, resumable from a cursor, long-polled, streamed, and never another's.

use std::time::Duration;

use kirikae::domain::Area;
use kirikae::tso_sim::register::{PointKind, incumbent_code};
use serde_json::{Value, json};

use crate::harness::*;
use crate::webhooks::{start_receiver, trusting_the_test_ca};

const RANK: [&str; 3] = ["accepted", "sent", "completed"];

/// The events of `id` in the feed, in feed order.
fn of<'a>(feed: &'a [Value], id: &str) -> Vec<&'a Value> {
    feed.iter().filter(|e| e["subject_id"] == id).collect()
}

fn cursor(e: &Value) -> i64 {
    e["id"].as_str().unwrap().parse().unwrap()
}

/// Reads `n` server-sent events from `resp`: (id, data as JSON) each.
async fn sse(resp: &mut reqwest::Response, n: usize) -> Vec<(String, Value)> {
    let mut buf = String::new();
    let mut out = Vec::new();
    while out.len() < n {
        let chunk = tokio::time::timeout(Duration::from_secs(25), resp.chunk())
            .await
            .expect("an event within 25 s")
            .unwrap()
            .expect("the stream stays open");
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let mut id = None;
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    id = Some(v.trim().to_string());
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim_start());
                }
            }
            if let Some(id) = id {
                out.push((id, serde_json::from_str(&data).unwrap()));
            }
        }
    }
    out
}

impl Retailer {
    async fn stream(&self, last_event_id: Option<&str>) -> reqwest::Response {
        let mut req = self
            .http
            .get(format!("{}/api/v1/events/stream", self.api))
            .bearer_auth(&self.token);
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id);
        }
        req.send().await.unwrap()
    }
}

#[tokio::test]
async fn the_feed_shows_each_requests_status_changes_in_order_and_resumes_after_a_cursor() {
    let app = spawn_app(&[Area::Kansai]).await;
    let a = app.login(RETAILER_A).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let id = a.facility_inquiry(&app.point(Area::Kansai, 10 + n).0).await;
        a.final_status(&id).await;
        ids.push(id);
    }
    let feed = a.all_events().await;
    let cursors: Vec<i64> = feed.iter().map(cursor).collect();
    assert!(cursors.windows(2).all(|w| w[0] < w[1]), "{cursors:?}");
    for id in &ids {
        let statuses: Vec<&str> = of(&feed, id)
            .iter()
            .map(|e| e["status"].as_str().unwrap())
            .collect();
        let ranks: Vec<usize> = statuses
            .iter()
            .map(|s| RANK.iter().position(|r| r == s).unwrap())
            .collect();
        assert!(ranks.windows(2).all(|w| w[0] < w[1]), "{id}: {statuses:?}");
        assert_eq!(statuses.last(), Some(&"completed"), "{id}: {statuses:?}");
        let done = of(&feed, id).last().unwrap()["data"].clone();
        assert_eq!(done["service_id"], "IF_10110", "{done}");
        assert_eq!(done["request_id"], id.as_str());
    }
    // Resuming after any event gives exactly the rest, and `next` is the last one's id.
    let middle = &feed[feed.len() / 2];
    let (code, page) = a
        .get(&format!(
            "/api/v1/events?after={}&limit=500",
            middle["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(code, 200, "{page}");
    assert_eq!(
        page["events"].as_array().unwrap()[..],
        feed[feed.len() / 2 + 1..]
    );
    assert_eq!(page["next"], feed.last().unwrap()["id"]);
    let (_, page) = a.get("/api/v1/events?limit=2").await;
    assert_eq!(page["events"].as_array().unwrap()[..], feed[..2]);
    assert_eq!(page["next"], feed[1]["id"]);
}

#[tokio::test]
async fn a_long_poll_waits_for_the_next_status_and_answers_it() {
    let app = spawn_app(&[Area::Kansai]).await;
    let a = app.login(RETAILER_A).await;
    let first = a.facility_inquiry(&app.point(Area::Kansai, 12).0).await;
    a.final_status(&first).await;
    let (_, page) = a.get("/api/v1/events").await;
    let next = page["next"].as_str().unwrap().to_string();
    // Nothing after `next` yet: a poll without wait answers at once, empty.
    let (_, empty) = a.get(&format!("/api/v1/events?after={next}")).await;
    assert_eq!(empty["events"], serde_json::json!([]), "{empty}");
    assert_eq!(empty["next"], next.as_str());
    let waiting = {
        let a = a.on(&a.api);
        let next = next.clone();
        tokio::spawn(async move { a.get(&format!("/api/v1/events?after={next}&wait=25")).await })
    };
    let second = a.facility_inquiry(&app.point(Area::Kansai, 13).0).await;
    let (code, woke) = waiting.await.unwrap();
    assert_eq!(code, 200, "{woke}");
    let events = woke["events"].as_array().unwrap();
    assert!(
        !events.is_empty(),
        "the long poll answered without the new status: {woke}"
    );
    assert!(
        events.iter().all(|e| e["subject_id"] == second.as_str()),
        "{woke}"
    );
}

#[tokio::test]
async fn the_stream_sends_each_event_with_its_cursor_and_resumes_after_last_event_id() {
    let app = spawn_app(&[Area::Kansai]).await;
    let a = app.login(RETAILER_A).await;
    let id = a.facility_inquiry(&app.point(Area::Kansai, 14).0).await;
    a.final_status(&id).await;
    let feed = a.all_events().await;
    assert!(feed.len() >= 2, "{feed:?}");
    let mut all = a.stream(None).await;
    assert_eq!(all.status(), 200);
    assert!(
        all.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let streamed = sse(&mut all, feed.len()).await;
    for ((sse_id, data), event) in streamed.iter().zip(&feed) {
        assert_eq!(sse_id, event["id"].as_str().unwrap());
        assert_eq!(data, event);
    }
    // Reconnecting with Last-Event-ID gives what came after it, then what happens next.
    let mut resumed = a.stream(Some(feed[0]["id"].as_str().unwrap())).await;
    let rest = sse(&mut resumed, feed.len() - 1).await;
    assert_eq!(rest[0].0, feed[1]["id"].as_str().unwrap());
    let later = a.facility_inquiry(&app.point(Area::Kansai, 15).0).await;
    let (_, fresh) = sse(&mut resumed, 1).await.remove(0);
    assert_eq!(fresh["subject_id"], later.as_str(), "{fresh}");
}

#[tokio::test]
async fn another_registrations_events_are_never_seen_by_feed_stream_or_webhook() {
    let app = spawn_app_tweaked(&[Area::Kansai], trusting_the_test_ca).await;
    let a = app.login(RETAILER_A).await;
    let b = app.login(RETAILER_B).await;
    let receiver = start_receiver(&app, 0).await;
    b.register_webhook(&receiver.url).await;
    let mut b_stream = b.stream(None).await;
    let theirs = a.facility_inquiry(&app.point(Area::Kansai, 16).0).await;
    a.final_status(&theirs).await;
    let ours = b.facility_inquiry(&app.point(Area::Kansai, 17).0).await;
    b.final_status(&ours).await;
    assert!(
        !of(&a.all_events().await, &theirs).is_empty(),
        "A sees its own"
    );
    let feed = b.all_events().await;
    assert!(!feed.is_empty());
    assert!(
        feed.iter().all(|e| e["subject_id"] == ours.as_str()),
        "{feed:?}"
    );
    let streamed = sse(&mut b_stream, feed.len()).await;
    assert!(
        streamed
            .iter()
            .all(|(_, e)| e["subject_id"] == ours.as_str()),
        "{streamed:?}"
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while receiver.accepted().len() < feed.len() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            receiver.got()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        receiver
            .accepted()
            .iter()
            .all(|e| e["subject_id"] == ours.as_str())
    );
    // A's cursor in B's feed gives nothing of A's either.
    let after = a.all_events().await[0]["id"].as_str().unwrap().to_string();
    let (_, page) = b.get(&format!("/api/v1/events?after={after}")).await;
    assert!(
        page["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["subject_id"] == ours.as_str())
    );
}

#[tokio::test]
async fn a_malformed_cursor_is_refused_with_400_invalid_event_cursor() {
    let app = spawn_app(&[]).await;
    let a = app.login(RETAILER_A).await;
    for bad in ["abc", "-1", "1.5", "99999999999999999999"] {
        let (code, body) = a.get(&format!("/api/v1/events?after={bad}")).await;
        assert_eq!(code, 400, "{bad}: {body}");
        assert_eq!(body["code"], "invalid_event_cursor");
        assert!(body["message_ja"].as_str().is_some_and(|m| !m.is_empty()));
        assert!(body["message_en"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let resp = a.stream(Some("not-a-cursor")).await;
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "invalid_event_cursor");
    let (code, body) = a.get("/api/v1/events?wait=31").await;
    assert_eq!((code, body["code"].as_str()), (422, Some("invalid_wait")));
}

#[tokio::test]
async fn an_intermediation_reaches_the_feeds_of_both_its_parties_and_of_no_one_else() {
    let app = spawn_app(&[Area::Kansai]).await;
    let a = app.login(RETAILER_A).await;
    let current = incumbent_code(Area::Kansai);
    let incumbent = app.login(&current).await;
    let b = app.login(RETAILER_B).await;
    let point = app.incumbent_point(Area::Kansai, PointKind::LowVoltage, 5);
    let date = (chrono::Utc::now().date_naive() + chrono::Duration::days(14)).to_string();
    let resp = a
        .http
        .post(format!("{}/api/v1/intermediations", a.api))
        .bearer_auth(&a.token)
        .json(&json!({
            "supply_point_id": point.as_str(), "current_retailer_code": current,
            "customer_number": "0012-3456-78", "contract_name": "山田 太郎",
            "supply_address": "大阪府大阪市北区中之島3-6-16", "desired_switch_date": date,
            "point_class": "lv"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let registered: Value = resp.json().await.unwrap();
    let id = registered["intermediation_id"].as_str().unwrap();
    for party in [&a, &incumbent] {
        let (code, page) = party.get("/api/v1/events?wait=10").await;
        assert_eq!(code, 200, "{page}");
        let events = page["events"].as_array().unwrap();
        assert_eq!(events.len(), 1, "{page}");
        assert_eq!(events[0]["kind"], "intermediation");
        assert_eq!(events[0]["subject_id"], id);
        assert_eq!(events[0]["status"], "awaiting_decision");
        assert_eq!(events[0]["data"]["current_retailer_code"], current.as_str());
    }
    let (_, page) = b.get("/api/v1/events").await;
    assert_eq!(page["events"], json!([]), "{page}");
}

/// The statuses of `id` in `who`'s feed, in feed order.
async fn statuses_of(who: &Retailer, id: &str) -> Vec<String> {
    of(&who.all_events().await, id)
        .iter()
        .map(|e| e["status"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_request_whose_result_is_projected_before_its_record_still_shows_accepted_first() {
    use chrono::SubsecRound;
    use kirikae::domain::{CompanyCode, Function, RequestId, UpdateFlag};
    use kirikae::kafka::Publisher;
    use kirikae::messages::{
        Codec, FacilityInquiry, Payload, RequestRecord, ResultRecord, ResultStatus,
    };

    // No connector: the test writes the area's topics itself, the result before the request.
    let area = Area::Kansai;
    let app = spawn_app_without_connectors(&[area]).await;
    let a = app.login(RETAILER_A).await;
    let codec = Codec::new();
    let publisher = Publisher::of(&app.settings, Duration::from_secs(10)).unwrap();
    let (point, _) = app.point(area, 14);
    let request = RequestRecord {
        request_id: RequestId::new(),
        function: Function::FacilityInquiry,
        company_code: CompanyCode::parse(RETAILER_A).unwrap(),
        user_id: user_of(RETAILER_A),
        point_id: point.clone(),
        update_flag: UpdateFlag::Register,
        original_request_id: None,
        accepted_at: chrono::Utc::now().trunc_subsecs(3),
        payload: Payload::FacilityInquiry(FacilityInquiry {}),
        replay: 0,
    };
    let id = request.request_id.to_string();
    let result = ResultRecord::for_request(&request, ResultStatus::Completed, 1);
    publisher
        .publish(
            &app.settings.results_topic(area),
            point.as_str(),
            &codec.encode_result(&result).unwrap(),
        )
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut seen = statuses_of(&a, &id).await;
    while !seen.contains(&"completed".to_string()) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never projected: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        seen = statuses_of(&a, &id).await;
    }
    assert_eq!(seen, ["accepted", "completed"], "the result alone");

    // The request record comes after; a submission to the same point behind it on the same
    // partition shows when the projector has passed it. Nothing changes for the first.
    publisher
        .publish(
            &app.settings.requests_topic(area),
            point.as_str(),
            &codec.encode_request(&request).unwrap(),
        )
        .await
        .unwrap();
    let later = a.facility_inquiry(&point).await;
    while statuses_of(&a, &later).await.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the later request never projected"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        statuses_of(&a, &id).await,
        ["accepted", "completed"],
        "after its record too"
    );
}

/// An open stream checks its session again as it goes: ended anywhere (here in the database,
/// as another process or the CLI would end it), the stream ends within about 2 s; until then
/// it stays open.
#[tokio::test]
async fn an_open_stream_ends_within_two_seconds_of_its_session_ending() {
    let app = spawn_app(&[]).await;
    let a = app.login(RETAILER_A).await;
    let mut open = a.stream(None).await;
    assert_eq!(open.status(), 200);
    // Allowed: the session stands, the stream stays open (nothing to send, no end).
    assert!(
        tokio::time::timeout(Duration::from_millis(1500), open.chunk())
            .await
            .is_err(),
        "the stream ended while its session stood"
    );
    let pool = kirikae::hub::pool(&app.settings).unwrap();
    let ended = pool
        .get()
        .await
        .unwrap()
        .execute(
            "DELETE FROM sessions WHERE user_id = $1",
            &[&user_of(RETAILER_A)],
        )
        .await
        .unwrap();
    assert!(ended >= 1);
    let since = std::time::Instant::now();
    loop {
        let left = Duration::from_millis(2500).saturating_sub(since.elapsed());
        match tokio::time::timeout(left, open.chunk()).await {
            Ok(Ok(Some(_))) => continue,
            Ok(Ok(None)) | Ok(Err(_)) => break,
            Err(_) => panic!("the stream is still open 2.5 s after its session ended"),
        }
    }
}

#[tokio::test]
async fn a_request_is_reported_sent_only_once_the_operator_has_taken_longer_than_sent_after() {
    let area = Area::Kansai;
    let app = spawn_app_tweaked(&[area], |s| s.connector_sent_after_ms = 1_500).await;
    let a = app.login(RETAILER_A).await;
    // Answered at once: `accepted`, then straight to `completed`.
    let quick = a.facility_inquiry(&app.point(area, 10).0).await;
    a.final_status(&quick).await;
    // Answered after 3 s (within the call's 5 s timeout): `sent` from 1.5 s on, while the
    // operator has it.
    app.set_sim_mode(area, json!({"mode": "slow", "delay_ms": 3_000}))
        .await;
    let slow = a.facility_inquiry(&app.point(area, 11).0).await;
    a.wait_for_status(&slow, "sent").await;
    a.final_status(&slow).await;
    assert_eq!(statuses_of(&a, &quick).await, ["accepted", "completed"]);
    assert_eq!(
        statuses_of(&a, &slow).await,
        ["accepted", "sent", "completed"]
    );
}
