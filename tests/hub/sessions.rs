//! Sessions across API processes: a change to a user made through one process (or none: plain
//! SQL) is honoured by every other within two seconds, whatever that process has cached; logout
//! and a password change end sessions everywhere. Each test runs two API processes on one
//! database, warms the second's cache with the token, changes the user through the first and
//! waits (at most two seconds) for the second to refuse.

use std::time::{Duration, Instant};

use kirikae::domain::Area;
use serde_json::{Value, json};

use crate::harness::*;
use crate::users::{call, change_password, pool, ready_user, session_of};

/// What every process must honour a revocation within.
const WITHIN: Duration = Duration::from_secs(2);

/// A hub with no simulated area plus a second API process on its database; the
/// administrator of retailer A (on the first) and a ready user `user` of it (on the first).
async fn two_apis(user: &str) -> (TestApp, String, Retailer, Retailer) {
    let app = spawn_app(&[]).await;
    let second = app.second_api().await;
    let admin = app.login(RETAILER_A).await;
    let s = ready_user(&app, &admin, RETAILER_A, user).await;
    (app, second, admin, s)
}

/// `method path body` by `who` is allowed (2xx): warms `who`'s process's cache.
async fn allowed(who: &Retailer, method: &str, path: &str, body: Option<Value>) {
    let (status, answer) = call(who, method, path, body).await;
    assert!((200..300).contains(&status), "{method} {path}: {answer}");
}

/// Polls `method path body` by `who` until it is refused with `status` and `code`, which must
/// happen within [`WITHIN`] of now; until then it must be allowed.
async fn refused_within_two_seconds(
    who: &Retailer,
    (method, path, body): (&str, &str, Option<Value>),
    (status, code): (u16, &str),
) {
    let deadline = Instant::now() + WITHIN;
    loop {
        let (got, answer) = call(who, method, path, body.clone()).await;
        if (got, answer["code"].as_str()) == (status, Some(code)) {
            return;
        }
        assert!(
            (200..300).contains(&got),
            "{method} {path} on {}: neither allowed nor {status} {code}: {got} {answer}",
            who.api
        );
        assert!(
            Instant::now() < deadline,
            "{method} {path} on {} still allowed {WITHIN:?} after the change",
            who.api
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const REQUESTS: (&str, &str, Option<Value>) = ("GET", "/api/v1/requests", None);

fn unauthenticated() -> (u16, &'static str) {
    (401, "unauthenticated")
}

#[tokio::test]
async fn a_disabled_user_is_refused_on_every_api_process_within_two_seconds() {
    let (_app, second, admin, s) = two_apis("a0001.off.user").await;
    let there = s.on(&second);
    allowed(&there, "GET", "/api/v1/requests", None).await;
    let path = "/api/v1/admin/users/a0001.off.user/enabled";
    let (status, body) = call(&admin, "POST", path, Some(json!({"enabled": false}))).await;
    assert_eq!(status, 200, "{body}");
    refused_within_two_seconds(&there, REQUESTS, unauthenticated()).await;
    refused_within_two_seconds(&s, REQUESTS, unauthenticated()).await;
}

#[tokio::test]
async fn a_deleted_user_is_refused_on_every_api_process_within_two_seconds() {
    let (_app, second, admin, s) = two_apis("a0001.gone.user").await;
    let there = s.on(&second);
    allowed(&there, "GET", "/api/v1/requests", None).await;
    let (status, body) = call(
        &admin,
        "DELETE",
        "/api/v1/admin/users/a0001.gone.user",
        None,
    )
    .await;
    assert!((200..300).contains(&status), "{status} {body}");
    refused_within_two_seconds(&there, REQUESTS, unauthenticated()).await;
    refused_within_two_seconds(&s, REQUESTS, unauthenticated()).await;
}

#[tokio::test]
async fn a_demoted_administrator_is_refused_on_every_api_process_within_two_seconds() {
    let (_app, second, admin, s) = two_apis("a0001.demoted.user").await;
    let path = "/api/v1/admin/users/a0001.demoted.user";
    let (status, body) = call(&admin, "PATCH", path, Some(json!({"administrator": true}))).await;
    assert_eq!(status, 200, "{body}");
    let there = s.on(&second);
    allowed(&there, "GET", "/api/v1/admin/users", None).await;
    let (status, body) = call(&admin, "PATCH", path, Some(json!({"administrator": false}))).await;
    assert_eq!(status, 200, "{body}");
    let users = ("GET", "/api/v1/admin/users", None);
    refused_within_two_seconds(&there, users.clone(), (403, "administrator_required")).await;
    refused_within_two_seconds(&s, users, (403, "administrator_required")).await;
}

#[tokio::test]
async fn narrowed_permissions_hold_on_every_api_process_within_two_seconds() {
    let (_app, second, admin, s) = two_apis("a0001.narrowed.user").await;
    let there = s.on(&second);
    let point = vacant_point(Area::Tokyo, 1);
    let inquiry = json!({"supply_point_id": point.as_str()});
    let submit = ("POST", "/api/v1/facility-inquiry", Some(inquiry));
    allowed(&there, submit.0, submit.1, submit.2.clone()).await;
    let path = "/api/v1/admin/users/a0001.narrowed.user/permissions";
    let only = json!({"functions": ["usage-inquiry"]});
    let (status, body) = call(&admin, "PUT", path, Some(only)).await;
    assert_eq!(status, 200, "{body}");
    let refusal = (403, "function_not_permitted");
    refused_within_two_seconds(&there, submit.clone(), refusal).await;
    refused_within_two_seconds(&s, submit, refusal).await;
}

/// A reissued password ends the user's sessions: whoever held one (perhaps the very person the
/// password was reissued against) must log in with the new password only its mail knows.
#[tokio::test]
async fn a_reissued_password_ends_the_users_sessions_on_every_api_process_within_two_seconds() {
    let (_app, second, admin, s) = two_apis("a0001.reissued.user").await;
    let there = s.on(&second);
    allowed(&there, "GET", "/api/v1/requests", None).await;
    let path = "/api/v1/admin/users/a0001.reissued.user/password-reissue";
    let (status, body) = call(&admin, "POST", path, None).await;
    assert!((200..300).contains(&status), "{status} {body}");
    refused_within_two_seconds(&there, REQUESTS, unauthenticated()).await;
    refused_within_two_seconds(&s, REQUESTS, unauthenticated()).await;
    // Not even the password change is open to the old session.
    let new = "Another-test-password-2";
    let (status, body) = change_password(&there, PASSWORD, new).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("unauthenticated"))
    );
    // The administrator's own session is untouched.
    allowed(&admin, "GET", "/api/v1/requests", None).await;
}

#[tokio::test]
async fn a_user_disabled_directly_in_the_database_is_refused_by_every_api_process_within_two_seconds()
 {
    let (app, second, _admin, s) = two_apis("a0001.sql.user").await;
    let there = s.on(&second);
    allowed(&s, "GET", "/api/v1/requests", None).await;
    allowed(&there, "GET", "/api/v1/requests", None).await;
    // Neither API process takes part: the CLI, a job or an operator's SQL.
    let n = pool(&app)
        .get()
        .await
        .unwrap()
        .execute(
            "UPDATE users SET disabled = true WHERE user_id = 'a0001.sql.user'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    refused_within_two_seconds(&there, REQUESTS, unauthenticated()).await;
    refused_within_two_seconds(&s, REQUESTS, unauthenticated()).await;
}

#[tokio::test]
async fn logging_out_ends_the_session_on_every_api_process_and_only_that_session() {
    let (app, second, _admin, s) = two_apis("a0001.leaving.user").await;
    let other = session_of(&app, RETAILER_A, "a0001.leaving.user", PASSWORD).await;
    let there = s.on(&second);
    allowed(&there, "GET", "/api/v1/requests", None).await;
    allowed(&other.on(&second), "GET", "/api/v1/requests", None).await;
    let resp = s
        .http
        .delete(format!("{}/api/v1/session", s.api))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    // At once on the process that ended it, within two seconds on the other.
    let (status, body) = s.get("/api/v1/requests").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("unauthenticated"))
    );
    refused_within_two_seconds(&there, REQUESTS, unauthenticated()).await;
    // The user's other session stays, on both (the second reads it again meanwhile).
    assert_eq!(other.get("/api/v1/requests").await.0, 200);
    assert_eq!(other.on(&second).get("/api/v1/requests").await.0, 200);
    // Logging out again with the ended token is refused like any other call.
    let resp = s
        .http
        .delete(format!("{}/api/v1/session", s.api))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn a_password_change_ends_the_users_other_sessions_on_every_api_process_but_not_the_asking_one()
 {
    let (app, second, _admin, asking) = two_apis("a0001.changing.user").await;
    let other = session_of(&app, RETAILER_A, "a0001.changing.user", PASSWORD).await;
    let other_there = other.on(&second);
    allowed(&other_there, "GET", "/api/v1/requests", None).await;
    allowed(&asking.on(&second), "GET", "/api/v1/requests", None).await;
    let new = "Another-test-password-2";
    let (status, body) = change_password(&asking, PASSWORD, new).await;
    assert_eq!(status, 200, "{body}");
    refused_within_two_seconds(&other_there, REQUESTS, unauthenticated()).await;
    refused_within_two_seconds(&other, REQUESTS, unauthenticated()).await;
    // The asking session stays: its row is kept, and both processes read it again.
    let kept: i64 = pool(&app)
        .get()
        .await
        .unwrap()
        .query_one(
            "SELECT count(*) FROM sessions WHERE user_id = 'a0001.changing.user'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(kept, 1);
    assert_eq!(asking.get("/api/v1/requests").await.0, 200);
    assert_eq!(asking.on(&second).get("/api/v1/requests").await.0, 200);
    // The new password logs in; the old one no longer does.
    session_of(&app, RETAILER_A, "a0001.changing.user", new).await;
    let (status, _) =
        crate::users::login_as(&app, RETAILER_A, "a0001.changing.user", PASSWORD).await;
    assert_eq!(status, 401);
}

/// A contractor's (受託者's) user logged in on the second API process; its registration's
/// administrator revokes the contractor through the first. Within two seconds the second
/// refuses the token: `403 contractor_revoked` while it still holds the session, `401
/// unauthenticated` once it has read that the revocation ended it (docs/api.md, Contractors),
/// and never anything else; logging in again there is refused `403 contractor_revoked`.
#[tokio::test]
async fn a_revoked_contractors_live_session_is_refused_on_every_api_process_within_two_seconds() {
    use crate::contractors::{authorise, contractor, contractor_user};
    let app = spawn_app(&[]).await;
    let second = app.second_api().await;
    let admin = app.login(RETAILER_A).await;
    let number = contractor();
    assert_eq!(
        authorise(&admin, &number, "切替業務受託株式会社").await.0,
        200
    );
    // Its password chosen through the first process; its session opened on the second.
    contractor_user(&app, &admin, "a0001.itaku.remote", &number).await;
    let resp = app
        .client_for(RETAILER_A)
        .post(format!("{second}/api/v1/session"))
        .json(&json!({"user_id": "a0001.itaku.remote", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let there = Retailer {
        http: app.client_for(RETAILER_A),
        token: body["token"].as_str().unwrap().into(),
        api: second.clone(),
    };
    allowed(&there, "GET", "/api/v1/requests", None).await;
    let path = format!("/api/v1/admin/contractors/{number}");
    let (status, body) = call(&admin, "DELETE", &path, None).await;
    assert_eq!(status, 200, "{body}");
    let deadline = Instant::now() + WITHIN;
    loop {
        let (got, answer) = call(&there, "GET", "/api/v1/requests", None).await;
        match (got, answer["code"].as_str()) {
            (403, Some("contractor_revoked")) | (401, Some("unauthenticated")) => break,
            (200..300, _) => assert!(
                Instant::now() < deadline,
                "the revoked contractor's session still works on the second process"
            ),
            other => panic!("refused with an undocumented answer: {other:?} {answer}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let resp = there
        .http
        .post(format!("{second}/api/v1/session"))
        .json(&json!({"user_id": "a0001.itaku.remote", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "contractor_revoked", "{body}");
}

/// Waits until both API processes have taken their share (each says so in its row once it has).
async fn both_took_their_share(app: &TestApp) {
    let pool = pool(app);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let shares: Vec<i32> = pool
            .get()
            .await
            .unwrap()
            .query("SELECT peers FROM api_processes", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        if shares == [2, 2] {
            return;
        }
        assert!(Instant::now() < deadline, "processes' shares: {shares:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The login rate of a user id is the hub's, not each process's: with two API processes on one
/// database, logins of one user sent to both are let through (to the password check) no more
/// often than the per-user limit lets one process; the rest are `429 rate_limited`.
#[tokio::test]
async fn two_api_processes_together_allow_a_user_no_more_logins_than_the_per_user_limit() {
    const PER_USER_PER_MIN: u32 = 6;
    let app = spawn_app_tweaked(&[], |s| {
        s.login_per_user_per_min = PER_USER_PER_MIN;
        s.login_per_certificate_per_min = 1000;
    })
    .await;
    let second = app.second_api().await;
    both_took_their_share(&app).await;
    let http = app.client_for(RETAILER_A);
    let user = user_of(RETAILER_A);
    let started = Instant::now();
    let (mut checked, mut limited) = (0u32, 0u32);
    for _ in 0..10 {
        for api in [&app.api, &second] {
            let resp = http
                .post(format!("{api}/api/v1/session"))
                .json(&json!({"user_id": user, "password": "not-the-password-1"}))
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let body: Value = resp.json().await.unwrap();
            match (status, body["code"].as_str()) {
                (429, Some("rate_limited")) => limited += 1,
                (401, Some("invalid_credentials")) => checked += 1,
                other => panic!("unexpected {other:?}: {body}"),
            }
        }
    }
    // What one process would let through: the allowance, and what it refilled meanwhile.
    let refilled = started.elapsed().as_secs() as u32 * PER_USER_PER_MIN / 60 + 1;
    assert!(
        checked <= PER_USER_PER_MIN + refilled,
        "{checked} logins checked by two processes; the limit allows {PER_USER_PER_MIN} + {refilled}"
    );
    assert!(limited > 0);
    // Allowed: another user id has its own allowance on both.
    for api in [&app.api, &second] {
        let resp = http
            .post(format!("{api}/api/v1/session"))
            .json(&json!({"user_id": "another.user", "password": "not-the-password-1"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
    }
}

/// The per-registration rate limit is the hub's, not each process's: with two API processes
/// on one database, a burst sent to both is allowed no more than the limit lets one process
/// allow (the burst, plus what the rate refills while the burst is sent); the rest is `429
/// rate_limited`. Each process takes half once both have announced themselves.
#[tokio::test]
async fn two_api_processes_together_allow_no_more_than_the_registrations_rate_limit() {
    const PER_SEC: u32 = 1;
    const BURST: u32 = 10;
    let app = spawn_app_tweaked(&[], |s| {
        s.rate_limit_per_sec = PER_SEC;
        s.rate_limit_burst = BURST;
    })
    .await;
    let second = app.second_api().await;
    both_took_their_share(&app).await;
    let http = app.client_for(RETAILER_A);
    let started = Instant::now();
    let (mut allowed, mut limited) = (0u32, 0u32);
    for _ in 0..20 {
        for api in [&app.api, &second] {
            let resp = http
                .get(format!("{api}/api/v1/requests"))
                .send()
                .await
                .unwrap();
            match resp.status().as_u16() {
                429 => {
                    let body: Value = resp.json().await.unwrap();
                    assert_eq!(body["code"], "rate_limited", "{body}");
                    limited += 1;
                }
                // No token: past the limit, refused by the session check.
                401 => allowed += 1,
                other => panic!("unexpected {other}"),
            }
        }
    }
    // What one process would allow: the burst, and one more per second the burst took.
    let refilled = started.elapsed().as_secs() as u32 * PER_SEC + 1;
    assert!(
        allowed <= BURST + refilled,
        "{allowed} allowed by two processes; the limit allows {BURST} + {refilled}"
    );
    assert!(limited > 0);
    // Allowed: another registration has its own allowance on both.
    let other = app.client_for(RETAILER_B);
    for api in [&app.api, &second] {
        let resp = other
            .get(format!("{api}/api/v1/requests"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
    }
}
