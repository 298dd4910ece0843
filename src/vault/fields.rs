//! Which fields are personal, and sealing, opening and shredding them in a record. A field is
//! sealed where it stands (same name, still a string), bound to the request id and its name,
//! so the kept schema versions read every record and a sealed value cannot be moved to another
//! request or field.

use serde_json::Value;

use super::envelope::RecordKey;
use super::seal::{SealError, is_sealed};
use crate::messages::{Payload, RequestRecord, ResultPayload, ResultRecord};

/// The payload fields that identify a customer or a generator, or are secrets, in requests and
/// results alike (wherever they are nested, as `matches[].supply_address`). Kept in clear: the
/// supply point id (the topic key, partitioning and routing need it), meter and pole numbers
/// (they name the same installation as the point id), retailer codes, dates and numbers.
pub const PERSONAL: &[&str] = &[
    "customer_name",
    "customer_phone",
    "customer_number",
    "previous_customer_number",
    "mailing_address",
    "usage_password",
    "consent_reference",
    // Free text a retailer writes (廃止理由) and search text (特定地点検索の住所).
    "reason",
    "address",
    "supply_address",
];

/// What a personal field reads as once its key is destroyed.
pub const SHREDDED: &str = "[消去済み/shredded]";

#[derive(Debug, thiserror::Error)]
pub enum FieldError {
    #[error("field {field}: {source}")]
    Seal {
        field: String,
        #[source]
        source: SealError,
    },
    #[error("field {0} is sealed but the record carries no key")]
    NoKey(String),
    #[error("record shape after sealing: {0}")]
    Shape(String),
}

fn aad(request_id: &str, field: &str) -> Vec<u8> {
    format!("{request_id}\0{field}").into_bytes()
}

/// Applies `f` to every personal string in `json`, at any depth.
fn each_personal(
    json: &mut Value,
    f: &mut dyn FnMut(&str, &str) -> Result<String, FieldError>,
) -> Result<(), FieldError> {
    match json {
        Value::Object(map) => {
            for (name, v) in map.iter_mut() {
                match v {
                    Value::String(s) if PERSONAL.contains(&name.as_str()) => *s = f(name, s)?,
                    other => each_personal(other, f)?,
                }
            }
        }
        Value::Array(items) => {
            for v in items {
                each_personal(v, f)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// How one personal field changes.
enum Change<'a> {
    Seal(&'a RecordKey),
    Open(Option<&'a RecordKey>),
    Shred,
}

fn change(id: &str, json: &mut Value, how: &Change) -> Result<(), FieldError> {
    each_personal(json, &mut |field, value| {
        let err = |source| FieldError::Seal {
            field: field.to_string(),
            source,
        };
        match (how, is_sealed(value)) {
            (Change::Shred, _) => Ok(SHREDDED.to_string()),
            (Change::Seal(k), false) => k.dek.seal_text(&aad(id, field), value).map_err(err),
            (Change::Seal(_), true) | (Change::Open(_), false) => Ok(value.to_string()),
            (Change::Open(Some(k)), true) => k.dek.open_text(&aad(id, field), value).map_err(err),
            (Change::Open(None), true) => Err(FieldError::NoKey(field.to_string())),
        }
    })
}

fn payload(p: &Payload, id: &str, how: &Change) -> Result<Payload, FieldError> {
    let mut json = p.to_json();
    change(id, &mut json, how)?;
    Payload::from_json(p.record_name(), json).map_err(FieldError::Shape)
}

fn result_payload(p: &ResultPayload, id: &str, how: &Change) -> Result<ResultPayload, FieldError> {
    let mut json = p.to_json();
    change(id, &mut json, how)?;
    ResultPayload::from_json(p.record_name(), json).map_err(FieldError::Shape)
}

fn request(r: &RequestRecord, how: Change) -> Result<RequestRecord, FieldError> {
    let id = r.request_id.to_string();
    Ok(RequestRecord {
        payload: payload(&r.payload, &id, &how)?,
        ..r.clone()
    })
}

fn result(r: &ResultRecord, how: Change) -> Result<ResultRecord, FieldError> {
    let id = r.request_id.to_string();
    let payload = match &r.payload {
        None => None,
        Some(p) => Some(result_payload(p, &id, &how)?),
    };
    Ok(ResultRecord {
        payload,
        ..r.clone()
    })
}

/// `r` with its personal fields sealed with `key` (already sealed ones left as they are).
pub fn seal_request(r: &RequestRecord, key: &RecordKey) -> Result<RequestRecord, FieldError> {
    request(r, Change::Seal(key))
}

/// `r` with its personal fields in clear; `key` may be `None` for a record from before
/// sealing, whose fields are plain.
pub fn open_request(
    r: &RequestRecord,
    key: Option<&RecordKey>,
) -> Result<RequestRecord, FieldError> {
    request(r, Change::Open(key))
}

pub fn seal_result(r: &ResultRecord, key: &RecordKey) -> Result<ResultRecord, FieldError> {
    result(r, Change::Seal(key))
}

pub fn open_result(r: &ResultRecord, key: Option<&RecordKey>) -> Result<ResultRecord, FieldError> {
    result(r, Change::Open(key))
}

/// `r` with every personal field replaced by [`SHREDDED`].
pub fn shred_result(r: &ResultRecord) -> ResultRecord {
    result(r, Change::Shred).unwrap_or_else(|_| ResultRecord {
        payload: None,
        ..r.clone()
    })
}

pub fn shred_request(r: &RequestRecord) -> RequestRecord {
    request(r, Change::Shred).unwrap_or_else(|_| r.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Function, SPECS};
    use crate::messages::fixtures;
    use crate::vault::Period;
    use crate::vault::seal::Key;

    fn key() -> RecordKey {
        let period = Period::parse("2026-11").unwrap();
        RecordKey::wrap(
            "k1",
            &Key::generate().unwrap(),
            Key::generate().unwrap(),
            "A0001",
            &period,
        )
        .unwrap()
    }

    /// Every personal string of `json`, with its field name.
    fn personal(json: &Value) -> Vec<(String, String)> {
        let mut found = Vec::new();
        let mut copy = json.clone();
        each_personal(&mut copy, &mut |f, v| {
            found.push((f.to_string(), v.to_string()));
            Ok(v.to_string())
        })
        .unwrap();
        found
    }

    #[test]
    fn every_personal_field_of_every_request_and_result_is_sealed_and_opens_again() {
        let k = key();
        let mut sealed_fields = 0;
        for spec in SPECS {
            let request = fixtures::request(spec.function, true);
            let sealed = seal_request(&request, &k).unwrap();
            for (field, value) in personal(&sealed.payload.to_json()) {
                assert!(is_sealed(&value), "{}: {field} = {value}", spec.function);
                sealed_fields += 1;
            }
            assert_eq!(open_request(&sealed, Some(&k)).unwrap(), request);

            let mut result = crate::messages::ResultRecord::for_request(
                &request,
                crate::messages::ResultStatus::Completed,
                1,
            );
            result.payload = Some(fixtures::result(spec.function, true));
            let sealed = seal_result(&result, &k).unwrap();
            let json = sealed.payload.as_ref().unwrap().to_json();
            assert!(personal(&json).iter().all(|(_, v)| is_sealed(v)), "{json}");
            assert_eq!(open_result(&sealed, Some(&k)).unwrap(), result);
        }
        assert!(
            sealed_fields >= 15,
            "only {sealed_fields} personal fields seen"
        );
    }

    #[test]
    fn a_sealed_field_of_one_request_does_not_open_in_another() {
        let k = key();
        let request = fixtures::request(Function::SwitchStart, true);
        let sealed = seal_request(&request, &k).unwrap();
        let mut moved = sealed.clone();
        moved.request_id = crate::domain::RequestId::new();
        assert!(open_request(&moved, Some(&k)).is_err());
        assert!(matches!(
            open_request(&sealed, None),
            Err(FieldError::NoKey(_))
        ));
    }

    #[test]
    fn a_record_from_before_sealing_reads_as_it_is() {
        let request = fixtures::request(Function::UsagePassword, true);
        assert_eq!(open_request(&request, None).unwrap(), request);
    }

    #[test]
    fn a_shredded_result_keeps_its_shape_with_its_personal_fields_marked() {
        let request = fixtures::request(Function::PointSearch, true);
        let mut result = crate::messages::ResultRecord::for_request(
            &request,
            crate::messages::ResultStatus::Completed,
            1,
        );
        result.payload = Some(fixtures::result(Function::PointSearch, true));
        let sealed = seal_result(&result, &key()).unwrap();
        let shredded = shred_result(&sealed);
        let json = shredded.payload.unwrap().to_json();
        let fields = personal(&json);
        assert!(!fields.is_empty());
        assert!(fields.iter().all(|(_, v)| v == SHREDDED), "{json}");
        assert_eq!(
            json["matches"][0]["point_id"],
            result.payload.unwrap().to_json()["matches"][0]["point_id"]
        );
    }
}
