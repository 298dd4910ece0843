//! `Idempotency-Key`: every statement on `idempotency_keys`. The key is claimed with the hash of
//! the body before anything is produced, so a retry with the same body gets the first request
//! id (and a record lost before the broker's acknowledgement is produced again under that id,
//! which the connector deduplicates); the same key with another body is refused.

use deadpool_postgres::GenericClient;
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

/// A claimed key: the request id under it, and whether it was claimed before (a retry).
pub struct Claim {
    pub request_id: RequestId,
    pub retry: bool,
}

/// Claims `key` of `company` for a body with `hash`.
pub async fn claim<C: GenericClient>(
    client: &C,
    company: &CompanyCode,
    key: &IdempotencyKey,
    hash: &[u8],
) -> Result<Claim, Refusal> {
    let fresh = RequestId::new();
    let inserted = client
        .execute(
            "INSERT INTO idempotency_keys (company_code, key, body_sha256, request_id)
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            &[&company.as_str(), &key.as_str(), &hash, &fresh.as_uuid()],
        )
        .await?;
    if inserted == 1 {
        return Ok(Claim {
            request_id: fresh,
            retry: false,
        });
    }
    let row = client
        .query_one(
            "SELECT body_sha256, request_id FROM idempotency_keys
             WHERE company_code = $1 AND key = $2",
            &[&company.as_str(), &key.as_str()],
        )
        .await?;
    let stored: Vec<u8> = row.get(0);
    if stored != hash {
        return Err(Refusal::IdempotencyConflict);
    }
    Ok(Claim {
        request_id: RequestId::from(row.get::<_, uuid::Uuid>(1)),
        retry: true,
    })
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
