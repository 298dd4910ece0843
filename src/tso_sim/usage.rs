//! 使用量情報: the customer's consent (a password the operator mails to the customer), the
//! high-voltage usage requests, and the usage history every point has, generated from its id so
//! that each answer about a point is the same on every run.

use std::collections::{HashMap, VecDeque};

use chrono::{Datelike, Days, Months, NaiveDate};
use sha2::{Digest, Sha256};

use super::register::SupplyPoint;
use crate::domain::{PointClass, RequestId, SupplyPointId};
use crate::messages::{HalfHourUsage, MonthlyUsage, UsageResult};

/// How many months a usage inquiry answers when it does not say, and at most.
pub const MAX_MONTHS: i32 = 13;
/// Characters of an issued password: no 0/O or 1/I/L, which customers misread.
const PASSWORD_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
const PASSWORD_LEN: usize = 8;

/// One password the operator issued for a point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedPassword {
    pub point_id: SupplyPointId,
    pub password: String,
    pub valid_until: NaiveDate,
}

/// How many passwords the operator keeps valid per point, the newest: a customer uses the
/// letter just received. Every issue was kept before, and every check scanned them all — a
/// peak day's usage requests made both grow without end.
const PASSWORDS_PER_POINT: usize = 8;

/// What the operator remembers of consents and usage requests, for the inquiries that follow.
#[derive(Debug, Default)]
pub struct Books {
    /// The newest passwords issued for each point, oldest first.
    passwords: HashMap<SupplyPointId, VecDeque<IssuedPassword>>,
    /// 申込番号 of accepted high-voltage usage requests, with their point.
    hv_requests: HashMap<String, SupplyPointId>,
}

impl Books {
    pub fn issue(&mut self, password: IssuedPassword) {
        let issued = self.passwords.entry(password.point_id.clone()).or_default();
        if issued.len() == PASSWORDS_PER_POINT {
            issued.pop_front();
        }
        issued.push_back(password);
    }

    /// Whether `password` was issued for `point` and is still valid on `today`; any retailer
    /// may use it.
    pub fn password_is_valid(
        &self,
        point: &SupplyPointId,
        password: &str,
        today: NaiveDate,
    ) -> bool {
        self.passwords.get(point).is_some_and(|issued| {
            issued
                .iter()
                .any(|p| p.password == password && today <= p.valid_until)
        })
    }

    pub fn record_hv_request(&mut self, application_number: String, point: SupplyPointId) {
        self.hv_requests.insert(application_number, point);
    }

    /// Whether `application_number` is a usage request accepted for `point`.
    pub fn hv_request_is_for(&self, application_number: &str, point: &SupplyPointId) -> bool {
        self.hv_requests.get(application_number) == Some(point)
    }
}

/// The password issued in answer to request `id`: 8 characters, the same for the same id.
pub fn password_for(id: &RequestId) -> String {
    let digest = Sha256::digest(format!("kirikae/usage-password/{}", id.as_uuid()));
    digest
        .iter()
        .take(PASSWORD_LEN)
        .map(|b| char::from(PASSWORD_ALPHABET[usize::from(*b) % PASSWORD_ALPHABET.len()]))
        .collect()
}

/// The last day a password sent on `sent_on` is valid: one month later, less a day.
pub fn valid_until(sent_on: NaiveDate) -> NaiveDate {
    sent_on
        .checked_add_months(Months::new(1))
        .and_then(|d| d.checked_sub_days(Days::new(1)))
        .unwrap_or(sent_on)
}

/// Whether an inquiry's `months` is allowed: absent (13) or 1..=13.
pub fn months_allowed(months: Option<i32>) -> bool {
    months.is_none_or(|m| (1..=MAX_MONTHS).contains(&m))
}

/// The usage of `point` for `months` months ending with the last full month before `today`,
/// oldest first, with the 30-minute values of that last month where the point has a 30-minute
/// meter. Each month's total is the sum of its 30-minute values, whether or not they are shown.
pub fn usage_result(point: &SupplyPoint, today: NaiveDate, months: Option<i32>) -> UsageResult {
    let count = months.unwrap_or(MAX_MONTHS).clamp(1, MAX_MONTHS) as u32;
    let this_month = today.with_day(1).unwrap_or(today);
    let seed = point_seed(&point.id);
    let scale = scale_kwh(point);
    let monthly = (1..=count)
        .rev()
        .filter_map(|back| this_month.checked_sub_months(Months::new(back)))
        .map(|first| MonthlyUsage {
            month: first.format("%Y-%m").to_string(),
            kwh: round(
                month_days(first)
                    .flat_map(|day| day_values(seed, scale, day))
                    .sum(),
                1,
            ),
        })
        .collect();
    let half_hourly = match this_month.checked_sub_months(Months::new(1)) {
        Some(first) if point.smart_meter => month_days(first)
            .flat_map(|day| {
                day_values(seed, scale, day)
                    .enumerate()
                    .map(move |(slot, kwh)| HalfHourUsage {
                        day,
                        slot: slot as i32 + 1,
                        kwh: round(kwh, 3),
                    })
            })
            .collect(),
        _ => Vec::new(),
    };
    UsageResult {
        smart_meter: point.smart_meter,
        monthly,
        half_hourly,
    }
}

/// The days of the month that begins on `first`.
fn month_days(first: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    first
        .iter_days()
        .take_while(move |d| d.month() == first.month())
}

/// A point's own number, from its id, that seeds its usage.
fn point_seed(id: &SupplyPointId) -> u64 {
    let digest = Sha256::digest(format!("kirikae/usage/{id}"));
    digest
        .iter()
        .take(8)
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}

/// The average kWh of one half hour at the point.
fn scale_kwh(point: &SupplyPoint) -> f64 {
    match point.class {
        // 40 % load factor on the contract.
        PointClass::HighVoltage => point.contract_kw.unwrap_or(100.0) * 0.5 * 0.4,
        // A surplus-sale point's own consumption is like a household's.
        PointClass::Generation | PointClass::LowVoltage => 0.2,
    }
}

/// The 48 half-hour values of `day`: a daily curve with a morning and an evening peak, more in
/// winter and summer, varied per point and per slot.
fn day_values(seed: u64, scale: f64, day: NaiveDate) -> impl Iterator<Item = f64> {
    let season = match day.month() {
        12 | 1 | 2 => 1.3,
        7..=9 => 1.2,
        _ => 1.0,
    };
    let point_level = 0.6 + (seed % 1000) as f64 / 1000.0;
    let day_number = u64::from(day.num_days_from_ce().unsigned_abs());
    (0..48u64).map(move |slot| {
        let hour = slot as f64 / 2.0;
        let curve = 0.5
            + 0.6 * bump(hour, 7.5, 1.5)
            + 1.0 * bump(hour, 19.5, 2.5)
            + 0.2 * bump(hour, 12.5, 3.0);
        let noise = 0.8 + 0.4 * unit(mix(seed ^ (day_number << 8) ^ slot));
        scale * season * point_level * curve * noise
    })
}

fn bump(x: f64, centre: f64, width: f64) -> f64 {
    let z = (x - centre) / width;
    (-z * z).exp()
}

/// splitmix64: a fast, well-spread hash of one number.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A number in [0, 1) from a hash.
fn unit(hash: u64) -> f64 {
    (hash >> 11) as f64 / (1u64 << 53) as f64
}

fn round(value: f64, decimals: i32) -> f64 {
    let factor = 10f64.powi(decimals);
    (value * factor).round() / factor
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issued(point: &SupplyPointId, password: &str) -> IssuedPassword {
        IssuedPassword {
            point_id: point.clone(),
            password: password.into(),
            valid_until: NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
        }
    }

    #[test]
    fn a_point_keeps_its_newest_passwords_valid_and_the_oldest_goes() {
        let point = SupplyPointId::parse("0300123456789012340001").unwrap();
        let other = SupplyPointId::parse("0300123456789012340002").unwrap();
        let today = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let mut books = Books::default();
        for n in 0..=PASSWORDS_PER_POINT {
            books.issue(issued(&point, &format!("PW{n}")));
        }
        assert!(
            !books.password_is_valid(&point, "PW0", today),
            "the oldest is gone"
        );
        assert!(books.password_is_valid(&point, "PW1", today));
        assert!(books.password_is_valid(&point, &format!("PW{PASSWORDS_PER_POINT}"), today));
        assert!(
            !books.password_is_valid(&other, "PW1", today),
            "another point's"
        );
    }
}
