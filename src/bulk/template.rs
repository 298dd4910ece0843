//! The published files of each bulk function: a template (the header line alone) and a sample
//! (the header and two rows a user can edit), as CSV text with CRLF line ends.

use chrono::{Duration, NaiveDate};

use super::kind::BulkKind;
use crate::domain::PointClass;

/// The header line of `kind`'s files.
pub fn template(kind: BulkKind) -> String {
    let headers: Vec<&str> = kind.columns().iter().map(|c| c.header).collect();
    format!("{}\r\n", headers.join(","))
}

/// A sample file of `kind` for `company`: two rows dated two weeks after `today` (user ids in
/// the company's own part of the namespace).
pub fn sample(kind: BulkKind, today: NaiveDate, company: &crate::domain::CompanyCode) -> String {
    let prefix = company.as_str().to_ascii_lowercase();
    let date = (today + Duration::days(14)).format("%Y/%m/%d").to_string();
    let class_digit = match kind.class() {
        PointClass::LowVoltage => "0",
        PointClass::HighVoltage => "1",
        PointClass::Generation => "2",
    };
    let mut text = template(kind);
    // A usage application of one corporate customer names it on every row.
    let first = if kind.one_customer() {
        "株式会社髙橋商店"
    } else {
        "山田 太郎"
    };
    for (n, name) in [(1, first), (2, "株式会社髙橋商店")] {
        let point = format!("03{class_digit}000000000000000{:04}", 4750 + n);
        let cells: Vec<String> = kind
            .columns()
            .iter()
            .map(|c| sample_cell(c.field, &point, &date, name, n, &prefix))
            .collect();
        text.push_str(&cells.join(","));
        text.push_str("\r\n");
    }
    text
}

fn sample_cell(field: &str, point: &str, date: &str, name: &str, n: usize, prefix: &str) -> String {
    match field {
        "supply_point_id" => point.into(),
        "planned_date" | "effective_date" | "desired_switch_date" => date.into(),
        "previous_retailer_code" | "current_retailer_code" => "Z0300".into(),
        "id" => format!("0193a5c0-0000-7000-8000-00000000000{n}"),
        "decision" if n == 1 => "承諾".into(),
        "decision" => "否認".into(),
        "reasons" if n == 2 => "契約名義不一致".into(),
        "contract_name" => name.into(),
        "supply_address" => "東京都千代田区丸の内1-1-1".into(),
        "new_retailer_code" => "B0002".into(),
        "previous_customer_number" | "customer_number" => format!("0012-3456-{n:02}"),
        "customer_name" => name.into(),
        "customer_phone" => "03-1234-5678".into(),
        "agreed_to_grid_terms" => "1".into(),
        "user_id" => format!("{prefix}.user{n}"),
        "name" if n == 1 => "切替 太郎".into(),
        "name" => "髙橋 花子".into(),
        "mail" => format!("user{n}@example.jp"),
        "administrator" => "0".into(),
        "voltage_class" => "HV_BELOW_500KW".into(),
        "consent_reference" => format!("同意書-2026-{n:04}"),
        "mailing_address" => "東京都千代田区丸の内1-1-1".into(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_is_its_functions_header_line() {
        for kind in BulkKind::ALL {
            let t = template(kind);
            assert!(t.starts_with(kind.point_column().header), "{kind}");
            assert_eq!(t.lines().count(), 1);
        }
        assert!(
            template(BulkKind::parse("switch-end").unwrap()).starts_with(
                "供給地点特定番号,スイッチング予定日,新小売事業者コード,お客さま番号,廃止取次番号"
            )
        );
    }
}
