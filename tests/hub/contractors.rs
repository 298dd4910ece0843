//! Issue 5, contractors (受託者, terms 2.3): a registration lets a contractor act for it; the
//! contractor's users act under the registration, what they do is the registration's, and the
//! audit trail names the contractor and the certificate.

use kirikae::domain::{Area, CorporateNumber};
use serde_json::{Value, json};

use crate::harness::*;
use crate::users::{call, change_password, login_as, mail_of, mailed_password, register};

/// 法人番号 of the contractor in these tests (a made-up number with a valid check digit).
pub(crate) fn contractor() -> String {
    CorporateNumber::with_check_digit("123456789012")
        .unwrap()
        .to_string()
}

/// Another company, never authorised by A.
fn stranger() -> String {
    CorporateNumber::with_check_digit("210987654321")
        .unwrap()
        .to_string()
}

async fn post(who: &Retailer, body: Value) -> (u16, Value) {
    call(who, "POST", "/api/v1/admin/users", Some(body)).await
}

pub(crate) async fn authorise(admin: &Retailer, number: &str, name: &str) -> (u16, Value) {
    call(
        admin,
        "PUT",
        &format!("/api/v1/admin/contractors/{number}"),
        Some(json!({"name": name})),
    )
    .await
}

/// Registers `user` of A working for `number`, logs in with the mailed password and changes
/// it: the session.
pub(crate) async fn contractor_user(
    app: &TestApp,
    admin: &Retailer,
    user: &str,
    number: &str,
) -> Retailer {
    let view = register(admin, user, json!({"contractor": number})).await;
    assert_eq!(view["contractor"], number, "{view}");
    let initial = mailed_password(app, &mail_of(user));
    let (status, body) = login_as(app, RETAILER_A, user, &initial).await;
    assert_eq!(status, 200, "{body}");
    let s = Retailer {
        http: app.client_for(RETAILER_A),
        token: body["token"].as_str().unwrap().into(),
        api: app.api.clone(),
    };
    let (status, body) = change_password(&s, &initial, PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    s
}

/// The fingerprint of the development client certificate of `company`.
fn certificate_of(app: &TestApp, company: &str) -> String {
    let pem = std::fs::read(app.certs.path().join(format!("client-{company}.pem"))).unwrap();
    kirikae::accounts::certificates::read_certificate(&pem)
        .unwrap()
        .fingerprint
}

#[tokio::test]
async fn a_contractors_user_acts_for_the_retailer_and_the_audit_log_names_the_contractor() {
    let app = spawn_app(&[Area::Tokyo]).await;
    let admin = app.login(RETAILER_A).await;
    let number = contractor();
    let (status, body) = authorise(&admin, &number, "切替業務受託株式会社").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["revoked_at"], Value::Null);
    let itaku = contractor_user(&app, &admin, "a0001.itaku.taro", &number).await;

    let (point, _) = app.point(Area::Tokyo, 5);
    let id = itaku.facility_inquiry(&point).await;
    let done = itaku.final_status(&id).await;
    assert_eq!(done["status"], "completed", "{done}");
    // The request is the retailer's: its own users see it, another retailer does not.
    assert_eq!(admin.status(&id).await.0, 200);
    let b = app.login(RETAILER_B).await;
    assert_eq!(b.status(&id).await.0, 404);
    let (_, listed) = admin.list("").await;
    assert!(listed.to_string().contains(&id), "{listed}");
    let (_, contractors) = call(&admin, "GET", "/api/v1/admin/contractors", None).await;
    assert_eq!(contractors["contractors"][0]["users"], 1, "{contractors}");

    let pool = kirikae::hub::pool(&app.settings).unwrap();
    let rows = pool
        .get()
        .await
        .unwrap()
        .query(
            "SELECT action, company_code, contractor, certificate FROM audit_log
             WHERE user_id = 'a0001.itaku.taro' AND subject_id = $1 ORDER BY id",
            &[&id],
        )
        .await
        .unwrap();
    let seen: Vec<(String, String, Option<String>, Option<String>)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let a_cert = certificate_of(&app, RETAILER_A);
    for action in ["request.submitted", "request.result_read"] {
        assert!(
            seen.contains(&(
                action.to_string(),
                RETAILER_A.to_string(),
                Some(number.clone()),
                Some(a_cert.clone())
            )),
            "{action} not recorded as A's with the contractor and certificate: {seen:?}"
        );
    }
    // The retailer's own user is recorded without a contractor.
    let own: Option<String> = pool
        .get()
        .await
        .unwrap()
        .query_one(
            "SELECT contractor FROM audit_log WHERE user_id = $1 AND action = 'user.create'",
            &[&user_of(RETAILER_A)],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(own, None);
}

#[tokio::test]
async fn a_user_can_work_only_for_a_contractor_the_registration_authorised() {
    let app = spawn_app(&[]).await;
    let admin = app.login(RETAILER_A).await;
    let b_admin = app.login(RETAILER_B).await;
    let user = |id: &str, number: &str| json!({"user_id": id, "name": "受託 花子", "mail": mail_of(id), "contractor": number});
    // Not authorised by anyone.
    let (status, body) = post(&admin, user("a0001.itaku.one", &stranger())).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("contractor_not_authorised"))
    );
    // Authorised by another registration only.
    assert_eq!(
        authorise(&b_admin, &stranger(), "他社の受託者").await.0,
        200
    );
    let (status, body) = post(&admin, user("a0001.itaku.two", &stranger())).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("contractor_not_authorised"))
    );
    // A mistyped 法人番号 (wrong check digit), in the user and in the authorisation.
    let mut wrong = contractor();
    wrong.replace_range(0..1, if wrong.starts_with('1') { "2" } else { "1" });
    let (status, body) = post(&admin, user("a0001.itaku.three", &wrong)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid_corporate_number"))
    );
    let (status, body) = authorise(&admin, &wrong, "誤り").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid_corporate_number"))
    );
    // Authorised: accepted; but a contractor's user is never the registration's administrator.
    assert_eq!(
        authorise(&admin, &contractor(), "切替業務受託株式会社")
            .await
            .0,
        200
    );
    let (status, body) = post(&admin, user("a0001.itaku.four", &contractor())).await;
    assert_eq!(status, 201, "{body}");
    let mut as_admin = user("a0001.itaku.five", &contractor());
    as_admin["administrator"] = json!(true);
    let (status, body) = post(&admin, as_admin).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("contractor_cannot_administer"))
    );
    // Only the administrator authorises contractors.
    let plain = crate::users::ready_user(&app, &admin, RETAILER_A, "a0001.futsu.user").await;
    let (status, body) = authorise(&plain, &stranger(), "x").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("administrator_required"))
    );
}

#[tokio::test]
async fn a_revoked_contractors_users_are_refused_and_kept() {
    let app = spawn_app(&[]).await;
    let admin = app.login(RETAILER_A).await;
    let number = contractor();
    assert_eq!(
        authorise(&admin, &number, "切替業務受託株式会社").await.0,
        200
    );
    let itaku = contractor_user(&app, &admin, "a0001.itaku.jiro", &number).await;
    assert_eq!(itaku.list("").await.0, 200);

    let (status, body) = call(
        &admin,
        "DELETE",
        &format!("/api/v1/admin/contractors/{number}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["revoked_at"].is_string(), "{body}");
    // Its session ended (deleted with the revocation, and dropped from this process's cache):
    // the old token is unknown, `401 unauthenticated`. (Another API process that still holds
    // the session refuses it by the gate, `403 contractor_revoked`, within a second; the gate's
    // verdict is unit-tested in `accounts::gate`.) Logging in again is refused with the reason.
    let (status, body) = itaku.list("").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("unauthenticated")),
        "{body}"
    );
    let (status, body) = login_as(&app, RETAILER_A, "a0001.itaku.jiro", PASSWORD).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("contractor_revoked"))
    );
    // The user is kept, with its contractor, and the registration's own users carry on.
    let (status, body) = call(&admin, "GET", "/api/v1/admin/users/a0001.itaku.jiro", None).await;
    assert_eq!(
        (status, body["contractor"].as_str()),
        (200, Some(number.as_str()))
    );
    assert_eq!(admin.list("").await.0, 200);
    // Nor can a new user be given to it, until it is authorised again.
    let (status, body) = call(
        &admin,
        "POST",
        "/api/v1/admin/users",
        Some(json!({"user_id": "a0001.itaku.saburo", "name": "受託 三郎",
                    "mail": mail_of("a0001.itaku.saburo"), "contractor": number})),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("contractor_not_authorised"))
    );
    assert_eq!(
        authorise(&admin, &number, "切替業務受託株式会社").await.0,
        200
    );
    assert_eq!(
        login_as(&app, RETAILER_A, "a0001.itaku.jiro", PASSWORD)
            .await
            .0,
        200
    );
    // Revoking an unknown contractor is 404.
    let (status, body) = call(
        &admin,
        "DELETE",
        &format!("/api/v1/admin/contractors/{}", stranger()),
        None,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("contractor_not_found"))
    );
}
