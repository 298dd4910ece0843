//! Issue 12, the administrator's screens (`src/web/admin/`): a registration's administrator
//! manages its users and contractors in a browser through the same `Accounts` functions as
//! `/api/v1/admin/…`. In a real Chromium: the administrator registers a user, who signs in
//! with the mailed password and changes it; a refusal shown next to its field. Over plain
//! HTTPS (`web_http.rs`): each other screen against what the API then reads.
//! `KIRIKAE_SCREENSHOTS=1` refreshes `docs/screens/admin-users.png` and `admin-user-new.png`.

use kirikae::domain::CorporateNumber;
use serde_json::json;

use super::harness::{PASSWORD, RETAILER_A, spawn_app, user_of};
use super::users::{call, mail_of, mailbox, mailed_password, ready_user, register};
use super::web::screenshot;
use super::web_browser::Browser;
use super::web_http::WebClient;

#[tokio::test]
async fn the_administrator_registers_a_user_who_signs_in_with_the_mailed_password() {
    let app = spawn_app(&[]).await;
    let admin = Browser::start(&app, Some(RETAILER_A)).await;
    admin.sign_in(&app, &user_of(RETAILER_A), PASSWORD).await;
    let menu = admin.source().await;
    assert!(menu.contains("/web/admin/users"), "{menu}");
    admin.goto(&format!("{}/web/admin/users", app.api)).await;
    admin.submit("new-user").await;
    assert_eq!(admin.path().await, "/web/admin/users/new");

    // A refusal of the rule, next to its field; what was typed stays.
    admin.fill("user_id", "a0001.suzuki.ichiro").await;
    admin.fill("name", "鈴木 一郎").await;
    admin.fill("mail", "not-an-address").await;
    admin.submit("register").await;
    let shown = admin.text("mail-error").await.unwrap_or_default();
    assert!(shown.contains("invalid_mail"), "{shown}");
    assert!(
        shown.contains("メールアドレス"),
        "the Japanese message: {shown}"
    );
    assert!(mailbox(&app, "not-an-address").is_empty());

    admin.fill("mail", &mail_of("a0001.suzuki.ichiro")).await;
    screenshot(&admin, "admin-user-new").await;
    admin.submit("register").await;
    assert_eq!(admin.path().await, "/web/admin/users/a0001.suzuki.ichiro");
    let note = admin.text("note").await.unwrap_or_default();
    assert!(note.contains("メールで送信"), "{note}");
    admin.goto(&format!("{}/web/admin/users", app.api)).await;
    assert!(admin.text("user-a0001.suzuki.ichiro").await.is_some());
    screenshot(&admin, "admin-users").await;

    // The person signs in with the mailed password and must change it first.
    let initial = mailed_password(&app, &mail_of("a0001.suzuki.ichiro"));
    let person = Browser::start(&app, Some(RETAILER_A)).await;
    person.sign_in(&app, "a0001.suzuki.ichiro", &initial).await;
    assert_eq!(person.path().await, "/web/password");
    assert!(person.text("must-change").await.is_some());
    let new = "Suzuki-own-password-77";
    person.fill("old_password", &initial).await;
    person.fill("new_password", new).await;
    person.fill("new_password_confirm", new).await;
    person.submit("change-password").await;
    assert_eq!(person.path().await, "/web/");
    // Not an administrator: no administrator's menu, and the screens refuse it.
    let menu = person.source().await;
    assert!(!menu.contains("/web/admin/users"), "{menu}");
    person.goto(&format!("{}/web/admin/users", app.api)).await;
    assert_eq!(
        person.text("refusal-code").await.as_deref(),
        Some("administrator_required")
    );
}

#[tokio::test]
async fn only_an_administrator_is_shown_and_served_the_administrators_screens() {
    let app = spawn_app(&[]).await;
    let admin = app.login(RETAILER_A).await;
    let clerk = ready_user(&app, &admin, RETAILER_A, "a0001.clerk.only").await;
    let clerk = WebClient::signed_in(clerk).await;
    let menu = clerk.get("/web/").await;
    assert!(!menu.html.contains("/web/admin/"), "{}", menu.html);
    for path in [
        "/web/admin/users",
        "/web/admin/users.csv",
        "/web/admin/users/new",
        "/web/admin/users/a0001.clerk.only",
        "/web/admin/contractors",
    ] {
        let s = clerk.get(path).await;
        assert_eq!(s.status, 403, "{path}");
        assert!(s.html.contains("administrator_required"), "{path}");
    }
    let s = clerk
        .post("/web/admin/users/a0001.clerk.only/unlock", &[])
        .await;
    assert_eq!(s.status, 403);
    assert!(s.html.contains("administrator_required"));

    let web = WebClient::of(&app, RETAILER_A).await;
    let menu = web.get("/web/").await;
    assert!(menu.html.contains("/web/admin/users"), "{}", menu.html);
    assert!(
        menu.html.contains("/web/admin/contractors"),
        "{}",
        menu.html
    );
    // ユーザ一括登録 is the bulk screen with the users filer chosen.
    let bulk = web.get("/web/bulk?function=users").await;
    assert!(
        bulk.html.contains("<option value=\"users\" selected>"),
        "{}",
        bulk.html
    );
}

#[tokio::test]
async fn a_post_without_the_csrf_token_changes_no_user() {
    let app = spawn_app(&[]).await;
    let admin = app.login(RETAILER_A).await;
    register(&admin, "a0001.csrf.target", json!({})).await;
    let web = WebClient::of(&app, RETAILER_A).await;
    let url = format!("{}/web/admin/users/a0001.csrf.target/enabled", app.api);
    let resp = web
        .api
        .http
        .post(url)
        .header(
            "cookie",
            format!("__Host-kirikae-session={}", web.api.token),
        )
        .form(&[("enabled", "false"), ("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    assert!(resp.text().await.unwrap().contains("csrf_token_invalid"));
    let (_, user) = call(&admin, "GET", "/api/v1/admin/users/a0001.csrf.target", None).await;
    assert_eq!(user["enabled"], true, "{user}");
}

#[tokio::test]
async fn the_user_list_downloads_as_utf8_with_a_bom_and_as_shift_jis() {
    let app = spawn_app(&[]).await;
    let admin = app.login(RETAILER_A).await;
    register(&admin, "a0001.csv.person", json!({"name": "髙橋 ①郎"})).await;
    let web = WebClient::of(&app, RETAILER_A).await;
    let list = web.get("/web/admin/users").await;
    assert_eq!(list.status, 200);
    assert!(list.html.contains("a0001.csv.person"), "{}", list.html);

    let (status, utf8) = web.bytes("/web/admin/users.csv?encoding=utf-8").await;
    assert_eq!(status, 200);
    assert!(utf8.starts_with(b"\xEF\xBB\xBF"), "a BOM first");
    let text = String::from_utf8(utf8[3..].to_vec()).unwrap();
    assert!(text.starts_with("user_id,name,mail,"), "{text}");
    assert!(text.contains("a0001.csv.person,髙橋 ①郎,"), "{text}");

    let (status, sjis) = web.bytes("/web/admin/users.csv?encoding=shift_jis").await;
    assert_eq!(status, 200);
    let (text, _, malformed) = encoding_rs::SHIFT_JIS.decode(&sjis);
    assert!(!malformed);
    assert!(text.contains("a0001.csv.person,髙橋 ①郎,"), "{text}");
}

#[tokio::test]
async fn each_change_on_the_users_page_goes_through_the_administrators_functions() {
    let app = spawn_app(&[]).await;
    let admin = app.login(RETAILER_A).await;
    register(&admin, "a0001.kato.jiro", json!({})).await;
    let web = WebClient::of(&app, RETAILER_A).await;
    let api_user = || async {
        call(&admin, "GET", "/api/v1/admin/users/a0001.kato.jiro", None)
            .await
            .1
    };
    let page = web.get("/web/admin/users/a0001.kato.jiro").await;
    assert_eq!(page.status, 200);
    assert!(
        page.html.contains("id=\"perm-reconnection\""),
        "{}",
        page.html
    );

    // ユーザ修正: a refusal next to its field, then the change.
    let s = web
        .post(
            "/web/admin/users/a0001.kato.jiro",
            &[("name", ""), ("mail", &mail_of("a0001.kato.jiro"))],
        )
        .await;
    assert_eq!(s.status, 422);
    assert!(s.html.contains("id=\"name-error\""), "{}", s.html);
    assert!(s.html.contains("invalid_name"));
    let s = web
        .post(
            "/web/admin/users/a0001.kato.jiro",
            &[("name", "加藤 次郎"), ("mail", "kato.new@example.jp")],
        )
        .await;
    assert_eq!(
        (s.status, s.path.as_str()),
        (200, "/web/admin/users/a0001.kato.jiro")
    );
    let u = api_user().await;
    assert_eq!(
        (u["name"].as_str(), u["mail"].as_str()),
        (Some("加藤 次郎"), Some("kato.new@example.jp"))
    );

    // 利用者権限設定: the ticked functions; one that does not exist is refused next to them.
    let s = web
        .post(
            "/web/admin/users/a0001.kato.jiro/permissions",
            &[("functions", "reconnection"), ("functions", "switch-start")],
        )
        .await;
    assert_eq!(s.status, 200);
    let u = api_user().await;
    assert_eq!(
        u["permissions"],
        json!(["reconnection", "switch-start"]),
        "{u}"
    );
    let s = web
        .post(
            "/web/admin/users/a0001.kato.jiro/permissions",
            &[("functions", "no-such-function")],
        )
        .await;
    assert_eq!(s.status, 422);
    assert!(s.html.contains("id=\"permissions-error\""), "{}", s.html);
    assert!(s.html.contains("unknown_function"));

    // 有効/無効切替 and ロック解除.
    web.post(
        "/web/admin/users/a0001.kato.jiro/enabled",
        &[("enabled", "false")],
    )
    .await;
    assert_eq!(api_user().await["enabled"], false);
    web.post(
        "/web/admin/users/a0001.kato.jiro/enabled",
        &[("enabled", "true")],
    )
    .await;
    assert_eq!(api_user().await["enabled"], true);
    let s = web
        .post("/web/admin/users/a0001.kato.jiro/unlock", &[])
        .await;
    assert_eq!(s.status, 200);

    // パスワード再発行: a second mail with a new initial password.
    let before = mailbox(&app, "kato.new@example.jp").len();
    let s = web
        .post("/web/admin/users/a0001.kato.jiro/password-reissue", &[])
        .await;
    assert_eq!(s.status, 200, "{}", s.html);
    assert_eq!(mailbox(&app, "kato.new@example.jp").len(), before + 1);
    assert_eq!(
        mailed_password(&app, "kato.new@example.jp").chars().count(),
        16
    );
    assert_eq!(api_user().await["must_change_password"], true);

    // What the administrator cannot do to itself is refused next to that button.
    let me = user_of(RETAILER_A);
    let s = web
        .post(&format!("/web/admin/users/{me}/delete"), &[])
        .await;
    assert_eq!(s.status, 422);
    assert!(s.html.contains("id=\"delete-error\""), "{}", s.html);
    assert!(s.html.contains("cannot_delete_self"));

    // ユーザ削除: gone, back on the list.
    let s = web
        .post("/web/admin/users/a0001.kato.jiro/delete", &[])
        .await;
    assert_eq!((s.status, s.path.as_str()), (200, "/web/admin/users"));
    let (status, _) = call(&admin, "GET", "/api/v1/admin/users/a0001.kato.jiro", None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_contractor_is_authorised_and_revoked_on_its_screen() {
    let app = spawn_app(&[]).await;
    let admin = app.login(RETAILER_A).await;
    let web = WebClient::of(&app, RETAILER_A).await;
    let number = CorporateNumber::with_check_digit("123456789012")
        .unwrap()
        .to_string();

    let s = web
        .post(
            "/web/admin/contractors",
            &[("corporate_number", "1234"), ("name", "受託 株式会社")],
        )
        .await;
    assert_eq!(s.status, 422);
    assert!(
        s.html.contains("id=\"corporate_number-error\""),
        "{}",
        s.html
    );
    assert!(s.html.contains("invalid_corporate_number"));

    let s = web
        .post(
            "/web/admin/contractors",
            &[("corporate_number", &number), ("name", "受託 株式会社")],
        )
        .await;
    assert_eq!(s.status, 200, "{}", s.html);
    assert!(
        s.html.contains(&format!("id=\"revoke-{number}\"")),
        "{}",
        s.html
    );
    // The register form offers it.
    let form = web.get("/web/admin/users/new").await;
    assert!(
        form.html.contains(&format!("value=\"{number}\"")),
        "{}",
        form.html
    );

    let s = web
        .post(&format!("/web/admin/contractors/{number}/revoke"), &[])
        .await;
    assert_eq!(s.status, 200, "{}", s.html);
    let (_, list) = call(&admin, "GET", "/api/v1/admin/contractors", None).await;
    assert!(list["contractors"][0]["revoked_at"].is_string(), "{list}");
}
