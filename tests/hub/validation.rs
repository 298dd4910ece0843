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

/// `POST path` with `body` sent as `content_type` by `a`: status and the JSON answer.
async fn post_raw(
    a: &Retailer,
    path: &str,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> (u16, Value) {
    let mut req = a
        .http
        .post(format!("{}{path}", a.api))
        .bearer_auth(&a.token)
        .body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    refusal(req.send().await.unwrap()).await
}

#[tokio::test]
async fn a_key_twice_in_one_object_is_400_malformed_json() {
    let app = spawn_app(&[]).await;
    let a = app.login(RETAILER_A).await;
    let body = r#"{"supply_point_id": "0300000000000000000001", "supply_point_id": "0300000000000000000002"}"#;
    let (status, answer) = post_raw(
        &a,
        "/api/v1/facility-inquiry",
        Some("application/json"),
        body,
    )
    .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (400, Some("malformed_json"))
    );
    assert!(
        answer["message_en"]
            .as_str()
            .unwrap()
            .contains("duplicate key"),
        "{answer}"
    );
    // The same holds for the administrator's bodies, read by the API's own extractor.
    let (status, answer) = post_raw(
        &a,
        "/api/v1/admin/users",
        Some("application/json"),
        r#"{"user_id": "x1", "user_id": "x2"}"#,
    )
    .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (400, Some("malformed_json")),
        "{answer}"
    );
}

#[tokio::test]
async fn a_body_not_sent_as_application_json_is_415() {
    let app = spawn_app(&[]).await;
    let a = app.login(RETAILER_A).await;
    let json = r#"{"supply_point_id": "0300000000000000000001"}"#;
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("application/jsonx"),
        None,
    ] {
        let (status, answer) = post_raw(&a, "/api/v1/facility-inquiry", ct, json).await;
        assert_eq!(status, 415, "{ct:?}: {answer}");
        assert_eq!(answer["code"], "unsupported_media_type", "{ct:?}");
        assert!(answer["message_ja"].as_str().is_some(), "{answer}");
    }
    let (status, answer) = post_raw(
        &a,
        "/api/v1/facility-inquiry",
        Some("application/json; charset=utf-8"),
        json,
    )
    .await;
    assert_eq!(status, 202, "{answer}");
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_in_the_error_format_on_http1_and_http2() {
    let app = spawn_app(&[]).await;
    let token = app.login(RETAILER_A).await.token;
    let big = format!(
        r#"{{"supply_point_id": "0300000000000000000001", "x": "{}"}}"#,
        "a".repeat(5 * 1024 * 1024)
    );
    for http2 in [false, true] {
        let resp = http_client(&app, RETAILER_A, http2)
            .post(format!("{}/api/v1/facility-inquiry", app.api))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(big.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("http2 {http2}: {e:?}"));
        let expected = if http2 {
            reqwest::Version::HTTP_2
        } else {
            reqwest::Version::HTTP_11
        };
        assert_eq!(resp.version(), expected);
        let (status, answer) = refusal(resp).await;
        assert_eq!(status, 413, "http2 {http2}: {answer}");
        assert_eq!(answer["code"], "body_too_large", "{answer}");
    }
}

#[tokio::test]
async fn a_method_a_path_does_not_take_is_405_with_a_json_body() {
    let app = spawn_app(&[]).await;
    let a = app.login(RETAILER_A).await;
    let resp = a
        .http
        .put(format!("{}/api/v1/requests", app.api))
        .bearer_auth(&a.token)
        .send()
        .await
        .unwrap();
    assert!(resp.headers().contains_key("allow"), "{:?}", resp.headers());
    let (status, answer) = refusal(resp).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (405, Some("method_not_allowed"))
    );
    assert!(answer["message_en"].as_str().is_some(), "{answer}");
}

/// Bodies a careless or hostile client may send.
fn hostile_bodies() -> Vec<(&'static str, Vec<u8>)> {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let many_keys = format!(
        "{{{}}}",
        (0..20_000)
            .map(|i| format!("\"k{i}\": {i}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    vec![
        ("empty", vec![]),
        ("truncated", b"{\"supply_point_id\": ".to_vec()),
        ("null", b"null".to_vec()),
        ("array", b"[1, 2, 3]".to_vec()),
        ("string", b"\"x\"".to_vec()),
        ("huge number", b"{\"supply_point_id\": 1e99999999}".to_vec()),
        (
            "wrong types",
            br#"{"supply_point_id": [], "planned_date": {}, "area": 3}"#.to_vec(),
        ),
        ("duplicate key", br#"{"a": 1, "a": 2}"#.to_vec()),
        (
            "invalid utf-8",
            b"{\"supply_point_id\": \"\xff\xfe\"}".to_vec(),
        ),
        (
            "nul",
            b"{\"user_id\": \"a\\u0000b\", \"password\": \"\\u0000\"}".to_vec(),
        ),
        ("deep nesting", deep.into_bytes()),
        ("many keys", many_keys.into_bytes()),
        (
            "long string",
            format!("{{\"name\": \"{}\"}}", "名".repeat(200_000)).into_bytes(),
        ),
        ("lone surrogate", br#"{"name": "\ud800"}"#.to_vec()),
    ]
}

/// Every operation of the published document with its path parameters filled in.
async fn every_operation(app: &TestApp) -> Vec<(String, String)> {
    let doc: Value = app
        .client_for(RETAILER_A)
        .get(format!("{}/openapi.json", app.api))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let filled = path
                .replace("{class}", "hv")
                .replace("{user_id}", "user-a0001")
                .replace("{request_id}", "not-a-uuid")
                .replace("{corporate_number}", "1234567890123")
                .replace("{id}", "00000000-0000-0000-0000-000000000000");
            ops.push((method.to_uppercase(), filled));
        }
    }
    // Logging out and changing the password last, so the other calls are made logged in.
    ops.sort_by_key(|(m, p)| (p.starts_with("/api/v1/session"), m.clone(), p.clone()));
    ops
}

#[tokio::test]
async fn malformed_and_hostile_bodies_on_every_route_are_refused_in_json_never_5xx() {
    let app = spawn_app(&[]).await;
    let a = app.login(RETAILER_A).await;
    let ops = every_operation(&app).await;
    assert!(ops.len() > 40, "{ops:?}");
    for (method, path) in ops {
        // The event stream answers any GET with a stream that lasts as long as the session
        // (events.rs tests it): there is no refusal to read to its end.
        if path.ends_with("/events/stream") {
            continue;
        }
        for (name, body) in hostile_bodies() {
            for ct in ["application/json", "text/plain"] {
                let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
                let resp = a
                    .http
                    .request(m, format!("{}{path}", app.api))
                    .bearer_auth(&a.token)
                    .header("content-type", ct)
                    .body(body.clone())
                    // A route that never answers fails here, named, rather than hanging the suite.
                    .timeout(std::time::Duration::from_secs(60))
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{method} {path} {name}: {e:?}"));
                let status = resp.status();
                let is_json = resp
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.starts_with("application/json"))
                    || resp
                        .headers()
                        .get("content-type")
                        .is_some_and(|v| v.to_str().is_ok_and(|v| v.starts_with("text/csv")));
                let text = resp.text().await.unwrap_or_default();
                assert!(
                    !status.is_server_error(),
                    "{method} {path} ({name}, {ct}): {status} {text}"
                );
                assert!(
                    is_json || (status.is_success() && text.is_empty()),
                    "{method} {path} ({name}, {ct}): {status} without JSON: {text}"
                );
                if status.is_client_error() {
                    let v: Value = serde_json::from_str(&text)
                        .unwrap_or_else(|_| panic!("{method} {path} ({name}): {text}"));
                    assert!(
                        v["code"].is_string() && v["message_ja"].is_string(),
                        "{method} {path} ({name}): {v}"
                    );
                }
            }
        }
    }
}
