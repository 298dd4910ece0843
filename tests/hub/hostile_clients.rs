//! Hostile clients at the API's TLS listener: a flood of idle connections, oversized header
//! blocks and TLS renegotiation. Each leaves the server up and other clients answered
//! (docs/security.md, "Access: what bounds a client"; the slow client is in `security.rs`).

use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::harness::*;
use crate::security::{raw_connection, until_closed};

/// The API's port of a test hub.
fn port_of(api: &str) -> u16 {
    api.rsplit(':').next().unwrap().parse().unwrap()
}

/// `n` TCP connections to `port` that never start their TLS handshake.
async fn idle_connections(port: u16, n: usize) -> Vec<TcpStream> {
    let mut idle = Vec::with_capacity(n);
    for _ in 0..n {
        idle.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
    }
    idle
}

/// Whether the server still holds `tcp` open: nothing to read yet, and no end of stream.
fn still_open(tcp: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(tcp.try_read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

/// Waits until the server has closed `tcp` (end of stream or reset); panics after `within`.
async fn closed_within(tcp: &mut TcpStream, within: Duration) {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 512];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, tcp.read(&mut buf)).await {
            Err(_) => panic!("an idle connection is still open {within:?} after it was made"),
            Ok(Ok(0)) | Ok(Err(_)) => return,
            Ok(Ok(_)) => continue,
        }
    }
}

/// The same session as `user`, on a client of its own: a new connection, not one kept alive
/// from the login.
fn on_a_new_connection(app: &TestApp, user: &Retailer, company: &str) -> Retailer {
    Retailer {
        http: app.client_for(company),
        token: user.token.clone(),
        api: user.api.clone(),
    }
}

/// Hundreds of TCP connections opened and left silent do not keep a logged-in user's status
/// call from being answered while they are all still open, and the server closes each once
/// `tls_handshake_timeout_ms` has passed without a handshake.
#[tokio::test]
async fn a_flood_of_idle_connections_leaves_a_users_call_answered_and_each_is_closed_after_the_handshake_timeout()
 {
    const FLOOD: usize = 300;
    const HANDSHAKE: Duration = Duration::from_secs(5);
    let app = spawn_app_tweaked(&[], |s| {
        s.tls_handshake_timeout_ms = HANDSHAKE.as_millis() as u64
    })
    .await;
    let a = app.login(RETAILER_A).await;
    let mut idle = idle_connections(port_of(&app.api), FLOOD).await;

    let fresh = on_a_new_connection(&app, &a, RETAILER_A);
    let (status, body) = fresh.list("").await;
    assert_eq!(status, 200, "{body}");
    let open = idle.iter().filter(|c| still_open(c)).count();
    assert_eq!(
        open, FLOOD,
        "the flood was already closed when the call was answered: the test proved nothing"
    );

    for c in &mut idle {
        closed_within(c, HANDSHAKE + Duration::from_secs(15)).await;
    }
    // And the server serves on.
    let (status, _) = on_a_new_connection(&app, &a, RETAILER_A).list("").await;
    assert_eq!(status, 200);
}

/// A `kirikae api` process with `env` added to the test hub's settings: its API and ops ports.
async fn api_process(app: &TestApp, env: &[(&str, &str)]) -> (ChildProcess, u16, u16) {
    let (listen, ops) = (free_port(), free_port());
    let mut command = kirikae_process(
        app,
        &[
            "api",
            "--listen",
            &format!("127.0.0.1:{listen}"),
            "--ops-listen",
            &format!("127.0.0.1:{ops}"),
        ],
    );
    command.envs(env.iter().copied());
    let child = ChildProcess(command.spawn().expect("the kirikae binary"));
    // It serves its ops endpoints once its API listens.
    metrics_of(ops).await;
    (child, listen, ops)
}

const OPEN: &str = "kirikae_api_connections";

/// At `http_max_connections` the API accepts nothing more: a flood three times the cap never
/// makes it hold more than the cap, the rest wait in the listen backlog and are taken as the
/// idle ones time out, and a user's call that waited behind them is answered in the end.
#[tokio::test]
async fn the_api_never_holds_more_connections_than_its_cap_and_a_waiting_call_is_answered() {
    const CAP: usize = 20;
    let app = spawn_app(&[]).await;
    let cap = CAP.to_string();
    let (_api, listen, ops) = api_process(
        &app,
        &[
            ("KIRIKAE_HTTP_MAX_CONNECTIONS", cap.as_str()),
            ("KIRIKAE_TLS_HANDSHAKE_TIMEOUT_MS", "2000"),
        ],
    )
    .await;
    let a = app.login(RETAILER_A).await;
    let mut idle = idle_connections(listen, 3 * CAP).await;

    // While the first CAP are held, the count stands at the cap and never above it.
    let mut highest = 0.0f64;
    let watch_until = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < watch_until {
        highest = highest.max(sample(&metrics_of(ops).await, OPEN));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(highest, CAP as f64, "connections held at once");

    let waiting =
        on_a_new_connection(&app, &a, RETAILER_A).on(&format!("https://localhost:{listen}"));
    let (status, body) = waiting.list("").await;
    assert_eq!(status, 200, "{body}");
    for c in &mut idle {
        closed_within(c, Duration::from_secs(30)).await;
    }
    assert!(
        sample(&metrics_of(ops).await, OPEN) <= 1.0,
        "only the user's kept-alive connection may be left"
    );
}

/// A request whose header block is too large — too many fields, or one field too long — is
/// answered 431 on HTTP/1.1 and HTTP/2 alike (an HTTP/2 header list past four times the limit
/// ends its connection instead), never a 5xx nor a hang, and the server serves the next request.
#[tokio::test]
async fn an_oversized_header_block_is_refused_431_and_the_server_serves_on() {
    let app = spawn_app(&[]).await;
    let a = app.login(RETAILER_A).await;
    let head = "GET /api/v1/requests HTTP/1.1\r\nHost: localhost\r\n";
    let many: String = (0..150).map(|n| format!("X-Flood-{n}: x\r\n")).collect();
    let long = format!("X-Flood: {}\r\n", "x".repeat(64 * 1024));
    for (what, fields) in [("150 fields", many), ("one 64 KiB field", long)] {
        let mut tls = raw_connection(&app).await;
        tls.write_all(format!("{head}{fields}\r\n").as_bytes())
            .await
            .unwrap();
        tls.flush().await.unwrap();
        let sent = until_closed(&mut tls).await.unwrap();
        assert!(sent.starts_with("HTTP/1.1 431"), "{what}: {sent}");
    }

    let h2 = http_client(&app, RETAILER_A, true);
    let flooded = |n: usize, len: usize| {
        let mut req = h2
            .get(format!("{}/api/v1/requests", app.api))
            .bearer_auth(&a.token);
        for i in 0..n {
            req = req.header(format!("x-flood-{i}"), "x".repeat(len));
        }
        req.send()
    };
    // HTTP/2 counts the header list's size (each field's name and value, plus 32), not its
    // fields: 500 short fields make about 21 KiB.
    for (what, n, len) in [("500 fields", 500, 1), ("one 32 KiB field", 1, 32 * 1024)] {
        let resp = flooded(n, len).await.unwrap();
        assert_eq!(resp.version(), reqwest::Version::HTTP_2);
        assert_eq!(resp.status(), 431, "HTTP/2, {what}");
    }
    // Past four times the limit the HTTP/2 layer (h2) stops decoding and ends the connection
    // as abuse (GOAWAY, ENHANCE_YOUR_CALM) rather than answer.
    let err = flooded(1, 1024 * 1024)
        .await
        .expect_err("a 1 MiB header list");
    assert!(format!("{err:?}").contains("ENHANCE_YOUR_CALM"), "{err:?}");

    let (status, _) = on_a_new_connection(&app, &a, RETAILER_A).list("").await;
    assert_eq!(status, 200, "the server serves on");
    let resp = h2
        .get(format!("{}/api/v1/requests", app.api))
        .bearer_auth(&a.token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        200,
        "and the HTTP/2 client, on a new connection"
    );
}

/// rustls never renegotiates: a TLS 1.2 client asking to (OpenSSL's `s_client`, command `R`,
/// which sends a new ClientHello inside the session) is answered with the `no_renegotiation`
/// alert — OpenSSL then gives the connection up — and the server serves on.
#[tokio::test]
async fn a_tls_renegotiation_is_refused_with_the_no_renegotiation_alert() {
    use std::io::{Read, Write};
    use std::process::{Command, Stdio};
    let app = spawn_app(&[]).await;
    let dir = app.certs.path();
    let mut client = Command::new("openssl")
        .args([
            "s_client",
            "-tls1_2",
            "-msg",
            "-servername",
            "localhost",
            "-connect",
        ])
        .arg(format!("127.0.0.1:{}", port_of(&app.api)))
        .arg("-CAfile")
        .arg(dir.join("ca.pem"))
        .arg("-cert")
        .arg(dir.join(format!("client-{RETAILER_A}.pem")))
        .arg("-key")
        .arg(dir.join(format!("client-{RETAILER_A}.key")))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl(1), installed by scripts/lib.sh");
    let mut stdin = client.stdin.take().unwrap();
    // Give the handshake time to finish, then ask to renegotiate (a line starting with R).
    tokio::time::sleep(Duration::from_secs(2)).await;
    stdin.write_all(b"R\n").unwrap();
    stdin.flush().unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    drop(stdin);
    let deadline = Instant::now() + Duration::from_secs(20);
    while client.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = client.kill();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut said = String::new();
    client
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut said)
        .unwrap();
    client
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut said)
        .unwrap();
    let _ = client.wait();
    assert!(
        said.contains("RENEGOTIATING"),
        "the client never asked:\n{said}"
    );
    // `-msg` shows each message: "<<<" is what the server sent.
    assert!(
        said.contains("<<< TLS 1.2, Alert [length 0002], warning no_renegotiation"),
        "the server did not refuse with no_renegotiation:\n{said}"
    );

    let a = app.login(RETAILER_A).await;
    let (status, _) = a.list("").await;
    assert_eq!(status, 200, "the server serves on");
}
