//! `kirikae replay --area NN`: once the cause of a failure is mended (the grid operator is back),
//! puts the requests of the area's dead-letter topic back on its request topic as their next
//! replay generation. Only a request whose status is still `failed` in the generation that
//! failed is replayed, so running the command twice replays nothing twice.

use std::collections::HashMap;
use std::time::Duration;

use deadpool_postgres::Pool;
use rdkafka::Message;

use crate::config::Settings;
use crate::domain::{Area, RequestId};
use crate::kafka::{self, Publisher};
use crate::messages::{Codec, RequestRecord};
use crate::vault;

/// Replays the failed requests of `area` (only those in `only`, when it is not empty);
/// returns the ids replayed.
pub async fn run(
    settings: &Settings,
    pool: &Pool,
    area: Area,
    only: &[RequestId],
) -> anyhow::Result<Vec<RequestId>> {
    let codec = Codec::new();
    let (link, topic) = (kafka::Link::of(settings), settings.dlq_topic(area));
    let records =
        tokio::task::spawn_blocking(move || kafka::read_to_end(&link, &topic, |low, _| low))
            .await??;
    // The newest generation of each request the dead-letter topic holds, with its key header.
    // Its personal fields stay sealed: they are bound to the request id, not the generation,
    // so the record goes back as it came, its wrapped key with it, and replay needs no key.
    let mut latest: HashMap<RequestId, (RequestRecord, Option<String>)> = HashMap::new();
    for m in &records {
        match m.payload().map(|b| codec.decode_request(b)) {
            Some(Ok(r)) if only.is_empty() || only.contains(&r.request_id) => {
                if latest
                    .get(&r.request_id)
                    .is_none_or(|(seen, _)| seen.replay < r.replay)
                {
                    let key = vault::header_of(m, vault::KEY_HEADER)
                        .map(|h| String::from_utf8_lossy(h).into_owned());
                    latest.insert(r.request_id, (r, key));
                }
            }
            Some(Ok(_)) => {}
            _ => tracing::warn!(
                offset = m.offset(),
                "undecodable dead-letter record left alone"
            ),
        }
    }
    let publisher = Publisher::of(settings, Duration::from_secs(30))?;
    let client = pool.get().await?;
    let mut replayed = Vec::new();
    for (mut record, key) in latest.into_values() {
        if !crate::requests::store::failed_in(&client, record.request_id, record.replay).await? {
            continue;
        }
        record.replay += 1;
        let bytes = codec.encode_request(&record)?;
        let topic = settings.requests_topic(area);
        let headers: Vec<(&str, String)> =
            key.map(|k| (vault::KEY_HEADER, k)).into_iter().collect();
        publisher
            .publish_with_headers(&topic, record.point_id.as_str(), &bytes, &headers)
            .await?;
        tracing::info!(request_id = %record.request_id, replay = record.replay, "replayed");
        replayed.push(record.request_id);
    }
    Ok(replayed)
}

/// [`run`] by the operator `by` (the dead-letter screen's replay button), written to the audit
/// trail with the ids replayed.
pub async fn run_by(
    settings: &Settings,
    pool: &Pool,
    area: Area,
    only: &[RequestId],
    by: &str,
) -> anyhow::Result<Vec<RequestId>> {
    let replayed = run(settings, pool, area, only).await?;
    let ids: Vec<String> = replayed.iter().map(|r| r.to_string()).collect();
    let client = pool.get().await?;
    crate::audit::record_as(
        &client,
        "-",
        by,
        "dead_letter.replay",
        area.code(),
        serde_json::json!({"area": area.code(), "replayed": ids}),
    )
    .await?;
    Ok(replayed)
}
