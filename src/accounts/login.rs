//! Login: the password checked once (argon2), failures in a row locking the account, the
//! registration gate, and a new session whose random token only the caller ever sees.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use rand::RngCore;

use super::Accounts;
use super::passwords::{hash_password, verify};
use super::sessions::{Presented, contractor_of, digest};
use crate::domain::{CompanyCode, CorporateNumber, Refusal};

/// A session just opened.
#[derive(Debug, Clone)]
pub struct Session {
    /// The bearer token for every later call (kept by the hub only as its SHA-256).
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user_id: String,
    pub company: CompanyCode,
}

/// What login reads of a user.
struct Stored {
    company: String,
    hash: String,
    locked: bool,
    disabled: bool,
    contractor: Option<CorporateNumber>,
}

/// Logins allowed per user id and per client certificate, each over a minute (the whole
/// allowance may come at once). Checked before any argon2 work, so one certificate holder
/// cannot spend the hub's password checks faster than this, whatever registration-wide rate
/// it is allowed; a user id under attack is slowed for everyone equally, the lock still
/// counting only real failures.
///
/// The limits are the hub's, not each process's: like the registration rate limit
/// (`api::limits`), each API process takes 1/N of both allowances, N being the live API
/// processes (`api_processes`), told by [`LoginRate::set_peers`] at every heartbeat. A share is
/// at least one login a minute per key.
pub struct LoginRate {
    per_user_per_min: u32,
    per_certificate_per_min: u32,
    /// The processes sharing the limits (this one included), and this one's limiters: per user
    /// and per certificate.
    share: std::sync::RwLock<(u32, Limiters)>,
    clock: DefaultClock,
}

type Limiters = (
    DefaultKeyedRateLimiter<String>,
    DefaultKeyedRateLimiter<String>,
);

/// One process's limiter of `per_min` logins a minute when `peers` processes share it: the
/// rate as a period (exact below one a second), the burst `per_min / peers` (at least one).
fn share_of(per_min: u32, peers: u32) -> DefaultKeyedRateLimiter<String> {
    let (per_min, peers) = (per_min.max(1), peers.max(1));
    let period = std::time::Duration::from_secs_f64(60.0 * f64::from(peers) / f64::from(per_min));
    let burst = NonZeroU32::new(per_min / peers).unwrap_or(NonZeroU32::MIN);
    RateLimiter::keyed(
        Quota::with_period(period)
            .expect("a positive period")
            .allow_burst(burst),
    )
}

impl LoginRate {
    pub fn new(per_user_per_min: u32, per_certificate_per_min: u32) -> Self {
        LoginRate {
            per_user_per_min,
            per_certificate_per_min,
            share: std::sync::RwLock::new((
                1,
                (
                    share_of(per_user_per_min, 1),
                    share_of(per_certificate_per_min, 1),
                ),
            )),
            clock: DefaultClock::default(),
        }
    }

    /// Takes `peers` processes' share from now on; a change starts every key's allowance
    /// afresh at the new share (processes come and go rarely).
    pub fn set_peers(&self, peers: u32) {
        let peers = peers.max(1);
        let mut share = self.share.write().unwrap_or_else(|e| e.into_inner());
        if share.0 != peers {
            tracing::info!(peers, "API processes sharing the login rates");
            *share = (
                peers,
                (
                    share_of(self.per_user_per_min, peers),
                    share_of(self.per_certificate_per_min, peers),
                ),
            );
        }
    }

    /// Takes one login of `user_id` and of the certificate `fingerprint`, or refuses
    /// `rate_limited` with the seconds to wait.
    pub(super) fn take(&self, user_id: &str, fingerprint: &str) -> Result<(), Refusal> {
        let share = self.share.read().unwrap_or_else(|e| e.into_inner());
        let (per_user, per_certificate) = &share.1;
        for (limiter, key) in [(per_certificate, fingerprint), (per_user, user_id)] {
            if limiter.len() > 100_000 {
                limiter.retain_recent();
            }
            limiter.check_key(&key.to_string()).map_err(|not_until| {
                let wait = not_until.wait_time_from(self.clock.now());
                Refusal::RateLimited {
                    retry_after_secs: wait.as_millis().div_ceil(1000).max(1) as u64,
                }
            })?;
        }
        Ok(())
    }
}

/// An argon2 hash of a random secret, so that refusing an unknown user costs a real check.
pub(super) static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let mut secret = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    hash_password(&hex::encode(secret)).unwrap_or_default()
});

impl Accounts {
    /// ログイン: checks `password` of `user_id` on a call with `cert`, and opens a session.
    /// The certificate's company is compared first: a user of another company (or none) is
    /// answered exactly as a wrong password, after the same argon2 work, and no failure is
    /// counted, so a certificate of one company can neither lock another's users nor learn
    /// their passwords. The lock and the account's state are told only to whoever knows the
    /// password, so a wrong guess never learns more than "wrong". Logins beyond the
    /// [`LoginRate`] of the user id or of the certificate are refused `rate_limited` before any
    /// of that work.
    pub async fn login(
        &self,
        user_id: &str,
        password: String,
        cert: Option<Presented<'_>>,
    ) -> Result<Session, Refusal> {
        let answer = self.check_login(user_id, password, cert).await;
        let outcome = match &answer {
            Ok(_) => "ok",
            Err(Refusal::InvalidCredentials) => "wrong_password",
            Err(Refusal::AccountLocked) => "locked",
            Err(refusal) => refusal.code(),
        };
        crate::metrics::LoginAttempted { outcome }.emit();
        answer
    }

    async fn check_login(
        &self,
        user_id: &str,
        password: String,
        cert: Option<Presented<'_>>,
    ) -> Result<Session, Refusal> {
        self.login_rate
            .take(user_id, cert.as_ref().map_or("", |c| c.fingerprint))?;
        let user = match self.stored(user_id).await? {
            Some(user) => {
                let company =
                    CompanyCode::parse(&user.company).map_err(|e| Refusal::Internal(e.into()))?;
                Presented::of(cert, &company)
                    .ok()
                    .map(|fingerprint| (user, company, fingerprint))
            }
            None => None,
        };
        let Some((user, company, fingerprint)) = user else {
            // Spend the same time as a real check, so a missing user or another company's is
            // not told apart by timing; and be `busy` alike when the checks are saturated.
            verify(password, DUMMY_HASH.clone()).await?;
            return Err(Refusal::InvalidCredentials);
        };
        if !verify(password, user.hash.clone()).await? {
            if !user.locked {
                self.count_failure(user_id).await?;
            }
            return Err(Refusal::InvalidCredentials);
        }
        if user.locked {
            return Err(Refusal::AccountLocked);
        }
        if user.disabled {
            return Err(Refusal::AccountDisabled);
        }
        // The registration is active, this certificate is registered to it and valid now, and
        // the user's contractor (if any) is still authorised.
        self.gate
            .check(&self.pool, &company, user.contractor.as_ref(), fingerprint)
            .await?;
        self.open_session(user_id, company).await
    }

    async fn stored(&self, user_id: &str) -> Result<Option<Stored>, Refusal> {
        let row = self
            .pool
            .get()
            .await?
            .query_opt(
                "SELECT company_code, password_hash, locked, disabled, contractor
                 FROM users WHERE user_id = $1",
                &[&user_id],
            )
            .await?;
        row.map(|r| {
            Ok(Stored {
                company: r.get(0),
                hash: r.get(1),
                locked: r.get(2),
                disabled: r.get(3),
                contractor: contractor_of(r.get(4))?,
            })
        })
        .transpose()
    }

    /// One more failure in a row; `lockout_after` of them lock the account until the
    /// administrator unlocks it.
    async fn count_failure(&self, user_id: &str) -> Result<(), Refusal> {
        let locked: Option<bool> = self
            .pool
            .get()
            .await?
            .query_opt(
                "UPDATE users SET failed_logins = failed_logins + 1,
                                  locked = failed_logins + 1 >= $2
                 WHERE user_id = $1 RETURNING locked",
                &[&user_id, &self.lockout_after],
            )
            .await?
            .map(|r| r.get(0));
        // Called only for a user not yet locked: this failure is the one that locked it.
        if locked == Some(true) {
            crate::metrics::AccountLockedOut.emit();
        }
        Ok(())
    }

    async fn open_session(&self, user_id: &str, company: CompanyCode) -> Result<Session, Refusal> {
        let mut raw = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        let token = URL_SAFE_NO_PAD.encode(raw);
        let expires_at = Utc::now() + self.session_ttl;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO sessions (token_sha256, user_id, company_code, expires_at)
             VALUES ($1, $2, $3, $4)",
            &[
                &digest(&token).as_slice(),
                &user_id,
                &company.as_str(),
                &expires_at,
            ],
        )
        .await?;
        tx.execute(
            "UPDATE users SET last_login_at = now(), failed_logins = 0 WHERE user_id = $1",
            &[&user_id],
        )
        .await?;
        tx.commit().await?;
        Ok(Session {
            token,
            expires_at,
            user_id: user_id.to_string(),
            company,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_and_a_certificate_each_get_their_logins_per_minute_then_rate_limited() {
        let rate = LoginRate::new(2, 3);
        let code = |r: Result<(), Refusal>| r.err().map(|e| e.code());
        assert_eq!(code(rate.take("taro", "cert-1")), None);
        assert_eq!(code(rate.take("taro", "cert-1")), None);
        // The user's third: refused, on any certificate.
        assert_eq!(code(rate.take("taro", "cert-2")), Some("rate_limited"));
        // Another user on the first certificate: its third login there...
        assert_eq!(code(rate.take("hanako", "cert-1")), None);
        // ...and no fourth, for anyone.
        assert_eq!(code(rate.take("jiro", "cert-1")), Some("rate_limited"));
        assert_eq!(code(rate.take("jiro", "cert-3")), None);
    }

    #[test]
    fn two_processes_each_take_half_of_a_users_logins_and_together_no_more_than_one() {
        let (a, b) = (LoginRate::new(10, 1000), LoginRate::new(10, 1000));
        a.set_peers(2);
        b.set_peers(2);
        let allowed = (0..20)
            .filter(|i| a.take("taro", &format!("cert-{i}")).is_ok())
            .chain((0..20).filter(|i| b.take("taro", &format!("cert-b{i}")).is_ok()))
            .count();
        assert_eq!(allowed, 10);
        // Alone again: the whole allowance.
        a.set_peers(1);
        assert_eq!((0..20).filter(|_| a.take("taro", "c").is_ok()).count(), 10);
    }
}
