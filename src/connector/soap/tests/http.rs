//! The client over real HTTP: endpoints that do not answer, and answers with each status.

use super::*;

#[test]
fn a_bad_endpoint_is_unreachable() {
    for endpoint in ["not a url", "ftp://127.0.0.1/soap", ""] {
        let made = SoapClient::new(endpoint, Duration::from_secs(1));
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
        SoapClient::new(&format!("http://{addr}/soap"), Duration::from_secs(2)).expect("client");
    let got = client.call(&switch_request()).await;
    assert!(matches!(&got, Err(CallError::Unreachable(_))), "{got:?}");
    assert!(got.err().is_some_and(|e| e.is_transient()));
}

/// A one-route server answering every POST with `status` and `body`, if the request carries
/// the SOAP headers (otherwise 415).
async fn canned(status: StatusCode, body: String) -> SoapClient {
    let route = axum::routing::post(move |headers: HeaderMap| async move {
        let typed = headers
            .get("content-type")
            .is_some_and(|v| v == "text/xml; charset=utf-8");
        let action = headers
            .get("soapaction")
            .is_some_and(|v| v == "\"IF_10610\"");
        if typed && action {
            (status, body)
        } else {
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, String::new())
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(axum::serve(listener, axum::Router::new().route("/soap", route)).into_future());
    SoapClient::new(&format!("http://{addr}/soap"), Duration::from_secs(5)).expect("client")
}

#[tokio::test]
async fn the_client_posts_text_xml_with_the_soap_action_and_reads_the_answer() {
    let client = canned(StatusCode::OK, answer("IF_10610", REFUSAL, &REFUSED)).await;
    let got = client.call(&switch_request()).await;
    assert!(
        matches!(got, Ok(TsoAnswer::Refused { ref code, .. }) if code == "E1001"),
        "{got:?}"
    );
}

#[tokio::test]
async fn http_statuses_other_than_200_are_classified_by_code() {
    for (status, transient) in [
        (500, true),
        (503, true),
        (429, true),
        (404, false),
        (202, false),
    ] {
        let code = StatusCode::from_u16(status).expect("status");
        let client = canned(code, xml::fault("Server", "x")).await;
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
    let other =
        answer("IF_10610", REFUSAL, &REFUSED).replace(REQUEST_ID, &RequestId::new().to_string());
    let client = canned(StatusCode::OK, other).await;
    let got = client.call(&switch_request()).await;
    assert!(matches!(got, Err(CallError::Malformed(_))), "{got:?}");
}
