//! The states a request passes through, as the status API shows them.

use strum::{Display, EnumIter, EnumMessage, EnumString, IntoStaticStr};

/// accepted (受付) → sent (送信済) → completed (完了) | rejected (不可) | failed (システムエラー).
/// The lowercase word is the one stored in `requests.status` and shown by the API; the
/// message is the Japanese label.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Display,
    EnumIter,
    EnumMessage,
    EnumString,
    IntoStaticStr,
)]
#[strum(serialize_all = "lowercase")]
pub enum RequestStatus {
    #[strum(message = "受付")]
    Accepted,
    #[strum(message = "送信済")]
    Sent,
    #[strum(message = "完了")]
    Completed,
    #[strum(message = "不可")]
    Rejected,
    #[strum(message = "システムエラー")]
    Failed,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn label_ja(self) -> &'static str {
        self.get_message().unwrap_or_default()
    }

    /// Progress order. A status never moves backwards: a late or redelivered event with a
    /// lower rank than the stored one changes nothing.
    pub fn rank(self) -> i16 {
        match self {
            RequestStatus::Accepted => 0,
            RequestStatus::Sent => 1,
            RequestStatus::Completed | RequestStatus::Rejected | RequestStatus::Failed => 2,
        }
    }

    pub fn is_final(self) -> bool {
        self.rank() == 2
    }
}

#[cfg(test)]
mod tests {
    use strum::IntoEnumIterator;

    use super::*;

    #[test]
    fn a_status_never_moves_backwards() {
        assert!(RequestStatus::Sent.rank() > RequestStatus::Accepted.rank());
        assert!(RequestStatus::Completed.rank() > RequestStatus::Sent.rank());
        assert!(RequestStatus::Rejected.is_final() && RequestStatus::Failed.is_final());
        for s in ["accepted", "sent", "completed", "rejected", "failed"] {
            assert_eq!(s.parse::<RequestStatus>().unwrap().as_str(), s);
        }
    }

    #[test]
    fn every_status_has_its_japanese_label() {
        let labels: Vec<_> = RequestStatus::iter().map(RequestStatus::label_ja).collect();
        assert_eq!(labels, ["受付", "送信済", "完了", "不可", "システムエラー"]);
        assert_eq!(RequestStatus::Sent.to_string(), "sent");
    }
}
