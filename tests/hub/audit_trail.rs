//! Issue 11, hole 6: the hub runs as its own database role, which may append to the audit trail
//! and read it but not bend it; the operator's CLI audits the users it issues and issues no
//! second administrator. Hole 8's database half: the pool speaks TLS to PostgreSQL.

use kirikae::accounts::registrations::{self, RegistrationStatus};
use kirikae::domain::CompanyCode;
use kirikae::hub;
use serde_json::json;
use tokio_postgres::error::SqlState;

use crate::harness::*;

async fn audit_rows(client: &tokio_postgres::Client) -> i64 {
    client
        .query_one("SELECT count(*) FROM audit_log", &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn the_hubs_role_cannot_change_drop_or_bypass_the_audit_trail() {
    let app = spawn_app(&[]).await;
    let pool = hub::pool(&app.settings).unwrap();
    let b = CompanyCode::parse(RETAILER_B).unwrap();
    registrations::set_status(&pool, &b, RegistrationStatus::Suspended)
        .await
        .unwrap();
    // A connection of its own (not pooled), as the services' role.
    let client = kirikae::db::Connect::service(&app.settings)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let before = audit_rows(&client).await;
    assert!(before > 0);
    for sql in [
        "UPDATE audit_log SET user_id = 'someone-else'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "DROP TRIGGER audit_log_no_change ON audit_log",
        "DROP TRIGGER audit_log_no_truncate ON audit_log",
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change",
        "ALTER TABLE audit_log DISABLE TRIGGER ALL",
        "ALTER TABLE audit_log ADD COLUMN forged text",
        "ALTER TABLE audit_log OWNER TO CURRENT_USER",
        "DROP TABLE audit_log",
        "DROP FUNCTION audit_log_append_only() CASCADE",
        "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger
             LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
        "SET session_replication_role = replica",
        "CREATE TABLE audit_log_copy (id bigint)",
    ] {
        let err = client.batch_execute(sql).await.unwrap_err();
        let db = err.as_db_error().unwrap_or_else(|| panic!("{sql}: {err}"));
        assert_eq!(db.code(), &SqlState::INSUFFICIENT_PRIVILEGE, "{sql}: {err}");
    }
    assert_eq!(audit_rows(&client).await, before);
    let triggers: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_trigger
             WHERE tgrelid = 'audit_log'::regclass AND tgenabled = 'O'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(triggers, 2, "both triggers are there and enabled");
    // What the hub needs still works: an action appends its row in its own transaction.
    registrations::set_status(&pool, &b, RegistrationStatus::Active)
        .await
        .unwrap();
    assert_eq!(audit_rows(&client).await, before + 1);
}

#[tokio::test]
async fn the_hubs_role_owns_no_table_and_is_no_superuser() {
    let app = spawn_app(&[]).await;
    let client = hub::pool(&app.settings).unwrap().get().await.unwrap();
    let row = client
        .query_one(
            "SELECT current_user::text, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls,
                    pg_has_role(current_user, 'kirikae_service', 'MEMBER')
             FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "kirikae");
    for (i, what) in [
        (1, "superuser"),
        (2, "createrole"),
        (3, "createdb"),
        (4, "bypassrls"),
    ] {
        assert!(!row.get::<_, bool>(i), "the hub's role has {what}");
    }
    assert!(row.get::<_, bool>(5), "a member of kirikae_service");
    let owned: Vec<String> = client
        .query(
            "SELECT c.relname::text FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public'
               AND pg_has_role(current_user, c.relowner, 'USAGE')",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(owned.is_empty(), "the hub's role owns {owned:?}");
}

#[tokio::test]
async fn the_operator_cli_audits_the_users_it_issues_and_issues_no_second_administrator() {
    let app = spawn_app(&[]).await;
    let kirikae = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kirikae"))
            .args(args)
            .env("KIRIKAE_DATABASE_URL", &app.settings.database_url)
            .env("KIRIKAE_KAFKA_BROKERS", &app.settings.kafka_brokers)
            .env("KIRIKAE_NEW_PASSWORD", PASSWORD)
            .env("USER", "cli-test")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // The harness's registrations have their administrator already.
    let fresh = app.register_without_administrator("C0004").await;
    let user = |id: &str, admin: bool| {
        let mut args = vec!["user", "--company", fresh.as_str(), "--user-id", id];
        if admin {
            args.push("--admin");
        }
        kirikae(&args)
    };
    let (ok, out, err) = user("first.admin", true);
    assert!(ok, "{out}{err}");
    let (ok, out, err) = user("second.admin", true);
    assert!(!ok, "a second administrator was issued: {out}");
    assert!(err.contains("first.admin"), "{err}");
    let (ok, out, err) = user("plain.user", false);
    assert!(ok, "{out}{err}");

    let pool = hub::pool(&app.settings).unwrap();
    let client = pool.get().await.unwrap();
    let issued: Vec<(String, String, bool)> = client
        .query(
            "SELECT subject_id, user_id, (detail->>'administrator')::boolean FROM audit_log
             WHERE company_code = $1 AND action = 'user.create'
               AND subject_id IN ('first.admin', 'second.admin', 'plain.user')
             ORDER BY id",
            &[&fresh.as_str()],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let operator = "operator:cli-test".to_string();
    assert_eq!(
        issued,
        vec![
            ("first.admin".into(), operator.clone(), true),
            ("plain.user".into(), operator, false)
        ]
    );
    let second: i64 = client
        .query_one(
            "SELECT count(*) FROM users WHERE user_id = 'second.admin'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(second, 0);
}

#[tokio::test]
async fn the_pool_speaks_tls_to_postgres_with_sslmode_require() {
    let app = spawn_app(&[]).await;
    let mut settings = app.settings.clone();
    settings.database_sslmode = kirikae::config::DatabaseSslMode::Require;
    let client = hub::pool(&settings).unwrap().get().await.unwrap();
    let ssl: Option<bool> = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        ssl,
        Some(true),
        "the local PostgreSQL must have ssl = on (scripts/lib.sh ensure_postgres turns it on)"
    );
}

#[tokio::test]
async fn verify_full_refuses_a_server_certificate_its_ca_did_not_sign() {
    let app = spawn_app(&[]).await;
    let mut settings = app.settings.clone();
    settings.database_sslmode = kirikae::config::DatabaseSslMode::VerifyFull;
    // The hub's development CA signed no certificate of the local PostgreSQL.
    settings.database_ca_file = Some(app.certs.path().join("ca.pem"));
    let connected = kirikae::db::Connect::service(&settings)
        .unwrap()
        .connect()
        .await;
    let Err(err) = connected else {
        panic!("connected to a server its CA does not vouch for");
    };
    assert!(
        format!("{err:?}").contains("InvalidCertificate(UnknownIssuer)"),
        "refused for its certificate: {err:?}"
    );
}

/// Makes the audit trail of `app`'s database refuse every row of `action` (a trigger, as the
/// owner); the owner's connection, for the test's own checks.
async fn trail_refusing(app: &TestApp, action: &str) -> tokio_postgres::Client {
    let owner = kirikae::db::Connect::owner(&app.settings)
        .unwrap()
        .connect()
        .await
        .unwrap();
    owner
        .batch_execute(&format!(
            "CREATE FUNCTION refuse_action() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
               IF NEW.action = '{action}' THEN RAISE EXCEPTION 'the trail is full'; END IF;
               RETURN NEW;
             END $$;
             CREATE TRIGGER refuse_action BEFORE INSERT ON audit_log
               FOR EACH ROW EXECUTE FUNCTION refuse_action();"
        ))
        .await
        .unwrap();
    owner
}

/// The accept path commits the audit row before it produces (issue 15 groups that commit with
/// the `accepted` row): a submission the trail cannot record is refused, nothing of it reaches
/// the broker and no status row stands for it.
#[tokio::test]
async fn a_submission_the_audit_trail_cannot_record_is_not_sent() {
    let app = spawn_app(&[]).await;
    let a = app.login(RETAILER_A).await;
    let owner = trail_refusing(&app, "request.submitted").await;
    let point = "0300000000000000000007";
    let resp = a
        .submit("facility-inquiry", json!({"supply_point_id": point}))
        .await;
    let status = resp.status().as_u16();
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    assert_eq!(status, 500, "{body}");
    let rows: i64 = owner
        .query_one(
            "SELECT count(*) FROM requests WHERE point_id = $1",
            &[&point],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 0, "no status row for a submission not sent");
    let topic = app.settings.requests_topic(kirikae::domain::Area::Tokyo);
    assert!(
        read_topic(&app.settings.kafka_brokers, &topic).is_empty(),
        "nothing on {topic}"
    );
}

/// A read of personal data is recorded before it is shown (issue 15 commits the records of
/// concurrent reads together): a read the trail cannot record shows nothing.
#[tokio::test]
async fn a_read_of_personal_data_the_audit_trail_cannot_record_is_not_shown() {
    let area = kirikae::domain::Area::Tokyo;
    let app = spawn_app(&[area]).await;
    let a = app.login(RETAILER_A).await;
    let id = a.facility_inquiry(&app.point(area, 9).0).await;
    let done = a.final_status(&id).await;
    assert!(
        !done["result"].is_null(),
        "the answer carries the customer's data: {done}"
    );
    trail_refusing(&app, "request.result_read").await;
    let (code, body) = a.status(&id).await;
    assert_eq!(code, 500, "{body}");
    assert!(
        body.get("result").is_none(),
        "nothing of the answer shown: {body}"
    );
}
