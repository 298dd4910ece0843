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
