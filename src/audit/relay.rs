//! The relay of the trail to topic `<prefix>.audit`: a copy of every record outside the
//! database, in id order, at least once, its personal particulars sealed ([`Seal`]).

use crate::messages::AuditRecord;

/// Makes the topic copy of a row: the record as it travels and the headers to produce it with.
/// The hub's (assembled in `hub::jobs`) seals the row's `detail` with the vault, so the topic,
/// its disks and its backups hold no point id, search text or person's mail in clear
/// (docs/security.md); the audit module itself holds no key.
pub type Seal = std::sync::Arc<
    dyn Fn(
            AuditRecord,
        ) -> futures::future::BoxFuture<
            'static,
            anyhow::Result<(AuditRecord, Vec<(&'static str, String)>)>,
        > + Send
        + Sync,
>;

/// Relays the trail to topic `<prefix>.audit` in id order, at least once, until `shutdown`:
/// a copy of every record outside the database, for the operator's tools and for safe keeping.
/// Ids are allocated when a row is written but seen only when its transaction commits, so a
/// missing id halts the relay until it appears, or until no transaction that could still
/// commit it is running (then it was rolled back): see [`Gap`]. No committed row is skipped,
/// however late it commits.
pub async fn run_relay(
    settings: crate::config::Settings,
    pool: deadpool_postgres::Pool,
    shutdown: tokio_util::sync::CancellationToken,
    seal: Seal,
) -> anyhow::Result<()> {
    let publisher = crate::kafka::Publisher::of(&settings, std::time::Duration::from_secs(10))?;
    let codec = crate::messages::Codec::new();
    let topic = settings.audit_topic();
    let mut gap = Gap {
        settle: std::time::Duration::from_millis(settings.audit_gap_patience_ms),
        missing: None,
    };
    while !shutdown.is_cancelled() {
        match relay_once(&pool, &publisher, &codec, &topic, &seal, &mut gap).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(
                error = format!("{e:#}"),
                "audit relay pass failed; retrying"
            ),
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
        }
    }
    Ok(())
}

/// The id the relay waits for. A missing id is either in a transaction still running or
/// rolled back. After `settle` (time for the writer, which draws the id and inserts the row in
/// one statement, to hold a transaction id), the relay takes a transaction id of its own,
/// newer than any the writer can hold; once every transaction older than that has ended (the
/// snapshot's xmin has passed it) and the id is still missing, it was rolled back, and only
/// then is it passed. (`pg_snapshot_xmax` would not do: it is one past the newest *completed*
/// transaction, which a running writer's id can equal.)
struct Gap {
    settle: std::time::Duration,
    missing: Option<Missing>,
}

struct Missing {
    id: i64,
    since: std::time::Instant,
    /// A transaction id drawn once the gap had settled: every transaction that could hold
    /// `id` is older.
    horizon: Option<String>,
}

impl Gap {
    /// Whether the ids from `next` up to (not including) `seen`, all missing, were rolled back
    /// and may be passed. They were all drawn before `seen` was, so one horizon covers them.
    async fn rolled_back(
        &mut self,
        client: &deadpool_postgres::Client,
        next: i64,
        seen: i64,
    ) -> anyhow::Result<bool> {
        let missing = match &mut self.missing {
            Some(m) if m.id == next => m,
            _ => {
                let since = std::time::Instant::now();
                let fresh = Missing {
                    id: next,
                    since,
                    horizon: None,
                };
                self.missing = Some(fresh);
                return Ok(false);
            }
        };
        if missing.since.elapsed() < self.settle {
            return Ok(false);
        }
        let Some(horizon) = &missing.horizon else {
            let row = client
                .query_one("SELECT pg_current_xact_id()::text", &[])
                .await?;
            missing.horizon = Some(row.get(0));
            return Ok(false);
        };
        let row = client
            .query_one(
                "SELECT pg_snapshot_xmin(pg_current_snapshot()) >= $1::text::xid8
                        AND NOT EXISTS (SELECT 1 FROM audit_log WHERE id >= $2 AND id < $3)",
                &[horizon, &next, &seen],
            )
            .await?;
        let gone: bool = row.get(0);
        if gone {
            tracing::info!(
                from = next,
                to = seen - 1,
                "audit ids never committed (rolled back); relaying on"
            );
        }
        Ok(gone)
    }
}

/// One pass of at most 500 records; returns how many were relayed.
async fn relay_once(
    pool: &deadpool_postgres::Pool,
    publisher: &crate::kafka::Publisher,
    codec: &crate::messages::Codec,
    topic: &str,
    seal: &Seal,
    gap: &mut Gap,
) -> anyhow::Result<usize> {
    let client = pool.get().await?;
    let position: i64 = client
        .query_one("SELECT position FROM audit_relay", &[])
        .await?
        .get(0);
    let rows = client
        .query(
            "SELECT id, at, company_code, user_id, contractor, certificate, action, subject_id,
                    detail::text
             FROM audit_log WHERE id > $1 ORDER BY id LIMIT 500",
            &[&position],
        )
        .await?;
    let mut next = position + 1;
    let mut relayed = 0;
    let mut sent = Vec::with_capacity(rows.len());
    for r in &rows {
        let id: i64 = r.get(0);
        if id != next && !gap.rolled_back(&client, next, id).await? {
            break; // `next` is not committed (yet)
        }
        let record = AuditRecord {
            id,
            at: r.get(1),
            company_code: r.get(2),
            user_id: r.get(3),
            contractor: r.get(4),
            certificate: r.get(5),
            action: r.get(6),
            subject_id: r.get(7),
            detail: r.get(8),
        };
        let (copy, headers) = seal(record).await?;
        let bytes = codec.encode_audit(&copy)?;
        // Enqueued in id order (the idempotent producer keeps it per partition), acknowledged
        // together below: one round trip per pass, not per record.
        sent.push(
            publisher
                .enqueue_with_headers(topic, &copy.company_code, &bytes, &headers)
                .await?,
        );
        next = id + 1;
        relayed += 1;
    }
    for delivery in sent {
        delivery.await?;
    }
    if relayed > 0 {
        client
            .execute(
                "UPDATE audit_relay SET position = $1, relayed_at = now()",
                &[&(next - 1)],
            )
            .await?;
    }
    let newest: i64 = client
        .query_one("SELECT coalesce(max(id), 0) FROM audit_log", &[])
        .await?
        .get(0);
    crate::metrics::AuditRelayBacklog {
        rows: newest - (next - 1),
    }
    .emit();
    Ok(relayed)
}
