//! Turns a submitted JSON body into a typed payload, refusing bad input with a specific error.
//! Pure: no I/O, so every rule is tested directly.

use chrono::{FixedOffset, NaiveDate, Utc};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::domain::Refusal;
use crate::domain::{
    Area, CompanyCode, Function, PointClass, RequestId, SupplyPointId, SupplyPointIdError,
    UpdateFlag,
};
use crate::messages::Payload;

/// Today in Japan, the calendar every date in an application refers to.
pub fn today_jst() -> NaiveDate {
    let jst = FixedOffset::east_opt(9 * 3600).expect("valid offset");
    Utc::now().with_timezone(&jst).date_naive()
}

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
    let Value::Object(mut fields) = body else {
        return Err(Refusal::MalformedJson(
            "the body must be a JSON object".into(),
        ));
    };
    let point = if function == Function::PointSearch {
        search_area(&mut fields)?
    } else {
        supply_point(&mut fields)?
    };
    let (update_flag, original_request_id) = amendment(function, &mut fields)?;
    let payload = payload_of(function.spec().payload_record, fields)?;
    rules(function, &payload, company, point.area(), today)?;
    Ok(Submission {
        point,
        payload,
        update_flag,
        original_request_id,
    })
}

/// `update_flag` (register, correct, withdraw; register when absent) and, for the last two,
/// `original_request_id`.
fn amendment(
    function: Function,
    fields: &mut Map<String, Value>,
) -> Result<(UpdateFlag, Option<RequestId>), Refusal> {
    let flag = match fields.remove("update_flag") {
        None | Some(Value::Null) => UpdateFlag::Register,
        Some(v) => serde_json::from_value::<UpdateFlag>(v).map_err(|_| {
            Refusal::invalid(
                "update_flag",
                "invalid_update_flag",
                "更新フラグは register(登録), correct(訂正), withdraw(取消) のいずれかです",
                "update_flag is one of register, correct, withdraw",
            )
        })?,
    };
    let original = match fields.remove("original_request_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.parse::<RequestId>().map_err(|_| {
            Refusal::invalid(
                "original_request_id",
                "invalid_original_request_id",
                "元の受付番号(original_request_id)の形式が正しくありません",
                "original_request_id must be a request id (UUID)",
            )
        })?),
        Some(_) => {
            return Err(Refusal::invalid(
                "original_request_id",
                "invalid_original_request_id",
                "元の受付番号(original_request_id)は文字列で指定してください",
                "original_request_id must be a string",
            ));
        }
    };
    match (flag, original) {
        (UpdateFlag::Register, None) => Ok((flag, None)),
        (UpdateFlag::Register, Some(_)) => Err(Refusal::invalid(
            "original_request_id",
            "original_without_amendment",
            "新規登録には元の受付番号を指定できません",
            "a registration has no original_request_id; use update_flag correct or withdraw",
        )),
        (_, _) if !function.is_application() => Err(Refusal::invalid(
            "update_flag",
            "not_amendable",
            format!(
                "「{}」は申込ではないため訂正・取消できません",
                function.name_ja()
            ),
            format!(
                "{function} is a look-up, not an application: it cannot be corrected or withdrawn"
            ),
        )),
        (_, None) => Err(Refusal::invalid(
            "original_request_id",
            "missing_field",
            "訂正・取消には元の受付番号(original_request_id)が必要です",
            "a correction or withdrawal needs original_request_id",
        )),
        (_, Some(id)) => Ok((flag, Some(id))),
    }
}

/// The function's typed payload from the remaining fields.
fn payload_of(record: &str, fields: Map<String, Value>) -> Result<Payload, Refusal> {
    Ok(match record {
        "FacilityInquiry" => Payload::FacilityInquiry(typed(fields)?),
        "UsagePassword" => Payload::UsagePassword(typed(fields)?),
        "UsageInquiry" => Payload::UsageInquiry(typed(fields)?),
        "Reconnection" => Payload::Reconnection(typed(fields)?),
        "Abolition" => Payload::Abolition(typed(fields)?),
        "SwitchStart" => Payload::SwitchStart(typed(fields)?),
        "SwitchEnd" => Payload::SwitchEnd(typed(fields)?),
        "CustomerChange" => Payload::CustomerChange(typed(fields)?),
        "AmpereChange" => Payload::AmpereChange(typed(fields)?),
        "HvUsageRequest" => Payload::HvUsageRequest(typed(fields)?),
        "HvUsageInquiry" => Payload::HvUsageInquiry(typed(fields)?),
        "PointSearch" => Payload::PointSearch(typed(fields)?),
        other => {
            return Err(Refusal::Internal(anyhow::anyhow!(
                "no payload record {other}"
            )));
        }
    })
}

/// 特定地点検索 names an area, not a point: its key is the area's root id.
fn search_area(fields: &mut Map<String, Value>) -> Result<SupplyPointId, Refusal> {
    if fields.contains_key("supply_point_id") {
        return Err(Refusal::invalid(
            "supply_point_id",
            "unknown_field",
            "特定地点検索では供給地点特定番号ではなくエリア(area)を指定します",
            "point-search takes an area, not a supply_point_id",
        ));
    }
    match fields.remove("area") {
        Some(Value::String(a)) => a
            .parse::<Area>()
            .map(SupplyPointId::area_root)
            .map_err(|_| {
                Refusal::invalid(
                    "area",
                    "unknown_area",
                    format!("エリアコード {a} は存在しません(01〜10)"),
                    format!("there is no area {a}: areas are 01 to 10"),
                )
            }),
        _ => Err(Refusal::invalid(
            "area",
            "missing_field",
            "必須項目 area (エリアコード \"01\"〜\"10\") がありません",
            "the required field area (\"01\" to \"10\") is missing",
        )),
    }
}

fn supply_point(fields: &mut Map<String, Value>) -> Result<SupplyPointId, Refusal> {
    let raw = match fields.remove("supply_point_id") {
        Some(Value::String(s)) => s,
        Some(_) => {
            return Err(Refusal::invalid(
                "supply_point_id",
                "invalid_supply_point_id",
                "供給地点特定番号は22桁の数字(文字列)で指定してください",
                "supply_point_id must be a string of 22 digits",
            ));
        }
        None => {
            return Err(Refusal::invalid(
                "supply_point_id",
                "missing_field",
                "必須項目 supply_point_id (供給地点特定番号) がありません",
                "the required field supply_point_id is missing",
            ));
        }
    };
    let point = SupplyPointId::parse(&raw).map_err(|e| {
        let ja = match &e {
            SupplyPointIdError::Length(n) => {
                format!("供給地点特定番号は22桁です({n}桁が指定されました)")
            }
            SupplyPointIdError::NotDigits => {
                "供給地点特定番号は半角数字のみで指定してください".into()
            }
            SupplyPointIdError::UnknownArea(a) => {
                format!("供給地点特定番号の先頭2桁 {a} は有効なエリアコード(01〜10)ではありません")
            }
        };
        Refusal::invalid(
            "supply_point_id",
            "invalid_supply_point_id",
            ja,
            e.to_string(),
        )
    })?;
    match fields.remove("area") {
        None | Some(Value::Null) => {}
        Some(Value::String(a)) => {
            let area: Area = a.parse().map_err(|_| {
                Refusal::invalid(
                    "area",
                    "unknown_area",
                    format!("エリアコード {a} は存在しません(01〜10)"),
                    format!("there is no area {a}: areas are 01 to 10"),
                )
            })?;
            if area != point.area() {
                return Err(Refusal::invalid(
                    "area",
                    "area_mismatch",
                    format!(
                        "エリア {} と供給地点特定番号のエリア {} が一致しません",
                        area.code(),
                        point.area().code()
                    ),
                    format!(
                        "area {} disagrees with the supply point's area {}",
                        area.code(),
                        point.area().code()
                    ),
                ));
            }
        }
        Some(_) => {
            return Err(Refusal::invalid(
                "area",
                "unknown_area",
                "エリアコードは \"01\"〜\"10\" の文字列で指定してください",
                "area must be a string \"01\" to \"10\"",
            ));
        }
    }
    Ok(point)
}

/// Deserialises the remaining fields, naming the field at fault in the error.
fn typed<T: DeserializeOwned>(fields: Map<String, Value>) -> Result<T, Refusal> {
    serde_path_to_error::deserialize(Value::Object(fields)).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        if let Some(name) = between_backticks(&inner).filter(|_| inner.starts_with("missing field"))
        {
            Refusal::invalid(
                name,
                "missing_field",
                format!("必須項目 {name} がありません"),
                inner.clone(),
            )
        } else if let Some(name) =
            between_backticks(&inner).filter(|_| inner.starts_with("unknown field"))
        {
            Refusal::invalid(
                name,
                "unknown_field",
                format!("項目 {name} はこの機能では使用できません"),
                inner.clone(),
            )
        } else {
            Refusal::invalid(
                &path,
                "invalid_field",
                format!("項目 {path} の形式が正しくありません"),
                format!("{path}: {inner}"),
            )
        }
    })
}

fn between_backticks(s: &str) -> Option<&str> {
    let start = s.find('`')? + 1;
    let end = start + s[start..].find('`')?;
    Some(&s[start..end])
}

/// The rules of each function that the hub checks itself, before anything is sent.
fn rules(
    function: Function,
    payload: &Payload,
    company: &CompanyCode,
    area: Area,
    today: NaiveDate,
) -> Result<(), Refusal> {
    let low_voltage = function.class() == PointClass::LowVoltage;
    match payload {
        Payload::FacilityInquiry(_) => Ok(()),
        Payload::PointSearch(p) => {
            let address = p
                .address
                .as_deref()
                .map(str::trim)
                .filter(|a| !a.is_empty());
            let pole = p
                .service_pole_number
                .as_deref()
                .filter(|s| !s.trim().is_empty());
            let meter = p.meter_number.as_deref().filter(|s| !s.trim().is_empty());
            if address.is_none() && pole.is_none() && meter.is_none() {
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
            not_self("previous_retailer_code", &previous, company)?;
            not_past("planned_date", p.planned_date, today)?;
            grid_terms(p.agreed_to_grid_terms)?;
            name("customer_name", &p.customer_name)?;
            ampere(p.contract_ampere, area)?;
            contract_method(low_voltage, area, p.contract_method.is_some())
        }
        Payload::Reconnection(p) => {
            // A retroactive 再点 may be filed up to 31 days back.
            let earliest = today - chrono::Days::new(31);
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
            ampere(p.contract_ampere, area)?;
            contract_method(low_voltage, area, p.contract_method.is_some())
        }
        // Same-day 廃止 is allowed, a retroactive one is not.
        Payload::Abolition(p) => not_past("planned_date", p.planned_date, today),
        Payload::SwitchEnd(p) => {
            let new = company_code("new_retailer_code", &p.new_retailer_code)?;
            not_self("new_retailer_code", &new, company)?;
            not_past("planned_date", p.planned_date, today)?;
            filled("customer_number", &p.customer_number)
        }
        Payload::CustomerChange(p) => {
            if p.customer_name.is_none()
                && p.customer_phone.is_none()
                && p.mailing_address.is_none()
            {
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
        Payload::AmpereChange(p) => {
            if !area.has_ampere_breakers() {
                return Err(Refusal::invalid(
                    "supply_point_id",
                    "ampere_change_not_offered",
                    format!(
                        "{}エリアはアンペアブレーカー制ではないためアンペア変更はできません",
                        area.name_ja()
                    ),
                    format!(
                        "area {} has no ampere-breaker contracts: ampere-change is not offered",
                        area.code()
                    ),
                ));
            }
            not_past("planned_date", p.planned_date, today)?;
            ampere(Some(p.contract_ampere), area)
        }
    }
}

fn company_code(field: &str, raw: &str) -> Result<CompanyCode, Refusal> {
    CompanyCode::parse(raw).map_err(|e| {
        Refusal::invalid(
            field,
            "invalid_company_code",
            "事業者コードの形式が正しくありません(英大文字・数字4〜5桁)",
            e.to_string(),
        )
    })
}

fn not_self(field: &str, other: &CompanyCode, company: &CompanyCode) -> Result<(), Refusal> {
    if other == company {
        return Err(Refusal::invalid(
            field,
            "switch_to_self",
            "相手の小売電気事業者が申込事業者と同じです",
            "the other retailer is the applicant itself",
        ));
    }
    Ok(())
}

fn not_past(field: &str, date: NaiveDate, today: NaiveDate) -> Result<(), Refusal> {
    if date < today {
        return Err(Refusal::invalid(
            field,
            "planned_date_in_past",
            format!("予定日 {date} は過去日です"),
            format!("{field} {date} is in the past (today in Japan is {today})"),
        ));
    }
    Ok(())
}

fn grid_terms(agreed: bool) -> Result<(), Refusal> {
    if !agreed {
        return Err(Refusal::invalid(
            "agreed_to_grid_terms",
            "grid_terms_not_agreed",
            "託送供給等約款への同意が必要です",
            "the customer must agree to the grid-use terms",
        ));
    }
    Ok(())
}

fn filled(field: &str, value: &str) -> Result<(), Refusal> {
    if value.trim().is_empty() || value.chars().count() > 64 {
        return Err(Refusal::invalid(
            field,
            "invalid_field",
            format!("項目 {field} は1〜64文字で指定してください"),
            format!("{field} must be 1 to 64 characters"),
        ));
    }
    Ok(())
}

fn name(field: &str, value: &str) -> Result<(), Refusal> {
    let len = value.trim().chars().count();
    if len == 0 || len > 80 {
        return Err(Refusal::invalid(
            field,
            "invalid_field",
            "名義は1〜80文字で指定してください",
            format!("{field} must be 1 to 80 characters"),
        ));
    }
    Ok(())
}

fn months(months: Option<i32>) -> Result<(), Refusal> {
    match months {
        Some(m) if !(1..=13).contains(&m) => Err(Refusal::invalid(
            "months",
            "invalid_months",
            "照会月数は1〜13で指定してください",
            "months is 1 to 13",
        )),
        _ => Ok(()),
    }
}

fn ampere(ampere: Option<i32>, area: Area) -> Result<(), Refusal> {
    let Some(a) = ampere else { return Ok(()) };
    if !area.has_ampere_breakers() {
        return Err(Refusal::invalid(
            "contract_ampere",
            "ampere_not_applicable",
            format!(
                "{}エリアはアンペアブレーカー制ではないため契約電流は指定できません",
                area.name_ja()
            ),
            format!("area {} has no ampere-breaker contracts", area.code()),
        ));
    }
    if ![10, 15, 20, 30, 40, 50, 60].contains(&a) {
        return Err(Refusal::invalid(
            "contract_ampere",
            "invalid_contract_ampere",
            "契約電流は10, 15, 20, 30, 40, 50, 60Aのいずれかです",
            "contract_ampere is one of 10, 15, 20, 30, 40, 50, 60",
        ));
    }
    Ok(())
}

/// 九州 sets a low-voltage contract's size by a declared method, so its switch-starts and
/// reconnections must say which; other areas ignore the field.
fn contract_method(low_voltage: bool, area: Area, given: bool) -> Result<(), Refusal> {
    if low_voltage && area == Area::Kyushu && !given {
        return Err(Refusal::invalid(
            "contract_method",
            "contract_method_required",
            "九州エリアでは契約決定方法(contract_method)の指定が必要です",
            "area 09 (Kyushu) requires contract_method: AMPERE_BREAKER, MAIN_SWITCH, MEASURED or CONNECTED_LOAD",
        ));
    }
    Ok(())
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
}
