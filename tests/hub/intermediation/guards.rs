//! The rules that keep intermediations single and traceable: a retried registration is the
//! same one, a retailer has one open intermediation per point, every command is audited and
//! counted, the inbox filters by class, and a quoted 廃止取次番号 must name an approved one.

use std::sync::Arc;

use kirikae::domain::{Area, CompanyCode, SupplyPointId};
use kirikae::hub;
use kirikae::intermediation::{QuotedBy, check_quoted};
use kirikae::tso_sim::register::{PointKind, incumbent_code};
use serde_json::{Value, json};

use super::{decide, register, registration, wait_state};
use crate::harness::*;

async fn register_with_key(new: &Retailer, body: Value, key: &str) -> (u16, Value) {
    let resp = new
        .submit_with_key("intermediations", body, Some(key))
        .await;
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

async fn count_intermediations(app: &TestApp) -> i64 {
    let pool = hub::pool(&app.settings).unwrap();
    let client = pool.get().await.unwrap();
    client
        .query_one("SELECT count(*) FROM intermediations", &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_registration_retried_with_its_idempotency_key_gets_the_first_answer() {
    let area = Area::Tokyo;
    let app = spawn_app(&[area]).await;
    let new = app.login(RETAILER_A).await;
    let point = app.incumbent_point(area, PointKind::LowVoltage, 30);
    let body = registration(&point, &incumbent_code(area), "lv");

    let (code, first) = register_with_key(&new, body.clone(), "reg-30").await;
    assert_eq!(code, 202, "{first}");
    let (code, again) = register_with_key(&new, body.clone(), "reg-30").await;
    assert_eq!(code, 202, "{again}");
    assert_eq!(
        again, first,
        "the retry is answered as the first registration was"
    );
    assert_eq!(count_intermediations(&app).await, 1);

    // A malformed key is refused.
    let (code, refused) = register_with_key(&new, body.clone(), "a key").await;
    assert_eq!(code, 400, "{refused}");
    assert_eq!(refused["code"], "invalid_idempotency_key");
    // The same key with another registration is refused.
    let mut other = body;
    other["customer_number"] = json!("9999-0000-11");
    let (code, refused) = register_with_key(&new, other, "reg-30").await;
    assert_eq!(code, 409, "{refused}");
    assert_eq!(refused["code"], "idempotency_key_reused");
}

#[tokio::test]
async fn a_second_open_intermediation_of_a_point_by_the_same_retailer_is_refused() {
    let area = Area::Tokyo;
    let app = spawn_app(&[area]).await;
    let new = app.login(RETAILER_A).await;
    let current = incumbent_code(area);
    let point = app.incumbent_point(area, PointKind::LowVoltage, 31);
    let (id, _) = register(&new, &point, &current, "lv").await;

    let (code, body) = new
        .post(
            "/api/v1/intermediations",
            registration(&point, &current, "lv"),
        )
        .await;
    assert_eq!(code, 409, "{body}");
    assert_eq!(body["code"], "intermediation_already_open");
    assert!(body["message_ja"].as_str().unwrap().contains("判断待ち"));
    // Another retailer may still ask for the same point.
    let other = app.login(RETAILER_B).await;
    register(&other, &point, &current, "lv").await;

    // Once it is no longer open, the retailer may register again.
    let path = format!("/api/v1/intermediations/{id}/withdrawal");
    let (code, body) = new.post(&path, json!({})).await;
    assert_eq!(code, 202, "{body}");
    wait_state(&new, &id, "withdrawn").await;
    register(&new, &point, &current, "lv").await;

    let text = kirikae::metrics::render();
    for line in [
        r#"kirikae_intermediations_total{action="register",outcome="accepted"}"#,
        r#"kirikae_intermediations_total{action="register",outcome="intermediation_already_open"}"#,
        r#"kirikae_intermediations_total{action="withdraw",outcome="accepted"}"#,
        "kirikae_intermediations_pending",
    ] {
        assert!(text.contains(line), "{line} missing from\n{text}");
    }
}

#[tokio::test]
async fn concurrent_registrations_of_a_point_by_one_retailer_open_only_one() {
    let area = Area::Tokyo;
    let app = spawn_app(&[area]).await;
    let new = Arc::new(app.login(RETAILER_A).await);
    let point = app.incumbent_point(area, PointKind::LowVoltage, 32);
    let body = registration(&point, &incumbent_code(area), "lv");
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let (new, body) = (new.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            new.post("/api/v1/intermediations", body).await
        }));
    }
    let mut codes = Vec::new();
    for t in tasks {
        let (code, body) = t.await.unwrap();
        assert!(
            code == 202 || body["code"] == "intermediation_already_open",
            "{body}"
        );
        codes.push(code);
    }
    assert_eq!(codes.iter().filter(|c| **c == 202).count(), 1, "{codes:?}");
    assert_eq!(count_intermediations(&app).await, 1);
}

/// Retries racing the first attempt of one key (still producing, its row not yet committed)
/// wait for it and answer as it did: one registration, one event on the topic.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_retries_of_one_registration_key_produce_one_event() {
    let area = Area::Tokyo;
    let app = spawn_app(&[area]).await;
    let new = Arc::new(app.login(RETAILER_A).await);
    let point = app.incumbent_point(area, PointKind::LowVoltage, 33);
    let body = registration(&point, &incumbent_code(area), "lv");
    let attempts = (0..20).map(|_| {
        let (new, body) = (new.clone(), body.clone());
        tokio::spawn(async move { register_with_key(&new, body, "reg-race").await })
    });
    let mut answers = Vec::new();
    for a in futures::future::join_all(attempts).await {
        let (code, answer) = a.unwrap();
        assert_eq!(code, 202, "{answer}");
        answers.push(answer);
    }
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
    assert_eq!(count_intermediations(&app).await, 1);
    let topic = app.settings.intermediations_topic();
    let codec = kirikae::messages::Codec::new();
    let events: Vec<String> = read_topic(&app.settings.kafka_brokers, &topic)
        .iter()
        .map(|b| {
            codec
                .decode_intermediation(b)
                .unwrap()
                .intermediation_id
                .to_string()
        })
        .collect();
    let id = answers[0]["intermediation_id"].as_str().unwrap_or_default();
    assert_eq!(events, vec![id.to_string()], "one event on {topic}");
}

#[tokio::test]
async fn the_inbox_can_be_filtered_by_point_class() {
    let area = Area::Kansai;
    let app = spawn_app(&[area]).await;
    let new = app.login(RETAILER_A).await;
    let code_current = incumbent_code(area);
    let current = app.login(&code_current).await;
    let lv = app.incumbent_point(area, PointKind::LowVoltage, 33);
    let hv = app.incumbent_point(area, PointKind::HighVoltage, 34);
    register(&new, &lv, &code_current, "lv").await;
    let (hv_id, _) = register(&new, &hv, &code_current, "hv").await;

    let (code, list) = current
        .get("/api/v1/intermediations?role=current&point_class=hv")
        .await;
    assert_eq!(code, 200, "{list}");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0]["intermediation_id"], hv_id.as_str());
    let (_, list) = current
        .get("/api/v1/intermediations?role=current&point_class=gen")
        .await;
    assert!(list["items"].as_array().unwrap().is_empty(), "{list}");

    let (code, body) = current.get("/api/v1/intermediations?point_class=xx").await;
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["code"], "invalid_point_class");
    assert_eq!(body["field"], "point_class");
}

#[tokio::test]
async fn registration_decision_and_withdrawal_are_each_audited() {
    let area = Area::Tokyo;
    let app = spawn_app(&[area]).await;
    let new = app.login(RETAILER_A).await;
    let current = app.login(&incumbent_code(area)).await;
    let p1 = app.incumbent_point(area, PointKind::LowVoltage, 35);
    let p2 = app.incumbent_point(area, PointKind::LowVoltage, 36);
    let (decided, _) = register(&new, &p1, &incumbent_code(area), "lv").await;
    let (withdrawn, _) = register(&new, &p2, &incumbent_code(area), "lv").await;
    let (code, _) = decide(&current, &decided, json!({"decision": "approve"})).await;
    assert_eq!(code, 202);
    let path = format!("/api/v1/intermediations/{withdrawn}/withdrawal");
    assert_eq!(new.post(&path, json!({})).await.0, 202);

    let pool = hub::pool(&app.settings).unwrap();
    let client = pool.get().await.unwrap();
    let trail: Vec<(String, String, String)> = client
        .query(
            "SELECT action, subject_id, company_code FROM audit_log
              WHERE action IN ('intermediation.register', 'intermediation.decide',
                               'intermediation.withdraw')
              ORDER BY id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let a = RETAILER_A.to_string();
    let reg = "intermediation.register".to_string();
    assert_eq!(
        trail,
        vec![
            (reg.clone(), decided.clone(), a.clone()),
            (reg, withdrawn.clone(), a.clone()),
            (
                "intermediation.decide".into(),
                decided,
                incumbent_code(area)
            ),
            ("intermediation.withdraw".into(), withdrawn, a),
        ]
    );
}

#[tokio::test]
async fn a_quoted_intermediation_number_names_an_approved_one_of_the_point_and_the_caller() {
    let area = Area::Tokyo;
    let app = spawn_app(&[area]).await;
    let new = app.login(RETAILER_A).await;
    let current_code = incumbent_code(area);
    let current = app.login(&current_code).await;
    let point = app.incumbent_point(area, PointKind::LowVoltage, 37);
    let elsewhere = app.incumbent_point(area, PointKind::LowVoltage, 38);
    let (id, number) = register(&new, &point, &current_code, "lv").await;
    let pool = hub::pool(&app.settings).unwrap();
    let a = CompanyCode::parse(RETAILER_A).unwrap();
    let inc = CompanyCode::parse(&current_code).unwrap();
    let b = CompanyCode::parse(RETAILER_B).unwrap();
    let check = |n: &str, p: &SupplyPointId, c: &CompanyCode, by: QuotedBy| {
        let (pool, n, p, c) = (pool.clone(), n.to_string(), p.clone(), c.clone());
        async move {
            match check_quoted(&pool, &n, &p, &c, by).await {
                Ok(()) => "ok",
                Err(e) => e.code(),
            }
        }
    };

    let not_approved = "intermediation_not_approved";
    assert_eq!(
        check(&number, &point, &a, QuotedBy::NewRetailer).await,
        not_approved
    );
    decide(&current, &id, json!({"decision": "approve"})).await;
    wait_state(&new, &id, "approved").await;

    assert_eq!(
        check(&number, &point, &a, QuotedBy::NewRetailer).await,
        "ok"
    );
    assert_eq!(
        check(&number, &point, &inc, QuotedBy::CurrentRetailer).await,
        "ok"
    );
    let unknown = "intermediation_number_unknown";
    assert_eq!(
        check(
            "IS03-20260101-000000000000",
            &point,
            &a,
            QuotedBy::NewRetailer
        )
        .await,
        unknown
    );
    // Another company's, or the caller in the other part: as if it did not exist.
    assert_eq!(
        check(&number, &point, &b, QuotedBy::NewRetailer).await,
        unknown
    );
    assert_eq!(
        check(&number, &point, &a, QuotedBy::CurrentRetailer).await,
        unknown
    );
    assert_eq!(
        check(&number, &point, &inc, QuotedBy::NewRetailer).await,
        unknown
    );
    let mismatch = "intermediation_point_mismatch";
    assert_eq!(
        check(&number, &elsewhere, &a, QuotedBy::NewRetailer).await,
        mismatch
    );
    let refusal = check_quoted(&pool, &number, &elsewhere, &a, QuotedBy::NewRetailer)
        .await
        .unwrap_err();
    assert_eq!(kirikae_status(&refusal), 422);
}

/// The HTTP status the API gives a refusal of this kind (every InvalidField is 422).
fn kirikae_status(r: &kirikae::domain::Refusal) -> u16 {
    match r {
        kirikae::domain::Refusal::InvalidField { field, .. } => {
            assert_eq!(field, "intermediation_number");
            422
        }
        other => panic!("not an invalid field: {other:?}"),
    }
}

/// The submission path applies the same rule: a switch-start or switch-end quoting a
/// 廃止取次番号 that is not approved, or not the caller's, is refused before it is sent.
#[tokio::test]
async fn a_switch_quoting_an_intermediation_not_approved_or_not_its_own_is_refused() {
    let area = Area::Tokyo;
    let app = spawn_app(&[area]).await;
    let new = app.login(RETAILER_A).await;
    let current_code = incumbent_code(area);
    let current = app.login(&current_code).await;
    let point = app.incumbent_point(area, PointKind::LowVoltage, 39);
    let (_, number) = register(&new, &point, &current_code, "lv").await;

    let mut start = switch_start_body(&point, &current_code);
    start["intermediation_number"] = json!(number);
    let resp = new.submit("switch-start", start.clone()).await;
    assert_eq!(resp.status().as_u16(), 422);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "intermediation_not_approved", "{body}");
    assert_eq!(body["field"], "intermediation_number", "{body}");

    let planned = start["planned_date"].clone();
    let resp = current
        .submit(
            "switch-end",
            json!({
                "supply_point_id": point.as_str(),
                "planned_date": planned,
                "new_retailer_code": RETAILER_A,
                "customer_number": "0012-3456-78",
                "intermediation_number": "IS03-20260101-000000000000",
            }),
        )
        .await;
    assert_eq!(resp.status().as_u16(), 422);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "intermediation_number_unknown", "{body}");
}
