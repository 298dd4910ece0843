//! 供給地点特定番号: the nationwide id of a supply point.

use std::fmt;
use std::str::FromStr;

use super::Area;

/// A supply point id: exactly 22 ASCII digits, the first two naming the area.
/// No check digit is public, so none is invented.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SupplyPointId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SupplyPointIdError {
    #[error("a supply point id has 22 digits, this one has {0}")]
    Length(usize),
    #[error("a supply point id holds digits only")]
    NotDigits,
    #[error("a supply point id starts with its area code 01 to 10, not {0}")]
    UnknownArea(String),
}

impl SupplyPointId {
    pub const LEN: usize = 22;

    pub fn parse(s: &str) -> Result<Self, SupplyPointIdError> {
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SupplyPointIdError::NotDigits);
        }
        if s.len() != Self::LEN {
            return Err(SupplyPointIdError::Length(s.len()));
        }
        s[..2]
            .parse::<Area>()
            .map_err(|_| SupplyPointIdError::UnknownArea(s[..2].to_string()))?;
        Ok(SupplyPointId(s.to_string()))
    }

    /// The area's root id (its code and twenty zeros): the key of a request that names an area
    /// but no point, such as 特定地点検索. No operator issues it to a point.
    pub fn area_root(area: Area) -> Self {
        SupplyPointId(format!("{}{}", area.code(), "0".repeat(Self::LEN - 2)))
    }

    pub fn is_area_root(&self) -> bool {
        self.0[2..].bytes().all(|b| b == b'0')
    }

    pub fn area(&self) -> Area {
        self.0[..2].parse().expect("validated at parse")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for SupplyPointId {
    type Err = SupplyPointIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SupplyPointId::parse(s)
    }
}

impl fmt::Display for SupplyPointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_supply_point_id_is_22_digits_and_names_its_area() {
        let id = SupplyPointId::parse("0300000000000000000001").unwrap();
        assert_eq!(id.area(), Area::Tokyo);
        assert_eq!(id.as_str().len(), 22);
    }

    #[test]
    fn a_supply_point_id_of_21_or_23_digits_is_refused() {
        assert_eq!(
            SupplyPointId::parse("030000000000000000001"),
            Err(SupplyPointIdError::Length(21))
        );
        assert_eq!(
            SupplyPointId::parse("03000000000000000000011"),
            Err(SupplyPointIdError::Length(23))
        );
    }

    #[test]
    fn a_supply_point_id_with_a_letter_or_space_is_refused() {
        assert_eq!(
            SupplyPointId::parse("03000000000000000000A1"),
            Err(SupplyPointIdError::NotDigits)
        );
        assert_eq!(
            SupplyPointId::parse(" 300000000000000000001"),
            Err(SupplyPointIdError::NotDigits)
        );
        assert_eq!(
            SupplyPointId::parse("０３00000000000000000001"),
            Err(SupplyPointIdError::NotDigits)
        );
    }

    #[test]
    fn a_supply_point_id_of_an_unknown_area_is_refused() {
        assert_eq!(
            SupplyPointId::parse("1100000000000000000001"),
            Err(SupplyPointIdError::UnknownArea("11".into()))
        );
    }
}
