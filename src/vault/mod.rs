//! Personal fields of the Kafka records, encrypted per field (envelope encryption) so that the
//! broker, its disks, its backups and the dead-letter topics hold none of them in clear.
//!
//! A random data key per registration and period (a month, JST) seals the fields
//! ([`fields::PERSONAL`]); a master key of the key ring (`field_keys_file`) wraps it, and the
//! wrapped key travels in each record's `kirikae-key` header, so a connector (no database)
//! opens it with its ring. The API keeps each data key in `data_keys` (this module's table), so
//! every API process seals a period's records with the same one. Destroying the master key
//! that wrapped a period's data keys makes its records unreadable while the log stays intact
//! (`kirikae keys destroy`, [`shred`]). docs/security.md tells the scheme and its procedures.

pub mod envelope;
pub mod fields;
pub mod records;
pub mod ring;
pub mod seal;
mod service;
pub mod shred;
mod store;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, Utc};

pub use envelope::{KEY_HEADER, KeyError, Keys, RecordKey, header_of};
pub use service::Vault;

use crate::config::Settings;
use crate::messages::{AuditRecord, IntermediationEvent, RequestRecord, ResultRecord};

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("field key ring: {0}")]
    Ring(String),
    #[error(transparent)]
    Seal(#[from] seal::SealError),
    #[error(transparent)]
    Field(#[from] fields::FieldError),
    #[error("data keys: {0}")]
    Db(#[from] tokio_postgres::Error),
    #[error("data keys: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
}

/// A month in JST, `YYYY-MM`: the life of a data key and the unit of shredding.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period(String);

impl Period {
    pub fn parse(text: &str) -> Option<Period> {
        let (y, m) = text.split_once('-')?;
        let ok = y.len() == 4
            && m.len() == 2
            && y.chars().chain(m.chars()).all(|c| c.is_ascii_digit())
            && matches!(m.parse::<u32>(), Ok(1..=12));
        ok.then(|| Period(text.to_string()))
    }

    /// The JST month `at` falls in.
    pub fn of(at: DateTime<Utc>) -> Period {
        let jst = FixedOffset::east_opt(9 * 3600).expect("valid offset");
        Period(at.with_timezone(&jst).format("%Y-%m").to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The key ring of `settings`: the output of `field_keys_command` when it is set, else the
/// file at `field_keys_file`. With no file there, a fresh one is written when
/// `field_keys_create` allows it (a development machine); otherwise the process does not
/// start: it never writes personal data in clear for want of a key.
pub fn keys(settings: &Settings) -> Result<Arc<Keys>, VaultError> {
    let source = ring::Source::of(settings);
    if let ring::Source::File(path) = &source
        && !path.exists()
    {
        if !settings.field_keys_create {
            return Err(VaultError::Ring(format!(
                "{} does not exist and field_keys_create is false: without a key ring the \
                 records' personal fields cannot be encrypted, so this process does not start. \
                 Mount the key ring there (Helm: the Secret of fieldKeys), set \
                 field_keys_file (KIRIKAE_FIELD_KEYS_FILE), or have field_keys_command fetch \
                 it from a key store; see docs/security.md",
                path.display()
            )));
        }
        create_local(path)?;
    }
    let ring = source.ring()?;
    Ok(Arc::new(Keys::new(source, ring)))
}

fn create_local(path: &Path) -> Result<(), VaultError> {
    match ring::write(path, &ring::fresh_local_ring()?, true) {
        Ok(()) => {
            tracing::warn!(path = %path.display(), "no field key ring: a local one was generated (development only)");
            Ok(())
        }
        // Another process of this machine wrote it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(VaultError::Ring(format!("{}: {e}", path.display()))),
    }
}

/// Why a consumed record cannot be read in clear.
#[derive(Debug, thiserror::Error)]
pub enum Unreadable {
    /// Its key was destroyed: the record is shredded for good.
    #[error("{0}")]
    Shredded(KeyError),
    /// Its master key is not in this process's ring: mend the configuration, then read again.
    #[error("{0}")]
    Missing(KeyError),
    /// Altered or malformed.
    #[error("{0}")]
    Broken(String),
}

fn record_key(
    keys: &Keys,
    header: Option<&[u8]>,
    company: &str,
) -> Result<Option<RecordKey>, Unreadable> {
    match header.map(|h| RecordKey::open(keys, h, company)) {
        None => Ok(None),
        Some(Ok(k)) => Ok(Some(k)),
        Some(Err(e @ KeyError::Shredded(_))) => Err(Unreadable::Shredded(e)),
        Some(Err(e @ KeyError::Missing(_))) => Err(Unreadable::Missing(e)),
        Some(Err(e @ KeyError::Broken)) => Err(Unreadable::Broken(e.to_string())),
    }
}

/// A consumed request in clear, with its key (to seal its result with); `header` is its
/// `kirikae-key` header, absent on a record from before sealing.
pub fn open_request(
    keys: &Keys,
    header: Option<&[u8]>,
    r: &RequestRecord,
) -> Result<(RequestRecord, Option<RecordKey>), Unreadable> {
    let key = record_key(keys, header, r.company_code.as_str())?;
    let open =
        fields::open_request(r, key.as_ref()).map_err(|e| Unreadable::Broken(e.to_string()))?;
    Ok((open, key))
}

/// A consumed result in clear; a shredded one with its personal fields marked
/// [`fields::SHREDDED`].
pub fn open_result(
    keys: &Keys,
    header: Option<&[u8]>,
    r: &ResultRecord,
) -> Result<ResultRecord, Unreadable> {
    match record_key(keys, header, r.company_code.as_str()) {
        Ok(key) => {
            fields::open_result(r, key.as_ref()).map_err(|e| Unreadable::Broken(e.to_string()))
        }
        Err(Unreadable::Shredded(_)) => Ok(fields::shred_result(r)),
        Err(e) => Err(e),
    }
}

/// A consumed intermediation event in clear (the projector, to store what the API shows); a
/// shredded one with its personal fields marked [`fields::SHREDDED`]. Its key is the actor's
/// registration's.
pub fn open_intermediation(
    keys: &Keys,
    header: Option<&[u8]>,
    e: &IntermediationEvent,
) -> Result<IntermediationEvent, Unreadable> {
    match record_key(keys, header, &e.actor_company_code) {
        Ok(key) => records::open_intermediation(e, key.as_ref())
            .map_err(|err| Unreadable::Broken(err.to_string())),
        Err(Unreadable::Shredded(_)) => Ok(records::shred_intermediation(e)),
        Err(err) => Err(err),
    }
}

/// An audit record read from the audit topic, its `detail` in clear (a consumer of the copy
/// that holds the key ring).
pub fn open_audit(
    keys: &Keys,
    header: Option<&[u8]>,
    r: &AuditRecord,
) -> Result<AuditRecord, Unreadable> {
    let key = record_key(keys, header, &r.company_code)?;
    records::open_audit(r, key.as_ref()).map_err(|err| Unreadable::Broken(err.to_string()))
}

/// The audit relay's [`crate::audit::Seal`]: each row's topic copy with its `detail` sealed by
/// `vault`, and the `kirikae-key` header.
pub fn audit_seal(vault: Vault) -> crate::audit::Seal {
    type Sealed = anyhow::Result<(AuditRecord, Vec<(&'static str, String)>)>;
    Arc::new(
        move |r: AuditRecord| -> futures::future::BoxFuture<'static, Sealed> {
            let vault = vault.clone();
            Box::pin(async move {
                let (sealed, header) = vault.seal_audit(&r).await?;
                Ok((sealed, vec![(KEY_HEADER, header)]))
            })
        },
    )
}
