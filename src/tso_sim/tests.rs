//! In-process tests of the simulator, called through the real SOAP client so that both ends of
//! the dialect are tested together: one test per rule, per mode, and per register property.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use reqwest::StatusCode;
use tokio_util::sync::CancellationToken;

use super::rules::{Rule, next_reading_date};
use super::*;
use crate::connector::soap::SoapClient;
use crate::domain::{CompanyCode, Function, SupplyPointId, UpdateFlag};
use crate::messages::{FacilityInquiry, FacilityInquiryResult, SwitchStart, SwitchStartResult};
use crate::wire::CallError;
use crate::wire::soap::{build_answer, build_envelope, parse_answer, parse_envelope};

const SEED: u64 = 2016;
const POINTS: u32 = 200;
const APPLICANT: &str = "A0001";

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 25).expect("a date")
}

fn days_from_today(days: i64) -> NaiveDate {
    today() + chrono::TimeDelta::days(days)
}

fn config(area: Area) -> SimConfig {
    SimConfig::new(area, SEED, POINTS)
}

/// A simulator serving on a free local port, stopped when dropped.
struct Running {
    sim: Arc<Simulator>,
    client: SoapClient,
    base: String,
    stop: CancellationToken,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn start(sim: Arc<Simulator>) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let stop = CancellationToken::new();
    tokio::spawn(serve(listener, sim.clone(), stop.clone()));
    let client = SoapClient::new(&format!("{base}/soap"), Duration::from_secs(5)).expect("client");
    Running {
        sim,
        client,
        base,
        stop,
    }
}

async fn tokyo() -> Running {
    start(Simulator::with_today(config(Area::Tokyo), today())).await
}

impl Running {
    fn point(&self, index: u32) -> SupplyPoint {
        self.sim
            .register()
            .get(&point_id(self.sim.area(), index))
            .expect("a registered point")
            .clone()
    }

    async fn control(&self, body: &str) -> (StatusCode, serde_json::Value) {
        let response = reqwest::Client::new()
            .post(format!("{}/sim/control", self.base))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("control call");
        let status = response.status();
        (status, response.json().await.expect("a JSON answer"))
    }

    async fn stats(&self) -> serde_json::Value {
        let response = reqwest::get(format!("{}/sim/stats", self.base))
            .await
            .expect("stats call");
        response.json().await.expect("stats JSON")
    }

    async fn refusal_code(&self, request: &RequestRecord) -> String {
        match self.client.call(request).await {
            Ok(TsoAnswer::Refused { code, .. }) => code,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
}

fn record(
    function: Function,
    company: &str,
    point: &SupplyPointId,
    payload: Payload,
) -> RequestRecord {
    RequestRecord {
        request_id: RequestId::new(),
        function,
        company_code: CompanyCode::parse(company).expect("a company code"),
        user_id: "taro.yamada".into(),
        point_id: point.clone(),
        update_flag: UpdateFlag::Register,
        original_request_id: None,
        accepted_at: Utc::now(),
        payload,
        replay: 0,
    }
}

fn inquiry(point: &SupplyPointId) -> RequestRecord {
    record(
        Function::FacilityInquiry,
        APPLICANT,
        point,
        Payload::FacilityInquiry(FacilityInquiry {}),
    )
}

/// A switch start that breaks no rule, after `edit`.
fn switch(point: &SupplyPoint, edit: impl FnOnce(&mut SwitchStart)) -> RequestRecord {
    let mut payload = SwitchStart {
        planned_date: days_from_today(10),
        previous_retailer_code: point.current_retailer_code.clone(),
        previous_customer_number: "0012345".into(),
        customer_name: point.customer_name.clone(),
        customer_phone: None,
        contract_ampere: point.contract_ampere,
        intermediation_number: None,
        agreed_to_grid_terms: true,
        contract_method: None,
        contract_kw: None,
    };
    edit(&mut payload);
    record(
        Function::SwitchStart,
        APPLICANT,
        &point.id,
        Payload::SwitchStart(payload),
    )
}

async fn until(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The current retailer's switch end that pairs with [`switch`] of `point` on `planned`.
fn switch_end(point: &SupplyPoint, planned: NaiveDate) -> RequestRecord {
    let payload = crate::messages::SwitchEnd {
        planned_date: planned,
        new_retailer_code: APPLICANT.into(),
        customer_number: "C-0001".into(),
        intermediation_number: None,
    };
    record(
        Function::SwitchEnd,
        &point.current_retailer_code,
        &point.id,
        Payload::SwitchEnd(payload),
    )
}

mod behaviour;
mod json;
mod modes;
mod register;

#[tokio::test]
async fn facility_inquiry_answers_from_the_register() {
    let sim = tokyo().await;
    let point = sim.point(3);
    let answer = sim.client.call(&inquiry(&point.id)).await;
    let expected = FacilityInquiryResult {
        supply_address: point.supply_address.clone(),
        contract_kind: point.contract_kind.clone(),
        contract_ampere: point.contract_ampere,
        contract_kva: point.contract_kva,
        smart_meter: point.smart_meter,
        meter_number: point.meter_number.clone(),
        next_meter_reading_date: next_reading_date(today(), point.meter_reading_day),
        current_retailer_code: Some(point.current_retailer_code.clone()),
        generation_kw: None,
        fit_scheme: None,
    };
    assert_eq!(
        answer,
        Ok(TsoAnswer::Completed(ResultPayload::FacilityInquiry(
            expected
        )))
    );
    assert_eq!(sim.sim.applications(), 0, "a look-up is not an application");
}

#[tokio::test]
async fn an_unknown_supply_point_is_refused_with_e1001() {
    let sim = tokyo().await;
    let beyond = point_id(Area::Tokyo, POINTS + 1);
    assert_eq!(sim.refusal_code(&inquiry(&beyond)).await, "E1001");
    let mut unknown = switch(&sim.point(0), |_| {});
    unknown.point_id = beyond;
    assert_eq!(sim.refusal_code(&unknown).await, "E1001");
}

#[tokio::test]
async fn a_point_of_another_area_is_refused_with_e1002() {
    let sim = tokyo().await;
    let answer = sim.client.call(&inquiry(&point_id(Area::Kansai, 0))).await;
    let message = "他エリアの供給地点特定番号です".to_string();
    assert_eq!(
        answer,
        Ok(TsoAnswer::Refused {
            code: "E1002".into(),
            message
        })
    );
}

#[test]
fn a_matched_switch_completes_on_the_first_reading_day_from_the_planned_date() {
    let sim = Simulator::with_today(config(Area::Tokyo), today());
    let point = sim
        .register()
        .get(&point_id(Area::Tokyo, 5))
        .expect("a point")
        .clone();
    let start = switch(&point, |_| {});
    assert_eq!(
        sim.answer(&start),
        TsoAnswer::Pending { stage: "05".into() }
    );
    let switch_date = crate::domain::BusinessCalendar.switch_date(
        today(),
        crate::domain::LeadTime::for_low_voltage("03").expect("a lead time"),
        point.meter_reading_day as u8,
        Some(days_from_today(10)),
    );
    let end = sim.answer(&switch_end(&point, days_from_today(10)));
    let expected = |number: &str| {
        TsoAnswer::Completed(ResultPayload::SwitchStart(SwitchStartResult {
            application_number: number.into(),
            switch_date,
            reception_stage: "09".into(),
        }))
    };
    assert_eq!(sim.answer(&start), expected("03-2026112500001"));
    assert_eq!(end, expected("03-2026112500002"));
    assert_eq!(sim.applications(), 2);
}

#[tokio::test]
async fn switch_start_by_the_current_retailer_is_refused() {
    let sim = tokyo().await;
    let point = sim.point(8);
    let mut request = switch(&point, |_| {});
    request.company_code = CompanyCode::parse(&point.current_retailer_code).expect("a code");
    assert_eq!(sim.refusal_code(&request).await, "E2101");
}

#[tokio::test]
async fn switch_start_naming_another_current_retailer_is_refused() {
    let sim = tokyo().await;
    let request = switch(&sim.point(9), |s| s.previous_retailer_code = "B0002".into());
    assert_eq!(sim.refusal_code(&request).await, "E2102");
}

#[tokio::test]
async fn switch_start_planned_in_the_past_is_refused() {
    let sim = tokyo().await;
    let request = switch(&sim.point(10), |s| s.planned_date = days_from_today(-1));
    assert_eq!(sim.refusal_code(&request).await, "E2103");
}

#[tokio::test]
async fn switch_start_without_agreeing_to_the_grid_terms_is_refused() {
    let sim = tokyo().await;
    let request = switch(&sim.point(11), |s| s.agreed_to_grid_terms = false);
    assert_eq!(sim.refusal_code(&request).await, "E2104");
    assert_eq!(sim.sim.applications(), 0);
}

#[tokio::test]
async fn a_repeated_request_id_creates_one_application() {
    let sim = Simulator::with_today(config(Area::Tokyo), today());
    let point = |index| {
        sim.register()
            .get(&point_id(Area::Tokyo, index))
            .expect("a point")
            .clone()
    };
    let (start, end) = (
        switch(&point(12), |_| {}),
        switch_end(&point(12), days_from_today(10)),
    );
    sim.answer(&start);
    let first = sim.answer(&end);
    assert!(matches!(first, TsoAnswer::Completed(_)), "{first:?}");
    let repeats: Vec<_> = (0..8)
        .map(|_| {
            let (sim, end) = (sim.clone(), end.clone());
            tokio::spawn(async move { sim.answer(&end) })
        })
        .collect();
    for repeat in repeats {
        assert_eq!(repeat.await.expect("joined"), first);
    }
    assert_eq!(sim.applications(), 2);
    sim.answer(&switch(&point(13), |_| {}));
    let next = sim.answer(&switch_end(&point(13), days_from_today(10)));
    assert!(
        matches!(next, TsoAnswer::Completed(ResultPayload::SwitchStart(ref r))
        if r.application_number == "03-2026112500004"),
        "{next:?}"
    );
    assert_eq!(sim.applications(), 4);
}

#[test]
fn an_envelope_round_trips_through_the_simulator_parser() {
    let register = Register::generate(Area::Tokyo, SEED, 3);
    let point = register.iter().next().expect("a point");
    let mut correction = switch(point, |s| {
        s.customer_name = "山田 <花子> & 'Co' \"x\"".into();
        s.customer_phone = Some("090-1234-5678".into());
        s.intermediation_number = Some("T-0001".into());
    });
    correction.update_flag = UpdateFlag::Withdraw;
    correction.original_request_id = Some(RequestId::new());
    for request in [
        inquiry(&point.id),
        switch(point, |s| s.contract_ampere = None),
        correction,
    ] {
        assert_eq!(
            parse_envelope(build_envelope(&request).as_bytes()),
            Ok(request)
        );
    }
}

#[test]
fn an_answer_round_trips_through_the_client_parser() {
    let register = Register::generate(Area::Kansai, SEED, 3);
    let point = register.iter().next().expect("a point");
    let facility = ResultPayload::FacilityInquiry(rules::facility_result(point, today()));
    let id = RequestId::new();
    for answer in [
        TsoAnswer::Completed(facility),
        Rule::RetailerMismatch.answer(),
    ] {
        let body = build_answer(Function::FacilityInquiry, &id, &answer);
        assert_eq!(
            parse_answer(Function::FacilityInquiry, body.as_bytes()),
            Ok(answer)
        );
    }
}

#[test]
fn the_simulator_is_send_and_sync() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<Simulator>();
    shareable::<Register>();
}
