//! The point a submission is about: a 供給地点特定番号 (with an optional area that must agree),
//! or, for 特定地点検索, an area alone, keyed by the area's root id.

use serde_json::{Map, Value};

use crate::domain::{Area, Refusal, SupplyPointId, SupplyPointIdError};

/// 特定地点検索 names an area, not a point: its key is the area's root id.
pub(super) fn search_area(fields: &mut Map<String, Value>) -> Result<SupplyPointId, Refusal> {
    if fields.contains_key("supply_point_id") {
        return Err(Refusal::invalid(
            "supply_point_id",
            "unknown_field",
            "特定地点検索では供給地点特定番号ではなくエリア(area)を指定します",
            "point-search takes an area, not a supply_point_id",
        ));
    }
    match fields.remove("area") {
        Some(Value::String(a)) => area(&a).map(SupplyPointId::area_root),
        _ => Err(Refusal::invalid(
            "area",
            "missing_field",
            "必須項目 area (エリアコード \"01\"〜\"10\") がありません",
            "the required field area (\"01\" to \"10\") is missing",
        )),
    }
}

/// `supply_point_id`, and `area` when given.
pub(super) fn supply_point(fields: &mut Map<String, Value>) -> Result<SupplyPointId, Refusal> {
    let point = point_id(fields.remove("supply_point_id"))?;
    match fields.remove("area") {
        None | Some(Value::Null) => Ok(point),
        Some(Value::String(a)) => {
            let area = area(&a)?;
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
            Ok(point)
        }
        Some(_) => Err(Refusal::invalid(
            "area",
            "unknown_area",
            "エリアコードは \"01\"〜\"10\" の文字列で指定してください",
            "area must be a string \"01\" to \"10\"",
        )),
    }
}

fn point_id(raw: Option<Value>) -> Result<SupplyPointId, Refusal> {
    let raw = match raw {
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
    SupplyPointId::parse(&raw).map_err(|e| {
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
    })
}

fn area(a: &str) -> Result<Area, Refusal> {
    a.parse().map_err(|_| {
        Refusal::invalid(
            "area",
            "unknown_area",
            format!("エリアコード {a} は存在しません(01〜10)"),
            format!("there is no area {a}: areas are 01 to 10"),
        )
    })
}
