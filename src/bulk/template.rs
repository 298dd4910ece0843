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

/// A sample file of `kind`: two rows dated two weeks after `today`.
pub fn sample(kind: BulkKind, today: NaiveDate) -> String {
    let date = (today + Duration::days(14)).format("%Y/%m/%d").to_string();
    let class_digit = match kind.function().class() {
        PointClass::LowVoltage => "0",
        PointClass::HighVoltage => "1",
        PointClass::Generation => "2",
    };
    let mut text = template(kind);
    for (n, name) in [(1, "山田 太郎"), (2, "株式会社髙橋商店")] {
        let point = format!("03{class_digit}000000000000000{:04}", 4750 + n);
        let cells: Vec<String> = kind
            .columns()
            .iter()
            .map(|c| sample_cell(c.field, &point, &date, name, n))
            .collect();
        text.push_str(&cells.join(","));
        text.push_str("\r\n");
    }
    text
}

fn sample_cell(field: &str, point: &str, date: &str, name: &str, n: usize) -> String {
    match field {
        "supply_point_id" => point.into(),
        "planned_date" | "effective_date" => date.into(),
        "previous_retailer_code" => "Z0300".into(),
        "new_retailer_code" => "B0002".into(),
        "previous_customer_number" | "customer_number" => format!("0012-3456-{n:02}"),
        "customer_name" => name.into(),
        "customer_phone" => "03-1234-5678".into(),
        "agreed_to_grid_terms" => "1".into(),
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
