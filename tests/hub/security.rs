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

/// A login of an unknown user id is answered exactly as a wrong password: the same status and
/// the same body, so the answer tells no id apart (the same argon2 work is unit-checked by
/// `accounts::login`'s dummy hash).
#[tokio::test]
async fn an_unknown_user_is_answered_exactly_as_a_wrong_password() {
    let app = spawn_app(&[]).await;
    let http = app.client_for(RETAILER_A);
    let mut answers = Vec::new();
    for user in [user_of(RETAILER_A), "nobody-here".into()] {
        let resp = http
            .post(format!("{}/api/v1/session", app.api))
            .json(&json!({"user_id": user, "password": "not-the-password"}))
            .send()
            .await
            .unwrap();
        answers.push((resp.status().as_u16(), resp.text().await.unwrap()));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0].0, 401);
}

/// Logins beyond the per-user and per-certificate rates are answered 429 `rate_limited` with
/// `Retry-After`, before any password is checked; another certificate is not affected.
#[tokio::test]
async fn login_bursts_for_one_user_or_one_certificate_are_refused_429_with_a_code() {
    let app = spawn_app_tweaked(&[], |s| {
        s.login_per_user_per_min = 3;
        s.login_per_certificate_per_min = 5;
    })
    .await;
    let http = app.client_for(RETAILER_A);
    let login = |user: String, password: &'static str| {
        let http = http.clone();
        let url = format!("{}/api/v1/session", app.api);
        async move {
            let resp = http
                .post(url)
                .json(&json!({"user_id": user, "password": password}))
                .send()
                .await
                .unwrap();
            let retry = resp.headers().get("retry-after").cloned();
            let body: serde_json::Value = resp.json().await.unwrap();
            (body["code"].as_str().map(str::to_string), retry)
        }
    };
    let wrong = "not-the-password";
    for _ in 0..3 {
        let (code, _) = login(user_of(RETAILER_A), wrong).await;
        assert_eq!(code.as_deref(), Some("invalid_credentials"));
    }
    // The user's fourth in the minute is refused, even with the right password.
    let (code, retry) = login(user_of(RETAILER_A), PASSWORD).await;
    assert_eq!(code.as_deref(), Some("rate_limited"));
    assert!(retry.is_some(), "no Retry-After");
    // Allowed: another user on the same certificate (its fifth login)...
    let (code, _) = login("staff.other".into(), wrong).await;
    assert_eq!(code.as_deref(), Some("invalid_credentials"));
    // ...but not a sixth, whoever it is for.
    let (code, _) = login("staff.third".into(), wrong).await;
    assert_eq!(code.as_deref(), Some("rate_limited"));
    // Allowed: another certificate's logins.
    assert!(!app.login(RETAILER_B).await.token.is_empty());
}

/// A TLS connection to the API as company A's certificate, offering HTTP/1.1 only.
pub(crate) async fn raw_connection(
    app: &TestApp,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    let dir = app.certs.path();
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_file_iter(dir.join("ca.pem")).unwrap() {
        roots.add(ca.unwrap()).unwrap();
    }
    let chain = CertificateDer::pem_file_iter(dir.join(format!("client-{RETAILER_A}.pem")))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join(format!("client-{RETAILER_A}.key"))).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let port = app.api.rsplit(':').next().unwrap();
    let tcp = tokio::net::TcpStream::connect(format!("127.0.0.1:{port}"))
        .await
        .unwrap();
    tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap()
}

/// Reads until the server closes the connection (or 30 s pass: then it never did): what it
/// sent before closing.
pub(crate) async fn until_closed(
    tls: &mut tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
) -> Result<String, &'static str> {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(std::time::Duration::from_secs(30), tls.read(&mut buf)).await {
            Err(_) => return Err("the connection is still open 30 s later"),
            Ok(Ok(0)) | Ok(Err(_)) => return Ok(String::from_utf8_lossy(&got).into_owned()),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// A client that opens TCP and TLS and sends half a request header is dropped once the
/// header timeout passes, and so is an idle kept-alive connection; a whole header is answered.
#[tokio::test]
async fn a_slow_client_is_dropped_after_the_header_timeout() {
    use tokio::io::AsyncWriteExt;
    let app = spawn_app_tweaked(&[], |s| s.http_header_timeout_ms = 1000).await;
    // Refused: half a header, then nothing.
    let mut slow = raw_connection(&app).await;
    slow.write_all(b"GET /api/v1/requests HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .await
        .unwrap();
    slow.flush().await.unwrap();
    let sent = until_closed(&mut slow).await.unwrap();
    assert!(
        sent.is_empty() || sent.starts_with("HTTP/1.1 408"),
        "answered half a header: {sent}"
    );
    // Allowed: a whole header is answered (401: no token), and the connection, kept alive,
    // is closed once idle for the timeout.
    let mut whole = raw_connection(&app).await;
    whole
        .write_all(b"GET /api/v1/requests HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    whole.flush().await.unwrap();
    let sent = until_closed(&mut whole).await.unwrap();
    assert!(sent.starts_with("HTTP/1.1 401"), "{sent}");
}

/// Password checks run in a bounded pool and hold no database connection while they wait or
/// work: a flood of logins (each costing argon2) leaves a logged-in user's status call
/// answered, on a pool of three connections, while the logins are still being worked through.
#[tokio::test]
async fn many_concurrent_logins_do_not_block_a_logged_in_users_status_call() {
    let app = spawn_app_tweaked(&[], |s| {
        s.database_pool_size = 3;
        s.login_per_certificate_per_min = 10_000;
    })
    .await;
    let a = app.login(RETAILER_A).await;
    let http = app.client_for(RETAILER_A);
    const LOGINS: usize = 64;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut flood = Vec::new();
    for n in 0..LOGINS {
        let (http, url, done) = (
            http.clone(),
            format!("{}/api/v1/session", app.api),
            done.clone(),
        );
        flood.push(tokio::spawn(async move {
            let resp = http
                .post(url)
                .json(&json!({"user_id": format!("flood-{n}"), "password": "not-the-password"}))
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let body: serde_json::Value = resp.json().await.unwrap();
            done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            (status, body["code"].as_str().map(str::to_string))
        }));
    }
    let (status, body) = a.list("").await;
    let finished = done.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(status, 200, "{body}");
    assert!(
        finished < LOGINS,
        "the logins were all done before the status call: the test proved nothing"
    );
    // Each login is answered: wrong credentials, or `busy` if it waited its bounded time.
    for login in flood {
        let (status, code) = login.await.unwrap();
        assert!(
            (status, code.as_deref()) == (401, Some("invalid_credentials"))
                || (status, code.as_deref()) == (503, Some("busy")),
            "{status} {code:?}"
        );
    }
}

/// A database error is logged as its SQLSTATE and the server's message, never its DETAIL,
/// which quotes the row's values (here a mail address in a unique violation).
#[tokio::test]
async fn a_database_errors_detail_never_reaches_the_refusal_that_is_logged() {
    let (db, connection) = tokio_postgres::connect(
        "host=127.0.0.1 user=postgres dbname=postgres",
        tokio_postgres::NoTls,
    )
    .await
    .expect("the test PostgreSQL");
    tokio::spawn(connection);
    db.batch_execute("CREATE TEMP TABLE mail_once (mail text PRIMARY KEY)")
        .await
        .unwrap();
    let insert = "INSERT INTO mail_once VALUES ('hanako.sato@example.jp')";
    db.execute(insert, &[]).await.unwrap();
    let error = db
        .execute(insert, &[])
        .await
        .expect_err("a unique violation");
    let detail = error
        .as_db_error()
        .and_then(|e| e.detail())
        .unwrap_or_default();
    assert!(
        detail.contains("hanako.sato@example.jp"),
        "the server quotes the value: {detail}"
    );
    let refusal = kirikae::domain::Refusal::from(error);
    for logged in [
        format!("{refusal}"),
        format!("{refusal:?}"),
        format!("{refusal:#}"),
    ] {
        assert!(!logged.contains("hanako.sato"), "{logged}");
        assert!(logged.contains("23505"), "the SQLSTATE stays: {logged}");
    }
}
