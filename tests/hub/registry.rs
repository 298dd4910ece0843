//! The schema registry (Confluent's read API) served on the ops listener: an independent Avro
//! implementation decodes what the hub wrote to a topic with only what the registry serves.

use kirikae::domain::Area;
use kirikae::{hub, kafka, ops};
use rdkafka::Message;
use serde_json::{Value, json};

use crate::harness::*;

/// Submits a request to area 03, reads its record back from the request topic, and runs
/// `registry_decode.py` (fastavro) on it against the registry of an ops listener, passing
/// `subject` when the reader is told which subject to use. Returns the request id, its point and
/// the script's JSON answer.
async fn decode_a_request_with_fastavro(subject: Option<&str>) -> (String, String, Value) {
    let app = spawn_app(&[Area::Tokyo]).await;
    let a = app.login(RETAILER_A).await;
    let (point, _) = app.point(Area::Tokyo, 7);
    let id = a.facility_inquiry(&point).await;

    let (link, topic) = (
        kafka::Link::of(&app.settings),
        app.settings.requests_topic(Area::Tokyo),
    );
    let records =
        tokio::task::spawn_blocking(move || kafka::read_to_end(&link, &topic, |low, _| low))
            .await
            .unwrap()
            .unwrap();
    let record = records
        .iter()
        .filter_map(|m| m.payload())
        .next_back()
        .expect("the request is on its topic");

    let ready = hub::ready_check(&app.settings, None).unwrap();
    let addr = ops::serve("127.0.0.1:0".parse().unwrap(), ready, app.shutdown.clone())
        .await
        .unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/hub/registry_decode.py");
    let mut args = vec![
        script.to_string(),
        format!("http://{addr}"),
        hex::encode(record),
    ];
    args.extend(subject.map(str::to_string));
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .args(&args)
            .output()
            .expect("python3 runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "fastavro could not decode it: {}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let decoded = serde_json::from_str(stdout.trim()).unwrap();
    (id, point.as_str().to_string(), decoded)
}

#[tokio::test]
async fn fastavro_decodes_a_request_from_its_topic_with_the_schema_the_registry_serves() {
    let (id, point, decoded) = decode_a_request_with_fastavro(Some("jp.kirikae.Request")).await;
    assert_eq!(decoded["subject"], "jp.kirikae.Request");
    assert_eq!(decoded["datum"]["request_id"], json!(id));
    assert_eq!(decoded["datum"]["point_id"], json!(point));
}

/// fastavro (like Java's `BinaryMessageDecoder`) computes the specification's fingerprint of each
/// schema the registry serves and matches it with the one the message carries.
#[tokio::test]
async fn a_standard_avro_reader_finds_a_records_schema_in_the_registry_by_its_fingerprint() {
    let (id, _, decoded) = decode_a_request_with_fastavro(None).await;
    assert_eq!(decoded["subject"], "jp.kirikae.Request");
    assert_eq!(decoded["datum"]["request_id"], json!(id));
}

#[tokio::test]
async fn the_registry_answers_an_unknown_subject_version_or_id_as_confluents_does() {
    let dir = tempfile::tempdir().unwrap();
    let settings = fresh_settings(dir.path());
    let ready = hub::ready_check(&settings, None).unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let addr = ops::serve("127.0.0.1:0".parse().unwrap(), ready, stop.clone())
        .await
        .unwrap();
    let get = |path: &str| {
        let url = format!("http://{addr}{path}");
        async move {
            let r = reqwest::get(url).await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (status, subjects) = get("/subjects").await;
    assert_eq!(status, 200);
    assert!(
        subjects
            .as_array()
            .unwrap()
            .contains(&"jp.kirikae.Result".into())
    );
    let (status, latest) = get("/subjects/jp.kirikae.Result/versions/latest").await;
    assert_eq!(status, 200);
    let versions = get("/subjects/jp.kirikae.Result/versions").await.1;
    assert_eq!(
        &latest["version"],
        versions.as_array().unwrap().last().unwrap()
    );
    assert_eq!(
        get("/subjects/nope/versions/1").await.1["error_code"],
        40401
    );
    assert_eq!(
        get("/subjects/jp.kirikae.Result/versions/99").await.1["error_code"],
        40402
    );
    assert_eq!(get("/schemas/ids/1").await.1["error_code"], 40403);
    let (status, bad) = get("/subjects/jp.kirikae.Result/versions/x").await;
    assert_eq!((status, bad["error_code"].as_u64()), (422, Some(42202)));
    stop.cancel();
}

/// The hub's Parsing Canonical Form and fingerprint of every schema a message may carry, current
/// or kept, are fastavro's (`to_parsing_canonical_form`, `fingerprint(..., "CRC-64-AVRO")`).
#[test]
fn every_schemas_fingerprint_is_the_one_fastavro_computes() {
    let mut schemas: Vec<(String, String)> = kirikae::docs::MESSAGE_RECORDS
        .iter()
        .map(|r| {
            let name = format!("jp.kirikae.{r}");
            (name.clone(), kirikae::messages::composed_schema_json(&name))
        })
        .collect();
    schemas.extend(
        kirikae::messages::PREVIOUS
            .iter()
            .map(|(file, text)| (file.to_string(), text.to_string())),
    );
    let dir = tempfile::tempdir().unwrap();
    let list: Vec<Value> = schemas
        .iter()
        .map(|(name, text)| json!({"name": name, "schema": serde_json::from_str::<Value>(text).unwrap()}))
        .collect();
    let path = dir.path().join("schemas.json");
    std::fs::write(&path, Value::Array(list).to_string()).unwrap();
    let script = "import json, sys\n\
        from fastavro.schema import parse_schema, to_parsing_canonical_form, fingerprint\n\
        out = {}\n\
        for s in json.load(open(sys.argv[1])):\n    \
            form = to_parsing_canonical_form(parse_schema(s['schema']))\n    \
            out[s['name']] = [form, fingerprint(form, 'CRC-64-AVRO')]\n\
        print(json.dumps(out))\n";
    let out = crate::openapi::python("fastavro", "fastavro", script, &[path.to_str().unwrap()]);
    let theirs: Value = serde_json::from_str(out.trim()).unwrap();
    for (name, text) in &schemas {
        let ours = kirikae::docs::fingerprints(text);
        assert_eq!(
            theirs[name][0],
            json!(ours.canonical),
            "{name}: canonical form"
        );
        assert_eq!(
            theirs[name][1],
            json!(hex::encode(&ours.carried)),
            "{name}: fingerprint"
        );
    }
    assert_eq!(schemas.len(), 4 + kirikae::messages::PREVIOUS.len());
}
