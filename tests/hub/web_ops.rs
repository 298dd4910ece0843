//! The hub operator's screens (`/web/ops/…`): its own role — an operator certificate and an
//! operator account — refused to everybody else; in a real browser, the operator suspends a
//! registration and that registration's clerk, signed in in another browser, is refused on
//! its very next page; the operator replays an area's dead letters from its screen. Set
//! `KIRIKAE_SCREENSHOTS=1` to refresh the operator screens in `docs/screens/`.

use std::time::{Duration, Instant};

use kirikae::accounts::{Accounts, operators};
use kirikae::domain::{Area, UserId};
use kirikae::hub;
use serde_json::json;

use super::harness::{PASSWORD, RETAILER_A, RETAILER_B, TestApp, spawn_app, user_of};
use super::web::screenshot;
use super::web_browser::Browser;
use super::web_http::WebClient;

const OPERATOR: &str = "ops-taro";

/// The hub operator's account, made as `kirikae operator add` makes it.
async fn add_operator(app: &TestApp) {
    let accounts = Accounts::new(&app.settings, hub::pool(&app.settings).unwrap());
    operators::add_operator(
        &accounts,
        &UserId::parse(OPERATOR).unwrap(),
        "運用 太郎",
        PASSWORD,
        "operator:test",
    )
    .await
    .unwrap();
}

/// A browser presenting the operator certificate, signed in as the operator.
async fn operator_browser(app: &TestApp) -> Browser {
    let b = Browser::start(app, Some("operator")).await;
    b.goto(&format!("{}/web/ops/signin", app.api)).await;
    screenshot(&b, "ops-signin").await;
    b.fill("operator_id", OPERATOR).await;
    b.fill("password", PASSWORD).await;
    b.submit("signin").await;
    assert_eq!(b.path().await, "/web/ops/", "{}", b.source().await);
    b
}

#[tokio::test]
async fn a_non_operator_is_refused_the_operator_screens() {
    let app = spawn_app(&[]).await;
    add_operator(&app).await;
    // A clerk's machine (its company's certificate) with a clerk's session.
    let clerk = WebClient::of(&app, RETAILER_A).await;
    for path in [
        "/web/ops/",
        "/web/ops/signin",
        "/web/ops/registrations",
        "/web/ops/registrations/B0002",
        "/web/ops/maintenance",
        "/web/ops/notices",
        "/web/ops/audit",
        "/web/ops/dead-letters",
    ] {
        let s = clerk.get(path).await;
        assert_eq!(s.status, 403, "{path}: {}", s.html);
        assert!(s.html.contains("operator_required"), "{path}: {}", s.html);
    }
    // Even the operator's own ID and password do not sign in from a clerk's machine.
    let s = clerk
        .post(
            "/web/ops/signin",
            &[("operator_id", OPERATOR), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(s.status, 403, "{}", s.html);
    assert!(s.html.contains("operator_required"), "{}", s.html);
    // Nor does an action posted from there do anything: B0002 is still active.
    let s = clerk
        .post(
            "/web/ops/registrations/B0002/status",
            &[("status", "suspended")],
        )
        .await;
    assert_eq!(s.status, 403, "{}", s.html);
    app.login(RETAILER_B).await;
    // The operator's certificate with a clerk's session token, in either cookie, is no
    // operator session: it is sent to the operator's sign-in.
    let certs = app.certs.path();
    let op = super::harness::https_client(certs, certs, Some("client-operator"));
    for cookie in ["__Host-kirikae-operator", "__Host-kirikae-session"] {
        let resp = op
            .get(format!("{}/web/ops/registrations", app.api))
            .header("cookie", format!("{cookie}={}", clerk.api.token))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.url().path(), "/web/ops/signin", "{cookie}");
        assert_eq!(resp.status(), 200, "{cookie}");
    }
}

#[tokio::test]
async fn the_hub_operator_suspends_a_registration_and_its_clerk_is_refused_at_once() {
    let app = spawn_app(&[]).await;
    add_operator(&app).await;
    let clerk = Browser::start(&app, Some(RETAILER_A)).await;
    clerk.sign_in(&app, &user_of(RETAILER_A), PASSWORD).await;
    assert_eq!(clerk.path().await, "/web/");

    let op = operator_browser(&app).await;
    screenshot(&op, "ops-menu").await;
    op.goto(&format!("{}/web/ops/registrations", app.api)).await;
    screenshot(&op, "ops-registrations").await;
    op.goto(&format!("{}/web/ops/registrations/{RETAILER_A}", app.api))
        .await;
    assert_eq!(op.text("status").await.as_deref(), Some("active"));
    op.submit("suspend").await;
    assert_eq!(op.text("status").await.as_deref(), Some("suspended"));
    screenshot(&op, "ops-registration-suspended").await;

    // The clerk's open session: its next page is the refusal (the registration gate is read
    // again within `sessions::TRUST`, 1 s).
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        clerk.goto(&format!("{}/web/requests", app.api)).await;
        let code = clerk.text("refusal-code").await;
        if code.as_deref() == Some("registration_suspended") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the suspended registration's clerk still gets {code:?}: {}",
            clerk.source().await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        clerk
            .text("refusal-ja")
            .await
            .unwrap_or_default()
            .contains("中断"),
        "the refusal in Japanese"
    );
    screenshot(&clerk, "ops-clerk-refused").await;

    // The trail names the operator, filtered by what and company.
    op.goto(&format!(
        "{}/web/ops/audit?what=registration&company={RETAILER_A}",
        app.api
    ))
    .await;
    let trail = op.text("audit").await.unwrap_or_default();
    assert!(
        trail.contains("registration.suspended") && trail.contains(&format!("operator:{OPERATOR}")),
        "{trail}"
    );
    screenshot(&op, "ops-audit").await;

    // Resumed, the clerk's session works again.
    op.goto(&format!("{}/web/ops/registrations/{RETAILER_A}", app.api))
        .await;
    op.submit("resume").await;
    assert_eq!(op.text("status").await.as_deref(), Some("active"));
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        clerk.goto(&format!("{}/web/", app.api)).await;
        if clerk.text("refusal-code").await.is_none() && clerk.path().await == "/web/" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the resumed clerk is still refused"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_hub_operator_replays_an_areas_dead_letters_from_its_screen() {
    let area = Area::Shikoku;
    let app = spawn_app(&[area]).await;
    add_operator(&app).await;
    app.set_sim_mode(area, json!({"mode": "fail"})).await;
    let a = app.login(RETAILER_A).await;
    let (point, _) = app.point(area, 2);
    let id = a.facility_inquiry(&point).await;
    assert_eq!(a.final_status(&id).await["status"], "failed");
    app.set_sim_mode(area, json!({"mode": "normal"})).await;

    let op = operator_browser(&app).await;
    op.goto(&format!("{}/web/ops/dead-letters", app.api)).await;
    assert_eq!(
        op.text(&format!("depth-{}", area.code())).await.as_deref(),
        Some("1")
    );
    op.goto(&format!(
        "{}/web/ops/dead-letters?area={}",
        app.api,
        area.code()
    ))
    .await;
    assert!(op.text("letters").await.unwrap_or_default().contains(&id));
    screenshot(&op, "ops-dead-letters").await;
    op.submit("replay-all").await;
    assert_eq!(op.text("done").await.as_deref(), Some("1 件を再送しました"));
    a.wait_for_status(&id, "completed").await;
}

/// An HTTPS client presenting the operator certificate that does not follow redirects, so
/// the sign-in's cookie can be read off its answer.
fn operator_http(app: &TestApp) -> reqwest::Client {
    let dir = app.certs.path();
    let ca = std::fs::read(dir.join("ca.pem")).unwrap();
    let mut pem = std::fs::read(dir.join("client-operator.pem")).unwrap();
    pem.extend(std::fs::read(dir.join("client-operator.key")).unwrap());
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .identity(reqwest::Identity::from_pem(&pem).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .http1_only()
        .build()
        .unwrap()
}

/// The value of the cookie `name` an answer sets.
fn set_cookie(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap_or_default().to_string())
}

/// Signs the operator in through the sign-in form over plain HTTPS; its session token.
async fn operator_token(app: &TestApp, http: &reqwest::Client) -> String {
    let resp = http
        .get(format!("{}/web/ops/signin", app.api))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let signin = set_cookie(&resp, "__Host-kirikae-signin").expect("the sign-in's CSRF cookie");
    let html = resp.text().await.unwrap();
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    let resp = http
        .post(format!("{}/web/ops/signin", app.api))
        .header("cookie", format!("__Host-kirikae-signin={signin}"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("operator_id", OPERATOR),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    set_cookie(&resp, "__Host-kirikae-operator").expect("the operator's session cookie")
}

/// The status of GET `path` on `api` with the operator session `token`.
async fn status_on(http: &reqwest::Client, api: &str, token: &str) -> u16 {
    http.get(format!("{api}/web/ops/registrations"))
        .header("cookie", format!("__Host-kirikae-operator={token}"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn an_operator_disabled_at_the_cli_is_signed_out_on_every_process_at_once() {
    let app = spawn_app(&[]).await;
    add_operator(&app).await;
    let http = operator_http(&app);
    let token = operator_token(&app, &http).await;
    let second = app.second_api().await;
    assert_eq!(status_on(&http, &app.api, &token).await, 200);
    assert_eq!(status_on(&http, &second, &token).await, 200);

    let pool = hub::pool(&app.settings).unwrap();
    operators::set_operator_enabled(&pool, OPERATOR, false, "operator:test")
        .await
        .unwrap();
    // No cache to wait out: the very next request on either process is sent to sign in.
    assert_eq!(status_on(&http, &app.api, &token).await, 303);
    assert_eq!(status_on(&http, &second, &token).await, 303);

    let filter = kirikae::audit::AuditFilter {
        what: Some("operator".into()),
        ..Default::default()
    };
    let trail: Vec<String> = kirikae::audit::search(&pool, &filter, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| format!("{} {}", e.user_id, e.action))
        .collect();
    assert!(
        trail.contains(&format!("operator:{OPERATOR} operator.login"))
            && trail.contains(&"operator:test operator.disable".to_string()),
        "{trail:?}"
    );
}

#[tokio::test]
async fn a_maintenance_window_in_force_closes_the_clerks_screens_but_not_the_operators() {
    let app = spawn_app(&[]).await;
    add_operator(&app).await;
    let http = operator_http(&app);
    let token = operator_token(&app, &http).await;
    let clerk = WebClient::of(&app, RETAILER_A).await;
    let pool = hub::pool(&app.settings).unwrap();
    let until = chrono::Utc::now() + chrono::Duration::hours(1);
    kirikae::accounts::maintenance::start_maintenance(&pool, None, until, "点検")
        .await
        .unwrap();
    // The gate's look-up is cached briefly: poll for the closure.
    let deadline = Instant::now() + Duration::from_secs(10);
    while clerk.get("/web/").await.status != 503 {
        assert!(
            Instant::now() < deadline,
            "the clerk's screens never closed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The operator still reaches its screens, and stops the window there.
    let page = http
        .get(format!("{}/web/ops/maintenance", app.api))
        .header("cookie", format!("__Host-kirikae-operator={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("点検"), "{html}");
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    let stopped = http
        .post(format!("{}/web/ops/maintenance/stop", app.api))
        .header("cookie", format!("__Host-kirikae-operator={token}"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(stopped.status(), 303);
    let deadline = Instant::now() + Duration::from_secs(10);
    while clerk.get("/web/").await.status != 200 {
        assert!(
            Instant::now() < deadline,
            "the clerk's screens never opened again"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
