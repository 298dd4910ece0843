//! Middleware in front of every API route: the hub's maintenance windows (503 `maintenance`
//! with the planned end and `Retry-After`) and a per-registration rate limit (429
//! `rate_limited` with `Retry-After`), keyed by the company of the client certificate.
//! The ops endpoints (`/healthz`, `/readyz`, `/metrics`) listen elsewhere and are not affected.

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::AppState;
use super::tls::ClientIdentity;
use crate::accounts::maintenance::{self, MaintenanceWindow};
use crate::domain::Refusal;

/// How long the maintenance look-up is trusted.
const MAINTENANCE_TTL: Duration = Duration::from_millis(1000);

pub struct Limits {
    limiter: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
    maintenance: Mutex<Option<(Instant, Option<MaintenanceWindow>)>>,
}

impl Limits {
    pub fn new(per_sec: u32, burst: u32) -> Self {
        let per_sec = NonZeroU32::new(per_sec).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst).unwrap_or(per_sec);
        Limits {
            limiter: RateLimiter::keyed(Quota::per_second(per_sec).allow_burst(burst)),
            clock: DefaultClock::default(),
            maintenance: Mutex::new(None),
        }
    }

    /// Takes one request of `key`'s allowance, or says how many seconds to wait.
    fn take(&self, key: &str) -> Result<(), u64> {
        if self.limiter.len() > 100_000 {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&key.to_string())
            .map_err(|not_until| {
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
    if let Some(w) = limits.maintenance(&state).await {
        if w.ends_at > chrono::Utc::now() {
            return Refusal::Maintenance {
                until: w.ends_at,
                message: w.message,
            }
            .into_response();
        }
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
}
