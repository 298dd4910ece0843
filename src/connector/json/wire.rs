//! The JSON dialect's documents, shared by both ends so that the client and the simulator
//! cannot drift apart: typed, every object closed to unknown fields, texts that must say
//! something, and dates written and read only as `YYYY-MM-DD`.

use chrono::{NaiveDate, SecondsFormat};
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::messages::{FacilityInquiryResult, Payload, RequestRecord, SwitchStartResult};

/// One whole document of type `T`, nothing before or after it but whitespace; the complaint
/// names the field that was wrong. Total: any bytes give a `T` or a reason.
///
/// The dialect has no arrays, so a document holding one is refused before it is typed: serde
/// would otherwise read a struct's fields by position from an array.
pub fn read<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    let tree: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    if holds_an_array(&tree) {
        return Err("an array, which the dialect never uses".into());
    }
    let mut reader = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut reader)
        .map_err(|e| format!("at {}: {}", e.path(), e.inner()))?;
    reader
        .end()
        .map_err(|e| format!("after the document: {e}"))?;
    Ok(value)
}

/// Shallow recursion: serde_json refuses documents nested deeper than 128 levels.
fn holds_an_array(value: &Value) -> bool {
    match value {
        Value::Array(_) => true,
        Value::Object(fields) => fields.values().any(holds_an_array),
        _ => false,
    }
}

/// A calendar date on the wire: exactly `YYYY-MM-DD`, not the looser forms chrono also reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Day(pub NaiveDate);

impl Serialize for Day {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0.format("%Y-%m-%d"))
    }
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        crate::connector::protocol::strict_day(&raw)
            .map(Day)
            .ok_or_else(|| D::Error::custom(format!("{raw:?} is not a YYYY-MM-DD date")))
    }
}

/// A text that must say something (ids, codes, numbers, names): empty or blank is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Filled(pub String);

impl<'de> Deserialize<'de> for Filled {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        if raw.trim().is_empty() {
            return Err(D::Error::custom("an empty text"));
        }
        Ok(Filled(raw))
    }
}

impl From<&str> for Filled {
    fn from(s: &str) -> Self {
        Filled(s.to_string())
    }
}

/// The body of `POST <endpoint>/<service_id>`: the routing facts, then the function's fields
/// at the top level. 設備情報照会 has none; the スイッチング開始申請 ones are optional here
/// and required by the reader of that function, which also refuses them on any other.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestBody {
    pub request_id: Filled,
    pub company_code: Filled,
    pub user_id: Filled,
    /// 更新フラグ: "1" 登録, "2" 訂正, "3" 取消.
    pub update_flag: Filled,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_request_id: Option<Filled>,
    /// When the hub accepted the request, RFC 3339 in UTC.
    pub accepted_at: Filled,
    pub supply_point_id: Filled,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_date: Option<Day>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_retailer_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_customer_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_ampere: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intermediation_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreed_to_grid_terms: Option<bool>,
}

impl RequestBody {
    /// The body that carries `request`.
    pub fn of(request: &RequestRecord) -> Self {
        let switch = match &request.payload {
            Payload::FacilityInquiry(_) => None,
            Payload::SwitchStart(s) => Some(s),
        };
        let accepted_at = request
            .accepted_at
            .to_rfc3339_opts(SecondsFormat::AutoSi, true);
        RequestBody {
            request_id: Filled(request.request_id.to_string()),
            company_code: request.company_code.as_str().into(),
            user_id: Filled(request.user_id.clone()),
            update_flag: request.update_flag.code().into(),
            original_request_id: request.original_request_id.map(|id| Filled(id.to_string())),
            accepted_at: Filled(accepted_at),
            supply_point_id: request.point_id.as_str().into(),
            planned_date: switch.map(|s| Day(s.planned_date)),
            previous_retailer_code: switch.map(|s| s.previous_retailer_code.clone()),
            previous_customer_number: switch.map(|s| s.previous_customer_number.clone()),
            customer_name: switch.map(|s| s.customer_name.clone()),
            customer_phone: switch.and_then(|s| s.customer_phone.clone()),
            contract_ampere: switch.and_then(|s| s.contract_ampere),
            intermediation_number: switch.and_then(|s| s.intermediation_number.clone()),
            agreed_to_grid_terms: switch.map(|s| s.agreed_to_grid_terms),
        }
    }

    /// The first スイッチング開始申請 field present, for readers of functions that have none.
    pub fn first_switch_start_field(&self) -> Option<&'static str> {
        [
            ("planned_date", self.planned_date.is_some()),
            (
                "previous_retailer_code",
                self.previous_retailer_code.is_some(),
            ),
            (
                "previous_customer_number",
                self.previous_customer_number.is_some(),
            ),
            ("customer_name", self.customer_name.is_some()),
            ("customer_phone", self.customer_phone.is_some()),
            ("contract_ampere", self.contract_ampere.is_some()),
            (
                "intermediation_number",
                self.intermediation_number.is_some(),
            ),
            ("agreed_to_grid_terms", self.agreed_to_grid_terms.is_some()),
        ]
        .into_iter()
        .find_map(|(name, present)| present.then_some(name))
    }
}

/// HTTP 200: the function's result, for the request id echoed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Completed<R> {
    pub request_id: Filled,
    pub result: R,
}

/// HTTP 422: a business refusal (不可), for the request id echoed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refused {
    pub request_id: Filled,
    pub error: ErrorBody,
}

/// The operator's code (E1001…) and message; also the body of the simulator's other errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    pub code: Filled,
    pub message: Filled,
}

/// 設備情報照会's result; the contract has either amperes or kVA, the other is left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FacilityResult {
    pub supply_address: Filled,
    pub contract_kind: Filled,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_ampere: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_kva: Option<f64>,
    pub smart_meter: bool,
    pub meter_number: Filled,
    pub next_meter_reading_date: Day,
    pub current_retailer_code: Filled,
}

impl From<&FacilityInquiryResult> for FacilityResult {
    fn from(r: &FacilityInquiryResult) -> Self {
        FacilityResult {
            supply_address: r.supply_address.as_str().into(),
            contract_kind: r.contract_kind.as_str().into(),
            contract_ampere: r.contract_ampere,
            contract_kva: r.contract_kva,
            smart_meter: r.smart_meter,
            meter_number: r.meter_number.as_str().into(),
            next_meter_reading_date: Day(r.next_meter_reading_date),
            current_retailer_code: r.current_retailer_code.as_str().into(),
        }
    }
}

impl From<FacilityResult> for FacilityInquiryResult {
    fn from(r: FacilityResult) -> Self {
        FacilityInquiryResult {
            supply_address: r.supply_address.0,
            contract_kind: r.contract_kind.0,
            contract_ampere: r.contract_ampere,
            contract_kva: r.contract_kva,
            smart_meter: r.smart_meter,
            meter_number: r.meter_number.0,
            next_meter_reading_date: r.next_meter_reading_date.0,
            current_retailer_code: r.current_retailer_code.0,
        }
    }
}

/// スイッチング開始申請's result: the 申込番号, the switch date and the reception stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwitchResult {
    pub application_number: Filled,
    pub switch_date: Day,
    pub reception_stage: Filled,
}

impl From<&SwitchStartResult> for SwitchResult {
    fn from(r: &SwitchStartResult) -> Self {
        SwitchResult {
            application_number: r.application_number.as_str().into(),
            switch_date: Day(r.switch_date),
            reception_stage: r.reception_stage.as_str().into(),
        }
    }
}

impl From<SwitchResult> for SwitchStartResult {
    fn from(r: SwitchResult) -> Self {
        SwitchStartResult {
            application_number: r.application_number.0,
            switch_date: r.switch_date.0,
            reception_stage: r.reception_stage.0,
        }
    }
}
