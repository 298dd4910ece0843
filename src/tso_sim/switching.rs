//! スイッチング: the new retailer's start and the current retailer's end for one point and
//! date are two applications the operator matches (照合). Each waits at stage 05 for the other;
//! matched, both complete on the same switch date; unmatched past the matching deadline (or a
//! configured wall-clock window, for tests and demos), each is refused.

use std::time::{Duration, Instant};

use chrono::NaiveDate;

use super::register::SupplyPoint;
use super::rules::planned_date;
use crate::domain::{Area, BusinessCalendar, LeadTime, Operation, PointClass};
use crate::messages::{Payload, RequestRecord};

const CALENDAR: BusinessCalendar = BusinessCalendar;

/// The standard processing period for points of `class` in `area`: generation points are low
/// voltage.
pub fn lead_time(area: Area, class: PointClass) -> LeadTime {
    let lead = match class {
        PointClass::HighVoltage => LeadTime::for_high_voltage(area.code()),
        PointClass::LowVoltage | PointClass::Generation => LeadTime::for_low_voltage(area.code()),
    };
    lead.unwrap_or(LeadTime::new(1, 2))
}

/// The date a switch filed on `filed_on` for `planned` takes effect at `point`.
pub fn switch_date(
    area: Area,
    point: &SupplyPoint,
    filed_on: NaiveDate,
    planned: NaiveDate,
) -> NaiveDate {
    CALENDAR.switch_date(
        filed_on,
        lead_time(area, point.class),
        reading_day(point),
        Some(planned),
    )
}

/// The last filing date on which a switch filed on `filed_on` for `planned` still gets the
/// switch date it would get on `filed_on`: the counterpart must be filed by then. (The
/// calendar's `matching_deadline` walks back the lead's business days only, so it can fall
/// after this day when the lead has calendar days.)
pub fn matching_deadline(
    area: Area,
    point: &SupplyPoint,
    filed_on: NaiveDate,
    planned: NaiveDate,
) -> NaiveDate {
    let target = switch_date(area, point, filed_on, planned);
    let mut deadline = filed_on;
    while let Some(next) = deadline.succ_opt() {
        if next > target || switch_date(area, point, next, planned) != target {
            break;
        }
        deadline = next;
    }
    deadline
}

fn reading_day(point: &SupplyPoint) -> u8 {
    u8::try_from(point.meter_reading_day.clamp(1, 28)).unwrap_or(1)
}

/// One switch application the operator holds until it is matched, withdrawn or expires.
#[derive(Debug, Clone)]
pub struct Filed {
    /// The application as filed, or as last corrected.
    pub record: RequestRecord,
    pub planned_date: NaiveDate,
    pub filed_on: NaiveDate,
    pub filed_at: Instant,
    pub deadline: NaiveDate,
}

impl Filed {
    /// Files `record` (a switch start or end) on `today` for `point`.
    pub fn new(area: Area, point: &SupplyPoint, record: RequestRecord, today: NaiveDate) -> Self {
        let planned = planned_date(&record.payload).unwrap_or(today);
        Filed {
            record,
            planned_date: planned,
            filed_on: today,
            filed_at: Instant::now(),
            deadline: matching_deadline(area, point, today, planned),
        }
    }

    /// Whether the counterpart can no longer come in time: the operator's day is past the
    /// deadline, or `window` has passed since filing.
    pub fn expired(&self, today: NaiveDate, window: Option<Duration>) -> bool {
        today > self.deadline || window.is_some_and(|w| self.filed_at.elapsed() >= w)
    }

    /// Whether `self` and `other` are the two halves of one switch: the same point, class and
    /// date; the start names the end's applicant as the current retailer, and the end names the
    /// start's applicant as the new one.
    pub fn pairs_with(&self, other: &Filed) -> bool {
        let (a, b) = (&self.record, &other.record);
        if a.point_id != b.point_id
            || a.function.class() != b.function.class()
            || self.planned_date != other.planned_date
        {
            return false;
        }
        match (&a.payload, &b.payload) {
            (Payload::SwitchStart(start), Payload::SwitchEnd(end)) => halves(
                a,
                start.previous_retailer_code.as_str(),
                b,
                &end.new_retailer_code,
            ),
            (Payload::SwitchEnd(end), Payload::SwitchStart(start)) => halves(
                b,
                start.previous_retailer_code.as_str(),
                a,
                &end.new_retailer_code,
            ),
            _ => false,
        }
    }

    /// Whether this is the start (the new retailer's half).
    pub fn is_start(&self) -> bool {
        self.record.function.operation() == Operation::SwitchStart
    }
}

fn halves(start: &RequestRecord, previous: &str, end: &RequestRecord, new: &str) -> bool {
    start.function.operation() == Operation::SwitchStart
        && end.function.operation() == Operation::SwitchEnd
        && previous == end.company_code.as_str()
        && new == start.company_code.as_str()
}
