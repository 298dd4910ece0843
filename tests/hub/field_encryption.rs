//! Personal data encrypted in the records (issue 11): what a customer gave and what an operator
//! answered about a customer is never in clear on the request, result or dead-letter topics
//! (payload, key or headers), while the status API shows what it always showed; and once a
//! period's key is destroyed its records, still on the log, are projected as shredded.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use kirikae::domain::{Area, CompanyCode, Function, RequestId, SupplyPointId, UpdateFlag};
use kirikae::messages::{Codec, FacilityInquiry, Payload, RequestRecord};
use kirikae::tso_sim::register::{self, PointKind, Register, incumbent_code};
use kirikae::vault::{self, Period, Vault, fields::SHREDDED, shred};
use kirikae::{hub, kafka};
use rdkafka::Message;
use rdkafka::message::{Headers, OwnedMessage};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::harness::*;

fn day(days_ahead: i64) -> String {
    (Utc::now().date_naive() + chrono::Duration::days(days_ahead)).to_string()
}

fn records(app: &TestApp, topic: &str) -> Vec<OwnedMessage> {
    let link = kafka::Link::plaintext(&app.settings.kafka_brokers);
    kafka::read_to_end(&link, topic, |low, _| low).expect("read the topic")
}

/// Every byte string of a record a reader of the broker's disk would see.
fn raw_parts(m: &OwnedMessage) -> Vec<Vec<u8>> {
    let mut parts = vec![
        m.payload().unwrap_or_default().to_vec(),
        m.key().unwrap_or_default().to_vec(),
    ];
    if let Some(h) = m.headers() {
        parts.extend(h.iter().map(|h| h.value.unwrap_or_default().to_vec()));
    }
    parts
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

async fn completed(r: &Retailer, function: &str, body: serde_json::Value) -> serde_json::Value {
    let id = r.accepted(function, body).await;
    let done = r.final_status(&id).await;
    assert_eq!(done["status"], "completed", "{function}: {done}");
    done
}

#[tokio::test]
async fn personal_fields_are_never_in_clear_on_the_request_result_and_dead_letter_topics() {
    let area = Area::Tokyo;
    let app = spawn_app(&[area]).await;
    let a = app.login(RETAILER_A).await;
    let incumbent = app.login(&incumbent_code(area)).await;
    let reg = Register::generate(
        area,
        app.settings.sim_seed,
        app.settings.sim_points_per_area,
    );
    let address_of = |p: &SupplyPointId| reg.get(p).unwrap().supply_address.clone();
    let mut secrets: Vec<String> = Vec::new();

    // Answers about a customer: 設備情報照会 and 特定地点検索 carry the supply address.
    let (looked_up, _) = app.point(area, 1);
    let facility = completed(
        &a,
        "facility-inquiry",
        json!({"supply_point_id": looked_up.as_str()}),
    )
    .await;
    assert_eq!(facility["result"]["supply_address"], address_of(&looked_up));
    secrets.push(address_of(&looked_up));
    let searched = register::point_of(area, PointKind::LowVoltage, 9);
    let found = completed(
        &a,
        "point-search",
        json!({"area": area.code(), "address": address_of(&searched)}),
    )
    .await;
    let matched = found["result"]["matches"].as_array().unwrap();
    assert!(
        matched
            .iter()
            .any(|m| m["supply_address"] == address_of(&searched)),
        "{found}"
    );
    secrets.push(address_of(&searched));

    // The customer's name and phone, and the usage password the operator mailed to them.
    let p = register::point_of(area, PointKind::LowVoltage, 3);
    let name = app.customer_name(area, &p);
    completed(&a, "usage-password", json!({"supply_point_id": p.as_str(), "customer_name": name, "customer_phone": "03-5555-0101"})).await;
    let password = app
        .sim(area)
        .1
        .mails()
        .into_iter()
        .find(|m| m.point_id == p)
        .unwrap()
        .password;
    completed(
        &a,
        "usage-inquiry",
        json!({"supply_point_id": p.as_str(), "usage_password": password}),
    )
    .await;
    secrets.extend([name, "03-5555-0101".into(), password]);

    // 再点, then changes of the customer's data and 廃止 with its reason, on a vacant point.
    let vacant = vacant_point(area, 0);
    completed(&a, "reconnection", json!({"supply_point_id": vacant.as_str(), "planned_date": day(3),
        "customer_name": "暗号化 太郎", "customer_phone": "090-5555-0102", "agreed_to_grid_terms": true})).await;
    completed(&a, "customer-change", json!({"supply_point_id": vacant.as_str(), "effective_date": day(5),
        "customer_name": "暗号化 次郎", "customer_phone": "090-5555-0103", "mailing_address": "秘密県暗号市一丁目2-3"})).await;
    completed(
        &a,
        "abolition",
        json!({"supply_point_id": vacant.as_str(), "planned_date": day(10),
        "with_removal": false, "reason": "暗号化試験のための転居"}),
    )
    .await;
    secrets.extend(
        [
            "暗号化 太郎",
            "090-5555-0102",
            "暗号化 次郎",
            "090-5555-0103",
            "秘密県暗号市一丁目2-3",
            "暗号化試験のための転居",
        ]
        .map(String::from),
    );

    // A switch: the previous customer number on the start, the customer number on the end.
    let switched = app.incumbent_point(area, PointKind::LowVoltage, 2);
    let mut start = switch_start_body(&switched, &incumbent_code(area));
    start["previous_customer_number"] = json!("PCN-5555-0104");
    start["customer_name"] = json!("暗号化 三郎");
    start["customer_phone"] = json!("03-5555-0105");
    let planned = start["planned_date"].as_str().unwrap().to_string();
    let start_id = a.accepted("switch-start", start).await;
    let end_id = incumbent.accepted("switch-end", json!({"supply_point_id": switched.as_str(),
        "planned_date": planned, "new_retailer_code": RETAILER_A, "customer_number": "CN-5555-0106"})).await;
    assert_eq!(a.final_status(&start_id).await["status"], "completed");
    assert_eq!(incumbent.final_status(&end_id).await["status"], "completed");
    secrets.extend(
        [
            "PCN-5555-0104",
            "暗号化 三郎",
            "03-5555-0105",
            "CN-5555-0106",
        ]
        .map(String::from),
    );

    // A high-voltage customer's name and consent reference.
    let hv = app.incumbent_point(area, PointKind::HighVoltage, 0);
    completed(
        &a,
        "hv-usage-request",
        json!({"supply_point_id": hv.as_str(), "voltage_class": "HV_BELOW_500KW",
        "customer_name": "株式会社暗号化工業", "consent_reference": "CONSENT-5555-0107"}),
    )
    .await;
    secrets.extend(["株式会社暗号化工業", "CONSENT-5555-0107"].map(String::from));

    // A dead letter: the operator is down past the retry budget.
    app.set_sim_mode(area, json!({"mode": "fail"})).await;
    let failed = a
        .accepted(
            "reconnection",
            json!({"supply_point_id": vacant_point(area, 1).as_str(),
        "planned_date": day(3), "customer_name": "暗号化 四郎", "agreed_to_grid_terms": true}),
        )
        .await;
    assert_eq!(a.final_status(&failed).await["status"], "failed");
    secrets.push("暗号化 四郎".into());

    let requests = records(&app, &app.settings.requests_topic(area));
    let results = records(&app, &app.settings.results_topic(area));
    let dead = records(&app, &app.settings.dlq_topic(area));
    assert!(requests.len() >= 11 && !results.is_empty() && dead.len() == 1);
    for m in requests.iter().chain(&dead) {
        assert!(
            vault::header_of(m, vault::KEY_HEADER).is_some(),
            "every request carries its key"
        );
    }
    for (topic, m) in requests
        .iter()
        .map(|m| ("requests", m))
        .chain(results.iter().map(|m| ("results", m)))
        .chain(dead.iter().map(|m| ("dead letters", m)))
    {
        for part in raw_parts(m) {
            for secret in &secrets {
                assert!(
                    !contains(&part, secret),
                    "{secret:?} in clear on the {topic} topic (offset {})",
                    m.offset()
                );
            }
        }
    }
}

/// A facility inquiry of A0001 accepted in a past month (2025-06): its data key is that
/// period's, wrapped by the harness's master key `past`.
fn past_request(point: &SupplyPointId) -> RequestRecord {
    RequestRecord {
        request_id: RequestId::new(),
        function: Function::FacilityInquiry,
        company_code: CompanyCode::parse(RETAILER_A).unwrap(),
        user_id: user_of(RETAILER_A),
        point_id: point.clone(),
        update_flag: UpdateFlag::Register,
        original_request_id: None,
        accepted_at: Utc.with_ymd_and_hms(2025, 6, 15, 3, 0, 0).unwrap(),
        payload: Payload::FacilityInquiry(FacilityInquiry {}),
        replay: 0,
    }
}

/// The status of `id` once the projector has stored it as completed (no API row before).
async fn projected_completed(a: &Retailer, id: &str) -> serde_json::Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        let (code, shown) = a.status(id).await;
        if code == 200 && shown["status"] == "completed" {
            return shown;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not projected: {code} {shown}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn after_a_periods_key_is_destroyed_its_records_are_projected_as_shredded() {
    let area = Area::Tokyo;
    let app = spawn_app(&[area]).await;
    let a = app.login(RETAILER_A).await;
    let pool = hub::pool(&app.settings).unwrap();
    let (point, _) = app.point(area, 4);
    let record = past_request(&point);
    let id = record.request_id.to_string();
    let sealer = Vault::new(vault::keys(&app.settings).unwrap(), pool.clone());
    let (sealed, header) = sealer.seal_request(&record).await.unwrap();
    let bytes = Codec::new().encode_request(&sealed).unwrap();
    kafka::Publisher::of(&app.settings, Duration::from_secs(10))
        .unwrap()
        .publish_with_headers(
            &app.settings.requests_topic(area),
            point.as_str(),
            &bytes,
            &[(vault::KEY_HEADER, header)],
        )
        .await
        .unwrap();
    let address = Register::generate(
        area,
        app.settings.sim_seed,
        app.settings.sim_points_per_area,
    )
    .get(&point)
    .unwrap()
    .supply_address
    .clone();
    let done = projected_completed(&a, &id).await;
    assert_eq!(done["result"]["supply_address"], address, "{done}");

    let period = Period::parse("2025-06").unwrap();
    let destroyed = shred::destroy_period(
        &pool,
        &vault::ring::Source::File(app.settings.field_keys_file.clone()),
        &period,
        Utc::now(),
        "test",
    )
    .await
    .unwrap();
    assert_eq!(destroyed.retired, vec!["past".to_string()], "{destroyed:?}");

    // The status rebuilt from the log (a projector from the start, its rows gone): the record
    // is still on the topic, and the projector stores it with the address shredded.
    let client = pool.get().await.unwrap();
    client
        .execute("DELETE FROM projector_offsets", &[])
        .await
        .unwrap();
    client
        .execute(
            "DELETE FROM requests WHERE request_id = $1",
            &[&id.parse::<uuid::Uuid>().unwrap()],
        )
        .await
        .unwrap();
    let stop = CancellationToken::new();
    let rebuild = tokio::spawn(kirikae::projector::run(
        app.settings.clone(),
        pool.clone(),
        stop.clone(),
    ));
    let shown = projected_completed(&a, &id).await;
    assert_eq!(shown["result"]["supply_address"], SHREDDED, "{shown}");
    assert!(!rebuild.is_finished(), "the projector goes on");
    stop.cancel();
    rebuild.await.unwrap().unwrap();

    let on_log = records(&app, &app.settings.requests_topic(area));
    assert!(
        on_log.iter().any(|m| Codec::new()
            .decode_request(m.payload().unwrap())
            .is_ok_and(|r| r.request_id.to_string() == id)),
        "the log keeps the record"
    );
}

/// Polls `path` as `r` until `ready` holds of its answer (at most 60 s).
async fn shown_when(
    r: &Retailer,
    path: &str,
    ready: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (code, body) = r.get(path).await;
        if code == 200 && ready(&body) {
            return body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{path}: {code} {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every record of `topic` carrying `secret` in clear anywhere (payload, key, headers).
fn in_clear(app: &TestApp, topic: &str, secrets: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for m in records(app, topic) {
        for part in raw_parts(&m) {
            for secret in secrets {
                if contains(&part, secret) {
                    found.push(format!("{secret:?} at offset {}", m.offset()));
                }
            }
        }
    }
    found
}

/// An intermediation's customer number, contract name, supply address and a decision's note
/// never reach `<prefix>.intermediations` in clear; the status API still shows them, also once
/// the status is rebuilt from the log (the projector opens the events). And the audit topic's
/// copy of the trail carries no supply point id in clear, while a holder of the key ring reads
/// the whole row.
#[tokio::test]
async fn personal_fields_are_never_in_clear_on_the_intermediation_and_audit_topics() {
    let area = Area::Tokyo;
    let app = spawn_app(&[area]).await;
    let a = app.login(RETAILER_A).await;
    let current_code = incumbent_code(area);
    let current = app.login(&current_code).await;
    let point = app.incumbent_point(area, PointKind::LowVoltage, 6);
    let (number, name, address, note) = (
        "CN-7777-0201",
        "取次 暗号子",
        "秘密県取次市三丁目4-5",
        "暗号化メモ 7777",
    );
    let (code, registered) = a
        .post(
            "/api/v1/intermediations",
            json!({"supply_point_id": point.as_str(), "current_retailer_code": current_code,
                "customer_number": number, "contract_name": name, "supply_address": address,
                "desired_switch_date": day(14), "point_class": "lv"}),
        )
        .await;
    assert_eq!(code, 202, "{registered}");
    let id = registered["intermediation_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, body) = current
        .post(
            &format!("/api/v1/intermediations/{id}/decision"),
            json!({"decision": "decline", "reasons": ["other"], "note": note}),
        )
        .await;
    assert_eq!(code, 202, "{body}");
    let path = format!("/api/v1/intermediations/{id}");
    let seen = shown_when(&a, &path, |b| b["state"] == "declined").await;
    assert_eq!(seen["note"], note, "{seen}");
    assert_eq!(seen["customer_number"], number, "{seen}");

    let topic = app.settings.intermediations_topic();
    let events = records(&app, &topic);
    assert!(
        events.len() >= 2,
        "registered and declined: {}",
        events.len()
    );
    for m in &events {
        assert!(
            vault::header_of(m, vault::KEY_HEADER).is_some(),
            "every event with personal data carries its key"
        );
    }
    let leaked = in_clear(&app, &topic, &[number, name, address, note]);
    assert!(leaked.is_empty(), "in clear on {topic}: {leaked:?}");

    // Rebuilt from the log: the projector opens the events to store what the API shows.
    let pool = hub::pool(&app.settings).unwrap();
    let client = pool.get().await.unwrap();
    let uuid: uuid::Uuid = id.parse().unwrap();
    for sql in [
        "DELETE FROM intermediation_events WHERE intermediation_id = $1",
        "DELETE FROM intermediations WHERE intermediation_id = $1",
    ] {
        client.execute(sql, &[&uuid]).await.unwrap();
    }
    client
        .execute("DELETE FROM projector_offsets", &[])
        .await
        .unwrap();
    let stop = CancellationToken::new();
    let rebuild = tokio::spawn(kirikae::projector::run(
        app.settings.clone(),
        pool.clone(),
        stop.clone(),
    ));
    let rebuilt = shown_when(&a, &path, |b| b["state"] == "declined").await;
    assert_eq!(rebuilt["customer_number"], number, "{rebuilt}");
    assert_eq!(rebuilt["contract_name"], name, "{rebuilt}");
    assert_eq!(rebuilt["supply_address"], address, "{rebuilt}");
    assert_eq!(rebuilt["note"], note, "{rebuilt}");
    stop.cancel();
    rebuild.await.unwrap().unwrap();

    // The audit copy: the registration's row (its detail names the point) is relayed with
    // the point id sealed, and opens with the key ring.
    let audit = app.settings.audit_topic();
    let codec = Codec::new();
    let keys = vault::keys(&app.settings).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let opened = loop {
        let relayed = records(&app, &audit);
        let found = relayed.iter().find_map(|m| {
            let r = codec.decode_audit(m.payload()?).ok()?;
            (r.action == "intermediation.register").then(|| {
                vault::open_audit(&keys, vault::header_of(m, vault::KEY_HEADER), &r).unwrap()
            })
        });
        if let Some(r) = found {
            break r;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the registration's audit row was not relayed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(opened.detail.contains(point.as_str()), "{opened:?}");
    let leaked = in_clear(&app, &audit, &[point.as_str()]);
    assert!(
        leaked.is_empty(),
        "point id in clear on {audit}: {leaked:?}"
    );
}

/// With `field_keys_command` set, the ring is whatever the command prints (a KMS or secret
/// store's client in production; `cat` of a file outside the hub's settings here) and no key
/// ring file is read or written: the records are sealed and opened with the store's keys.
#[tokio::test]
async fn a_hub_whose_key_ring_comes_from_a_command_seals_and_opens_the_records() {
    let area = Area::Kyushu;
    let app = spawn_app_tweaked(&[area], |s| {
        let store = s.tls_dir.join("key-store.json");
        std::fs::rename(&s.field_keys_file, &store).unwrap();
        s.field_keys_command = Some(format!("cat '{}'", store.display()));
        s.field_keys_create = false;
    })
    .await;
    assert!(!app.settings.field_keys_file.exists(), "no ring file");
    let a = app.login(RETAILER_A).await;
    let (point, _) = app.point(area, 2);
    let done = completed(
        &a,
        "facility-inquiry",
        json!({"supply_point_id": point.as_str()}),
    )
    .await;
    let address = done["result"]["supply_address"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        !address.is_empty(),
        "the projector opened the result: {done}"
    );
    let results = records(&app, &app.settings.results_topic(area));
    assert!(
        results
            .iter()
            .any(|m| vault::header_of(m, vault::KEY_HEADER).is_some()),
        "the final result is sealed"
    );
    for m in &results {
        assert!(
            raw_parts(m).iter().all(|part| !contains(part, &address)),
            "the address is sealed on the results topic"
        );
    }
    assert!(
        !app.settings.field_keys_file.exists(),
        "nothing wrote a ring file"
    );
}
