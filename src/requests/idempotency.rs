//! `Idempotency-Key`: every statement on `idempotency_keys`. The key is claimed with the hash of
//! the body before anything is produced, so a retry with the same body gets the first request
//! id (and a record lost before the broker's acknowledgement is produced again under that id,
//! which the connector deduplicates); the same key with another body is refused.

use sha2::{Digest, Sha256};

use crate::domain::{CompanyCode, Function, Refusal, RequestId};

/// A key as a client may give it: 1 to 128 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &[u8]) -> Result<Self, Refusal> {
        let ok = (1..=128).contains(&raw.len()) && raw.iter().all(u8::is_ascii_graphic);
        let key = std::str::from_utf8(raw).ok().filter(|_| ok);
        key.map(|k| IdempotencyKey(k.to_string()))
            .ok_or(Refusal::InvalidIdempotencyKey)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What the body is judged the same by: the function and the JSON as parsed, so a retry that
/// only reorders whitespace is the same submission.
pub fn body_hash(function: Function, body: &serde_json::Value) -> Vec<u8> {
    Sha256::digest(format!("{}\n{body}", function.slug())).to_vec()
}

/// How long an attempt holds its key while it produces: longer than the publisher waits for
/// the broker (10 s), so a live attempt is never overtaken by a retry.
pub const LEASE_SECS: f64 = 30.0;

/// How often a retry that found its key's first attempt in flight looks again.
const POLL: std::time::Duration = std::time::Duration::from_millis(50);

/// A claimed key: the request id under it, and whether this attempt must produce the record
/// (the first, or one taking over from an attempt that failed) or only answer with the id.
pub struct Claim {
    pub request_id: RequestId,
    pub produce: bool,
}

/// Claims `key` of `company` for a body with `hash`. A retry while the key's first attempt is
/// still producing waits for it (however many retries race, one record is produced); once
/// that attempt is done the retry answers with its id, and if it failed or died (its lease
/// ran out) the retry takes over and produces under the same id.
pub async fn claim(
    pool: &deadpool_postgres::Pool,
    company: &CompanyCode,
    key: &IdempotencyKey,
    hash: &[u8],
) -> Result<Claim, Refusal> {
    loop {
        let client = pool.get().await?;
        let fresh = RequestId::new();
        let inserted = insert_claims(&client, company, &[(key, hash, fresh)]).await?;
        if !inserted.is_empty() {
            return Ok(Claim {
                request_id: fresh,
                produce: true,
            });
        }
        let row = client
            .query_one(
                "SELECT body_sha256, request_id, produced,
                        coalesce(lease_until > now(), false) AS leased
                 FROM idempotency_keys WHERE company_code = $1 AND key = $2",
                &[&company.as_str(), &key.as_str()],
            )
            .await?;
        let stored: Vec<u8> = row.get(0);
        if stored != hash {
            return Err(Refusal::IdempotencyConflict);
        }
        let request_id = RequestId::from(row.get::<_, uuid::Uuid>(1));
        let (produced, leased): (bool, bool) = (row.get(2), row.get(3));
        // Not whether its `accepted` row exists: that is written before the record is
        // produced, so an attempt that died in between left a row and no record. Such a key
        // is taken over once its lease has run out and produced again under the same id (a
        // record that did arrive is then there twice, which the connector deduplicates).
        if produced {
            return Ok(Claim {
                request_id,
                produce: false,
            });
        }
        if !leased {
            let took = client
                .execute(
                    "UPDATE idempotency_keys SET lease_until = now() + make_interval(secs => $3)
                     WHERE company_code = $1 AND key = $2 AND NOT produced
                       AND (lease_until IS NULL OR lease_until <= now())",
                    &[&company.as_str(), &key.as_str(), &LEASE_SECS],
                )
                .await?;
            if took == 1 {
                return Ok(Claim {
                    request_id,
                    produce: true,
                });
            }
        }
        drop(client);
        tokio::time::sleep(POLL).await;
    }
}

/// Ends the lease of the attempt that claimed `key`: `produced` when the broker acknowledged
/// its record (retries answer with its id), otherwise released so the next retry produces at
/// once. A failure here is only logged: the lease then runs out by itself.
pub async fn settle(
    pool: &deadpool_postgres::Pool,
    company: &CompanyCode,
    key: &IdempotencyKey,
    produced: bool,
) {
    let result = async {
        pool.get()
            .await?
            .execute(
                "UPDATE idempotency_keys SET produced = produced OR $3, lease_until = NULL
                 WHERE company_code = $1 AND key = $2",
                &[&company.as_str(), &key.as_str(), &produced],
            )
            .await?;
        Ok::<_, Refusal>(())
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "idempotency key not settled; its lease will run out");
    }
}

/// Inserts the claims of the keys no one holds yet, leased to this attempt; the keys inserted.
async fn insert_claims(
    client: &deadpool_postgres::Client,
    company: &CompanyCode,
    claims: &[(&IdempotencyKey, &[u8], RequestId)],
) -> Result<std::collections::HashSet<String>, Refusal> {
    let keys: Vec<&str> = claims.iter().map(|(k, _, _)| k.as_str()).collect();
    let hashes: Vec<&[u8]> = claims.iter().map(|(_, h, _)| *h).collect();
    let ids: Vec<uuid::Uuid> = claims.iter().map(|(_, _, id)| id.as_uuid()).collect();
    let rows = client
        .query(
            "INSERT INTO idempotency_keys
                 (company_code, key, body_sha256, request_id, lease_until)
             SELECT $1, u.key, u.hash, u.request_id, now() + make_interval(secs => $5)
             FROM unnest($2::text[], $3::bytea[], $4::uuid[]) AS u(key, hash, request_id)
             ON CONFLICT DO NOTHING
             RETURNING key",
            &[&company.as_str(), &keys, &hashes, &ids, &LEASE_SECS],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_1_to_128_visible_ascii_characters() {
        assert!(IdempotencyKey::parse(b"order-42").is_ok());
        assert!(IdempotencyKey::parse(&[b'k'; 128]).is_ok());
        for bad in [
            &b""[..],
            &[b'k'; 129],
            b"has space",
            "鍵".as_bytes(),
            b"tab\there",
        ] {
            assert!(matches!(
                IdempotencyKey::parse(bad),
                Err(Refusal::InvalidIdempotencyKey)
            ));
        }
    }
}
