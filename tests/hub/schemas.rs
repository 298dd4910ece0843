//! A message on a topic is readable by Avro libraries other than the hub's own.

use kirikae::domain::Area;
use serde_json::{Value, json};

use crate::harness::*;
use crate::openapi::python;

#[tokio::test]
async fn a_request_on_the_topic_decodes_alike_with_apache_avro_and_fastavro() {
    let app = spawn_app(&[]).await;
    let a = app.login(RETAILER_A).await;
    let id = a
        .accepted(
            "facility-inquiry",
            json!({"supply_point_id": "0300000000000000000042"}),
        )
        .await;
    let topic = app.settings.requests_topic(Area::Tokyo);
    let message = read_topic(&app.settings.kafka_brokers, &topic)
        .into_iter()
        .next()
        .expect("the record on the topic");
    let ours = kirikae::messages::Codec::new()
        .decode_request(&message)
        .unwrap();
    assert_eq!(ours.request_id.to_string(), id);

    let schema_json = kirikae::messages::composed_schema_json("jp.kirikae.Request");
    let prints = kirikae::docs::fingerprints(&schema_json);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("schema.json"), &schema_json).unwrap();
    std::fs::write(dir.path().join("message.bin"), &message).unwrap();
    let script = "import json, sys, io, fastavro\n\
        from fastavro.schema import to_parsing_canonical_form, fingerprint\n\
        schema = fastavro.parse_schema(json.load(open(sys.argv[1] + '/schema.json')))\n\
        data = open(sys.argv[1] + '/message.bin', 'rb').read()\n\
        assert data[:2] == b'\\xc3\\x01', data[:2]\n\
        datum = fastavro.schemaless_reader(io.BytesIO(data[10:]), schema)\n\
        print(json.dumps({'fingerprint': data[2:10].hex(), \
            'fastavro_fingerprint': fingerprint(to_parsing_canonical_form(schema), 'CRC-64-AVRO'), \
            'request_id': datum['request_id'], 'function': datum['function'], \
            'point_id': datum['point_id'], 'company_code': datum['company_code'], \
            'accepted_at': int(datum['accepted_at'].timestamp() * 1000)}))\n";
    let out = python(
        "fastavro",
        "fastavro",
        script,
        &[dir.path().to_str().unwrap()],
    );
    let theirs: Value = serde_json::from_str(out.trim()).unwrap();
    let hex = |b: &[u8]| b.iter().map(|b| format!("{b:02x}")).collect::<String>();
    assert_eq!(theirs["fingerprint"], hex(&prints.carried));
    assert_eq!(theirs["request_id"], ours.request_id.to_string());
    assert_eq!(theirs["function"], ours.function.slug());
    assert_eq!(theirs["point_id"], ours.point_id.as_str());
    assert_eq!(theirs["company_code"], ours.company_code.as_str());
    assert_eq!(
        theirs["accepted_at"],
        ours.accepted_at.timestamp_millis(),
        "{theirs}"
    );
    // fastavro's own fingerprint of the schema is the one the message carries.
    let fast = theirs["fastavro_fingerprint"].as_str().unwrap().to_string();
    assert_eq!(fast, hex(&prints.carried), "fastavro {fast}");
}
