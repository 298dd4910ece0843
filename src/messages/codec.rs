//! Avro single-object encoding: `C3 01`, the schema's 8-byte Rabin fingerprint, then the datum.
//! A consumer written by a grid operator's team decodes any message with the published schema.

use apache_avro::{Schema, from_avro_datum, to_avro_datum};

use super::convert;
use super::schemas::SchemaSet;
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

/// Encodes and decodes the hub's records. Cheap to share: parse the schemas once.
pub struct Codec {
    schemas: SchemaSet,
}

impl Default for Codec {
    fn default() -> Self {
        Self::new()
    }
}

impl Codec {
    pub fn new() -> Self {
        Codec {
            schemas: SchemaSet::load(),
        }
    }

    pub fn encode_request(&self, r: &RequestRecord) -> Result<Vec<u8>, CodecError> {
        let s = &self.schemas;
        encode(
            &s.request,
            s.request_fingerprint,
            convert::request_to_value(r),
        )
    }

    pub fn decode_request(&self, bytes: &[u8]) -> Result<RequestRecord, CodecError> {
        let s = &self.schemas;
        convert::request_from_value(decode(&s.request, s.request_fingerprint, bytes)?)
    }

    pub fn encode_result(&self, r: &ResultRecord) -> Result<Vec<u8>, CodecError> {
        let s = &self.schemas;
        encode(&s.result, s.result_fingerprint, convert::result_to_value(r))
    }

    pub fn decode_result(&self, bytes: &[u8]) -> Result<ResultRecord, CodecError> {
        let s = &self.schemas;
        convert::result_from_value(decode(&s.result, s.result_fingerprint, bytes)?)
    }
}

fn encode(
    schema: &Schema,
    fingerprint: [u8; 8],
    value: apache_avro::types::Value,
) -> Result<Vec<u8>, CodecError> {
    let datum = to_avro_datum(schema, value)?;
    let mut out = Vec::with_capacity(10 + datum.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&fingerprint);
    out.extend_from_slice(&datum);
    Ok(out)
}

fn decode(
    schema: &Schema,
    fingerprint: [u8; 8],
    bytes: &[u8],
) -> Result<apache_avro::types::Value, CodecError> {
    if bytes.len() < 10 || bytes[..2] != MAGIC {
        return Err(CodecError::NotSingleObject);
    }
    // Older schema versions join this lookup as the contract evolves.
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
            function: payload.function(),
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
            current_retailer_code: "B0002".into(),
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
