//! The periodic job that expires intermediations left without a decision: for each one past its
//! `expires_at`, claim the transition (as any decision would) and produce an `EXPIRED` event;
//! the projector applies it. Several hubs may run it at once: the claim lets one of them win.
//! Each pass also reports how many intermediations await a decision.

use std::time::Duration;

use deadpool_postgres::Pool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::store::{self, ClaimRefused};
use super::{EventKind, IntermediationEvent, SYSTEM_ACTOR};
use crate::config::Settings;
use crate::kafka::Publisher;
use crate::messages::Codec;

/// How often the job looks for expired intermediations.
fn poll_interval(settings: &Settings) -> Duration {
    let ms = match settings.intermediation_expiry_ms {
        Some(ms) => (ms / 4).clamp(50, 1000),
        None => 1000,
    };
    Duration::from_millis(ms)
}

/// Runs until `shutdown`.
pub async fn run(
    settings: Settings,
    pool: Pool,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let publisher = Publisher::of(&settings, Duration::from_secs(10))?;
    let codec = Codec::new();
    let topic = settings.intermediations_topic();
    let interval = poll_interval(&settings);
    while !shutdown.is_cancelled() {
        if let Err(e) = expire_due(&settings, &pool, &publisher, &codec, &topic).await {
            tracing::warn!(
                error = format!("{e:#}"),
                "intermediation expiry pass failed; retrying"
            );
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(interval) => {}
        }
    }
    Ok(())
}

/// One pass: every intermediation due, at most 500 at a time.
async fn expire_due(
    settings: &Settings,
    pool: &Pool,
    publisher: &Publisher,
    codec: &Codec,
    topic: &str,
) -> anyhow::Result<usize> {
    let client = pool.get().await?;
    let timeout = settings.intermediation_claim_timeout_secs as f64;
    let due: Vec<Uuid> = client
        .query(
            "SELECT intermediation_id FROM intermediations
              WHERE state = 'awaiting_decision' AND expires_at <= now()
                AND (pending_event IS NULL OR pending_since < now() - make_interval(secs => $1))
              ORDER BY expires_at LIMIT 500",
            &[&timeout],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut expired = 0;
    for id in due {
        let mut event = IntermediationEvent::new(
            id,
            EventKind::Expired,
            String::new(),
            SYSTEM_ACTOR.into(),
            "intermediation-expiry".into(),
        );
        let claimed = store::claim(
            &client,
            id,
            EventKind::Expired,
            SYSTEM_ACTOR,
            event.event_id,
            settings.intermediation_claim_timeout_secs,
        )
        .await?;
        let point = match claimed {
            Ok(point) => point,
            Err(ClaimRefused::NotPending | ClaimRefused::NotVisible) => continue,
        };
        event.supply_point_id = point;
        let bytes = codec.encode_intermediation(&event)?;
        // On a failed send the claim stays and is retaken after the claim timeout.
        publisher
            .publish(topic, &event.supply_point_id, &bytes)
            .await?;
        tracing::info!(intermediation_id = %id, "intermediation expired");
        crate::metrics::IntermediationHandled {
            action: "expire",
            outcome: "accepted",
        }
        .emit();
        expired += 1;
    }
    // By age since registration, so that a backlog of old undecided ones stands out.
    let pending = client
        .query_one(
            "SELECT count(*) FILTER (WHERE registered_at > now() - interval '1 day'),
                    count(*) FILTER (WHERE registered_at <= now() - interval '1 day'
                                       AND registered_at > now() - interval '3 days'),
                    count(*) FILTER (WHERE registered_at <= now() - interval '3 days')
             FROM intermediations WHERE state = 'awaiting_decision'",
            &[],
        )
        .await?;
    crate::metrics::IntermediationsPending {
        under_1d: pending.get(0),
        from_1d_to_3d: pending.get(1),
        over_3d: pending.get(2),
    }
    .emit();
    Ok(expired)
}
