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
//! Text cells are neutralised against formula injection (OWASP "CSV Injection"), since an
//! operator's clerk may open a file in Excel: a text that starts with `=`, `+`, `-`, `@`, TAB,
//! CR or `'` is written with a `'` in front ([`crate::csv_text::neutralise`]), and a reader
//! drops that one leading `'` from every text cell ([`crate::csv_text::restore`]), so a text
//! reads back exactly as it was written, e.g. a phone number `+81-3-…` is the cell
//! `'+81-3-…` and reads `+81-3-…`. The text cells are the `string` fields (of a payload or a
//! result), `user_id`, `error_code`, `error_message` and `stage`. Every other cell is written
//! as it is: numbers, booleans, dates, timestamps, enum symbols, ids and codes are read
//! strictly by their shape, so none can carry a formula, and a negative number must stay
//! `-5` for the operator's parser (a spreadsheet reads it as the number it is); a list or
//! record cell starts with `[` or `{`.
//!
//! Readers are strict and total: any bytes give rows or a reason, never a panic.

pub mod folder;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use super::answer::{CallError, TsoAnswer};
use super::form;
use super::json::document;
use crate::csv_text::{neutralise, restore};
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
        neutralise(&r.user_id).into_owned(),
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
        neutralise(code).into_owned(),
        neutralise(message).into_owned(),
        neutralise(stage).into_owned(),
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
            Some(Value::String(text)) if is_text(&f.shape) => neutralise(text).into_owned(),
            Some(v) => scalar_text(v).unwrap_or_default(),
        })
        .collect()
}

/// Whether a field of `shape` is a text cell, neutralised when written and restored when read.
fn is_text(shape: &Shape) -> bool {
    match shape {
        Shape::Nullable(inner) => is_text(inner),
        shape => matches!(shape, Shape::Str),
    }
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
            Shape::Str => Value::String(restore(cell).to_string()),
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
            code: filled(restore(code), "error_code")?,
            message: filled(restore(message), "error_message")?,
        }),
        PENDING if code.is_empty() && message.is_empty() && no_fields => Ok(TsoAnswer::Pending {
            stage: filled(restore(stage), "stage")?,
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
        user_id: filled(restore(&row[3]), "user_id")?,
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

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::messages::{Payload, SwitchStart, fixtures};

    fn switch(name: &str, phone: &str, number: &str) -> RequestRecord {
        let mut r = fixtures::request_at(
            "0500123456789012340001",
            Payload::SwitchStart(SwitchStart {
                planned_date: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
                previous_retailer_code: "Z0500".into(),
                previous_customer_number: number.into(),
                customer_name: name.into(),
                customer_phone: Some(phone.into()),
                contract_ampere: Some(40),
                intermediation_number: None,
                agreed_to_grid_terms: true,
                contract_method: None,
                contract_kw: None,
            }),
        );
        r.user_id = "-taro".into();
        r
    }

    fn text_of(bytes: &[u8]) -> String {
        encoding_rs::SHIFT_JIS.decode(bytes).0.into_owned()
    }

    #[test]
    fn a_text_that_starts_a_formula_is_quoted_in_the_file_and_read_back_as_it_was() {
        let request = switch(
            "=HYPERLINK(\"http://evil.example/\")",
            "+81-76-123-4567",
            "'quoted",
        );
        let bytes = write_requests(Function::SwitchStart, std::slice::from_ref(&request));
        let text = text_of(&bytes);
        let line = text.split("\r\n").nth(1).unwrap();
        assert!(line.contains(",'-taro,"), "{line}");
        assert!(
            line.contains(
                ",''quoted,\"'=HYPERLINK(\"\"http://evil.example/\"\")\",'+81-76-123-4567,40,"
            ),
            "{line}"
        );
        assert_eq!(
            read_requests(Function::SwitchStart, &bytes),
            Ok(vec![request])
        );

        let id = RequestId::new();
        let refused = TsoAnswer::Refused {
            code: "-1".into(),
            message: "@SUM(1+1)*cmd|' /C calc'!A0".into(),
        };
        let bytes = write_answers(Function::SwitchStart, &[(id, refused.clone())]);
        let line = text_of(&bytes).split("\r\n").nth(1).unwrap().to_string();
        assert!(
            line.starts_with(&format!("{id},REFUSED,'-1,'@SUM(1+1)*cmd|' /C calc'!A0,,")),
            "{line}"
        );
        let read = read_answers(Function::SwitchStart, &bytes).unwrap();
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].0, id);
        assert_eq!(read[0].1.as_ref().ok(), Some(&refused));
    }

    #[test]
    fn numbers_and_ordinary_texts_are_written_as_they_are() {
        let request = switch("山田 太郎", "076-123-4567", "C-001");
        let bytes = write_requests(Function::SwitchStart, std::slice::from_ref(&request));
        let text = text_of(&bytes);
        let line = text.split("\r\n").nth(1).unwrap();
        assert!(
            line.ends_with(",2026-12-01,Z0500,C-001,山田 太郎,076-123-4567,40,,true,,"),
            "{line}"
        );
        assert_eq!(
            read_requests(Function::SwitchStart, &bytes),
            Ok(vec![request])
        );
        let mut shape = RecordShape {
            name: "T".into(),
            doc: String::new(),
            fields: form::payload_shape(Function::SwitchStart).fields.clone(),
        };
        shape.fields.retain(|f| f.name == "contract_ampere");
        assert_eq!(
            cells(&serde_json::json!({"contract_ampere": -5}), &shape),
            ["-5"]
        );
        assert_eq!(
            read_cells(&["-5".into()], &shape).unwrap(),
            serde_json::json!({"contract_ampere": -5})
        );
    }
}
