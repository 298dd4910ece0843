//! The JSON dialect's documents, shared by both ends so that the client and the simulator
//! cannot drift apart. The envelopes are typed and closed to unknown fields, with texts that
//! must say something; the function's own fields travel as the record's JSON form (under
//! `fields` in a request, `result` in an answer), checked against the record's shape by
//! [`super::form`] rather than by a hand-written struct per function.
//!
//! ```text
//! POST <endpoint>/IF_10610   Idempotency-Key: <request_id>
//! {"request_id": "…", "company_code": "A0001", "user_id": "…", "update_flag": "1",
//!  "accepted_at": "2026-11-25T01:02:03Z", "supply_point_id": "0400123456789012340001",
//!  "fields": {"planned_date": "2026-12-01", "customer_name": "…", …}}
//!
//! 200 {"request_id": "…", "result": {"application_number": "…", …}}
//! 200 {"request_id": "…", "acknowledged": true}
//! 202 {"request_id": "…", "pending": {"stage": "05"}}
//! 422 {"request_id": "…", "error": {"code": "E1001", "message": "…"}}
//! ```

use std::fmt;

use serde::de::{DeserializeOwned, Error as _, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// The members that hold a record's JSON form; the only places a list may appear.
const FORMS: [&str; 2] = ["fields", "result"];

/// One whole JSON value, nothing before or after it but whitespace, and no object naming a
/// member twice (serde_json alone would keep the last). Total: any bytes give a value or a
/// reason; serde_json refuses documents nested deeper than 128 levels.
pub fn value(body: &[u8]) -> Result<Value, String> {
    let mut reader = serde_json::Deserializer::from_slice(body);
    let Strict(tree) = Strict::deserialize(&mut reader).map_err(|e| format!("not JSON: {e}"))?;
    reader
        .end()
        .map_err(|e| format!("after the document: {e}"))?;
    Ok(tree)
}

/// One whole document of type `T`; the complaint names the field that was wrong.
///
/// Lists are refused outside the record forms before the document is typed: serde would
/// otherwise read a struct's fields by position from an array. Inside a form, the record's
/// shape decides where a list belongs.
pub fn read<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    let tree = value(body)?;
    if holds_an_array(&tree, true) {
        return Err("an array outside a record's fields, which the dialect never uses".into());
    }
    serde_path_to_error::deserialize(tree).map_err(|e| format!("at {}: {}", e.path(), e.inner()))
}

/// Shallow recursion: the value is at most 128 levels deep.
fn holds_an_array(value: &Value, top: bool) -> bool {
    match value {
        Value::Array(_) => true,
        Value::Object(members) => members
            .iter()
            .any(|(k, v)| !(top && FORMS.contains(&k.as_str())) && holds_an_array(v, false)),
        _ => false,
    }
}

/// A JSON value read without letting a repeated member overwrite the first.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("a number that is not finite"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if members.contains_key(&key) {
                return Err(A::Error::custom(format!("member {key:?} appears twice")));
            }
            let Strict(v) = map.next_value()?;
            members.insert(key, v);
        }
        Ok(Value::Object(members))
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

/// The body of `POST <endpoint>/<service_id>`: the routing facts, then the function's payload
/// in its JSON form (nulls left out) under `fields`, `{}` for a function without any.
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
    /// The payload record's JSON form, checked against its shape by the reader.
    pub fields: Value,
}

/// HTTP 200, for the request id echoed: the function's result in its JSON form, or
/// `"acknowledged": true` for a correction or withdrawal done with nothing to return. Exactly
/// one of the two.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Done {
    pub request_id: Filled,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<bool>,
}

/// HTTP 202: the operator holds the application at a reception stage; asking again with the
/// same request id is the status check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pending {
    pub request_id: Filled,
    pub pending: Stage,
}

/// 受付工程: where the operator holds the application.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    pub stage: Filled,
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
