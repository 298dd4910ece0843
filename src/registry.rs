//! A read-only schema registry in the Confluent Schema Registry's API (`GET /subjects`,
//! `/subjects/{subject}/versions[/{version}|/latest]`, `/schemas/ids/{id}`), serving the
//! schemas the hub writes, so a grid operator's Kafka tooling can resolve them without a copy of
//! this repository.
//!
//! Subjects are named after the record (Confluent's RecordNameStrategy: `jp.kirikae.Request`,
//! `jp.kirikae.Result`, `jp.kirikae.IntermediationEvent`, `jp.kirikae.AuditRecord`), as one
//! record type travels on many topics (one per area). A subject's versions are its kept previous
//! schemas (`schemas/previous/`) in order, then the current one. The topics carry Avro
//! single-object encoding (`C3 01`, the schema's 8-byte CRC-64-AVRO fingerprint, the datum), not
//! the Confluent framing: a reader finds the writer's schema by comparing that fingerprint with
//! the fingerprints of the versions served here. A schema's id is derived from its fingerprint
//! (its low 31 bits), so it is the same in every process and every release.

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value as Json, json};

use crate::messages::{SchemaSet, composed_schema_json};

/// One version of a subject.
#[derive(Debug, Clone)]
pub struct Version {
    pub subject: &'static str,
    /// 1-based, oldest first.
    pub version: u32,
    pub id: u32,
    /// The schema as JSON text, self-contained (named types inlined).
    pub schema: String,
}

/// Every subject with its versions, oldest first (composed once, on first use).
pub fn subjects() -> &'static [(&'static str, Vec<Version>)] {
    static SUBJECTS: std::sync::LazyLock<Vec<(&'static str, Vec<Version>)>> =
        std::sync::LazyLock::new(compose_subjects);
    &SUBJECTS
}

fn compose_subjects() -> Vec<(&'static str, Vec<Version>)> {
    let set = SchemaSet::load();
    let previous_text = |file: &str| {
        crate::messages::PREVIOUS
            .iter()
            .find(|(f, _)| *f == file)
            .map(|(_, text)| text.to_string())
            .expect("a kept schema's file")
    };
    let mut out = Vec::new();
    let kept = [
        ("jp.kirikae.Request", &set.previous_requests),
        ("jp.kirikae.Result", &set.previous_results),
    ];
    for (subject, previous) in kept {
        let mut texts: Vec<(String, [u8; 8])> = previous
            .iter()
            .map(|p| (previous_text(p.file), p.fingerprint))
            .collect();
        let current = if subject == "jp.kirikae.Request" {
            set.request_fingerprint
        } else {
            set.result_fingerprint
        };
        if texts.last().is_none_or(|(_, fp)| *fp != current) {
            texts.push((composed_schema_json(subject), current));
        }
        out.push((subject, versions(subject, texts)));
    }
    for (subject, fp) in [
        (
            "jp.kirikae.IntermediationEvent",
            set.intermediation_fingerprint,
        ),
        ("jp.kirikae.AuditRecord", set.audit_fingerprint),
    ] {
        out.push((
            subject,
            versions(subject, vec![(composed_schema_json(subject), fp)]),
        ));
    }
    out
}

fn versions(subject: &'static str, texts: Vec<(String, [u8; 8])>) -> Vec<Version> {
    texts
        .into_iter()
        .enumerate()
        .map(|(i, (schema, fp))| Version {
            subject,
            version: i as u32 + 1,
            id: id_of(fp),
            schema: compact(&schema),
        })
        .collect()
}

/// A schema's id: the low 31 bits of its (little-endian) fingerprint, a positive `int`.
pub fn id_of(fingerprint: [u8; 8]) -> u32 {
    (u64::from_le_bytes(fingerprint) & 0x7fff_ffff) as u32
}

fn compact(text: &str) -> String {
    serde_json::from_str::<Json>(text)
        .map(|j| j.to_string())
        .unwrap_or_else(|_| text.to_string())
}

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

fn answer(status: StatusCode, body: Json) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        body.to_string(),
    )
        .into_response()
}

/// The Confluent registry's error answer: `error_code` 40401 (subject), 40402 (version),
/// 40403 (schema), 42202 (an invalid version).
fn not_found(code: u32, message: &str) -> Response {
    let status = if code == 42202 {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::NOT_FOUND
    };
    answer(status, json!({"error_code": code, "message": message}))
}

fn subject_versions(subject: &str) -> Option<&'static [Version]> {
    subjects()
        .iter()
        .find(|(s, _)| *s == subject)
        .map(|(_, v)| v.as_slice())
}

async fn list_subjects() -> Response {
    let names: Vec<&str> = subjects().iter().map(|(s, _)| *s).collect();
    answer(StatusCode::OK, json!(names))
}

async fn list_versions(Path(subject): Path<String>) -> Response {
    match subject_versions(&subject) {
        Some(v) => answer(
            StatusCode::OK,
            json!(v.iter().map(|v| v.version).collect::<Vec<_>>()),
        ),
        None => not_found(40401, "Subject not found."),
    }
}

async fn one_version(Path((subject, version)): Path<(String, String)>) -> Response {
    let Some(versions) = subject_versions(&subject) else {
        return not_found(40401, "Subject not found.");
    };
    let found = match version.as_str() {
        "latest" | "-1" => versions.last(),
        v => match v.parse::<u32>() {
            Ok(n) if n > 0 => versions.iter().find(|x| x.version == n),
            _ => {
                return not_found(
                    42202,
                    "The specified version is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"",
                );
            }
        },
    };
    match found {
        Some(v) => answer(
            StatusCode::OK,
            json!({"subject": v.subject, "version": v.version, "id": v.id, "schema": v.schema}),
        ),
        None => not_found(40402, "Version not found."),
    }
}

async fn schema_by_id(Path(id): Path<String>) -> Response {
    let wanted = id.parse::<u32>().ok();
    let found = subjects()
        .iter()
        .flat_map(|(_, v)| v)
        .find(|v| Some(v.id) == wanted);
    match found {
        Some(v) => answer(StatusCode::OK, json!({"schema": v.schema})),
        None => not_found(40403, "Schema not found"),
    }
}

/// The registry's routes, at the paths a Confluent client asks for.
pub fn router() -> Router {
    Router::new()
        .route("/subjects", get(list_subjects))
        .route("/subjects/{subject}/versions", get(list_versions))
        .route("/subjects/{subject}/versions/{version}", get(one_version))
        .route("/schemas/ids/{id}", get(schema_by_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_the_hub_writes_is_the_latest_version_of_its_subject() {
        let set = SchemaSet::load();
        let all = subjects();
        let latest = |s: &str| {
            all.iter()
                .find(|(n, _)| *n == s)
                .and_then(|(_, v)| v.last())
                .unwrap()
                .clone()
        };
        for (subject, fp) in [
            ("jp.kirikae.Request", set.request_fingerprint),
            ("jp.kirikae.Result", set.result_fingerprint),
            (
                "jp.kirikae.IntermediationEvent",
                set.intermediation_fingerprint,
            ),
            ("jp.kirikae.AuditRecord", set.audit_fingerprint),
        ] {
            let v = latest(subject);
            assert_eq!(v.id, id_of(fp), "{subject}");
            let parsed = apache_avro::Schema::parse_str(&v.schema).unwrap();
            let served = crate::messages::canonical::fingerprint(&parsed);
            assert_eq!(
                served, fp,
                "{subject}: the served text is the written schema"
            );
        }
    }

    #[test]
    fn ids_are_unique_and_versions_count_from_one() {
        let mut ids = std::collections::BTreeSet::new();
        for (subject, versions) in subjects().iter() {
            for (i, v) in versions.iter().enumerate() {
                assert_eq!(v.version as usize, i + 1, "{subject}");
                assert!(
                    ids.insert(v.id),
                    "{subject} v{}: id {} twice",
                    v.version,
                    v.id
                );
            }
        }
        assert!(ids.len() >= 4);
    }
}
