//! The operator's behaviour for every function, one test per rule, asked in process through
//! [`Simulator::answer`] (what every protocol server calls), on a fixed calendar.

use std::sync::Arc;
use std::time::Duration;

use chrono::{Months, NaiveDate, TimeDelta};

use super::*;
use crate::domain::{BusinessCalendar, LeadTime, PointClass};
use crate::messages::{
    Abolition, AmpereChange, ApplicationResult, ContractMethod, CustomerChange, FitScheme,
    HvUsageInquiry, HvUsageRequest, Reconnection, SwitchEnd, UsageInquiry, UsagePassword,
    UsagePasswordResult, UsageResult, VoltageClass,
};
use crate::tso_sim::register::{PointKind, index_of, point_of};
use crate::tso_sim::rules::{REFUSALS, Rule};
use crate::tso_sim::switching;

/// The register size every class exists in (the default).
const FULL: u32 = 5000;
const OTHER: &str = "B0002";

fn sim_of(area: Area) -> Arc<Simulator> {
    Simulator::with_today(SimConfig::new(area, SEED, FULL), today())
}

fn windowed(window: Duration) -> Arc<Simulator> {
    let mut cfg = SimConfig::new(Area::Tokyo, SEED, FULL);
    cfg.match_window = Some(window);
    Simulator::with_today(cfg, today())
}

fn point(sim: &Simulator, kind: PointKind, n: u32) -> SupplyPoint {
    sim.point(&point_of(sim.area(), kind, n))
        .expect("a registered point")
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a date")
}

fn code(answer: &TsoAnswer) -> &str {
    match answer {
        TsoAnswer::Refused { code, .. } => code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn pending() -> TsoAnswer {
    TsoAnswer::Pending { stage: "05".into() }
}

fn switch_of(answer: &TsoAnswer) -> SwitchStartResult {
    match answer {
        TsoAnswer::Completed(ResultPayload::SwitchStart(r)) => r.clone(),
        other => panic!("expected a completed switch, got {other:?}"),
    }
}

fn application_of(answer: &TsoAnswer) -> ApplicationResult {
    match answer {
        TsoAnswer::Completed(ResultPayload::Application(r)) => r.clone(),
        other => panic!("expected a completed application, got {other:?}"),
    }
}

fn usage_of(answer: &TsoAnswer) -> UsageResult {
    match answer {
        TsoAnswer::Completed(ResultPayload::Usage(r)) => r.clone(),
        other => panic!("expected usage, got {other:?}"),
    }
}

fn as_company(mut request: RequestRecord, company: &str) -> RequestRecord {
    request.company_code = CompanyCode::parse(company).expect("a company code");
    request
}

/// The function of `class` that does what `low_voltage` does.
fn of_class(low_voltage: Function, class: PointClass) -> Function {
    *Function::ALL
        .iter()
        .find(|f| f.operation() == low_voltage.operation() && f.class() == class)
        .expect("a function of that class")
}

/// A switch start by APPLICANT for `point` on `planned`, of the point's class.
fn start_of(point: &SupplyPoint, planned: NaiveDate) -> RequestRecord {
    let mut request = switch(point, |s| {
        s.planned_date = planned;
        s.contract_method = Some(ContractMethod::AmpereBreaker);
    });
    request.function = of_class(Function::SwitchStart, point.class);
    request
}

/// The current retailer's switch end for `point` on `planned`, to APPLICANT.
fn end_of(point: &SupplyPoint, planned: NaiveDate) -> RequestRecord {
    let payload = SwitchEnd {
        planned_date: planned,
        new_retailer_code: APPLICANT.into(),
        customer_number: "C-1".into(),
        intermediation_number: None,
    };
    record(
        of_class(Function::SwitchEnd, point.class),
        &point.current_retailer_code,
        &point.id,
        Payload::SwitchEnd(payload),
    )
}

fn reconnection(point: &SupplyPoint, planned: NaiveDate) -> RequestRecord {
    let payload = Reconnection {
        planned_date: planned,
        customer_name: "新井\u{3000}花子".into(),
        customer_phone: None,
        contract_ampere: None,
        contract_method: Some(ContractMethod::AmpereBreaker),
        agreed_to_grid_terms: true,
    };
    record(
        of_class(Function::Reconnection, point.class),
        APPLICANT,
        &point.id,
        Payload::Reconnection(payload),
    )
}

fn abolition(point: &SupplyPoint, planned: NaiveDate, with_removal: bool) -> RequestRecord {
    let payload = Abolition {
        planned_date: planned,
        with_removal,
        reason: None,
    };
    record(
        of_class(Function::Abolition, point.class),
        &point.current_retailer_code,
        &point.id,
        Payload::Abolition(payload),
    )
}

fn customer_change(point: &SupplyPoint, name: Option<&str>) -> RequestRecord {
    let payload = CustomerChange {
        effective_date: days_from_today(3),
        customer_name: name.map(str::to_string),
        customer_phone: None,
        mailing_address: None,
    };
    record(
        of_class(Function::CustomerChange, point.class),
        &point.current_retailer_code,
        &point.id,
        Payload::CustomerChange(payload),
    )
}

fn ampere_change(point: &SupplyPoint, ampere: i32) -> RequestRecord {
    let payload = AmpereChange {
        planned_date: days_from_today(5),
        contract_ampere: ampere,
    };
    record(
        Function::AmpereChange,
        &point.current_retailer_code,
        &point.id,
        Payload::AmpereChange(payload),
    )
}

fn password_request(point: &SupplyPoint, company: &str, name: &str) -> RequestRecord {
    let payload = UsagePassword {
        customer_name: name.into(),
        customer_phone: None,
    };
    record(
        Function::UsagePassword,
        company,
        &point.id,
        Payload::UsagePassword(payload),
    )
}

fn usage_inquiry(point: &SupplyPoint, company: &str, password: &str) -> RequestRecord {
    let payload = UsageInquiry {
        usage_password: password.into(),
        months: None,
    };
    record(
        Function::UsageInquiry,
        company,
        &point.id,
        Payload::UsageInquiry(payload),
    )
}

fn amendment(original: &RequestRecord, flag: UpdateFlag, payload: Payload) -> RequestRecord {
    let mut request = original.clone();
    request.request_id = RequestId::new();
    request.update_flag = flag;
    request.original_request_id = Some(original.request_id);
    request.payload = payload;
    request
}

fn withdrawal(original: &RequestRecord) -> RequestRecord {
    amendment(original, UpdateFlag::Withdraw, original.payload.clone())
}

/// The switch date the calendar gives a switch of `point` filed today for `planned`.
fn expected_switch_date(point: &SupplyPoint, lead: LeadTime, planned: NaiveDate) -> NaiveDate {
    BusinessCalendar.switch_date(today(), lead, point.meter_reading_day as u8, Some(planned))
}

#[test]
fn every_code_has_one_row_in_the_refusal_table() {
    for (index, row) in REFUSALS.iter().enumerate() {
        assert_eq!(row.rule as usize, index, "{row:?} out of place");
        assert_eq!(Rule::by_code(row.code), Some(row.rule));
        assert!(!row.message.is_empty());
    }
    for code in [
        "E1001", "E1002", "E1003", "E2101", "E2104", "E2112", "E2201",
    ] {
        assert!(Rule::by_code(code).is_some(), "{code}");
    }
    for code in ["E3001", "E3004", "E4001", "E5001", "E5002", "W0001"] {
        assert!(Rule::by_code(code).is_some(), "{code}");
    }
}

#[test]
fn the_register_places_each_class_by_index() {
    let register = Register::generate(Area::Chubu, SEED, FULL);
    let kinds = [
        PointKind::LowVoltage,
        PointKind::Vacant,
        PointKind::HighVoltage,
        PointKind::Fit,
        PointKind::PostFit,
    ];
    for kind in kinds {
        for n in [0, 1, 48, 49, 50, 123] {
            let id = point_of(Area::Chubu, kind, n);
            let p = register.get(&id).expect("a point of every kind");
            let (class, digit) = match kind {
                PointKind::LowVoltage | PointKind::Vacant => (PointClass::LowVoltage, '0'),
                PointKind::HighVoltage => (PointClass::HighVoltage, '1'),
                PointKind::Fit | PointKind::PostFit => (PointClass::Generation, '2'),
            };
            assert_eq!(p.class, class, "{kind:?} {n}");
            assert_eq!(id.as_str().chars().nth(2), Some(digit));
            assert_eq!(p.is_vacant(), kind == PointKind::Vacant, "{kind:?} {n}");
            match kind {
                PointKind::HighVoltage => {
                    assert!(p.contract_kw.is_some_and(|kw| (50.0..=499.0).contains(&kw)));
                    assert!(p.smart_meter);
                }
                PointKind::Fit | PointKind::PostFit => {
                    assert!(p.generation_kw.is_some_and(|kw| (3.0..=9.9).contains(&kw)));
                    let scheme = if kind == PointKind::Fit {
                        FitScheme::Fit
                    } else {
                        FitScheme::PostFit
                    };
                    assert_eq!(p.fit_scheme, Some(scheme));
                }
                _ => assert!(p.contract_kw.is_none() && p.fit_scheme.is_none()),
            }
        }
    }
    assert_eq!(index_of(PointKind::LowVoltage, 7), 8);
    assert_eq!(index_of(PointKind::LowVoltage, 49), 50);
    assert_eq!(index_of(PointKind::Vacant, 2), 107);
    let vacant = register.iter().filter(|p| p.is_vacant()).count();
    assert_eq!(vacant, 80);
}

#[test]
fn a_point_of_another_class_is_refused_with_e1003() {
    let sim = sim_of(Area::Tokyo);
    let hv = point(&sim, PointKind::HighVoltage, 0);
    assert_eq!(code(&sim.answer(&inquiry(&hv.id))), "E1003");
    let low = point(&sim, PointKind::LowVoltage, 0);
    let mut gen_inquiry = inquiry(&low.id);
    gen_inquiry.function = Function::GenFacilityInquiry;
    assert_eq!(code(&sim.answer(&gen_inquiry)), "E1003");
    let mut hv_switch = start_of(&low, days_from_today(10));
    hv_switch.function = Function::HvSwitchStart;
    assert_eq!(code(&sim.answer(&hv_switch)), "E1003");
}

#[test]
fn post_fit_only_functions_are_refused_for_fit_points() {
    let sim = sim_of(Area::Tokyo);
    let fit = point(&sim, PointKind::Fit, 3);
    let answer = sim.answer(&start_of(&fit, days_from_today(10)));
    assert_eq!(
        answer,
        TsoAnswer::Refused {
            code: "E4001".into(),
            message: "FIT買取期間中の電源は対象外です(FIT卒業電源のみ)".into()
        }
    );
    assert_eq!(
        code(&sim.answer(&end_of(&fit, days_from_today(10)))),
        "E4001"
    );
    // Not post-FIT only: a FIT point's abolition is accepted.
    let abolished = sim.answer(&abolition(&fit, days_from_today(5), false));
    assert!(
        matches!(abolished, TsoAnswer::Completed(_)),
        "{abolished:?}"
    );
    let post_fit = point(&sim, PointKind::PostFit, 3);
    assert_eq!(
        sim.answer(&start_of(&post_fit, days_from_today(10))),
        pending()
    );
}

#[test]
fn facility_inquiry_shows_generation_output_and_vacancy() {
    let sim = sim_of(Area::Tokyo);
    let post_fit = point(&sim, PointKind::PostFit, 1);
    let mut request = inquiry(&post_fit.id);
    request.function = Function::GenFacilityInquiry;
    let TsoAnswer::Completed(ResultPayload::FacilityInquiry(result)) = sim.answer(&request) else {
        panic!("a facility answer")
    };
    assert_eq!(result.generation_kw, post_fit.generation_kw);
    assert_eq!(result.fit_scheme, Some(FitScheme::PostFit));
    let vacant = point(&sim, PointKind::Vacant, 1);
    let TsoAnswer::Completed(ResultPayload::FacilityInquiry(result)) =
        sim.answer(&inquiry(&vacant.id))
    else {
        panic!("a facility answer")
    };
    assert_eq!(result.current_retailer_code, None);
    assert_eq!(result.generation_kw, None);
}

#[test]
fn a_switch_completes_only_when_start_and_end_are_both_filed() {
    let sim = sim_of(Area::Tokyo);
    let p = point(&sim, PointKind::LowVoltage, 20);
    let planned = days_from_today(10);
    let new = start_of(&p, planned);
    assert_eq!(sim.answer(&new), pending());
    assert_eq!(sim.answer(&new), pending(), "a status check before the end");
    assert_eq!(sim.applications(), 0);
    let old = end_of(&p, planned);
    let ended = switch_of(&sim.answer(&old));
    let started = switch_of(&sim.answer(&new));
    let lead = LeadTime::for_low_voltage("03").expect("a lead time");
    assert_eq!(started.switch_date, expected_switch_date(&p, lead, planned));
    assert!(started.switch_date >= planned);
    assert_eq!(started.switch_date, ended.switch_date);
    assert_ne!(started.application_number, ended.application_number);
    assert_eq!(started.reception_stage, "09");
    assert_eq!(sim.applications(), 2);
    let now = sim.point(&p.id).expect("the point");
    assert_eq!(now.current_retailer_code, APPLICANT);
    assert_eq!(
        sim.register().get(&p.id).map(|r| &r.current_retailer_code),
        Some(&p.current_retailer_code),
        "the generated register stays as it was"
    );
    // Repeats answer the same and file nothing more.
    assert_eq!(switch_of(&sim.answer(&old)), ended);
    assert_eq!(sim.applications(), 2);
}

#[test]
fn halves_of_different_dates_or_retailers_do_not_match() {
    let sim = sim_of(Area::Tokyo);
    let p = point(&sim, PointKind::LowVoltage, 21);
    let new = start_of(&p, days_from_today(10));
    assert_eq!(sim.answer(&new), pending());
    assert_eq!(sim.answer(&end_of(&p, days_from_today(11))), pending());
    let mut to_other = end_of(&p, days_from_today(10));
    if let Payload::SwitchEnd(e) = &mut to_other.payload {
        e.new_retailer_code = OTHER.into();
    }
    assert_eq!(sim.answer(&to_other), pending());
    assert_eq!(sim.answer(&new), pending());
}

#[test]
fn a_switch_end_is_for_the_current_retailer_and_names_another_one() {
    let sim = sim_of(Area::Tokyo);
    let p = point(&sim, PointKind::LowVoltage, 22);
    let stranger = as_company(end_of(&p, days_from_today(10)), OTHER);
    assert_eq!(code(&sim.answer(&stranger)), "E2107");
    let mut to_itself = end_of(&p, days_from_today(10));
    if let Payload::SwitchEnd(e) = &mut to_itself.payload {
        e.new_retailer_code = p.current_retailer_code.clone();
    }
    assert_eq!(code(&sim.answer(&to_itself)), "E2113");
    let past = end_of(&p, days_from_today(-1));
    assert_eq!(code(&sim.answer(&past)), "E2103");
}

#[test]
fn a_high_voltage_switch_takes_the_high_voltage_lead_time() {
    let sim = sim_of(Area::Tokyo);
    let p = point(&sim, PointKind::HighVoltage, 5);
    let planned = today();
    assert_eq!(sim.answer(&start_of(&p, planned)), pending());
    let done = switch_of(&sim.answer(&end_of(&p, planned)));
    let lead = LeadTime::for_high_voltage("03").expect("a lead time");
    assert_eq!(done.switch_date, expected_switch_date(&p, lead, planned));
    assert!(done.switch_date >= BusinessCalendar.add_business_days(today(), 8));
}

#[test]
fn an_unmatched_switch_is_refused_after_its_deadline() {
    let sim = sim_of(Area::Tokyo);
    let p = point(&sim, PointKind::LowVoltage, 23);
    let planned = days_from_today(3);
    let new = start_of(&p, planned);
    assert_eq!(sim.answer(&new), pending());
    let deadline = switching::matching_deadline(Area::Tokyo, &p, today(), planned);
    let switch_date = switching::switch_date(Area::Tokyo, &p, today(), planned);
    assert!(deadline >= today() && deadline < switch_date);
    let next = deadline.succ_opt().expect("a day");
    assert_ne!(
        switching::switch_date(Area::Tokyo, &p, next, planned),
        switch_date,
        "the deadline is the last day that keeps the switch date"
    );
    sim.set_today(deadline);
    assert_eq!(sim.answer(&new), pending(), "still in time on the deadline");
    sim.set_today(next);
    let answer = sim.answer(&new);
    assert_eq!(
        answer,
        TsoAnswer::Refused {
            code: "E2201".into(),
            message: "照合期限までに対となる申込がありません".into()
        }
    );
    // The counterpart filed now finds nothing to match.
    let late_end = sim.answer(&end_of(&p, planned));
    assert!(!matches!(late_end, TsoAnswer::Completed(_)), "{late_end:?}");
    assert_eq!(sim.answer(&new), answer, "final");
}

#[test]
fn an_unmatched_switch_is_refused_after_its_match_window() {
    let sim = windowed(Duration::from_millis(50));
    let p = point(&sim, PointKind::LowVoltage, 24);
    let new = start_of(&p, days_from_today(10));
    assert_eq!(sim.answer(&new), pending());
    std::thread::sleep(Duration::from_millis(80));
    assert_eq!(code(&sim.answer(&new)), "E2201");
    // An end filed now has no live counterpart.
    assert_eq!(sim.answer(&end_of(&p, days_from_today(10))), pending());
    assert_eq!(sim.applications(), 0);
}

#[test]
fn a_switch_matched_within_the_window_completes() {
    let sim = windowed(Duration::from_secs(30));
    let p = point(&sim, PointKind::PostFit, 7);
    let new = start_of(&p, days_from_today(10));
    assert_eq!(sim.answer(&new), pending());
    switch_of(&sim.answer(&end_of(&p, days_from_today(10))));
    switch_of(&sim.answer(&new));
}

#[test]
fn kyushu_requires_a_contract_method_on_switch_start_and_reconnection() {
    let sim = sim_of(Area::Kyushu);
    let p = point(&sim, PointKind::LowVoltage, 2);
    let mut without = start_of(&p, days_from_today(10));
    if let Payload::SwitchStart(s) = &mut without.payload {
        s.contract_method = None;
    }
    assert_eq!(code(&sim.answer(&without)), "E2106");
    let vacant = point(&sim, PointKind::Vacant, 2);
    let mut bare = reconnection(&vacant, today());
    if let Payload::Reconnection(r) = &mut bare.payload {
        r.contract_method = None;
    }
    assert_eq!(code(&sim.answer(&bare)), "E2106");
    assert_eq!(sim.answer(&start_of(&p, days_from_today(10))), pending());
    // Other areas do without.
    let tokyo = sim_of(Area::Tokyo);
    let q = point(&tokyo, PointKind::LowVoltage, 2);
    let mut elsewhere = start_of(&q, days_from_today(10));
    if let Payload::SwitchStart(s) = &mut elsewhere.payload {
        s.contract_method = None;
    }
    assert_eq!(tokyo.answer(&elsewhere), pending());
}

#[test]
fn reconnection_needs_a_vacant_point_and_a_date_at_most_31_days_back() {
    let sim = sim_of(Area::Tokyo);
    let supplied = point(&sim, PointKind::LowVoltage, 3);
    assert_eq!(
        code(&sim.answer(&reconnection(&supplied, today()))),
        "E2105"
    );
    let vacant = point(&sim, PointKind::Vacant, 3);
    let too_early = reconnection(&vacant, days_from_today(-32));
    assert_eq!(code(&sim.answer(&too_early)), "E2111");
    let back = days_from_today(-31);
    let done = application_of(&sim.answer(&reconnection(&vacant, back)));
    assert_eq!(done.effective_date, Some(back));
    assert_eq!(done.reception_stage, "09");
    let now = sim.point(&vacant.id).expect("the point");
    assert_eq!(now.current_retailer_code, APPLICANT);
    assert_eq!(now.customer_name, "新井\u{3000}花子");
    assert_eq!(sim.applications(), 1);
}

#[test]
fn abolition_is_for_the_current_retailer_and_not_in_the_past() {
    let sim = sim_of(Area::Tokyo);
    let p = point(&sim, PointKind::LowVoltage, 4);
    let stranger = as_company(abolition(&p, days_from_today(5), true), OTHER);
    assert_eq!(code(&sim.answer(&stranger)), "E2107");
    let past = abolition(&p, days_from_today(-1), true);
    assert_eq!(code(&sim.answer(&past)), "E2112");
    let removal = abolition(&p, days_from_today(5), true);
    assert_eq!(removal.application_kind(), Some("02"));
    let done = application_of(&sim.answer(&removal));
    assert_eq!(done.effective_date, Some(days_from_today(5)));
    assert!(sim.point(&p.id).expect("the point").is_vacant());
    // Vacant now: re-connectable, and no longer anyone's to abolish.
    let again = abolition(&p, days_from_today(6), false);
    assert_eq!(code(&sim.answer(&again)), "E2107");
    let reconnected = sim.answer(&reconnection(&p, days_from_today(7)));
    application_of(&reconnected);
    let hv = point(&sim, PointKind::HighVoltage, 4);
    application_of(&sim.answer(&abolition(&hv, today(), false)));
}

#[test]
fn customer_change_needs_the_current_retailer_and_something_to_change() {
    let sim = sim_of(Area::Tokyo);
    let p = point(&sim, PointKind::LowVoltage, 5);
    let stranger = as_company(customer_change(&p, Some("山田\u{3000}一郎")), OTHER);
    assert_eq!(code(&sim.answer(&stranger)), "E2107");
    assert_eq!(code(&sim.answer(&customer_change(&p, None))), "E2108");
    application_of(&sim.answer(&customer_change(&p, Some("山田\u{3000}一郎"))));
    assert_eq!(
        sim.point(&p.id).expect("the point").customer_name,
        "山田\u{3000}一郎"
    );
    let producer = point(&sim, PointKind::Fit, 5);
    let change = customer_change(&producer, Some("発電\u{3000}太郎"));
    assert_eq!(change.function, Function::GenProducerChange);
    application_of(&sim.answer(&change));
    let hv = point(&sim, PointKind::HighVoltage, 5);
    assert_eq!(code(&sim.answer(&customer_change(&hv, None))), "E2108");
}

#[test]
fn ampere_change_is_refused_where_there_are_no_ampere_breakers() {
    let sim = sim_of(Area::Kansai);
    let p = point(&sim, PointKind::LowVoltage, 6);
    let answer = sim.answer(&ampere_change(&p, 40));
    assert_eq!(code(&answer), "E2109");
    let tokyo = sim_of(Area::Tokyo);
    let q = point(&tokyo, PointKind::LowVoltage, 6);
    application_of(&tokyo.answer(&ampere_change(&q, 40)));
    assert_eq!(
        tokyo.point(&q.id).expect("the point").contract_ampere,
        Some(40)
    );
}

#[test]
fn ampere_change_offers_only_the_standard_currents_to_the_current_retailer() {
    let sim = sim_of(Area::Tokyo);
    let p = point(&sim, PointKind::LowVoltage, 8);
    assert_eq!(code(&sim.answer(&ampere_change(&p, 35))), "E2110");
    let stranger = as_company(ampere_change(&p, 30), OTHER);
    assert_eq!(code(&sim.answer(&stranger)), "E2107");
    for ampere in [10, 15, 20, 30, 40, 50, 60] {
        application_of(&sim.answer(&ampere_change(&p, ampere)));
    }
}

#[test]
fn usage_password_needs_the_registered_name_and_is_mailed_to_the_customer() {
    let sim = sim_of(Area::Tokyo);
    let p = point(&sim, PointKind::LowVoltage, 9);
    let wrong = password_request(&p, APPLICANT, "別人\u{3000}太郎");
    assert_eq!(code(&sim.answer(&wrong)), "E3001");
    let request = password_request(&p, APPLICANT, &p.customer_name);
    let TsoAnswer::Completed(ResultPayload::UsagePassword(result)) = sim.answer(&request) else {
        panic!("a password answer")
    };
    assert_eq!(
        result,
        UsagePasswordResult {
            application_number: result.application_number.clone(),
            sent_on: today(),
            valid_until: date(2026, 12, 24),
        }
    );
    let mails = sim.mails();
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.point_id, p.id);
    assert_eq!(mail.customer_name, p.customer_name);
    assert_eq!(mail.password.len(), 8);
    assert_eq!(mail.password, usage::password_for(&request.request_id));
    assert_eq!(mail.application_number, result.application_number);
    assert_eq!(mail.valid_until, result.valid_until);
    // The same request again sends no second letter.
    sim.answer(&request);
    assert_eq!(sim.mails().len(), 1);
}

#[test]
fn usage_inquiry_needs_a_valid_password() {
    let sim = sim_of(Area::Tokyo);
    let p = point(&sim, PointKind::LowVoltage, 10);
    let q = point(&sim, PointKind::LowVoltage, 11);
    assert_eq!(
        code(&sim.answer(&usage_inquiry(&p, APPLICANT, "ABCDEFGH"))),
        "E3002"
    );
    sim.answer(&password_request(&p, APPLICANT, &p.customer_name));
    let password = sim.mails()[0].password.clone();
    usage_of(&sim.answer(&usage_inquiry(&p, APPLICANT, &password)));
    assert_eq!(
        code(&sim.answer(&usage_inquiry(&q, APPLICANT, &password))),
        "E3002",
        "a password is for its own point"
    );
    let mut too_many = usage_inquiry(&p, APPLICANT, &password);
    if let Payload::UsageInquiry(u) = &mut too_many.payload {
        u.months = Some(14);
    }
    assert_eq!(code(&sim.answer(&too_many)), "E3004");
    let mut none = usage_inquiry(&p, APPLICANT, &password);
    if let Payload::UsageInquiry(u) = &mut none.payload {
        u.months = Some(0);
    }
    assert_eq!(code(&sim.answer(&none)), "E3004");
}

#[test]
fn a_password_is_valid_for_one_month_and_any_retailer_may_use_it() {
    let sim = sim_of(Area::Tokyo);
    let p = point(&sim, PointKind::LowVoltage, 12);
    sim.answer(&password_request(&p, OTHER, &p.customer_name));
    let mail = sim.mails()[0].clone();
    assert_eq!(
        mail.valid_until,
        today() + Months::new(1) - TimeDelta::days(1)
    );
    sim.set_today(mail.valid_until);
    usage_of(&sim.answer(&usage_inquiry(&p, APPLICANT, &mail.password)));
    usage_of(&sim.answer(&usage_inquiry(&p, OTHER, &mail.password)));
    sim.set_today(mail.valid_until.succ_opt().expect("a day"));
    let late = sim.answer(&usage_inquiry(&p, APPLICANT, &mail.password));
    assert_eq!(code(&late), "E3002");
}

#[test]
fn usage_answers_months_up_to_the_last_full_one_and_its_half_hours() {
    let sim = sim_of(Area::Tokyo);
    let smart = sim
        .register()
        .iter()
        .find(|p| p.class == PointClass::LowVoltage && p.smart_meter && !p.is_vacant())
        .expect("a smart point")
        .clone();
    let plain = sim
        .register()
        .iter()
        .find(|p| p.class == PointClass::LowVoltage && !p.smart_meter && !p.is_vacant())
        .expect("a point without a smart meter")
        .clone();
    let usage = usage::usage_result(&smart, today(), None);
    let months: Vec<_> = usage.monthly.iter().map(|m| m.month.as_str()).collect();
    assert_eq!(months.len(), 13);
    assert_eq!(months[0], "2025-10");
    assert_eq!(months[12], "2026-10");
    assert!(usage.monthly.iter().all(|m| m.kwh > 0.0));
    assert!(usage.smart_meter);
    assert_eq!(usage.half_hourly.len(), 31 * 48);
    assert_eq!(usage.half_hourly[0].day, date(2026, 10, 1));
    assert_eq!(usage.half_hourly[47].slot, 48);
    let total: f64 = usage.half_hourly.iter().map(|h| h.kwh).sum();
    assert!((total - usage.monthly[12].kwh).abs() < 1.0, "{total}");
    assert_eq!(
        usage,
        usage::usage_result(&smart, today(), None),
        "the same each time"
    );
    let three = usage::usage_result(&smart, today(), Some(3));
    assert_eq!(three.monthly[..], usage.monthly[10..]);
    let without = usage::usage_result(&plain, today(), Some(2));
    assert!(!without.smart_meter && without.half_hourly.is_empty());
    assert_eq!(without.monthly.len(), 2);
}

#[test]
fn hv_usage_inquiry_needs_an_application_number_of_the_point() {
    let sim = sim_of(Area::Tokyo);
    let p = point(&sim, PointKind::HighVoltage, 13);
    let q = point(&sim, PointKind::HighVoltage, 14);
    let request = record(
        Function::HvUsageRequest,
        APPLICANT,
        &p.id,
        Payload::HvUsageRequest(HvUsageRequest {
            voltage_class: VoltageClass::HvBelow500kw,
            customer_name: p.customer_name.clone(),
            consent_reference: "同意書-1".into(),
        }),
    );
    let accepted = application_of(&sim.answer(&request));
    let inquiry_of = |point: &SupplyPoint, number: &str| {
        record(
            Function::HvUsageInquiry,
            APPLICANT,
            &point.id,
            Payload::HvUsageInquiry(HvUsageInquiry {
                application_number: number.into(),
                months: None,
            }),
        )
    };
    let usage = usage_of(&sim.answer(&inquiry_of(&p, &accepted.application_number)));
    assert!(usage.smart_meter && !usage.half_hourly.is_empty());
    assert_eq!(usage.monthly.len(), 13);
    let other = sim.answer(&inquiry_of(&q, &accepted.application_number));
    assert_eq!(code(&other), "E3003");
    assert_eq!(code(&sim.answer(&inquiry_of(&p, "03-2099"))), "E3003");
}

#[test]
fn a_completed_application_cannot_be_withdrawn() {
    let sim = sim_of(Area::Tokyo);
    let p = point(&sim, PointKind::LowVoltage, 15);
    let change = customer_change(&p, Some("佐藤\u{3000}次郎"));
    application_of(&sim.answer(&change));
    let answer = sim.answer(&withdrawal(&change));
    assert_eq!(
        answer,
        TsoAnswer::Refused {
            code: "E5002".into(),
            message: "完了済みの申込は訂正・取消できません".into()
        }
    );
    let refused = customer_change(&p, None);
    assert_eq!(code(&sim.answer(&refused)), "E2108");
    assert_eq!(code(&sim.answer(&withdrawal(&refused))), "E5002");
}

#[test]
fn a_correction_or_withdrawal_needs_an_original_of_the_same_company() {
    let sim = sim_of(Area::Tokyo);
    let p = point(&sim, PointKind::LowVoltage, 16);
    let new = start_of(&p, days_from_today(10));
    assert_eq!(sim.answer(&new), pending());
    let by_other = as_company(withdrawal(&new), OTHER);
    assert_eq!(code(&sim.answer(&by_other)), "E5001");
    let mut unknown = withdrawal(&new);
    unknown.original_request_id = Some(RequestId::new());
    assert_eq!(code(&sim.answer(&unknown)), "E5001");
    let mut nothing = withdrawal(&new);
    nothing.original_request_id = None;
    assert_eq!(code(&sim.answer(&nothing)), "E5001");
    let look_up = inquiry(&p.id);
    sim.answer(&look_up);
    assert_eq!(code(&sim.answer(&withdrawal(&look_up))), "E5001");
    assert_eq!(sim.answer(&new), pending(), "the original is still held");
}

#[test]
fn a_pending_switch_can_be_withdrawn() {
    let sim = sim_of(Area::Tokyo);
    let p = point(&sim, PointKind::LowVoltage, 17);
    let new = start_of(&p, days_from_today(10));
    assert_eq!(sim.answer(&new), pending());
    let withdraw = withdrawal(&new);
    assert_eq!(sim.answer(&withdraw), TsoAnswer::Acknowledged);
    assert_eq!(sim.answer(&withdraw), TsoAnswer::Acknowledged, "idempotent");
    let withdrawn = TsoAnswer::Refused {
        code: "W0001".into(),
        message: "申込者により取消されました".into(),
    };
    assert_eq!(sim.answer(&new), withdrawn);
    // Its counterpart now has nothing to match.
    assert_eq!(sim.answer(&end_of(&p, days_from_today(10))), pending());
    assert_eq!(sim.answer(&new), withdrawn);
    assert_eq!(code(&sim.answer(&withdrawal(&new))), "E5002");
    assert_eq!(
        sim.point(&p.id).expect("the point").current_retailer_code,
        p.current_retailer_code
    );
}

#[test]
fn a_correction_of_a_pending_switch_is_matched_on_its_new_date() {
    let sim = sim_of(Area::Tokyo);
    let p = point(&sim, PointKind::LowVoltage, 18);
    let new = start_of(&p, days_from_today(10));
    assert_eq!(sim.answer(&new), pending());
    let old = end_of(&p, days_from_today(20));
    assert_eq!(sim.answer(&old), pending());
    let mut moved = new.payload.clone();
    if let Payload::SwitchStart(s) = &mut moved {
        s.planned_date = days_from_today(20);
    }
    let correction = amendment(&new, UpdateFlag::Correct, moved);
    assert_eq!(sim.answer(&correction), TsoAnswer::Acknowledged);
    let started = switch_of(&sim.answer(&new));
    let ended = switch_of(&sim.answer(&old));
    assert_eq!(started.switch_date, ended.switch_date);
    assert!(started.switch_date >= days_from_today(20));
    // A correction that breaks a rule is refused and leaves the original as it was.
    let q = point(&sim, PointKind::LowVoltage, 19);
    let held = start_of(&q, days_from_today(10));
    assert_eq!(sim.answer(&held), pending());
    let mut past = held.payload.clone();
    if let Payload::SwitchStart(s) = &mut past {
        s.planned_date = days_from_today(-3);
    }
    let bad = amendment(&held, UpdateFlag::Correct, past);
    assert_eq!(code(&sim.answer(&bad)), "E2103");
    assert_eq!(sim.answer(&held), pending());
}

#[tokio::test]
async fn the_mailbox_is_served_as_json_and_filtered_by_point() {
    let sim = start_full().await;
    let p = point(&sim.sim, PointKind::LowVoltage, 25);
    let q = point(&sim.sim, PointKind::LowVoltage, 26);
    sim.sim
        .answer(&password_request(&p, APPLICANT, &p.customer_name));
    sim.sim
        .answer(&password_request(&q, APPLICANT, &q.customer_name));
    let all: serde_json::Value = reqwest::get(format!("{}/sim/mail", sim.base))
        .await
        .expect("mail call")
        .json()
        .await
        .expect("JSON");
    assert_eq!(all.as_array().map(Vec::len), Some(2));
    let url = format!("{}/sim/mail?point_id={}", sim.base, q.id);
    let one: serde_json::Value = reqwest::get(url)
        .await
        .expect("mail call")
        .json()
        .await
        .expect("JSON");
    let mail = &one[0];
    assert_eq!(one.as_array().map(Vec::len), Some(1));
    assert_eq!(mail["point_id"], q.id.as_str());
    assert_eq!(mail["customer_name"], q.customer_name.as_str());
    assert_eq!(mail["valid_until"], "2026-12-24");
    assert_eq!(mail["sent_on"], "2026-11-25");
    assert_eq!(mail["password"].as_str().map(str::len), Some(8));
    assert!(mail["application_number"].is_string());
}

async fn start_full() -> Running {
    start(sim_of(Area::Tokyo)).await
}

#[test]
fn a_repeated_request_id_is_counted_as_applied_once() {
    let sim = sim_of(Area::Tokyo);
    let vacant = point(&sim, PointKind::Vacant, 3);
    let request = reconnection(&vacant, days_from_today(3));
    let first = sim.answer(&request);
    assert_eq!(sim.answer(&request), first, "the same answer again");
    let p = point(&sim, PointKind::LowVoltage, 21);
    let planned = days_from_today(10);
    let (start, end) = (start_of(&p, planned), end_of(&p, planned));
    for r in [&start, &end, &start, &end] {
        sim.answer(r);
    }
    let applied = sim.applied();
    assert_eq!(applied.get(&request.request_id), Some(&1), "{applied:?}");
    assert_eq!(applied.get(&start.request_id), Some(&1), "{applied:?}");
    assert_eq!(applied.get(&end.request_id), Some(&1), "{applied:?}");
    assert_eq!(applied.len(), 3);
}
