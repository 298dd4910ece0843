//! The web screens in a real headless Chromium presenting a real client certificate (see
//! `web_browser.rs`): sign-in, the first-login password change, the lock, sign-out and idle
//! expiry; an application filed through its form until its page shows the operator's answer
//! without a reload; field errors next to their field; the status list's CSV in both encodings.
//! Set `KIRIKAE_SCREENSHOTS=1` to refresh `docs/screens/`.

use std::time::Duration;

use fantoccini::Locator;
use kirikae::accounts::{self, Accounts, registrations};
use kirikae::domain::{Area, CompanyCode, UserId};
use kirikae::hub;

use super::harness::{
    DR_CONTRACTOR, PASSWORD, RETAILER_A, TestApp, spawn_app, spawn_app_tweaked, user_of,
    vacant_point,
};
use super::web_browser::Browser;

pub(super) async fn screenshot(b: &Browser, name: &str) {
    if std::env::var_os("KIRIKAE_SCREENSHOTS").is_some() {
        b.screenshot(name).await;
    }
}

/// Registers a clerk of `company` on an initial password (a change is due at first login).
async fn clerk_on_initial_password(app: &TestApp, company: &str, user: &str) {
    let pool = hub::pool(&app.settings).unwrap();
    let accounts = Accounts::new(&app.settings, pool);
    let clerk = accounts::NewUser {
        name: "テスト 担当者".into(),
        mail: format!("{user}@example.jp"),
        must_change_password: true,
    };
    accounts
        .issue_user(
            &registrations::operator(),
            &CompanyCode::parse(company).unwrap(),
            &UserId::parse(user).unwrap(),
            PASSWORD,
            &clerk,
        )
        .await
        .unwrap();
}

/// Sets a form control's value as a script would (date inputs take keys by locale).
pub(super) async fn set_value(b: &Browser, id: &str, value: &str) {
    b.client
        .execute(
            "document.getElementById(arguments[0]).value = arguments[1];",
            vec![id.into(), value.into()],
        )
        .await
        .unwrap();
}

/// Fills the 再点 form for `point` and files it.
pub(super) async fn file_reconnection(b: &Browser, app: &TestApp, point: &str) {
    b.goto(&format!("{}/web/apply/reconnection", app.api)).await;
    b.fill("supply_point_id", point).await;
    let date = chrono::Utc::now().date_naive() + chrono::Duration::days(3);
    set_value(b, "planned_date", &date.to_string()).await;
    b.fill("customer_name", "佐藤 花子").await;
    set_value(b, "contract_method", "MEASURED").await;
    b.click("agreed_to_grid_terms").await;
    b.submit("submit").await;
}

#[tokio::test]
async fn a_browser_without_a_client_certificate_is_refused() {
    let app = spawn_app(&[]).await;
    let b = Browser::start(&app, None).await;
    let _ = b.client.goto(&format!("{}/web/signin", app.api)).await;
    assert!(
        b.client.find(Locator::Id("signin-form")).await.is_err(),
        "the sign-in form was served without a client certificate"
    );
    let with_cert = Browser::start(&app, Some(RETAILER_A)).await;
    with_cert.goto(&format!("{}/web/signin", app.api)).await;
    assert!(
        with_cert
            .client
            .find(Locator::Id("signin-form"))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_clerk_signs_in_sees_only_what_its_kind_allows_and_signs_out() {
    let app = spawn_app(&[]).await;
    let b = Browser::start(&app, Some(RETAILER_A)).await;
    b.goto(&format!("{}/web/", app.api)).await;
    assert_eq!(
        b.path().await,
        "/web/signin",
        "no session: the sign-in screen"
    );
    screenshot(&b, "signin").await;
    b.sign_in(&app, &user_of(RETAILER_A), PASSWORD).await;
    assert_eq!(b.path().await, "/web/");
    let menu = b.source().await;
    assert!(menu.contains("/web/apply/reconnection"), "{menu}");
    assert!(menu.contains("/web/requests"), "{menu}");
    screenshot(&b, "menu").await;
    b.submit("signout").await;
    assert_eq!(b.path().await, "/web/signin");
    b.goto(&format!("{}/web/", app.api)).await;
    assert_eq!(
        b.path().await,
        "/web/signin",
        "signed out: the session is gone"
    );

    // A demand-response contractor may not file 再点 (retailers only), but reads its status.
    let dr = Browser::start(&app, Some(DR_CONTRACTOR)).await;
    dr.sign_in(&app, &user_of(DR_CONTRACTOR), PASSWORD).await;
    assert_eq!(dr.path().await, "/web/");
    let menu = dr.source().await;
    assert!(!menu.contains("/web/apply/reconnection"), "{menu}");
    assert!(menu.contains("/web/apply/facility-inquiry"), "{menu}");
    assert!(menu.contains("/web/requests"), "{menu}");
    dr.goto(&format!("{}/web/apply/reconnection", app.api))
        .await;
    assert_eq!(
        dr.text("refusal-code").await.as_deref(),
        Some("function_not_allowed")
    );
}

#[tokio::test]
async fn the_first_login_requires_a_password_change() {
    let app = spawn_app(&[]).await;
    clerk_on_initial_password(&app, RETAILER_A, "clerk-first").await;
    let b = Browser::start(&app, Some(RETAILER_A)).await;
    b.sign_in(&app, "clerk-first", PASSWORD).await;
    assert_eq!(b.path().await, "/web/password");
    assert!(b.text("must-change").await.is_some());
    b.goto(&format!("{}/web/", app.api)).await;
    assert_eq!(
        b.path().await,
        "/web/password",
        "nothing else before the change"
    );
    screenshot(&b, "password").await;

    let new = "A-brand-new-password-42";
    b.fill("old_password", PASSWORD).await;
    b.fill("new_password", new).await;
    b.fill("new_password_confirm", "something-else-42").await;
    b.submit("change-password").await;
    let shown = b
        .text("new_password_confirm-error")
        .await
        .unwrap_or_default();
    assert!(shown.contains("password_confirmation_mismatch"), "{shown}");

    b.fill("old_password", PASSWORD).await;
    b.fill("new_password", PASSWORD).await;
    b.fill("new_password_confirm", PASSWORD).await;
    b.submit("change-password").await;
    let shown = b.text("new_password-error").await.unwrap_or_default();
    assert!(
        shown.contains("password_reused"),
        "the policy's own refusal: {shown}"
    );

    b.fill("old_password", PASSWORD).await;
    b.fill("new_password", new).await;
    b.fill("new_password_confirm", new).await;
    b.submit("change-password").await;
    assert_eq!(b.path().await, "/web/");
}

#[tokio::test]
async fn failed_sign_ins_in_a_row_lock_the_account_and_the_screen_says_so() {
    let app = spawn_app(&[]).await;
    let b = Browser::start(&app, Some(RETAILER_A)).await;
    let user = user_of(RETAILER_A);
    for _ in 0..app.settings.lockout_after {
        b.sign_in(&app, &user, "Wrong-password-123").await;
        let shown = b.text("signin-error").await.unwrap_or_default();
        assert!(shown.contains("invalid_credentials"), "{shown}");
    }
    b.sign_in(&app, &user, PASSWORD).await;
    let shown = b.text("signin-error").await.unwrap_or_default();
    assert!(shown.contains("account_locked"), "{shown}");
    assert_eq!(b.path().await, "/web/signin");
    screenshot(&b, "locked").await;
}

#[tokio::test]
async fn a_session_left_idle_ends() {
    let app = spawn_app_tweaked(&[], |s| s.web_idle_secs = 2).await;
    let b = Browser::start(&app, Some(RETAILER_A)).await;
    b.sign_in(&app, &user_of(RETAILER_A), PASSWORD).await;
    assert_eq!(b.path().await, "/web/");
    tokio::time::sleep(Duration::from_secs(4)).await;
    b.goto(&format!("{}/web/", app.api)).await;
    assert_eq!(b.path().await, "/web/signin");
    assert!(
        b.text("notice").await.is_some(),
        "the screen says the session ended"
    );
}

#[tokio::test]
async fn a_reconnection_filed_through_its_form_shows_completed_without_a_reload() {
    let app = spawn_app(&[Area::Tokyo]).await;
    let b = Browser::start(&app, Some(RETAILER_A)).await;
    b.sign_in(&app, &user_of(RETAILER_A), PASSWORD).await;
    b.goto(&format!("{}/web/apply/reconnection", app.api)).await;
    screenshot(&b, "reconnection-form").await;
    file_reconnection(&b, &app, vacant_point(Area::Tokyo, 0).as_str()).await;
    assert!(
        b.path().await.starts_with("/web/requests/"),
        "{}",
        b.path().await
    );
    // A mark on this page's window: a reload would drop it.
    b.client
        .execute("window.kirikaeMark = 'same page';", vec![])
        .await
        .unwrap();
    b.wait_text("status-code", "completed", 90).await;
    let mark = b
        .client
        .execute("return window.kirikaeMark || null;", vec![])
        .await
        .unwrap();
    assert_eq!(mark, "same page", "the page was reloaded");
    assert!(
        b.text("answer").await.is_some(),
        "the operator's answer is shown"
    );
    screenshot(&b, "request-completed").await;
}

#[tokio::test]
async fn a_form_error_is_shown_next_to_its_field_and_an_operators_refusal_on_the_page() {
    let app = spawn_app(&[Area::Tokyo]).await;
    let b = Browser::start(&app, Some(RETAILER_A)).await;
    b.sign_in(&app, &user_of(RETAILER_A), PASSWORD).await;
    file_reconnection(&b, &app, "03-not-a-point").await;
    assert_eq!(b.path().await, "/web/apply/reconnection");
    let shown = b.text("supply_point_id-error").await.unwrap_or_default();
    assert!(shown.contains("invalid_supply_point_id"), "{shown}");
    assert!(
        shown.contains("供給地点特定番号"),
        "the Japanese message: {shown}"
    );
    screenshot(&b, "form-error").await;

    // A point the operator does not know: accepted by the hub, refused by the operator.
    file_reconnection(&b, &app, "0399999999999999999999").await;
    b.wait_text("status-code", "rejected", 90).await;
    let code = b.text("refusal-code").await.unwrap_or_default();
    assert!(code.starts_with('E'), "the operator's code: {code}");
    let message = b.text("refusal-message").await.unwrap_or_default();
    assert!(message.contains("供給地点特定番号"), "{message}");
}

#[tokio::test]
async fn the_status_list_downloads_as_csv_in_utf8_with_bom_and_in_shift_jis() {
    let app = spawn_app(&[Area::Tokyo]).await;
    let b = Browser::start(&app, Some(RETAILER_A)).await;
    b.sign_in(&app, &user_of(RETAILER_A), PASSWORD).await;
    file_reconnection(&b, &app, "0399999999999999999999").await;
    b.wait_text("status-code", "rejected", 90).await;
    let code = b.text("refusal-code").await.unwrap();
    let message = b.text("refusal-message").await.unwrap();

    b.goto(&format!("{}/web/requests?status=rejected", app.api))
        .await;
    let list = b.text("requests").await.unwrap_or_default();
    assert!(list.contains(&code), "{list}");
    screenshot(&b, "status-list").await;

    b.click("csv-utf8").await;
    let utf8 = b.downloaded(30).await;
    assert!(utf8.starts_with(b"\xEF\xBB\xBF"), "a BOM");
    let text = String::from_utf8(utf8[3..].to_vec()).unwrap();
    assert!(text.starts_with("受付番号,"), "{text}");
    assert!(text.contains("エラーコード,エラーメッセージ"), "{text}");
    assert!(text.contains(&code) && text.contains(&message), "{text}");

    b.click("csv-sjis").await;
    let sjis = b.downloaded(30).await;
    assert!(std::str::from_utf8(&sjis).is_err(), "not UTF-8");
    let (text, _, malformed) = encoding_rs::SHIFT_JIS.decode(&sjis);
    assert!(!malformed);
    assert!(text.contains("エラーコード,エラーメッセージ"), "{text}");
    assert!(text.contains(&code) && text.contains(&message), "{text}");
}

#[tokio::test]
async fn a_post_without_the_sessions_csrf_token_is_refused() {
    let app = spawn_app(&[]).await;
    let a = app.login(RETAILER_A).await;
    let cookie = format!("__Host-kirikae-session={}", a.token);
    let menu = a
        .http
        .get(format!("{}/web/", app.api))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(menu.status(), 200);
    let page = menu.text().await.unwrap();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the sign-out form's CSRF token")
        .to_string();
    for forged in ["", "0123456789abcdef"] {
        let resp = a
            .http
            .post(format!("{}/web/signout", app.api))
            .header("cookie", &cookie)
            .form(&[("csrf", forged)])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403);
        assert!(resp.text().await.unwrap().contains("csrf_token_invalid"));
    }
    let (code, _) = a.get("/api/v1/requests").await;
    assert_eq!(code, 200, "a refused POST ended nothing");
    let resp = a
        .http
        .post(format!("{}/web/signout", app.api))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_redirection() || resp.status() == 200);
    tokio::time::sleep(kirikae::accounts::sessions::TRUST).await;
    let (code, _) = a.get("/api/v1/requests").await;
    assert_eq!(
        code, 401,
        "signing out on the web ends the same session for the API"
    );
}
