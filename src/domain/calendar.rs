//! The market's business-day calendar: which days the grid operators work, and the dates a
//! switch (スイッチング) can happen on.
//!
//! Every deadline in switching support is counted in the operators' business days, and a
//! switch takes effect on a supply point's regular meter-reading day (検針日), so both the
//! hub and the simulated operators need one shared answer to "which day is it due?".
//! Pure: no clock, no I/O; callers pass the dates in.

use chrono::{Datelike, Days, FixedOffset, NaiveDate, Utc, Weekday};
use jpholiday::jpholiday::JPHoliday;

thread_local! {
    /// The holiday rules, built once per thread: construction allocates a rule registry,
    /// and the calendar asks about thousands of days when walking long ranges.
    static HOLIDAYS: JPHoliday<'static> = JPHoliday::new();
}

/// The business-day calendar of the Japanese electricity market.
///
/// A business day is a weekday that is neither a national holiday (祝日, including
/// substitute holidays 振替休日 and 国民の休日) nor in the year-end break (12-29 .. 01-03),
/// when the utilities close their offices even though only 01-01 is a national holiday.
/// The holiday rules come from the `jpholiday` crate; it carries no state, so this is a
/// unit struct that is free to copy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BusinessCalendar;

impl BusinessCalendar {
    /// Whether the operators work on `date`.
    pub fn is_business_day(&self, date: NaiveDate) -> bool {
        !matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
            && !is_year_end_break(date)
            && !HOLIDAYS.with(|h| h.is_holiday(&date))
    }

    /// The `n`-th business day strictly after `from`; `from` itself when `n` is 0
    /// (so that a lead time of zero business days adds nothing, whatever day `from` is).
    pub fn add_business_days(&self, from: NaiveDate, n: u32) -> NaiveDate {
        let mut date = from;
        let mut left = n;
        while left > 0 {
            date = next_day(date);
            if self.is_business_day(date) {
                left -= 1;
            }
        }
        date
    }

    /// The number of business days in `(a, b]`: `a` is not counted, `b` is.
    ///
    /// That makes it the inverse of [`add_business_days`](Self::add_business_days):
    /// `business_days_between(a, add_business_days(a, n)) == n`. When `b` is before `a`
    /// the result is the negated count of `(b, a]`.
    pub fn business_days_between(&self, a: NaiveDate, b: NaiveDate) -> i64 {
        if b < a {
            return -self.business_days_between(b, a);
        }
        a.iter_days()
            .skip(1)
            .take_while(|d| *d <= b)
            .filter(|d| self.is_business_day(*d))
            .count() as i64
    }

    /// The last business day strictly before `date`.
    pub fn previous_business_day(&self, date: NaiveDate) -> NaiveDate {
        let mut d = previous_day(date);
        while !self.is_business_day(d) {
            d = previous_day(d);
        }
        d
    }

    /// The date of the regular meter reading on or after `after`, for a supply point read
    /// on day `reading_day` of each month.
    ///
    /// The nominal reading date is the first date on or after `after` whose day of month is
    /// `reading_day`. If that date is not a business day, the reading is taken on the next
    /// business day instead. That is this module's assumption, not a published rule: moving
    /// forward, never back, keeps a billing period from being cut short. `after` is compared
    /// with the nominal date, not
    /// the moved one: a December 28 reading moved to January 4 does not count as a reading
    /// "on or after January 2".
    ///
    /// # Panics
    ///
    /// If `reading_day` is not in `1..=28`, the days every month has.
    pub fn next_reading_day(&self, after: NaiveDate, reading_day: u8) -> NaiveDate {
        assert!(
            (1..=28).contains(&reading_day),
            "meter-reading day {reading_day} is not in 1..=28"
        );
        let day = u32::from(reading_day);
        let nominal = if after.day() <= day {
            after.with_day(day)
        } else {
            first_of_next_month(after).and_then(|d| d.with_day(day))
        }
        .expect("days 1..=28 exist in every month");
        self.business_day_on_or_after(nominal)
    }

    /// The date a switch filed on `filed_on` takes effect.
    ///
    /// The earliest allowed date is `lead.business_days` business days after filing, plus
    /// `lead.calendar_days` calendar days. A customer may ask for a later date (`desired`),
    /// never an earlier one. A switch happens only at a regular meter reading, because
    /// that is when consumption is settled between the old and the new retailer; so the
    /// result is the first reading day (see [`next_reading_day`](Self::next_reading_day))
    /// on or after the later of the two.
    pub fn switch_date(
        &self,
        filed_on: NaiveDate,
        lead: LeadTime,
        reading_day: u8,
        desired: Option<NaiveDate>,
    ) -> NaiveDate {
        let earliest = self.add_business_days(filed_on, lead.business_days)
            + Days::new(u64::from(lead.calendar_days));
        let from = desired.map_or(earliest, |d| d.max(earliest));
        self.next_reading_day(from, reading_day)
    }

    /// The last day on which both applications of a switch (the new retailer's start and
    /// the old retailer's end) must be filed for the operator to match them in time for
    /// `switch_date`: `lead.business_days` business days before it, or the previous business
    /// day when the lead has no business days (the operator still needs a working day to
    /// match them).
    ///
    /// Only the business days of the lead are walked back; `lead.calendar_days` is not
    /// subtracted, so with calendar days in the lead, a start application filed on this
    /// deadline can be later than what [`switch_date`](Self::switch_date) would accept.
    pub fn matching_deadline(&self, switch_date: NaiveDate, lead: LeadTime) -> NaiveDate {
        let mut date = switch_date;
        for _ in 0..lead.business_days.max(1) {
            date = self.previous_business_day(date);
        }
        date
    }

    fn business_day_on_or_after(&self, date: NaiveDate) -> NaiveDate {
        let mut d = date;
        while !self.is_business_day(d) {
            d = next_day(d);
        }
        d
    }
}

/// An area's standard processing period after an application is filed (標準処理期間):
/// so many business days, then so many calendar days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LeadTime {
    pub business_days: u32,
    pub calendar_days: u32,
}

/// Low voltage (低圧) lead times by area code.
///
/// Only 中国 (07) publishes its figure, 1 business day + 2 calendar days; the other nine
/// areas are assumed to be the same until their figures are known. Kept as data so that a
/// correction is a one-line change.
const LOW_VOLTAGE: [(&str, LeadTime); 10] = [
    ("01", LeadTime::new(1, 2)),
    ("02", LeadTime::new(1, 2)),
    ("03", LeadTime::new(1, 2)),
    ("04", LeadTime::new(1, 2)),
    ("05", LeadTime::new(1, 2)),
    ("06", LeadTime::new(1, 2)),
    ("07", LeadTime::new(1, 2)),
    ("08", LeadTime::new(1, 2)),
    ("09", LeadTime::new(1, 2)),
    ("10", LeadTime::new(1, 2)),
];

/// High voltage (高圧) lead times by area code: 8 business days in every area.
const HIGH_VOLTAGE: [(&str, LeadTime); 10] = [
    ("01", LeadTime::new(8, 0)),
    ("02", LeadTime::new(8, 0)),
    ("03", LeadTime::new(8, 0)),
    ("04", LeadTime::new(8, 0)),
    ("05", LeadTime::new(8, 0)),
    ("06", LeadTime::new(8, 0)),
    ("07", LeadTime::new(8, 0)),
    ("08", LeadTime::new(8, 0)),
    ("09", LeadTime::new(8, 0)),
    ("10", LeadTime::new(8, 0)),
];

impl LeadTime {
    pub const fn new(business_days: u32, calendar_days: u32) -> Self {
        LeadTime {
            business_days,
            calendar_days,
        }
    }

    /// The low voltage lead time of the area with this code ("01" … "10"), or `None` for an
    /// unknown code.
    pub fn for_low_voltage(area_code: &str) -> Option<LeadTime> {
        lookup(&LOW_VOLTAGE, area_code)
    }

    /// The high voltage lead time of the area with this code ("01" … "10"), or `None` for an
    /// unknown code.
    pub fn for_high_voltage(area_code: &str) -> Option<LeadTime> {
        lookup(&HIGH_VOLTAGE, area_code)
    }
}

fn lookup(table: &[(&str, LeadTime)], area_code: &str) -> Option<LeadTime> {
    table
        .iter()
        .find(|(code, _)| *code == area_code)
        .map(|(_, lead)| *lead)
}

/// 12-29 .. 01-03: the utilities' year-end and new-year closure (年末年始休業).
fn is_year_end_break(date: NaiveDate) -> bool {
    (date.month() == 12 && date.day() >= 29) || (date.month() == 1 && date.day() <= 3)
}

fn next_day(date: NaiveDate) -> NaiveDate {
    date.succ_opt().expect("date within chrono's range")
}

fn previous_day(date: NaiveDate) -> NaiveDate {
    date.pred_opt().expect("date within chrono's range")
}

fn first_of_next_month(date: NaiveDate) -> Option<NaiveDate> {
    date.with_day(1)?.checked_add_months(chrono::Months::new(1))
}

/// Today in Japan, the calendar every date in an application or an intermediation refers to.
pub fn today_jst() -> NaiveDate {
    let jst = FixedOffset::east_opt(9 * 3600).expect("valid offset");
    Utc::now().with_timezone(&jst).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected dates were checked against Python's datetime and the `jpholiday` Python
    // package (2026–2028), not worked out by eye.

    const CAL: BusinessCalendar = BusinessCalendar;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    const LOW: LeadTime = LeadTime::new(1, 2);
    const HIGH: LeadTime = LeadTime::new(8, 0);

    #[test]
    fn weekends_are_not_business_days() {
        assert!(CAL.is_business_day(d(2026, 4, 24))); // Fri
        assert!(!CAL.is_business_day(d(2026, 4, 25))); // Sat
        assert!(!CAL.is_business_day(d(2026, 4, 26))); // Sun
        assert!(CAL.is_business_day(d(2026, 4, 27))); // Mon
    }

    #[test]
    fn national_holidays_are_not_business_days() {
        assert!(!CAL.is_business_day(d(2027, 1, 11))); // Mon, 成人の日
        assert!(!CAL.is_business_day(d(2026, 5, 6))); // Wed, 振替休日 for Sun 05-03
        assert!(CAL.is_business_day(d(2026, 5, 7))); // Thu
        assert!(!CAL.is_business_day(d(2026, 2, 23))); // Mon, 天皇誕生日
        assert!(!CAL.is_business_day(d(2026, 9, 22))); // Tue, 国民の休日
        assert!(!CAL.is_business_day(d(2027, 3, 22))); // Mon, 振替休日 for 春分の日
    }

    #[test]
    fn year_end_break_is_closed() {
        assert!(CAL.is_business_day(d(2026, 12, 28))); // Mon, last day open
        for day in 29..=31 {
            assert!(!CAL.is_business_day(d(2026, 12, day)), "2026-12-{day}");
        }
        for day in 1..=3 {
            assert!(!CAL.is_business_day(d(2027, 1, day)), "2027-01-{day}");
        }
        assert!(CAL.is_business_day(d(2027, 1, 4))); // Mon, first day open
        // Weekdays inside the break, not weekends or holidays, are what the rule adds.
        assert!(!CAL.is_business_day(d(2027, 12, 29))); // Wed
        assert!(!CAL.is_business_day(d(2028, 1, 3))); // Mon
        assert!(CAL.is_business_day(d(2028, 1, 4))); // Tue
    }

    #[test]
    fn adding_business_days_skips_holidays() {
        // Fri 04-24 → Mon 27, Tue 28, (Wed 29 昭和の日), Thu 30.
        assert_eq!(CAL.add_business_days(d(2026, 4, 24), 3), d(2026, 4, 30));
        // Across Golden Week: Fri 05-01, then Thu 05-07.
        assert_eq!(CAL.add_business_days(d(2026, 4, 30), 2), d(2026, 5, 7));
    }

    #[test]
    fn adding_zero_business_days_is_the_same_day() {
        assert_eq!(CAL.add_business_days(d(2026, 4, 25), 0), d(2026, 4, 25));
    }

    #[test]
    fn business_days_between_counts_the_end_but_not_the_start() {
        assert_eq!(CAL.business_days_between(d(2026, 4, 24), d(2026, 4, 30)), 3);
        assert_eq!(CAL.business_days_between(d(2026, 4, 28), d(2026, 5, 7)), 3);
        assert_eq!(CAL.business_days_between(d(2026, 4, 24), d(2026, 4, 24)), 0);
        assert_eq!(
            CAL.business_days_between(d(2026, 4, 30), d(2026, 4, 24)),
            -3
        );
        let from = d(2026, 12, 20);
        let to = CAL.add_business_days(from, 10);
        assert_eq!(CAL.business_days_between(from, to), 10);
    }

    #[test]
    fn previous_business_day_skips_closed_days() {
        assert_eq!(CAL.previous_business_day(d(2026, 5, 7)), d(2026, 5, 1));
        assert_eq!(CAL.previous_business_day(d(2027, 1, 4)), d(2026, 12, 28));
        assert_eq!(CAL.previous_business_day(d(2026, 4, 28)), d(2026, 4, 27));
    }

    #[test]
    fn reading_day_on_a_business_day_is_kept() {
        assert_eq!(CAL.next_reading_day(d(2026, 6, 18), 18), d(2026, 6, 18));
        assert_eq!(CAL.next_reading_day(d(2026, 12, 15), 5), d(2027, 1, 5));
    }

    #[test]
    fn reading_day_before_the_date_falls_in_the_next_month() {
        // 05-10 is a Sunday, so it moves on to Monday.
        assert_eq!(CAL.next_reading_day(d(2026, 4, 20), 10), d(2026, 5, 11));
    }

    #[test]
    fn reading_day_on_a_holiday_moves_to_the_next_business_day() {
        assert_eq!(CAL.next_reading_day(d(2027, 1, 5), 11), d(2027, 1, 12)); // 成人の日
        assert_eq!(CAL.next_reading_day(d(2026, 4, 1), 25), d(2026, 4, 27)); // Sat
        assert_eq!(CAL.next_reading_day(d(2027, 12, 20), 3), d(2028, 1, 4)); // Mon in the break
        assert_eq!(CAL.next_reading_day(d(2026, 12, 30), 2), d(2027, 1, 4));
    }

    #[test]
    #[should_panic(expected = "not in 1..=28")]
    fn reading_day_outside_1_to_28_is_refused() {
        CAL.next_reading_day(d(2026, 4, 1), 29);
    }

    #[test]
    fn switch_date_is_the_first_reading_day_after_the_lead_time() {
        // Filed Fri 04-24: +1 business day = Mon 04-27, +2 days = Wed 04-29 (earliest).
        // Reading day 28 has passed by then, so the switch waits for 05-28.
        assert_eq!(
            CAL.switch_date(d(2026, 4, 24), LOW, 28, None),
            d(2026, 5, 28)
        );
        // Filed Mon 04-06: earliest Thu 04-09; reading day 10 is the next day.
        assert_eq!(
            CAL.switch_date(d(2026, 4, 6), LOW, 10, None),
            d(2026, 4, 10)
        );
        // Filed Tue 2027-01-05: earliest Fri 01-08; reading day 11 is 成人の日, so 01-12.
        assert_eq!(
            CAL.switch_date(d(2027, 1, 5), LOW, 11, None),
            d(2027, 1, 12)
        );
        // High voltage, filed over the year end: Fri 12-25 + 8 business days = 01-13.
        assert_eq!(
            CAL.switch_date(d(2026, 12, 25), HIGH, 10, None),
            d(2027, 2, 10)
        );
    }

    #[test]
    fn desired_date_later_than_the_earliest_is_kept_to_its_reading_day() {
        assert_eq!(
            CAL.switch_date(d(2026, 4, 24), LOW, 18, Some(d(2026, 6, 15))),
            d(2026, 6, 18)
        );
        assert_eq!(
            CAL.switch_date(d(2026, 4, 24), LOW, 18, Some(d(2026, 6, 18))),
            d(2026, 6, 18)
        );
    }

    #[test]
    fn desired_date_earlier_than_the_earliest_is_ignored() {
        // Honouring 04-25 would give the 04-28 reading; the earliest date is 04-29.
        assert_eq!(
            CAL.switch_date(d(2026, 4, 24), LOW, 28, Some(d(2026, 4, 25))),
            d(2026, 5, 28)
        );
    }

    #[test]
    fn matching_deadline_is_lead_business_days_before_the_switch() {
        // Thu 05-07, 8 business days back over Golden Week and 昭和の日: Tue 04-21.
        assert_eq!(CAL.matching_deadline(d(2026, 5, 7), HIGH), d(2026, 4, 21));
        assert_eq!(CAL.matching_deadline(d(2026, 5, 7), LOW), d(2026, 5, 1));
    }

    #[test]
    fn matching_deadline_with_no_business_days_is_the_previous_business_day() {
        let lead = LeadTime::new(0, 3);
        assert_eq!(CAL.matching_deadline(d(2026, 5, 7), lead), d(2026, 5, 1));
    }

    #[test]
    fn every_area_has_a_lead_time_for_each_voltage() {
        for n in 1..=10 {
            let code = format!("{n:02}");
            assert_eq!(LeadTime::for_low_voltage(&code), Some(LOW), "{code}");
            assert_eq!(LeadTime::for_high_voltage(&code), Some(HIGH), "{code}");
        }
        assert_eq!(LeadTime::for_low_voltage("11"), None);
        assert_eq!(LeadTime::for_high_voltage("7"), None);
    }
}
