//! Avro single-object encoding: `C3 01`, the schema's 8-byte Rabin fingerprint, then the datum.
//! A consumer written by a grid operator's team decodes any message with the published schema.

use std::sync::{Mutex, PoisonError};

use apache_avro::headers::HeaderBuilder;
use apache_avro::{GenericSingleObjectReader, GenericSingleObjectWriter, Schema, from_avro_datum};

use super::convert;
use super::evolve::{Names, evolve};
use super::intermediation_event::IntermediationEvent;
use super::schemas::{Previous, SchemaSet};
use super::shape::{from_avro, shapes, to_avro};
use super::types::{RequestRecord, ResultRecord};

const MAGIC: [u8; 2] = [0xC3, 0x01];

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("not an Avro single-object message (bad magic or too short)")]
    NotSingleObject,
    #[error("unknown schema fingerprint {0}")]
    UnknownSchema(String),
    #[error("Avro: {0}")]
    Avro(#[from] apache_avro::Error),
    #[error("record shape: {0}")]
    Shape(String),
}

/// Encodes and decodes the hub's records. Cheap to share: parse and resolve the schemas once.
pub struct Codec {
    schemas: SchemaSet,
    request: Resolved,
    result: Resolved,
    intermediation: Resolved,
    audit: Resolved,
}

/// The header of a single-object message: the magic, then the schema's fingerprint.
struct Header([u8; 8]);

impl HeaderBuilder for Header {
    fn build_header(&self) -> Vec<u8> {
        [&MAGIC[..], &self.0[..]].concat()
    }
}

/// One record's current schema with its named types resolved once. apache-avro's
/// `to_avro_datum` and `from_avro_datum` resolve them again on every call; under load that
/// was a tenth of the hub's CPU (perf, docs/performance.md).
struct Resolved {
    schema: Schema,
    fingerprint: [u8; 8],
    /// The writer keeps a buffer of its own, hence the lock; it is held only to encode.
    writer: Mutex<GenericSingleObjectWriter>,
    reader: GenericSingleObjectReader,
}

impl Resolved {
    fn new(schema: &Schema, fingerprint: [u8; 8]) -> Self {
        Resolved {
            schema: schema.clone(),
            fingerprint,
            writer: Mutex::new(Self::writer(schema, fingerprint)),
            reader: GenericSingleObjectReader::new_with_header_builder(
                schema.clone(),
                Header(fingerprint),
            )
            .expect("the hub's schemas resolve"),
        }
    }

    fn writer(schema: &Schema, fingerprint: [u8; 8]) -> GenericSingleObjectWriter {
        GenericSingleObjectWriter::new_with_capacity_and_header_builder(
            schema,
            1024,
            Header(fingerprint),
        )
        .expect("the hub's schemas resolve")
    }

    fn encode(&self, value: apache_avro::types::Value) -> Result<Vec<u8>, CodecError> {
        let mut out = Vec::with_capacity(512);
        let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(e) = writer.write_value_ref(&value, &mut out) {
            // A failure half-way may leave the writer's buffer half-written: start afresh.
            *writer = Self::writer(&self.schema, self.fingerprint);
            return Err(e.into());
        }
        Ok(out)
    }

    fn decode(&self, bytes: &[u8]) -> Result<apache_avro::types::Value, CodecError> {
        if bytes.len() < 10 || bytes[..2] != MAGIC {
            return Err(CodecError::NotSingleObject);
        }
        if bytes[2..10] != self.fingerprint {
            return Err(CodecError::UnknownSchema(hex::encode(&bytes[2..10])));
        }
        Ok(self.reader.read_value(&mut &bytes[..])?)
    }
}

impl Default for Codec {
    fn default() -> Self {
        Self::new()
    }
}

impl Codec {
    pub fn new() -> Self {
        let schemas = SchemaSet::load();
        Codec {
            request: Resolved::new(&schemas.request, schemas.request_fingerprint),
            result: Resolved::new(&schemas.result, schemas.result_fingerprint),
            intermediation: Resolved::new(
                &schemas.intermediation,
                schemas.intermediation_fingerprint,
            ),
            audit: Resolved::new(&schemas.audit, schemas.audit_fingerprint),
            schemas,
        }
    }

    pub fn encode_request(&self, r: &RequestRecord) -> Result<Vec<u8>, CodecError> {
        self.request.encode(convert::request_to_value(r)?)
    }

    pub fn decode_request(&self, bytes: &[u8]) -> Result<RequestRecord, CodecError> {
        let s = &self.schemas;
        let bytes = &*s.with_current_fingerprint(bytes);
        let value = match self.request.decode(bytes) {
            Err(CodecError::UnknownSchema(fp)) => {
                read_previous(&s.previous_requests, &s.request, bytes)
                    .ok_or(CodecError::UnknownSchema(fp))??
            }
            other => other?,
        };
        convert::request_from_value(value)
    }

    pub fn encode_result(&self, r: &ResultRecord) -> Result<Vec<u8>, CodecError> {
        self.result.encode(convert::result_to_value(r)?)
    }

    pub fn decode_result(&self, bytes: &[u8]) -> Result<ResultRecord, CodecError> {
        let s = &self.schemas;
        let bytes = &*s.with_current_fingerprint(bytes);
        let value = match self.result.decode(bytes) {
            Err(CodecError::UnknownSchema(fp)) => {
                read_previous(&s.previous_results, &s.result, bytes)
                    .ok_or(CodecError::UnknownSchema(fp))??
            }
            other => other?,
        };
        convert::result_from_value(value)
    }

    /// A state change of a switching intermediation (topic `<prefix>.intermediations`).
    pub fn encode_intermediation(&self, e: &IntermediationEvent) -> Result<Vec<u8>, CodecError> {
        let shape = shapes().known("IntermediationEvent");
        let json = serde_json::to_value(e).map_err(|e| CodecError::Shape(e.to_string()))?;
        let value = to_avro(&json, shape).map_err(|e| CodecError::Shape(e.to_string()))?;
        self.intermediation.encode(value)
    }

    /// A row of the audit trail (topic `<prefix>.audit`).
    pub fn encode_audit(&self, e: &crate::messages::AuditRecord) -> Result<Vec<u8>, CodecError> {
        let json = serde_json::to_value(e).map_err(|e| CodecError::Shape(e.to_string()))?;
        let value = to_avro(&json, shapes().known("AuditRecord"))
            .map_err(|e| CodecError::Shape(e.to_string()))?;
        self.audit.encode(value)
    }

    pub fn decode_audit(&self, bytes: &[u8]) -> Result<crate::messages::AuditRecord, CodecError> {
        let s = &self.schemas;
        let bytes = &*s.with_current_fingerprint(bytes);
        let value = self.audit.decode(bytes)?;
        let json = from_avro(value, shapes().known("AuditRecord"))
            .map_err(|e| CodecError::Shape(e.to_string()))?;
        serde_json::from_value(json).map_err(|e| CodecError::Shape(e.to_string()))
    }

    pub fn decode_intermediation(&self, bytes: &[u8]) -> Result<IntermediationEvent, CodecError> {
        let s = &self.schemas;
        let bytes = &*s.with_current_fingerprint(bytes);
        let value = self.intermediation.decode(bytes)?;
        let json = from_avro(value, shapes().known("IntermediationEvent"))
            .map_err(|e| CodecError::Shape(e.to_string()))?;
        serde_json::from_value(json).map_err(|e| CodecError::Shape(e.to_string()))
    }
}

/// A message written with one of the `previous` versions (by its fingerprint), read as
/// `current`; `None` when no kept version has that fingerprint.
fn read_previous(
    previous: &[Previous],
    current: &Schema,
    bytes: &[u8],
) -> Option<Result<apache_avro::types::Value, CodecError>> {
    let p = previous.iter().find(|p| bytes[2..10] == p.fingerprint)?;
    Some((|| {
        let value = decode(&p.schema, p.fingerprint, bytes)?;
        let (wn, rn) = (Names::of(&p.schema)?, Names::of(current)?);
        evolve(value, &p.schema, &wn, current, &rn)
            .map_err(|e| CodecError::Shape(format!("written with {}: {e}", p.file)))
    })())
}

fn decode(
    schema: &Schema,
    fingerprint: [u8; 8],
    bytes: &[u8],
) -> Result<apache_avro::types::Value, CodecError> {
    if bytes.len() < 10 || bytes[..2] != MAGIC {
        return Err(CodecError::NotSingleObject);
    }
    if bytes[2..10] != fingerprint {
        return Err(CodecError::UnknownSchema(hex::encode(&bytes[2..10])));
    }
    let mut datum = &bytes[10..];
    Ok(from_avro_datum(schema, &mut datum, None)?)
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone, Utc};

    use super::*;
    use crate::domain::*;
    use crate::messages::types::*;

    fn request(payload: Payload) -> RequestRecord {
        RequestRecord {
            request_id: RequestId::new(),
            function: payload.first_function(),
            company_code: CompanyCode::parse("A0001").unwrap(),
            user_id: "taro".into(),
            point_id: SupplyPointId::parse("0300000000000000000001").unwrap(),
            update_flag: UpdateFlag::Register,
            original_request_id: None,
            accepted_at: Utc.timestamp_millis_opt(1_700_000_000_123).unwrap(),
            payload,
            replay: 0,
        }
    }

    #[test]
    fn facility_inquiry_request_round_trips() {
        let codec = Codec::new();
        let r = request(Payload::FacilityInquiry(FacilityInquiry {}));
        let bytes = codec.encode_request(&r).unwrap();
        assert_eq!(bytes[..2], MAGIC);
        assert_eq!(codec.decode_request(&bytes).unwrap(), r);
    }

    #[test]
    fn switch_start_request_round_trips() {
        let codec = Codec::new();
        let mut r = request(Payload::SwitchStart(SwitchStart {
            planned_date: NaiveDate::from_ymd_opt(2026, 12, 15).unwrap(),
            previous_retailer_code: "B0002".into(),
            previous_customer_number: "1234-5678".into(),
            customer_name: "山田 太郎".into(),
            customer_phone: Some("03-1234-5678".into()),
            contract_ampere: Some(40),
            intermediation_number: None,
            agreed_to_grid_terms: true,
            contract_method: Some(ContractMethod::MainSwitch),
            contract_kw: None,
        }));
        r.update_flag = UpdateFlag::Correct;
        r.original_request_id = Some(RequestId::new());
        r.replay = 2;
        let bytes = codec.encode_request(&r).unwrap();
        assert_eq!(codec.decode_request(&bytes).unwrap(), r);
    }

    #[test]
    fn facility_inquiry_result_round_trips() {
        let codec = Codec::new();
        let req = request(Payload::FacilityInquiry(FacilityInquiry {}));
        let mut r = ResultRecord::for_request(&req, ResultStatus::Completed, 2);
        r.occurred_at = Utc.timestamp_millis_opt(1_700_000_001_000).unwrap();
        r.payload = Some(ResultPayload::FacilityInquiry(FacilityInquiryResult {
            supply_address: "東京都千代田区1-1".into(),
            contract_kind: "従量電灯B".into(),
            contract_ampere: Some(30),
            contract_kva: None,
            smart_meter: true,
            meter_number: "M0001".into(),
            next_meter_reading_date: NaiveDate::from_ymd_opt(2026, 12, 3).unwrap(),
            current_retailer_code: Some("B0002".into()),
            generation_kw: None,
            fit_scheme: None,
        }));
        let bytes = codec.encode_result(&r).unwrap();
        assert_eq!(codec.decode_result(&bytes).unwrap(), r);
    }

    #[test]
    fn switch_start_and_refusal_results_round_trip() {
        let codec = Codec::new();
        let req = request(Payload::FacilityInquiry(FacilityInquiry {}));
        let mut r = ResultRecord::for_request(&req, ResultStatus::Rejected, 1);
        r.occurred_at = Utc.timestamp_millis_opt(1_700_000_001_000).unwrap();
        r.code = Some("E1001".into());
        r.message = Some("供給地点特定番号が存在しません".into());
        assert_eq!(
            codec
                .decode_result(&codec.encode_result(&r).unwrap())
                .unwrap(),
            r
        );
        r.status = ResultStatus::Completed;
        r.function = Function::HvSwitchEnd;
        r.payload = Some(ResultPayload::SwitchStart(SwitchStartResult {
            application_number: "03-000001".into(),
            switch_date: NaiveDate::from_ymd_opt(2027, 1, 5).unwrap(),
            reception_stage: "09".into(),
        }));
        assert_eq!(
            codec
                .decode_result(&codec.encode_result(&r).unwrap())
                .unwrap(),
            r
        );
    }

    #[test]
    fn every_functions_request_and_result_round_trip() {
        use crate::messages::fixtures as samples;
        let codec = Codec::new();
        for &f in Function::ALL {
            for full in [true, false] {
                let r = samples::request(f, full);
                let bytes = codec.encode_request(&r).unwrap();
                assert_eq!(codec.decode_request(&bytes).unwrap(), r, "{f}");
                let mut result = ResultRecord::for_request(&r, ResultStatus::Completed, 1);
                result.occurred_at = Utc.timestamp_millis_opt(1_700_000_001_000).unwrap();
                result.payload = Some(samples::result(f, full));
                let bytes = codec.encode_result(&result).unwrap();
                assert_eq!(codec.decode_result(&bytes).unwrap(), result, "{f}");
            }
        }
    }

    #[test]
    fn audit_records_round_trip_with_their_own_fingerprint() {
        let codec = Codec::new();
        let record = crate::messages::AuditRecord {
            id: 42,
            at: Utc.timestamp_millis_opt(1_700_000_002_345).unwrap(),
            company_code: "A0001".into(),
            user_id: "itaku.taro".into(),
            contractor: Some("7000012050002".into()),
            certificate: Some("ab".repeat(32)),
            action: "request.result_read".into(),
            subject_id: "01931f6e-7b1a-7c3e-8a4b-0123456789ab".into(),
            detail: r#"{"function":"facility-inquiry"}"#.into(),
        };
        let bytes = codec.encode_audit(&record).unwrap();
        assert_eq!(codec.decode_audit(&bytes).unwrap(), record);
        let operator = crate::messages::AuditRecord {
            contractor: None,
            certificate: None,
            ..record
        };
        let bytes = codec.encode_audit(&operator).unwrap();
        assert_eq!(codec.decode_audit(&bytes).unwrap(), operator);
        assert!(
            codec.decode_request(&bytes).is_err(),
            "another record's fingerprint"
        );
    }

    #[test]
    fn intermediation_events_round_trip_with_their_own_fingerprint() {
        use crate::messages::intermediation_event::{
            DeclineReason, EventKind, IntermediationPointClass,
        };
        let codec = Codec::new();
        let mut e = IntermediationEvent::new(
            uuid::Uuid::now_v7(),
            EventKind::Registered,
            "0300000000000000000001".into(),
            "A0001".into(),
            "taro".into(),
        );
        e.occurred_at = Utc.timestamp_millis_opt(1_700_000_000_123).unwrap();
        e.intermediation_number = Some("IS03-0001".into());
        e.new_retailer_code = Some("A0001".into());
        e.current_retailer_code = Some("Z0300".into());
        e.customer_number = Some("0012-3456".into());
        e.contract_name = Some("山田 太郎".into());
        e.supply_address = Some("東京都千代田区1-1".into());
        e.desired_switch_date = NaiveDate::from_ymd_opt(2026, 12, 1);
        e.point_class = Some(IntermediationPointClass::Lv);
        e.expires_at = Some(Utc.timestamp_millis_opt(1_700_100_000_000).unwrap());
        let bytes = codec.encode_intermediation(&e).unwrap();
        assert_eq!(bytes[..2], MAGIC);
        assert_eq!(codec.decode_intermediation(&bytes).unwrap(), e);
        assert!(matches!(
            codec.decode_request(&bytes),
            Err(CodecError::UnknownSchema(_))
        ));

        let mut d = IntermediationEvent::new(
            e.intermediation_id,
            EventKind::Declined,
            e.supply_point_id.clone(),
            "Z0300".into(),
            "hanako".into(),
        );
        d.occurred_at = e.occurred_at;
        d.decline_reasons = vec![DeclineReason::NameMismatch, DeclineReason::Other];
        d.note = Some("別途ご連絡ください".into());
        let bytes = codec.encode_intermediation(&d).unwrap();
        assert_eq!(codec.decode_intermediation(&bytes).unwrap(), d);
    }

    #[test]
    fn a_payload_of_another_function_is_refused_on_decode() {
        let codec = Codec::new();
        let req = request(Payload::FacilityInquiry(FacilityInquiry {}));
        let mut r = ResultRecord::for_request(&req, ResultStatus::Completed, 1);
        r.payload = Some(ResultPayload::Application(ApplicationResult {
            application_number: "03-1".into(),
            effective_date: None,
            reception_stage: "09".into(),
        }));
        let bytes = codec.encode_result(&r).unwrap();
        assert!(matches!(
            codec.decode_result(&bytes),
            Err(CodecError::Shape(_))
        ));
    }

    #[test]
    fn bytes_that_are_not_single_object_are_a_classified_error() {
        let codec = Codec::new();
        assert!(matches!(
            codec.decode_request(b"{}"),
            Err(CodecError::NotSingleObject)
        ));
        let mut bytes = codec
            .encode_request(&request(Payload::FacilityInquiry(FacilityInquiry {})))
            .unwrap();
        bytes[5] ^= 0xFF;
        assert!(matches!(
            codec.decode_request(&bytes),
            Err(CodecError::UnknownSchema(_))
        ));
        let r = request(Payload::FacilityInquiry(FacilityInquiry {}));
        let good = codec.encode_request(&r).unwrap();
        assert!(codec.decode_request(&good[..good.len() - 3]).is_err());
        assert!(matches!(
            codec.decode_result(&good),
            Err(CodecError::UnknownSchema(_))
        ));
    }
}
