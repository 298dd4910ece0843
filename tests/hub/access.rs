//! Who may do what, proven both ways: the catalogue's "who" for the functions the hub answers
//! itself (intermediation, status, operator list), a user's permissions over the intermediation
//! functions, a contractor's user never an administrator, and a login with another company's
//! certificate that tells nothing and locks nobody. Each test is named after its rule and
//! checks the refusal (status and code) and the allowed case.

use kirikae::domain::{Area, CorporateNumber};
use serde_json::{Value, json};

use crate::harness::*;
use crate::users::{call, change_password, login_as, mail_of, mailed_password, pool, ready_user};

/// An intermediation registration of a vacant Tokyo point addressed to `current`.
fn registration(n: u32, current: &str, class: &str) -> Value {
    let date = chrono::Utc::now().date_naive() + chrono::Duration::days(14);
    json!({
        "supply_point_id": vacant_point(Area::Tokyo, n).as_str(),
        "current_retailer_code": current,
        "customer_number": "0012-3456-78",
        "contract_name": "山田 太郎",
        "supply_address": "東京都千代田区丸の内1-1-1",
        "desired_switch_date": date.to_string(),
        "point_class": class,
    })
}

fn code(answer: &(u16, Value)) -> (u16, Option<&str>) {
    (answer.0, answer.1["code"].as_str())
}

const NOT_ALLOWED: (u16, Option<&str>) = (403, Some("function_not_allowed"));
const NOT_PERMITTED: (u16, Option<&str>) = (403, Some("function_not_permitted"));

/// Registers an intermediation as `new`, addressed to B; its id.
async fn registered(new: &Retailer, n: u32, class: &str) -> String {
    let answer = call(
        new,
        "POST",
        "/api/v1/intermediations",
        Some(registration(n, RETAILER_B, class)),
    )
    .await;
    assert_eq!(answer.0, 202, "{}", answer.1);
    answer.1["intermediation_id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_dr_registration_may_not_register_or_read_intermediations() {
    let app = spawn_app(&[]).await;
    let dr = app.login(DR_CONTRACTOR).await;
    let a = app.login(RETAILER_A).await;
    // Refused: every intermediation route, whatever the body or id.
    let body = registration(1, RETAILER_B, "lv");
    let answer = call(&dr, "POST", "/api/v1/intermediations", Some(body)).await;
    assert_eq!(code(&answer), NOT_ALLOWED, "{}", answer.1);
    for path in [
        "/api/v1/intermediations",
        "/api/v1/intermediations?role=current",
        "/api/v1/intermediations/00000000-0000-0000-0000-000000000000",
    ] {
        let answer = dr.get(path).await;
        assert_eq!(code(&answer), NOT_ALLOWED, "{path}: {}", answer.1);
    }
    let id = registered(&a, 1, "lv").await;
    let decision = json!({"decision": "approve", "reasons": []});
    let path = format!("/api/v1/intermediations/{id}/decision");
    let answer = call(&dr, "POST", &path, Some(decision.clone())).await;
    assert_eq!(code(&answer), NOT_ALLOWED, "{}", answer.1);
    let bulk = json!({"items": [{"id": id, "decision": "approve", "reasons": []}]});
    let answer = call(&dr, "POST", "/api/v1/intermediation-decisions", Some(bulk)).await;
    let refused = answer.0 == 403 && answer.1["code"] == "function_not_allowed"
        || answer.1["items"][0]["code"] == "function_not_allowed";
    assert!(refused, "{} {}", answer.0, answer.1);
    let path = format!("/api/v1/intermediations/{id}/withdrawal");
    let answer = call(&dr, "POST", &path, Some(json!({}))).await;
    assert_eq!(code(&answer), NOT_ALLOWED, "{}", answer.1);
    // Allowed: the retailer reads what it registered, and withdraws it.
    let (status, body) = a.get(&format!("/api/v1/intermediations/{id}")).await;
    assert_eq!(
        (status, body["state"].as_str()),
        (200, Some("awaiting_decision"))
    );
    assert_eq!(a.get("/api/v1/intermediations?role=new").await.0, 200);
    let answer = call(&a, "POST", &path, Some(json!({}))).await;
    assert_eq!(answer.0, 202, "{}", answer.1);
}

#[tokio::test]
async fn a_dr_registration_may_not_read_gen_status() {
    let app = spawn_app(&[]).await;
    let dr = app.login(DR_CONTRACTOR).await;
    let a = app.login(RETAILER_A).await;
    let some_id = "/00000000-0000-0000-0000-000000000000";
    for path in [
        "/api/v1/gen/requests".to_string(),
        format!("/api/v1/gen/requests{some_id}"),
        "/api/v1/requests?class=gen".to_string(),
    ] {
        let answer = dr.get(&path).await;
        assert_eq!(code(&answer), NOT_ALLOWED, "{path}: {}", answer.1);
        // Allowed: a retailer (nothing of its own there yet: an empty list, a 404).
        let (status, _) = a.get(&path).await;
        assert!(status == 200 || status == 404, "{path}: {status}");
    }
    assert_eq!(a.get("/api/v1/gen/requests").await.0, 200);
    // Allowed to the DR registration: low- and high-voltage status, its own requests.
    for path in [
        "/api/v1/requests",
        "/api/v1/lv/requests",
        "/api/v1/hv/requests",
    ] {
        let answer = dr.get(path).await;
        assert_eq!(answer.0, 200, "{path}: {}", answer.1);
    }
    let answer = dr.get(&format!("/api/v1/hv/requests{some_id}")).await;
    assert_eq!(
        code(&answer),
        (404, Some("request_not_found")),
        "{}",
        answer.1
    );
}

#[tokio::test]
async fn a_dr_registration_may_not_list_operators() {
    let app = spawn_app(&[]).await;
    let dr = app.login(DR_CONTRACTOR).await;
    let answer = dr.get("/api/v1/operators").await;
    assert_eq!(code(&answer), NOT_ALLOWED, "{}", answer.1);
    // Allowed: a retailer, who sees the DR registration in the list.
    let (status, body) = app.login(RETAILER_A).await.get("/api/v1/operators").await;
    assert_eq!(status, 200, "{body}");
    let codes: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["company_code"].as_str())
        .collect();
    assert!(codes.contains(&DR_CONTRACTOR), "{body}");
}

#[tokio::test]
async fn a_user_without_the_intermediation_permission_is_refused() {
    let app = spawn_app(&[]).await;
    let admin = app.login(RETAILER_A).await;
    let b = app.login(RETAILER_B).await;
    let s = ready_user(&app, &admin, RETAILER_A, "a0001.narrow.intermed").await;
    let set = |functions: Value| {
        let admin = &admin;
        async move {
            let path = "/api/v1/admin/users/a0001.narrow.intermed/permissions";
            call(admin, "PUT", path, Some(json!({ "functions": functions }))).await
        }
    };
    // Permitted only to register and read the results of low-voltage intermediations.
    let answer = set(json!([
        "facility-inquiry",
        "switch-intermediation",
        "switch-intermediation-result"
    ]))
    .await;
    assert_eq!(answer.0, 200, "{}", answer.1);
    let listed = answer.1["permissions"].as_array().unwrap().clone();
    assert!(
        listed.contains(&json!("switch-intermediation")),
        "{}",
        answer.1
    );
    // Allowed: what it was given.
    let id = registered(&s, 2, "lv").await;
    let answer = s
        .get("/api/v1/intermediations?role=new&point_class=lv")
        .await;
    assert_eq!(answer.0, 200, "{}", answer.1);
    assert_eq!(s.get(&format!("/api/v1/intermediations/{id}")).await.0, 200);
    // Refused: another class, the inbox, and a list wider than its permissions.
    let body = registration(3, RETAILER_B, "hv");
    let answer = call(&s, "POST", "/api/v1/intermediations", Some(body)).await;
    assert_eq!(code(&answer), NOT_PERMITTED, "{}", answer.1);
    for path in [
        "/api/v1/intermediations?role=current&point_class=lv",
        "/api/v1/intermediations?role=new",
        "/api/v1/intermediations",
    ] {
        let answer = s.get(path).await;
        assert_eq!(code(&answer), NOT_PERMITTED, "{path}: {}", answer.1);
    }
    // B's user whose permissions leave out the decision cannot decide; B's administrator can.
    let bs = ready_user(&app, &b, RETAILER_B, "b0002.no.decide").await;
    let path = "/api/v1/admin/users/b0002.no.decide/permissions";
    let functions = json!({"functions": ["switch-intermediation-inbox"]});
    assert_eq!(call(&b, "PUT", path, Some(functions)).await.0, 200);
    assert_eq!(
        bs.get(&format!("/api/v1/intermediations/{id}")).await.0,
        200
    );
    let decision = json!({"decision": "approve", "reasons": []});
    let path = format!("/api/v1/intermediations/{id}/decision");
    let answer = call(&bs, "POST", &path, Some(decision.clone())).await;
    assert_eq!(code(&answer), NOT_PERMITTED, "{}", answer.1);
    let answer = call(&b, "POST", &path, Some(decision)).await;
    assert_eq!(answer.0, 202, "{}", answer.1);
    // A DR registration's user cannot be given an intermediation function at all.
    let dr = app.login(DR_CONTRACTOR).await;
    ready_user(&app, &dr, DR_CONTRACTOR, "d0003.dr.narrow").await;
    let path = "/api/v1/admin/users/d0003.dr.narrow/permissions";
    let answer = call(
        &dr,
        "PUT",
        path,
        Some(json!({"functions": ["switch-intermediation"]})),
    )
    .await;
    assert_eq!(
        code(&answer),
        (422, Some("permission_not_allowed_for_kind")),
        "{}",
        answer.1
    );
    let answer = call(
        &dr,
        "PUT",
        path,
        Some(json!({"functions": ["point-search"]})),
    )
    .await;
    assert_eq!(answer.0, 200, "{}", answer.1);
}

/// 法人番号 of the contractor in these tests.
fn contractor() -> String {
    CorporateNumber::with_check_digit("123456789012")
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_contractors_user_cannot_be_made_an_administrator() {
    let app = spawn_app(&[]).await;
    let admin = app.login(RETAILER_A).await;
    let number = contractor();
    let path = format!("/api/v1/admin/contractors/{number}");
    let answer = call(
        &admin,
        "PUT",
        &path,
        Some(json!({"name": "切替業務受託株式会社"})),
    )
    .await;
    assert_eq!(answer.0, 200, "{}", answer.1);
    let user = "a0001.itaku.admin";
    let body = json!({"user_id": user, "name": "受託 一郎", "mail": mail_of(user),
                      "contractor": number});
    let answer = call(&admin, "POST", "/api/v1/admin/users", Some(body)).await;
    assert_eq!(answer.0, 201, "{}", answer.1);
    let initial = mailed_password(&app, &mail_of(user));
    let (status, session) = login_as(&app, RETAILER_A, user, &initial).await;
    assert_eq!(status, 200, "{session}");
    let itaku = Retailer {
        http: app.client_for(RETAILER_A),
        token: session["token"].as_str().unwrap().into(),
        api: app.api.clone(),
    };
    assert_eq!(change_password(&itaku, &initial, PASSWORD).await.0, 200);
    // Refused: the edit that would make it an administrator; it stays one of the users.
    let user_path = format!("/api/v1/admin/users/{user}");
    let answer = call(
        &admin,
        "PATCH",
        &user_path,
        Some(json!({"administrator": true})),
    )
    .await;
    assert_eq!(
        code(&answer),
        (422, Some("contractor_cannot_administer")),
        "{}",
        answer.1
    );
    let (_, view) = call(&admin, "GET", &user_path, None).await;
    assert_eq!(view["administrator"], false, "{view}");
    // Allowed: the edit of its name, and making the registration's own user an administrator.
    let answer = call(
        &admin,
        "PATCH",
        &user_path,
        Some(json!({"name": "受託 一朗"})),
    )
    .await;
    assert_eq!(answer.0, 200, "{}", answer.1);
    ready_user(&app, &admin, RETAILER_A, "a0001.own.admin").await;
    let own = "/api/v1/admin/users/a0001.own.admin";
    let answer = call(&admin, "PATCH", own, Some(json!({"administrator": true}))).await;
    assert_eq!(
        (answer.0, &answer.1["administrator"]),
        (200, &json!(true)),
        "{}",
        answer.1
    );
    // A contractor's user flagged an administrator before this rule held is not obeyed as one.
    pool(&app)
        .get()
        .await
        .unwrap()
        .execute(
            "UPDATE users SET administrator = true WHERE user_id = $1",
            &[&user],
        )
        .await
        .unwrap();
    let itaku = crate::users::session_of(&app, RETAILER_A, user, PASSWORD).await;
    let body = json!({"user_id": "made.by.itaku", "name": "管理 花子",
                      "mail": mail_of("made.by.itaku"), "administrator": true});
    let answer = call(&itaku, "POST", "/api/v1/admin/users", Some(body)).await;
    assert_eq!(
        code(&answer),
        (403, Some("administrator_required")),
        "{}",
        answer.1
    );
    // And once the contractor is revoked, its users cannot act at all.
    let answer = call(&admin, "DELETE", &path, None).await;
    assert_eq!(answer.0, 200, "{}", answer.1);
    let (status, body) = login_as(&app, RETAILER_A, user, PASSWORD).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("contractor_revoked"))
    );
}

#[tokio::test]
async fn a_login_with_another_companys_certificate_locks_nobody_and_says_only_invalid_credentials()
{
    let app = spawn_tweaked_lockout().await;
    let victim = user_of(RETAILER_A);
    // B's certificate, A's user: the right password and wrong ones are answered alike, and
    // however often, nothing is counted.
    for password in [
        PASSWORD,
        "Wrong-pass-1234",
        PASSWORD,
        "Wrong-pass-1234",
        "x",
    ] {
        let resp = app
            .client_for(RETAILER_B)
            .post(format!("{}/api/v1/session", app.api))
            .json(&json!({"user_id": victim, "password": password}))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap();
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("invalid_credentials")),
            "{body}"
        );
    }
    let row = pool(&app)
        .get()
        .await
        .unwrap()
        .query_one(
            "SELECT failed_logins, locked FROM users WHERE user_id = $1",
            &[&victim],
        )
        .await
        .unwrap();
    assert_eq!((row.get::<_, i32>(0), row.get::<_, bool>(1)), (0, false));
    // Allowed: A's own certificate logs its user in.
    assert_eq!(login_as(&app, RETAILER_A, &victim, PASSWORD).await.0, 200);
    // With its own certificate, failures are still counted and lock (the rule kept).
    for _ in 0..2 {
        let answer = login_as(&app, RETAILER_A, &victim, "Wrong-pass-1234").await;
        assert_eq!(code(&answer), (401, Some("invalid_credentials")));
    }
    let answer = login_as(&app, RETAILER_A, &victim, PASSWORD).await;
    assert_eq!(code(&answer), (401, Some("account_locked")), "{}", answer.1);
}

/// A hub that locks an account after two failures, so a count that should not happen shows.
async fn spawn_tweaked_lockout() -> TestApp {
    spawn_app_tweaked(&[], |s| s.lockout_after = 2).await
}
