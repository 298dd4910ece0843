//! Passwords: argon2 hashes (computed off the async threads), random initial passwords that
//! meet any policy, the configured policy as a refusal, the history of recent passwords, and a
//! user changing its own password.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use deadpool_postgres::GenericClient;
use rand::Rng;
use rand::rngs::OsRng;
use rand::seq::SliceRandom;

use super::sessions::end_other_sessions;
use super::{Accounts, Principal};
use crate::domain::Refusal;

/// A random initial password of 16 characters with all four classes (no look-alikes such as
/// O/0 or l/1), which meets any policy of up to 16 characters.
pub fn initial_password() -> String {
    const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
    const DIGIT: &[u8] = b"23456789";
    const SYMBOL: &[u8] = b"-_.!#%+=";
    let mut rng = OsRng;
    let mut pick = |set: &[u8]| set[rng.gen_range(0..set.len())];
    let mut chars: Vec<u8> = vec![pick(UPPER), pick(LOWER), pick(DIGIT), pick(SYMBOL)];
    let all: Vec<u8> = [UPPER, LOWER, DIGIT, SYMBOL].concat();
    while chars.len() < 16 {
        chars.push(pick(&all));
    }
    chars.shuffle(&mut OsRng);
    String::from_utf8(chars).expect("ASCII")
}

/// An argon2 hash of `password`. Deliberately slow: async code calls [`hash`].
pub fn hash_password(password: &str) -> Result<String, Refusal> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Refusal::Internal(anyhow::anyhow!("hashing: {e}")))
}

/// Checks a password against a stored hash. Deliberately slow: async code calls [`verify`].
pub fn verify_password(password: &str, stored_hash: &str) -> bool {
    PasswordHash::new(stored_hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A bounded pool for argon2: at most `permits` checks run at once (one per core by default),
/// and a call waits at most `wait` for a turn before it is refused `busy` (503). So a flood of
/// logins costs the hub a fixed share of its cores and a bounded queue, never every blocking
/// thread and never an unbounded wait; a call holds no database connection while it waits.
pub struct Argon2Pool {
    permits: tokio::sync::Semaphore,
    wait: std::time::Duration,
}

impl Argon2Pool {
    pub fn new(permits: usize, wait: std::time::Duration) -> Self {
        Argon2Pool {
            permits: tokio::sync::Semaphore::new(permits.max(1)),
            wait,
        }
    }

    /// Runs `work` on the blocking pool once a turn is free, or refuses `busy`.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Refusal> {
        let permit = tokio::time::timeout(self.wait, self.permits.acquire())
            .await
            .map_err(|_| Refusal::Busy)?
            .map_err(|e| Refusal::Internal(e.into()))?;
        let done = tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| Refusal::Internal(e.into()));
        drop(permit);
        done
    }
}

/// How long a password check waits for a turn before `busy`.
const ARGON2_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The process's one argon2 pool, a turn per core: every password hashed or checked by any
/// front end of this process goes through it.
static ARGON2: std::sync::LazyLock<Argon2Pool> = std::sync::LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    Argon2Pool::new(cores, ARGON2_WAIT)
});

/// Runs argon2 work in the process's bounded pool, so it never stalls the async threads nor
/// grows without bound.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Refusal> {
    ARGON2.run(work).await
}

/// [`hash_password`] off the async threads.
pub async fn hash(password: String) -> Result<String, Refusal> {
    blocking(move || hash_password(&password)).await?
}

/// [`verify_password`] off the async threads.
pub async fn verify(password: String, stored_hash: String) -> Result<bool, Refusal> {
    blocking(move || verify_password(&password, &stored_hash)).await
}

/// Whether `password` is any of the `hashes` (the user's recent passwords).
async fn reused(password: String, hashes: Vec<String>) -> Result<bool, Refusal> {
    blocking(move || hashes.iter().any(|h| verify_password(&password, h))).await
}

/// Keeps `hash` as the user's newest password and forgets all but the last `keep`: the one
/// place the history is written (creation, reissue, change).
pub(super) async fn remember(
    client: &impl GenericClient,
    user_id: &str,
    hash: &str,
    keep: usize,
) -> Result<(), Refusal> {
    client
        .execute(
            "INSERT INTO password_history (user_id, password_hash) VALUES ($1, $2)",
            &[&user_id, &hash],
        )
        .await?;
    client
        .execute(
            "DELETE FROM password_history WHERE user_id = $1 AND id NOT IN
               (SELECT id FROM password_history WHERE user_id = $1 ORDER BY id DESC LIMIT $2)",
            &[&user_id, &(keep.max(1) as i64)],
        )
        .await?;
    Ok(())
}

fn wrong_old_password() -> Refusal {
    Refusal::invalid(
        "old_password",
        "wrong_old_password",
        "現在のパスワードが正しくありません",
        "the old password is wrong",
    )
}

impl Accounts {
    /// The configured policy, as the refusal of `field` when `password` does not meet it.
    pub fn check_policy(&self, field: &str, password: &str) -> Result<(), Refusal> {
        self.policy
            .check(password)
            .map_err(|v| Refusal::invalid(field, "weak_password", v.message_ja(), v.to_string()))
    }

    /// パスワード変更: the caller changes its own password. The old one must be right; the new
    /// one must meet the policy and differ from the last `password_history` ones. The user's
    /// other sessions end (on every process): whoever else held one must log in with the new
    /// password; the asking session stays, read again (an initial password no longer holds it).
    pub async fn change_password(
        &self,
        principal: &Principal,
        old: String,
        new: String,
    ) -> Result<(), Refusal> {
        let (current, recent) = self.password_hashes(principal).await?;
        if !verify(old, current.clone()).await? {
            return Err(wrong_old_password());
        }
        self.check_policy("new_password", &new)?;
        let history = self.password_history.max(1);
        if reused(new.clone(), recent).await? {
            return Err(Refusal::invalid(
                "new_password",
                "password_reused",
                format!("直近{history}回以内に使用したパスワードは使用できません"),
                format!("the new password was one of the last {history}"),
            ));
        }
        let hash = hash(new).await?;
        self.store_changed(principal, &current, &hash).await?;
        self.forget(&principal.user_id);
        Ok(())
    }

    /// Stores the changed password, unless it changed meanwhile (another change, a reissue):
    /// then this change was checked against a stale password and is refused as if the old one
    /// were wrong.
    async fn store_changed(&self, p: &Principal, current: &str, hash: &str) -> Result<(), Refusal> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let n = tx
            .execute(
                "UPDATE users SET password_hash = $3, must_change_password = false
                 WHERE user_id = $1 AND company_code = $2 AND password_hash = $4",
                &[&p.user_id, &p.company.as_str(), &hash, &current],
            )
            .await?;
        if n == 0 {
            return Err(wrong_old_password());
        }
        remember(&tx, &p.user_id, hash, self.password_history).await?;
        end_other_sessions(&tx, p).await?;
        let detail = serde_json::json!({});
        crate::audit::record(&tx, p, "user.password_changed", &p.user_id, detail).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The caller's current hash and its recent ones, read without holding a connection over
    /// the argon2 work that follows.
    async fn password_hashes(&self, p: &Principal) -> Result<(String, Vec<String>), Refusal> {
        let client = self.pool.get().await?;
        let current: String = client
            .query_one(
                "SELECT password_hash FROM users WHERE user_id = $1 AND company_code = $2",
                &[&p.user_id, &p.company.as_str()],
            )
            .await?
            .get(0);
        let recent = client
            .query(
                "SELECT password_hash FROM password_history WHERE user_id = $1
                 ORDER BY id DESC LIMIT $2",
                &[&p.user_id, &(self.password_history.max(1) as i64)],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        Ok((current, recent))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::PasswordPolicy;

    #[test]
    fn a_password_verifies_only_against_its_own_hash() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterY", &h));
        assert!(!verify_password("anything", "not a hash"));
    }

    #[test]
    fn an_initial_password_meets_the_strictest_policy_and_differs_each_time() {
        let strict = PasswordPolicy {
            min_length: 16,
            min_classes: 4,
        };
        let a = initial_password();
        for _ in 0..200 {
            let p = initial_password();
            assert_eq!(strict.check(&p), Ok(()), "{p}");
        }
        assert_ne!(a, initial_password());
    }

    #[tokio::test]
    async fn argon2_work_beyond_the_pool_waits_its_bounded_time_and_is_refused_busy() {
        let pool = std::sync::Arc::new(Argon2Pool::new(1, std::time::Duration::from_millis(200)));
        let (started, release) = (
            std::sync::Arc::new(std::sync::Barrier::new(2)),
            std::sync::Arc::new(std::sync::Barrier::new(2)),
        );
        let (s, r) = (started.clone(), release.clone());
        let holder = {
            let pool = pool.clone();
            tokio::spawn(async move {
                pool.run(move || {
                    s.wait();
                    r.wait();
                })
                .await
            })
        };
        tokio::task::spawn_blocking(move || started.wait())
            .await
            .unwrap();
        // The one turn is taken: the next call is answered `busy`, not queued for ever.
        let refused = pool.run(|| ()).await;
        assert_eq!(refused.err().map(|e| e.code()), Some("busy"));
        release.wait();
        holder.await.unwrap().unwrap();
        // Once the turn is free again, the work runs.
        assert_eq!(pool.run(|| 7).await.unwrap(), 7);
    }
}
