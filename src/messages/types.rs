//! The hub's records: one request envelope, one result event, and each function's payloads.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{Area, CompanyCode, Function, RequestId, SupplyPointId, UpdateFlag};

/// One application accepted by the hub (topic `kirikae.requests.<area>`).
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    pub request_id: RequestId,
    pub function: Function,
    pub company_code: CompanyCode,
    pub user_id: String,
    pub point_id: SupplyPointId,
    pub update_flag: UpdateFlag,
    pub original_request_id: Option<RequestId>,
    pub accepted_at: DateTime<Utc>,
    pub payload: Payload,
    /// 0 as submitted; n for the n-th replay from the dead-letter topic.
    pub replay: i32,
}

impl RequestRecord {
    pub fn area(&self) -> Area {
        self.point_id.area()
    }
}

/// The function-specific part of a request.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Payload {
    FacilityInquiry(FacilityInquiry),
    SwitchStart(SwitchStart),
}

impl Payload {
    pub fn function(&self) -> Function {
        match self {
            Payload::FacilityInquiry(_) => Function::FacilityInquiry,
            Payload::SwitchStart(_) => Function::SwitchStart,
        }
    }
}

/// 設備情報照会: the point is all it needs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FacilityInquiry {}

/// スイッチング開始申請.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SwitchStart {
    pub planned_date: NaiveDate,
    pub previous_retailer_code: String,
    pub previous_customer_number: String,
    pub customer_name: String,
    #[serde(default)]
    pub customer_phone: Option<String>,
    #[serde(default)]
    pub contract_ampere: Option<i32>,
    #[serde(default)]
    pub intermediation_number: Option<String>,
    pub agreed_to_grid_terms: bool,
}

/// What a connector reports about a request (topic `kirikae.results.<area>`).
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRecord {
    pub request_id: RequestId,
    pub function: Function,
    pub company_code: CompanyCode,
    pub point_id: SupplyPointId,
    pub status: ResultStatus,
    pub code: Option<String>,
    pub message: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub attempts: i32,
    pub payload: Option<ResultPayload>,
    /// The replay generation of the request this result answers.
    pub replay: i32,
}

impl ResultRecord {
    /// A result event for `request` with the given outcome and no payload yet.
    pub fn for_request(request: &RequestRecord, status: ResultStatus, attempts: i32) -> Self {
        ResultRecord {
            request_id: request.request_id,
            function: request.function,
            company_code: request.company_code.clone(),
            point_id: request.point_id.clone(),
            status,
            code: None,
            message: None,
            occurred_at: Utc::now(),
            attempts,
            payload: None,
            replay: request.replay,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultStatus {
    Sent,
    Completed,
    Rejected,
    Failed,
}

impl ResultStatus {
    pub fn symbol(self) -> &'static str {
        match self {
            ResultStatus::Sent => "SENT",
            ResultStatus::Completed => "COMPLETED",
            ResultStatus::Rejected => "REJECTED",
            ResultStatus::Failed => "FAILED",
        }
    }

    pub fn is_final(self) -> bool {
        !matches!(self, ResultStatus::Sent)
    }

    pub fn request_status(self) -> crate::domain::RequestStatus {
        use crate::domain::RequestStatus as S;
        match self {
            ResultStatus::Sent => S::Sent,
            ResultStatus::Completed => S::Completed,
            ResultStatus::Rejected => S::Rejected,
            ResultStatus::Failed => S::Failed,
        }
    }
}

/// The function-specific part of a completed result.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ResultPayload {
    FacilityInquiry(FacilityInquiryResult),
    SwitchStart(SwitchStartResult),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FacilityInquiryResult {
    pub supply_address: String,
    pub contract_kind: String,
    pub contract_ampere: Option<i32>,
    pub contract_kva: Option<f64>,
    pub smart_meter: bool,
    pub meter_number: String,
    pub next_meter_reading_date: NaiveDate,
    pub current_retailer_code: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SwitchStartResult {
    pub application_number: String,
    pub switch_date: NaiveDate,
    pub reception_stage: String,
}
