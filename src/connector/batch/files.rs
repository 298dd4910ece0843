//! The batch family's files, shared by both ends: CSV in Shift_JIS with a header row. Request
//! files carry one request a line; answer files one answer a line, matched by request id.
//! Readers are strict and total: any bytes give rows or a reason, never a panic.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

use crate::connector::protocol::{CallError, TsoAnswer};
use crate::domain::{CompanyCode, Function, RequestId, SupplyPointId, UpdateFlag};
use crate::messages::{
    FacilityInquiry, FacilityInquiryResult, Payload, RequestRecord, ResultPayload, SwitchStart,
    SwitchStartResult,
};

/// The header of a request file.
pub const REQUEST_HEADER: [&str; 16] = [
    "service_id",
    "request_id",
    "company_code",
    "user_id",
    "update_flag",
    "original_request_id",
    "accepted_at",
    "supply_point_id",
    "planned_date",
    "previous_retailer_code",
    "previous_customer_number",
    "customer_name",
    "customer_phone",
    "contract_ampere",
    "intermediation_number",
    "agreed_to_grid_terms",
];

/// The header of an answer file.
pub const ANSWER_HEADER: [&str; 15] = [
    "request_id",
    "result",
    "error_code",
    "error_message",
    "supply_address",
    "contract_kind",
    "contract_ampere",
    "contract_kva",
    "smart_meter",
    "meter_number",
    "next_meter_reading_date",
    "current_retailer_code",
    "application_number",
    "switch_date",
    "reception_stage",
];

/// Whether `text` survives Shift_JIS: a request that does not cannot go into a file.
pub fn is_shift_jis(text: &str) -> bool {
    !encoding_rs::SHIFT_JIS.encode(text).2
}

/// Whether every text of `request` can be written in Shift_JIS.
pub fn request_is_encodable(request: &RequestRecord) -> bool {
    request_row(request).iter().all(|field| is_shift_jis(field))
}

/// One request file: the header, then a line per request. Texts outside Shift_JIS are written
/// as numeric character references by the encoder; check [`request_is_encodable`] first.
pub fn write_requests(requests: &[RequestRecord]) -> Vec<u8> {
    let rows = requests.iter().map(request_row);
    encode(&REQUEST_HEADER, rows)
}

/// One answer file: the header, then a line per answer.
pub fn write_answers(answers: &[(RequestId, TsoAnswer)]) -> Vec<u8> {
    let rows = answers.iter().map(|(id, answer)| answer_row(id, answer));
    encode(&ANSWER_HEADER, rows)
}

fn encode<const N: usize>(header: &[&str; N], rows: impl Iterator<Item = [String; N]>) -> Vec<u8> {
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

fn request_row(r: &RequestRecord) -> [String; 16] {
    let s = match &r.payload {
        Payload::FacilityInquiry(_) => None,
        Payload::SwitchStart(s) => Some(s),
    };
    let opt = |v: Option<String>| v.unwrap_or_default();
    [
        r.function.service_id().into(),
        r.request_id.to_string(),
        r.company_code.as_str().into(),
        r.user_id.clone(),
        r.update_flag.code().into(),
        opt(r.original_request_id.map(|id| id.to_string())),
        r.accepted_at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        r.point_id.as_str().into(),
        opt(s.map(|s| s.planned_date.format("%Y-%m-%d").to_string())),
        opt(s.map(|s| s.previous_retailer_code.clone())),
        opt(s.map(|s| s.previous_customer_number.clone())),
        opt(s.map(|s| s.customer_name.clone())),
        opt(s.and_then(|s| s.customer_phone.clone())),
        opt(s.and_then(|s| s.contract_ampere).map(|a| a.to_string())),
        opt(s.and_then(|s| s.intermediation_number.clone())),
        opt(s.map(|s| flag(s.agreed_to_grid_terms))),
    ]
}

fn answer_row(id: &RequestId, answer: &TsoAnswer) -> [String; 15] {
    let mut row: [String; 15] = Default::default();
    row[0] = id.to_string();
    match answer {
        TsoAnswer::Refused { code, message } => {
            row[1] = "NG".into();
            row[2] = code.clone();
            row[3] = message.clone();
        }
        TsoAnswer::Completed(ResultPayload::FacilityInquiry(f)) => {
            row[1] = "OK".into();
            row[4] = f.supply_address.clone();
            row[5] = f.contract_kind.clone();
            row[6] = f.contract_ampere.map(|a| a.to_string()).unwrap_or_default();
            row[7] = f.contract_kva.map(|k| k.to_string()).unwrap_or_default();
            row[8] = flag(f.smart_meter);
            row[9] = f.meter_number.clone();
            row[10] = f.next_meter_reading_date.format("%Y-%m-%d").to_string();
            row[11] = f.current_retailer_code.clone();
        }
        TsoAnswer::Completed(ResultPayload::SwitchStart(s)) => {
            row[1] = "OK".into();
            row[12] = s.application_number.clone();
            row[13] = s.switch_date.format("%Y-%m-%d").to_string();
            row[14] = s.reception_stage.clone();
        }
    }
    row
}

fn flag(b: bool) -> String {
    if b { "1" } else { "0" }.into()
}

/// The rows of a file under `header`: Shift_JIS, valid CSV, the exact header, every line of
/// its length.
fn decode_rows(bytes: &[u8], header: &[&str]) -> Result<Vec<Vec<String>>, String> {
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
        Some(first) if first.iter().map(String::as_str).eq(header.iter().copied()) => {}
        _ => return Err("missing or wrong header".into()),
    }
    rows.remove(0);
    Ok(rows)
}

/// Reads an answer file. A file that is not Shift_JIS CSV with the answer header, or a line
/// without a readable request id, spoils the whole file; a line whose fields are wrong is a
/// malformed answer for its request alone.
#[allow(clippy::type_complexity)]
pub fn read_answers(
    bytes: &[u8],
) -> Result<Vec<(RequestId, Result<TsoAnswer, CallError>)>, CallError> {
    let rows = decode_rows(bytes, &ANSWER_HEADER).map_err(CallError::Malformed)?;
    rows.into_iter()
        .map(|row| {
            let id: RequestId = row[0]
                .parse()
                .map_err(|e| CallError::Malformed(format!("request id {:?}: {e}", row[0])))?;
            Ok((id, answer_of(&row).map_err(CallError::Malformed)))
        })
        .collect()
}

fn answer_of(row: &[String]) -> Result<TsoAnswer, String> {
    let empty = |range: std::ops::Range<usize>| row[range].iter().all(String::is_empty);
    match row[1].as_str() {
        "NG" if empty(4..15) => Ok(TsoAnswer::Refused {
            code: filled(&row[2], "error_code")?,
            message: filled(&row[3], "error_message")?,
        }),
        "OK" if !empty(2..4) => Err("an OK line with an error".into()),
        "OK" if empty(4..12) && !empty(12..15) => Ok(TsoAnswer::Completed(
            ResultPayload::SwitchStart(SwitchStartResult {
                application_number: filled(&row[12], "application_number")?,
                switch_date: day(&row[13], "switch_date")?,
                reception_stage: filled(&row[14], "reception_stage")?,
            }),
        )),
        "OK" if empty(12..15) => {
            let ampere = optional(&row[6], "contract_ampere")?;
            let kva = optional(&row[7], "contract_kva")?;
            Ok(TsoAnswer::Completed(ResultPayload::FacilityInquiry(
                FacilityInquiryResult {
                    supply_address: filled(&row[4], "supply_address")?,
                    contract_kind: filled(&row[5], "contract_kind")?,
                    contract_ampere: ampere,
                    contract_kva: kva,
                    smart_meter: boolean(&row[8], "smart_meter")?,
                    meter_number: filled(&row[9], "meter_number")?,
                    next_meter_reading_date: day(&row[10], "next_meter_reading_date")?,
                    current_retailer_code: filled(&row[11], "current_retailer_code")?,
                },
            )))
        }
        "OK" | "NG" => Err("fields of both a result and a refusal, or of two functions".into()),
        other => Err(format!("result {other:?} is not OK or NG")),
    }
}

/// Reads a request file, the operator's side: every line must be a whole request.
pub fn read_requests(bytes: &[u8]) -> Result<Vec<RequestRecord>, String> {
    let rows = decode_rows(bytes, &REQUEST_HEADER)?;
    rows.iter().map(|row| request_of(row)).collect()
}

fn request_of(row: &[String]) -> Result<RequestRecord, String> {
    let function = Function::by_service_id(&row[0])
        .ok_or_else(|| format!("unknown service id {:?}", row[0]))?;
    let payload = match function {
        Function::FacilityInquiry if row[8..16].iter().all(String::is_empty) => {
            Payload::FacilityInquiry(FacilityInquiry {})
        }
        Function::FacilityInquiry => return Err("switch-start fields on IF_10110".into()),
        Function::SwitchStart => Payload::SwitchStart(SwitchStart {
            planned_date: day(&row[8], "planned_date")?,
            previous_retailer_code: filled(&row[9], "previous_retailer_code")?,
            previous_customer_number: filled(&row[10], "previous_customer_number")?,
            customer_name: filled(&row[11], "customer_name")?,
            customer_phone: some(&row[12]),
            contract_ampere: optional(&row[13], "contract_ampere")?,
            intermediation_number: some(&row[14]),
            agreed_to_grid_terms: boolean(&row[15], "agreed_to_grid_terms")?,
        }),
    };
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
        original_request_id: some(&row[5]).as_deref().map(id).transpose()?,
        accepted_at: accepted_at.with_timezone(&Utc),
        payload,
        replay: 0,
    })
}

fn some(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

fn filled(s: &str, name: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        return Err(format!("{name} is empty"));
    }
    Ok(s.to_string())
}

fn optional<T: std::str::FromStr>(s: &str, name: &str) -> Result<Option<T>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|_| format!("{name} {s:?} is not a number"))
}

fn boolean(s: &str, name: &str) -> Result<bool, String> {
    match s {
        "1" => Ok(true),
        "0" => Ok(false),
        _ => Err(format!("{name} {s:?} is not 1 or 0")),
    }
}

/// Exactly `YYYY-MM-DD`.
fn day(s: &str, name: &str) -> Result<NaiveDate, String> {
    crate::connector::protocol::strict_day(s)
        .ok_or_else(|| format!("{name} {s:?} is not a YYYY-MM-DD date"))
}
