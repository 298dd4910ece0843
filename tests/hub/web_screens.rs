//! The clerk's screens over HTTPS (no script needed): correction and withdrawal from an
//! application's own page, the list's date filters kept on every page and in the CSV, the
//! notices' unread marks, 特定地点検索 leading to a prefilled form, a usage answer's table and
//! chart. Each calls the API's own service, so the API sees what the screens did.

use kirikae::domain::{Area, today_jst};
use kirikae::hub;
use kirikae::notices::{self, NewNotice};
use kirikae::tso_sim::register::{PointKind, point_of};
use serde_json::json;

use super::harness::*;
use super::web_http::{Screen, WebClient};

fn day(days_ahead: i64) -> String {
    (chrono::Utc::now().date_naive() + chrono::Duration::days(days_ahead)).to_string()
}

/// The 再点 form's fields for `point`, as a clerk fills them.
fn reconnection_form(point: &str) -> Vec<(&'static str, String)> {
    vec![
        ("function", "reconnection".into()),
        ("supply_point_id", point.into()),
        ("planned_date", day(3)),
        ("customer_name", "佐藤 花子".into()),
        ("contract_method", "MEASURED".into()),
        ("agreed_to_grid_terms", "true".into()),
    ]
}

fn pairs<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[tokio::test]
async fn correction_and_withdrawal_start_from_the_applications_own_page() {
    // No grid operator: the application stays open (accepted), so it may be amended.
    let app = spawn_app(&[]).await;
    let web = WebClient::of(&app, RETAILER_A).await;
    let point = vacant_point(Area::Tokyo, 0);
    let original = web
        .api
        .accepted("reconnection", reconnection_body(&point))
        .await;

    let page = web.get(&format!("/web/requests/{original}")).await;
    assert_eq!(page.status, 200, "{}", page.html);
    let correct = page.attr("correct", "href").expect("a 訂正 button");
    let withdraw = page.attr("withdraw", "href").expect("a 取消 button");
    assert!(
        correct.contains(&format!("original_request_id={original}")),
        "{correct}"
    );
    assert!(withdraw.contains("update_flag=withdraw"), "{withdraw}");

    // The correction's form: the original quoted, its point filled in, its class fixed.
    let form = web.get(&correct).await;
    assert_eq!(form.status, 200, "{}", form.html);
    assert_eq!(
        form.attr("supply_point_id", "value").as_deref(),
        Some(point.as_str())
    );
    assert_eq!(
        form.attr("original-request-id", "id").as_deref(),
        Some("original-request-id")
    );
    assert!(
        form.html.contains("name=\"update_flag\" value=\"correct\""),
        "{}",
        form.html
    );
    assert!(
        !form.html.contains("class-gen-reconnection"),
        "the class is the original's"
    );

    // Filed: a correction of the original, as the API shows it.
    let mut fields = reconnection_form(point.as_str());
    fields.push(("update_flag", "correct".into()));
    fields.push(("original_request_id", original.clone()));
    let filed = web.post("/web/apply/reconnection", &pairs(&fields)).await;
    assert_eq!(filed.status, 200, "{}", filed.html);
    let id = filed.path.trim_start_matches("/web/requests/").to_string();
    let (_, status) = web.api.status(&id).await;
    assert_eq!(status["update_flag"], "correct", "{status}");
    assert_eq!(
        filed.attr("update-flag", "id").as_deref(),
        Some("update-flag")
    );

    // The service's own refusals: an original that is not this company's …
    let mut unknown = reconnection_form(point.as_str());
    unknown.push(("update_flag", "withdraw".into()));
    unknown.push((
        "original_request_id",
        "0190c0de-0000-7000-8000-000000000000".into(),
    ));
    let refused = web.post("/web/apply/reconnection", &pairs(&unknown)).await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.html.contains("original_not_found"),
        "{}",
        refused.html
    );
    // … and one of another point.
    let mut other = reconnection_form(vacant_point(Area::Tokyo, 1).as_str());
    other.push(("update_flag", "withdraw".into()));
    other.push(("original_request_id", original.clone()));
    let refused = web.post("/web/apply/reconnection", &pairs(&other)).await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.html.contains("original_mismatch"),
        "{}",
        refused.html
    );
}

fn rows(list: &Screen) -> usize {
    list.html.matches("<a href=\"/web/requests/").count()
}

#[tokio::test]
async fn the_list_filters_by_accepted_date_and_keeps_every_filter_on_the_next_page_and_in_the_csv()
{
    let app = spawn_app(&[]).await;
    let web = WebClient::of(&app, RETAILER_A).await;
    for n in 0..3 {
        let body = reconnection_body(&vacant_point(Area::Tokyo, n));
        web.api.accepted("reconnection", body).await;
    }
    let today = today_jst().to_string();
    let tomorrow = (today_jst() + chrono::Duration::days(1)).to_string();

    let later = web
        .get(&format!("/web/requests?accepted_from={tomorrow}"))
        .await;
    assert_eq!(rows(&later), 0, "{}", later.html);
    let first = web
        .get(&format!(
            "/web/requests?area=03&accepted_from={today}&accepted_to={today}&limit=2"
        ))
        .await;
    assert_eq!(rows(&first), 2, "{}", first.html);
    let next = first.attr("next-page", "href").expect("a next page");
    assert!(
        next.contains(&format!("accepted_from={today}&accepted_to={today}")),
        "{next}"
    );
    assert!(next.contains("area=03"), "{next}");
    let second = web.get(&next).await;
    assert_eq!(rows(&second), 1, "{}", second.html);

    let w = &web;
    let csv = |q: String| async move {
        let (code, bytes) = w.bytes(&format!("/web/requests.csv?{q}")).await;
        assert_eq!(code, 200);
        String::from_utf8(bytes[3..].to_vec())
            .unwrap()
            .lines()
            .count()
            - 1
    };
    assert_eq!(csv(format!("accepted_from={tomorrow}")).await, 0);
    assert_eq!(csv(format!("accepted_to={today}&limit=1")).await, 3);
    let link = first.attr("csv-utf8", "href").unwrap();
    assert!(link.contains(&format!("accepted_to={today}")), "{link}");

    let wrong = web.get("/web/requests?accepted_to=2026%2F11%2F30").await;
    assert_eq!(wrong.status, 422);
    let shown = wrong
        .html
        .split("id=\"accepted_to-error\"")
        .nth(1)
        .unwrap_or_default();
    assert!(shown.contains("invalid_date"), "{}", wrong.html);
}

#[tokio::test]
async fn a_notice_is_marked_unread_until_its_detail_is_opened() {
    let app = spawn_app(&[]).await;
    let pool = hub::pool(&app.settings).unwrap();
    let notice = NewNotice {
        title: "メンテナンスのお知らせ",
        body: "12月1日 0時から2時まで停止します。",
        terms_change: false,
    };
    let published = notices::publish(&pool, &app.settings, &notice, "operator")
        .await
        .unwrap();
    let web = WebClient::of(&app, RETAILER_A).await;
    let unread = format!("unread-{}", published.id);
    let list = web.get("/web/notices").await;
    assert!(list.attr(&unread, "id").is_some(), "{}", list.html);
    let one = web.get(&format!("/web/notices/{}", published.id)).await;
    assert_eq!(one.status, 200);
    assert!(
        one.html.contains("12月1日 0時から2時まで停止します。"),
        "{}",
        one.html
    );
    let list = web.get("/web/notices").await;
    assert!(list.attr(&unread, "id").is_none(), "{}", list.html);
    // The same service as the API's: read there too.
    let (_, api) = web.api.get("/api/v1/notices").await;
    assert_eq!(api["unread"], 0, "{api}");
    assert_eq!(web.get("/web/notices/999999").await.status, 404);
}

/// Waits until the application `id` is final; its page then.
async fn final_page(web: &WebClient, id: &str) -> Screen {
    let done = web.api.final_status(id).await;
    assert_eq!(done["status"], "completed", "{done}");
    web.get(&format!("/web/requests/{id}")).await
}

#[tokio::test]
async fn a_point_search_answer_lists_points_each_leading_to_a_form_with_the_point_filled_in() {
    let area = Area::Tokyo;
    let app = spawn_app(&[area]).await;
    let web = WebClient::of(&app, RETAILER_A).await;
    let p = point_of(area, PointKind::LowVoltage, 9);
    let reg = kirikae::tso_sim::register::Register::generate(
        area,
        app.settings.sim_seed,
        app.settings.sim_points_per_area,
    );
    let meter = reg.get(&p).unwrap().meter_number.clone();

    let none = web.post("/web/search", &[("area", "03")]).await;
    assert_eq!(none.status, 422);
    assert!(none.html.contains("no_search_criterion"), "{}", none.html);

    let filed = web
        .post("/web/search", &[("area", "03"), ("meter_number", &meter)])
        .await;
    assert!(filed.path.starts_with("/web/requests/"), "{}", filed.html);
    let id = filed.path.trim_start_matches("/web/requests/");
    let page = final_page(&web, id).await;
    let button = format!("apply-{}", p.as_str());
    assert!(page.attr(&button, "id").is_some(), "{}", page.html);

    let form = web
        .get(&format!(
            "/web/apply?task=reconnection&supply_point_id={}",
            p.as_str()
        ))
        .await;
    assert_eq!(form.path, "/web/apply/reconnection");
    assert_eq!(
        form.attr("supply_point_id", "value").as_deref(),
        Some(p.as_str())
    );
}

#[tokio::test]
async fn a_usage_answer_is_shown_as_a_table_and_a_chart_of_13_months() {
    let area = Area::Tokyo;
    let app = spawn_app(&[area]).await;
    let web = WebClient::of(&app, RETAILER_A).await;
    let p = point_of(area, PointKind::LowVoltage, 3);
    let name = app.customer_name(area, &p);
    let asked = web
        .api
        .accepted(
            "usage-password",
            json!({"supply_point_id": p.as_str(), "customer_name": name}),
        )
        .await;
    web.api.final_status(&asked).await;
    let mail = app.sim(area).1.mails().pop().expect("the customer's mail");
    let id = web
        .api
        .accepted(
            "usage-inquiry",
            json!({"supply_point_id": p.as_str(), "usage_password": mail.password}),
        )
        .await;
    let page = final_page(&web, &id).await;
    assert!(page.attr("usage-chart", "id").is_some(), "{}", page.html);
    assert_eq!(page.html.matches("<rect class=\"bar\"").count(), 13);
    let table = page
        .html
        .split("id=\"usage-table\"")
        .nth(1)
        .unwrap_or_default();
    assert_eq!(
        table.matches("<td class=\"num\">").count(),
        13,
        "{}",
        page.html
    );
    assert!(
        !page.html.contains("answer-monthly"),
        "the months are not raw JSON"
    );
}
