//! スイッチング廃止取次 end to end with two retailers: the new retailer (A0001) registers, the
//! area's incumbent (the current retailer) decides, and on approval both file their half of
//! the switch, which the simulated grid operator matches.

use std::time::{Duration, Instant};

use kirikae::domain::{Area, SupplyPointId};
use kirikae::hub;
use kirikae::tso_sim::register::{PointKind, incumbent_code};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::harness::*;

/// The registration, audit, idempotency and class-filter rules, and the check of a quoted number.
mod guards;

fn day(days_ahead: i64) -> String {
    (chrono::Utc::now().date_naive() + chrono::Duration::days(days_ahead)).to_string()
}

impl Retailer {
    pub(crate) async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let resp = self
            .http
            .post(format!("{}{path}", self.api))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        (
            resp.status().as_u16(),
            resp.json().await.unwrap_or(Value::Null),
        )
    }
}

/// A registration of `point` addressed to `current`.
fn registration(point: &SupplyPointId, current: &str, class: &str) -> Value {
    json!({
        "supply_point_id": point.as_str(),
        "current_retailer_code": current,
        "customer_number": "0012-3456-78",
        "contract_name": "山田 太郎",
        "supply_address": "東京都千代田区丸の内1-1-1",
        "desired_switch_date": day(14),
        "point_class": class,
    })
}

/// Registers an intermediation for `point` addressed to `current`; returns (id, number).
async fn register(
    new: &Retailer,
    point: &SupplyPointId,
    current: &str,
    class: &str,
) -> (String, String) {
    let (code, body) = new
        .post(
            "/api/v1/intermediations",
            registration(point, current, class),
        )
        .await;
    assert_eq!(code, 202, "{body}");
    assert_eq!(body["state"], "awaiting_decision");
    (
        body["intermediation_id"].as_str().unwrap().to_string(),
        body["intermediation_number"].as_str().unwrap().to_string(),
    )
}

async fn decide(r: &Retailer, id: &str, body: Value) -> (u16, Value) {
    r.post(&format!("/api/v1/intermediations/{id}/decision"), body)
        .await
}

/// Polls until the intermediation shows `state` to `r`; returns its view.
async fn wait_state(r: &Retailer, id: &str, state: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (code, body) = r.get(&format!("/api/v1/intermediations/{id}")).await;
        if code == 200 && body["state"] == state {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "intermediation {id} never showed {state}: {code} {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Approves, then both retailers file their half with the intermediation number; both complete.
async fn approve_and_switch(app: &TestApp, area: Area, kind: PointKind, class: &str, prefix: &str) {
    let new = app.login(RETAILER_A).await;
    let current_code = incumbent_code(area);
    let current = app.login(&current_code).await;
    let point = app.incumbent_point(area, kind, 3);
    let (id, number) = register(&new, &point, &current_code, class).await;

    // The current retailer finds it among those addressed to it (IS_20310).
    let (code, list) = current
        .get("/api/v1/intermediations?role=current&state=awaiting_decision")
        .await;
    assert_eq!(code, 200, "{list}");
    let item = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["intermediation_id"] == id.as_str())
        .unwrap_or_else(|| panic!("{id} not listed: {list}"));
    assert_eq!(item["customer_number"], "0012-3456-78");
    assert_eq!(item["role"], "current");
    assert_eq!(item["state_ja"], "判断待ち");

    let (code, body) = decide(&current, &id, json!({"decision": "approve"})).await;
    assert_eq!(code, 202, "{body}");
    let approved = wait_state(&new, &id, "approved").await;
    assert_eq!(approved["state_ja"], "承諾");
    assert_eq!(approved["intermediation_number"], number.as_str());

    let mut start = switch_start_body(&point, &current_code);
    start["intermediation_number"] = json!(number);
    if class == "hv" {
        start["contract_kw"] = json!(320.0);
    }
    let planned = start["planned_date"].as_str().unwrap().to_string();
    let start_id = new.accepted(&format!("{prefix}switch-start"), start).await;
    let end_id = current
        .accepted(
            &format!("{prefix}switch-end"),
            json!({
                "supply_point_id": point.as_str(),
                "planned_date": planned,
                "new_retailer_code": RETAILER_A,
                "customer_number": "0012-3456-78",
                "intermediation_number": number,
            }),
        )
        .await;
    let started = new.final_status(&start_id).await;
    let ended = current.final_status(&end_id).await;
    assert_eq!(started["status"], "completed", "{started}");
    assert_eq!(ended["status"], "completed", "{ended}");
}

#[tokio::test]
async fn intermediation_approved_then_switch_start_and_end_complete() {
    let app = spawn_app(&[Area::Tokyo]).await;
    approve_and_switch(&app, Area::Tokyo, PointKind::LowVoltage, "lv", "").await;

    // Both parties' reads of the personal data are in the audit log.
    let pool = hub::pool(&app.settings).unwrap();
    let client = pool.get().await.unwrap();
    let readers: Vec<String> = client
        .query(
            "SELECT DISTINCT company_code FROM audit_log
             WHERE action LIKE 'intermediation.%' ORDER BY company_code",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        readers,
        vec![RETAILER_A.to_string(), incumbent_code(Area::Tokyo)]
    );
}

#[tokio::test]
async fn intermediation_of_a_high_voltage_point_approved_then_switched() {
    let app = spawn_app(&[Area::Kansai]).await;
    approve_and_switch(&app, Area::Kansai, PointKind::HighVoltage, "hv", "hv-").await;
}

#[tokio::test]
async fn intermediation_of_a_post_fit_point_approved_then_switched() {
    let app = spawn_app(&[Area::Tohoku]).await;
    approve_and_switch(&app, Area::Tohoku, PointKind::PostFit, "gen", "gen-").await;
}

#[tokio::test]
async fn intermediation_declined_shows_its_reasons_to_the_new_retailer() {
    let area = Area::Tokyo;
    let app = spawn_app(&[area]).await;
    let new = app.login(RETAILER_A).await;
    let current = app.login(&incumbent_code(area)).await;
    let point = app.incumbent_point(area, PointKind::LowVoltage, 4);
    let (id, _) = register(&new, &point, &incumbent_code(area), "lv").await;

    let (code, body) = decide(
        &current,
        &id,
        json!({"decision": "decline", "reasons": ["name_mismatch", "contract_ending"]}),
    )
    .await;
    assert_eq!(code, 202, "{body}");
    assert_eq!(body["state"], "declined");
    let seen = wait_state(&new, &id, "declined").await;
    assert_eq!(seen["state_ja"], "否認");
    let reasons = seen["decline_reasons"].as_array().unwrap();
    assert_eq!(reasons[0]["code"], "name_mismatch");
    assert_eq!(reasons[0]["label_ja"], "契約名義不一致");
    assert_eq!(reasons[1]["label_ja"], "解約手続き中");
    let (code, list) = new
        .get("/api/v1/intermediations?role=new&state=declined")
        .await;
    assert_eq!(code, 200);
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    let history = seen["history"].as_array().unwrap();
    let kinds: Vec<&str> = history
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["registered", "declined"]);
}

#[tokio::test]
async fn intermediation_decline_with_other_needs_its_wording() {
    let area = Area::Tokyo;
    let app = spawn_app(&[area]).await;
    let new = app.login(RETAILER_A).await;
    let current = app.login(&incumbent_code(area)).await;
    let point = app.incumbent_point(area, PointKind::LowVoltage, 5);
    let (id, _) = register(&new, &point, &incumbent_code(area), "lv").await;
    let (code, body) = decide(
        &current,
        &id,
        json!({"decision": "decline", "reasons": ["other"]}),
    )
    .await;
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["code"], "note_required");
    let (code, body) = decide(
        &current,
        &id,
        json!({"decision": "decline", "reasons": ["cooling_off", "other"], "note": "お客さまへ確認中"}),
    )
    .await;
    assert_eq!(code, 202, "{body}");
    let seen = wait_state(&new, &id, "declined").await;
    let labels: Vec<&str> = seen["decline_reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["label_ja"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["クーリングオフ期間中", "その他"]);
    assert_eq!(seen["note"], "お客さまへ確認中");
}

#[tokio::test]
async fn intermediation_without_a_decision_expires() {
    let area = Area::Tokyo;
    let app = spawn_app_tweaked(&[area], |s| s.intermediation_expiry_ms = Some(1000)).await;
    let new = app.login(RETAILER_A).await;
    let current = app.login(&incumbent_code(area)).await;
    let point = app.incumbent_point(area, PointKind::LowVoltage, 6);
    let (id, _) = register(&new, &point, &incumbent_code(area), "lv").await;
    let seen = wait_state(&new, &id, "expired").await;
    assert_eq!(seen["state_ja"], "期限切れ");
    let (code, body) = decide(&current, &id, json!({"decision": "approve"})).await;
    assert_eq!(code, 409, "{body}");
    assert_eq!(body["code"], "intermediation_already_decided");
}

#[tokio::test]
async fn intermediation_withdrawn_by_the_new_retailer_is_seen_withdrawn_by_the_current() {
    let area = Area::Tokyo;
    let app = spawn_app(&[area]).await;
    let new = app.login(RETAILER_A).await;
    let current = app.login(&incumbent_code(area)).await;
    let point = app.incumbent_point(area, PointKind::LowVoltage, 7);
    let (id, _) = register(&new, &point, &incumbent_code(area), "lv").await;

    // Only the new retailer may withdraw.
    let (code, _) = current
        .post(
            &format!("/api/v1/intermediations/{id}/withdrawal"),
            json!({}),
        )
        .await;
    assert_eq!(code, 404);
    let (code, body) = new
        .post(
            &format!("/api/v1/intermediations/{id}/withdrawal"),
            json!({"note": "お客さまのご意向により"}),
        )
        .await;
    assert_eq!(code, 202, "{body}");
    let seen = wait_state(&current, &id, "withdrawn").await;
    assert_eq!(seen["state_ja"], "取下げ");
    assert_eq!(seen["role"], "current");
    let (code, _) = decide(&current, &id, json!({"decision": "approve"})).await;
    assert_eq!(code, 409);
    // A decided one cannot be withdrawn either.
    let (code, body) = new
        .post(
            &format!("/api/v1/intermediations/{id}/withdrawal"),
            json!({}),
        )
        .await;
    assert_eq!(code, 409, "{body}");
}

#[tokio::test]
async fn intermediation_is_invisible_to_a_third_retailer() {
    let area = Area::Tokyo;
    let app = spawn_app(&[area]).await;
    let new = app.login(RETAILER_A).await;
    let third = app.login(RETAILER_B).await;
    let point = app.incumbent_point(area, PointKind::LowVoltage, 8);
    let (id, _) = register(&new, &point, &incumbent_code(area), "lv").await;

    let (code, body) = third.get(&format!("/api/v1/intermediations/{id}")).await;
    assert_eq!(code, 404, "{body}");
    assert_eq!(body["code"], "intermediation_not_found");
    let (code, _) = decide(&third, &id, json!({"decision": "approve"})).await;
    assert_eq!(code, 404);
    let (code, _) = third
        .post(
            &format!("/api/v1/intermediations/{id}/withdrawal"),
            json!({}),
        )
        .await;
    assert_eq!(code, 404);
    for role in ["new", "current"] {
        let (code, list) = third
            .get(&format!("/api/v1/intermediations?role={role}"))
            .await;
        assert_eq!(code, 200);
        assert!(list["items"].as_array().unwrap().is_empty(), "{list}");
    }
}

#[tokio::test]
async fn intermediation_decision_by_the_wrong_company_is_refused() {
    let area = Area::Tokyo;
    let app = spawn_app(&[area]).await;
    let new = app.login(RETAILER_A).await;
    let point = app.incumbent_point(area, PointKind::LowVoltage, 9);
    let (id, _) = register(&new, &point, &incumbent_code(area), "lv").await;
    // The new retailer sees it but may not decide it.
    let (code, body) = decide(&new, &id, json!({"decision": "approve"})).await;
    assert_eq!(code, 404, "{body}");
    let (code, _) = decide(&new, "not-a-uuid", json!({"decision": "approve"})).await;
    assert_eq!(code, 404);
    let (code, seen) = new.get(&format!("/api/v1/intermediations/{id}")).await;
    assert_eq!(code, 200);
    assert_eq!(seen["state"], "awaiting_decision");
}

#[tokio::test]
async fn intermediation_decided_once_refuses_another_decision_even_concurrently() {
    let area = Area::Tokyo;
    let app = spawn_app(&[area]).await;
    let new = app.login(RETAILER_A).await;
    let current = std::sync::Arc::new(app.login(&incumbent_code(area)).await);
    let point = app.incumbent_point(area, PointKind::LowVoltage, 10);
    let (id, _) = register(&new, &point, &incumbent_code(area), "lv").await;

    let mut tasks = Vec::new();
    for i in 0..8 {
        let (current, id) = (current.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            let body = if i % 2 == 0 {
                json!({"decision": "approve"})
            } else {
                json!({"decision": "decline", "reasons": ["no_such_contract"]})
            };
            decide(&current, &id, body).await
        }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    let won: Vec<&Value> = outcomes
        .iter()
        .filter(|(c, _)| *c == 202)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(won.len(), 1, "{outcomes:?}");
    assert!(
        outcomes.iter().all(|(c, _)| *c == 202 || *c == 409),
        "{outcomes:?}"
    );
    let winner = won[0]["state"].as_str().unwrap().to_string();
    let seen = wait_state(&new, &id, &winner).await;
    assert_eq!(seen["history"].as_array().unwrap().len(), 2, "{seen}");

    // Decided: another decision is refused.
    let (code, body) = decide(&current, &id, json!({"decision": "approve"})).await;
    assert_eq!(code, 409, "{body}");
    assert_eq!(body["code"], "intermediation_already_decided");
}

#[tokio::test]
async fn intermediation_bulk_decision_answers_per_id() {
    let area = Area::Tokyo;
    let app = spawn_app(&[area]).await;
    let new = app.login(RETAILER_A).await;
    let current = app.login(&incumbent_code(area)).await;
    let p1 = app.incumbent_point(area, PointKind::LowVoltage, 11);
    let p2 = app.incumbent_point(area, PointKind::LowVoltage, 12);
    let (first, _) = register(&new, &p1, &incumbent_code(area), "lv").await;
    let (second, _) = register(&new, &p2, &incumbent_code(area), "lv").await;
    let (code, _) = decide(&current, &first, json!({"decision": "approve"})).await;
    assert_eq!(code, 202);
    wait_state(&current, &first, "approved").await;

    let (code, answer) = current
        .post(
            "/api/v1/intermediation-decisions",
            json!({"items": [
                {"id": first, "decision": "decline", "reasons": ["name_mismatch"]},
                {"id": second, "decision": "decline", "reasons": ["address_mismatch", "no_such_contract"]},
                {"id": "0190c0de-0000-7000-8000-000000000000", "decision": "approve"},
            ]}),
        )
        .await;
    assert_eq!(code, 200, "{answer}");
    let items = answer["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["id"], first.as_str());
    assert_eq!(items[0]["status"], 409);
    assert_eq!(items[0]["code"], "intermediation_already_decided");
    assert_eq!(items[1]["id"], second.as_str());
    assert_eq!(items[1]["status"], 202, "{answer}");
    assert_eq!(items[1]["state"], "declined");
    assert_eq!(items[2]["status"], 404);
    let seen = wait_state(&new, &second, "declined").await;
    assert_eq!(seen["decline_reasons"][0]["label_ja"], "需要場所不一致");
    assert_eq!(seen["decline_reasons"][1]["label_ja"], "該当契約なし");
    assert_eq!(
        wait_state(&new, &first, "approved").await["state"],
        "approved"
    );
}

/// Every intermediation and every event, as the projector keeps them (the claim columns and
/// `updated_at` are the API's bookkeeping, not state).
async fn intermediation_rows(pool: &deadpool_postgres::Pool) -> Vec<String> {
    let client = pool.get().await.unwrap();
    let mut rows: Vec<String> = client
        .query(
            "SELECT concat_ws('|', intermediation_id, intermediation_number, point_id, area,
                    point_class, new_retailer_code, new_user_id, current_retailer_code,
                    customer_number, contract_name, supply_address, desired_switch_date, state,
                    array_to_string(decline_reasons, ','), note, registered_at, expires_at,
                    decided_at, decided_by_company, decided_by_user)
               FROM intermediations ORDER BY intermediation_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    rows.extend(
        client
            .query(
                "SELECT concat_ws('|', event_id, intermediation_id, kind, supply_point_id,
                        actor_company_code, actor_user_id, occurred_at,
                        array_to_string(decline_reasons, ','), note, applied)
                   FROM intermediation_events ORDER BY event_id",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<_, String>(0)),
    );
    rows
}

#[tokio::test]
async fn intermediation_topic_replayed_into_an_empty_database_gives_the_same_state() {
    let area = Area::Tokyo;
    let app = spawn_app(&[area]).await;
    let new = app.login(RETAILER_A).await;
    let current = app.login(&incumbent_code(area)).await;
    let mut ids = Vec::new();
    for n in 0..4 {
        let point = app.incumbent_point(area, PointKind::LowVoltage, 20 + n);
        ids.push(register(&new, &point, &incumbent_code(area), "lv").await.0);
    }
    decide(&current, &ids[0], json!({"decision": "approve"})).await;
    decide(
        &current,
        &ids[1],
        json!({"decision": "decline", "reasons": ["other"], "note": "理由あり"}),
    )
    .await;
    new.post(
        &format!("/api/v1/intermediations/{}/withdrawal", ids[2]),
        json!({}),
    )
    .await;
    wait_state(&new, &ids[0], "approved").await;
    wait_state(&new, &ids[1], "declined").await;
    wait_state(&new, &ids[2], "withdrawn").await;
    // A decision after the fact is refused by the API; nothing reaches the log.
    let (code, body) = decide(
        &current,
        &ids[0],
        json!({"decision": "decline", "reasons": ["other"], "note": "x"}),
    )
    .await;
    assert_eq!(code, 409, "a late decision is refused: {body}");
    assert_eq!(body["code"], "intermediation_already_decided");

    let expected = intermediation_rows(&hub::pool(&app.settings).unwrap()).await;
    assert_eq!(expected.len(), 4 + 4 + 3, "{expected:#?}");

    let mut replay = app.settings.clone();
    replay.database_url = format!("{}_replay", app.settings.database_url);
    let pool = hub::prepare(&replay).await.unwrap();
    let stop = CancellationToken::new();
    hub::start_projector(&replay, pool.clone(), stop.clone());
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut rebuilt = intermediation_rows(&pool).await;
    while rebuilt != expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        rebuilt = intermediation_rows(&pool).await;
    }
    stop.cancel();
    assert_eq!(rebuilt, expected);
}
