//! Applies a batch of records to the status tables in one transaction, with the offsets.
//!
//! Every write is idempotent (the statements are [`crate::requests::store`]'s, the same the API
//! writes its `accepted` row with), so redeliveries and rebuilds change nothing.

use std::collections::HashMap;

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

/// Consecutive request records (of generation 0) and results of a batch, applied together.
#[derive(Default)]
struct Run<'a> {
    requests: Vec<&'a RequestRecord>,
    results: Vec<&'a ResultRecord>,
    /// The requests the run touches, in the order first read: their events' order.
    ids: Vec<uuid::Uuid>,
}

impl Run<'_> {
    /// The request rows, then the results (each request moved as far as its results take it:
    /// a status overtaken within the run, such as a `sent` followed by its answer, gets no
    /// event of its own), then the events. The three statements are sent at once (each
    /// prepared, [`store::prepare`], so each sends its query when first polled, in this
    /// order) and PostgreSQL runs them in order.
    async fn apply<C: deadpool_postgres::GenericClient>(
        self,
        tx: &C,
    ) -> Result<(), tokio_postgres::Error> {
        if self.ids.is_empty() {
            return Ok(());
        }
        let mut seen = std::collections::HashSet::new();
        let ids: Vec<uuid::Uuid> = self.ids.into_iter().filter(|id| seen.insert(*id)).collect();
        let rows = async {
            if self.requests.is_empty() {
                Ok(())
            } else {
                store::insert_requests(tx, &self.requests).await
            }
        };
        let results = async {
            if self.results.is_empty() {
                Ok(())
            } else {
                store::upsert_results(tx, &self.results).await
            }
        };
        let events = crate::push::events::append_requests(tx, &ids);
        futures::try_join!(rows, results, events).map(|_| ())
    }
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
    // Consecutive request and result records are applied as one run: one statement for
    // their request rows, one for their results, one for their events, sent together and run
    // in that order — three statements for the run rather than two for each record. What takes
    // more than one statement in turn — an intermediation event, a replayed request — ends the
    // run and is applied alone, after everything before it.
    store::prepare(&tx).await?;
    crate::push::events::prepare(&tx).await?;
    let mut run = Run::default();
    for record in &decoded {
        match record {
            Decoded::Request(r) if r.replay == 0 => {
                run.requests.push(r);
                run.ids.push(r.request_id.as_uuid());
                requests += 1;
            }
            Decoded::Request(r) => {
                std::mem::take(&mut run).apply(&tx).await?;
                store::insert_request(&tx, r).await?;
                crate::push::events::append_requests(&tx, &[r.request_id.as_uuid()]).await?;
                requests += 1;
            }
            Decoded::Result(r) => {
                run.results.push(r);
                run.ids.push(r.request_id.as_uuid());
                results += 1;
            }
            Decoded::Intermediation(e) => {
                std::mem::take(&mut run).apply(&tx).await?;
                crate::intermediation::store::apply(&tx, e).await?;
                intermediations += 1;
            }
        }
    }
    run.apply(&tx).await?;
    let (topics, partitions, offsets): (Vec<&str>, Vec<i32>, Vec<i64>) = next
        .iter()
        .map(|((topic, partition), offset)| (*topic, *partition, *offset))
        .collect();
    let stmt = tx
        .prepare_cached(
            "INSERT INTO projector_offsets (topic, partition, next_offset)
             SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[])
             ON CONFLICT (topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset",
        )
        .await?;
    tx.execute(&stmt, &[&topics, &partitions, &offsets]).await?;
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
