//! One application end to end: API → broker → connector → simulated grid operator → result
//! topic → projector → status API.

use kirikae::domain::Area;
use kirikae::tso_sim::register::PointKind;
use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn a_facility_inquiry_completes_with_the_registers_data_in_three_areas() {
    let areas = [Area::Tokyo, Area::Kansai, Area::Kyushu];
    let app = spawn_app(&areas).await;
    let a = app.login(RETAILER_A).await;
    for area in areas {
        let (point, current) = app.point(area, 8);
        let id = a.facility_inquiry(&point).await;
        let done = a.final_status(&id).await;
        assert_eq!(done["status"], "completed", "{done}");
        assert_eq!(done["status_ja"], "完了");
        assert_eq!(done["service_id"], "IF_10110");
        assert_eq!(done["area"], area.code());
        assert_eq!(done["result"]["current_retailer_code"], current.as_str());
        assert_eq!(
            done["result"]["contract_ampere"].is_null(),
            !area.has_ampere_breakers()
        );
    }
}

#[tokio::test]
async fn a_matched_switch_completes_with_the_operators_application_number_in_three_areas() {
    let areas = [Area::Chubu, Area::Chugoku, Area::Okinawa];
    let app = spawn_app(&areas).await;
    let a = app.login(RETAILER_A).await;
    for area in areas {
        let point = app.incumbent_point(area, PointKind::LowVoltage, 3);
        let current = kirikae::tso_sim::register::incumbent_code(area);
        let body = switch_start_body(&point, &current);
        let id = a.accepted("switch-start", body.clone()).await;
        let incumbent = app.login(&current).await;
        let end = json!({"supply_point_id": point.as_str(), "planned_date": body["planned_date"],
                         "new_retailer_code": RETAILER_A, "customer_number": "0012-3456-78"});
        incumbent.accepted("switch-end", end).await;
        let done = a.final_status(&id).await;
        assert_eq!(done["status"], "completed", "{done}");
        assert_eq!(done["service_id"], "IF_10610");
        let number = done["result"]["application_number"].as_str().unwrap();
        assert!(number.starts_with(area.code()), "{number}");
        assert!(
            done["result"]["switch_date"].as_str().unwrap()
                >= body["planned_date"].as_str().unwrap()
        );
        assert_eq!(app.sim(area).1.applications(), 2, "the start and the end");
    }
}

#[tokio::test]
async fn an_unknown_supply_point_is_rejected_with_the_operators_code() {
    let app = spawn_app(&[Area::Tohoku]).await;
    let a = app.login(RETAILER_A).await;
    let id = a
        .accepted(
            "facility-inquiry",
            json!({"supply_point_id": "0209999999999999999999"}),
        )
        .await;
    let done = a.final_status(&id).await;
    assert_eq!(done["status"], "rejected", "{done}");
    assert_eq!(done["status_ja"], "不可");
    assert_eq!(done["code"], "E1001");
    assert!(
        done["message"]
            .as_str()
            .unwrap()
            .contains("供給地点特定番号")
    );
}

#[tokio::test]
async fn a_switch_start_naming_the_wrong_current_retailer_is_rejected() {
    let app = spawn_app(&[Area::Tokyo]).await;
    let a = app.login(RETAILER_A).await;
    let (point, _) = app.point(Area::Tokyo, 3);
    let id = a
        .accepted("switch-start", switch_start_body(&point, "B0002"))
        .await;
    let done = a.final_status(&id).await;
    assert_eq!(done["status"], "rejected", "{done}");
    assert_eq!(done["code"], "E2102");
}

#[tokio::test]
async fn the_status_goes_accepted_then_sent_then_completed() {
    let app = spawn_app(&[Area::Hokkaido]).await;
    app.set_sim_mode(Area::Hokkaido, json!({"mode": "hang"}))
        .await;
    let a = app.login(RETAILER_A).await;
    let (point, _) = app.point(Area::Hokkaido, 1);
    let id = a.facility_inquiry(&point).await;
    let (code, first) = a.status(&id).await;
    assert_eq!(code, 200);
    assert!(
        matches!(first["status"].as_str(), Some("accepted" | "sent")),
        "{first}"
    );
    let sim = app.sim(Area::Hokkaido).1.clone();
    eventually(60, "the connector's call", || sim.calls() >= 1).await;
    let mut seen_sent = false;
    for _ in 0..100 {
        if a.status(&id).await.1["status"] == "sent" {
            seen_sent = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        seen_sent,
        "status never showed sent while the operator was holding the call"
    );
    app.set_sim_mode(Area::Hokkaido, json!({"mode": "normal"}))
        .await;
    let done = a.final_status(&id).await;
    assert_eq!(done["status"], "completed");
    assert!(
        done["sent_at"].is_string() && done["finished_at"].is_string(),
        "{done}"
    );
}

#[tokio::test]
async fn the_status_list_shows_only_the_callers_requests_filtered_and_paged() {
    let app = spawn_app(&[Area::Hokuriku]).await;
    let (a, b) = (app.login(RETAILER_A).await, app.login(RETAILER_B).await);
    let mut mine = Vec::new();
    for i in 0..5 {
        let (point, _) = app.point(Area::Hokuriku, i);
        mine.push(a.facility_inquiry(&point).await);
    }
    let theirs = b
        .accepted(
            "facility-inquiry",
            json!({"supply_point_id": app.point(Area::Hokuriku, 9).0.as_str()}),
        )
        .await;
    for id in &mine {
        a.final_status(id).await;
    }
    // B's request is there, completed in the same area, and shown in B's own list: its absence
    // from A's below is the filter by company, not timing.
    let done = b.final_status(&theirs).await;
    assert_eq!(done["status"], "completed", "{done}");
    let (status, b_list) = b.list("status=completed&area=05").await;
    assert_eq!(status, 200, "{b_list}");
    assert!(
        b_list["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["request_id"] == theirs.as_str()),
        "{b_list}"
    );
    let mut seen = Vec::new();
    let mut url = format!(
        "{}/api/v1/requests?limit=2&status=completed&area=05",
        app.api
    );
    loop {
        let page: serde_json::Value = a
            .http
            .get(&url)
            .bearer_auth(&a.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(
            items
                .iter()
                .map(|i| i["request_id"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => {
                url = format!(
                    "{}/api/v1/requests?limit=2&status=completed&area=05&cursor={c}",
                    app.api
                )
            }
            None => break,
        }
    }
    seen.sort();
    mine.sort();
    assert_eq!(seen, mine);
    assert!(!seen.contains(&theirs));
    let (status, all) = a.list("").await;
    assert_eq!(status, 200, "{all}");
    assert!(
        !all["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["request_id"] == theirs.as_str()),
        "{all}"
    );
    let bad = a
        .http
        .get(format!("{}/api/v1/requests?status=done", app.api))
        .bearer_auth(&a.token)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
}

/// The API and the connector run as processes of their own, so their registries hold this
/// test's request and nothing else: each count is exactly one.
#[tokio::test]
async fn metrics_count_accepted_requests_and_operator_calls() {
    const ACCEPTED: &str =
        r#"kirikae_requests_accepted_total{area="10",function="facility-inquiry"}"#;
    const ATTEMPTS: &str = r#"kirikae_connector_attempts_total{area="10",outcome="completed"}"#;
    const E2E: &str = r#"kirikae_request_e2e_seconds_count{area="10",function="facility-inquiry",status="completed"}"#;
    let app = spawn_app_without_connectors(&[Area::Okinawa]).await;
    let (listen, api_ops, connector_ops) = (free_port(), free_port(), free_port());
    let _api = api_process(&app, listen, api_ops);
    let _connector = ChildProcess(
        connector_command(&app, Area::Okinawa, &format!("127.0.0.1:{connector_ops}"))
            .spawn()
            .unwrap(),
    );
    // The API process serves its ops endpoints once it listens.
    let before = metrics_of(api_ops).await;
    assert_eq!(sample(&before, ACCEPTED), 0.0, "a fresh process");
    let a = app
        .login(RETAILER_A)
        .await
        .on(&format!("https://localhost:{listen}"));
    let (point, _) = app.point(Area::Okinawa, 4);
    let id = a.facility_inquiry(&point).await;
    let done = a.final_status(&id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(sample(&metrics_of(api_ops).await, ACCEPTED), 1.0);
    // The connector counts the request finished just after publishing its result: wait for it.
    let mut connector = String::new();
    for _ in 0..100 {
        connector = metrics_of(connector_ops).await;
        if sample(&connector, E2E) >= 1.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(sample(&connector, ATTEMPTS), 1.0, "{connector}");
    assert_eq!(sample(&connector, E2E), 1.0, "{connector}");
}

/// The `accepted` row is committed before the record is produced (one group commit with the
/// audit row, issue 15): a GET right after the 202 finds the request, for each of many
/// concurrent submissions sharing commits.
#[tokio::test]
async fn a_get_right_after_the_202_finds_the_request() {
    // No connector: every request stays `accepted`.
    let app = spawn_app(&[]).await;
    let a = std::sync::Arc::new(app.login(RETAILER_A).await);
    let submissions = (0..40).map(|n| {
        let a = a.clone();
        async move {
            let point = kirikae::tso_sim::register::point_of(Area::Tokyo, PointKind::LowVoltage, n);
            let id = a.facility_inquiry(&point).await;
            let (code, seen) = a.status(&id).await;
            (id, code, seen)
        }
    });
    for (id, code, seen) in futures::future::join_all(submissions).await {
        assert_eq!(code, 200, "{id}: {seen}");
        assert_eq!(seen["status"], "accepted", "{seen}");
    }
}

/// `kirikae up` runs the simulators and connectors on a runtime of their own
/// (`hub::OperatorsRuntime`): a request is carried there and back, and once that runtime is
/// gone the API still accepts, but nothing carries the request on.
#[tokio::test]
async fn the_operators_side_runs_on_a_runtime_of_its_own() {
    let operators = kirikae::hub::OperatorsRuntime::new().unwrap();
    let app = spawn_app_with_operators(&[Area::Kansai], operators.handle()).await;
    let a = app.login(RETAILER_A).await;
    let (point, _) = app.point(Area::Kansai, 3);
    let carried = a.facility_inquiry(&point).await;
    assert_eq!(a.final_status(&carried).await["status"], "completed");

    drop(operators);
    let stranded = a.facility_inquiry(&point).await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let (code, view) = a.status(&stranded).await;
    assert_eq!(code, 200, "{view}");
    assert_eq!(view["status"], "accepted", "{view}");
}
