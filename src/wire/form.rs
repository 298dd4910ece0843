//! A record's JSON form as the three protocol families carry it, for every function alike: the
//! function's [`crate::domain::SPECS`] row names the payload and result records, the record's
//! shape (read from `schemas/`) says what fits, and the typed payload is made from the form
//! only once the shape has accepted it. SOAP elements and CSV cells are read into this form
//! first (by [`crate::wire::soap::record`] and [`crate::wire::batch`]), so one
//! check decides what every family accepts.
//!
//! The rules on top of the shape: absent and null mean the same on every wire (writers leave
//! nulls out, readers take a missing optional field as null), and a required text of a result
//! must say something (an empty or blank 申込番号 or address is not an answer).

use serde_json::Value;

use crate::domain::Function;
use crate::messages::shape::{RecordShape, Shape, shapes, to_avro};
use crate::messages::{Payload, ResultPayload};

/// The shape of `function`'s request payload.
pub fn payload_shape(function: Function) -> &'static RecordShape {
    shapes().known(function.spec().payload_record)
}

/// The shape of `function`'s completed answer.
pub fn result_shape(function: Function) -> &'static RecordShape {
    shapes().known(function.spec().result_record)
}

/// `json` with every null member left out, at any depth.
pub fn compact(json: Value) -> Value {
    match json {
        Value::Object(members) => Value::Object(
            members
                .into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, compact(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(compact).collect()),
        other => other,
    }
}

/// The payload of a `function` request from its JSON form: unknown, missing or ill-typed fields
/// are refused with the path of the field at fault.
pub fn read_payload(function: Function, json: Value) -> Result<Payload, String> {
    let shape = payload_shape(function);
    to_avro(&json, shape).map_err(|e| e.to_string())?;
    Payload::from_json(function.spec().payload_record, json)
}

/// The result of a completed `function` request from its JSON form: as [`read_payload`], and
/// a required text that is empty or blank is refused too.
pub fn read_result(function: Function, json: Value) -> Result<ResultPayload, String> {
    let shape = result_shape(function);
    to_avro(&json, shape).map_err(|e| e.to_string())?;
    if let Some(path) = blank_text(&json, shape, "") {
        return Err(format!("{path}: an empty text"));
    }
    ResultPayload::from_json(function.spec().result_record, json)
}

/// The path of the first text of `json` (already fitting `record`) that says nothing.
fn blank_text(json: &Value, record: &RecordShape, path: &str) -> Option<String> {
    for field in &record.fields {
        let at = if path.is_empty() {
            field.name.clone()
        } else {
            format!("{path}.{}", field.name)
        };
        let found = match (&field.shape, json.get(&field.name)) {
            (Shape::Str, Some(Value::String(s))) if s.trim().is_empty() => Some(at),
            // An optional text is absent or says something: present and blank is no answer.
            (Shape::Nullable(inner), Some(Value::String(s)))
                if **inner == Shape::Str && s.trim().is_empty() =>
            {
                Some(at)
            }
            (Shape::Record(r), Some(v)) => blank_text(v, r, &at),
            (Shape::Array(items), Some(Value::Array(values))) => match &**items {
                Shape::Record(r) => values
                    .iter()
                    .enumerate()
                    .find_map(|(i, v)| blank_text(v, r, &format!("{at}[{i}]"))),
                _ => None,
            },
            _ => None,
        };
        if found.is_some() {
            return found;
        }
    }
    None
}
