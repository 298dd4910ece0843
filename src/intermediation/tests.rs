//! One test per rule of the intermediation domain, named after the rule.

use chrono::{NaiveDate, TimeZone, Utc};

use super::*;
use crate::domain::{CompanyCode, Refusal};

const ENDINGS: [EventKind; 4] = [
    EventKind::Approved,
    EventKind::Declined,
    EventKind::Expired,
    EventKind::Withdrawn,
];

fn me() -> CompanyCode {
    CompanyCode::parse("A0001").unwrap()
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 2).unwrap()
}

fn registration() -> RegistrationBody {
    RegistrationBody {
        supply_point_id: Some("0300000000000000000001".into()),
        current_retailer_code: Some("Z0300".into()),
        customer_number: Some("0012-3456-78".into()),
        contract_name: Some("山田 太郎".into()),
        supply_address: Some("東京都千代田区丸の内1-1".into()),
        desired_switch_date: Some("2026-12-01".into()),
        point_class: Some("lv".into()),
    }
}

fn refusal(body: RegistrationBody) -> &'static str {
    Registration::validate(body, &me(), today())
        .unwrap_err()
        .code()
}

fn decision(decision: &str, reasons: &[&str], note: Option<&str>) -> Result<Decision, Refusal> {
    Decision::validate(DecisionBody {
        decision: Some(decision.into()),
        reasons: reasons.iter().map(|r| r.to_string()).collect(),
        note: note.map(Into::into),
    })
}

#[test]
fn a_registration_starts_awaiting_a_decision() {
    assert_eq!(
        transition(None, EventKind::Registered),
        Ok(State::AwaitingDecision)
    );
}

#[test]
fn an_intermediation_is_registered_only_once() {
    for s in State::ALL {
        assert_eq!(
            transition(Some(s), EventKind::Registered),
            Err(TransitionRefused::AlreadyRegistered)
        );
    }
}

#[test]
fn nothing_happens_to_an_intermediation_never_registered() {
    for k in ENDINGS {
        assert_eq!(transition(None, k), Err(TransitionRefused::NotRegistered));
    }
}

#[test]
fn approval_decline_expiry_and_withdrawal_each_end_a_pending_intermediation() {
    let ends: Vec<State> = ENDINGS
        .iter()
        .map(|k| transition(Some(State::AwaitingDecision), *k).unwrap())
        .collect();
    assert_eq!(
        ends,
        [
            State::Approved,
            State::Declined,
            State::Expired,
            State::Withdrawn
        ]
    );
}

#[test]
fn nothing_leaves_a_final_state() {
    for s in State::ALL.into_iter().filter(|s| s.is_final()) {
        for k in ENDINGS {
            assert_eq!(
                transition(Some(s), k),
                Err(TransitionRefused::AlreadyFinal(s.as_str())),
                "{k:?} from {s:?}"
            );
        }
    }
}

#[test]
fn only_the_current_retailer_decides_only_the_new_retailer_registers_and_withdraws_and_only_the_hub_expires()
 {
    assert_eq!(party_of(EventKind::Approved), Party::CurrentRetailer);
    assert_eq!(party_of(EventKind::Declined), Party::CurrentRetailer);
    assert_eq!(party_of(EventKind::Registered), Party::NewRetailer);
    assert_eq!(party_of(EventKind::Withdrawn), Party::NewRetailer);
    assert_eq!(party_of(EventKind::Expired), Party::Hub);
}

#[test]
fn every_state_has_a_japanese_label_and_reads_back_from_its_name() {
    for s in State::ALL {
        assert!(!s.label_ja().is_empty());
        assert_eq!(State::parse(s.as_str()), Some(s));
    }
    assert_eq!(State::AwaitingDecision.label_ja(), "判断待ち");
}

#[test]
fn every_decline_reason_is_in_the_table_once_with_its_japanese_wording() {
    let all = [
        DeclineReason::CustomerNumberMismatch,
        DeclineReason::NameMismatch,
        DeclineReason::AddressMismatch,
        DeclineReason::NoSuchContract,
        DeclineReason::ContractEnding,
        DeclineReason::CoolingOff,
        DeclineReason::Other,
    ];
    assert_eq!(REASONS.len(), all.len());
    for r in all {
        assert_eq!(DeclineReason::by_code(r.code()), Some(r));
        assert_eq!(REASONS.iter().filter(|s| s.reason == r).count(), 1);
    }
    assert_eq!(
        DeclineReason::NameMismatch.spec().label_ja,
        "契約名義不一致"
    );
    assert_eq!(
        DeclineReason::CoolingOff.spec().label_ja,
        "クーリングオフ期間中"
    );
}

#[test]
fn the_reason_table_matches_the_avro_enum() {
    let shape = crate::messages::shapes().known("IntermediationEvent");
    let field = shape
        .fields
        .iter()
        .find(|f| f.name == "decline_reasons")
        .unwrap();
    let crate::messages::Shape::Array(items) = &field.shape else {
        panic!("decline_reasons is a list")
    };
    let crate::messages::Shape::Enum(symbols) = items.as_ref() else {
        panic!("of enum symbols")
    };
    let ours: Vec<String> = REASONS
        .iter()
        .map(|r| {
            serde_json::to_value(r.reason)
                .unwrap()
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(&ours, symbols);
}

#[test]
fn a_valid_registration_is_accepted_for_each_point_class() {
    for class in ["lv", "hv", "gen"] {
        let mut body = registration();
        body.point_class = Some(class.into());
        let r = Registration::validate(body, &me(), today()).unwrap();
        assert_eq!(r.point_class.slug(), class);
    }
}

#[test]
fn a_registration_needs_every_field() {
    let mut body = registration();
    body.supply_address = None;
    assert_eq!(refusal(body), "missing_field");
}

#[test]
fn a_registration_to_oneself_is_refused() {
    let mut body = registration();
    body.current_retailer_code = Some("A0001".into());
    assert_eq!(refusal(body), "switch_to_self");
}

#[test]
fn a_registration_names_a_well_formed_current_retailer() {
    let mut body = registration();
    body.current_retailer_code = Some("z-1".into());
    assert_eq!(refusal(body), "invalid_company_code");
}

#[test]
fn a_registration_names_a_22_digit_point() {
    let mut body = registration();
    body.supply_point_id = Some("030000000000000000001".into());
    assert_eq!(refusal(body), "invalid_supply_point_id");
}

#[test]
fn the_desired_switch_date_is_not_in_the_past() {
    let mut body = registration();
    body.desired_switch_date = Some("2026-11-01".into());
    assert_eq!(refusal(body), "planned_date_in_past");
    let mut body = registration();
    body.desired_switch_date = Some("2026-12-1".into());
    assert_eq!(refusal(body), "invalid_field");
}

#[test]
fn the_point_class_is_lv_hv_or_gen() {
    let mut body = registration();
    body.point_class = Some("fit".into());
    assert_eq!(refusal(body), "unknown_class");
}

#[test]
fn names_and_addresses_are_not_blank_or_too_long() {
    let mut body = registration();
    body.contract_name = Some("  ".into());
    assert_eq!(refusal(body), "invalid_field");
    let mut body = registration();
    body.supply_address = Some("あ".repeat(201));
    assert_eq!(refusal(body), "invalid_field");
}

#[test]
fn an_approval_carries_no_reasons() {
    assert!(decision("approve", &[], None).is_ok());
    assert_eq!(
        decision("approve", &["name_mismatch"], None)
            .unwrap_err()
            .code(),
        "reasons_with_approval"
    );
}

#[test]
fn a_decline_needs_at_least_one_reason() {
    assert_eq!(
        decision("decline", &[], None).unwrap_err().code(),
        "decline_reason_required"
    );
    let d = decision("decline", &["name_mismatch", "address_mismatch"], None).unwrap();
    assert_eq!(d.kind, EventKind::Declined);
    assert_eq!(
        d.reasons,
        [DeclineReason::NameMismatch, DeclineReason::AddressMismatch]
    );
}

#[test]
fn a_decline_reason_comes_from_the_table() {
    assert_eq!(
        decision("decline", &["bad_weather"], None)
            .unwrap_err()
            .code(),
        "unknown_decline_reason"
    );
}

#[test]
fn a_decline_reason_is_given_once() {
    assert_eq!(
        decision("decline", &["cooling_off", "cooling_off"], None)
            .unwrap_err()
            .code(),
        "duplicate_decline_reason"
    );
}

#[test]
fn the_reason_other_needs_its_wording() {
    assert_eq!(
        decision("decline", &["other"], None).unwrap_err().code(),
        "note_required"
    );
    assert!(decision("decline", &["other"], Some("お電話ください")).is_ok());
}

#[test]
fn a_decision_is_approve_or_decline() {
    assert_eq!(
        decision("maybe", &[], None).unwrap_err().code(),
        "invalid_decision"
    );
}

#[test]
fn an_intermediation_expires_at_the_end_of_the_nth_business_day_after_registration() {
    // Friday 2026-11-06 10:00 JST; Monday 9th and Tuesday 10th are business days.
    let at = Utc.with_ymd_and_hms(2026, 11, 6, 1, 0, 0).unwrap();
    let end = expires_at(at, 2, None);
    // 24:00 JST on Tuesday the 10th = 15:00 UTC that day.
    assert_eq!(end, Utc.with_ymd_and_hms(2026, 11, 10, 15, 0, 0).unwrap());
}

#[test]
fn the_expiry_in_milliseconds_overrides_the_business_days() {
    let at = Utc.with_ymd_and_hms(2026, 11, 6, 1, 0, 0).unwrap();
    assert_eq!(
        expires_at(at, 2, Some(1500)),
        at + chrono::Duration::milliseconds(1500)
    );
}

#[test]
fn the_intermediation_number_names_the_area_and_day() {
    let id = Uuid::now_v7();
    let point = SupplyPointId::parse("0300000000000000000001").unwrap();
    let at = Utc.with_ymd_and_hms(2026, 11, 6, 16, 0, 0).unwrap(); // 7th in JST
    let n = intermediation_number(id, &point, at);
    assert!(n.starts_with("IS03-20261107-"), "{n}");
    assert_eq!(n.len(), "IS03-20261107-".len() + 12);
}
