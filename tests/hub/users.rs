//! Issue 5, the user side: the company administrator's functions, passwords and mail. Each test
//! is named after the rule; each checks both what is allowed and what is refused.

use kirikae::domain::Area;
use kirikae::mail::sink;
use serde_json::{Value, json};

use crate::harness::*;

/// A hub with no simulated area: these tests need only the API, the database and the mail sink.
async fn app() -> TestApp {
    spawn_app(&[]).await
}

/// `method path` with the token and an optional JSON body: status and JSON body.
pub(crate) async fn call(
    who: &Retailer,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let url = format!("{}{path}", who.api);
    let mut req = who
        .http
        .request(method.parse().unwrap(), url)
        .bearer_auth(&who.token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

/// Logs `user` of `company` in: status and JSON body.
pub(crate) async fn login_as(
    app: &TestApp,
    company: &str,
    user: &str,
    password: &str,
) -> (u16, Value) {
    let resp = app
        .client_for(company)
        .post(format!("{}/api/v1/session", app.api))
        .json(&json!({"user_id": user, "password": password}))
        .send()
        .await
        .unwrap();
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

/// Logs in and expects success: the session.
pub(crate) async fn session_of(
    app: &TestApp,
    company: &str,
    user: &str,
    password: &str,
) -> Retailer {
    let (status, body) = login_as(app, company, user, password).await;
    assert_eq!(status, 200, "login of {user}: {body}");
    Retailer {
        http: app.client_for(company),
        token: body["token"].as_str().unwrap().into(),
        api: app.api.clone(),
    }
}

pub(crate) fn mail_of(user: &str) -> String {
    format!("{user}@example.jp")
}

/// Every message the sink received for `to`, oldest first.
pub(crate) fn mailbox(app: &TestApp, to: &str) -> Vec<String> {
    sink::messages(&app.settings.mail_dir)
        .into_iter()
        .filter(|m| m.contains(&format!("X-Envelope-To: {to}\r\n")))
        .collect()
}

/// The initial password in the newest mail to `to`.
pub(crate) fn mailed_password(app: &TestApp, to: &str) -> String {
    let mails = mailbox(app, to);
    let last = mails.last().unwrap_or_else(|| panic!("no mail to {to}"));
    last.lines()
        .find_map(|l| l.strip_prefix("初期パスワード: "))
        .unwrap_or_else(|| panic!("no password in {last}"))
        .trim()
        .to_string()
}

/// Registers `user` in the administrator's company; expects 201.
pub(crate) async fn register(admin: &Retailer, user: &str, extra: Value) -> Value {
    let mut body = json!({"user_id": user, "name": "切替 太郎", "mail": mail_of(user)});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let (status, answer) = call(admin, "POST", "/api/v1/admin/users", Some(body)).await;
    assert_eq!(status, 201, "{answer}");
    answer
}

/// Registers `user`, logs in with the mailed password and changes it to `PASSWORD`; the
/// session after the change.
pub(crate) async fn ready_user(
    app: &TestApp,
    admin: &Retailer,
    company: &str,
    user: &str,
) -> Retailer {
    register(admin, user, json!({})).await;
    let initial = mailed_password(app, &mail_of(user));
    let s = session_of(app, company, user, &initial).await;
    let (status, body) = change_password(&s, &initial, PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    s
}

pub(crate) async fn change_password(s: &Retailer, old: &str, new: &str) -> (u16, Value) {
    call(
        s,
        "POST",
        "/api/v1/session/password",
        Some(json!({"old_password": old, "new_password": new})),
    )
    .await
}

pub(crate) fn pool(app: &TestApp) -> deadpool_postgres::Pool {
    kirikae::hub::pool(&app.settings).unwrap()
}

#[tokio::test]
async fn registering_a_user_mails_the_id_and_an_initial_password() {
    let app = app().await;
    let admin = app.login(RETAILER_A).await;
    let answer = register(&admin, "a0001.sato.hanako", json!({})).await;
    assert_eq!(answer["user_id"], "a0001.sato.hanako");
    assert_eq!(answer["must_change_password"], true);
    assert!(answer.get("password").is_none(), "never answered: {answer}");

    let mails = mailbox(&app, &mail_of("a0001.sato.hanako"));
    assert_eq!(mails.len(), 1, "one mail");
    assert!(
        mails[0].contains("ユーザID: a0001.sato.hanako"),
        "{}",
        mails[0]
    );
    assert!(mails[0].contains("Subject: "), "{}", mails[0]);
    let password = mailed_password(&app, &mail_of("a0001.sato.hanako"));
    assert_eq!(password.chars().count(), 16);
    // The mailed password logs in; another does not.
    assert_eq!(
        login_as(&app, RETAILER_A, "a0001.sato.hanako", &password)
            .await
            .0,
        200
    );
    let (status, body) = login_as(&app, RETAILER_A, "a0001.sato.hanako", "Wrong-password-99").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("invalid_credentials"))
    );
    // An invalid mail address is refused, and nothing is mailed.
    let (status, body) = call(
        &admin,
        "POST",
        "/api/v1/admin/users",
        Some(json!({"user_id": "a0001.no.mail", "name": "x", "mail": "not-an-address"})),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (422, Some("invalid_mail")));
}

#[tokio::test]
async fn the_initial_password_must_be_changed_at_first_login() {
    let app = app().await;
    let admin = app.login(RETAILER_A).await;
    register(&admin, "a0001.first.login", json!({})).await;
    let initial = mailed_password(&app, &mail_of("a0001.first.login"));
    let s = session_of(&app, RETAILER_A, "a0001.first.login", &initial).await;
    // Refused: everything but the change.
    let (status, body) = s.get("/api/v1/requests").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("password_change_required"))
    );
    let (status, body) = s.get("/api/v1/operators").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("password_change_required"))
    );
    // A wrong old password does not change it.
    let (status, body) = change_password(&s, "Not-the-initial-1", PASSWORD).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("wrong_old_password"))
    );
    // Allowed: the change, then everything, on the same session.
    let (status, body) = change_password(&s, &initial, PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = s.get("/api/v1/requests").await;
    assert_eq!(status, 200, "{body}");
    // The initial password no longer logs in; the new one does.
    assert_eq!(
        login_as(&app, RETAILER_A, "a0001.first.login", &initial)
            .await
            .0,
        401
    );
    assert_eq!(
        login_as(&app, RETAILER_A, "a0001.first.login", PASSWORD)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn a_duplicate_user_id_is_refused() {
    let app = app().await;
    let admin = app.login(RETAILER_A).await;
    register(&admin, "a0001.dup.user", json!({})).await;
    let body = json!({"user_id": "a0001.dup.user", "name": "別人", "mail": mail_of("other")});
    let (status, answer) = call(&admin, "POST", "/api/v1/admin/users", Some(body.clone())).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (409, Some("user_exists"))
    );
    // Another registration cannot even ask for it: the id is in A0001's part of the namespace.
    let other = app.login(RETAILER_B).await;
    let (status, answer) = call(&other, "POST", "/api/v1/admin/users", Some(body)).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (422, Some("user_id_outside_registration"))
    );
    assert!(
        mailbox(&app, &mail_of("other")).is_empty(),
        "nothing mailed"
    );
    // Allowed: another id.
    register(&admin, "a0001.dup.user2", json!({})).await;
}

#[tokio::test]
async fn a_reused_password_is_refused() {
    let app = app().await;
    let admin = app.login(RETAILER_A).await;
    let s = ready_user(&app, &admin, RETAILER_A, "a0001.reuse.user").await;
    // The current one, and each of the last five, are refused; the sixth-last is allowed.
    let mut current = PASSWORD.to_string();
    let mut history = vec![PASSWORD.to_string()];
    for i in 1..=5 {
        let next = format!("Fresh-password-{i}");
        assert_eq!(change_password(&s, &current, &next).await.0, 200);
        history.push(next.clone());
        current = next;
    }
    // history: PASSWORD, 1..5 (6 entries); the last five are 1..5.
    for old in &history[1..] {
        let (status, body) = change_password(&s, &current, old).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (422, Some("password_reused")),
            "{old}"
        );
    }
    let (status, body) = change_password(&s, &current, PASSWORD).await;
    assert_eq!(status, 200, "older than the last five: {body}");
}

#[tokio::test]
async fn a_weak_password_is_refused() {
    let app = app().await;
    let admin = app.login(RETAILER_A).await;
    let s = ready_user(&app, &admin, RETAILER_A, "a0001.weak.user").await;
    for weak in ["Short-1", "alllowercaseletters", "lower-and-symbols"] {
        let (status, body) = change_password(&s, PASSWORD, weak).await;
        assert_eq!(
            (status, body["code"].as_str(), body["field"].as_str()),
            (422, Some("weak_password"), Some("new_password")),
            "{weak}: {body}"
        );
    }
    let (status, body) = change_password(&s, PASSWORD, "lower-and-symbols-9").await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn n_failed_logins_lock_the_account_until_the_administrator_unlocks_it() {
    let app = app().await;
    let admin = app.login(RETAILER_A).await;
    ready_user(&app, &admin, RETAILER_A, "a0001.lock.user").await;
    // Four failures, then a success, reset the count.
    for _ in 0..4 {
        assert_eq!(
            login_as(&app, RETAILER_A, "a0001.lock.user", "Wrong-pass-1234")
                .await
                .0,
            401
        );
    }
    assert_eq!(
        login_as(&app, RETAILER_A, "a0001.lock.user", PASSWORD)
            .await
            .0,
        200
    );
    // Five in a row lock it: even the right password is refused, with its own code.
    for _ in 0..5 {
        let (status, body) = login_as(&app, RETAILER_A, "a0001.lock.user", "Wrong-pass-1234").await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("invalid_credentials"))
        );
    }
    let (status, body) = login_as(&app, RETAILER_A, "a0001.lock.user", PASSWORD).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("account_locked"))
    );
    let (_, user) = admin.get("/api/v1/admin/users/a0001.lock.user").await;
    assert_eq!(user["locked"], true);
    // The administrator unlocks it.
    let (status, user) = call(
        &admin,
        "POST",
        "/api/v1/admin/users/a0001.lock.user/unlock",
        None,
    )
    .await;
    assert_eq!((status, user["locked"].as_bool()), (200, Some(false)));
    assert_eq!(
        login_as(&app, RETAILER_A, "a0001.lock.user", PASSWORD)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn a_disabled_account_cannot_log_in_until_enabled() {
    let app = app().await;
    let admin = app.login(RETAILER_A).await;
    let s = ready_user(&app, &admin, RETAILER_A, "a0001.off.user").await;
    let path = "/api/v1/admin/users/a0001.off.user/enabled";
    let (status, user) = call(&admin, "POST", path, Some(json!({"enabled": false}))).await;
    assert_eq!((status, user["enabled"].as_bool()), (200, Some(false)));
    let (status, body) = login_as(&app, RETAILER_A, "a0001.off.user", PASSWORD).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("account_disabled"))
    );
    // Its open session ended too.
    assert_eq!(s.get("/api/v1/requests").await.0, 401);
    // A wrong password is still only "wrong".
    let (_, body) = login_as(&app, RETAILER_A, "a0001.off.user", "Wrong-pass-1234").await;
    assert_eq!(body["code"], "invalid_credentials");
    let (status, user) = call(&admin, "POST", path, Some(json!({"enabled": true}))).await;
    assert_eq!((status, user["enabled"].as_bool()), (200, Some(true)));
    assert_eq!(
        login_as(&app, RETAILER_A, "a0001.off.user", PASSWORD)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn accounts_unused_for_the_configured_days_are_disabled() {
    let app = app().await;
    let admin = app.login(RETAILER_A).await;
    ready_user(&app, &admin, RETAILER_A, "a0001.idle.user").await;
    ready_user(&app, &admin, RETAILER_A, "a0001.busy.user").await;
    let pool = pool(&app);
    pool.get()
        .await
        .unwrap()
        .execute(
            "UPDATE users SET last_login_at = now() - interval '91 days',
                              created_at = now() - interval '200 days'
             WHERE user_id = 'a0001.idle.user'",
            &[],
        )
        .await
        .unwrap();
    pool.get()
        .await
        .unwrap()
        .execute(
            "UPDATE users SET last_login_at = now() - interval '89 days',
                              created_at = now() - interval '200 days'
             WHERE user_id = 'a0001.busy.user'",
            &[],
        )
        .await
        .unwrap();
    let disabled = kirikae::accounts::disable_unused(&pool, app.settings.disable_after_days)
        .await
        .unwrap();
    assert_eq!(disabled, vec!["a0001.idle.user".to_string()]);
    let (_, body) = login_as(&app, RETAILER_A, "a0001.idle.user", PASSWORD).await;
    assert_eq!(body["code"], "account_disabled");
    assert_eq!(
        login_as(&app, RETAILER_A, "a0001.busy.user", PASSWORD)
            .await
            .0,
        200
    );
    // The administrator enables it again, and the job leaves it be.
    let path = "/api/v1/admin/users/a0001.idle.user/enabled";
    assert_eq!(
        call(&admin, "POST", path, Some(json!({"enabled": true})))
            .await
            .0,
        200
    );
    let again = kirikae::accounts::disable_unused(&pool, app.settings.disable_after_days)
        .await
        .unwrap();
    assert!(again.is_empty(), "{again:?}");
    assert_eq!(
        login_as(&app, RETAILER_A, "a0001.idle.user", PASSWORD)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn a_dr_contractors_user_cannot_be_given_retailer_only_functions() {
    let app = app().await;
    let dr = app.login(DR_CONTRACTOR).await;
    register(&dr, "d0003.dr.user", json!({})).await;
    let path = "/api/v1/admin/users/d0003.dr.user/permissions";
    let (status, body) = call(
        &dr,
        "PUT",
        path,
        Some(json!({"functions": ["switch-start"]})),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("permission_not_allowed_for_kind"))
    );
    // Nor at registration.
    let (status, body) = call(
        &dr,
        "POST",
        "/api/v1/admin/users",
        Some(
            json!({"user_id": "d0003.dr.user2", "name": "x", "mail": mail_of("d0003.dr.user2"),
                    "permissions": ["facility-inquiry", "abolition"]}),
        ),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("permission_not_allowed_for_kind"))
    );
    // The default is what the kind allows; a DR function may be given.
    let (_, user) = dr.get("/api/v1/admin/users/d0003.dr.user").await;
    let perms: Vec<&str> = user["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        perms.contains(&"facility-inquiry") && !perms.contains(&"switch-start"),
        "{perms:?}"
    );
    let (status, user) = call(
        &dr,
        "PUT",
        path,
        Some(json!({"functions": ["facility-inquiry"]})),
    )
    .await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["permissions"], json!(["facility-inquiry"]));
    // A retailer's user may be given it.
    let retailer = app.login(RETAILER_A).await;
    register(
        &retailer,
        "a0001.retail.user",
        json!({"permissions": ["switch-start"]}),
    )
    .await;
}

#[tokio::test]
async fn a_user_without_a_functions_permission_gets_403() {
    let app = app().await;
    let admin = app.login(RETAILER_A).await;
    let s = ready_user(&app, &admin, RETAILER_A, "a0001.narrow.user").await;
    let path = "/api/v1/admin/users/a0001.narrow.user/permissions";
    let (status, body) = call(
        &admin,
        "PUT",
        path,
        Some(json!({"functions": ["facility-inquiry"]})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let point = vacant_point(Area::Tokyo, 1);
    let resp = s
        .submit("usage-inquiry", json!({"supply_point_id": point.as_str()}))
        .await;
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("function_not_permitted"))
    );
    // Allowed: the permitted function.
    s.facility_inquiry(&point).await;
}

#[tokio::test]
async fn only_an_administrator_may_administer_users() {
    let app = app().await;
    let admin = app.login(RETAILER_A).await;
    let s = ready_user(&app, &admin, RETAILER_A, "a0001.plain.user").await;
    for (method, path, body) in [
        ("GET", "/api/v1/admin/users", None),
        ("GET", "/api/v1/admin/users.csv", None),
        ("GET", "/api/v1/admin/users/a0001.plain.user", None),
        (
            "POST",
            "/api/v1/admin/users",
            Some(json!({"user_id": "sneaky", "name": "x", "mail": mail_of("sneaky")})),
        ),
        ("POST", "/api/v1/admin/users/a0001.plain.user/unlock", None),
        ("DELETE", "/api/v1/admin/users/a0001.plain.user", None),
    ] {
        let (status, answer) = call(&s, method, path, body).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (403, Some("administrator_required")),
            "{method} {path}"
        );
    }
    // Made an administrator (ユーザ修正), it may; the change is mailed.
    let (status, user) = call(
        &admin,
        "PATCH",
        "/api/v1/admin/users/a0001.plain.user",
        Some(json!({"administrator": true, "name": "切替 次郎"})),
    )
    .await;
    assert_eq!((status, user["administrator"].as_bool()), (200, Some(true)));
    assert_eq!(user["name"], "切替 次郎");
    let mails = mailbox(&app, &mail_of("a0001.plain.user"));
    assert!(
        mails.last().unwrap().contains("変更されました"),
        "{mails:?}"
    );
    assert_eq!(s.get("/api/v1/admin/users").await.0, 200);
}

#[tokio::test]
async fn another_companys_user_is_not_found() {
    let app = app().await;
    let a = app.login(RETAILER_A).await;
    let b = app.login(RETAILER_B).await;
    register(&b, "b0002.b.user", json!({})).await;
    let b_user = format!("/api/v1/admin/users/{}", "b0002.b.user");
    for (method, path, body) in [
        ("GET", b_user.clone(), None),
        ("PATCH", b_user.clone(), Some(json!({"name": "x"}))),
        ("DELETE", b_user.clone(), None),
        ("POST", format!("{b_user}/unlock"), None),
        (
            "POST",
            format!("{b_user}/enabled"),
            Some(json!({"enabled": false})),
        ),
        ("POST", format!("{b_user}/password-reissue"), None),
        (
            "PUT",
            format!("{b_user}/permissions"),
            Some(json!({"functions": []})),
        ),
    ] {
        let (status, answer) = call(&a, method, &path, body).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (404, Some("user_not_found")),
            "{method} {path}"
        );
    }
    let (_, list) = a.get("/api/v1/admin/users").await;
    let ids: Vec<&str> = list["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![user_of(RETAILER_A)]);
    // Its own company's administrator finds it.
    assert_eq!(b.get(&b_user).await.0, 200);
    let (status, _) = call(&b, "DELETE", &b_user, None).await;
    assert_eq!(status, 200);
    assert_eq!(b.get(&b_user).await.0, 404);
}

#[tokio::test]
async fn bulk_registration_answers_per_line() {
    let app = app().await;
    let admin = app.login(RETAILER_A).await;
    register(&admin, "a0001.bulk.taken", json!({})).await;
    let csv = "user_id,name,mail,administrator,permissions\n\
               a0001.bulk.one,一括 一郎,a0001.bulk.one@example.jp,false,\n\
               a0001.bulk.taken,重複 二郎,bulk.taken2@example.jp,false,\n\
               a0001.bulk.three,一括 三郎,not-an-address,false,\n\
               a0001.bulk.four,一括 四郎,a0001.bulk.four@example.jp,true,facility-inquiry switch-start\n\
               x,短い,bulk.x@example.jp,false,\n";
    let resp = admin
        .http
        .post(format!("{}/api/v1/admin/users/bulk", admin.api))
        .bearer_auth(&admin.token)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let answer: Value = resp.json().await.unwrap();
    let lines = answer["lines"].as_array().unwrap();
    let outcome: Vec<(u64, &str, Option<&str>)> = lines
        .iter()
        .map(|l| {
            (
                l["line"].as_u64().unwrap(),
                l["outcome"].as_str().unwrap(),
                l["code"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        outcome,
        vec![
            (2, "registered", None),
            (3, "refused", Some("user_exists")),
            (4, "refused", Some("invalid_mail")),
            (5, "registered", None),
            (6, "refused", Some("invalid_user_id")),
        ],
        "{answer}"
    );
    assert_eq!(
        (answer["registered"].as_u64(), answer["refused"].as_u64()),
        (Some(2), Some(3))
    );
    // Each registered line was mailed its password.
    assert_eq!(mailbox(&app, "a0001.bulk.one@example.jp").len(), 1);
    assert_eq!(mailbox(&app, "a0001.bulk.four@example.jp").len(), 1);
    let (_, four) = admin.get("/api/v1/admin/users/a0001.bulk.four").await;
    assert_eq!(four["administrator"], true);
    assert_eq!(
        four["permissions"],
        json!(["facility-inquiry", "switch-start"])
    );
    // A file without the header is refused as a whole.
    let resp = admin
        .http
        .post(format!("{}/api/v1/admin/users/bulk", admin.api))
        .bearer_auth(&admin.token)
        .header("content-type", "text/csv")
        .body("a,b,c\n")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);
    let refusal: Value = resp.json().await.unwrap();
    assert_eq!(refusal["code"], "wrong_header", "{refusal}");
    // The header names user_id, name and mail at least; the other columns may be left out.
    let resp = admin
        .http
        .post(format!("{}/api/v1/admin/users/bulk", admin.api))
        .bearer_auth(&admin.token)
        .header("content-type", "text/csv")
        .body("mail,user_id,name\nbulk.five@example.jp,a0001.bulk.five,一括 五郎\n")
        .send()
        .await
        .unwrap();
    let answer: Value = resp.json().await.unwrap();
    assert_eq!(answer["registered"], 1, "{answer}");
}

#[tokio::test]
async fn the_user_list_downloads_as_csv() {
    let app = app().await;
    let admin = app.login(RETAILER_A).await;
    register(
        &admin,
        "a0001.csv.user",
        json!({"permissions": ["facility-inquiry"]}),
    )
    .await;
    let resp = admin
        .http
        .get(format!("{}/api/v1/admin/users.csv", admin.api))
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = resp.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "user_id");
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 2, "{text}");
    let row = rows.iter().find(|r| &r[0] == "a0001.csv.user").unwrap();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    assert_eq!(&row[col("name")], "切替 太郎");
    assert_eq!(&row[col("mail")], "a0001.csv.user@example.jp");
    assert_eq!(&row[col("permissions")], "facility-inquiry");
    assert_eq!(&row[col("must_change_password")], "true");
    // Only the company's own users: B's administrator sees only its own.
    let b = app.login(RETAILER_B).await;
    let resp = b
        .http
        .get(format!("{}/api/v1/admin/users.csv", b.api))
        .bearer_auth(&b.token)
        .send()
        .await
        .unwrap();
    let text = resp.text().await.unwrap();
    assert!(!text.contains("a0001.csv.user"), "{text}");
}

#[tokio::test]
async fn a_password_reissue_mails_a_new_initial_password() {
    let app = app().await;
    let admin = app.login(RETAILER_A).await;
    ready_user(&app, &admin, RETAILER_A, "a0001.forgot.user").await;
    let (status, user) = call(
        &admin,
        "POST",
        "/api/v1/admin/users/a0001.forgot.user/password-reissue",
        None,
    )
    .await;
    assert_eq!(
        (status, user["must_change_password"].as_bool()),
        (200, Some(true))
    );
    let mails = mailbox(&app, &mail_of("a0001.forgot.user"));
    assert_eq!(mails.len(), 2, "the registration's and the reissue's");
    assert!(mails[1].contains("再発行"), "{}", mails[1]);
    let reissued = mailed_password(&app, &mail_of("a0001.forgot.user"));
    // The old password no longer works; the new one does, and must be changed first.
    assert_eq!(
        login_as(&app, RETAILER_A, "a0001.forgot.user", PASSWORD)
            .await
            .0,
        401
    );
    let s = session_of(&app, RETAILER_A, "a0001.forgot.user", &reissued).await;
    let (_, body) = s.get("/api/v1/requests").await;
    assert_eq!(body["code"], "password_change_required");
    let (status, body) = change_password(&s, &reissued, "Brand-new-password-7").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(s.get("/api/v1/requests").await.0, 200);
}

/// Runs `kirikae ARGS` against the app's database as operator `cli-test`, with `env` set.
fn kirikae_cli(app: &TestApp, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kirikae"))
        .args(args)
        .env("KIRIKAE_DATABASE_URL", &app.settings.database_url)
        .env("KIRIKAE_KAFKA_BROKERS", &app.settings.kafka_brokers)
        .env("USER", "cli-test")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[tokio::test]
async fn the_configured_password_policy_applies_to_a_user_the_operator_issues() {
    use kirikae::accounts::{Accounts, NewUser};
    use kirikae::domain::{CompanyCode, UserId};
    let app = app().await;
    let pool = kirikae::hub::pool(&app.settings).unwrap();
    let company = CompanyCode::parse(RETAILER_A).unwrap();
    // Meets the default policy (12 characters, three classes), not a stricter configured one.
    let fair = "Fair-password-1";
    let strict = kirikae::config::Settings {
        password_min_length: 20,
        ..app.settings.clone()
    };
    let refused = Accounts::new(&strict, pool.clone())
        .issue_user(
            "operator:test",
            &company,
            &UserId::parse("strict.user").unwrap(),
            fair,
            &NewUser::default(),
        )
        .await;
    assert_eq!(refused.unwrap_err().code(), "weak_password");
    // And a looser configured policy lets through what the default would refuse.
    let loose = kirikae::config::Settings {
        password_min_length: 6,
        password_min_classes: 1,
        ..app.settings.clone()
    };
    Accounts::new(&loose, pool.clone())
        .issue_user(
            "operator:test",
            &company,
            &UserId::parse("loose.user").unwrap(),
            "simple",
            &NewUser::default(),
        )
        .await
        .expect("the configured policy, not the default");
    // The CLI reads the same configured policy.
    let args = [
        "user",
        "--company",
        RETAILER_A,
        "--user-id",
        "cli.strict",
        "--password",
        fair,
    ];
    let (ok, out) = kirikae_cli(&app, &args, &[("KIRIKAE_PASSWORD_MIN_LENGTH", "20")]);
    assert!(!ok, "{out}");
    assert!(out.contains("20 characters"), "{out}");
    let (ok, out) = kirikae_cli(&app, &args, &[]);
    assert!(ok, "{out}");
}

#[tokio::test]
async fn a_user_issued_at_the_cli_is_in_the_audit_trail() {
    let app = app().await;
    let args = [
        "user",
        "--company",
        RETAILER_A,
        "--user-id",
        "cli.audited",
        "--name",
        "監査 太郎",
        "--password",
        "Cli-issued-password-9",
    ];
    let (ok, out) = kirikae_cli(&app, &args, &[]);
    assert!(ok, "{out}");
    let pool = kirikae::hub::pool(&app.settings).unwrap();
    let since = chrono::Utc::now() - chrono::Duration::hours(1);
    let trail = kirikae::audit::audit_log(&pool, Some(RETAILER_A), since)
        .await
        .unwrap();
    assert!(
        trail.iter().any(|e| e.action == "user.create"
            && e.subject_id == "cli.audited"
            && e.user_id == "operator:cli-test"),
        "{trail:?}"
    );
}

#[tokio::test]
async fn an_administrator_cannot_reissue_its_own_password() {
    let app = app().await;
    let admin = app.login(RETAILER_A).await;
    let own = format!(
        "/api/v1/admin/users/{}/password-reissue",
        user_of(RETAILER_A)
    );
    let (status, body) = call(&admin, "POST", &own, None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("cannot_reissue_own_password"))
    );
    assert!(body["message_ja"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(body["message_en"].as_str().is_some_and(|m| !m.is_empty()));
    // Nothing changed: the administrator still works with its password, and no mail went out.
    assert_eq!(admin.get("/api/v1/admin/users").await.0, 200);
    assert_eq!(
        login_as(&app, RETAILER_A, &user_of(RETAILER_A), PASSWORD)
            .await
            .0,
        200
    );
    assert!(mailbox(&app, &mail_of(&user_of(RETAILER_A))).is_empty());
}

/// `POST /api/v1/admin/users/bulk` of `bytes` with `content_type` and `query`.
async fn bulk(admin: &Retailer, query: &str, content_type: &str, bytes: Vec<u8>) -> (u16, Value) {
    let resp = admin
        .http
        .post(format!("{}/api/v1/admin/users/bulk{query}", admin.api))
        .bearer_auth(&admin.token)
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn a_bulk_upload_in_shift_jis_registers_japanese_names() {
    let app = app().await;
    let admin = app.login(RETAILER_A).await;
    let csv = "user_id,name,mail,administrator,permissions\n\
               a0001.sjis.one,切替 一郎,a0001.sjis.one@example.jp,false,\n";
    let sjis = encoding_rs::SHIFT_JIS.encode(csv).0.into_owned();
    let (status, answer) = bulk(&admin, "", "text/csv", sjis).await;
    assert_eq!(
        (status, answer["registered"].as_u64()),
        (200, Some(1)),
        "{answer}"
    );
    let (_, one) = admin.get("/api/v1/admin/users/a0001.sjis.one").await;
    assert_eq!(one["name"], "切替 一郎");
    // UTF-8 with a BOM reads as UTF-8, the BOM not part of the first column's name.
    let bom = [
        b"\xEF\xBB\xBF".as_slice(),
        csv.replace("a0001.sjis.one", "a0001.bom.one").as_bytes(),
    ]
    .concat();
    let (status, answer) = bulk(&admin, "", "text/csv", bom).await;
    assert_eq!(
        (status, answer["registered"].as_u64()),
        (200, Some(1)),
        "{answer}"
    );
    let (_, one) = admin.get("/api/v1/admin/users/a0001.bom.one").await;
    assert_eq!(one["name"], "切替 一郎");
    // A declared charset wins: the same Shift_JIS bytes declared UTF-8 are refused whole,
    // naming the line and column (the bulk reader's answer).
    let sjis = encoding_rs::SHIFT_JIS
        .encode(&csv.replace("a0001.sjis.one", "a0001.sjis.two"))
        .0
        .into_owned();
    let (status, answer) = bulk(&admin, "", "text/csv; charset=utf-8", sjis.clone()).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (422, Some("wrong_encoding")),
        "{answer}"
    );
    assert!(
        answer["message_en"]
            .as_str()
            .unwrap()
            .contains("line 2, column name"),
        "{answer}"
    );
    let (status, answer) = bulk(
        &admin,
        "?encoding=shift_jis",
        "text/csv; charset=utf-8",
        sjis,
    )
    .await;
    assert_eq!(
        (status, answer["registered"].as_u64()),
        (200, Some(1)),
        "{answer}"
    );
}

#[tokio::test]
async fn the_user_list_downloads_for_excel_in_utf8_with_a_bom_or_in_shift_jis() {
    let app = app().await;
    let admin = app.login(RETAILER_A).await;
    register(&admin, "a0001.excel.user", json!({"name": "表計算 花子"})).await;
    let download = |query: &'static str| {
        let admin = &admin;
        async move {
            let resp = admin
                .http
                .get(format!("{}/api/v1/admin/users.csv{query}", admin.api))
                .bearer_auth(&admin.token)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            let content_type = resp.headers()["content-type"].to_str().unwrap().to_string();
            (content_type, resp.bytes().await.unwrap().to_vec())
        }
    };
    let (content_type, bytes) = download("").await;
    assert_eq!(content_type, "text/csv; charset=utf-8");
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "no BOM");
    let text = std::str::from_utf8(&bytes[3..]).unwrap();
    assert!(text.starts_with("user_id,"), "{text}");
    assert!(text.contains("表計算 花子"), "{text}");
    let (content_type, bytes) = download("?encoding=shift_jis").await;
    assert_eq!(content_type, "text/csv; charset=Shift_JIS");
    assert!(std::str::from_utf8(&bytes).is_err(), "not UTF-8");
    let (text, _, malformed) = encoding_rs::SHIFT_JIS.decode(&bytes);
    assert!(!malformed);
    assert!(
        text.starts_with("user_id,") && text.contains("表計算 花子"),
        "{text}"
    );
}

/// User ids are one namespace for the hub (a login names only the id), and each registration
/// issues ids only in its own part of it (its company code and a separator first), so asking
/// for an id cannot tell a company whether another holds it: an id outside the caller's part
/// is refused `user_id_outside_registration` whether it is held or free, with the same status,
/// code and messages, and nothing of the holder's user changes, nor is anything mailed; an id
/// inside it is `user_exists` only when the caller's own registration holds it.
#[tokio::test]
async fn an_id_in_another_registrations_part_is_refused_alike_whether_held_or_not() {
    let app = app().await;
    let a = app.login(RETAILER_A).await;
    let b = app.login(RETAILER_B).await;
    register(&b, "b0002.taken.there", json!({"name": "別社 太郎"})).await;
    let attempt =
        |id: &str| json!({"user_id": id, "name": "新規 花子", "mail": mail_of("attempt")});
    let (held_status, held) = call(
        &a,
        "POST",
        "/api/v1/admin/users",
        Some(attempt("b0002.taken.there")),
    )
    .await;
    let (free_status, free) = call(
        &a,
        "POST",
        "/api/v1/admin/users",
        Some(attempt("b0002.nobody.here")),
    )
    .await;
    assert_eq!(
        (held_status, held["code"].as_str()),
        (422, Some("user_id_outside_registration")),
        "{held}"
    );
    assert_eq!((free_status, &free), (held_status, &held));
    // An id of no registration's form is refused the same way.
    let (status, plain) = call(&a, "POST", "/api/v1/admin/users", Some(attempt("plain.id"))).await;
    assert_eq!((status, &plain), (held_status, &held));
    assert!(
        mailbox(&app, &mail_of("attempt")).is_empty(),
        "nothing mailed"
    );
    // B's user is as B made it, and still B's.
    let (status, user) = call(&b, "GET", "/api/v1/admin/users/b0002.taken.there", None).await;
    assert_eq!(
        (status, user["name"].as_str()),
        (200, Some("別社 太郎")),
        "{user}"
    );
    // Allowed: an id in the caller's own part (either case), and `user_exists` only for its own.
    register(&a, "a0001.taken.here", json!({})).await;
    let (status, body) = call(
        &a,
        "POST",
        "/api/v1/admin/users",
        Some(attempt("a0001.taken.here")),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (409, Some("user_exists")));
    let (status, body) = call(
        &a,
        "POST",
        "/api/v1/admin/users",
        Some(attempt("A0001-free.id")),
    )
    .await;
    assert_eq!(status, 201, "{body}");
}

/// The operator keeps to the namespaces too: `kirikae user` (the same function) refuses an id
/// in another registered company's part, and issues one in the registration's own part or of
/// another form (as the administrator IDs are).
#[tokio::test]
async fn the_operator_cannot_issue_an_id_in_another_registrations_part() {
    let app = app().await;
    let accounts = kirikae::accounts::Accounts::new(&app.settings, pool(&app));
    let a = kirikae::domain::CompanyCode::parse(RETAILER_A).unwrap();
    let new = kirikae::accounts::NewUser {
        name: "運用 花子".into(),
        mail: mail_of("operator.issued"),
        must_change_password: true,
    };
    let issue = |id: &str| {
        let (accounts, a, new) = (&accounts, &a, &new);
        let id = kirikae::domain::UserId::parse(id).unwrap();
        async move {
            accounts
                .issue_user("operator:test", a, &id, PASSWORD, new)
                .await
        }
    };
    let refused = issue("b0002.by.operator").await.unwrap_err();
    assert_eq!(refused.code(), "user_id_outside_registration");
    issue("a0001.by.operator").await.unwrap();
    issue("legacy.by.operator").await.unwrap();
}
