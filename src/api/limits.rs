//! Middleware in front of every API route: the hub's maintenance windows (503 `maintenance`
//! with the planned end and `Retry-After`) and a per-registration rate limit (429
//! `rate_limited` with `Retry-After`), keyed by the company of the client certificate.
//! The ops endpoints (`/healthz`, `/readyz`, `/metrics`) listen elsewhere and are not affected.
//!
//! The rate limit is the hub's, not each process's: every API process announces itself in
//! `api_processes` every [`BEAT`] ([`heartbeat`]) and takes an equal share of the limit and
//! the burst among the processes seen within [`GONE_AFTER`], so N processes together allow
//! what one would. A process that stops (or dies) leaves the others' shares small for at most
//! [`GONE_AFTER`]; while the database cannot be reached a process keeps the share it had.

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use deadpool_postgres::Pool;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio_util::sync::CancellationToken;

use super::AppState;
use super::tls::ClientIdentity;
use crate::accounts::maintenance::{self, MaintenanceWindow};
use crate::accounts::processes;
use crate::domain::Refusal;

/// How long the maintenance look-up is trusted.
const MAINTENANCE_TTL: Duration = Duration::from_millis(1000);

/// How often an API process refreshes its row and counts its peers.
pub const BEAT: Duration = Duration::from_secs(2);

/// A process whose row was not refreshed for this long no longer counts (three beats missed).
pub const GONE_AFTER: Duration = Duration::from_secs(6);

pub struct Limits {
    per_sec: u32,
    burst: u32,
    /// The API processes sharing the limit (this one included), and this one's limiter.
    share: RwLock<(u32, DefaultKeyedRateLimiter<String>)>,
    clock: DefaultClock,
    maintenance: Mutex<Option<(Instant, Option<MaintenanceWindow>)>>,
}

/// One process's limiter when `peers` processes share `per_sec` and `burst`: the rate as a
/// period (so a share below one a second stays exact), the burst rounded down (at least one).
fn share_of(per_sec: u32, burst: u32, peers: u32) -> DefaultKeyedRateLimiter<String> {
    let (per_sec, peers) = (per_sec.max(1), peers.max(1));
    let period = Duration::from_secs_f64(f64::from(peers) / f64::from(per_sec));
    let burst = NonZeroU32::new(burst / peers).unwrap_or(NonZeroU32::MIN);
    let quota = Quota::with_period(period)
        .expect("a positive period")
        .allow_burst(burst);
    RateLimiter::keyed(quota)
}

impl Limits {
    pub fn new(per_sec: u32, burst: u32) -> Self {
        let burst = if burst == 0 { per_sec } else { burst };
        Limits {
            per_sec,
            burst,
            share: RwLock::new((1, share_of(per_sec, burst, 1))),
            clock: DefaultClock::default(),
            maintenance: Mutex::new(None),
        }
    }

    /// Takes `peers` processes' share from now on. A change starts every key's allowance
    /// afresh (at the new, smaller or larger, share); peers come and go rarely.
    pub fn set_peers(&self, peers: u32) {
        let peers = peers.max(1);
        let mut share = self.share.write().unwrap_or_else(|e| e.into_inner());
        if share.0 != peers {
            tracing::info!(peers, "API processes sharing the rate limit");
            *share = (peers, share_of(self.per_sec, self.burst, peers));
        }
    }

    /// Takes one request of `key`'s allowance, or says how many seconds to wait.
    fn take(&self, key: &str) -> Result<(), u64> {
        let share = self.share.read().unwrap_or_else(|e| e.into_inner());
        let limiter = &share.1;
        if limiter.len() > 100_000 {
            limiter.retain_recent();
        }
        limiter.check_key(&key.to_string()).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            wait.as_millis().div_ceil(1000).max(1) as u64
        })
    }

    fn cached_maintenance(&self) -> Option<Option<MaintenanceWindow>> {
        let guard = self.maintenance.lock().unwrap_or_else(|e| e.into_inner());
        match &*guard {
            Some((at, w)) if at.elapsed() < MAINTENANCE_TTL => Some(w.clone()),
            _ => None,
        }
    }

    async fn maintenance(&self, state: &AppState) -> Option<MaintenanceWindow> {
        if let Some(w) = self.cached_maintenance() {
            return w;
        }
        let window = match maintenance::active_maintenance(&state.pool).await {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(error = %e, "maintenance look-up failed");
                return None;
            }
        };
        *self.maintenance.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((Instant::now(), window.clone()));
        window
    }
}

/// The middleware: maintenance first, then the caller's rate limit.
pub async fn enforce(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limits = &state.limits;
    // The hub operator's machine is never closed for maintenance: its screens are where a
    // window is stopped (`web::ops`). Its certificate reaches nothing else.
    let operator = req
        .extensions()
        .get::<ClientIdentity>()
        .is_some_and(|id| id.operator);
    if !operator
        && let Some(w) = limits.maintenance(&state).await
        && w.ends_at > chrono::Utc::now()
    {
        return Refusal::Maintenance {
            until: w.ends_at,
            message: w.message,
        }
        .into_response();
    }
    // The registration is the client certificate's company; a certificate without one (refused
    // later anyway) is limited by its own fingerprint.
    let key = req.extensions().get::<ClientIdentity>().map(|id| {
        id.company
            .as_ref()
            .map(|c| c.to_string())
            .unwrap_or_else(|| id.fingerprint.clone())
    });
    if let Some(Err(retry_after_secs)) = key.map(|k| limits.take(&k)) {
        return Refusal::RateLimited { retry_after_secs }.into_response();
    }
    next.run(req).await
}

/// Announces this API process in `api_processes` every [`BEAT`] and sets `limits` to the
/// share of the processes seen within [`GONE_AFTER`], until `shutdown`; then removes its row,
/// so the others take its share at their next beat.
pub async fn heartbeat(
    limits: Arc<Limits>,
    accounts: Arc<crate::accounts::Accounts>,
    pool: Pool,
    shutdown: CancellationToken,
) {
    let me = uuid::Uuid::now_v7();
    let mut tick = tokio::time::interval(BEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tick.tick() => {}
        }
        if let Err(e) = beat(&limits, &accounts, &pool, me).await {
            tracing::warn!(error = %e, "rate-limit heartbeat failed; keeping the current share");
        }
    }
    if let Err(e) = processes::leave(&pool, me).await {
        tracing::debug!(error = %e, "the API process row stays until it is stale");
    }
}

/// One beat: refresh this process's row, count the live ones, take that share of the
/// registration rate and of the login rates, and say so in the row (`peers`, written once the
/// shares are taken).
async fn beat(
    limits: &Limits,
    accounts: &crate::accounts::Accounts,
    pool: &Pool,
    me: uuid::Uuid,
) -> anyhow::Result<()> {
    let peers = processes::announce(pool, me, GONE_AFTER).await?;
    limits.set_peers(peers);
    accounts.set_login_peers(peers);
    processes::took_share(pool, me, peers).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registration_gets_its_burst_then_waits_and_others_are_not_affected() {
        let limits = Limits::new(1, 3);
        for _ in 0..3 {
            assert!(limits.take("A0001").is_ok());
        }
        assert_eq!(limits.take("A0001"), Err(1));
        assert!(limits.take("B0002").is_ok());
    }

    #[test]
    fn two_processes_each_take_half_the_burst_and_together_no_more_than_one() {
        let (a, b) = (Limits::new(1, 10), Limits::new(1, 10));
        a.set_peers(2);
        b.set_peers(2);
        let allowed = (0..20)
            .filter(|_| a.take("A0001").is_ok())
            .chain((0..20).filter(|_| b.take("A0001").is_ok()))
            .count();
        assert_eq!(allowed, 10);
        // Alone again: the whole burst.
        a.set_peers(1);
        assert_eq!((0..20).filter(|_| a.take("A0001").is_ok()).count(), 10);
    }
}
