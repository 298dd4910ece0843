//! The simulated operator's business rules: which requests it refuses and with which code and
//! message (kept as one table), and the dates and results it answers otherwise.

use chrono::{Datelike, Days, Months, NaiveDate};

use super::register::SupplyPoint;
use super::usage::{self, Books};
use crate::domain::{Area, Function, Operation, PointClass};
use crate::messages::{
    FacilityInquiryResult, Payload, RequestRecord, SwitchStart, SwitchStartResult,
};
use crate::wire::TsoAnswer;

/// A reason the operator refuses a request (or ends an application it held).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    UnknownPoint,
    OtherArea,
    AlreadySupplying,
    RetailerMismatch,
    PastDate,
    NoGridTerms,
    ClassMismatch,
    FitPoint,
    Supplied,
    NoContractMethod,
    NotCurrentRetailer,
    NothingToChange,
    NoAmpereBreakers,
    AmpereNotOffered,
    ReconnectionTooFarBack,
    AbolitionInPast,
    SameNewRetailer,
    Unmatched,
    NameMismatch,
    BadPassword,
    UnknownUsageRequest,
    MonthsOutOfRange,
    NoOriginal,
    OriginalFinished,
    Withdrawn,
}

/// A rule's code and message as the operator answers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub rule: Rule,
    pub code: &'static str,
    pub message: &'static str,
}

const fn row(rule: Rule, code: &'static str, message: &'static str) -> Refusal {
    Refusal {
        rule,
        code,
        message,
    }
}

/// Every refusal the simulator gives, one row per rule, in the order of [`Rule`].
pub const REFUSALS: [Refusal; 25] = [
    row(
        Rule::UnknownPoint,
        "E1001",
        "該当する供給地点特定番号が存在しません",
    ),
    row(Rule::OtherArea, "E1002", "他エリアの供給地点特定番号です"),
    row(
        Rule::AlreadySupplying,
        "E2101",
        "既に申込事業者が供給中の供給地点です",
    ),
    row(
        Rule::RetailerMismatch,
        "E2102",
        "現小売電気事業者コードが登録内容と一致しません",
    ),
    row(Rule::PastDate, "E2103", "スイッチング予定日が過去日です"),
    row(
        Rule::NoGridTerms,
        "E2104",
        "託送供給等約款への同意がありません",
    ),
    row(
        Rule::ClassMismatch,
        "E1003",
        "電圧区分・電源区分が申込機能と一致しません",
    ),
    row(
        Rule::FitPoint,
        "E4001",
        "FIT買取期間中の電源は対象外です(FIT卒業電源のみ)",
    ),
    row(Rule::Supplied, "E2105", "供給中の地点です"),
    row(
        Rule::NoContractMethod,
        "E2106",
        "契約決定方法が指定されていません",
    ),
    row(
        Rule::NotCurrentRetailer,
        "E2107",
        "申込事業者が供給している地点ではありません",
    ),
    row(Rule::NothingToChange, "E2108", "変更する項目がありません"),
    row(
        Rule::NoAmpereBreakers,
        "E2109",
        "アンペア制ではないエリアのためアンペア変更はできません",
    ),
    row(
        Rule::AmpereNotOffered,
        "E2110",
        "契約電流は10・15・20・30・40・50・60Aのいずれかです",
    ),
    row(
        Rule::ReconnectionTooFarBack,
        "E2111",
        "再点日は31日より前にできません",
    ),
    row(Rule::AbolitionInPast, "E2112", "過去日の廃止はできません"),
    row(
        Rule::SameNewRetailer,
        "E2113",
        "新小売電気事業者コードが申込事業者と同じです",
    ),
    row(
        Rule::Unmatched,
        "E2201",
        "照合期限までに対となる申込がありません",
    ),
    row(
        Rule::NameMismatch,
        "E3001",
        "需要者名義が登録内容と一致しません",
    ),
    row(
        Rule::BadPassword,
        "E3002",
        "パスワードが正しくないか有効期限が切れています",
    ),
    row(
        Rule::UnknownUsageRequest,
        "E3003",
        "該当する使用量情報照会申請がありません",
    ),
    row(
        Rule::MonthsOutOfRange,
        "E3004",
        "照会月数は1から13の範囲で指定してください",
    ),
    row(
        Rule::NoOriginal,
        "E5001",
        "訂正・取消の対象となる申込がありません",
    ),
    row(
        Rule::OriginalFinished,
        "E5002",
        "完了済みの申込は訂正・取消できません",
    ),
    row(Rule::Withdrawn, "W0001", "申込者により取消されました"),
];

/// The contract currents an アンペア変更 may ask for.
pub const AMPERES_OFFERED: [i32; 7] = [10, 15, 20, 30, 40, 50, 60];
/// How far back a 再点 may be dated.
pub const RECONNECTION_DAYS_BACK: u64 = 31;

/// The rules each function checks, in the order they are checked: the first broken one answers.
/// Every function first checks the point (area, existence, class, FIT period); the rules of
/// the ledger (matching, corrections, withdrawals) are not listed: they are not about one
/// request alone.
pub fn rules_for(function: Function) -> &'static [Rule] {
    use Rule as R;
    match function.operation() {
        Operation::FacilityInquiry => &[R::OtherArea, R::UnknownPoint, R::ClassMismatch],
        // Answered by `Simulator::search` before any point rule: it names an area only.
        Operation::PointSearch => &[R::OtherArea],
        Operation::UsagePassword => &[
            R::OtherArea,
            R::UnknownPoint,
            R::ClassMismatch,
            R::NameMismatch,
        ],
        Operation::UsageInquiry => &[
            R::OtherArea,
            R::UnknownPoint,
            R::ClassMismatch,
            R::MonthsOutOfRange,
            R::BadPassword,
            R::UnknownUsageRequest,
        ],
        Operation::UsageRequest => &[R::OtherArea, R::UnknownPoint, R::ClassMismatch],
        Operation::Reconnection => &[
            R::OtherArea,
            R::UnknownPoint,
            R::ClassMismatch,
            R::FitPoint,
            R::Supplied,
            R::ReconnectionTooFarBack,
            R::NoGridTerms,
            R::NoContractMethod,
        ],
        Operation::Abolition => &[
            R::OtherArea,
            R::UnknownPoint,
            R::ClassMismatch,
            R::NotCurrentRetailer,
            R::AbolitionInPast,
        ],
        Operation::SwitchStart => &[
            R::OtherArea,
            R::UnknownPoint,
            R::ClassMismatch,
            R::FitPoint,
            R::AlreadySupplying,
            R::RetailerMismatch,
            R::PastDate,
            R::NoGridTerms,
            R::NoContractMethod,
        ],
        Operation::SwitchEnd => &[
            R::OtherArea,
            R::UnknownPoint,
            R::ClassMismatch,
            R::FitPoint,
            R::NotCurrentRetailer,
            R::SameNewRetailer,
            R::PastDate,
        ],
        Operation::InformationChange => &[
            R::OtherArea,
            R::UnknownPoint,
            R::ClassMismatch,
            R::NotCurrentRetailer,
            R::NothingToChange,
        ],
        Operation::AmpereChange => &[
            R::OtherArea,
            R::UnknownPoint,
            R::ClassMismatch,
            R::NoAmpereBreakers,
            R::NotCurrentRetailer,
            R::AmpereNotOffered,
        ],
    }
}

/// The 受付工程 code of an application the operator has accepted.
pub const RECEPTION_STAGE_ACCEPTED: &str = "09";
/// The 受付工程 code of a switch waiting for its counterpart (照合待ち).
pub const RECEPTION_STAGE_MATCHING: &str = "05";
/// Calendar days between the application and the earliest switch, in [`switch_date`].
const SWITCH_LEAD_DAYS: u64 = 2;

impl Rule {
    pub fn refusal(self) -> Refusal {
        REFUSALS[self as usize]
    }

    /// The rule with this code, for tests that name codes.
    pub fn by_code(code: &str) -> Option<Rule> {
        REFUSALS.iter().find(|r| r.code == code).map(|r| r.rule)
    }

    pub fn answer(self) -> TsoAnswer {
        let refusal = self.refusal();
        TsoAnswer::Refused {
            code: refusal.code.into(),
            message: refusal.message.into(),
        }
    }

    fn is_broken_by(self, case: &Case<'_>) -> bool {
        let request = case.request;
        let payload = &request.payload;
        let point = case.point;
        let company = request.company_code.as_str();
        let current = |p: &SupplyPoint| p.current_retailer_code == company;
        match self {
            Rule::UnknownPoint => point.is_none(),
            Rule::OtherArea => request.point_id.area() != case.area,
            Rule::ClassMismatch => point.is_some_and(|p| p.class != request.function.class()),
            Rule::FitPoint => request.function.post_fit_only() && point.is_some_and(|p| p.is_fit()),
            Rule::AlreadySupplying => point.is_some_and(current),
            Rule::RetailerMismatch => match (point, payload) {
                (Some(p), Payload::SwitchStart(s)) => {
                    p.is_vacant() || s.previous_retailer_code != p.current_retailer_code
                }
                _ => false,
            },
            Rule::PastDate => match payload {
                Payload::SwitchStart(s) => s.planned_date < case.today,
                Payload::SwitchEnd(s) => s.planned_date < case.today,
                _ => false,
            },
            Rule::NoGridTerms => match payload {
                Payload::SwitchStart(s) => !s.agreed_to_grid_terms,
                Payload::Reconnection(r) => !r.agreed_to_grid_terms,
                _ => false,
            },
            Rule::Supplied => point.is_some_and(|p| !p.is_vacant()),
            Rule::NoContractMethod => {
                let method = match payload {
                    Payload::SwitchStart(s) => s.contract_method,
                    Payload::Reconnection(r) => r.contract_method,
                    _ => return false,
                };
                case.area == Area::Kyushu
                    && request.function.class() == PointClass::LowVoltage
                    && method.is_none()
            }
            Rule::NotCurrentRetailer => point.is_some_and(|p| !current(p)),
            Rule::NothingToChange => match payload {
                Payload::CustomerChange(c) => {
                    c.customer_name.is_none()
                        && c.customer_phone.is_none()
                        && c.mailing_address.is_none()
                }
                _ => false,
            },
            Rule::NoAmpereBreakers => !case.area.has_ampere_breakers(),
            Rule::AmpereNotOffered => match payload {
                Payload::AmpereChange(a) => !AMPERES_OFFERED.contains(&a.contract_ampere),
                _ => false,
            },
            Rule::ReconnectionTooFarBack => match payload {
                Payload::Reconnection(r) => case
                    .today
                    .checked_sub_days(Days::new(RECONNECTION_DAYS_BACK))
                    .is_some_and(|earliest| r.planned_date < earliest),
                _ => false,
            },
            Rule::AbolitionInPast => match payload {
                Payload::Abolition(a) => a.planned_date < case.today,
                _ => false,
            },
            Rule::SameNewRetailer => match payload {
                Payload::SwitchEnd(e) => e.new_retailer_code == company,
                _ => false,
            },
            Rule::NameMismatch => match (point, payload) {
                (Some(p), Payload::UsagePassword(u)) => u.customer_name != p.customer_name,
                _ => false,
            },
            Rule::MonthsOutOfRange => match payload {
                Payload::UsageInquiry(u) => !usage::months_allowed(u.months),
                Payload::HvUsageInquiry(u) => !usage::months_allowed(u.months),
                _ => false,
            },
            Rule::BadPassword => match payload {
                Payload::UsageInquiry(u) => {
                    !case
                        .books
                        .password_is_valid(&request.point_id, &u.usage_password, case.today)
                }
                _ => false,
            },
            Rule::UnknownUsageRequest => match payload {
                Payload::HvUsageInquiry(u) => !case
                    .books
                    .hv_request_is_for(&u.application_number, &request.point_id),
                _ => false,
            },
            Rule::Unmatched | Rule::NoOriginal | Rule::OriginalFinished | Rule::Withdrawn => false,
        }
    }
}

/// One request as the operator sees it on `today`.
pub struct Case<'a> {
    pub area: Area,
    pub today: NaiveDate,
    pub request: &'a RequestRecord,
    /// The request's point as the operator holds it now, if it is there.
    pub point: Option<&'a SupplyPoint>,
    /// The passwords and usage requests issued so far.
    pub books: &'a Books,
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
        current_retailer_code: (!point.is_vacant()).then(|| point.current_retailer_code.clone()),
        generation_kw: point.generation_kw,
        fit_scheme: point.fit_scheme,
    }
}

/// The operator's 申込番号: area, the day it was given, and the running number `sequence`.
pub fn application_number(area: Area, today: NaiveDate, sequence: u64) -> String {
    format!("{}-{}{sequence:05}", area.code(), today.format("%Y%m%d"))
}

/// The answer to one half of a matched switch.
pub fn switch_result(application_number: String, switch_date: NaiveDate) -> SwitchStartResult {
    SwitchStartResult {
        application_number,
        switch_date,
        reception_stage: RECEPTION_STAGE_ACCEPTED.into(),
    }
}

/// The planned date of a switch application (start or end).
pub fn planned_date(payload: &Payload) -> Option<NaiveDate> {
    match payload {
        Payload::SwitchStart(SwitchStart { planned_date, .. }) => Some(*planned_date),
        Payload::SwitchEnd(end) => Some(end.planned_date),
        _ => None,
    }
}
