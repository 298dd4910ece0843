//! Turns a submitted JSON body into a typed payload, refusing bad input with a specific error.
//! Pure: no I/O, so every rule is tested directly.

use chrono::{FixedOffset, NaiveDate, Utc};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::error::ApiError;
use crate::domain::{Area, CompanyCode, Function, SupplyPointId, SupplyPointIdError};
use crate::messages::{FacilityInquiry, Payload, SwitchStart};

/// Today in Japan, the calendar every date in an application refers to.
pub fn today_jst() -> NaiveDate {
    let jst = FixedOffset::east_opt(9 * 3600).expect("valid offset");
    Utc::now().with_timezone(&jst).date_naive()
}

/// Validates the body of `function` submitted by `company`.
pub fn submission(
    function: Function,
    company: &CompanyCode,
    body: Value,
    today: NaiveDate,
) -> Result<(SupplyPointId, Payload), ApiError> {
    let Value::Object(mut fields) = body else {
        return Err(ApiError::MalformedJson(
            "the body must be a JSON object".into(),
        ));
    };
    let point = supply_point(&mut fields)?;
    let payload = match function {
        Function::FacilityInquiry => Payload::FacilityInquiry(typed::<FacilityInquiry>(fields)?),
        Function::SwitchStart => {
            let p = typed::<SwitchStart>(fields)?;
            switch_start_rules(&p, company, point.area(), today)?;
            Payload::SwitchStart(p)
        }
    };
    Ok((point, payload))
}

fn supply_point(fields: &mut Map<String, Value>) -> Result<SupplyPointId, ApiError> {
    let raw = match fields.remove("supply_point_id") {
        Some(Value::String(s)) => s,
        Some(_) => {
            return Err(ApiError::invalid(
                "supply_point_id",
                "invalid_supply_point_id",
                "供給地点特定番号は22桁の数字(文字列)で指定してください",
                "supply_point_id must be a string of 22 digits",
            ));
        }
        None => {
            return Err(ApiError::invalid(
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
        ApiError::invalid(
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
                ApiError::invalid(
                    "area",
                    "unknown_area",
                    format!("エリアコード {a} は存在しません(01〜10)"),
                    format!("there is no area {a}: areas are 01 to 10"),
                )
            })?;
            if area != point.area() {
                return Err(ApiError::invalid(
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
            return Err(ApiError::invalid(
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
fn typed<T: DeserializeOwned>(fields: Map<String, Value>) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(Value::Object(fields)).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        if let Some(name) = between_backticks(&inner).filter(|_| inner.starts_with("missing field"))
        {
            ApiError::invalid(
                name,
                "missing_field",
                format!("必須項目 {name} がありません"),
                inner.clone(),
            )
        } else if let Some(name) =
            between_backticks(&inner).filter(|_| inner.starts_with("unknown field"))
        {
            ApiError::invalid(
                name,
                "unknown_field",
                format!("項目 {name} はこの機能では使用できません"),
                inner.clone(),
            )
        } else {
            ApiError::invalid(
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

fn switch_start_rules(
    p: &SwitchStart,
    company: &CompanyCode,
    area: Area,
    today: NaiveDate,
) -> Result<(), ApiError> {
    let previous = CompanyCode::parse(&p.previous_retailer_code).map_err(|e| {
        ApiError::invalid(
            "previous_retailer_code",
            "invalid_company_code",
            "現小売電気事業者コードの形式が正しくありません(英大文字・数字4〜5桁)",
            e.to_string(),
        )
    })?;
    if &previous == company {
        return Err(ApiError::invalid(
            "previous_retailer_code",
            "switch_to_self",
            "現小売電気事業者が申込事業者と同じです",
            "the current retailer is the applicant itself",
        ));
    }
    if p.planned_date < today {
        return Err(ApiError::invalid(
            "planned_date",
            "planned_date_in_past",
            format!("スイッチング予定日 {} は過去日です", p.planned_date),
            format!(
                "planned_date {} is in the past (today in Japan is {today})",
                p.planned_date
            ),
        ));
    }
    if !p.agreed_to_grid_terms {
        return Err(ApiError::invalid(
            "agreed_to_grid_terms",
            "grid_terms_not_agreed",
            "託送供給等約款への同意が必要です",
            "the customer must agree to the grid-use terms",
        ));
    }
    let name_len = p.customer_name.trim().chars().count();
    if name_len == 0 || name_len > 80 {
        return Err(ApiError::invalid(
            "customer_name",
            "invalid_field",
            "需要者名義は1〜80文字で指定してください",
            "customer_name must be 1 to 80 characters",
        ));
    }
    if let Some(a) = p.contract_ampere {
        if !area.has_ampere_breakers() {
            return Err(ApiError::invalid(
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
            return Err(ApiError::invalid(
                "contract_ampere",
                "invalid_contract_ampere",
                "契約電流は10, 15, 20, 30, 40, 50, 60Aのいずれかです",
                "contract_ampere is one of 10, 15, 20, 30, 40, 50, 60",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn code(r: Result<(SupplyPointId, Payload), ApiError>) -> &'static str {
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
            matches!(&err, ApiError::InvalidField { field, .. } if field == "planned_date"),
            "{err:?}"
        );
    }
}
