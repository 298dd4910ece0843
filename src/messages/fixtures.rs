//! Request records for unit tests, built the same way in every test module.

use chrono::{TimeZone, Utc};

use serde_json::{Value, json};

use super::shape::{RecordShape, Shape, shapes};
use super::{Payload, RequestRecord, ResultPayload};
use crate::domain::Function;
use crate::domain::{CompanyCode, SupplyPointId, UpdateFlag};

/// The request id every fixture carries, so tests can expect it in what they read back.
pub const REQUEST_ID: &str = "01931f6e-7b1a-7c3e-8a4b-0123456789ab";

/// A registration of `payload` at `point` by A0001's user, accepted 2026-11-25 01:02:03Z.
pub fn request_at(point: &str, payload: Payload) -> RequestRecord {
    RequestRecord {
        request_id: REQUEST_ID.parse().expect("test id"),
        function: payload.first_function(),
        company_code: CompanyCode::parse("A0001").expect("test code"),
        user_id: "taro.yamada".into(),
        point_id: SupplyPointId::parse(point).expect("test point"),
        update_flag: UpdateFlag::Register,
        original_request_id: None,
        accepted_at: Utc
            .with_ymd_and_hms(2026, 11, 25, 1, 2, 3)
            .single()
            .expect("test time"),
        payload,
        replay: 0,
    }
}

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
    let json = sample(shapes().known(function.spec().payload_record), full);
    Payload::from_json(function.spec().payload_record, json).expect("a sample payload")
}

/// `function`'s sample result.
pub fn result(function: Function, full: bool) -> ResultPayload {
    let json = sample(shapes().known(function.spec().result_record), full);
    ResultPayload::from_json(function.spec().result_record, json).expect("a sample result")
}

/// A registration of `function`'s sample payload, as [`request_at`] builds it.
pub fn request(function: Function, full: bool) -> RequestRecord {
    let mut request = request_at("0300123456789012340001", payload(function, full));
    request.function = function;
    request
}
