//! The simulated operator's register of supply points, generated from (area, seed) so that
//! every run, test and load generator agrees on which points exist and what they hold.
//!
//! The index (the id's last four digits) fixes a point's class: 4000..4499 are high-voltage
//! supply points, 4500..4749 FIT generation points and 4750..4999 post-FIT ones (受電地点), and
//! every other index is low voltage. Low-voltage points whose index is 7 modulo 50 are vacant
//! (no retailer), for 再点.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

use super::places::{FAMILY_NAMES, GIVEN_NAMES, places};
use crate::domain::{Area, PointClass, SupplyPointId};
use crate::messages::FitScheme;

/// The register holds at most this many points: the index is the id's last four digits.
pub const MAX_POINTS: u32 = 10_000;
const INCUMBENT_SHARE: f64 = 0.7;
const SMART_METER_SHARE: f64 = 0.85;
const KANJI_NAME_SHARE: f64 = 0.8;
const AMPERES: [i32; 4] = [30, 40, 50, 60];
/// 6 kVA weighs most, as the usual minimum-rate household.
const KVAS: [f64; 6] = [6.0, 6.0, 6.0, 8.0, 10.0, 12.0];

/// Indexes of high-voltage supply points.
pub const HIGH_VOLTAGE: std::ops::Range<u32> = 4000..4500;
/// Indexes of FIT generation points (受電地点, in their 買取期間).
pub const FIT: std::ops::Range<u32> = 4500..4750;
/// Indexes of post-FIT generation points (FIT卒業電源).
pub const POST_FIT: std::ops::Range<u32> = 4750..5000;
/// A low-voltage point whose index is this modulo [`VACANT_EVERY`] has no retailer.
pub const VACANT_AT: u32 = 7;
pub const VACANT_EVERY: u32 = 50;

/// The class a point of the register has by its index.
pub fn class_of_index(index: u32) -> PointClass {
    let index = index % MAX_POINTS;
    if HIGH_VOLTAGE.contains(&index) {
        PointClass::HighVoltage
    } else if FIT.contains(&index) || POST_FIT.contains(&index) {
        PointClass::Generation
    } else {
        PointClass::LowVoltage
    }
}

/// Whether the point of this index is vacant in the generated register.
pub fn is_vacant_index(index: u32) -> bool {
    class_of_index(index) == PointClass::LowVoltage && index % VACANT_EVERY == VACANT_AT
}

/// The kinds of point tests ask for by number with [`point_of`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PointKind {
    /// A supplied low-voltage point (index below 4000, not vacant).
    LowVoltage,
    /// A low-voltage point without a retailer, for 再点.
    Vacant,
    HighVoltage,
    /// A generation point still in its FIT period.
    Fit,
    /// A post-FIT generation point (FIT卒業電源).
    PostFit,
}

/// The index of the `n`-th point of `kind` (counting from 0): low-voltage and vacant points
/// among indexes 0..4000 (49 and 1 of every 50), the others in their ranges. `n` wraps round
/// when it exceeds the kind's count, so the answer is always a point of that kind.
pub fn index_of(kind: PointKind, n: u32) -> u32 {
    let supplied_per_block = VACANT_EVERY - 1;
    let blocks = HIGH_VOLTAGE.start / VACANT_EVERY;
    match kind {
        PointKind::LowVoltage => {
            let n = n % (blocks * supplied_per_block);
            let offset = n % supplied_per_block;
            let offset = if offset >= VACANT_AT {
                offset + 1
            } else {
                offset
            };
            (n / supplied_per_block) * VACANT_EVERY + offset
        }
        PointKind::Vacant => (n % blocks) * VACANT_EVERY + VACANT_AT,
        PointKind::HighVoltage => HIGH_VOLTAGE.start + n % HIGH_VOLTAGE.len() as u32,
        PointKind::Fit => FIT.start + n % FIT.len() as u32,
        PointKind::PostFit => POST_FIT.start + n % POST_FIT.len() as u32,
    }
}

/// The id of the `n`-th point of `kind` in `area` (see [`index_of`]). It is in a register of
/// 5,000 points or more (the default size).
pub fn point_of(area: Area, kind: PointKind, n: u32) -> SupplyPointId {
    point_id(area, index_of(kind, n))
}

/// The `index`-th point of the area's register: area code, the class digit ("0" low voltage,
/// "1" high voltage, "2" a generation point's 受電地点), 15 digits hashed from (area, index),
/// then the index in four digits. The same for every seed, so callers can name points without
/// the register. `index` is meant to be below [`MAX_POINTS`].
pub fn point_id(area: Area, index: u32) -> SupplyPointId {
    let digest = Sha256::digest(format!("kirikae/supply-point/{}/{index}", area.code()));
    let head = digest
        .iter()
        .take(8)
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    let middle = head % 1_000_000_000_000_000;
    let digit = match class_of_index(index) {
        PointClass::LowVoltage => 0,
        PointClass::HighVoltage => 1,
        PointClass::Generation => 2,
    };
    let text = format!(
        "{}{digit}{middle:015}{:04}",
        area.code(),
        index % MAX_POINTS
    );
    SupplyPointId::parse(&text).expect("22 digits opening with a known area code")
}

/// The area's incumbent retailer in the simulation, supplying most points.
pub fn incumbent_code(area: Area) -> String {
    format!("Z{}00", area.code())
}

/// One supply point as the operator registers it.
#[derive(Debug, Clone, PartialEq)]
pub struct SupplyPoint {
    pub id: SupplyPointId,
    pub class: PointClass,
    /// Starts with 'Z' in the generated register, so test companies never supply a point by
    /// accident; empty for a vacant point.
    pub current_retailer_code: String,
    pub supply_address: String,
    pub customer_name: String,
    pub contract_kind: String,
    /// Set in ampere-breaker areas.
    pub contract_ampere: Option<i32>,
    /// Set in the minimum-rate areas (関西, 中国, 四国, 沖縄).
    pub contract_kva: Option<f64>,
    pub smart_meter: bool,
    pub meter_number: String,
    /// 検針日: 1..=28, so it exists in every month.
    pub meter_reading_day: u32,
    /// 契約電力 of a high-voltage point, 50.0..=499.0 kW.
    pub contract_kw: Option<f64>,
    /// 発電出力 of a generation point, 3.0..=9.9 kW.
    pub generation_kw: Option<f64>,
    /// FIT区分 of a generation point.
    pub fit_scheme: Option<FitScheme>,
}

/// 引込柱番号 of a point: the pole its service line hangs from, derived from the id (so tests and
/// demos can name one without the register): `<area>-<4 digits>-<index>`.
pub fn service_pole_number(id: &SupplyPointId) -> String {
    let s = id.as_str();
    format!("{}-{}-{}", &s[..2], &s[10..14], &s[18..])
}

/// All points of one area.
#[derive(Debug, Clone, PartialEq)]
pub struct Register {
    area: Area,
    points: Vec<SupplyPoint>,
}

impl Register {
    /// The same (area, seed, points) always gives the same register; `points` is capped at
    /// [`MAX_POINTS`].
    pub fn generate(area: Area, seed: u64, points: u32) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed.rotate_left(8) ^ u64::from(area.number()));
        let points = (0..points.min(MAX_POINTS))
            .map(|index| SupplyPoint::generate(area, index, &mut rng))
            .collect();
        Register { area, points }
    }

    /// The point with exactly this id; an id with a known suffix but other digits is unknown.
    pub fn get(&self, id: &SupplyPointId) -> Option<&SupplyPoint> {
        let index: usize = id.as_str().get(18..)?.parse().ok()?;
        self.points.get(index).filter(|point| point.id == *id)
    }

    pub fn area(&self) -> Area {
        self.area
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// Points in index order, for load generators and tests that need real ones.
    pub fn iter(&self) -> impl Iterator<Item = &SupplyPoint> {
        self.points.iter()
    }
}

impl SupplyPoint {
    /// Whether no retailer supplies the point (再点 is possible).
    pub fn is_vacant(&self) -> bool {
        self.current_retailer_code.is_empty()
    }

    /// Whether the point is a generation point still in its FIT period.
    pub fn is_fit(&self) -> bool {
        self.fit_scheme == Some(FitScheme::Fit)
    }

    fn generate(area: Area, index: u32, rng: &mut ChaCha8Rng) -> Self {
        let class = class_of_index(index);
        let (contract_kind, contract_ampere, contract_kva) = match class {
            PointClass::LowVoltage => contract(area, rng),
            PointClass::HighVoltage => ("高圧業務用".into(), None, None),
            PointClass::Generation => ("低圧発電(余剰)".into(), None, None),
        };
        let mut retailer = retailer(area, rng);
        if is_vacant_index(index) {
            retailer.clear();
        }
        let supply_address = address(area, rng);
        let customer_name = match class {
            PointClass::HighVoltage => company_name(rng),
            _ => customer_name(rng),
        };
        // Every high-voltage and generation point has a 30-minute meter.
        let smart_meter = rng.gen_bool(SMART_METER_SHARE) || class != PointClass::LowVoltage;
        let meter_number = format!(
            "{:02}{:08}",
            area.number(),
            rng.gen_range(0..100_000_000u32)
        );
        let meter_reading_day = rng.gen_range(1..=28);
        let (contract_kw, generation_kw, fit_scheme) = match class {
            PointClass::LowVoltage => (None, None, None),
            PointClass::HighVoltage => (Some(tenths(rng, 500..=4990)), None, None),
            PointClass::Generation => {
                let scheme = if FIT.contains(&index) {
                    FitScheme::Fit
                } else {
                    FitScheme::PostFit
                };
                (None, Some(tenths(rng, 30..=99)), Some(scheme))
            }
        };
        SupplyPoint {
            id: point_id(area, index),
            class,
            current_retailer_code: retailer,
            supply_address,
            customer_name,
            contract_kind,
            contract_ampere,
            contract_kva,
            smart_meter,
            meter_number,
            meter_reading_day,
            contract_kw,
            generation_kw,
            fit_scheme,
        }
    }
}

/// A number with one decimal, drawn as tenths from `range`.
fn tenths(rng: &mut ChaCha8Rng, range: std::ops::RangeInclusive<u32>) -> f64 {
    f64::from(rng.gen_range(range)) / 10.0
}

/// One item of a non-empty table.
fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.gen_range(0..items.len())]
}

fn retailer(area: Area, rng: &mut ChaCha8Rng) -> String {
    if rng.gen_bool(INCUMBENT_SHARE) {
        incumbent_code(area)
    } else {
        format!("Z{}0{}", area.code(), rng.gen_range(1..=9))
    }
}

fn contract(area: Area, rng: &mut ChaCha8Rng) -> (String, Option<i32>, Option<f64>) {
    if area.has_ampere_breakers() {
        ("従量電灯B".into(), Some(*pick(rng, &AMPERES)), None)
    } else {
        let kva = *pick(rng, &KVAS);
        let kind = if kva <= 6.0 {
            "従量電灯A"
        } else {
            "従量電灯C"
        };
        (kind.into(), None, Some(kva))
    }
}

fn address(area: Area, rng: &mut ChaCha8Rng) -> String {
    let (municipality, towns) = *pick(rng, places(area));
    let town = pick(rng, towns);
    let (chome, ban, go) = (
        rng.gen_range(1..=5),
        rng.gen_range(1..=30),
        rng.gen_range(1..=20),
    );
    format!("{municipality}{town}{chome}-{ban}-{go}")
}

fn customer_name(rng: &mut ChaCha8Rng) -> String {
    let (family_kanji, family_kana) = *pick(rng, FAMILY_NAMES);
    let (given_kanji, given_kana) = *pick(rng, GIVEN_NAMES);
    if rng.gen_bool(KANJI_NAME_SHARE) {
        format!("{family_kanji}\u{3000}{given_kanji}")
    } else {
        format!("{family_kana}\u{3000}{given_kana}")
    }
}

fn company_name(rng: &mut ChaCha8Rng) -> String {
    let (family_kanji, _) = *pick(rng, FAMILY_NAMES);
    let kind = *pick(rng, &["商店", "工業", "物産", "製作所", "倉庫"]);
    format!("株式会社{family_kanji}{kind}")
}
