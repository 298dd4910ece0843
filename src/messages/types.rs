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

    /// 申込種別: the function's, except 廃止 with removal, which is 02.
    pub fn application_kind(&self) -> Option<&'static str> {
        match &self.payload {
            Payload::Abolition(a) if a.with_removal => Some("02"),
            _ => self.function.application_kind(),
        }
    }
}

/// Declares the payload enum over record types: one variant per Avro record, carried by every
/// function whose row in [`crate::domain::SPECS`] names that record.
macro_rules! payloads {
    ($(#[$meta:meta])* $enum:ident { $($variant:ident($ty:ident)),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Serialize)]
        #[serde(untagged)]
        pub enum $enum { $($variant($ty)),+ }

        impl $enum {
            /// The Avro record's short name.
            pub fn record_name(&self) -> &'static str {
                match self { $($enum::$variant(_) => stringify!($ty)),+ }
            }

            /// The JSON form, as the schema names the fields.
            pub fn to_json(&self) -> serde_json::Value {
                // Structs of strings, numbers, dates and lists always serialize.
                match self { $($enum::$variant(p) => serde_json::to_value(p).unwrap_or_default()),+ }
            }

            /// The typed payload of record `record` from its JSON form; unknown fields refused.
            pub fn from_json(record: &str, json: serde_json::Value) -> Result<Self, String> {
                match record {
                    $(stringify!($ty) => serde_path_to_error::deserialize(json)
                        .map($enum::$variant)
                        .map_err(|e| e.to_string()),)+
                    other => Err(format!("no payload record {other}")),
                }
            }
        }
    };
}

payloads! {
    /// The function-specific part of a request.
    Payload {
        FacilityInquiry(FacilityInquiry),
        UsagePassword(UsagePassword),
        UsageInquiry(UsageInquiry),
        Reconnection(Reconnection),
        Abolition(Abolition),
        SwitchStart(SwitchStart),
        SwitchEnd(SwitchEnd),
        CustomerChange(CustomerChange),
        AmpereChange(AmpereChange),
        HvUsageRequest(HvUsageRequest),
        HvUsageInquiry(HvUsageInquiry),
        PointSearch(PointSearch),
    }
}

payloads! {
    /// The function-specific part of a completed result.
    ResultPayload {
        FacilityInquiry(FacilityInquiryResult),
        SwitchStart(SwitchStartResult),
        UsagePassword(UsagePasswordResult),
        Usage(UsageResult),
        Application(ApplicationResult),
        PointSearch(PointSearchResult),
    }
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

/// FIT区分 of a generation point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FitScheme {
    /// FIT 買取期間中
    Fit,
    /// FIT卒業
    PostFit,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FacilityInquiryResult {
    pub supply_address: String,
    pub contract_kind: String,
    #[serde(default)]
    pub contract_ampere: Option<i32>,
    #[serde(default)]
    pub contract_kva: Option<f64>,
    pub smart_meter: bool,
    pub meter_number: String,
    pub next_meter_reading_date: NaiveDate,
    /// Absent for a vacant point (no retailer: open to 再点).
    #[serde(default)]
    pub current_retailer_code: Option<String>,
    #[serde(default)]
    pub generation_kw: Option<f64>,
    #[serde(default)]
    pub fit_scheme: Option<FitScheme>,
}

/// The answer to a switch application (start or end).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SwitchStartResult {
    pub application_number: String,
    pub switch_date: NaiveDate,
    pub reception_stage: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsagePasswordResult {
    pub application_number: String,
    pub sent_on: NaiveDate,
    pub valid_until: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MonthlyUsage {
    /// YYYY-MM
    pub month: String,
    pub kwh: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HalfHourUsage {
    pub day: NaiveDate,
    /// 1..=48, 1 = 00:00–00:30.
    pub slot: i32,
    pub kwh: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageResult {
    pub smart_meter: bool,
    pub monthly: Vec<MonthlyUsage>,
    pub half_hourly: Vec<HalfHourUsage>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationResult {
    pub application_number: String,
    #[serde(default)]
    pub effective_date: Option<NaiveDate>,
    pub reception_stage: String,
}

impl Payload {
    /// The first catalogue function that carries this record: the low-voltage one, or the only
    /// one. For fixtures and load generators; a request names its function itself.
    pub fn first_function(&self) -> Function {
        let record = self.record_name();
        crate::domain::SPECS
            .iter()
            .find(|s| s.payload_record == record)
            .map(|s| s.function)
            .unwrap_or(Function::FacilityInquiry)
    }
}

/// 設備情報照会: the point is all it needs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FacilityInquiry {}

/// 契約決定方法 (required by 09 九州 on low-voltage switch-start and reconnection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ContractMethod {
    /// アンペアブレーカー(60A以下)
    AmpereBreaker,
    /// 主開閉器
    MainSwitch,
    /// 実量
    Measured,
    /// 負荷設備
    ConnectedLoad,
}

/// スイッチング開始申請 (low voltage, high voltage, post-FIT generation).
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
    #[serde(default)]
    pub contract_method: Option<ContractMethod>,
    #[serde(default)]
    pub contract_kw: Option<f64>,
}

/// 使用量情報照会(パスワード取得申請).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsagePassword {
    pub customer_name: String,
    #[serde(default)]
    pub customer_phone: Option<String>,
}

/// 使用量情報照会 (low voltage), with the customer's password.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageInquiry {
    pub usage_password: String,
    #[serde(default)]
    pub months: Option<i32>,
}

/// 高圧・特別高圧の電圧区分.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum VoltageClass {
    /// 高圧500kW未満
    #[serde(rename = "HV_BELOW_500KW")]
    HvBelow500kw,
    /// 高圧500kW以上
    #[serde(rename = "HV_500KW_OR_MORE")]
    Hv500kwOrMore,
    /// 特別高圧
    #[serde(rename = "EXTRA_HIGH")]
    ExtraHigh,
}

/// 使用量情報照会申請 (high voltage).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HvUsageRequest {
    pub voltage_class: VoltageClass,
    pub customer_name: String,
    pub consent_reference: String,
}

/// 使用量情報照会 (high voltage), by the accepted request's 申込番号.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HvUsageInquiry {
    pub application_number: String,
    #[serde(default)]
    pub months: Option<i32>,
}

/// 再点 (low voltage, post-FIT generation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reconnection {
    pub planned_date: NaiveDate,
    pub customer_name: String,
    #[serde(default)]
    pub customer_phone: Option<String>,
    #[serde(default)]
    pub contract_ampere: Option<i32>,
    #[serde(default)]
    pub contract_method: Option<ContractMethod>,
    pub agreed_to_grid_terms: bool,
}

/// 廃止・撤去.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Abolition {
    pub planned_date: NaiveDate,
    pub with_removal: bool,
    #[serde(default)]
    pub reason: Option<String>,
}

/// スイッチング廃止申請 (the current retailer's half of a switch).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SwitchEnd {
    pub planned_date: NaiveDate,
    pub new_retailer_code: String,
    pub customer_number: String,
    #[serde(default)]
    pub intermediation_number: Option<String>,
}

/// 需要者情報変更 / 発電者情報変更.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerChange {
    pub effective_date: NaiveDate,
    #[serde(default)]
    pub customer_name: Option<String>,
    #[serde(default)]
    pub customer_phone: Option<String>,
    #[serde(default)]
    pub mailing_address: Option<String>,
}

/// アンペア変更.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AmpereChange {
    pub planned_date: NaiveDate,
    pub contract_ampere: i32,
}

/// 特定地点検索: at least one criterion; all given must match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PointSearch {
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub service_pole_number: Option<String>,
    #[serde(default)]
    pub meter_number: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PointMatch {
    pub point_id: String,
    pub supply_address: String,
    pub service_pole_number: String,
    pub meter_number: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PointSearchResult {
    pub matches: Vec<PointMatch>,
    pub truncated: bool,
}

/// One row of the trail as it travels on topic `<prefix>.audit` (`schemas/audit_record.avsc`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AuditRecord {
    pub id: i64,
    pub at: chrono::DateTime<chrono::Utc>,
    pub company_code: String,
    pub user_id: String,
    pub contractor: Option<String>,
    pub certificate: Option<String>,
    pub action: String,
    pub subject_id: String,
    /// A JSON object, as text.
    pub detail: String,
}
