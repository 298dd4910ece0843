//! The batch family's files, shared by both ends: CSV in Shift_JIS (Windows-31J), CRLF line
//! ends, a header row. A file holds the requests of ONE service id, or the answers to them, and
//! its name says which: `<stamp>-<seq>-<service_id>.csv` ([`file_name`], [`function_of`]); the
//! answer file has the request file's name.
//!
//! - A request file's columns are [`ENVELOPE`] then the function's payload fields by their
//!   schema names, in schema order:
//!   `service_id,request_id,company_code,user_id,update_flag,original_request_id,accepted_at,
//!   supply_point_id,planned_date,with_removal,reason` for `IF_10510`.
//! - An answer file's columns are [`ANSWER_ENVELOPE`] then the function's result fields:
//!   `request_id,result,error_code,error_message,stage,application_number,effective_date,
//!   reception_stage` for `IF_10510`; `result` is `COMPLETED` (the result fields filled),
//!   `REFUSED` (error_code and error_message), `PENDING` (stage: the operator holds the
//!   application; the hub asks again by sending the request again) or `ACKNOWLEDGED` (nothing
//!   else). Every cell a line's result does not use is empty.
//!
//! Cells: a scalar as its text (strings as they are, numbers and booleans in JSON notation —
//! `true`/`false` —, dates `YYYY-MM-DD`); null as the empty cell, so an empty text of an
//! optional field reads back as absent; a list (or a nested record) as its compact JSON text
//! in the one cell, nulls left out, e.g. `"[{""month"":""2026-10"",""kwh"":251.5}]"`.
//!
//! Readers are strict and total: any bytes give rows or a reason, never a panic.

pub mod folder;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use super::answer::{CallError, TsoAnswer};
use super::form;
use super::json::document;
use crate::domain::{CompanyCode, Function, RequestId, SupplyPointId, UpdateFlag};
use crate::messages::RequestRecord;
use crate::messages::shape::{RecordShape, Shape, scalar_from_text, scalar_text};

/// The first columns of a request file, whatever the function.
pub const ENVELOPE: [&str; 8] = [
    "service_id",
    "request_id",
    "company_code",
    "user_id",
    "update_flag",
    "original_request_id",
    "accepted_at",
    "supply_point_id",
];

/// The first columns of an answer file, whatever the function.
pub const ANSWER_ENVELOPE: [&str; 5] = [
    "request_id",
    "result",
    "error_code",
    "error_message",
    "stage",
];

const COMPLETED: &str = "COMPLETED";
const REFUSED: &str = "REFUSED";
const PENDING: &str = "PENDING";
const ACKNOWLEDGED: &str = "ACKNOWLEDGED";

/// The header of `function`'s request files.
pub fn request_header(function: Function) -> Vec<String> {
    header(&ENVELOPE, form::payload_shape(function))
}

/// The header of `function`'s answer files.
pub fn answer_header(function: Function) -> Vec<String> {
    header(&ANSWER_ENVELOPE, form::result_shape(function))
}

fn header(envelope: &[&str], record: &RecordShape) -> Vec<String> {
    let fields = record.fields.iter().map(|f| f.name.clone());
    envelope
        .iter()
        .map(|c| c.to_string())
        .chain(fields)
        .collect()
}

/// The name of the `seq`-th request file, written at `stamp`, of `function`.
pub fn file_name(stamp: &str, seq: u64, function: Function) -> String {
    format!("{stamp}-{seq:06}-{}.csv", function.service_id())
}

/// The function whose service id ends a file's name, as [`file_name`] writes it.
pub fn function_of(name: &str) -> Option<Function> {
    let (_, service_id) = name.strip_suffix(".csv")?.rsplit_once('-')?;
    Function::by_service_id(service_id)
}

/// Whether `text` survives Shift_JIS: a request that does not cannot go into a file.
pub fn is_shift_jis(text: &str) -> bool {
    !encoding_rs::SHIFT_JIS.encode(text).2
}

/// Whether every text of `request` can be written in Shift_JIS.
pub fn request_is_encodable(request: &RequestRecord) -> bool {
    let shape = form::payload_shape(request.function);
    request_row(request, shape)
        .iter()
        .all(|cell| is_shift_jis(cell))
}

/// One request file of `function`: the header, then a line per request (each of `function`).
/// Texts outside Shift_JIS are written as numeric character references by the encoder; check
/// [`request_is_encodable`] first.
pub fn write_requests(function: Function, requests: &[RequestRecord]) -> Vec<u8> {
    let shape = form::payload_shape(function);
    let rows = requests.iter().map(|r| request_row(r, shape));
    encode(&request_header(function), rows)
}

/// One answer file of `function`: the header, then a line per answer.
pub fn write_answers(function: Function, answers: &[(RequestId, TsoAnswer)]) -> Vec<u8> {
    let shape = form::result_shape(function);
    let rows = answers.iter().map(|(id, a)| answer_row(id, a, shape));
    encode(&answer_header(function), rows)
}

fn encode(header: &[String], rows: impl Iterator<Item = Vec<String>>) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    // Writing to a Vec cannot fail; every row has the header's length.
    let _ = w.write_record(header);
    for row in rows {
        let _ = w.write_record(&row);
    }
    let utf8 = w.into_inner().unwrap_or_default();
    let text = String::from_utf8_lossy(&utf8);
    encoding_rs::SHIFT_JIS.encode(&text).0.into_owned()
}

fn request_row(r: &RequestRecord, record: &RecordShape) -> Vec<String> {
    let envelope = [
        r.function.service_id().into(),
        r.request_id.to_string(),
        r.company_code.as_str().into(),
        r.user_id.clone(),
        r.update_flag.code().into(),
        r.original_request_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        r.accepted_at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        r.point_id.as_str().into(),
    ];
    envelope
        .into_iter()
        .chain(cells(&r.payload.to_json(), record))
        .collect()
}

fn answer_row(id: &RequestId, answer: &TsoAnswer, record: &RecordShape) -> Vec<String> {
    let blank = || vec![String::new(); record.fields.len()];
    let (result, code, message, stage, fields) = match answer {
        TsoAnswer::Completed(r) => (COMPLETED, "", "", "", cells(&r.to_json(), record)),
        TsoAnswer::Refused { code, message } => {
            (REFUSED, code.as_str(), message.as_str(), "", blank())
        }
        TsoAnswer::Pending { stage } => (PENDING, "", "", stage.as_str(), blank()),
        TsoAnswer::Acknowledged => (ACKNOWLEDGED, "", "", "", blank()),
    };
    [
        id.to_string(),
        result.into(),
        code.into(),
        message.into(),
        stage.into(),
    ]
    .into_iter()
    .chain(fields)
    .collect()
}

/// The cells of `json` (a record's JSON form) under `record`'s field names.
fn cells(json: &Value, record: &RecordShape) -> Vec<String> {
    record
        .fields
        .iter()
        .map(|f| match json.get(&f.name) {
            None | Some(Value::Null) => String::new(),
            Some(v @ (Value::Array(_) | Value::Object(_))) => form::compact(v.clone()).to_string(),
            Some(v) => scalar_text(v).unwrap_or_default(),
        })
        .collect()
}

/// The JSON form of `record` from its cells: empty is null (or the empty text of a required
/// string), a list or record is JSON text, any other value is read by its shape.
fn read_cells(cells: &[String], record: &RecordShape) -> Result<Value, String> {
    let mut out = Map::new();
    for (field, cell) in record.fields.iter().zip(cells) {
        let shape = match &field.shape {
            Shape::Nullable(inner) => inner,
            other => other,
        };
        let value = match shape {
            _ if cell.is_empty() && !field.required() => Value::Null,
            Shape::Str => Value::String(cell.clone()),
            _ if cell.is_empty() => return Err(format!("{} is empty", field.name)),
            Shape::Array(_) | Shape::Record(_) => {
                document::value(cell.as_bytes()).map_err(|e| format!("{}: {e}", field.name))?
            }
            scalar => scalar_from_text(cell, scalar)
                .map_err(|e| format!("{} {cell:?}: {e}", field.name))?,
        };
        out.insert(field.name.clone(), value);
    }
    Ok(Value::Object(out))
}

/// The rows of a file under `header`: Shift_JIS, valid CSV, the exact header, every line of
/// its length.
fn decode_rows(bytes: &[u8], header: &[String]) -> Result<Vec<Vec<String>>, String> {
    let text = encoding_rs::SHIFT_JIS
        .decode_without_bom_handling_and_without_replacement(bytes)
        .ok_or("not Shift_JIS")?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for (line, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("not CSV: {e}"))?;
        if record.len() != header.len() {
            let n = record.len();
            return Err(format!(
                "line {}: {n} columns, not {}",
                line + 1,
                header.len()
            ));
        }
        rows.push(record.iter().map(str::to_string).collect::<Vec<_>>());
    }
    match rows.first() {
        Some(first) if first == header => {}
        _ => return Err("missing or wrong header".into()),
    }
    rows.remove(0);
    Ok(rows)
}

/// Reads an answer file of `function`. A file that is not Shift_JIS CSV with the function's
/// answer header, or a line without a readable request id, spoils the whole file; a line whose
/// fields are wrong is a malformed answer for its request alone.
#[allow(clippy::type_complexity)]
pub fn read_answers(
    function: Function,
    bytes: &[u8],
) -> Result<Vec<(RequestId, Result<TsoAnswer, CallError>)>, CallError> {
    let rows = decode_rows(bytes, &answer_header(function)).map_err(CallError::Malformed)?;
    rows.into_iter()
        .map(|row| {
            let id: RequestId = row[0]
                .parse()
                .map_err(|e| CallError::Malformed(format!("request id {:?}: {e}", row[0])))?;
            Ok((id, answer_of(function, &row).map_err(CallError::Malformed)))
        })
        .collect()
}

fn answer_of(function: Function, row: &[String]) -> Result<TsoAnswer, String> {
    let (code, message, stage, fields) = (&row[2], &row[3], &row[4], &row[5..]);
    let no_fields = fields.iter().all(String::is_empty);
    match row[1].as_str() {
        COMPLETED if code.is_empty() && message.is_empty() && stage.is_empty() => {
            let json = read_cells(fields, form::result_shape(function))?;
            form::read_result(function, json).map(TsoAnswer::Completed)
        }
        REFUSED if stage.is_empty() && no_fields => Ok(TsoAnswer::Refused {
            code: filled(code, "error_code")?,
            message: filled(message, "error_message")?,
        }),
        PENDING if code.is_empty() && message.is_empty() && no_fields => Ok(TsoAnswer::Pending {
            stage: filled(stage, "stage")?,
        }),
        ACKNOWLEDGED if code.is_empty() && message.is_empty() && stage.is_empty() && no_fields => {
            Ok(TsoAnswer::Acknowledged)
        }
        result @ (COMPLETED | REFUSED | PENDING | ACKNOWLEDGED) => {
            Err(format!("a {result} line with cells of another result"))
        }
        other => Err(format!(
            "result {other:?} is not {COMPLETED}, {REFUSED}, {PENDING} or {ACKNOWLEDGED}"
        )),
    }
}

/// Reads a request file of `function`, the operator's side: every line must be a whole
/// request of that function.
pub fn read_requests(function: Function, bytes: &[u8]) -> Result<Vec<RequestRecord>, String> {
    let rows = decode_rows(bytes, &request_header(function))?;
    rows.iter().map(|row| request_of(function, row)).collect()
}

fn request_of(function: Function, row: &[String]) -> Result<RequestRecord, String> {
    if row[0] != function.service_id() {
        return Err(format!(
            "a {:?} line in a file of {}",
            row[0],
            function.service_id()
        ));
    }
    let json = read_cells(&row[ENVELOPE.len()..], form::payload_shape(function))?;
    let payload = form::read_payload(function, json)?;
    let accepted_at = DateTime::parse_from_rfc3339(&row[6])
        .map_err(|e| format!("accepted_at {:?}: {e}", row[6]))?;
    let id = |raw: &str| -> Result<RequestId, String> {
        raw.parse().map_err(|e| format!("request id {raw:?}: {e}"))
    };
    Ok(RequestRecord {
        request_id: id(&row[1])?,
        function,
        company_code: CompanyCode::parse(&row[2]).map_err(|e| e.to_string())?,
        user_id: filled(&row[3], "user_id")?,
        point_id: SupplyPointId::parse(&row[7]).map_err(|e| e.to_string())?,
        update_flag: UpdateFlag::by_code(&row[4])
            .ok_or_else(|| format!("update_flag {:?} is not 1, 2 or 3", row[4]))?,
        original_request_id: (!row[5].is_empty()).then(|| id(&row[5])).transpose()?,
        accepted_at: accepted_at.with_timezone(&Utc),
        payload,
        replay: 0,
    })
}

fn filled(s: &str, name: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        return Err(format!("{name} is empty"));
    }
    Ok(s.to_string())
}
