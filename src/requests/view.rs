//! A request as 業務処理状況確認 shows it, to the API, a web screen or an export alike.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::domain::{Function, Operation};

/// One request as the status API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RequestView {
    pub request_id: Uuid,
    pub function: String,
    pub function_name_ja: &'static str,
    pub service_id: String,
    pub area: String,
    pub supply_point_id: String,
    pub update_flag: String,
    pub status: String,
    pub status_ja: &'static str,
    /// The operator's code of a refusal (E1001…), the hub's of a failure, or `held` while the
    /// status is `sent` and the operator holds the application (a switch awaiting its
    /// counterpart).
    pub code: Option<String>,
    /// What the code means; for `held`, the operator's 受付工程 and what it waits for
    /// (`照合待ち (受付工程 05): …`).
    pub message: Option<String>,
    pub attempts: i32,
    /// How often an operator replayed it from the dead-letter topic.
    pub replay: i32,
    /// The function's result once completed (FacilityInquiryResult, SwitchStartResult, …).
    #[schema(value_type = Option<Object>)]
    pub result: Option<serde_json::Value>,
    pub user_id: String,
    pub accepted_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl RequestView {
    pub fn function(&self) -> Option<Function> {
        self.function.parse().ok()
    }

    /// Whether showing it shows a customer's or generator's personal data (addresses, names,
    /// usage): every such read is written to the audit log first (terms 4.1–4.5).
    pub fn shows_personal_data(&self) -> bool {
        self.result.is_some()
            && self.function().is_some_and(|f| {
                matches!(
                    f.operation(),
                    Operation::FacilityInquiry | Operation::UsageInquiry | Operation::PointSearch
                )
            })
    }
}
