//! Turns a submitted JSON body into a typed, checked submission, refusing bad input with a
//! specific error. Pure: no I/O, so every rule is tested directly.

use chrono::NaiveDate;
use serde_json::{Map, Value};

use super::rules::{Context, rules};
use crate::domain::UpdateFlag;
use crate::domain::submission::{envelope, typed};
use crate::domain::{CompanyCode, Function, PayloadRecord, Refusal, RequestId, SupplyPointId};
use crate::messages::Payload;

/// A submission that passed every rule the hub checks before anything is sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    pub point: SupplyPointId,
    pub payload: Payload,
    pub update_flag: UpdateFlag,
    /// The application a correction or withdrawal amends.
    pub original_request_id: Option<RequestId>,
}

/// Validates the body of `function` submitted by `company`: the point, the update flag, the
/// function's fields, then the function's rules.
pub fn submission(
    function: Function,
    company: &CompanyCode,
    body: Value,
    today: NaiveDate,
) -> Result<Submission, Refusal> {
    let (envelope, fields) = envelope(function, body)?;
    let payload = payload_of(function.spec().payload, fields)?;
    let cx = Context {
        function,
        company,
        area: envelope.point.area(),
        today,
    };
    rules(&payload, &cx)?;
    Ok(Submission {
        point: envelope.point,
        payload,
        update_flag: envelope.update_flag,
        original_request_id: envelope.original_request_id,
    })
}

/// The function's typed payload from the remaining fields. Exhaustive over the records, so a
/// record without its arm does not compile.
fn payload_of(record: PayloadRecord, fields: Map<String, Value>) -> Result<Payload, Refusal> {
    use PayloadRecord as R;
    Ok(match record {
        R::FacilityInquiry => Payload::FacilityInquiry(typed(fields)?),
        R::UsagePassword => Payload::UsagePassword(typed(fields)?),
        R::UsageInquiry => Payload::UsageInquiry(typed(fields)?),
        R::Reconnection => Payload::Reconnection(typed(fields)?),
        R::Abolition => Payload::Abolition(typed(fields)?),
        R::SwitchStart => Payload::SwitchStart(typed(fields)?),
        R::SwitchEnd => Payload::SwitchEnd(typed(fields)?),
        R::CustomerChange => Payload::CustomerChange(typed(fields)?),
        R::AmpereChange => Payload::AmpereChange(typed(fields)?),
        R::HvUsageRequest => Payload::HvUsageRequest(typed(fields)?),
        R::HvUsageInquiry => Payload::HvUsageInquiry(typed(fields)?),
        R::PointSearch => Payload::PointSearch(typed(fields)?),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn code(r: Result<Submission, Refusal>) -> &'static str {
        r.err().map(|e| e.code()).unwrap_or("ok")
    }

    fn me() -> CompanyCode {
        CompanyCode::parse("A0001").unwrap()
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
    }

    fn switch_body() -> Value {
        json!({"supply_point_id": "0300000000000000000001", "planned_date": "2026-12-10",
               "previous_retailer_code": "Z0300", "previous_customer_number": "C-1",
               "customer_name": "山田 太郎", "agreed_to_grid_terms": true})
    }

    fn check(f: Function, body: Value) -> &'static str {
        code(submission(f, &me(), body, today()))
    }

    #[test]
    fn a_facility_inquiry_needs_only_the_point() {
        assert_eq!(
            check(
                Function::FacilityInquiry,
                json!({"supply_point_id": "0300000000000000000001"})
            ),
            "ok"
        );
        assert_eq!(check(Function::FacilityInquiry, json!({})), "missing_field");
        assert_eq!(
            check(
                Function::FacilityInquiry,
                json!({"supply_point_id": "0300000000000000000001", "x": 1})
            ),
            "unknown_field"
        );
    }

    #[test]
    fn a_21_digit_supply_point_id_is_refused() {
        assert_eq!(
            check(
                Function::FacilityInquiry,
                json!({"supply_point_id": "030000000000000000001"})
            ),
            "invalid_supply_point_id"
        );
        assert_eq!(
            check(Function::FacilityInquiry, json!({"supply_point_id": 3})),
            "invalid_supply_point_id"
        );
    }

    #[test]
    fn an_unknown_area_is_refused() {
        let body = json!({"supply_point_id": "0300000000000000000001", "area": "11"});
        assert_eq!(check(Function::FacilityInquiry, body), "unknown_area");
        assert_eq!(
            check(
                Function::FacilityInquiry,
                json!({"supply_point_id": "1200000000000000000001"})
            ),
            "invalid_supply_point_id"
        );
    }

    #[test]
    fn an_area_that_disagrees_with_the_point_is_refused() {
        let body = json!({"supply_point_id": "0300000000000000000001", "area": "06"});
        assert_eq!(check(Function::FacilityInquiry, body), "area_mismatch");
    }

    #[test]
    fn a_valid_switch_start_is_accepted() {
        assert_eq!(check(Function::SwitchStart, switch_body()), "ok");
    }

    #[test]
    fn a_switch_start_in_the_past_is_refused() {
        let mut b = switch_body();
        b["planned_date"] = json!("2026-11-24");
        assert_eq!(check(Function::SwitchStart, b), "planned_date_in_past");
    }

    #[test]
    fn a_switch_start_to_oneself_is_refused() {
        let mut b = switch_body();
        b["previous_retailer_code"] = json!("A0001");
        assert_eq!(check(Function::SwitchStart, b), "switch_to_self");
    }

    #[test]
    fn a_switch_start_without_grid_terms_agreement_is_refused() {
        let mut b = switch_body();
        b["agreed_to_grid_terms"] = json!(false);
        assert_eq!(check(Function::SwitchStart, b), "grid_terms_not_agreed");
    }

    #[test]
    fn contract_ampere_is_refused_outside_ampere_breaker_areas() {
        let mut b = switch_body();
        b["supply_point_id"] = json!("0600000000000000000001");
        b["contract_ampere"] = json!(30);
        assert_eq!(check(Function::SwitchStart, b), "ampere_not_applicable");
    }

    #[test]
    fn a_field_of_the_wrong_type_is_named() {
        let mut b = switch_body();
        b["planned_date"] = json!("next tuesday");
        let err = submission(Function::SwitchStart, &me(), b, today()).unwrap_err();
        assert!(
            matches!(&err, Refusal::InvalidField { field, .. } if field == "planned_date"),
            "{err:?}"
        );
    }

    #[test]
    fn every_function_types_its_payload_as_its_record() {
        for &f in Function::ALL {
            let sample = crate::messages::fixtures::payload(f, true);
            let Value::Object(fields) = sample.to_json() else {
                panic!("{f}: a payload is an object")
            };
            assert_eq!(payload_of(f.spec().payload, fields).unwrap(), sample, "{f}");
        }
    }
}
