//! The ten supply areas, each served by one general transmission/distribution operator.

use std::fmt;
use std::str::FromStr;

/// A supply area. The two-digit code is the one that opens every supply point id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Area {
    Hokkaido,
    Tohoku,
    Tokyo,
    Chubu,
    Hokuriku,
    Kansai,
    Chugoku,
    Shikoku,
    Kyushu,
    Okinawa,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown area code {0:?}: expected 01 to 10")]
pub struct AreaError(pub String);

impl Area {
    pub const ALL: [Area; 10] = [
        Area::Hokkaido,
        Area::Tohoku,
        Area::Tokyo,
        Area::Chubu,
        Area::Hokuriku,
        Area::Kansai,
        Area::Chugoku,
        Area::Shikoku,
        Area::Kyushu,
        Area::Okinawa,
    ];

    /// The two-digit code, as in supply point ids and topic names ("01" … "10").
    pub fn code(self) -> &'static str {
        match self {
            Area::Hokkaido => "01",
            Area::Tohoku => "02",
            Area::Tokyo => "03",
            Area::Chubu => "04",
            Area::Hokuriku => "05",
            Area::Kansai => "06",
            Area::Chugoku => "07",
            Area::Shikoku => "08",
            Area::Kyushu => "09",
            Area::Okinawa => "10",
        }
    }

    /// The number 1..=10, used to derive per-area ports and seeds.
    pub fn number(self) -> u16 {
        Area::ALL
            .iter()
            .position(|a| *a == self)
            .map_or(0, |i| i as u16 + 1)
    }

    pub fn name_ja(self) -> &'static str {
        match self {
            Area::Hokkaido => "北海道",
            Area::Tohoku => "東北",
            Area::Tokyo => "東京",
            Area::Chubu => "中部",
            Area::Hokuriku => "北陸",
            Area::Kansai => "関西",
            Area::Chugoku => "中国",
            Area::Shikoku => "四国",
            Area::Kyushu => "九州",
            Area::Okinawa => "沖縄",
        }
    }

    /// The general transmission/distribution operator (一般送配電事業者) of the area.
    pub fn operator_ja(self) -> &'static str {
        match self {
            Area::Hokkaido => "北海道電力ネットワーク",
            Area::Tohoku => "東北電力ネットワーク",
            Area::Tokyo => "東京電力パワーグリッド",
            Area::Chubu => "中部電力パワーグリッド",
            Area::Hokuriku => "北陸電力送配電",
            Area::Kansai => "関西電力送配電",
            Area::Chugoku => "中国電力ネットワーク",
            Area::Shikoku => "四国電力送配電",
            Area::Kyushu => "九州電力送配電",
            Area::Okinawa => "沖縄電力",
        }
    }

    /// Whether low-voltage contracts are sized by an ampere breaker (アンペアブレーカー制).
    /// 関西, 中国, 四国 and 沖縄 use minimum-rate contracts instead, so アンペア変更 does not exist there.
    pub fn has_ampere_breakers(self) -> bool {
        !matches!(
            self,
            Area::Kansai | Area::Chugoku | Area::Shikoku | Area::Okinawa
        )
    }
}

impl FromStr for Area {
    type Err = AreaError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Area::ALL
            .into_iter()
            .find(|a| a.code() == s)
            .ok_or_else(|| AreaError(s.to_string()))
    }
}

impl fmt::Display for Area {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_area_round_trips_through_its_code() {
        for area in Area::ALL {
            assert_eq!(area.code().parse::<Area>().unwrap(), area);
        }
        assert_eq!(Area::Okinawa.number(), 10);
    }

    #[test]
    fn codes_outside_01_to_10_are_not_areas() {
        for bad in ["00", "11", "1", "3", "ab", ""] {
            assert!(bad.parse::<Area>().is_err(), "{bad}");
        }
    }

    #[test]
    fn ampere_change_exists_only_in_ampere_breaker_areas() {
        let without: Vec<_> = Area::ALL
            .into_iter()
            .filter(|a| !a.has_ampere_breakers())
            .collect();
        assert_eq!(
            without,
            [Area::Kansai, Area::Chugoku, Area::Shikoku, Area::Okinawa]
        );
    }
}
