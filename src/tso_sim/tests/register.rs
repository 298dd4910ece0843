//! Tests of the register, the refusal table and the calendar: determinism, which ids exist,
//! what the points hold, and how switch and reading dates fall.

use chrono::NaiveDate;

use super::*;
use crate::tso_sim::register::{MAX_POINTS, incumbent_code};
use crate::tso_sim::rules::{
    REFUSALS, Rule, next_reading_date, reading_day_on_or_after, rules_for, switch_date,
};

#[test]
fn the_register_is_the_same_for_the_same_seed() {
    let a = Register::generate(Area::Tokyo, SEED, POINTS);
    assert_eq!(a, Register::generate(Area::Tokyo, SEED, POINTS));
    assert_ne!(a, Register::generate(Area::Tokyo, SEED + 1, POINTS));
    assert_eq!(a.len(), POINTS as usize);
    assert_eq!(
        Register::generate(Area::Tokyo, SEED, MAX_POINTS + 5).len(),
        MAX_POINTS as usize
    );
}

#[test]
fn a_point_id_is_22_digits_of_its_area_low_voltage_and_index() {
    let id = point_id(Area::Kyushu, 42);
    assert_eq!(id, point_id(Area::Kyushu, 42));
    assert_eq!(id.as_str().len(), 22);
    assert!(id.as_str().starts_with("090") && id.as_str().ends_with("0042"));
    assert_eq!(id.area(), Area::Kyushu);
    assert_ne!(
        id.as_str()[3..18],
        point_id(Area::Kyushu, 43).as_str()[3..18]
    );
    assert_ne!(id.as_str()[2..], point_id(Area::Tokyo, 42).as_str()[2..]);
}

#[test]
fn only_ids_made_by_point_id_are_in_the_register() {
    let register = Register::generate(Area::Tokyo, SEED, POINTS);
    for index in [0, 1, POINTS - 1] {
        let id = point_id(Area::Tokyo, index);
        assert_eq!(register.get(&id).map(|p| &p.id), Some(&id));
    }
    assert!(register.get(&point_id(Area::Tokyo, POINTS)).is_none());
    let real = point_id(Area::Tokyo, 7);
    let forged = format!(
        "{}{}{}",
        &real.as_str()[..3],
        "123456789012345",
        &real.as_str()[18..]
    );
    assert!(
        register
            .get(&SupplyPointId::parse(&forged).expect("22 digits"))
            .is_none()
    );
    let other_area = point_id(Area::Chubu, 7);
    assert!(register.get(&other_area).is_none());
}

#[test]
fn register_points_are_plausible_for_their_area() {
    let tokyo = Register::generate(Area::Tokyo, SEED, 1000);
    let incumbent = incumbent_code(Area::Tokyo);
    let held = tokyo
        .iter()
        .filter(|p| p.current_retailer_code == incumbent)
        .count();
    let smart = tokyo.iter().filter(|p| p.smart_meter).count();
    assert!(
        (600..=800).contains(&held),
        "{held} of 1000 with the incumbent"
    );
    assert!(
        (780..=920).contains(&smart),
        "{smart} of 1000 with smart meters"
    );
    let prefectures = ["東京都", "神奈川県", "埼玉県", "千葉県"];
    for p in tokyo.iter().filter(|p| !p.is_vacant()) {
        let code = &p.current_retailer_code;
        assert!(code.len() == 5 && code.starts_with("Z030"), "{code}");
        assert!(CompanyCode::parse(code).is_ok());
        assert!((1..=28).contains(&p.meter_reading_day));
        assert_eq!(p.contract_kind, "従量電灯B");
        assert!(matches!(p.contract_ampere, Some(30 | 40 | 50 | 60)) && p.contract_kva.is_none());
        let address = &p.supply_address;
        assert!(
            prefectures.iter().any(|pre| address.starts_with(pre)),
            "{address}"
        );
        assert!(!p.customer_name.is_empty() && p.meter_number.len() == 10);
    }
}

#[test]
fn minimum_rate_areas_register_kva_rather_than_ampere() {
    let prefectures = ["大阪府", "京都府", "兵庫県", "奈良県"];
    for p in Register::generate(Area::Kansai, SEED, 300).iter() {
        assert!(p.contract_ampere.is_none() && p.contract_kva.is_some_and(|kva| kva >= 6.0));
        assert!(["従量電灯A", "従量電灯C"].contains(&p.contract_kind.as_str()));
        let address = &p.supply_address;
        assert!(
            prefectures.iter().any(|pre| address.starts_with(pre)),
            "{address}"
        );
    }
}

#[test]
fn every_refusal_rule_has_its_own_row_in_the_table() {
    for (index, row) in REFUSALS.iter().enumerate() {
        assert_eq!(row.rule as usize, index, "{row:?} out of place");
        assert_eq!(
            REFUSALS
                .iter()
                .filter(|other| other.code == row.code)
                .count(),
            1
        );
    }
    assert!(Function::ALL.iter().all(|f| !rules_for(*f).is_empty()));
    assert_eq!(Rule::PastDate.refusal().code, "E2103");
}

#[test]
fn the_switch_waits_two_days_and_lands_on_a_reading_day() {
    let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("a date");
    assert_eq!(switch_date(today(), today(), 26), date(2026, 12, 26));
    assert_eq!(switch_date(today(), today(), 27), date(2026, 11, 27));
    assert_eq!(
        switch_date(today(), date(2026, 12, 10), 5),
        date(2027, 1, 5)
    );
    assert_eq!(next_reading_date(today(), 25), date(2026, 12, 25));
    assert_eq!(next_reading_date(today(), 26), date(2026, 11, 26));
    assert_eq!(
        reading_day_on_or_after(date(2026, 12, 31), 1),
        date(2027, 1, 1)
    );
}
