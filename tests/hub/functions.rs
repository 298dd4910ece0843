//! Every catalogue function end to end, over each protocol family, with the market's rules:
//! API → broker → connector → simulated grid operator → result topic → projector → status API.

use chrono::{Duration, Utc};
use kirikae::domain::{Area, SupplyPointId};
use kirikae::tso_sim::register::{PointKind, incumbent_code, point_of};
use serde_json::{Value, json};

use crate::harness::*;

/// Areas whose definitions use the three families: SOAP (03), JSON (04), batch files (05).
const ONE_AREA_PER_FAMILY: [Area; 3] = [Area::Tokyo, Area::Chubu, Area::Hokuriku];

fn day(days_ahead: i64) -> String {
    (Utc::now().date_naive() + Duration::days(days_ahead)).to_string()
}

fn point(area: Area, kind: PointKind, n: u32) -> SupplyPointId {
    point_of(area, kind, n)
}

fn switch_end_body(point: &SupplyPointId, new_retailer: &str, planned: &str) -> Value {
    json!({
        "supply_point_id": point.as_str(),
        "planned_date": planned,
        "new_retailer_code": new_retailer,
        "customer_number": "0012-3456-78"
    })
}

async fn completed(r: &Retailer, function: &str, body: Value) -> Value {
    let id = r.accepted(function, body).await;
    let done = r.final_status(&id).await;
    assert_eq!(done["status"], "completed", "{function}: {done}");
    done
}

async fn rejected_with(r: &Retailer, function: &str, body: Value, code: &str) -> Value {
    let id = r.accepted(function, body).await;
    let done = r.final_status(&id).await;
    assert_eq!(done["status"], "rejected", "{function}: {done}");
    assert_eq!(done["code"], code, "{function}: {done}");
    done
}

async fn refused_by_hub(r: &Retailer, function: &str, body: Value) -> (u16, Value) {
    let resp = r.submit(function, body).await;
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn usage_data_needs_the_customers_password_in_every_family() {
    let app = spawn_app(&ONE_AREA_PER_FAMILY).await;
    let a = app.login(RETAILER_A).await;
    for area in ONE_AREA_PER_FAMILY {
        let p = point(area, PointKind::LowVoltage, 3);
        let name = app.customer_name(area, &p);
        let done = completed(
            &a,
            "usage-password",
            json!({"supply_point_id": p.as_str(), "customer_name": name}),
        )
        .await;
        assert_eq!(done["service_id"], "IF_10210");
        let valid_until = done["result"]["valid_until"].as_str().unwrap().to_string();
        // The operator mails the password to the customer, never to the retailer.
        assert!(done["result"].get("password").is_none(), "{done}");
        let mail = app
            .sim(area)
            .1
            .mails()
            .into_iter()
            .find(|m| m.point_id == p)
            .expect("the operator's mail to the customer");
        assert_eq!(mail.valid_until.to_string(), valid_until);

        let wrong = json!({"supply_point_id": p.as_str(), "usage_password": "not-it"});
        rejected_with(&a, "usage-inquiry", wrong, "E3002").await;

        let right = json!({"supply_point_id": p.as_str(), "usage_password": mail.password});
        let usage = completed(&a, "usage-inquiry", right).await;
        assert_eq!(usage["result"]["monthly"].as_array().unwrap().len(), 13);
        let half_hours = usage["result"]["half_hourly"].as_array().unwrap().len();
        if usage["result"]["smart_meter"] == true {
            assert!(half_hours >= 28 * 48, "{half_hours} 30-minute values");
        } else {
            assert_eq!(half_hours, 0);
        }
    }
}

#[tokio::test]
async fn a_password_may_be_used_by_another_retailer_while_it_is_valid() {
    let area = Area::Tokyo;
    let app = spawn_app(&[area]).await;
    let (a, b) = (app.login(RETAILER_A).await, app.login(RETAILER_B).await);
    let p = point(area, PointKind::LowVoltage, 4);
    let name = app.customer_name(area, &p);
    completed(
        &a,
        "usage-password",
        json!({"supply_point_id": p.as_str(), "customer_name": name}),
    )
    .await;
    let mail = app.sim(area).1.mails().pop().expect("a mail");
    let body = json!({"supply_point_id": p.as_str(), "usage_password": mail.password, "months": 3});
    let usage = completed(&b, "usage-inquiry", body).await;
    assert_eq!(usage["result"]["monthly"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn reconnection_abolition_and_changes_complete_in_every_family() {
    let app = spawn_app(&ONE_AREA_PER_FAMILY).await;
    let a = app.login(RETAILER_A).await;
    for area in ONE_AREA_PER_FAMILY {
        let vacant = point(area, PointKind::Vacant, 0);
        let reconnected = completed(
            &a,
            "reconnection",
            json!({"supply_point_id": vacant.as_str(), "planned_date": day(3),
                   "customer_name": "佐藤 花子", "agreed_to_grid_terms": true}),
        )
        .await;
        assert_eq!(reconnected["service_id"], "IF_10410");
        assert!(reconnected["result"]["application_number"].is_string());

        // A0001 supplies it now: it may change the customer's data and end the supply.
        completed(
            &a,
            "customer-change",
            json!({"supply_point_id": vacant.as_str(), "effective_date": day(5),
                   "mailing_address": "東京都千代田区1-1"}),
        )
        .await;
        let ended = completed(
            &a,
            "abolition",
            json!({"supply_point_id": vacant.as_str(), "planned_date": day(10),
                   "with_removal": true}),
        )
        .await;
        assert_eq!(ended["service_id"], "IF_10510");

        // Another retailer's point: the operator refuses what only its retailer may do.
        let theirs = point(area, PointKind::LowVoltage, 5);
        rejected_with(
            &a,
            "abolition",
            json!({"supply_point_id": theirs.as_str(), "planned_date": day(10),
                   "with_removal": false}),
            "E2107",
        )
        .await;
    }
}

#[tokio::test]
async fn ampere_change_completes_for_the_current_retailer_in_an_ampere_breaker_area() {
    let area = Area::Tokyo;
    let app = spawn_app(&[area]).await;
    let incumbent = app.login(&incumbent_code(area)).await;
    let p = app.incumbent_point(area, PointKind::LowVoltage, 6);
    let done = completed(
        &incumbent,
        "ampere-change",
        json!({"supply_point_id": p.as_str(), "planned_date": day(7), "contract_ampere": 40}),
    )
    .await;
    assert_eq!(done["service_id"], "IF_10910");
}

#[tokio::test]
async fn ampere_change_is_refused_by_the_hub_in_kansai_chugoku_shikoku_and_okinawa() {
    let app = spawn_app_without_connectors(&[]).await;
    let a = app.login(RETAILER_A).await;
    for area in [Area::Kansai, Area::Chugoku, Area::Shikoku, Area::Okinawa] {
        let p = point(area, PointKind::LowVoltage, 1);
        let body =
            json!({"supply_point_id": p.as_str(), "planned_date": day(7), "contract_ampere": 40});
        let (status, err) = refused_by_hub(&a, "ampere-change", body).await;
        assert_eq!(status, 422, "{err}");
        assert_eq!(err["code"], "ampere_change_not_offered");
        assert!(err["message_ja"].as_str().unwrap().contains("アンペア"));
    }
    let (_, list) = a.list("").await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        0,
        "nothing was sent"
    );
}

#[tokio::test]
async fn kyushu_requires_a_contract_method_on_switch_start_and_reconnection() {
    let app = spawn_app_without_connectors(&[]).await;
    let a = app.login(RETAILER_A).await;
    let kyushu = point(Area::Kyushu, PointKind::LowVoltage, 2);
    // Only the hub's check matters here: nothing runs behind the API.
    let mut start = switch_start_body(&kyushu, &incumbent_code(Area::Kyushu));
    let (status, err) = refused_by_hub(&a, "switch-start", start.clone()).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (422, Some("contract_method_required"))
    );
    start["contract_method"] = json!("AMPERE_BREAKER");
    assert_eq!(a.submit("switch-start", start).await.status(), 202);

    let vacant = point(Area::Kyushu, PointKind::Vacant, 0);
    let mut reconnect = json!({"supply_point_id": vacant.as_str(), "planned_date": day(3),
                               "customer_name": "佐藤 花子", "agreed_to_grid_terms": true});
    let (status, err) = refused_by_hub(&a, "reconnection", reconnect.clone()).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (422, Some("contract_method_required"))
    );
    reconnect["contract_method"] = json!("MEASURED");
    assert_eq!(a.submit("reconnection", reconnect).await.status(), 202);

    // Other areas ignore it.
    let tokyo = point(Area::Tokyo, PointKind::LowVoltage, 2);
    let start = switch_start_body(&tokyo, &incumbent_code(Area::Tokyo));
    assert_eq!(a.submit("switch-start", start).await.status(), 202);
}

#[tokio::test]
async fn a_switch_completes_only_when_start_and_end_are_both_filed() {
    let areas = [Area::Tokyo, Area::Kyushu, Area::Okinawa];
    let app = spawn_app(&areas).await;
    let a = app.login(RETAILER_A).await;
    for area in areas {
        let current = app.login(&incumbent_code(area)).await;
        let p = app.incumbent_point(area, PointKind::LowVoltage, 12);
        let mut start = switch_start_body(&p, &incumbent_code(area));
        start["contract_method"] = json!("AMPERE_BREAKER");
        let planned = start["planned_date"].as_str().unwrap().to_string();
        let start_id = a.accepted("switch-start", start).await;
        // Alone, the start waits at the operator for its counterpart.
        a.wait_for_status(&start_id, "sent").await;
        tokio::time::sleep(std::time::Duration::from_millis(800)).await;
        assert_eq!(a.status(&start_id).await.1["status"], "sent");

        let end_id = current
            .accepted("switch-end", switch_end_body(&p, RETAILER_A, &planned))
            .await;
        let started = a.final_status(&start_id).await;
        let ended = current.final_status(&end_id).await;
        assert_eq!(started["status"], "completed", "{started}");
        assert_eq!(ended["status"], "completed", "{ended}");
        assert_eq!(ended["service_id"], "IF_10710");
        assert_eq!(
            started["result"]["switch_date"],
            ended["result"]["switch_date"]
        );
        assert!(started["result"]["switch_date"].as_str().unwrap() >= planned.as_str());
    }
}

#[tokio::test]
async fn an_unmatched_switch_is_refused_after_its_deadline() {
    let area = Area::Tokyo;
    let app = spawn_app_tweaked(&[area], |s| s.sim_match_window_ms = Some(1500)).await;
    let a = app.login(RETAILER_A).await;
    let p = app.incumbent_point(area, PointKind::LowVoltage, 13);
    let start = switch_start_body(&p, &incumbent_code(area));
    rejected_with(&a, "switch-start", start, "E2201").await;
}

#[tokio::test]
async fn a_pending_switch_can_be_withdrawn() {
    let area = Area::Tokyo;
    let app = spawn_app(&[area]).await;
    let a = app.login(RETAILER_A).await;
    let p = app.incumbent_point(area, PointKind::LowVoltage, 14);
    let start = switch_start_body(&p, &incumbent_code(area));
    let original = a.accepted("switch-start", start.clone()).await;
    a.wait_for_status(&original, "sent").await;

    let mut withdrawal = start;
    withdrawal["update_flag"] = json!("withdraw");
    withdrawal["original_request_id"] = json!(original);
    let done = completed(&a, "switch-start", withdrawal).await;
    assert_eq!(done["update_flag"], "withdraw");
    let gone = a.final_status(&original).await;
    assert_eq!(gone["status"], "rejected", "{gone}");
    assert_eq!(gone["code"], "W0001");
}

#[tokio::test]
async fn a_correction_moves_a_pending_switch_to_the_corrected_date() {
    let area = Area::Chubu;
    let app = spawn_app(&[area]).await;
    let a = app.login(RETAILER_A).await;
    let current = app.login(&incumbent_code(area)).await;
    let p = app.incumbent_point(area, PointKind::LowVoltage, 15);
    let start = switch_start_body(&p, &incumbent_code(area));
    let original = a.accepted("switch-start", start.clone()).await;
    a.wait_for_status(&original, "sent").await;

    let corrected_date = day(30);
    let mut correction = start;
    correction["update_flag"] = json!("correct");
    correction["original_request_id"] = json!(original);
    correction["planned_date"] = json!(corrected_date);
    completed(&a, "switch-start", correction).await;

    current
        .accepted(
            "switch-end",
            switch_end_body(&p, RETAILER_A, &corrected_date),
        )
        .await;
    let done = a.final_status(&original).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert!(done["result"]["switch_date"].as_str().unwrap() >= corrected_date.as_str());
}

#[tokio::test]
async fn a_completed_application_cannot_be_corrected_or_withdrawn() {
    let area = Area::Tokyo;
    let app = spawn_app(&[area]).await;
    let a = app.login(RETAILER_A).await;
    let vacant = point(area, PointKind::Vacant, 1);
    let body = json!({"supply_point_id": vacant.as_str(), "planned_date": day(3),
                      "customer_name": "佐藤 花子", "agreed_to_grid_terms": true});
    let done = completed(&a, "reconnection", body.clone()).await;
    let mut withdrawal = body;
    withdrawal["update_flag"] = json!("withdraw");
    withdrawal["original_request_id"] = done["request_id"].clone();
    let (status, err) = refused_by_hub(&a, "reconnection", withdrawal).await;
    assert_eq!(status, 409, "{err}");
    assert_eq!(err["code"], "original_finished");
}

#[tokio::test]
async fn high_voltage_functions_complete_end_to_end() {
    let area = Area::Kansai;
    let app = spawn_app(&[area]).await;
    let a = app.login(RETAILER_A).await;
    let current = app.login(&incumbent_code(area)).await;
    let p = app.incumbent_point(area, PointKind::HighVoltage, 0);

    let requested = completed(
        &a,
        "hv-usage-request",
        json!({"supply_point_id": p.as_str(), "voltage_class": "HV_BELOW_500KW",
               "customer_name": "株式会社テスト工業", "consent_reference": "DOC-2026-001"}),
    )
    .await;
    assert_eq!(requested["service_id"], "KF_10210");
    let number = requested["result"]["application_number"].clone();
    let usage = completed(
        &a,
        "hv-usage-inquiry",
        json!({"supply_point_id": p.as_str(), "application_number": number}),
    )
    .await;
    assert!(
        !usage["result"]["half_hourly"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let mut start = switch_start_body(&p, &incumbent_code(area));
    start["contract_kw"] = json!(320.0);
    let planned = start["planned_date"].as_str().unwrap().to_string();
    let start_id = a.accepted("hv-switch-start", start).await;
    let end_id = current
        .accepted("hv-switch-end", switch_end_body(&p, RETAILER_A, &planned))
        .await;
    assert_eq!(a.final_status(&start_id).await["status"], "completed");
    assert_eq!(current.final_status(&end_id).await["status"], "completed");

    // A0001 supplies it now.
    completed(
        &a,
        "hv-customer-change",
        json!({"supply_point_id": p.as_str(), "effective_date": day(40),
               "customer_phone": "06-1234-5678"}),
    )
    .await;
    completed(
        &a,
        "hv-abolition",
        json!({"supply_point_id": p.as_str(), "planned_date": day(60), "with_removal": false}),
    )
    .await;

    // A low-voltage point is not one for high-voltage functions.
    let low = point(area, PointKind::LowVoltage, 1);
    rejected_with(
        &a,
        "hv-abolition",
        json!({"supply_point_id": low.as_str(), "planned_date": day(60), "with_removal": false}),
        "E1003",
    )
    .await;
}

#[tokio::test]
async fn generation_functions_are_keyed_by_receiving_point_and_post_fit_only_ones_refuse_fit() {
    let area = Area::Tohoku;
    let app = spawn_app(&[area]).await;
    let a = app.login(RETAILER_A).await;
    let current = app.login(&incumbent_code(area)).await;
    let fit = app.incumbent_point(area, PointKind::Fit, 0);
    let post_fit = app.incumbent_point(area, PointKind::PostFit, 0);

    let facility = completed(
        &a,
        "gen-facility-inquiry",
        json!({"supply_point_id": fit.as_str()}),
    )
    .await;
    assert_eq!(facility["service_id"], "FF_10110");
    assert_eq!(facility["result"]["fit_scheme"], "FIT");
    assert!(facility["result"]["generation_kw"].as_f64().unwrap() > 0.0);

    rejected_with(
        &a,
        "gen-switch-start",
        switch_start_body(&fit, &incumbent_code(area)),
        "E4001",
    )
    .await;

    let start = switch_start_body(&post_fit, &incumbent_code(area));
    let planned = start["planned_date"].as_str().unwrap().to_string();
    let start_id = a.accepted("gen-switch-start", start).await;
    let end_id = current
        .accepted(
            "gen-switch-end",
            switch_end_body(&post_fit, RETAILER_A, &planned),
        )
        .await;
    assert_eq!(a.final_status(&start_id).await["status"], "completed");
    assert_eq!(current.final_status(&end_id).await["status"], "completed");
    completed(
        &a,
        "gen-producer-change",
        json!({"supply_point_id": post_fit.as_str(), "effective_date": day(20),
               "customer_name": "太陽 一郎"}),
    )
    .await;
    // A0001 buys from it now: it may end the contract, and then B0002 may reconnect it.
    completed(
        &a,
        "gen-abolition",
        json!({"supply_point_id": post_fit.as_str(), "planned_date": day(25),
               "with_removal": false}),
    )
    .await;
    let b = app.login(RETAILER_B).await;
    let reconnected = completed(
        &b,
        "gen-reconnection",
        json!({"supply_point_id": post_fit.as_str(), "planned_date": day(30),
               "customer_name": "太陽 一郎", "agreed_to_grid_terms": true}),
    )
    .await;
    assert_eq!(reconnected["service_id"], "FF_10410");

    // The status of one class lists only its functions.
    let (code, generation) = a.get("/api/v1/gen/requests").await;
    assert_eq!(code, 200);
    let functions: Vec<&str> = generation["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["function"].as_str().unwrap())
        .collect();
    assert!(
        functions.iter().all(|f| f.starts_with("gen-")),
        "{functions:?}"
    );
    assert_eq!(functions.len(), 5, "{functions:?}");
    let (code, _) = a.get(&format!("/api/v1/hv/requests/{start_id}")).await;
    assert_eq!(code, 404, "a generation request is not a high-voltage one");
}

#[tokio::test]
async fn a_demand_response_contractor_may_call_only_its_functions() {
    let area = Area::Tokyo;
    let app = spawn_app(&[area]).await;
    let dr = app.login(DR_CONTRACTOR).await;
    let p = point(area, PointKind::LowVoltage, 8);
    completed(
        &dr,
        "facility-inquiry",
        json!({"supply_point_id": p.as_str()}),
    )
    .await;
    let name = app.customer_name(area, &p);
    let body = json!({"supply_point_id": p.as_str(), "customer_name": name});
    assert_eq!(dr.submit("usage-password", body).await.status(), 202);
    for function in [
        "switch-start",
        "reconnection",
        "abolition",
        "gen-facility-inquiry",
    ] {
        let (status, err) =
            refused_by_hub(&dr, function, json!({"supply_point_id": p.as_str()})).await;
        assert_eq!(status, 403, "{function}: {err}");
        assert_eq!(err["code"], "function_not_allowed");
    }
    let (code, _) = dr.get("/api/v1/requests").await;
    assert_eq!(code, 200, "the status functions are open to DR contractors");
}

#[tokio::test]
async fn operators_lists_every_registration_with_its_kind() {
    let app = spawn_app_without_connectors(&[]).await;
    let a = app.login(RETAILER_A).await;
    let (code, list) = a.get("/api/v1/operators").await;
    assert_eq!(code, 200, "{list}");
    assert_eq!(list["service_id"], "IS_30110");
    let items = list["items"].as_array().unwrap();
    let kind_of = |c: &str| {
        items
            .iter()
            .find(|i| i["company_code"] == c)
            .map(|i| i["kind"].as_str().unwrap().to_string())
    };
    assert_eq!(kind_of(RETAILER_B).as_deref(), Some("retailer"));
    assert_eq!(kind_of(DR_CONTRACTOR).as_deref(), Some("dr_contractor"));
}

#[tokio::test]
async fn point_search_finds_points_by_address_pole_or_meter_in_every_family() {
    let app = spawn_app(&ONE_AREA_PER_FAMILY).await;
    let a = app.login(RETAILER_A).await;
    for area in ONE_AREA_PER_FAMILY {
        let p = point(area, PointKind::LowVoltage, 9);
        let reg = kirikae::tso_sim::register::Register::generate(
            area,
            app.settings.sim_seed,
            app.settings.sim_points_per_area,
        );
        let known = reg.get(&p).expect("a registered point").clone();
        let pole = kirikae::tso_sim::register::service_pole_number(&p);
        for criteria in [
            json!({"meter_number": known.meter_number}),
            json!({"service_pole_number": pole}),
            json!({"address": known.supply_address, "meter_number": known.meter_number}),
        ] {
            let mut body = criteria.clone();
            body["area"] = json!(area.code());
            let done = completed(&a, "point-search", body).await;
            let ids: Vec<&str> = done["result"]["matches"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["point_id"].as_str().unwrap())
                .collect();
            assert!(ids.contains(&p.as_str()), "{criteria}: {ids:?}");
        }
        let none = json!({"area": area.code(), "meter_number": "no-such-meter"});
        let done = completed(&a, "point-search", none).await;
        assert_eq!(done["result"]["matches"], json!([]));
    }
    let (status, err) = refused_by_hub(&a, "point-search", json!({"area": "03"})).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (422, Some("no_search_criterion"))
    );
    let with_point = json!({"supply_point_id": point(Area::Tokyo, PointKind::LowVoltage, 1).as_str(),
                            "meter_number": "x"});
    let (status, err) = refused_by_hub(&a, "point-search", with_point).await;
    assert_eq!((status, err["code"].as_str()), (422, Some("unknown_field")));
}

#[tokio::test]
async fn every_read_of_a_customers_data_is_written_to_the_audit_log() {
    let area = Area::Tokyo;
    let app = spawn_app(&[area]).await;
    let a = app.login(RETAILER_A).await;
    let p = point(area, PointKind::LowVoltage, 8);
    let id = a.facility_inquiry(&p).await;
    a.final_status(&id).await;
    let (code, _) = a.list("").await;
    assert_eq!(code, 200);
    let pool = kirikae::hub::pool(&app.settings).unwrap();
    let client = pool.get().await.unwrap();
    let rows = client
        .query(
            "SELECT subject_id, company_code, detail FROM audit_log
             WHERE action = 'request.result_read' ORDER BY at",
            &[],
        )
        .await
        .unwrap();
    assert!(
        rows.len() >= 2,
        "one read of the request and one of the list"
    );
    assert!(rows.iter().all(|r| r.get::<_, String>(1) == RETAILER_A));
    let first: String = rows[0].get(0);
    assert_eq!(first, id);
    let listed: Value = rows.last().unwrap().get(2);
    assert!(listed.to_string().contains(&id), "{listed}");
}

#[tokio::test]
async fn a_request_of_another_class_is_not_recorded_as_read() {
    let area = Area::Tokyo;
    let app = spawn_app(&[area]).await;
    let a = app.login(RETAILER_A).await;
    let p = point(area, PointKind::LowVoltage, 8);
    let id = a.facility_inquiry(&p).await;
    a.final_status(&id).await;
    let pool = kirikae::hub::pool(&app.settings).unwrap();
    let client = pool.get().await.unwrap();
    let reads = || async {
        client
            .query_one(
                "SELECT count(*) FROM audit_log
                 WHERE action = 'request.result_read' AND subject_id = $1",
                &[&id],
            )
            .await
            .unwrap()
            .get::<_, i64>(0)
    };
    let before = reads().await;
    assert!(before >= 1, "reading the completed inquiry is recorded");
    let (code, _) = a.get(&format!("/api/v1/hv/requests/{id}")).await;
    assert_eq!(code, 404, "a low-voltage request is not a high-voltage one");
    assert_eq!(reads().await, before, "what was not shown was not read");
}
