//! A registration's `Idempotency-Key` (table `intermediation_keys`): the key is claimed with
//! the registration's hash and the identity of its event before anything is produced, so a
//! retry is the same registration, not a second one.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::Registration;
use crate::domain::Refusal;

/// What makes a registration's event the same on a retry.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Identity {
    pub id: Uuid,
    pub event_id: Uuid,
    pub number: String,
    pub registered_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A key is 1 to 128 visible ASCII characters, as for submissions.
pub fn valid_key(key: &str) -> Result<&str, Refusal> {
    let ok = (1..=128).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic());
    ok.then_some(key).ok_or(Refusal::InvalidIdempotencyKey)
}

/// The hash of what was registered (after the rules trimmed it), which a retry must match.
pub(super) fn body_hash(r: &Registration) -> Vec<u8> {
    let canonical = [
        r.point.as_str(),
        r.current_retailer.as_str(),
        &r.customer_number,
        &r.contract_name,
        &r.supply_address,
        &r.desired_switch_date.to_string(),
        r.point_class.slug(),
    ]
    .join("\u{1f}");
    Sha256::digest(format!("intermediation\n{canonical}")).to_vec()
}

/// Claims `key` of `company` for `fresh`; on a retry with the same body, the identity the first
/// claim stored; with another body, `409 idempotency_key_reused`.
pub(super) async fn claim<C: GenericClient>(
    client: &C,
    company: &str,
    key: &str,
    hash: &[u8],
    fresh: Identity,
) -> Result<Identity, Refusal> {
    let inserted = client
        .execute(
            "INSERT INTO intermediation_keys (company_code, key, body_sha256, intermediation_id,
                 event_id, intermediation_number, registered_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
            &[
                &company,
                &key,
                &hash,
                &fresh.id,
                &fresh.event_id,
                &fresh.number,
                &fresh.registered_at,
                &fresh.expires_at,
            ],
        )
        .await?;
    if inserted == 1 {
        return Ok(fresh);
    }
    let row = client
        .query_one(
            "SELECT body_sha256, intermediation_id, event_id, intermediation_number,
                    registered_at, expires_at
               FROM intermediation_keys WHERE company_code = $1 AND key = $2",
            &[&company, &key],
        )
        .await?;
    if row.get::<_, &[u8]>(0) != hash {
        return Err(Refusal::IdempotencyConflict);
    }
    Ok(Identity {
        id: row.get(1),
        event_id: row.get(2),
        number: row.get(3),
        registered_at: row.get(4),
        expires_at: row.get(5),
    })
}
