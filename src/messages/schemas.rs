//! Loads the `.avsc` files and composes each top-level record into one self-contained schema.
//!
//! The files name each other's records (one file per record type); a message must carry the
//! fingerprint of a complete schema so that any Avro tool can decode it, so named references are
//! inlined here, at first use, exactly as the Avro spec's canonical form expects.

use std::borrow::Cow;
use std::collections::HashMap;

use apache_avro::Schema;
use apache_avro::rabin::Rabin;
use serde_json::Value as Json;

const FILES: [(&str, &str); 23] = [
    (
        "abolition.avsc",
        include_str!("../../schemas/abolition.avsc"),
    ),
    (
        "ampere_change.avsc",
        include_str!("../../schemas/ampere_change.avsc"),
    ),
    (
        "audit_record.avsc",
        include_str!("../../schemas/audit_record.avsc"),
    ),
    (
        "application_result.avsc",
        include_str!("../../schemas/application_result.avsc"),
    ),
    (
        "contract_method.avsc",
        include_str!("../../schemas/contract_method.avsc"),
    ),
    (
        "customer_change.avsc",
        include_str!("../../schemas/customer_change.avsc"),
    ),
    (
        "facility_inquiry.avsc",
        include_str!("../../schemas/facility_inquiry.avsc"),
    ),
    (
        "facility_inquiry_result.avsc",
        include_str!("../../schemas/facility_inquiry_result.avsc"),
    ),
    (
        "hv_usage_inquiry.avsc",
        include_str!("../../schemas/hv_usage_inquiry.avsc"),
    ),
    (
        "hv_usage_request.avsc",
        include_str!("../../schemas/hv_usage_request.avsc"),
    ),
    (
        "intermediation_event.avsc",
        include_str!("../../schemas/intermediation_event.avsc"),
    ),
    (
        "point_search.avsc",
        include_str!("../../schemas/point_search.avsc"),
    ),
    (
        "point_search_result.avsc",
        include_str!("../../schemas/point_search_result.avsc"),
    ),
    (
        "reconnection.avsc",
        include_str!("../../schemas/reconnection.avsc"),
    ),
    ("request.avsc", include_str!("../../schemas/request.avsc")),
    ("result.avsc", include_str!("../../schemas/result.avsc")),
    (
        "switch_end.avsc",
        include_str!("../../schemas/switch_end.avsc"),
    ),
    (
        "switch_result.avsc",
        include_str!("../../schemas/switch_result.avsc"),
    ),
    (
        "switch_start.avsc",
        include_str!("../../schemas/switch_start.avsc"),
    ),
    (
        "usage_inquiry.avsc",
        include_str!("../../schemas/usage_inquiry.avsc"),
    ),
    (
        "usage_password.avsc",
        include_str!("../../schemas/usage_password.avsc"),
    ),
    (
        "usage_password_result.avsc",
        include_str!("../../schemas/usage_password_result.avsc"),
    ),
    (
        "usage_result.avsc",
        include_str!("../../schemas/usage_result.avsc"),
    ),
];

/// The previous versions of the top-level records, composed as they were published (one
/// self-contained schema each), oldest first: messages written with any of them are still read.
/// A schema change adds the version it replaces here; `compatibility` tests prove each one.
pub const PREVIOUS: [(&str, &str); 6] = [
    (
        "request.v1.avsc",
        include_str!("../../schemas/previous/request.v1.avsc"),
    ),
    (
        "request.v2.avsc",
        include_str!("../../schemas/previous/request.v2.avsc"),
    ),
    (
        "request.v3.avsc",
        include_str!("../../schemas/previous/request.v3.avsc"),
    ),
    (
        "result.v1.avsc",
        include_str!("../../schemas/previous/result.v1.avsc"),
    ),
    (
        "result.v2.avsc",
        include_str!("../../schemas/previous/result.v2.avsc"),
    ),
    (
        "result.v3.avsc",
        include_str!("../../schemas/previous/result.v3.avsc"),
    ),
];

/// A previous version of a top-level record: its file, its schema and its fingerprint.
pub struct Previous {
    pub file: &'static str,
    pub schema: Schema,
    pub fingerprint: [u8; 8],
}

/// The composed schemas of the three top-level records, with their fingerprints, and the
/// previous versions of the request and the result.
pub struct SchemaSet {
    pub request: Schema,
    pub result: Schema,
    pub intermediation: Schema,
    pub audit: Schema,
    pub request_fingerprint: [u8; 8],
    pub result_fingerprint: [u8; 8],
    pub intermediation_fingerprint: [u8; 8],
    pub audit_fingerprint: [u8; 8],
    pub previous_requests: Vec<Previous>,
    pub previous_results: Vec<Previous>,
    /// Each schema's fingerprint under apache-avro's own canonical form (what the hub wrote
    /// before it computed the specification's), paired with its current fingerprint: messages
    /// already on the topics carry these and are still read.
    pub legacy_fingerprints: Vec<([u8; 8], [u8; 8])>,
}

impl SchemaSet {
    pub fn load() -> Self {
        let request = Schema::parse_str(&composed_schema_json("jp.kirikae.Request"))
            .expect("schemas/request.avsc is valid Avro");
        let result = Schema::parse_str(&composed_schema_json("jp.kirikae.Result"))
            .expect("schemas/result.avsc is valid Avro");
        let intermediation =
            Schema::parse_str(&composed_schema_json("jp.kirikae.IntermediationEvent"))
                .expect("schemas/intermediation_event.avsc is valid Avro");
        let audit = Schema::parse_str(&composed_schema_json("jp.kirikae.AuditRecord"))
            .expect("schemas/audit_record.avsc is valid Avro");
        let previous = |prefix: &str| {
            PREVIOUS
                .iter()
                .filter(|(file, _)| file.starts_with(prefix))
                .map(|(file, text)| {
                    let schema = Schema::parse_str(text)
                        .unwrap_or_else(|e| panic!("schemas/previous/{file}: {e}"));
                    Previous {
                        file,
                        fingerprint: fingerprint(&schema),
                        schema,
                    }
                })
                .collect()
        };
        let (previous_requests, previous_results): (Vec<Previous>, Vec<Previous>) =
            (previous("request."), previous("result."));
        let legacy_fingerprints = [&request, &result, &intermediation, &audit]
            .into_iter()
            .chain(previous_requests.iter().map(|p: &Previous| &p.schema))
            .chain(previous_results.iter().map(|p: &Previous| &p.schema))
            .map(|s| (legacy_fingerprint(s), fingerprint(s)))
            .collect();
        SchemaSet {
            legacy_fingerprints,
            previous_requests,
            previous_results,
            request_fingerprint: fingerprint(&request),
            result_fingerprint: fingerprint(&result),
            intermediation_fingerprint: fingerprint(&intermediation),
            audit_fingerprint: fingerprint(&audit),
            audit,
            request,
            result,
            intermediation,
        }
    }

    /// `message` with a legacy fingerprint in its header replaced by the schema's current one,
    /// so that the codec's lookup by fingerprint finds records written before the change.
    pub fn with_current_fingerprint<'a>(&self, message: &'a [u8]) -> Cow<'a, [u8]> {
        let Some(written) = message.get(2..10) else {
            return Cow::Borrowed(message);
        };
        match self
            .legacy_fingerprints
            .iter()
            .find(|(old, _)| old == written)
        {
            Some((old, new)) if old != new => {
                let mut owned = message.to_vec();
                owned[2..10].copy_from_slice(new);
                Cow::Owned(owned)
            }
            _ => Cow::Borrowed(message),
        }
    }
}

/// The CRC-64-AVRO fingerprint of the schema's Parsing Canonical Form as the Avro
/// specification defines it (`canonical`), little-endian: what fastavro or Java computes.
pub fn fingerprint(schema: &Schema) -> [u8; 8] {
    super::canonical::fingerprint(schema)
}

/// The fingerprint the hub wrote before: over apache-avro 0.21's canonical form, which keeps a
/// logical-typed primitive as an object. Only for reading old messages.
pub fn legacy_fingerprint(schema: &Schema) -> [u8; 8] {
    let bytes = schema.fingerprint::<Rabin>().bytes;
    bytes.try_into().expect("Rabin fingerprints are 8 bytes")
}

/// Every file's definition, by full name (`jp.kirikae.SwitchStart`).
pub fn schema_definitions() -> HashMap<String, Json> {
    FILES
        .iter()
        .map(|(file, text)| {
            let json: Json = serde_json::from_str(text)
                .unwrap_or_else(|e| panic!("schemas/{file} is not JSON: {e}"));
            (full_name_of(&json), json)
        })
        .collect()
}

/// The JSON of a named top-level record with every referenced record inlined once.
pub fn composed_schema_json(full_name: &str) -> String {
    compose(&schema_definitions(), full_name).to_string()
}

/// `full_name` from `defs` (one definition per named type, referring to others by full name),
/// each named type inlined at its first use: how every published schema is composed.
pub fn compose(defs: &HashMap<String, Json>, full_name: &str) -> Json {
    let root = defs[full_name].clone();
    let mut seen = vec![full_name.to_string()];
    inline(root, defs, &mut seen)
}

fn full_name_of(json: &Json) -> String {
    let name = json["name"].as_str().unwrap_or_default();
    match json["namespace"].as_str() {
        Some(ns) if !name.contains('.') => format!("{ns}.{name}"),
        _ => name.to_string(),
    }
}

fn inline(json: Json, defs: &HashMap<String, Json>, seen: &mut Vec<String>) -> Json {
    match json {
        Json::String(s) if defs.contains_key(&s) && !seen.contains(&s) => {
            seen.push(s.clone());
            inline(defs[&s].clone(), defs, seen)
        }
        Json::Array(items) => {
            Json::Array(items.into_iter().map(|j| inline(j, defs, seen)).collect())
        }
        Json::Object(map) => Json::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = if k == "type" || k == "fields" || k == "items" || k == "values" {
                        inline(v, defs, seen)
                    } else {
                        v
                    };
                    (k, v)
                })
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_file_parses_and_composes() {
        let set = SchemaSet::load();
        assert_ne!(set.request_fingerprint, set.result_fingerprint);
        assert_ne!(set.intermediation_fingerprint, set.request_fingerprint);
        assert_ne!(set.intermediation_fingerprint, set.result_fingerprint);
        let json = composed_schema_json("jp.kirikae.Request");
        assert!(json.contains("SwitchStart") && json.contains("planned_date"));
    }

    #[test]
    fn a_record_written_with_the_legacy_fingerprint_is_still_read() {
        let set = SchemaSet::load();
        let codec = crate::messages::Codec::new();
        let record = crate::messages::fixtures::request(crate::domain::Function::SwitchStart, true);
        let mut bytes = codec.encode_request(&record).unwrap();
        let legacy = legacy_fingerprint(&set.request);
        assert_ne!(
            legacy, set.request_fingerprint,
            "accepted_at is timestamp-millis"
        );
        bytes[2..10].copy_from_slice(&legacy);
        assert_eq!(codec.decode_request(&bytes).unwrap(), record);
        // Every kept version's legacy fingerprint leads to its current one.
        for p in set.previous_requests.iter().chain(&set.previous_results) {
            let mut old = vec![0xC3, 0x01];
            old.extend_from_slice(&legacy_fingerprint(&p.schema));
            assert_eq!(
                set.with_current_fingerprint(&old)[2..10],
                p.fingerprint,
                "{}",
                p.file
            );
        }
    }
}
