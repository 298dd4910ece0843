//! Applies a batch of records to the status tables in one transaction, with the offsets.
//!
//! Every write is idempotent (the statements are [`crate::requests::store`]'s, the same the API
//! writes its `accepted` row with), so redeliveries and rebuilds change nothing.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use deadpool_postgres::Pool;
use rdkafka::Message;
use rdkafka::message::OwnedMessage;

use crate::messages::{Codec, IntermediationEvent, RequestRecord, ResultRecord};
use crate::metrics;
use crate::requests::store;
use crate::vault::{self, Keys, Unreadable};

/// A batch's record, decoded.
enum Decoded {
    Request(RequestRecord),
    Result(ResultRecord),
    Intermediation(IntermediationEvent),
}

/// One statement of the batch's transaction, not yet sent.
type Statement<'a> = Pin<Box<dyn Future<Output = Result<(), tokio_postgres::Error>> + Send + 'a>>;

/// Statements sent together at most; each round of polling visits them all.
const PIPELINE: usize = 256;

/// Runs `statements` on their (one) connection in the order given: each sends its query the
/// first time it is polled (its statement already prepared, [`store::prepare`]), and they are
/// first polled in order, so PostgreSQL runs them in that order while the answers come back
/// together.
async fn run_in_order(statements: Vec<Statement<'_>>) -> Result<(), tokio_postgres::Error> {
    let mut all: Vec<_> = statements
        .into_iter()
        .map(futures::future::maybe_done)
        .collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for s in all.iter_mut() {
            done &= Pin::new(s).poll(cx).is_ready();
        }
        if done { Poll::Ready(()) } else { Poll::Pending }
    })
    .await;
    for s in all.iter_mut() {
        Pin::new(s).take_output().expect("polled to the end")?;
    }
    Ok(())
}

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
    // Decoded first, in order: the statements below borrow them.
    let mut decoded = Vec::with_capacity(batch.len());
    for m in batch {
        let bytes = m.payload().unwrap_or_default();
        let record: anyhow::Result<Decoded> = if m.topic() == intermediations_topic {
            // Opened to be stored for the API (as a result is); a shredded one with its
            // personal fields marked; a missing master key holds the batch back.
            let header = vault::header_of(m, vault::KEY_HEADER);
            match codec
                .decode_intermediation(bytes)
                .map_err(anyhow::Error::from)
                .and_then(|e| vault::open_intermediation(keys, header, &e).map_err(Into::into))
            {
                Ok(e) => Ok(Decoded::Intermediation(e)),
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
                Ok(r) => Ok(Decoded::Result(r)),
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
            codec
                .decode_request(bytes)
                .map(Decoded::Request)
                .map_err(Into::into)
        };
        match record {
            Ok(r) => decoded.push(r),
            Err(e) => {
                // An undecodable record stays on its topic for inspection; it cannot become a row.
                tracing::error!(error = %e, topic = m.topic(), offset = m.offset(), "undecodable record skipped");
                undecodable += 1;
            }
        }
        next.insert((m.topic(), m.partition()), m.offset() + 1);
    }
    // The statements of consecutive request and result records are sent together and run in
    // the order sent (one round trip for up to PIPELINE of them, rather than one each). What
    // takes more than one statement in turn — an intermediation event, a replayed request —
    // runs alone, after everything before it.
    store::prepare(&tx).await?;
    crate::push::events::prepare(&tx).await?;
    let mut pipeline: Vec<Statement<'_>> = Vec::new();
    for record in &decoded {
        match record {
            Decoded::Request(r) if r.replay == 0 => {
                pipeline.push(Box::pin(store::insert_request(&tx, r)));
                pipeline.push(Box::pin(crate::push::events::append_request(
                    &tx,
                    r.request_id.as_uuid(),
                )));
                requests += 1;
            }
            Decoded::Request(r) => {
                run_in_order(std::mem::take(&mut pipeline)).await?;
                store::insert_request(&tx, r).await?;
                crate::push::events::append_request(&tx, r.request_id.as_uuid()).await?;
                requests += 1;
            }
            Decoded::Result(r) => {
                pipeline.push(Box::pin(store::upsert_result(&tx, r)));
                pipeline.push(Box::pin(crate::push::events::append_request(
                    &tx,
                    r.request_id.as_uuid(),
                )));
                results += 1;
            }
            Decoded::Intermediation(e) => {
                run_in_order(std::mem::take(&mut pipeline)).await?;
                crate::intermediation::store::apply(&tx, e).await?;
                intermediations += 1;
            }
        }
        if pipeline.len() >= PIPELINE {
            run_in_order(std::mem::take(&mut pipeline)).await?;
        }
    }
    run_in_order(pipeline).await?;
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
