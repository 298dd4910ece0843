//! `Idempotency-Key`: a retried submission returns the first answer, never a second request.

use kirikae::domain::Area;
use serde_json::{Value, json};

use crate::harness::*;

#[tokio::test]
async fn an_idempotent_retry_returns_the_same_request_id_and_makes_one_request() {
    let app = spawn_app(&[Area::Chugoku]).await;
    let a = app.login(RETAILER_A).await;
    let point = vacant_point(Area::Chugoku, 0);
    let body = reconnection_body(&point);
    let mut ids = Vec::new();
    for _ in 0..3 {
        let resp = a
            .submit_with_key("reconnection", body.clone(), Some("order-2026-0001"))
            .await;
        assert_eq!(resp.status(), 202);
        ids.push(
            resp.json::<Value>().await.unwrap()["request_id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
    let done = a.final_status(&ids[0]).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(app.sim(Area::Chugoku).1.applications(), 1);
    let list: Value = a
        .http
        .get(format!("{}/api/v1/requests", app.api))
        .bearer_auth(&a.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_same_idempotency_key_with_another_body_is_409() {
    let app = spawn_app(&[]).await;
    let a = app.login(RETAILER_A).await;
    let first = a
        .submit_with_key(
            "facility-inquiry",
            json!({"supply_point_id": "0300000000000000000001"}),
            Some("k-1"),
        )
        .await;
    assert_eq!(first.status(), 202);
    let second = a
        .submit_with_key(
            "facility-inquiry",
            json!({"supply_point_id": "0300000000000000000002"}),
            Some("k-1"),
        )
        .await;
    assert_eq!(second.status(), 409);
    assert_eq!(
        second.json::<Value>().await.unwrap()["code"],
        "idempotency_key_reused"
    );
}

/// Submits a facility inquiry under the key `shared`; the request id once it is accepted.
async fn accepted_under_shared_key(r: &Retailer, body: Value) -> String {
    let resp = r
        .submit_with_key("facility-inquiry", body, Some("shared"))
        .await;
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "accepted", "{body}");
    body["request_id"]
        .as_str()
        .expect("a request id")
        .to_string()
}

#[tokio::test]
async fn the_same_key_of_another_company_is_its_own() {
    let app = spawn_app(&[]).await;
    let (a, b) = (app.login(RETAILER_A).await, app.login(RETAILER_B).await);
    let body_a = json!({"supply_point_id": "0300000000000000000001"});
    let body_b = json!({"supply_point_id": "0300000000000000000002"});
    let id_a = accepted_under_shared_key(&a, body_a).await;
    // Under A's key but with another body: were keys shared across companies, this would be
    // A's request or `409 idempotency_key_reused`.
    let id_b = accepted_under_shared_key(&b, body_b.clone()).await;
    assert_ne!(id_a, id_b);
    assert_eq!(
        accepted_under_shared_key(&b, body_b).await,
        id_b,
        "B's retry under its key returns B's request"
    );
    let (code, seen) = b.status(&id_a).await;
    assert_eq!(code, 404, "{seen}");
    assert_eq!(seen["code"], "request_not_found");
    let (code, seen) = b.status(&id_b).await;
    assert_eq!(code, 200, "{seen}");
    assert_eq!(seen["request_id"], id_b.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_racing_retries_of_one_key_produce_one_record() {
    let app = spawn_app(&[]).await;
    let a = std::sync::Arc::new(app.login(RETAILER_A).await);
    let body = json!({"supply_point_id": "0300000000000000000007"});
    let attempts = (0..50).map(|_| {
        let (a, body) = (a.clone(), body.clone());
        tokio::spawn(async move {
            let resp = a
                .submit_with_key("facility-inquiry", body, Some("race-1"))
                .await;
            let status = resp.status().as_u16();
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            assert_eq!(status, 202, "{body}");
            body["request_id"].as_str().unwrap().to_string()
        })
    });
    let mut ids: Vec<String> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let topic = app.settings.requests_topic(kirikae::domain::Area::Tokyo);
    let codec = kirikae::messages::Codec::new();
    let records: Vec<String> = read_topic(&app.settings.kafka_brokers, &topic)
        .iter()
        .map(|b| codec.decode_request(b).unwrap().request_id.to_string())
        .collect();
    assert_eq!(records, vec![ids[0].clone()], "one record on {topic}");
}

/// The `accepted` row is written before the record is produced (issue 15), so it no longer
/// proves the record reached the broker: an attempt that died in between (its lease ran out,
/// its key never marked produced) is taken over by the retry, which produces the record under
/// the same id instead of answering with an id nothing on the broker stands for.
#[tokio::test]
async fn a_retry_after_an_attempt_that_died_before_producing_produces_the_record() {
    use chrono::SubsecRound;
    use kirikae::domain::{CompanyCode, Function, SupplyPointId, UpdateFlag};
    use kirikae::messages::{FacilityInquiry, Payload, RequestRecord};

    let app = spawn_app(&[]).await;
    let a = app.login(RETAILER_A).await;
    let point = "0300000000000000000011";
    let body = json!({"supply_point_id": point});
    let id = kirikae::domain::RequestId::new();
    // What the dead attempt left behind: its `accepted` row, and its key with the lease run out.
    let pool = kirikae::hub::pool(&app.settings).unwrap();
    let client = pool.get().await.unwrap();
    let record = RequestRecord {
        request_id: id,
        function: Function::FacilityInquiry,
        company_code: CompanyCode::parse(RETAILER_A).unwrap(),
        user_id: user_of(RETAILER_A),
        point_id: SupplyPointId::parse(point).unwrap(),
        update_flag: UpdateFlag::Register,
        original_request_id: None,
        accepted_at: chrono::Utc::now().trunc_subsecs(3),
        payload: Payload::FacilityInquiry(FacilityInquiry {}),
        replay: 0,
    };
    kirikae::requests::store::insert_request(&client, &record)
        .await
        .unwrap();
    let hash = kirikae::requests::idempotency::body_hash(Function::FacilityInquiry, &body);
    client
        .execute(
            "INSERT INTO idempotency_keys (company_code, key, body_sha256, request_id, lease_until)
             VALUES ($1, 'died-1', $2, $3, now() - interval '1 second')",
            &[&RETAILER_A, &hash, &id.as_uuid()],
        )
        .await
        .unwrap();

    let resp = a
        .submit_with_key("facility-inquiry", body, Some("died-1"))
        .await;
    assert_eq!(resp.status(), 202);
    let answered: Value = resp.json().await.unwrap();
    assert_eq!(answered["request_id"], id.to_string().as_str());
    let topic = app.settings.requests_topic(Area::Tokyo);
    let codec = kirikae::messages::Codec::new();
    let records: Vec<String> = read_topic(&app.settings.kafka_brokers, &topic)
        .iter()
        .map(|b| codec.decode_request(b).unwrap().request_id.to_string())
        .collect();
    assert_eq!(records, vec![id.to_string()], "the record is on {topic}");
}
