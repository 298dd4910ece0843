//! Bad input is refused with a specific code and a Japanese and English message.

use kirikae::domain::Area;
use serde_json::{Value, json};

use crate::harness::*;

async fn refusal(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn malformed_json_is_400_malformed_json() {
    let app = spawn_app(&[]).await;
    let a = app.login(RETAILER_A).await;
    let resp = a
        .http
        .post(format!("{}/api/v1/facility-inquiry", app.api))
        .bearer_auth(&a.token)
        .header("content-type", "application/json")
        .body("{\"supply_point_id\": ")
        .send()
        .await
        .unwrap();
    let (status, body) = refusal(resp).await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], "malformed_json");
    assert!(body["message_ja"].as_str().is_some() && body["message_en"].as_str().is_some());
}

#[tokio::test]
async fn a_21_digit_supply_point_id_is_422_naming_the_field() {
    let app = spawn_app(&[]).await;
    let a = app.login(RETAILER_A).await;
    let (status, body) = refusal(
        a.submit(
            "facility-inquiry",
            json!({"supply_point_id": "030000000000000000001"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["code"], "invalid_supply_point_id");
    assert_eq!(body["field"], "supply_point_id");
    assert!(
        body["message_ja"].as_str().unwrap().contains("22桁"),
        "{body}"
    );
}

#[tokio::test]
async fn an_unknown_area_is_422_unknown_area() {
    let app = spawn_app(&[]).await;
    let a = app.login(RETAILER_A).await;
    let body = json!({"supply_point_id": "0300000000000000000001", "area": "11"});
    let (status, body) = refusal(a.submit("facility-inquiry", body).await).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("unknown_area")));
    let (status, body) = refusal(
        a.submit(
            "facility-inquiry",
            json!({"supply_point_id": "1100000000000000000001"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid_supply_point_id"))
    );
}

#[tokio::test]
async fn an_unknown_function_is_404() {
    let app = spawn_app(&[]).await;
    let a = app.login(RETAILER_A).await;
    let (status, body) = refusal(a.submit("teleport", json!({})).await).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("unknown_function"))
    );
}

#[tokio::test]
async fn a_get_right_after_the_202_shows_at_least_accepted() {
    let app = spawn_app(&[Area::Kansai]).await;
    let a = app.login(RETAILER_A).await;
    for i in 0..20 {
        let (point, _) = app.point(Area::Kansai, i);
        let id = a.facility_inquiry(&point).await;
        let (code, body) = a.status(&id).await;
        assert_eq!(code, 200, "{body}");
        assert!(
            ["accepted", "sent", "completed"].contains(&body["status"].as_str().unwrap()),
            "{body}"
        );
    }
}
