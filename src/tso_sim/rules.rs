//! The simulated operator's business rules: which requests it refuses and with which code and
//! message (kept as one table), and the dates and results it answers otherwise.

use chrono::{Datelike, Days, Months, NaiveDate};

use super::register::SupplyPoint;
use crate::connector::protocol::TsoAnswer;
use crate::domain::{Area, Function};
use crate::messages::{
    FacilityInquiryResult, Payload, RequestRecord, SwitchStart, SwitchStartResult,
};

/// A reason the operator refuses a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    UnknownPoint,
    OtherArea,
    AlreadySupplying,
    RetailerMismatch,
    PastDate,
    NoGridTerms,
}

/// A rule's code and message as the operator answers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub rule: Rule,
    pub code: &'static str,
    pub message: &'static str,
}

/// Every refusal the simulator gives, one row per rule, in the order of [`Rule`].
pub const REFUSALS: [Refusal; 6] = [
    Refusal {
        rule: Rule::UnknownPoint,
        code: "E1001",
        message: "該当する供給地点特定番号が存在しません",
    },
    Refusal {
        rule: Rule::OtherArea,
        code: "E1002",
        message: "他エリアの供給地点特定番号です",
    },
    Refusal {
        rule: Rule::AlreadySupplying,
        code: "E2101",
        message: "既に申込事業者が供給中の供給地点です",
    },
    Refusal {
        rule: Rule::RetailerMismatch,
        code: "E2102",
        message: "現小売電気事業者コードが登録内容と一致しません",
    },
    Refusal {
        rule: Rule::PastDate,
        code: "E2103",
        message: "スイッチング予定日が過去日です",
    },
    Refusal {
        rule: Rule::NoGridTerms,
        code: "E2104",
        message: "託送供給等約款への同意がありません",
    },
];

/// The rules each function checks, in the order they are checked: the first broken one answers.
pub fn rules_for(function: Function) -> &'static [Rule] {
    match function {
        Function::FacilityInquiry => &[Rule::OtherArea, Rule::UnknownPoint],
        Function::SwitchStart => &[
            Rule::UnknownPoint,
            Rule::AlreadySupplying,
            Rule::RetailerMismatch,
            Rule::PastDate,
            Rule::NoGridTerms,
        ],
    }
}

/// The 受付工程 code of an application the operator has accepted.
pub const RECEPTION_STAGE_ACCEPTED: &str = "09";
/// Calendar days between the application and the earliest switch.
const SWITCH_LEAD_DAYS: u64 = 2;

impl Rule {
    pub fn refusal(self) -> Refusal {
        REFUSALS[self as usize]
    }

    pub fn answer(self) -> TsoAnswer {
        let refusal = self.refusal();
        TsoAnswer::Refused {
            code: refusal.code.into(),
            message: refusal.message.into(),
        }
    }

    fn is_broken_by(self, case: &Case<'_>) -> bool {
        let switch = match &case.request.payload {
            Payload::SwitchStart(s) => Some(s),
            Payload::FacilityInquiry(_) => None,
        };
        let point = case.point;
        let company = case.request.company_code.as_str();
        match self {
            Rule::UnknownPoint => point.is_none(),
            Rule::OtherArea => case.request.point_id.area() != case.area,
            Rule::AlreadySupplying => point.is_some_and(|p| p.current_retailer_code == company),
            Rule::RetailerMismatch => point
                .zip(switch)
                .is_some_and(|(p, s)| s.previous_retailer_code != p.current_retailer_code),
            Rule::PastDate => switch.is_some_and(|s| s.planned_date < case.today),
            Rule::NoGridTerms => switch.is_some_and(|s| !s.agreed_to_grid_terms),
        }
    }
}

/// One request as the operator sees it on `today`.
pub struct Case<'a> {
    pub area: Area,
    pub today: NaiveDate,
    pub request: &'a RequestRecord,
    /// The request's point in the register, if it is there.
    pub point: Option<&'a SupplyPoint>,
}

impl Case<'_> {
    /// The first rule of the request's function that the request breaks.
    pub fn broken_rule(&self) -> Option<Rule> {
        rules_for(self.request.function)
            .iter()
            .copied()
            .find(|rule| rule.is_broken_by(self))
    }
}

/// The day `day` of the month on or after `from` (`day` is 1..=28, present in every month).
pub fn reading_day_on_or_after(from: NaiveDate, day: u32) -> NaiveDate {
    match from.with_day(day) {
        Some(date) if date >= from => date,
        _ => from
            .with_day(1)
            .and_then(|first| first.checked_add_months(Months::new(1)))
            .and_then(|next| next.with_day(day))
            .unwrap_or(from),
    }
}

/// 次回定例検針日: the next reading day strictly after today.
pub fn next_reading_date(today: NaiveDate, day: u32) -> NaiveDate {
    reading_day_on_or_after(today.succ_opt().unwrap_or(today), day)
}

/// The switch happens on the first reading day on or after the later of the planned date and
/// the earliest date the operator can make (today plus the lead time).
pub fn switch_date(today: NaiveDate, planned: NaiveDate, day: u32) -> NaiveDate {
    let earliest = today
        .checked_add_days(Days::new(SWITCH_LEAD_DAYS))
        .unwrap_or(today);
    reading_day_on_or_after(planned.max(earliest), day)
}

/// 設備情報照会's answer, straight from the register.
pub fn facility_result(point: &SupplyPoint, today: NaiveDate) -> FacilityInquiryResult {
    FacilityInquiryResult {
        supply_address: point.supply_address.clone(),
        contract_kind: point.contract_kind.clone(),
        contract_ampere: point.contract_ampere,
        contract_kva: point.contract_kva,
        smart_meter: point.smart_meter,
        meter_number: point.meter_number.clone(),
        next_meter_reading_date: next_reading_date(today, point.meter_reading_day),
        current_retailer_code: point.current_retailer_code.clone(),
    }
}

/// スイッチング開始申請's acceptance; `sequence` is the operator's running number for `today`.
pub fn switch_result(
    area: Area,
    today: NaiveDate,
    sequence: u64,
    point: &SupplyPoint,
    request: &SwitchStart,
) -> SwitchStartResult {
    SwitchStartResult {
        application_number: format!("{}-{}{sequence:05}", area.code(), today.format("%Y%m%d")),
        switch_date: switch_date(today, request.planned_date, point.meter_reading_day),
        reception_stage: RECEPTION_STAGE_ACCEPTED.into(),
    }
}
