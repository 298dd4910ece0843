//! Hand-written conversions between the hub's records and Avro values.
//!
//! Written out rather than derived: unions of records and logical types are where serde-based
//! mapping is fragile, and each field of the contract is worth seeing.

use apache_avro::types::Value;
use chrono::{DateTime, Utc};

use super::codec::CodecError;
use super::shape::{from_avro, shapes, to_avro};
use super::types::*;
use crate::domain::{CompanyCode, Function, RequestId, SupplyPointId, UpdateFlag};

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

fn opt<T>(v: Option<T>, f: impl FnOnce(T) -> Value) -> Value {
    match v {
        None => Value::Union(0, Box::new(Value::Null)),
        Some(x) => Value::Union(1, Box::new(f(x))),
    }
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

    fn int(&mut self, name: &str) -> Result<i32, CodecError> {
        match self.take(name)? {
            Value::Int(i) => Ok(i),
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

/// The payload's union branch and Avro value: the branch is its record's place in the union.
fn payload_to_value(
    record: &str,
    json: &serde_json::Value,
    branches: &[String],
    offset: u32,
) -> Result<Value, CodecError> {
    let branch = branches
        .iter()
        .position(|b| b == record)
        .ok_or_else(|| CodecError::Shape(format!("no payload branch {record}")))?;
    let shape = shapes().known(record);
    let value = to_avro(json, shape).map_err(|e| CodecError::Shape(e.to_string()))?;
    Ok(Value::Union(branch as u32 + offset, Box::new(value)))
}

/// The record name and JSON form of a decoded payload branch.
fn payload_from_value(
    branch: u32,
    value: Value,
    branches: &[String],
) -> Result<(String, serde_json::Value), CodecError> {
    let record = branches
        .get(branch as usize)
        .ok_or_else(|| bad("payload"))?;
    let json =
        from_avro(value, shapes().known(record)).map_err(|e| CodecError::Shape(e.to_string()))?;
    Ok((record.clone(), json))
}

pub fn request_to_value(r: &RequestRecord) -> Result<Value, CodecError> {
    let payload = payload_to_value(
        r.payload.record_name(),
        &r.payload.to_json(),
        &shapes().request_payloads,
        0,
    )?;
    let flag = match r.update_flag {
        UpdateFlag::Register => (0, "REGISTER"),
        UpdateFlag::Correct => (1, "CORRECT"),
        UpdateFlag::Withdraw => (2, "WITHDRAW"),
    };
    Ok(record(vec![
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
        ("payload", payload),
        ("replay", Value::Int(r.replay)),
    ]))
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
    let (branch, value) = f.union("payload")?;
    let (record, json) = payload_from_value(branch, value, &shapes().request_payloads)?;
    if record != function.spec().payload_record {
        return Err(CodecError::Shape(format!(
            "payload {record} is not that of {function}"
        )));
    }
    let payload = Payload::from_json(&record, json).map_err(CodecError::Shape)?;
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

pub fn result_to_value(r: &ResultRecord) -> Result<Value, CodecError> {
    let status_index = match r.status {
        ResultStatus::Sent => 0,
        ResultStatus::Completed => 1,
        ResultStatus::Rejected => 2,
        ResultStatus::Failed => 3,
    };
    let payload = match &r.payload {
        None => Value::Union(0, Box::new(Value::Null)),
        Some(p) => payload_to_value(p.record_name(), &p.to_json(), &shapes().result_payloads, 1)?,
    };
    Ok(record(vec![
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
    ]))
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
    let function: Function = f.parsed("function")?;
    let payload = match f.union("payload")? {
        (0, _) => None,
        (branch, value) => {
            let (record, json) = payload_from_value(branch - 1, value, &shapes().result_payloads)?;
            if record != function.spec().result_record {
                return Err(CodecError::Shape(format!(
                    "result {record} is not that of {function}"
                )));
            }
            Some(ResultPayload::from_json(&record, json).map_err(CodecError::Shape)?)
        }
    };
    Ok(ResultRecord {
        request_id: f.parsed("request_id")?,
        function,
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
