//! The filters of 業務処理状況確認(複数件): checked one by one from the words a caller gave
//! (a query string, a web form), each refusal naming its field.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::view::RequestView;
use crate::db::cursor;
use crate::domain::{
    Area, CompanyCode, Function, PointClass, Refusal, RequestStatus, SupplyPointId,
};

/// The filters as given, all optional.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// lv (低圧), hv (高圧) or gen (FIT電源): only that class's functions.
    pub class: Option<String>,
    pub status: Option<String>,
    pub function: Option<String>,
    pub area: Option<String>,
    pub supply_point_id: Option<String>,
    /// 受付日 from (YYYY-MM-DD, a day in Japan): only requests accepted on or after it.
    pub accepted_from: Option<String>,
    /// 受付日 to (YYYY-MM-DD, a day in Japan): only requests accepted on or before it.
    pub accepted_to: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// One page of the list.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ListAnswer {
    pub items: Vec<RequestView>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The filters, checked: the store builds its WHERE clause from these only.
#[derive(Debug)]
pub struct ListFilters {
    pub company: CompanyCode,
    pub status: Option<RequestStatus>,
    pub class: Option<PointClass>,
    pub function: Option<Function>,
    pub area: Option<Area>,
    pub point: Option<SupplyPointId>,
    /// Accepted at or after this instant (the start of the `accepted_from` day in Japan).
    pub accepted_since: Option<DateTime<Utc>>,
    /// Accepted before this instant (the end of the `accepted_to` day in Japan).
    pub accepted_before: Option<DateTime<Utc>>,
    /// The cursor's (accepted_at, request_id): the page starts after it.
    pub after: Option<(DateTime<Utc>, Uuid)>,
    pub limit: i64,
}

impl ListFilters {
    /// The filters of `q` for `company`'s requests.
    pub fn parse(q: &ListQuery, company: &CompanyCode) -> Result<Self, Refusal> {
        Ok(ListFilters {
            company: company.clone(),
            limit: cursor::page_limit(q.limit)?,
            status: q.status.as_deref().map(status).transpose()?,
            class: q.class.as_deref().map(class).transpose()?,
            function: q.function.as_deref().map(function).transpose()?,
            area: q.area.as_deref().map(area).transpose()?,
            point: q.supply_point_id.as_deref().map(point).transpose()?,
            accepted_since: q
                .accepted_from
                .as_deref()
                .map(|d| day("accepted_from", d).map(start_of_day_jst))
                .transpose()?,
            accepted_before: q
                .accepted_to
                .as_deref()
                .map(|d| day("accepted_to", d).map(|d| start_of_day_jst(d + Duration::days(1))))
                .transpose()?,
            after: q.cursor.as_deref().map(cursor::after).transpose()?,
        })
    }
}

fn status(s: &str) -> Result<RequestStatus, Refusal> {
    s.parse().map_err(|_| {
        Refusal::invalid(
            "status",
            "invalid_status",
            format!("状態 {s} は存在しません"),
            "status is one of accepted, sent, completed, rejected, failed",
        )
    })
}

fn class(c: &str) -> Result<PointClass, Refusal> {
    PointClass::by_slug(c).ok_or_else(|| {
        Refusal::invalid(
            "class",
            "unknown_class",
            format!("区分 {c} は存在しません(lv, hv, gen)"),
            format!("there is no class {c}: lv, hv or gen"),
        )
    })
}

fn function(func: &str) -> Result<Function, Refusal> {
    func.parse().map_err(|_| {
        Refusal::invalid(
            "function",
            "unknown_function",
            format!("機能 {func} は存在しません"),
            format!("there is no function {func}"),
        )
    })
}

fn area(a: &str) -> Result<Area, Refusal> {
    a.parse().map_err(|_| {
        Refusal::invalid(
            "area",
            "unknown_area",
            format!("エリアコード {a} は存在しません(01〜10)"),
            format!("there is no area {a}"),
        )
    })
}

fn point(p: &str) -> Result<SupplyPointId, Refusal> {
    SupplyPointId::parse(p).map_err(|e| {
        Refusal::invalid(
            "supply_point_id",
            "invalid_supply_point_id",
            "供給地点特定番号の形式が正しくありません",
            e.to_string(),
        )
    })
}

/// A day given as `YYYY-MM-DD`, or the field's refusal.
fn day(field: &'static str, d: &str) -> Result<NaiveDate, Refusal> {
    crate::messages::strict_day(d).ok_or_else(|| {
        Refusal::invalid(
            field,
            "invalid_date",
            format!("日付 {d} は YYYY-MM-DD で指定してください"),
            format!("{field} must be a date YYYY-MM-DD"),
        )
    })
}

/// 00:00 of `day` in Japan: the hub's days are Japan's, whatever the server's zone.
fn start_of_day_jst(day: NaiveDate) -> DateTime<Utc> {
    let jst = FixedOffset::east_opt(9 * 3600).expect("valid offset");
    jst.from_local_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight exists"))
        .single()
        .expect("JST has no gaps")
        .with_timezone(&Utc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accepted_date_filters_are_whole_days_in_japan() {
        let q = ListQuery {
            accepted_from: Some("2026-11-01".into()),
            accepted_to: Some("2026-11-30".into()),
            ..ListQuery::default()
        };
        let f = ListFilters::parse(&q, &CompanyCode::parse("A0001").unwrap()).unwrap();
        assert_eq!(
            f.accepted_since.unwrap().to_rfc3339(),
            "2026-10-31T15:00:00+00:00"
        );
        assert_eq!(
            f.accepted_before.unwrap().to_rfc3339(),
            "2026-11-30T15:00:00+00:00"
        );
        let bad = ListQuery {
            accepted_to: Some("2026/11/30".into()),
            ..ListQuery::default()
        };
        let refused = ListFilters::parse(&bad, &CompanyCode::parse("A0001").unwrap());
        assert_eq!(refused.err().map(|r| r.code()), Some("invalid_date"));
    }
}
