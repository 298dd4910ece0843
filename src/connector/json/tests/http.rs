//! The client over real HTTP: what it sends, endpoints that do not answer, answers with each
//! status, answers for another request, and answers too big to read.

use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};

use super::*;

#[test]
fn a_client_needs_an_http_endpoint() {
    for endpoint in [
        "not a url",
        "ftp://127.0.0.1/json",
        "",
        "mailto:ops@example.com",
    ] {
        let made = JsonClient::new(endpoint, Duration::from_secs(1));
        assert!(matches!(made, Err(CallError::Unreachable(_))), "{endpoint}");
    }
}

#[tokio::test]
async fn a_closed_port_is_unreachable_and_transient() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let client =
        JsonClient::new(&format!("http://{addr}/json"), Duration::from_secs(2)).expect("client");
    let got = client.call(&switch_request()).await;
    assert!(matches!(&got, Err(CallError::Unreachable(_))), "{got:?}");
    assert!(got.err().is_some_and(|e| e.is_transient()));
}

/// What the canned server saw of one call.
fn sent_as_the_dialect_says(service_id: &str, headers: &HeaderMap, body: &[u8]) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let document: Option<Value> = serde_json::from_slice(body).ok();
    service_id == "IF_10610"
        && header("content-type") == Some("application/json")
        && header("idempotency-key") == Some(REQUEST_ID)
        && document == Some(build_body(&switch_request()))
}

/// A server answering `POST /json/{service_id}` with `status` and `body` if the call is as the
/// dialect says (otherwise 418); returns a client for `endpoint_path` on it.
async fn canned(status: u16, body: String, endpoint_path: &str) -> JsonClient {
    let route = axum::routing::post(
        move |Path(service_id): Path<String>, headers: HeaderMap, sent: axum::body::Bytes| async move {
            if sent_as_the_dialect_says(&service_id, &headers, &sent) {
                (StatusCode::from_u16(status).expect("status"), body)
            } else {
                (StatusCode::IM_A_TEAPOT, String::new())
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = axum::Router::new().route("/json/{service_id}", route);
    tokio::spawn(axum::serve(listener, app).into_future());
    let endpoint = format!("http://{addr}{endpoint_path}");
    JsonClient::new(&endpoint, Duration::from_secs(5)).expect("client")
}

#[tokio::test]
async fn the_client_posts_json_to_the_service_path_with_the_idempotency_key() {
    for path in ["/json", "/json/"] {
        let done = completed(switch_result()).to_string();
        let client = canned(200, done, path).await;
        let got = client.call(&switch_request()).await;
        assert!(
            matches!(got, Ok(TsoAnswer::Completed(_))),
            "{path}: {got:?}"
        );
    }
}

#[tokio::test]
async fn a_refusal_over_http_is_an_answer_not_an_error() {
    let client = canned(422, refused(refusal_error()).to_string(), "/json").await;
    let got = client.call(&switch_request()).await;
    assert!(
        matches!(got, Ok(TsoAnswer::Refused { ref code, .. }) if code == "E1001"),
        "{got:?}"
    );
}

#[tokio::test]
async fn http_statuses_other_than_200_202_and_422_are_classified_by_code() {
    for (status, transient) in [
        (500, true),
        (503, true),
        (429, true),
        (404, false),
        (409, false),
    ] {
        let body = completed(switch_result()).to_string();
        let client = canned(status, body, "/json").await;
        let got = client.call(&switch_request()).await;
        assert_eq!(got, Err(CallError::Status(status)));
        assert_eq!(
            got.err().map(|e| e.is_transient()),
            Some(transient),
            "{status}"
        );
    }
}

#[tokio::test]
async fn an_answer_echoing_another_request_id_is_malformed() {
    let other = RequestId::new().to_string();
    let answers = [
        (200, completed(switch_result())),
        (422, refused(refusal_error())),
    ];
    for (status, document) in answers {
        let body = document.to_string().replace(REQUEST_ID, &other);
        let client = canned(status, body, "/json").await;
        let got = client.call(&switch_request()).await;
        assert!(
            matches!(got, Err(CallError::Malformed(_))),
            "{status}: {got:?}"
        );
    }
}

#[tokio::test]
async fn an_answer_over_one_mebibyte_is_malformed() {
    let huge = " ".repeat(transport::MAX_ANSWER_BYTES);
    let body = format!("{}{huge}", completed(switch_result()));
    let client = canned(200, body, "/json").await;
    let got = client.call(&switch_request()).await;
    assert!(
        matches!(&got, Err(CallError::Malformed(m)) if m.contains("bytes")),
        "{got:?}"
    );
}
