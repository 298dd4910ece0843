//! Every route of the API, proven both ways by walking the route table itself
//! (`kirikae::api::route_table`): without a token, as an ordinary user where administrators
//! only, from another company, from a suspended or ended registration — each refused with its
//! code — and the allowed case next to each refusal. A route added to the table is walked the
//! day it is added. The rules of the functions the hub answers itself (DR registrations, per-user
//! permissions, a contractor's user as administrator) are in `tests/hub/access.rs`.

use kirikae::accounts::registrations::{self, RegistrationStatus};
use kirikae::domain::{Area, CompanyCode, CorporateNumber, SupplyPointId};
use kirikae::tso_sim::register::{PointKind, incumbent_code};
use serde_json::{Value, json};

use crate::harness::*;
use crate::users::{call, mail_of, pool, register};

/// The routes open without a token: login itself and the API's description.
const OPEN: [(&str, &str); 2] = [("POST", "/api/v1/session"), ("GET", "/openapi.json")];

/// 法人番号 of the contractor these tests authorise (made up, valid check digit).
fn contractor() -> String {
    CorporateNumber::with_check_digit("123456789012")
        .unwrap()
        .to_string()
}

const NIL: &str = "00000000-0000-0000-0000-000000000000";

/// `template` with each `{param}` filled: `user` for a user id, the contractor for a corporate
/// number, a nil UUID for an id, `lv` for a class, `facility-inquiry` for a function.
fn fill(template: &str, user: &str) -> String {
    template
        .replace("{user_id}", user)
        .replace("{corporate_number}", &contractor())
        .replace("{request_id}", NIL)
        .replace("{id}", NIL)
        .replace("{class}", "lv")
        .replace("{function}", "facility-inquiry")
}

/// What a request of the route carries: JSON, or CSV text for the bulk uploads.
enum Payload {
    Json(Value),
    Csv(&'static str),
}

/// A body each route accepts from its rightful caller (so a refusal is the rule's, not the
/// body's), for `user` as the target user.
fn payload(method: &str, template: &str, user: &str) -> Option<Payload> {
    Some(match (method, template) {
        ("POST", "/api/v1/admin/users") => Payload::Json(
            json!({"user_id": format!("{user}.new"), "name": "切替 次郎", "mail": mail_of(&format!("{user}.new"))}),
        ),
        ("POST", "/api/v1/admin/users/bulk") => Payload::Csv(
            "user_id,name,mail,administrator,permissions\na0001.bulk.matrix,一括 一郎,bulk.matrix@example.jp,false,\n",
        ),
        // Refused before the file is read, so any CSV will do.
        ("POST", "/api/v1/bulk/{function}") => Payload::Csv("地点特定番号\n"),
        ("PATCH", "/api/v1/admin/users/{user_id}") => Payload::Json(json!({"name": "切替 三郎"})),
        ("POST", "/api/v1/admin/users/{user_id}/enabled") => {
            Payload::Json(json!({"enabled": true}))
        }
        ("PUT", "/api/v1/admin/users/{user_id}/permissions") => {
            Payload::Json(json!({"functions": ["facility-inquiry"]}))
        }
        ("PUT", "/api/v1/admin/contractors/{corporate_number}") => {
            Payload::Json(json!({"name": "切替業務受託株式会社"}))
        }
        ("PUT", "/api/v1/admin/webhook") => {
            Payload::Json(json!({"url": "https://localhost:9/hook"}))
        }
        ("POST", "/api/v1/session/password") => Payload::Json(
            json!({"old_password": PASSWORD, "new_password": "Another-test-password-2"}),
        ),
        ("POST", "/api/v1/session") => {
            Payload::Json(json!({"user_id": user, "password": PASSWORD}))
        }
        ("POST", _) => Payload::Json(json!({})),
        _ => return None,
    })
}

/// `method path` on `api` with `http` (its client certificate), `token` if any, and `body`:
/// status and JSON body.
async fn send(
    http: &reqwest::Client,
    api: &str,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<Payload>,
) -> (u16, Value) {
    let mut req = http.request(method.parse().unwrap(), format!("{api}{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req = match body {
        Some(Payload::Json(v)) => req.json(&v),
        Some(Payload::Csv(text)) => req.header("content-type", "text/csv").body(text),
        None => req,
    };
    let resp = req.send().await.unwrap();
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

/// `who` calls route `(method, template)` aimed at `user`.
async fn as_who(who: &Retailer, (method, template): (&str, &str), user: &str) -> (u16, Value) {
    let path = fill(template, user);
    let body = payload(method, template, user);
    send(&who.http, &who.api, Some(&who.token), method, &path, body).await
}

fn authenticated_routes() -> Vec<(&'static str, &'static str)> {
    kirikae::api::route_table()
        .into_iter()
        .filter(|r| !OPEN.contains(r))
        .collect()
}

fn administrator_routes() -> Vec<(&'static str, &'static str)> {
    let mut admin: Vec<_> = kirikae::api::route_table()
        .into_iter()
        .filter(|(_, p)| p.starts_with("/api/v1/admin/"))
        .collect();
    // The deletions last, so the allowed case can walk the others on what they delete.
    admin.sort_by_key(|(m, _)| *m == "DELETE");
    admin
}

#[tokio::test]
async fn every_route_but_login_and_the_api_description_answers_401_without_a_token() {
    let app = spawn_app(&[]).await;
    let http = app.client_for(RETAILER_A);
    let routes = authenticated_routes();
    assert!(routes.len() > 25, "the route table: {routes:?}");
    for (method, template) in routes {
        let path = fill(template, &user_of(RETAILER_A));
        for token in [None, Some("not-a-token-the-hub-issued")] {
            let body = payload(method, template, &user_of(RETAILER_A));
            let (status, answer) = send(&http, &app.api, token, method, &path, body).await;
            assert_eq!(
                (status, answer["code"].as_str()),
                (401, Some("unauthenticated")),
                "{method} {path} with token {token:?}: {answer}"
            );
        }
    }
    // Allowed without a token: the description, and login itself.
    let (status, _) = send(&http, &app.api, None, "GET", "/openapi.json", None).await;
    assert_eq!(status, 200);
    let body = payload("POST", "/api/v1/session", &user_of(RETAILER_A));
    let (status, answer) = send(&http, &app.api, None, "POST", "/api/v1/session", body).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer["token"].is_string(), "{answer}");
}

#[tokio::test]
async fn every_administrator_route_refuses_an_ordinary_user_and_serves_the_administrator() {
    let app = spawn_app(&[]).await;
    let admin = app.login(RETAILER_A).await;
    let staff = app.login_ordinary(RETAILER_A).await;
    register(&admin, "a0001.matrix.target", json!({})).await;
    let routes = administrator_routes();
    for path in [
        "/api/v1/admin/users/bulk",
        "/api/v1/admin/users/{user_id}/enabled",
        "/api/v1/admin/contractors/{corporate_number}",
    ] {
        assert!(routes.iter().any(|(_, p)| *p == path), "{path} not walked");
    }
    // Refused: every one of them, to an ordinary user of the same registration, and nothing
    // it asked for happened (the target user is still there, unchanged, below).
    for &route in &routes {
        let answer = as_who(&staff, route, "a0001.matrix.target").await;
        assert_eq!(
            (answer.0, answer.1["code"].as_str()),
            (403, Some("administrator_required")),
            "{route:?}: {}",
            answer.1
        );
    }
    let (_, target) = call(
        &admin,
        "GET",
        "/api/v1/admin/users/a0001.matrix.target",
        None,
    )
    .await;
    assert_eq!(target["name"], "切替 太郎", "{target}");
    // Allowed: the administrator, on the same routes with the same bodies.
    for &route in &routes {
        let answer = as_who(&admin, route, "a0001.matrix.target").await;
        assert!(
            (200..300).contains(&answer.0),
            "{route:?} by the administrator: {} {}",
            answer.0,
            answer.1
        );
    }
}

#[tokio::test]
async fn another_companys_contractors_are_neither_listed_nor_revoked() {
    let app = spawn_app(&[]).await;
    let a = app.login(RETAILER_A).await;
    let b = app.login(RETAILER_B).await;
    let number = contractor();
    let path = format!("/api/v1/admin/contractors/{number}");
    let name = json!({"name": "切替業務受託株式会社"});
    let (status, answer) = call(&a, "PUT", &path, Some(name)).await;
    assert_eq!(status, 200, "{answer}");
    // Refused: B neither sees A's contractor nor revokes it.
    let (status, list) = b.get("/api/v1/admin/contractors").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["contractors"], json!([]), "{list}");
    let (status, answer) = call(&b, "DELETE", &path, None).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (404, Some("contractor_not_found")),
        "{answer}"
    );
    // Allowed: A's own list shows it, still authorised, and A may revoke it.
    let (status, list) = a.get("/api/v1/admin/contractors").await;
    assert_eq!(status, 200, "{list}");
    let mine = &list["contractors"][0];
    assert_eq!(mine["corporate_number"], number.as_str(), "{list}");
    assert!(mine["revoked_at"].is_null(), "{list}");
    let (status, answer) = call(&a, "DELETE", &path, None).await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test]
async fn another_companys_request_is_not_found_by_class_either() {
    let app = spawn_app(&[Area::Tokyo]).await;
    let (a, b) = (app.login(RETAILER_A).await, app.login(RETAILER_B).await);
    let (point, _) = app.point(Area::Tokyo, 6);
    let id = a.facility_inquiry(&point).await;
    a.final_status(&id).await;
    // A facility inquiry is of the low-voltage class.
    let one = format!("/api/v1/lv/requests/{id}");
    let list = "/api/v1/lv/requests".to_string();
    // Allowed: A reads its request by its class and finds it in the class's list.
    let (status, answer) = a.get(&one).await;
    assert_eq!(status, 200, "{one}: {answer}");
    let (status, answer) = a.get(&list).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.to_string().contains(&id), "{answer}");
    // Refused: B is told the id does not exist, and its list does not hold it.
    let (status, answer) = b.get(&one).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (404, Some("request_not_found")),
        "{answer}"
    );
    let (status, answer) = b.get(&list).await;
    assert_eq!(status, 200, "{answer}");
    assert!(!answer.to_string().contains(&id), "{answer}");
}

#[tokio::test]
async fn an_administrator_cannot_delete_disable_or_demote_itself() {
    let app = spawn_app(&[]).await;
    let admin = app.login(RETAILER_A).await;
    let me = format!("/api/v1/admin/users/{}", user_of(RETAILER_A));
    for (method, path, body, code) in [
        ("DELETE", me.clone(), None, "cannot_delete_self"),
        (
            "POST",
            format!("{me}/enabled"),
            Some(json!({"enabled": false})),
            "cannot_disable_self",
        ),
        (
            "PATCH",
            me.clone(),
            Some(json!({"administrator": false})),
            "cannot_demote_self",
        ),
    ] {
        let (status, answer) = call(&admin, method, &path, body).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (422, Some(code)),
            "{method} {path}: {answer}"
        );
    }
    // Still an administrator, enabled, there.
    let (status, answer) = call(&admin, "GET", &me, None).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["administrator"], true, "{answer}");
    // Allowed: the same to another administrator of the registration.
    let other = "/api/v1/admin/users/a0001.second.admin";
    register(&admin, "a0001.second.admin", json!({"administrator": true})).await;
    for (method, path, body) in [
        ("PATCH", other.to_string(), json!({"administrator": false})),
        (
            "POST",
            format!("{other}/enabled"),
            json!({"enabled": false}),
        ),
    ] {
        let (status, answer) = call(&admin, method, &path, Some(body)).await;
        assert_eq!(status, 200, "{method} {path}: {answer}");
    }
    let (status, answer) = call(&admin, "DELETE", other, None).await;
    assert!((200..300).contains(&status), "{answer}");
}

#[tokio::test]
async fn a_suspended_or_ended_registration_is_refused_on_every_route() {
    let app = spawn_app(&[]).await;
    let a = app.login(RETAILER_A).await;
    let b = app.login(RETAILER_B).await;
    let code = CompanyCode::parse(RETAILER_B).unwrap();
    let pool = pool(&app);
    let routes = authenticated_routes();
    for (status, refusal) in [
        (RegistrationStatus::Suspended, "registration_suspended"),
        (RegistrationStatus::Ended, "registration_ended"),
    ] {
        registrations::set_status(&pool, &code, status)
            .await
            .unwrap();
        // The gate trusts what it read for at most a second.
        let first = ("GET", "/api/v1/requests");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        loop {
            let (got, answer) = as_who(&b, first, &user_of(RETAILER_B)).await;
            if (got, answer["code"].as_str()) == (403, Some(refusal)) {
                break;
            }
            // Until then: allowed, or (when ending) still refused as suspended.
            assert!(
                got == 200 || answer["code"] == "registration_suspended",
                "{answer}"
            );
            assert!(std::time::Instant::now() < deadline, "not yet {refusal}");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        for &route in &routes {
            let answer = as_who(&b, route, &user_of(RETAILER_B)).await;
            assert_eq!(
                (answer.0, answer.1["code"].as_str()),
                (403, Some(refusal)),
                "{route:?}: {}",
                answer.1
            );
        }
        // Nor can it log in again.
        let body = payload("POST", "/api/v1/session", &user_of(RETAILER_B));
        let (got, answer) = send(&b.http, &b.api, None, "POST", "/api/v1/session", body).await;
        assert_eq!((got, answer["code"].as_str()), (403, Some(refusal)));
        // Allowed: another registration carries on.
        assert_eq!(a.list("").await.0, 200);
    }
}

#[tokio::test]
async fn a_correction_of_another_companys_request_is_original_not_found_and_of_another_point_original_mismatch()
 {
    let area = Area::Tokyo;
    let app = spawn_app(&[area]).await;
    let (a, b) = (app.login(RETAILER_A).await, app.login(RETAILER_B).await);
    let point = app.incumbent_point(area, PointKind::LowVoltage, 21);
    let other_point = app.incumbent_point(area, PointKind::LowVoltage, 22);
    let start = switch_start_body(&point, &incumbent_code(area));
    let original = a.accepted("switch-start", start.clone()).await;
    a.wait_for_status(&original, "sent").await;
    let withdrawal = |p: &SupplyPointId| {
        let mut w = switch_start_body(p, &incumbent_code(area));
        w["update_flag"] = json!("withdraw");
        w["original_request_id"] = json!(original);
        w
    };
    // Refused: B withdrawing A's request is told no such request of its own exists.
    let resp = b.submit("switch-start", withdrawal(&point)).await;
    let (status, answer) = (resp.status().as_u16(), resp.json::<Value>().await.unwrap());
    assert_eq!(
        (status, answer["code"].as_str()),
        (422, Some("original_not_found")),
        "{answer}"
    );
    // Refused: A withdrawing its request as another point's.
    let resp = a.submit("switch-start", withdrawal(&other_point)).await;
    let (status, answer) = (resp.status().as_u16(), resp.json::<Value>().await.unwrap());
    assert_eq!(
        (status, answer["code"].as_str()),
        (422, Some("original_mismatch")),
        "{answer}"
    );
    // Allowed: A withdrawing it as itself.
    let resp = a.submit("switch-start", withdrawal(&point)).await;
    assert_eq!(resp.status().as_u16(), 202);
}

/// Every catalogue function the DR registrations may not call, walked from the function table
/// itself (a function added is walked the day it is added): a DR registration's submission is
/// `403 function_not_allowed`, before its body is judged; a retailer's same submission is not
/// refused for its kind (its empty body is judged instead).
#[tokio::test]
async fn every_retailer_only_function_refuses_a_dr_registration_and_not_a_retailer() {
    use kirikae::domain::Function;
    let app = spawn_app(&[]).await;
    let dr = app.login(DR_CONTRACTOR).await;
    let a = app.login(RETAILER_A).await;
    let retailer_only: Vec<Function> = Function::ALL
        .iter()
        .copied()
        .filter(|f| !f.open_to_dr())
        .collect();
    assert!(retailer_only.len() > 5, "{retailer_only:?}");
    for f in retailer_only {
        let path = format!("/api/v1/{}", f.slug());
        let answer = call(&dr, "POST", &path, Some(json!({}))).await;
        assert_eq!(
            (answer.0, answer.1["code"].as_str()),
            (403, Some("function_not_allowed")),
            "{path} by a DR registration: {}",
            answer.1
        );
        let answer = call(&a, "POST", &path, Some(json!({}))).await;
        assert!(
            answer.0 != 403 && answer.0 != 202,
            "{path} by a retailer with an empty body: {} {}",
            answer.0,
            answer.1
        );
    }
}
