//! The bulk functions (一括申請) and their files' columns: each files every row as one single
//! application of a catalogue function, so a row meets exactly the rules, refusal codes and
//! messages of that function. The Japanese column names are the ones the template publishes.

use std::fmt;

use crate::domain::{Function, PointClass};
use crate::messages::shape::{FieldShape, Shape, shapes};

/// One column of a bulk file: its header as users write it, and the field of the single
/// application it fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub header: &'static str,
    pub field: &'static str,
}

const fn col(header: &'static str, field: &'static str) -> Column {
    Column { header, field }
}

/// スイッチング開始申請's columns after the point.
const SWITCH_START: &[Column] = &[
    col("スイッチング予定日", "planned_date"),
    col("現小売事業者コード", "previous_retailer_code"),
    col("現小売お客さま番号", "previous_customer_number"),
    col("需要者名義", "customer_name"),
    col("需要者連絡先電話番号", "customer_phone"),
    col("契約電流", "contract_ampere"),
    col("廃止取次番号", "intermediation_number"),
    col("託送供給等約款への同意", "agreed_to_grid_terms"),
    col("契約決定方法", "contract_method"),
    col("契約電力", "contract_kw"),
];

/// スイッチング廃止申請's columns after the point.
const SWITCH_END: &[Column] = &[
    col("スイッチング予定日", "planned_date"),
    col("新小売事業者コード", "new_retailer_code"),
    col("お客さま番号", "customer_number"),
    col("廃止取次番号", "intermediation_number"),
];

/// 需要者情報変更's columns after the point.
const CUSTOMER_CHANGE: &[Column] = &[
    col("変更日", "effective_date"),
    col("需要者名義", "customer_name"),
    col("連絡先電話番号", "customer_phone"),
    col("郵送先住所", "mailing_address"),
];

/// A bulk function: the single function its rows are filed as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkKind(Function);

impl BulkKind {
    /// Every bulk function of the catalogue (§5) delivered so far, in the catalogue's order.
    pub const ALL: [BulkKind; 8] = [
        BulkKind(Function::SwitchStart),
        BulkKind(Function::HvSwitchStart),
        BulkKind(Function::GenSwitchStart),
        BulkKind(Function::SwitchEnd),
        BulkKind(Function::HvSwitchEnd),
        BulkKind(Function::GenSwitchEnd),
        BulkKind(Function::CustomerChange),
        BulkKind(Function::HvCustomerChange),
    ];

    /// The bulk function of this slug (the single function's slug, e.g. `switch-start`).
    pub fn parse(slug: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.0.slug() == slug)
    }

    pub fn function(self) -> Function {
        self.0
    }

    pub fn slug(self) -> &'static str {
        self.0.slug()
    }

    /// The name users know: 開始一括申請 for スイッチング開始申請, and so on.
    pub fn name_ja(self) -> String {
        let base = match self.0 {
            Function::SwitchStart | Function::HvSwitchStart | Function::GenSwitchStart => {
                "スイッチング開始一括申請"
            }
            Function::SwitchEnd | Function::HvSwitchEnd | Function::GenSwitchEnd => {
                "スイッチング廃止一括申請"
            }
            _ => "需要者情報変更一括申請",
        };
        match self.0.class() {
            PointClass::LowVoltage => base.to_string(),
            class => format!("{base}({})", class.name_ja()),
        }
    }

    /// The point's column: 受電地点特定番号 for generation points, else 供給地点特定番号.
    pub fn point_column(self) -> Column {
        match self.0.class() {
            PointClass::Generation => col("受電地点特定番号", "supply_point_id"),
            _ => col("供給地点特定番号", "supply_point_id"),
        }
    }

    /// Every column, the point's first, in the template's order.
    pub fn columns(self) -> Vec<Column> {
        let own = match self.0.spec().payload_record {
            "SwitchStart" => SWITCH_START,
            "SwitchEnd" => SWITCH_END,
            _ => CUSTOMER_CHANGE,
        };
        std::iter::once(self.point_column())
            .chain(own.iter().copied())
            .collect()
    }

    /// The shape of a column's field (the point is text).
    pub fn shape_of(self, field: &str) -> Shape {
        shapes()
            .known(self.0.spec().payload_record)
            .fields
            .iter()
            .find(|f| f.name == field)
            .map(|f: &FieldShape| f.shape.clone())
            .unwrap_or(Shape::Str)
    }

    /// The header of the column that fills `field`, for naming a refused field in a row.
    pub fn header_of(self, field: &str) -> Option<&'static str> {
        self.columns()
            .into_iter()
            .find(|c| c.field == field)
            .map(|c| c.header)
    }

    /// What a column means, from the schema's documentation of its field.
    pub fn meaning_of(self, field: &str) -> String {
        if field == "supply_point_id" {
            return "22桁の地点特定番号 (22-digit point id; its first two digits are the area)"
                .into();
        }
        shapes()
            .known(self.0.spec().payload_record)
            .fields
            .iter()
            .find(|f| f.name == field)
            .map(|f| f.doc.clone())
            .unwrap_or_default()
    }
}

impl fmt::Display for BulkKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.slug())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_of_each_bulk_function_has_exactly_one_column() {
        for kind in BulkKind::ALL {
            let record = shapes().known(kind.function().spec().payload_record);
            let mut fields: Vec<&str> = kind.columns().iter().map(|c| c.field).collect();
            assert_eq!(fields.remove(0), "supply_point_id");
            let mut declared: Vec<&str> = record.fields.iter().map(|f| f.name.as_str()).collect();
            fields.sort();
            declared.sort();
            assert_eq!(fields, declared, "{kind}");
            let mut headers: Vec<&str> = kind.columns().iter().map(|c| c.header).collect();
            headers.sort();
            headers.dedup();
            assert_eq!(
                headers.len(),
                kind.columns().len(),
                "{kind}: headers repeat"
            );
        }
    }

    #[test]
    fn a_bulk_function_is_named_by_its_single_functions_slug() {
        assert_eq!(
            BulkKind::parse("hv-switch-end").map(BulkKind::function),
            Some(Function::HvSwitchEnd)
        );
        assert_eq!(BulkKind::parse("facility-inquiry"), None);
        assert_eq!(
            BulkKind::parse("gen-switch-start")
                .unwrap()
                .point_column()
                .header,
            "受電地点特定番号"
        );
    }
}
