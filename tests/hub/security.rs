//! TLS with client certificates, login, and a company seeing only its own requests.

use kirikae::domain::{Area, CompanyCode};
use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn without_a_client_certificate_the_tls_handshake_fails() {
    let app = spawn_app(&[]).await;
    let anonymous = https_client(app.certs.path(), app.certs.path(), None);
    let err = anonymous
        .post(format!("{}/api/v1/session", app.api))
        .json(&json!({"user_id": user_of(RETAILER_A), "password": PASSWORD}))
        .send()
        .await
        .expect_err("the server must refuse a client without a certificate");
    assert!(err.is_connect() || err.is_request(), "{err:?}");
}

#[tokio::test]
async fn a_client_certificate_from_another_ca_is_refused() {
    let app = spawn_app(&[]).await;
    let other = tempfile::tempdir().unwrap();
    kirikae::certs::generate(
        other.path(),
        "somebody else's CA",
        &[CompanyCode::parse(RETAILER_A).unwrap()],
    )
    .unwrap();
    let client = https_client(app.certs.path(), other.path(), Some("client-A0001"));
    let result = client
        .post(format!("{}/api/v1/session", app.api))
        .json(&json!({"user_id": user_of(RETAILER_A), "password": PASSWORD}))
        .send()
        .await;
    assert!(
        result.is_err(),
        "a foreign certificate was accepted: {:?}",
        result.map(|r| r.status())
    );
}

#[tokio::test]
async fn a_wrong_password_is_401_and_so_is_an_unknown_user() {
    let app = spawn_app(&[]).await;
    let http = app.client_for(RETAILER_A);
    for (user, password) in [
        (user_of(RETAILER_A), "not-the-password".to_string()),
        ("nobody-here".into(), PASSWORD.into()),
    ] {
        let resp = http
            .post(format!("{}/api/v1/session", app.api))
            .json(&json!({"user_id": user, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["code"], "invalid_credentials");
        assert!(body["message_ja"].as_str().unwrap().contains("パスワード"));
    }
}

#[tokio::test]
async fn a_user_cannot_log_in_with_another_companys_certificate() {
    let app = spawn_app(&[]).await;
    let resp = app
        .client_for(RETAILER_B)
        .post(format!("{}/api/v1/session", app.api))
        .json(&json!({"user_id": user_of(RETAILER_A), "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    // Told only what a wrong password is told (tests/hub/access.rs proves it locks nobody).
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap()["code"],
        "invalid_credentials"
    );
}

#[tokio::test]
async fn a_token_presented_with_another_companys_certificate_is_refused() {
    let app = spawn_app(&[]).await;
    let a = app.login(RETAILER_A).await;
    let resp = app
        .client_for(RETAILER_B)
        .get(format!("{}/api/v1/requests", app.api))
        .bearer_auth(&a.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
}

#[tokio::test]
async fn without_a_token_the_api_answers_401() {
    let app = spawn_app(&[]).await;
    let resp = app
        .client_for(RETAILER_A)
        .get(format!("{}/api/v1/requests", app.api))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap()["code"],
        "unauthenticated"
    );
}

#[tokio::test]
async fn another_companys_request_id_is_404() {
    let app = spawn_app(&[Area::Tokyo]).await;
    let (a, b) = (app.login(RETAILER_A).await, app.login(RETAILER_B).await);
    let (point, _) = app.point(Area::Tokyo, 5);
    let id = a.facility_inquiry(&point).await;
    assert_eq!(a.status(&id).await.0, 200);
    let (code, body) = b.status(&id).await;
    assert_eq!(code, 404);
    assert_eq!(body["code"], "request_not_found");
}
