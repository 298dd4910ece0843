//! Issue 5, the registration side: two registrations of a company that is both kinds, the
//! administrator ID issued once, client certificates registered by fingerprint with validity
//! dates, suspension and end, the rate limit and maintenance, and the append-only audit trail
//! the operator reads at the CLI.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use kirikae::accounts::registrations::{
    self, NewRegistration, RegistrationError, RegistrationStatus,
};
use kirikae::accounts::{Accounts, certificates, maintenance};
use kirikae::domain::{Area, CompanyCode, CompanyKind, CorporateNumber, UserId};
use serde_json::{Value, json};

use crate::harness::*;

/// Longer than the API's caches of registrations and maintenance (1 s).
const CACHE: Duration = Duration::from_millis(1200);

fn code(c: &str) -> CompanyCode {
    CompanyCode::parse(c).unwrap()
}

/// A second client certificate of `company`, from the test CA, written to `dir`
/// (`client-<company>.pem`/`.key`); not registered.
fn another_certificate(app: &TestApp, dir: &Path, company: &str) {
    for f in ["ca.pem", "ca.key"] {
        std::fs::copy(app.certs.path().join(f), dir.join(f)).unwrap();
    }
    kirikae::certs::generate(dir, "kirikae test CA", &[code(company)]).unwrap();
}

async fn login_with(app: &TestApp, http: &reqwest::Client, company: &str) -> (u16, Value) {
    let resp = http
        .post(format!("{}/api/v1/session", app.api))
        .json(&json!({"user_id": user_of(company), "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

async fn list_with(app: &TestApp, http: &reqwest::Client, token: &str) -> (u16, Value) {
    let resp = http
        .get(format!("{}/api/v1/requests", app.api))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn the_administrator_id_is_issued_once() {
    let app = spawn_app(&[]).await;
    let pool = kirikae::hub::pool(&app.settings).unwrap();
    // The harness's registrations have theirs already: two new ones.
    let a = app.register_without_administrator("C0004").await;
    let b = app.register_without_administrator("C0005").await;
    let admin = UserId::parse("admin-a0001").unwrap();
    Accounts::new(&app.settings, pool.clone())
        .issue_admin(&a, &admin, "管理 太郎", "Admin-Password-2026")
        .await
        .expect("the first issue");
    let second = UserId::parse("admin2-a0001").unwrap();
    let refused = Accounts::new(&app.settings, pool.clone())
        .issue_admin(&a, &second, "管理 次郎", "Admin-Password-2026")
        .await;
    assert!(
        matches!(refused, Err(RegistrationError::AdminAlreadyIssued(_, ref u)) if u == "admin-a0001"),
        "{refused:?}"
    );
    let client = pool.get().await.unwrap();
    let admins: Vec<(String, bool)> = client
        .query(
            "SELECT user_id, administrator FROM users
             WHERE user_id IN ('admin-a0001', 'admin2-a0001')",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(admins, [("admin-a0001".to_string(), true)]);
    // Another registration still gets its own, and both issues are in the audit trail.
    Accounts::new(&app.settings, pool.clone())
        .issue_admin(
            &b,
            &UserId::parse("admin-b0002").unwrap(),
            "",
            "Admin-Password-2026",
        )
        .await
        .expect("B's first issue");
    let trail = kirikae::audit::audit_log(
        &pool,
        Some(a.as_str()),
        Utc::now() - chrono::Duration::hours(1),
    )
    .await
    .unwrap();
    assert_eq!(
        trail
            .iter()
            .filter(|e| e.action == "registration.issue_admin")
            .count(),
        1
    );
}

#[tokio::test]
async fn a_request_with_an_unregistered_certificate_is_refused() {
    let app = spawn_app(&[]).await;
    let other = tempfile::tempdir().unwrap();
    another_certificate(&app, other.path(), RETAILER_A);
    let unregistered = https_client(app.certs.path(), other.path(), Some("client-A0001"));
    // Login with it is refused…
    let (status, body) = login_with(&app, &unregistered, RETAILER_A).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["code"], "certificate_not_registered");
    // …and so is a call with a token obtained on a registered machine.
    let a = app.login(RETAILER_A).await;
    let (status, body) = list_with(&app, &unregistered, &a.token).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["code"], "certificate_not_registered");
    assert_eq!(list_with(&app, &a.http, &a.token).await.0, 200);
    // Once the operator registers it, the machine is accepted.
    let pool = kirikae::hub::pool(&app.settings).unwrap();
    let pem = std::fs::read(other.path().join("client-A0001.pem")).unwrap();
    certificates::register_certificate(&pool, &code(RETAILER_A), &pem, None)
        .await
        .unwrap();
    // A certificate is registered to one registration only.
    let taken = certificates::register_certificate(&pool, &code(RETAILER_B), &pem, None).await;
    assert!(taken.is_err(), "{taken:?}");
    tokio::time::sleep(CACHE).await;
    assert_eq!(list_with(&app, &unregistered, &a.token).await.0, 200);
}

#[tokio::test]
async fn an_expired_certificate_is_refused_and_an_overlapping_renewal_is_accepted() {
    let app = spawn_app(&[]).await;
    let pool = kirikae::hub::pool(&app.settings).unwrap();
    let renewal_dir = tempfile::tempdir().unwrap();
    another_certificate(&app, renewal_dir.path(), RETAILER_A);
    let renewal_pem = std::fs::read(renewal_dir.path().join("client-A0001.pem")).unwrap();
    certificates::register_certificate(&pool, &code(RETAILER_A), &renewal_pem, None)
        .await
        .unwrap();
    let old = app.client_for(RETAILER_A);
    let renewed = https_client(app.certs.path(), renewal_dir.path(), Some("client-A0001"));
    // Both valid at once: the machines switch over without downtime.
    let a = app.login(RETAILER_A).await;
    assert_eq!(login_with(&app, &renewed, RETAILER_A).await.0, 200);
    assert_eq!(list_with(&app, &old, &a.token).await.0, 200);
    assert_eq!(list_with(&app, &renewed, &a.token).await.0, 200);
    // The old certificate's registration runs out.
    let old_pem = std::fs::read(app.certs.path().join("client-A0001.pem")).unwrap();
    let now = Utc::now();
    certificates::register_certificate(
        &pool,
        &code(RETAILER_A),
        &old_pem,
        Some((
            now - chrono::Duration::days(30),
            now - chrono::Duration::seconds(1),
        )),
    )
    .await
    .unwrap();
    tokio::time::sleep(CACHE).await;
    let (status, body) = login_with(&app, &old, RETAILER_A).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["code"], "certificate_expired");
    let (status, body) = list_with(&app, &old, &a.token).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["code"], "certificate_expired");
    // The renewal carries on.
    assert_eq!(list_with(&app, &renewed, &a.token).await.0, 200);
    assert_eq!(login_with(&app, &renewed, RETAILER_A).await.0, 200);
}

#[tokio::test]
async fn a_suspended_registration_is_refused_at_once_but_its_in_flight_requests_complete() {
    let app = spawn_app(&[Area::Tokyo]).await;
    let pool = kirikae::hub::pool(&app.settings).unwrap();
    app.set_sim_mode(Area::Tokyo, json!({"mode": "hang"})).await;
    let a = app.login(RETAILER_A).await;
    let b = app.login(RETAILER_B).await;
    let (point, _) = app.point(Area::Tokyo, 3);
    let id = a.facility_inquiry(&point).await;
    let sim = app.sim(Area::Tokyo).1.clone();
    eventually(60, "the connector's call", || sim.calls() >= 1).await;

    registrations::set_status(&pool, &code(RETAILER_A), RegistrationStatus::Suspended)
        .await
        .unwrap();
    let suspended_at = Instant::now();
    // Within the cache's second every new call is refused, the session notwithstanding.
    loop {
        let (status, body) = a.list("").await;
        if status == 403 {
            assert_eq!(body["code"], "registration_suspended");
            break;
        }
        assert!(suspended_at.elapsed() < CACHE, "still answered {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let resp = a
        .submit(
            "facility-inquiry",
            json!({"supply_point_id": point.as_str()}),
        )
        .await;
    assert_eq!(resp.status(), 403);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["code"],
        "registration_suspended"
    );
    let (status, body) = login_with(&app, &a.http, RETAILER_A).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("registration_suspended"))
    );
    // Another registration is not affected.
    assert_eq!(b.list("").await.0, 200);

    // The request already in flight completes.
    app.set_sim_mode(Area::Tokyo, json!({"mode": "normal"}))
        .await;
    let client = pool.get().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let status: String = client
            .query_one(
                "SELECT status FROM requests WHERE request_id = $1::text::uuid",
                &[&id],
            )
            .await
            .unwrap()
            .get(0);
        if status == "completed" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the in-flight request stuck at {status}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Resumed, the registration sees it.
    registrations::set_status(&pool, &code(RETAILER_A), RegistrationStatus::Active)
        .await
        .unwrap();
    tokio::time::sleep(CACHE).await;
    assert_eq!(a.status(&id).await.1["status"], "completed");
}

#[tokio::test]
async fn an_ended_registration_is_refused_and_its_data_kept() {
    let app = spawn_app(&[Area::Tokyo]).await;
    let pool = kirikae::hub::pool(&app.settings).unwrap();
    let a = app.login(RETAILER_A).await;
    let (point, _) = app.point(Area::Tokyo, 4);
    let id = a.facility_inquiry(&point).await;
    assert_eq!(a.final_status(&id).await["status"], "completed");

    registrations::set_status(&pool, &code(RETAILER_A), RegistrationStatus::Ended)
        .await
        .unwrap();
    tokio::time::sleep(CACHE).await;
    let (status, body) = a.status(&id).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("registration_ended"))
    );
    let (status, body) = login_with(&app, &a.http, RETAILER_A).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("registration_ended"))
    );
    // An end is final…
    let resumed =
        registrations::set_status(&pool, &code(RETAILER_A), RegistrationStatus::Active).await;
    assert!(
        matches!(resumed, Err(RegistrationError::Ended(_))),
        "{resumed:?}"
    );
    // …and the data is kept.
    let client = pool.get().await.unwrap();
    let kept = client
        .query_opt(
            "SELECT status FROM requests WHERE request_id = $1::text::uuid AND company_code = $2",
            &[&id, &RETAILER_A],
        )
        .await
        .unwrap();
    assert_eq!(
        kept.map(|r| r.get::<_, String>(0)).as_deref(),
        Some("completed")
    );
    let users: i64 = client
        .query_one(
            "SELECT count(*) FROM users WHERE company_code = $1",
            &[&RETAILER_A],
        )
        .await
        .unwrap()
        .get(0);
    assert!(users >= 1);
}

#[tokio::test]
async fn over_the_rate_limit_is_429_with_retry_after() {
    let app = spawn_app_tweaked(&[], |s| {
        s.rate_limit_per_sec = 1;
        s.rate_limit_burst = 3;
    })
    .await;
    let a = app.login(RETAILER_A).await;
    let mut refused = None;
    for _ in 0..10 {
        let resp = a
            .http
            .get(format!("{}/api/v1/requests", app.api))
            .bearer_auth(&a.token)
            .send()
            .await
            .unwrap();
        if resp.status() == 429 {
            refused = Some(resp);
            break;
        }
        assert_eq!(resp.status(), 200);
    }
    let resp = refused.expect("the burst of 3 was exceeded without a 429");
    let retry_after: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    // Another registration has its own allowance…
    let b = app.login(RETAILER_B).await;
    assert_eq!(b.list("").await.0, 200);
    // …and after waiting, A is served again.
    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    assert_eq!(a.list("").await.0, 200);
}

#[tokio::test]
async fn maintenance_answers_503_with_the_planned_end() {
    let app = spawn_app(&[]).await;
    let pool = kirikae::hub::pool(&app.settings).unwrap();
    let a = app.login(RETAILER_A).await;
    // A window planned for later does not close the service now.
    let now = Utc::now();
    maintenance::start_maintenance(
        &pool,
        Some(now + chrono::Duration::hours(5)),
        now + chrono::Duration::hours(6),
        "later",
    )
    .await
    .unwrap();
    tokio::time::sleep(CACHE).await;
    assert_eq!(a.list("").await.0, 200);

    let until = Utc::now() + chrono::Duration::hours(1);
    maintenance::start_maintenance(&pool, None, until, "定期保守")
        .await
        .unwrap();
    tokio::time::sleep(CACHE).await;
    for resp in [
        a.http
            .get(format!("{}/api/v1/requests", app.api))
            .bearer_auth(&a.token)
            .send()
            .await
            .unwrap(),
        a.http
            .post(format!("{}/api/v1/session", app.api))
            .json(&json!({"user_id": user_of(RETAILER_A), "password": PASSWORD}))
            .send()
            .await
            .unwrap(),
    ] {
        assert_eq!(resp.status(), 503);
        let retry_after: i64 = resp.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((3500..=3601).contains(&retry_after), "{retry_after}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["code"], "maintenance");
        let planned: chrono::DateTime<Utc> = body["until"].as_str().unwrap().parse().unwrap();
        assert!((planned - until).num_milliseconds().abs() < 1000, "{body}");
        assert!(body["message_ja"].as_str().unwrap().contains("定期保守"));
    }
    maintenance::stop_maintenance(&pool).await.unwrap();
    tokio::time::sleep(CACHE).await;
    assert_eq!(a.list("").await.0, 200);
    let trail = kirikae::audit::audit_log(&pool, Some("-"), now - chrono::Duration::minutes(5))
        .await
        .unwrap();
    let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["maintenance.start", "maintenance.start", "maintenance.stop"]
    );
}

#[tokio::test]
async fn a_company_that_sells_and_runs_dr_has_two_separate_registrations() {
    let app = spawn_app(&[Area::Tokyo]).await;
    let pool = kirikae::hub::pool(&app.settings).unwrap();
    let number = CorporateNumber::with_check_digit("700000000001").unwrap();
    let register = |code: &'static str, kind: CompanyKind| {
        let (pool, number) = (pool.clone(), number.clone());
        async move {
            registrations::register_company(
                &pool,
                &NewRegistration {
                    code: &CompanyCode::parse(code).unwrap(),
                    name: "両方電力株式会社",
                    kind,
                    contact_email: Some("contact@example.jp"),
                    corporate_number: Some(&number),
                },
            )
            .await
        }
    };
    // One of each kind under one 法人番号, each under its own code…
    register(RETAILER_A, CompanyKind::Retailer).await.unwrap();
    register(DR_CONTRACTOR, CompanyKind::DrContractor)
        .await
        .unwrap();
    let both = registrations::registrations_of(&pool, &number)
        .await
        .unwrap();
    assert_eq!(
        both,
        [
            (code(RETAILER_A), CompanyKind::Retailer),
            (code(DR_CONTRACTOR), CompanyKind::DrContractor)
        ]
    );
    // …never a second of one kind, and a registration's kind does not change.
    let second = register("C0004", CompanyKind::Retailer).await;
    assert!(
        matches!(second, Err(RegistrationError::SecondOfKind { ref existing, .. }) if existing == RETAILER_A),
        "{second:?}"
    );
    let changed = registrations::register_company(
        &pool,
        &NewRegistration {
            code: &code(RETAILER_A),
            name: "両方電力株式会社",
            kind: CompanyKind::DrContractor,
            contact_email: None,
            corporate_number: None,
        },
    )
    .await;
    assert!(
        matches!(changed, Err(RegistrationError::KindChange(_))),
        "{changed:?}"
    );
    // The two are separate: the retailer's requests are not the DR registration's, the DR
    // registration cannot call retailer functions, and neither certificate serves the other.
    let a = app.login(RETAILER_A).await;
    let dr = app.login(DR_CONTRACTOR).await;
    let (point, _) = app.point(Area::Tokyo, 9);
    let id = a.facility_inquiry(&point).await;
    assert_eq!(dr.status(&id).await.0, 404);
    let resp = dr
        .submit(
            "reconnection",
            reconnection_body(&vacant_point(Area::Tokyo, 7)),
        )
        .await;
    assert_eq!(resp.status(), 403);
    let (status, body) = login_with(&app, &a.http, DR_CONTRACTOR).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("invalid_credentials"))
    );
    assert_eq!(list_with(&app, &a.http, &dr.token).await.0, 403);
}

#[tokio::test]
async fn the_audit_log_trigger_refuses_update_delete_and_truncate_even_to_the_owner() {
    let app = spawn_app(&[]).await;
    let pool = kirikae::hub::pool(&app.settings).unwrap();
    registrations::set_status(&pool, &code(RETAILER_B), RegistrationStatus::Suspended)
        .await
        .unwrap();
    // The owner of the table, who is granted everything on it: only the triggers stand in the
    // way. (The hub's own role is refused before them: tests/hub/audit_trail.rs.)
    let owner = kirikae::db::Connect::owner(&app.settings).unwrap();
    let client = owner.connect().await.unwrap();
    let count = || async {
        client
            .query_one("SELECT count(*) FROM audit_log", &[])
            .await
            .unwrap()
            .get::<_, i64>(0)
    };
    let before = count().await;
    assert!(before > 0);
    // The triggers refuse every UPDATE, DELETE and TRUNCATE, whoever sends it. Dropping them
    // first is the owner's deliberate schema change (V6's note: a database administrator's
    // act after the retention period), which the hub's own role cannot make.
    for (sql, op) in [
        ("UPDATE audit_log SET user_id = 'someone-else'", "UPDATE"),
        ("DELETE FROM audit_log", "DELETE"),
        ("TRUNCATE audit_log", "TRUNCATE"),
    ] {
        let err = client.execute(sql, &[]).await.unwrap_err();
        let db = err.as_db_error().unwrap_or_else(|| panic!("{sql}: {err}"));
        assert_eq!(
            db.code(),
            &tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE,
            "{sql}: {err}"
        );
        assert_eq!(
            db.message(),
            format!("audit_log is append-only: {op} refused"),
            "{sql}"
        );
    }
    assert_eq!(count().await, before);
    // Appending still works, and the API offers no path to the trail at all.
    registrations::set_status(&pool, &code(RETAILER_B), RegistrationStatus::Active)
        .await
        .unwrap();
    assert_eq!(count().await, before + 1);
    let a = app.login(RETAILER_A).await;
    let (_, doc) = a.get("/openapi.json").await;
    let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    assert!(paths.iter().all(|p| !p.contains("audit")), "{paths:?}");
}

#[tokio::test]
async fn the_operator_registers_publishes_and_reads_the_audit_log_from_the_cli() {
    let app = spawn_app(&[]).await;
    let kirikae = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kirikae"))
            .args(args)
            .env("KIRIKAE_DATABASE_URL", &app.settings.database_url)
            .env("KIRIKAE_KAFKA_BROKERS", &app.settings.kafka_brokers)
            .env("USER", "cli-test")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let number = CorporateNumber::with_check_digit("700000000002")
        .unwrap()
        .to_string();
    let (ok, out, err) = kirikae(&[
        "company",
        "--code",
        "C0005",
        "--name",
        "CLI電力",
        "--kind",
        "dr_contractor",
        "--contact-email",
        "cli@example.jp",
        "--corporate-number",
        &number,
    ]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("C0005"), "{out}");
    // A mistyped 法人番号 is refused before anything is written.
    let (ok, _, err) = kirikae(&[
        "company",
        "--code",
        "C0006",
        "--name",
        "x",
        "--corporate-number",
        "1234567890123",
    ]);
    assert!(!ok);
    assert!(err.contains("check digit"), "{err}");
    let (ok, out, err) = kirikae(&["company", "suspend", "--code", "C0005"]);
    assert!(ok, "{out}{err}");
    let (ok, out, err) = kirikae(&[
        "notice",
        "publish",
        "--title",
        "利用規約の変更",
        "--body",
        "本文",
        "--terms-change",
    ]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("queued"), "{out}");
    let (ok, out, err) = kirikae(&["audit", "--company", "C0005", "--since", "1h"]);
    assert!(ok, "{out}{err}");
    for action in ["registration.register", "registration.suspended"] {
        assert!(
            out.lines()
                .any(|l| l.contains(action) && l.contains("operator:cli-test")),
            "{action} missing from:\n{out}"
        );
    }
    let (ok, out, _) = kirikae(&["audit", "--company", "-", "--since", "1h"]);
    assert!(ok && out.contains("notice.publish"), "{out}");
    assert!(!out.contains("registration.register"), "{out}");
}

#[tokio::test]
async fn the_audit_trail_is_relayed_in_order_to_the_audit_topic() {
    let app = spawn_app(&[]).await;
    let pool = kirikae::hub::pool(&app.settings).unwrap();
    registrations::set_status(&pool, &code(RETAILER_B), RegistrationStatus::Suspended)
        .await
        .unwrap();
    registrations::set_status(&pool, &code(RETAILER_B), RegistrationStatus::Active)
        .await
        .unwrap();
    let a = app.login(RETAILER_A).await;
    assert_eq!(a.get("/api/v1/admin/users").await.0, 200);
    let rows: i64 = pool
        .get()
        .await
        .unwrap()
        .query_one("SELECT count(*) FROM audit_log", &[])
        .await
        .unwrap()
        .get(0);
    let codec = kirikae::messages::Codec::new();
    let topic = app.settings.audit_topic();
    let deadline = Instant::now() + Duration::from_secs(30);
    let records = loop {
        let records: Vec<_> = read_topic(&app.settings.kafka_brokers, &topic)
            .iter()
            .map(|b| codec.decode_audit(b).unwrap())
            .collect();
        if records.len() as i64 >= rows {
            break records;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {rows} audit records relayed",
            records.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Every row, once each here (at least once in general: consumers deduplicate by id).
    let mut ids: Vec<i64> = records.iter().map(|r| r.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len() as i64, rows);
    let actions: Vec<&str> = records.iter().map(|r| r.action.as_str()).collect();
    let at = |action: &str| actions.iter().position(|a| *a == action).unwrap();
    assert!(
        at("registration.suspended") < at("registration.active"),
        "{actions:?}"
    );
    let listed = records
        .iter()
        .find(|r| r.action == "user.list")
        .expect("the administrator's listing");
    assert_eq!(listed.company_code, RETAILER_A);
    assert!(listed.certificate.is_some());
    // Its detail travels sealed (opened with the key ring: field_encryption.rs).
    assert!(
        listed.detail.starts_with(kirikae::vault::seal::MARKER),
        "{}",
        listed.detail
    );
}

/// The audit records on the topic so far, in topic order.
fn relayed(app: &TestApp) -> Vec<kirikae::messages::AuditRecord> {
    let codec = kirikae::messages::Codec::new();
    read_topic(&app.settings.kafka_brokers, &app.settings.audit_topic())
        .iter()
        .map(|b| codec.decode_audit(b).unwrap())
        .collect()
}

async fn relayed_action(app: &TestApp, action: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !relayed(app).iter().any(|r| r.action == action) {
        assert!(Instant::now() < deadline, "{action} never relayed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn the_audit_relay_waits_for_a_transaction_in_flight_and_passes_a_rolled_back_one() {
    use kirikae::audit::record_as;
    let app = spawn_app_tweaked(&[], |s| s.audit_gap_patience_ms = 3000).await;
    let pool = kirikae::hub::pool(&app.settings).unwrap();
    let detail = || json!({});
    // A transaction in flight holds the next id while a later row commits.
    let mut holder = pool.get().await.unwrap();
    let in_flight = holder.transaction().await.unwrap();
    record_as(
        &in_flight,
        RETAILER_A,
        "test",
        "test.in_flight",
        "1",
        detail(),
    )
    .await
    .unwrap();
    let client = pool.get().await.unwrap();
    record_as(&client, RETAILER_A, "test", "test.later", "2", detail())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !relayed(&app).iter().any(|r| r.action == "test.later"),
        "relayed past a transaction still in flight"
    );
    in_flight.commit().await.unwrap();
    relayed_action(&app, "test.later").await;
    let actions: Vec<String> = relayed(&app).into_iter().map(|r| r.action).collect();
    let at = |a: &str| actions.iter().position(|x| x == a).unwrap();
    assert!(at("test.in_flight") < at("test.later"), "{actions:?}");
    // A rolled-back row leaves an id that never comes: the relay goes past it after its
    // patience, and what was rolled back is never relayed.
    let rolled_back = holder.transaction().await.unwrap();
    record_as(
        &rolled_back,
        RETAILER_A,
        "test",
        "test.rolled_back",
        "3",
        detail(),
    )
    .await
    .unwrap();
    rolled_back.rollback().await.unwrap();
    record_as(
        &client,
        RETAILER_A,
        "test",
        "test.after_rollback",
        "4",
        detail(),
    )
    .await
    .unwrap();
    relayed_action(&app, "test.after_rollback").await;
    assert!(!relayed(&app).iter().any(|r| r.action == "test.rolled_back"));
}
