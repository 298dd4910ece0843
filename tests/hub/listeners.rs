//! A process that cannot bind a listener says which, and what moves it.

use kirikae::config::Settings;
use kirikae::hub;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn a_taken_ops_or_api_address_is_named_with_its_setting_and_flag() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let settings = Settings::default();
    let shutdown = CancellationToken::new();
    let err = hub::serve_ops(&settings, addr, None, &shutdown)
        .await
        .unwrap_err();
    let text = format!("{err:#}");
    for said in [&addr.to_string(), "ops_listen", "--ops-listen", "in use"] {
        assert!(text.contains(said), "{said} not in: {text}");
    }
    let pool = hub::pool(&settings).unwrap();
    let err = hub::start_api(&settings, pool, addr, shutdown.clone())
        .await
        .unwrap_err();
    let text = format!("{err:#}");
    for said in [&addr.to_string(), "api_listen", "--listen"] {
        assert!(text.contains(said), "{said} not in: {text}");
    }
}

/// A client that sends a request's header and then stops, or trickles its body a byte at a
/// time, is answered 408 `request_timeout` once `http_body_timeout_ms` has passed and its
/// connection is closed; a body sent whole on the same settings is answered as usual.
#[tokio::test]
async fn a_request_body_that_does_not_arrive_in_time_is_answered_408_and_the_connection_closed() {
    use crate::harness::{RETAILER_A, spawn_app_tweaked};
    use crate::security::{raw_connection, until_closed};
    use tokio::io::AsyncWriteExt;
    let app = spawn_app_tweaked(&[], |s| s.http_body_timeout_ms = 500).await;
    let header = "POST /api/v1/session HTTP/1.1\r\nHost: localhost\r\n\
                  Content-Type: application/json\r\nContent-Length: 200\r\n\r\n";
    // Refused: the header and a few bytes of the body, then nothing.
    let mut stalled = raw_connection(&app).await;
    stalled
        .write_all(format!("{header}{{\"user_id\":").as_bytes())
        .await
        .unwrap();
    stalled.flush().await.unwrap();
    let sent = until_closed(&mut stalled).await.unwrap();
    assert_timed_out(&sent);
    // Refused: a byte every 100 ms, which would take 20 s for the whole body.
    let trickle = raw_connection(&app).await;
    let (mut from, mut to) = tokio::io::split(trickle);
    to.write_all(header.as_bytes()).await.unwrap();
    let writer = tokio::spawn(async move {
        for _ in 0..200 {
            if to.write_all(b" ").await.is_err() || to.flush().await.is_err() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    });
    let mut sent = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        tokio::io::AsyncReadExt::read_to_end(&mut from, &mut sent),
    )
    .await;
    assert!(
        read.is_ok(),
        "the trickling connection is still open 30 s later"
    );
    writer.abort();
    assert_timed_out(&String::from_utf8_lossy(&sent));
    // Allowed: the same request with its body sent whole (a wrong password: 401).
    let body = format!(
        "{{\"user_id\":\"{}\",\"password\":\"not-the-password-1A\"}}",
        crate::harness::user_of(RETAILER_A)
    );
    let mut whole = raw_connection(&app).await;
    let request = format!(
        "POST /api/v1/session HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    whole.write_all(request.as_bytes()).await.unwrap();
    whole.flush().await.unwrap();
    let sent = until_closed(&mut whole).await.unwrap();
    assert!(sent.starts_with("HTTP/1.1 401"), "{sent}");
}

fn assert_timed_out(sent: &str) {
    assert!(sent.starts_with("HTTP/1.1 408"), "not a 408: {sent}");
    assert!(sent.contains("\"request_timeout\""), "{sent}");
    assert!(
        sent.contains("message_ja") && sent.contains("message_en"),
        "{sent}"
    );
}
