//! Applies a batch of records to the status tables in one transaction, with the offsets.
//!
//! Every write is idempotent (the statements are [`crate::requests::store`]'s, the same the API
//! writes its `accepted` row with), so redeliveries and rebuilds change nothing.

use std::collections::HashMap;

use deadpool_postgres::Pool;
use rdkafka::Message;
use rdkafka::message::OwnedMessage;

use crate::messages::Codec;
use crate::metrics;
use crate::requests::store;
use crate::vault::{self, Keys, Unreadable};

pub async fn apply_batch(
    pool: &Pool,
    codec: &Codec,
    keys: &Keys,
    prefix: &str,
    batch: &[OwnedMessage],
) -> anyhow::Result<()> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let results_marker = format!("{prefix}.results.");
    let intermediations_topic = format!("{prefix}.intermediations");
    let mut next: HashMap<(&str, i32), i64> = HashMap::new();
    let (mut requests, mut results, mut undecodable) = (0u64, 0u64, 0u64);
    let mut intermediations = 0u64;
    for m in batch {
        let bytes = m.payload().unwrap_or_default();
        let applied: anyhow::Result<()> = if m.topic() == intermediations_topic {
            // Opened to be stored for the API (as a result is); a shredded one with its
            // personal fields marked; a missing master key holds the batch back.
            let header = vault::header_of(m, vault::KEY_HEADER);
            match codec
                .decode_intermediation(bytes)
                .map_err(anyhow::Error::from)
                .and_then(|e| vault::open_intermediation(keys, header, &e).map_err(Into::into))
            {
                Ok(e) => crate::intermediation::store::apply(&tx, &e)
                    .await
                    .map(|_| intermediations += 1)
                    .map_err(Into::into),
                Err(e)
                    if matches!(e.downcast_ref::<Unreadable>(), Some(Unreadable::Missing(_))) =>
                {
                    return Err(e);
                }
                Err(e) => Err(e),
            }
        } else if m.topic().starts_with(&results_marker) {
            // In clear to be stored for the status API; a shredded one with its personal
            // fields marked. A master key this process lacks holds the batch back until the
            // ring has it, rather than store a status without its answer.
            let header = vault::header_of(m, vault::KEY_HEADER);
            match codec
                .decode_result(bytes)
                .map_err(anyhow::Error::from)
                .and_then(|r| vault::open_result(keys, header, &r).map_err(Into::into))
            {
                Ok(r) => store::upsert_result(&tx, &r)
                    .await
                    .and(crate::push::events::append_request(&tx, r.request_id.as_uuid()).await)
                    .map(|_| results += 1)
                    .map_err(Into::into),
                Err(e)
                    if matches!(e.downcast_ref::<Unreadable>(), Some(Unreadable::Missing(_))) =>
                {
                    return Err(e);
                }
                Err(e) => Err(e),
            }
        } else {
            // A request's row keeps no personal field (ids, function, point, times): its sealed
            // fields are not opened here.
            match codec.decode_request(bytes) {
                Ok(r) => store::insert_request(&tx, &r)
                    .await
                    .and(crate::push::events::append_request(&tx, r.request_id.as_uuid()).await)
                    .map(|_| requests += 1)
                    .map_err(Into::into),
                Err(e) => Err(e.into()),
            }
        };
        if let Err(e) = applied {
            if e.downcast_ref::<tokio_postgres::Error>().is_some() {
                return Err(e);
            }
            // An undecodable record stays on its topic for inspection; it cannot become a row.
            tracing::error!(error = %e, topic = m.topic(), offset = m.offset(), "undecodable record skipped");
            undecodable += 1;
        }
        next.insert((m.topic(), m.partition()), m.offset() + 1);
    }
    let stmt = tx
        .prepare_cached(
            "INSERT INTO projector_offsets (topic, partition, next_offset) VALUES ($1, $2, $3)
             ON CONFLICT (topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset",
        )
        .await?;
    for ((topic, partition), offset) in &next {
        tx.execute(&stmt, &[topic, partition, offset]).await?;
    }
    tx.commit().await?;
    metrics::RecordsProjected {
        kind: "request",
        count: requests,
    }
    .emit();
    metrics::RecordsProjected {
        kind: "result",
        count: results,
    }
    .emit();
    metrics::RecordsProjected {
        kind: "intermediation",
        count: intermediations,
    }
    .emit();
    metrics::RecordsProjected {
        kind: "undecodable",
        count: undecodable,
    }
    .emit();
    if let Some(age) = batch.last().and_then(super::message_age_seconds) {
        metrics::ProjectorLag { seconds: age }.emit();
    }
    Ok(())
}
