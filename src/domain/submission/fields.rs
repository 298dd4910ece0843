//! The checks a function's fields are held to, each refusing with the field it names: typing
//! the fields, company codes, dates, names, amperes and 九州's contract method.

use chrono::NaiveDate;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::domain::{Area, CompanyCode, Refusal};

/// Deserialises the remaining fields, naming the field at fault in the error.
pub fn typed<T: DeserializeOwned>(fields: Map<String, Value>) -> Result<T, Refusal> {
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

/// The other party of a switch, named by its 事業者コード.
pub fn company_code(field: &str, raw: &str) -> Result<CompanyCode, Refusal> {
    CompanyCode::parse(raw).map_err(|e| {
        Refusal::invalid(
            field,
            "invalid_company_code",
            "事業者コードの形式が正しくありません(英大文字・数字4〜5桁)",
            e.to_string(),
        )
    })
}

/// A switch is between two retailers: the applicant cannot be the other one.
pub fn not_self(field: &str, other: &CompanyCode, company: &CompanyCode) -> Result<(), Refusal> {
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

/// Planned dates are days in Japan from today on; the operator cannot act in the past.
pub fn not_past(field: &str, date: NaiveDate, today: NaiveDate) -> Result<(), Refusal> {
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

/// A supply contract needs the customer's consent to the grid operator's terms (託送供給等約款).
pub fn grid_terms(agreed: bool) -> Result<(), Refusal> {
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

/// A reference or password the operator matches as given: 1 to 64 characters.
pub fn filled(field: &str, value: &str) -> Result<(), Refusal> {
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

/// A customer's name (名義), as the operators' forms hold it: 1 to 80 characters.
pub fn name(field: &str, value: &str) -> Result<(), Refusal> {
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

/// 使用量 is kept for 13 months, so an inquiry looks back 1 to 13.
pub fn months(months: Option<i32>) -> Result<(), Refusal> {
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

/// Only ampere-breaker areas have a contract current, one of the breaker sizes.
pub fn ampere(ampere: Option<i32>, area: Area) -> Result<(), Refusal> {
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
pub fn contract_method(low_voltage: bool, area: Area, given: bool) -> Result<(), Refusal> {
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
