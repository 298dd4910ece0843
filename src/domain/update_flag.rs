//! 更新フラグ: whether a filed application is registered, corrected or withdrawn.

use strum::{EnumIter, EnumString, IntoEnumIterator, IntoStaticStr};

/// 更新フラグ: a filed application is registered, corrected or withdrawn. The lowercase word
/// is the API's and the `requests.update_flag` column's; the digit is the interfaces' code.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
    EnumIter,
    EnumString,
    IntoStaticStr,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
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
        UpdateFlag::iter().find(|flag| flag.code() == code)
    }

    pub fn code(self) -> &'static str {
        match self {
            UpdateFlag::Register => "1",
            UpdateFlag::Correct => "2",
            UpdateFlag::Withdraw => "3",
        }
    }

    /// The word stored in `requests.update_flag` and shown by the status API.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flag_keeps_its_word_and_its_code() {
        for flag in UpdateFlag::iter() {
            assert_eq!(UpdateFlag::by_code(flag.code()), Some(flag));
            assert_eq!(flag.as_str().parse(), Ok(flag));
        }
        assert_eq!(UpdateFlag::by_code("4"), None);
        assert_eq!(UpdateFlag::Withdraw.as_str(), "withdraw");
        assert_eq!(UpdateFlag::Correct.code(), "2");
    }
}
