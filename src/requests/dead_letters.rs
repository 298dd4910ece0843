//! The dead-letter depth of each area, as a gauge: the failed requests a replay would put back,
//! counted from the requests table (the topic itself keeps what was replayed too, so its length
//! is not the depth).

use std::time::Duration;

use deadpool_postgres::Pool;
use tokio_util::sync::CancellationToken;

use super::store;
use crate::config::Settings;
use crate::domain::Area;

/// How often the depth is counted: an alert looks at minutes, not seconds.
const EVERY: Duration = Duration::from_secs(10);

/// Counts every [`EVERY`] until `shutdown`; a failed count keeps the last figures.
pub async fn run_depth_gauge(
    _settings: Settings,
    pool: Pool,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tick.tick() => {}
        }
        let counted = async {
            let client = pool.get().await?;
            anyhow::Ok(store::failed_by_area(&client).await?)
        };
        match counted.await {
            Ok(failed) => {
                let areas: Vec<(&str, i64)> = Area::ALL
                    .iter()
                    .map(|a| {
                        let n = failed.iter().find(|(code, _)| code == a.code());
                        (a.code(), n.map_or(0, |(_, n)| *n))
                    })
                    .collect();
                crate::metrics::DeadLetterDepth { areas: &areas }.emit();
            }
            Err(e) => tracing::warn!(error = format!("{e:#}"), "counting dead letters failed"),
        }
    }
}

/// The failed requests of every area awaiting a replay, 0 where none: what the gauge shows and
/// the operator's dead-letter screen lists.
pub async fn depth_by_area(pool: &Pool) -> Result<Vec<(Area, i64)>, crate::domain::Refusal> {
    let client = pool.get().await?;
    let failed = store::failed_by_area(&client).await?;
    Ok(Area::ALL
        .iter()
        .map(|a| {
            let n = failed.iter().find(|(code, _)| code == a.code());
            (*a, n.map_or(0, |(_, n)| *n))
        })
        .collect())
}

/// One failed request awaiting a replay, as the operator's screen shows it (no personal data:
/// the hub keeps none of the payload).
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub request_id: uuid::Uuid,
    pub company_code: String,
    pub function: String,
    pub point_id: String,
    pub replay: i32,
    pub code: Option<String>,
    pub message: Option<String>,
    pub accepted_at: chrono::DateTime<chrono::Utc>,
}

/// The newest `limit` failed requests of `area` (what `kirikae replay --area` would put back).
pub async fn dead_letters_of(
    pool: &Pool,
    area: Area,
    limit: i64,
) -> Result<Vec<DeadLetter>, crate::domain::Refusal> {
    let client = pool.get().await?;
    Ok(store::failed_of_area(&client, area.code(), limit)
        .await?
        .into_iter()
        .map(|r| DeadLetter {
            request_id: r.get(0),
            company_code: r.get(1),
            function: r.get(2),
            point_id: r.get(3),
            replay: r.get(4),
            code: r.get(5),
            message: r.get(6),
            accepted_at: r.get(7),
        })
        .collect())
}
