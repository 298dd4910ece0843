//! Catalogue functions the hub offers, with the real interface's identities kept as data.

use std::fmt;
use std::str::FromStr;

/// A catalogue function. The slug is its name everywhere: route, schema, metric label, test.
///
/// This slice of the hub carries the two functions of the spine; the rest of the catalogue
/// joins the enum as each gets its payload, validation, mapping and simulator behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    /// 設備情報照会 (low voltage).
    FacilityInquiry,
    /// スイッチング開始申請 (low voltage, the new retailer).
    SwitchStart,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown function {0:?}")]
pub struct FunctionError(pub String);

impl Function {
    pub const ALL: [Function; 2] = [Function::FacilityInquiry, Function::SwitchStart];

    pub fn slug(self) -> &'static str {
        match self {
            Function::FacilityInquiry => "facility-inquiry",
            Function::SwitchStart => "switch-start",
        }
    }

    pub fn name_ja(self) -> &'static str {
        match self {
            Function::FacilityInquiry => "設備情報照会",
            Function::SwitchStart => "スイッチング開始申請",
        }
    }

    /// The real interface's service id (IF_ = low voltage).
    pub fn service_id(self) -> &'static str {
        match self {
            Function::FacilityInquiry => "IF_10110",
            Function::SwitchStart => "IF_10610",
        }
    }

    /// The function a service id names, for operators' interfaces that route by it.
    pub fn by_service_id(service_id: &str) -> Option<Function> {
        Function::ALL
            .into_iter()
            .find(|function| function.service_id() == service_id)
    }

    /// 申込種別 code where the function is an application (look-ups have none).
    pub fn application_kind(self) -> Option<&'static str> {
        match self {
            Function::FacilityInquiry => None,
            Function::SwitchStart => Some("05"),
        }
    }
}

impl FromStr for Function {
    type Err = FunctionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Function::ALL
            .into_iter()
            .find(|f| f.slug() == s)
            .ok_or_else(|| FunctionError(s.to_string()))
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.slug())
    }
}

/// 更新フラグ: a filed application is registered, corrected or withdrawn.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum UpdateFlag {
    /// 1 登録
    #[default]
    Register,
    /// 2 訂正
    Correct,
    /// 3 取消
    Withdraw,
}

impl UpdateFlag {
    /// The flag an interface's code ("1", "2" or "3") stands for.
    pub fn by_code(code: &str) -> Option<UpdateFlag> {
        [
            UpdateFlag::Register,
            UpdateFlag::Correct,
            UpdateFlag::Withdraw,
        ]
        .into_iter()
        .find(|flag| flag.code() == code)
    }

    pub fn code(self) -> &'static str {
        match self {
            UpdateFlag::Register => "1",
            UpdateFlag::Correct => "2",
            UpdateFlag::Withdraw => "3",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_function_is_found_by_its_slug() {
        for f in Function::ALL {
            assert_eq!(f.slug().parse::<Function>().unwrap(), f);
        }
        assert!("ampere-chang".parse::<Function>().is_err());
    }

    #[test]
    fn functions_keep_the_real_service_ids() {
        assert_eq!(Function::FacilityInquiry.service_id(), "IF_10110");
        assert_eq!(Function::SwitchStart.service_id(), "IF_10610");
        assert_eq!(Function::SwitchStart.application_kind(), Some("05"));
        for f in Function::ALL {
            assert_eq!(Function::by_service_id(f.service_id()), Some(f));
        }
        assert_eq!(Function::by_service_id("IF_99999"), None);
        for flag in [
            UpdateFlag::Register,
            UpdateFlag::Correct,
            UpdateFlag::Withdraw,
        ] {
            assert_eq!(UpdateFlag::by_code(flag.code()), Some(flag));
        }
        assert_eq!(UpdateFlag::by_code("4"), None);
    }
}
