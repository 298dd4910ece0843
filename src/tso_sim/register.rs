//! The simulated operator's register of low-voltage supply points, generated from (area, seed)
//! so that every run, test and load generator agrees on which points exist and what they hold.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

use super::places::{FAMILY_NAMES, GIVEN_NAMES, places};
use crate::domain::{Area, SupplyPointId};

/// The register holds at most this many points: the index is the id's last four digits.
pub const MAX_POINTS: u32 = 10_000;
const INCUMBENT_SHARE: f64 = 0.7;
const SMART_METER_SHARE: f64 = 0.85;
const KANJI_NAME_SHARE: f64 = 0.8;
const AMPERES: [i32; 4] = [30, 40, 50, 60];
/// 6 kVA weighs most, as the usual minimum-rate household.
const KVAS: [f64; 6] = [6.0, 6.0, 6.0, 8.0, 10.0, 12.0];

/// The `index`-th point of the area's register: area code, "0" (low voltage), 15 digits hashed
/// from (area, index), then the index in four digits. The same for every seed, so callers can
/// name points without the register. `index` is meant to be below [`MAX_POINTS`].
pub fn point_id(area: Area, index: u32) -> SupplyPointId {
    let digest = Sha256::digest(format!("kirikae/supply-point/{}/{index}", area.code()));
    let head = digest
        .iter()
        .take(8)
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    let middle = head % 1_000_000_000_000_000;
    let text = format!("{}0{middle:015}{:04}", area.code(), index % MAX_POINTS);
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
    /// Always starts with 'Z', so test companies never supply a point by accident.
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
    fn generate(area: Area, index: u32, rng: &mut ChaCha8Rng) -> Self {
        let (contract_kind, contract_ampere, contract_kva) = contract(area, rng);
        SupplyPoint {
            id: point_id(area, index),
            current_retailer_code: retailer(area, rng),
            supply_address: address(area, rng),
            customer_name: customer_name(rng),
            contract_kind,
            contract_ampere,
            contract_kva,
            smart_meter: rng.gen_bool(SMART_METER_SHARE),
            meter_number: format!(
                "{:02}{:08}",
                area.number(),
                rng.gen_range(0..100_000_000u32)
            ),
            meter_reading_day: rng.gen_range(1..=28),
        }
    }
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
