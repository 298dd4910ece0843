//! Applies a batch of records to the status tables in one transaction, with the offsets.
//!
//! Every write is idempotent: a request row is inserted once, and a result only moves a
//! request's status forward (by rank), so redeliveries and rebuilds change nothing. A request
//! replayed from the dead-letter topic comes back with a higher `replay` generation: it resets
//! the row to `accepted`, and results of older generations no longer count.

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use deadpool_postgres::Pool;
use rdkafka::Message;
use rdkafka::message::OwnedMessage;

use crate::messages::{Codec, RequestRecord, ResultRecord};
use crate::metrics;

const INSERT_REQUEST: &str = "
    INSERT INTO requests (request_id, company_code, user_id, function, service_id, area, point_id,
                          update_flag, original_request_id, status, status_rank, accepted_at,
                          replay)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'accepted', 0, $10, $11)
    ON CONFLICT (request_id) DO UPDATE
      SET user_id = EXCLUDED.user_id, accepted_at = EXCLUDED.accepted_at,
          update_flag = EXCLUDED.update_flag, original_request_id = EXCLUDED.original_request_id
      WHERE requests.user_id = ''";

const RESET_FOR_REPLAY: &str = "
    UPDATE requests
       SET replay = $2, status = 'accepted', status_rank = 0, code = NULL, message = NULL,
           result = NULL, attempts = 0, sent_at = NULL, finished_at = NULL, updated_at = now()
     WHERE request_id = $1 AND replay < $2";

const UPSERT_RESULT: &str = "
    INSERT INTO requests AS r (request_id, company_code, user_id, function, service_id, area,
                               point_id, update_flag, status, status_rank, code, message, attempts,
                               result, accepted_at, sent_at, finished_at, replay)
    VALUES ($1, $2, '', $3, $4, $5, $6, 'register', $7, $8, $9, $10, $11, $12, $13,
            $13, CASE WHEN $8 = 2::smallint THEN $13::timestamptz END, $14)
    ON CONFLICT (request_id) DO UPDATE
      SET status = EXCLUDED.status, status_rank = EXCLUDED.status_rank, code = EXCLUDED.code,
          message = EXCLUDED.message, attempts = EXCLUDED.attempts, result = EXCLUDED.result,
          sent_at = CASE WHEN r.replay < EXCLUDED.replay THEN EXCLUDED.sent_at
                         ELSE COALESCE(r.sent_at, EXCLUDED.sent_at) END,
          finished_at = EXCLUDED.finished_at, replay = EXCLUDED.replay, updated_at = now()
      WHERE r.replay < EXCLUDED.replay
         OR (r.replay = EXCLUDED.replay AND r.status_rank < EXCLUDED.status_rank)";

pub async fn apply_batch(
    pool: &Pool,
    codec: &Codec,
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
        let applied = if m.topic() == intermediations_topic {
            match codec.decode_intermediation(bytes) {
                Ok(e) => crate::intermediation::store::apply(&tx, &e)
                    .await
                    .map(|_| intermediations += 1)
                    .map_err(Into::into),
                Err(e) => Err(e.into()),
            }
        } else if m.topic().starts_with(&results_marker) {
            match codec.decode_result(bytes) {
                Ok(r) => upsert_result(&tx, &r).await.map(|_| results += 1),
                Err(e) => Err(e.into()),
            }
        } else {
            match codec.decode_request(bytes) {
                Ok(r) => insert_request(&tx, &r)
                    .await
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

/// Inserts a request's row as `accepted` (or completes one a result created first).
pub async fn insert_request<C: GenericClient>(
    tx: &C,
    r: &RequestRecord,
) -> Result<(), tokio_postgres::Error> {
    let stmt = tx.prepare_cached(INSERT_REQUEST).await?;
    tx.execute(
        &stmt,
        &[
            &r.request_id.as_uuid(),
            &r.company_code.as_str(),
            &r.user_id,
            &r.function.slug(),
            &r.function.service_id(),
            &r.area().code(),
            &r.point_id.as_str(),
            &update_flag_name(r.update_flag),
            &r.original_request_id.map(|i| i.as_uuid()),
            &r.accepted_at,
            &r.replay,
        ],
    )
    .await?;
    if r.replay > 0 {
        let stmt = tx.prepare_cached(RESET_FOR_REPLAY).await?;
        tx.execute(&stmt, &[&r.request_id.as_uuid(), &r.replay])
            .await?;
    }
    Ok(())
}

pub fn update_flag_name(f: crate::domain::UpdateFlag) -> &'static str {
    match f {
        crate::domain::UpdateFlag::Register => "register",
        crate::domain::UpdateFlag::Correct => "correct",
        crate::domain::UpdateFlag::Withdraw => "withdraw",
    }
}

async fn upsert_result<C: GenericClient>(tx: &C, r: &ResultRecord) -> anyhow::Result<()> {
    let status = r.status.request_status();
    let payload = r.payload.as_ref().map(serde_json::to_value).transpose()?;
    let stmt = tx.prepare_cached(UPSERT_RESULT).await?;
    tx.execute(
        &stmt,
        &[
            &r.request_id.as_uuid(),
            &r.company_code.as_str(),
            &r.function.slug(),
            &r.function.service_id(),
            &r.point_id.area().code(),
            &r.point_id.as_str(),
            &status.as_str(),
            &status.rank(),
            &r.code,
            &r.message,
            &r.attempts,
            &payload,
            &r.occurred_at,
            &r.replay,
        ],
    )
    .await?;
    Ok(())
}
