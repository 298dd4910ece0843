//! The rules of each function that the hub checks itself, on the typed payload, before
//! anything is sent; the grid operator checks the rest.

use chrono::NaiveDate;

use crate::domain::submission::{
    ampere, company_code, contract_method, filled, grid_terms, months, name, not_past, not_self,
};
use crate::domain::{Area, CompanyCode, Function, PointClass, Refusal};
use crate::messages::{AmpereChange, CustomerChange, Payload, PointSearch, Reconnection};

/// Where a submission is filed: who files it, in which area, on which day (in Japan).
pub(super) struct Context<'a> {
    pub function: Function,
    pub company: &'a CompanyCode,
    pub area: Area,
    pub today: NaiveDate,
}

impl Context<'_> {
    fn low_voltage(&self) -> bool {
        self.function.class() == PointClass::LowVoltage
    }
}

/// The rules of each payload, matched exhaustively: a new record without rules is a decision
/// written here, not an omission.
pub(super) fn rules(payload: &Payload, cx: &Context) -> Result<(), Refusal> {
    match payload {
        Payload::FacilityInquiry(_) => Ok(()),
        Payload::PointSearch(p) => point_search(p),
        Payload::UsagePassword(p) => name("customer_name", &p.customer_name),
        Payload::UsageInquiry(p) => {
            filled("usage_password", &p.usage_password)?;
            months(p.months)
        }
        Payload::HvUsageRequest(p) => {
            name("customer_name", &p.customer_name)?;
            filled("consent_reference", &p.consent_reference)
        }
        Payload::HvUsageInquiry(p) => {
            filled("application_number", &p.application_number)?;
            months(p.months)
        }
        Payload::SwitchStart(p) => {
            let previous = company_code("previous_retailer_code", &p.previous_retailer_code)?;
            not_self("previous_retailer_code", &previous, cx.company)?;
            not_past("planned_date", p.planned_date, cx.today)?;
            grid_terms(p.agreed_to_grid_terms)?;
            name("customer_name", &p.customer_name)?;
            ampere(p.contract_ampere, cx.area)?;
            contract_method(cx.low_voltage(), cx.area, p.contract_method.is_some())
        }
        Payload::Reconnection(p) => reconnection(p, cx),
        // Same-day 廃止 is allowed, a retroactive one is not.
        Payload::Abolition(p) => not_past("planned_date", p.planned_date, cx.today),
        Payload::SwitchEnd(p) => {
            let new = company_code("new_retailer_code", &p.new_retailer_code)?;
            not_self("new_retailer_code", &new, cx.company)?;
            not_past("planned_date", p.planned_date, cx.today)?;
            filled("customer_number", &p.customer_number)
        }
        Payload::CustomerChange(p) => customer_change(p),
        Payload::AmpereChange(p) => ampere_change(p, cx),
    }
}

/// 特定地点検索 needs something to search by; a one-character address would match too much.
fn point_search(p: &PointSearch) -> Result<(), Refusal> {
    fn given(s: &Option<String>) -> Option<&str> {
        s.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }
    let address = given(&p.address);
    if address.is_none()
        && given(&p.service_pole_number).is_none()
        && given(&p.meter_number).is_none()
    {
        return Err(Refusal::invalid(
            "address",
            "no_search_criterion",
            "住所・引込柱番号・計器番号のいずれかを指定してください",
            "give at least one of address, service_pole_number, meter_number",
        ));
    }
    if address.is_some_and(|a| a.chars().count() < 2) {
        return Err(Refusal::invalid(
            "address",
            "address_too_short",
            "住所は2文字以上で指定してください",
            "address must have at least 2 characters",
        ));
    }
    Ok(())
}

fn reconnection(p: &Reconnection, cx: &Context) -> Result<(), Refusal> {
    // A retroactive 再点 may be filed up to 31 days back.
    let earliest = cx.today - chrono::Days::new(31);
    if p.planned_date < earliest {
        return Err(Refusal::invalid(
            "planned_date",
            "planned_date_too_early",
            format!(
                "再点日 {} は31日より前です(遡及再点は31日以内)",
                p.planned_date
            ),
            format!("a retroactive reconnection goes back at most 31 days (to {earliest})"),
        ));
    }
    grid_terms(p.agreed_to_grid_terms)?;
    name("customer_name", &p.customer_name)?;
    ampere(p.contract_ampere, cx.area)?;
    contract_method(cx.low_voltage(), cx.area, p.contract_method.is_some())
}

fn customer_change(p: &CustomerChange) -> Result<(), Refusal> {
    if p.customer_name.is_none() && p.customer_phone.is_none() && p.mailing_address.is_none() {
        return Err(Refusal::invalid(
            "customer_name",
            "nothing_to_change",
            "変更する項目(customer_name, customer_phone, mailing_address)を1つ以上指定してください",
            "give at least one of customer_name, customer_phone, mailing_address",
        ));
    }
    if let Some(n) = &p.customer_name {
        name("customer_name", n)?;
    }
    Ok(())
}

/// アンペア変更 exists only where contracts are sized by an ampere breaker.
fn ampere_change(p: &AmpereChange, cx: &Context) -> Result<(), Refusal> {
    if !cx.area.has_ampere_breakers() {
        return Err(Refusal::invalid(
            "supply_point_id",
            "ampere_change_not_offered",
            format!(
                "{}エリアはアンペアブレーカー制ではないためアンペア変更はできません",
                cx.area.name_ja()
            ),
            format!(
                "area {} has no ampere-breaker contracts: ampere-change is not offered",
                cx.area.code()
            ),
        ));
    }
    not_past("planned_date", p.planned_date, cx.today)?;
    ampere(Some(p.contract_ampere), cx.area)
}
