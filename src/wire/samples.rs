//! Sample payloads, results and answers for every catalogue function, built from the records'
//! shapes so that the round-trip tests of all three families cover each function without a
//! line per function.

use serde_json::{Value, json};

use super::answer::TsoAnswer;
use super::form::{payload_shape, result_shape};
use crate::domain::Function;
use crate::messages::fixtures;
use crate::messages::shape::{RecordShape, Shape};
use crate::messages::{Payload, RequestRecord, ResultPayload};

/// A text with what each wire must escape (`<`, `&`, quotes, commas) and a character of
/// Windows-31J's extensions, all of it Shift_JIS.
pub const TEXT: &str = "山田 <\"太郎\"> & 'Co', 髙橋";

/// The JSON form of a sample `record`: with every optional field set if `full`, all of them
/// null otherwise; lists of two entries.
pub fn sample(record: &RecordShape, full: bool) -> Value {
    Value::Object(
        record
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name.clone(), value(&f.shape, full, i)))
            .collect(),
    )
}

fn value(shape: &Shape, full: bool, i: usize) -> Value {
    match shape {
        Shape::Str => json!(TEXT),
        Shape::Int => json!(40 + i as i64),
        Shape::Long => json!(1_234_567_890_123_i64),
        Shape::Double => json!(6.25),
        Shape::Bool => json!(i % 2 == 0),
        Shape::Date => json!("2026-12-01"),
        Shape::TimestampMillis => json!("2026-11-25T01:02:03.000Z"),
        Shape::Enum(symbols) => json!(symbols[i % symbols.len().max(1)]),
        Shape::Nullable(inner) if full => value(inner, full, i),
        Shape::Nullable(_) => Value::Null,
        Shape::Array(items) => Value::Array((0..2).map(|n| value(items, full, i + n)).collect()),
        Shape::Record(r) => sample(r, full),
    }
}

/// `function`'s sample payload.
pub fn payload(function: Function, full: bool) -> Payload {
    let json = sample(payload_shape(function), full);
    Payload::from_json(function.spec().payload_record, json).expect("a sample payload")
}

/// `function`'s sample result.
pub fn result(function: Function, full: bool) -> ResultPayload {
    let json = sample(result_shape(function), full);
    ResultPayload::from_json(function.spec().result_record, json).expect("a sample result")
}

/// A registration of `function`'s sample payload, as [`fixtures::request`] builds it.
pub fn request(function: Function, full: bool) -> RequestRecord {
    let mut request = fixtures::request("0300123456789012340001", payload(function, full));
    request.function = function;
    request
}

/// Every kind of answer to `function`: completed with a full and a sparse result, refused,
/// pending and acknowledged.
pub fn answers(function: Function) -> Vec<TsoAnswer> {
    vec![
        TsoAnswer::Completed(result(function, true)),
        TsoAnswer::Completed(result(function, false)),
        TsoAnswer::Refused {
            code: "E1001".into(),
            message: format!("該当する供給地点特定番号が存在しません {TEXT}"),
        },
        TsoAnswer::Pending { stage: "05".into() },
        TsoAnswer::Acknowledged,
    ]
}
