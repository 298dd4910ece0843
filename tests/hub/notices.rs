//! Issue 5, notices (インフォメーション): the operator publishes, every registration's users list
//! and read; a change of the terms of use is also mailed to every registration's contact
//! (terms 1.3.3), over real SMTP, and a mail server that is down delays it but loses none.

use kirikae::accounts::registrations::{self, NewRegistration, RegistrationStatus};
use kirikae::config::Settings;
use kirikae::domain::{CompanyCode, CompanyKind};
use kirikae::mail::Mailer;
use kirikae::notices::{self, NewNotice};

use crate::harness::*;
use crate::users::mailbox;

fn contact(company: &str) -> String {
    format!("contact-{}@example.jp", company.to_lowercase())
}

/// Gives A, B and the DR contractor a contact address.
async fn with_contacts(pool: &deadpool_postgres::Pool) {
    for (code, kind) in [
        (RETAILER_A, CompanyKind::Retailer),
        (RETAILER_B, CompanyKind::Retailer),
        (DR_CONTRACTOR, CompanyKind::DrContractor),
    ] {
        let mail = contact(code);
        registrations::register_company(
            pool,
            &NewRegistration {
                code: &CompanyCode::parse(code).unwrap(),
                name: "テスト電力",
                kind,
                contact_email: Some(&mail),
                corporate_number: None,
            },
        )
        .await
        .unwrap();
    }
}

fn notice<'a>(title: &'a str, body: &'a str, terms_change: bool) -> NewNotice<'a> {
    NewNotice {
        title,
        body,
        terms_change,
    }
}

/// The mails to `to`, with the 8bit body's line wrapping undone.
fn mails_to(app: &TestApp, to: &str) -> Vec<String> {
    mailbox(app, to)
        .into_iter()
        .map(|m| m.replace("\r\n", ""))
        .collect()
}

#[tokio::test]
async fn a_notice_is_listed_and_read_by_every_registrations_users() {
    // The mailer runs a round every 100 ms, so "nothing was mailed" below is seen after rounds.
    let app = spawn_app_tweaked(&[], |s| s.notice_mail_interval_ms = 100).await;
    let pool = kirikae::hub::pool(&app.settings).unwrap();
    with_contacts(&pool).await;
    let published = notices::publish(
        &pool,
        &app.settings,
        &notice(
            "年末年始の運用について",
            "12月31日は通常どおり受け付けます。",
            false,
        ),
        "operator:test",
    )
    .await
    .unwrap();
    assert_eq!(published.mails, 0, "an ordinary notice is not mailed");
    let a = app.login(RETAILER_A).await;
    let dr = app.login(DR_CONTRACTOR).await;
    for who in [&a, &dr] {
        let (status, list) = who.get("/api/v1/notices").await;
        assert_eq!(status, 200, "{list}");
        assert_eq!(list["unread"], 1, "{list}");
        assert_eq!(list["notices"][0]["title"], "年末年始の運用について");
        assert_eq!(list["notices"][0]["read"], false);
        assert_eq!(
            list["notices"][0].get("body"),
            None,
            "the list has no bodies"
        );
    }
    let (status, one) = a.get(&format!("/api/v1/notices/{}", published.id)).await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["body"], "12月31日は通常どおり受け付けます。");
    assert_eq!(one["read"], true);
    // Read by A's user only.
    assert_eq!(a.get("/api/v1/notices").await.1["unread"], 0);
    assert_eq!(dr.get("/api/v1/notices").await.1["unread"], 1);
    // Unknown notices, and callers without a session, are refused.
    let (status, body) = a.get("/api/v1/notices/999999").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("notice_not_found"))
    );
    let resp = a
        .http
        .get(format!("{}/api/v1/notices", app.api))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // Nothing was mailed for it: no mail was queued, and once the mailer has delivered a later
    // terms change, that is the only mail A's contact has.
    let queued: i64 = pool
        .get()
        .await
        .unwrap()
        .query_one(
            "SELECT count(*) FROM notice_mails WHERE notice_id = $1",
            &[&published.id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(queued, 0);
    let later = notices::publish(
        &pool,
        &app.settings,
        &notice("利用規約の変更", "改定内容は別紙のとおりです。", true),
        "operator:test",
    )
    .await
    .unwrap();
    assert!(later.mails > 0, "{later:?}");
    let to = contact(RETAILER_A);
    eventually(30, "the later terms mail", || {
        !mailbox(&app, &to).is_empty()
    })
    .await;
    let mails = mails_to(&app, &to);
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(
        mails[0].contains("改定内容は別紙のとおりです。"),
        "{}",
        mails[0]
    );
    assert!(!mails[0].contains("12月31日"), "{}", mails[0]);
}

#[tokio::test]
async fn a_terms_change_is_mailed_to_every_registrations_contact() {
    let app = spawn_app_tweaked(&[], |s| s.notice_mail_interval_ms = 100).await;
    let pool = kirikae::hub::pool(&app.settings).unwrap();
    with_contacts(&pool).await;
    // An ended registration is no longer a user of the hub: it is not mailed.
    registrations::set_status(
        &pool,
        &CompanyCode::parse(RETAILER_B).unwrap(),
        RegistrationStatus::Ended,
    )
    .await
    .unwrap();
    let published = notices::publish(
        &pool,
        &app.settings,
        &notice(
            "利用規約第3.3版の公表",
            "第2.4条の定期保守の時間帯を変更します。",
            true,
        ),
        "operator:test",
    )
    .await
    .unwrap();
    assert_eq!(published.mails, 2, "{published:?}");
    for code in [RETAILER_A, DR_CONTRACTOR] {
        let to = contact(code);
        eventually(30, "the terms mail", || !mailbox(&app, &to).is_empty()).await;
        let mails = mails_to(&app, &to);
        assert_eq!(mails.len(), 1, "{mails:?}");
        assert!(mails[0].contains("利用規約を変更しました"), "{}", mails[0]);
        assert!(
            mails[0].contains("第2.4条の定期保守の時間帯を変更します。"),
            "{}",
            mails[0]
        );
        assert!(mails[0].contains(&format!("({code})御中")), "{}", mails[0]);
    }
    assert!(mails_to(&app, &contact(RETAILER_B)).is_empty());
    // Every mail is recorded as sent, before its due date, and in the audit trail. The mailer
    // commits that after the SMTP server has taken the mail, so the record may trail the
    // mailbox by a moment.
    let client = pool.get().await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let row = client
            .query_one(
                "SELECT count(*) FILTER (WHERE sent_at IS NOT NULL AND sent_at <= due_at),
                        count(*)
                 FROM notice_mails WHERE notice_id = $1",
                &[&published.id],
            )
            .await
            .unwrap();
        let (sent, all) = (row.get::<_, i64>(0), row.get::<_, i64>(1));
        assert_eq!(all, 2);
        if sent == 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{sent} of 2 mails recorded as sent"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let audited: i64 = client
        .query_one(
            "SELECT count(*) FROM audit_log WHERE action = 'notice.mailed' AND subject_id = $1",
            &[&published.id.to_string()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(audited, 2);
    // The notice itself is in everyone's list too.
    let a = app.login(RETAILER_A).await;
    let (_, list) = a.get("/api/v1/notices").await;
    assert_eq!(list["notices"][0]["terms_change"], true, "{list}");
}

#[tokio::test]
async fn a_terms_change_mail_waits_out_an_smtp_outage_and_is_sent_once() {
    // The hub's own mailer waits an hour before its first round (and between rounds): this
    // test runs the rounds itself.
    let app = spawn_app_tweaked(&[], |s| {
        s.notice_mail_interval_ms = 3_600_000;
        s.terms_mail_days = 0; // due at once, so an unsent mail is overdue
    })
    .await;
    let pool = kirikae::hub::pool(&app.settings).unwrap();
    with_contacts(&pool).await;
    let published = notices::publish(
        &pool,
        &app.settings,
        &notice("利用規約の変更", "改定内容は別紙のとおりです。", true),
        "operator:test",
    )
    .await
    .unwrap();
    assert_eq!(published.mails, 3);
    // The mail server is down: nothing is sent, nothing is dropped, and the delay is reported.
    let dead = Mailer::new(&Settings {
        smtp_port: closed_port(),
        ..app.settings.clone()
    });
    let round = notices::send_due(&pool, &dead).await.unwrap();
    assert_eq!(
        (round.sent, round.failed, round.unsent),
        (0, 3, 3),
        "{round:?}"
    );
    assert_eq!(round.overdue, 3);
    // Back up: each contact gets it once, however many rounds follow.
    let live = Mailer::new(&app.settings);
    let round = notices::send_due(&pool, &live).await.unwrap();
    assert_eq!(
        (round.sent, round.failed, round.unsent),
        (3, 0, 0),
        "{round:?}"
    );
    let round = notices::send_due(&pool, &live).await.unwrap();
    assert_eq!((round.sent, round.unsent), (0, 0));
    for code in [RETAILER_A, RETAILER_B, DR_CONTRACTOR] {
        assert_eq!(mails_to(&app, &contact(code)).len(), 1, "{code}");
    }
    let attempts: Vec<i32> = pool
        .get()
        .await
        .unwrap()
        .query(
            "SELECT attempts FROM notice_mails ORDER BY company_code",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(attempts, [2, 2, 2]);
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}
