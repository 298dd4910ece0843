//! The API's side: the data key of a registration's period, made once and kept in
//! `data_keys`, and the sealing of a request before it is produced.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use deadpool_postgres::Pool;

use super::envelope::{Keys, RecordKey};
use super::seal::Key;
use super::{Period, VaultError, fields, records, store};
use crate::messages::{AuditRecord, IntermediationEvent, RequestRecord};

/// Data keys held in memory at most; past it the cache starts again (a month's registrations
/// are far fewer).
const CACHED: usize = 10_000;

/// Seals requests for the API and the bulk filing. Cheap to clone.
#[derive(Clone)]
pub struct Vault {
    keys: Arc<Keys>,
    pool: Pool,
    cache: Arc<Mutex<HashMap<(String, Period), RecordKey>>>,
}

impl Vault {
    pub fn new(keys: Arc<Keys>, pool: Pool) -> Vault {
        Vault {
            keys,
            pool,
            cache: Arc::default(),
        }
    }

    /// `r` with its personal fields sealed, and the `kirikae-key` header to produce it with.
    pub async fn seal_request(
        &self,
        r: &RequestRecord,
    ) -> Result<(RequestRecord, String), VaultError> {
        let key = self
            .key_for(r.company_code.as_str(), &Period::of(r.accepted_at))
            .await?;
        let sealed = fields::seal_request(r, &key)?;
        Ok((sealed, key.header().to_string()))
    }

    /// `e` with its personal fields sealed, and the `kirikae-key` header to produce it with; an
    /// event with nothing personal (a decision without a note, an expiry) as it is, no header.
    /// The key is the actor's registration's, of the event's month.
    pub async fn seal_intermediation(
        &self,
        e: &IntermediationEvent,
    ) -> Result<(IntermediationEvent, Option<String>), VaultError> {
        if !records::intermediation_has_personal(e) {
            return Ok((e.clone(), None));
        }
        let key = self
            .key_for(&e.actor_company_code, &Period::of(e.occurred_at))
            .await?;
        let sealed = records::seal_intermediation(e, &key)?;
        Ok((sealed, Some(key.header().to_string())))
    }

    /// The audit topic's copy of a row, its `detail` sealed with the data key of the row's
    /// registration (`-`, the whole hub, has one of its own) and month, and its header.
    pub async fn seal_audit(&self, r: &AuditRecord) -> Result<(AuditRecord, String), VaultError> {
        let key = self.key_for(&r.company_code, &Period::of(r.at)).await?;
        Ok((records::seal_audit(r, &key)?, key.header().to_string()))
    }

    /// `company`'s data key of `period`: from memory, else `data_keys`, else a new one, kept
    /// there first (should two processes race, both use the one kept).
    pub async fn key_for(&self, company: &str, period: &Period) -> Result<RecordKey, VaultError> {
        let slot = (company.to_string(), period.clone());
        if let Some(k) = self.cache.lock().expect("cache lock").get(&slot) {
            return Ok(k.clone());
        }
        let client = self.pool.get().await?;
        if store::get(&client, company, period).await?.is_none() {
            let (kek_id, kek) = self.keys.current(period)?;
            let made = RecordKey::wrap(&kek_id, &kek, Key::generate()?, company, period)?;
            let wrapped = made.wrapped().expect("own header");
            store::insert(&client, company, period, &kek_id, &wrapped).await?;
        }
        let kept = store::get(&client, company, period)
            .await?
            .expect("kept above");
        let wrapped = kept.wrapped.ok_or_else(|| {
            VaultError::Ring(format!(
                "the data key of {company} for {period} was destroyed"
            ))
        })?;
        let key = RecordKey::stored(&self.keys, company, period, &kept.kek_id, &wrapped)
            .map_err(|e| VaultError::Ring(e.to_string()))?;
        let mut cache = self.cache.lock().expect("cache lock");
        if cache.len() >= CACHED {
            cache.clear();
        }
        cache.insert(slot, key.clone());
        Ok(key)
    }
}
