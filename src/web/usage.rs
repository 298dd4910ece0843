//! A usage answer (使用量情報照会の回答) as a clerk reads it: the monthly totals as a table and
//! as a bar chart of the 13 months, drawn on the server as inline SVG, so the page needs no
//! script and no chart library and reads the same with the SVG's text alternative.

use serde_json::Value;

/// The most months a usage answer holds (and the chart draws).
pub const MONTHS: usize = 13;

/// One month of the table.
pub struct MonthRow {
    pub month: String,
    pub kwh: String,
}

/// The monthly totals of a usage answer: its table, and its chart as SVG markup.
pub struct UsageChart {
    pub rows: Vec<MonthRow>,
    pub svg: String,
}

/// The chart of `result` when it is a usage answer (it has `monthly`); the last
/// [`MONTHS`] months, oldest first.
pub fn chart_of(result: &Value) -> Option<UsageChart> {
    let monthly = result.get("monthly")?.as_array()?;
    let months: Vec<(String, f64)> = monthly
        .iter()
        .filter_map(|m| {
            Some((
                m.get("month")?.as_str()?.to_string(),
                m.get("kwh")?.as_f64()?,
            ))
        })
        .collect();
    let months = &months[months.len().saturating_sub(MONTHS)..];
    Some(UsageChart {
        rows: months
            .iter()
            .map(|(month, kwh)| MonthRow {
                month: month.clone(),
                kwh: format!("{kwh:.1}"),
            })
            .collect(),
        svg: svg(months),
    })
}

const WIDTH: f64 = 680.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 56.0;
const BOTTOM: f64 = 28.0;
const TOP: f64 = 12.0;

/// Text for SVG: the month labels come from the operator's answer.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A bar per month, scaled to the largest, with the largest value on the axis.
fn svg(months: &[(String, f64)]) -> String {
    let max = months
        .iter()
        .map(|(_, k)| *k)
        .fold(0.0_f64, f64::max)
        .max(1.0);
    let plot_h = HEIGHT - TOP - BOTTOM;
    let slot = (WIDTH - LEFT) / MONTHS as f64;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"usage-chart\" class=\"chart\" \
         viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-labelledby=\"usage-chart-title\">\
         <title id=\"usage-chart-title\">月別使用量 (kWh) {} か月</title>\
         <line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{y0}\" class=\"axis\"/>\
         <line x1=\"{LEFT}\" y1=\"{y0}\" x2=\"{WIDTH}\" y2=\"{y0}\" class=\"axis\"/>\
         <text x=\"{tx}\" y=\"{ty}\" text-anchor=\"end\" class=\"tick\">{max:.0}</text>\
         <text x=\"{tx}\" y=\"{y0}\" text-anchor=\"end\" class=\"tick\">0</text>",
        months.len(),
        y0 = HEIGHT - BOTTOM,
        tx = LEFT - 4.0,
        ty = TOP + 10.0,
    );
    for (i, (month, kwh)) in months.iter().enumerate() {
        let h = (kwh.max(0.0) / max) * plot_h;
        let x = LEFT + slot * i as f64 + slot * 0.15;
        let y = HEIGHT - BOTTOM - h;
        let month = escape(month);
        out.push_str(&format!(
            "<rect class=\"bar\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\">\
             <title>{month}: {kwh:.1} kWh</title></rect>\
             <text class=\"tick\" x=\"{cx:.1}\" y=\"{ly:.1}\" text-anchor=\"middle\">{label}</text>",
            w = slot * 0.7,
            cx = x + slot * 0.35,
            ly = HEIGHT - BOTTOM + 16.0,
            label = month.get(2..).unwrap_or(&month),
        ));
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(n: usize) -> Value {
        let monthly: Vec<Value> = (0..n)
            .map(|i| {
                serde_json::json!({
                    "month": format!("{}-{:02}", 2025 + (i + 10) / 12, (i + 10) % 12 + 1),
                    "kwh": 100.0 + i as f64 * 10.0
                })
            })
            .collect();
        serde_json::json!({"smart_meter": false, "monthly": monthly, "half_hourly": []})
    }

    #[test]
    fn a_usage_answer_is_a_table_and_a_bar_per_month_of_the_last_13() {
        let chart = chart_of(&answer(14)).expect("a usage answer");
        assert_eq!(chart.rows.len(), MONTHS);
        assert_eq!(
            chart.rows[0].kwh, "110.0",
            "the oldest month beyond 13 is left out"
        );
        assert_eq!(chart.svg.matches("<rect class=\"bar\"").count(), MONTHS);
        // The largest month's bar fills the plot's height.
        let plot = HEIGHT - TOP - BOTTOM;
        assert!(
            chart.svg.contains(&format!("height=\"{plot:.1}\"")),
            "{}",
            chart.svg
        );
    }

    #[test]
    fn another_answer_has_no_chart_and_a_label_cannot_break_out_of_the_svg() {
        assert!(chart_of(&serde_json::json!({"facility": "x"})).is_none());
        let evil = serde_json::json!({"monthly": [{"month": "<script>", "kwh": 1.0}]});
        let chart = chart_of(&evil).unwrap();
        assert!(!chart.svg.contains("<script>"), "{}", chart.svg);
    }
}
