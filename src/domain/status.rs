//! The states a request passes through, as the status API shows them.

use std::fmt;
use std::str::FromStr;

/// accepted (受付) → sent (送信済) → completed (完了) | rejected (不可) | failed (システムエラー).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestStatus {
    Accepted,
    Sent,
    Completed,
    Rejected,
    Failed,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Accepted => "accepted",
            RequestStatus::Sent => "sent",
            RequestStatus::Completed => "completed",
            RequestStatus::Rejected => "rejected",
            RequestStatus::Failed => "failed",
        }
    }

    pub fn label_ja(self) -> &'static str {
        match self {
            RequestStatus::Accepted => "受付",
            RequestStatus::Sent => "送信済",
            RequestStatus::Completed => "完了",
            RequestStatus::Rejected => "不可",
            RequestStatus::Failed => "システムエラー",
        }
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

impl FromStr for RequestStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "accepted" => RequestStatus::Accepted,
            "sent" => RequestStatus::Sent,
            "completed" => RequestStatus::Completed,
            "rejected" => RequestStatus::Rejected,
            "failed" => RequestStatus::Failed,
            other => return Err(format!("unknown status {other:?}")),
        })
    }
}

impl fmt::Display for RequestStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
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
}
