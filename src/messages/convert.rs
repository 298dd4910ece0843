//! Hand-written conversions between the hub's records and Avro values.
//!
//! Written out rather than derived: unions of records and logical types are where serde-based
//! mapping is fragile, and each field of the contract is worth seeing.

use apache_avro::types::Value;
use chrono::{DateTime, NaiveDate, Utc};

use super::codec::CodecError;
use super::types::*;
use crate::domain::{CompanyCode, Function, RequestId, SupplyPointId, UpdateFlag};

const EPOCH: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

fn opt<T>(v: Option<T>, f: impl FnOnce(T) -> Value) -> Value {
    match v {
        None => Value::Union(0, Box::new(Value::Null)),
        Some(x) => Value::Union(1, Box::new(f(x))),
    }
}

fn date(d: NaiveDate) -> Value {
    Value::Date((d - EPOCH).num_days() as i32)
}

fn millis(t: DateTime<Utc>) -> Value {
    Value::TimestampMillis(t.timestamp_millis())
}

fn record(fields: Vec<(&str, Value)>) -> Value {
    Value::Record(
        fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

/// Reads fields of a decoded record by name, with a classified error for anything unexpected.
struct Fields(Vec<(String, Value)>);

impl Fields {
    fn of(v: Value, what: &'static str) -> Result<Self, CodecError> {
        match v {
            Value::Record(f) => Ok(Fields(f)),
            _ => Err(CodecError::Shape(format!("{what} is not a record"))),
        }
    }

    fn take(&mut self, name: &str) -> Result<Value, CodecError> {
        let i = self.0.iter().position(|(k, _)| k == name);
        i.map(|i| self.0.swap_remove(i).1)
            .ok_or_else(|| CodecError::Shape(format!("field {name} missing")))
    }

    fn string(&mut self, name: &str) -> Result<String, CodecError> {
        match self.take(name)? {
            Value::String(s) => Ok(s),
            _ => Err(bad(name)),
        }
    }

    fn opt(&mut self, name: &str) -> Result<Option<Value>, CodecError> {
        match self.take(name)? {
            Value::Union(_, v) if *v == Value::Null => Ok(None),
            Value::Union(_, v) => Ok(Some(*v)),
            Value::Null => Ok(None),
            _ => Err(bad(name)),
        }
    }

    fn opt_string(&mut self, name: &str) -> Result<Option<String>, CodecError> {
        match self.opt(name)? {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(bad(name)),
        }
    }

    fn opt_int(&mut self, name: &str) -> Result<Option<i32>, CodecError> {
        match self.opt(name)? {
            None => Ok(None),
            Some(Value::Int(i)) => Ok(Some(i)),
            Some(_) => Err(bad(name)),
        }
    }

    fn opt_double(&mut self, name: &str) -> Result<Option<f64>, CodecError> {
        match self.opt(name)? {
            None => Ok(None),
            Some(Value::Double(d)) => Ok(Some(d)),
            Some(_) => Err(bad(name)),
        }
    }

    fn int(&mut self, name: &str) -> Result<i32, CodecError> {
        match self.take(name)? {
            Value::Int(i) => Ok(i),
            _ => Err(bad(name)),
        }
    }

    fn boolean(&mut self, name: &str) -> Result<bool, CodecError> {
        match self.take(name)? {
            Value::Boolean(b) => Ok(b),
            _ => Err(bad(name)),
        }
    }

    fn date(&mut self, name: &str) -> Result<NaiveDate, CodecError> {
        match self.take(name)? {
            Value::Date(d) | Value::Int(d) => EPOCH
                .checked_add_signed(chrono::Duration::days(d.into()))
                .ok_or_else(|| bad(name)),
            _ => Err(bad(name)),
        }
    }

    fn millis(&mut self, name: &str) -> Result<DateTime<Utc>, CodecError> {
        match self.take(name)? {
            Value::TimestampMillis(ms) | Value::Long(ms) => {
                DateTime::from_timestamp_millis(ms).ok_or_else(|| bad(name))
            }
            _ => Err(bad(name)),
        }
    }

    fn symbol(&mut self, name: &str) -> Result<String, CodecError> {
        match self.take(name)? {
            Value::Enum(_, sym) => Ok(sym),
            _ => Err(bad(name)),
        }
    }

    fn union(&mut self, name: &str) -> Result<(u32, Value), CodecError> {
        match self.take(name)? {
            Value::Union(i, v) => Ok((i, *v)),
            _ => Err(bad(name)),
        }
    }

    fn parsed<T: std::str::FromStr>(&mut self, name: &str) -> Result<T, CodecError> {
        self.string(name)?.parse().map_err(|_| bad(name))
    }
}

fn bad(name: &str) -> CodecError {
    CodecError::Shape(format!("field {name} has an unexpected value"))
}

pub fn request_to_value(r: &RequestRecord) -> Value {
    let (branch, payload) = match &r.payload {
        Payload::FacilityInquiry(_) => (0, record(vec![])),
        Payload::SwitchStart(p) => (1, switch_start_to_value(p)),
    };
    let flag = match r.update_flag {
        UpdateFlag::Register => (0, "REGISTER"),
        UpdateFlag::Correct => (1, "CORRECT"),
        UpdateFlag::Withdraw => (2, "WITHDRAW"),
    };
    record(vec![
        ("request_id", s(&r.request_id.to_string())),
        ("function", s(r.function.slug())),
        ("service_id", s(r.function.service_id())),
        ("company_code", s(r.company_code.as_str())),
        ("user_id", s(&r.user_id)),
        ("area", s(r.area().code())),
        ("point_id", s(r.point_id.as_str())),
        ("update_flag", Value::Enum(flag.0, flag.1.to_string())),
        (
            "original_request_id",
            opt(r.original_request_id, |id| s(&id.to_string())),
        ),
        ("accepted_at", millis(r.accepted_at)),
        ("payload", Value::Union(branch, Box::new(payload))),
        ("replay", Value::Int(r.replay)),
    ])
}

fn switch_start_to_value(p: &SwitchStart) -> Value {
    record(vec![
        ("planned_date", date(p.planned_date)),
        ("previous_retailer_code", s(&p.previous_retailer_code)),
        ("previous_customer_number", s(&p.previous_customer_number)),
        ("customer_name", s(&p.customer_name)),
        ("customer_phone", opt(p.customer_phone.as_deref(), s)),
        ("contract_ampere", opt(p.contract_ampere, Value::Int)),
        (
            "intermediation_number",
            opt(p.intermediation_number.as_deref(), s),
        ),
        (
            "agreed_to_grid_terms",
            Value::Boolean(p.agreed_to_grid_terms),
        ),
    ])
}

pub fn request_from_value(v: Value) -> Result<RequestRecord, CodecError> {
    let mut f = Fields::of(v, "Request")?;
    let function: Function = f.parsed("function")?;
    let point_id: SupplyPointId = f.parsed("point_id")?;
    let area = f.string("area")?;
    if area != point_id.area().code() {
        return Err(CodecError::Shape(format!(
            "area {area} disagrees with point {point_id}"
        )));
    }
    let update_flag = match f.symbol("update_flag")?.as_str() {
        "REGISTER" => UpdateFlag::Register,
        "CORRECT" => UpdateFlag::Correct,
        "WITHDRAW" => UpdateFlag::Withdraw,
        _ => return Err(bad("update_flag")),
    };
    let original_request_id = match f.opt_string("original_request_id")? {
        None => None,
        Some(s) => Some(
            s.parse::<RequestId>()
                .map_err(|_| bad("original_request_id"))?,
        ),
    };
    let payload = match f.union("payload")? {
        (0, _) => Payload::FacilityInquiry(FacilityInquiry {}),
        (1, v) => Payload::SwitchStart(switch_start_from_value(v)?),
        _ => return Err(bad("payload")),
    };
    if payload.function() != function {
        return Err(CodecError::Shape(format!(
            "payload is not that of {function}"
        )));
    }
    Ok(RequestRecord {
        request_id: f.parsed("request_id")?,
        function,
        company_code: CompanyCode::parse(&f.string("company_code")?)
            .map_err(|_| bad("company_code"))?,
        user_id: f.string("user_id")?,
        point_id,
        update_flag,
        original_request_id,
        accepted_at: f.millis("accepted_at")?,
        payload,
        replay: f.int("replay")?,
    })
}

fn switch_start_from_value(v: Value) -> Result<SwitchStart, CodecError> {
    let mut f = Fields::of(v, "SwitchStart")?;
    Ok(SwitchStart {
        planned_date: f.date("planned_date")?,
        previous_retailer_code: f.string("previous_retailer_code")?,
        previous_customer_number: f.string("previous_customer_number")?,
        customer_name: f.string("customer_name")?,
        customer_phone: f.opt_string("customer_phone")?,
        contract_ampere: f.opt_int("contract_ampere")?,
        intermediation_number: f.opt_string("intermediation_number")?,
        agreed_to_grid_terms: f.boolean("agreed_to_grid_terms")?,
    })
}

pub fn result_to_value(r: &ResultRecord) -> Value {
    let status_index = match r.status {
        ResultStatus::Sent => 0,
        ResultStatus::Completed => 1,
        ResultStatus::Rejected => 2,
        ResultStatus::Failed => 3,
    };
    let payload = match &r.payload {
        None => Value::Union(0, Box::new(Value::Null)),
        Some(ResultPayload::FacilityInquiry(p)) => Value::Union(
            1,
            Box::new(record(vec![
                ("supply_address", s(&p.supply_address)),
                ("contract_kind", s(&p.contract_kind)),
                ("contract_ampere", opt(p.contract_ampere, Value::Int)),
                ("contract_kva", opt(p.contract_kva, Value::Double)),
                ("smart_meter", Value::Boolean(p.smart_meter)),
                ("meter_number", s(&p.meter_number)),
                ("next_meter_reading_date", date(p.next_meter_reading_date)),
                ("current_retailer_code", s(&p.current_retailer_code)),
            ])),
        ),
        Some(ResultPayload::SwitchStart(p)) => Value::Union(
            2,
            Box::new(record(vec![
                ("application_number", s(&p.application_number)),
                ("switch_date", date(p.switch_date)),
                ("reception_stage", s(&p.reception_stage)),
            ])),
        ),
    };
    record(vec![
        ("request_id", s(&r.request_id.to_string())),
        ("function", s(r.function.slug())),
        ("company_code", s(r.company_code.as_str())),
        ("area", s(r.point_id.area().code())),
        ("point_id", s(r.point_id.as_str())),
        (
            "status",
            Value::Enum(status_index, r.status.symbol().to_string()),
        ),
        ("code", opt(r.code.as_deref(), s)),
        ("message", opt(r.message.as_deref(), s)),
        ("occurred_at", millis(r.occurred_at)),
        ("attempts", Value::Int(r.attempts)),
        ("payload", payload),
        ("replay", Value::Int(r.replay)),
    ])
}

pub fn result_from_value(v: Value) -> Result<ResultRecord, CodecError> {
    let mut f = Fields::of(v, "Result")?;
    let status = match f.symbol("status")?.as_str() {
        "SENT" => ResultStatus::Sent,
        "COMPLETED" => ResultStatus::Completed,
        "REJECTED" => ResultStatus::Rejected,
        "FAILED" => ResultStatus::Failed,
        _ => return Err(bad("status")),
    };
    let payload = match f.union("payload")? {
        (0, _) => None,
        (1, v) => {
            let mut p = Fields::of(v, "FacilityInquiryResult")?;
            Some(ResultPayload::FacilityInquiry(FacilityInquiryResult {
                supply_address: p.string("supply_address")?,
                contract_kind: p.string("contract_kind")?,
                contract_ampere: p.opt_int("contract_ampere")?,
                contract_kva: p.opt_double("contract_kva")?,
                smart_meter: p.boolean("smart_meter")?,
                meter_number: p.string("meter_number")?,
                next_meter_reading_date: p.date("next_meter_reading_date")?,
                current_retailer_code: p.string("current_retailer_code")?,
            }))
        }
        (2, v) => {
            let mut p = Fields::of(v, "SwitchStartResult")?;
            Some(ResultPayload::SwitchStart(SwitchStartResult {
                application_number: p.string("application_number")?,
                switch_date: p.date("switch_date")?,
                reception_stage: p.string("reception_stage")?,
            }))
        }
        _ => return Err(bad("payload")),
    };
    Ok(ResultRecord {
        request_id: f.parsed("request_id")?,
        function: f.parsed("function")?,
        company_code: CompanyCode::parse(&f.string("company_code")?)
            .map_err(|_| bad("company_code"))?,
        point_id: f.parsed("point_id")?,
        status,
        code: f.opt_string("code")?,
        message: f.opt_string("message")?,
        occurred_at: f.millis("occurred_at")?,
        attempts: f.int("attempts")?,
        payload,
        replay: f.int("replay")?,
    })
}
