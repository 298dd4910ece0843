//! A record's data key travels beside it, wrapped: header `kirikae-key` =
//! `v1;kek=<id>;period=<YYYY-MM>;dek=<base64 of the wrapped key>`. Whoever holds the master key
//! `id` (the connector, from its configuration, without the database) unwraps it; the wrapping
//! is bound to the registration and the period, so a header moved onto another company's record
//! does not open.

use std::sync::{Arc, RwLock};

use rdkafka::Message;
use rdkafka::message::Headers;

use super::ring::{KekError, KeyRing, Source};
use super::seal::{Key, SealError, b64_decode, b64_encode};
use super::{Period, VaultError};

/// The header that carries a record's wrapped data key.
pub const KEY_HEADER: &str = "kirikae-key";

/// The value of `name`'s header on `m`.
pub fn header_of<'a, M: Message>(m: &'a M, name: &str) -> Option<&'a [u8]> {
    m.headers()?
        .iter()
        .find(|h| h.key == name)
        .and_then(|h| h.value)
}

/// The master keys of this process, read from its ring's source and read again when a record
/// names a key not yet seen (a key added for a new period while the process runs).
pub struct Keys {
    source: Source,
    ring: RwLock<Arc<KeyRing>>,
}

impl Keys {
    pub fn new(source: Source, ring: KeyRing) -> Keys {
        Keys {
            source,
            ring: RwLock::new(Arc::new(ring)),
        }
    }

    fn ring(&self) -> Arc<KeyRing> {
        self.ring.read().expect("ring lock").clone()
    }

    /// Reads the source again.
    pub fn reload(&self) -> Result<(), VaultError> {
        let ring = self.source.ring()?;
        *self.ring.write().expect("ring lock") = Arc::new(ring);
        Ok(())
    }

    /// The master key `id`, the source read again once if it is not known.
    pub fn kek(&self, id: &str) -> Result<Key, KekError> {
        match self.ring().get(id) {
            Err(KekError::Unknown(_)) => {
                if let Err(e) = self.reload() {
                    tracing::warn!(error = %e, "key ring not read again");
                }
                self.ring().get(id).cloned()
            }
            other => other.cloned(),
        }
    }

    /// The id and key that wrap new data keys of `period`, from the source as it is now.
    pub fn current(&self, period: &Period) -> Result<(String, Key), VaultError> {
        self.reload()?;
        let ring = self.ring();
        let (id, key) = ring
            .current(period)
            .ok_or_else(|| VaultError::Ring(format!("no master key begins by {period}")))?;
        Ok((id.to_string(), key.clone()))
    }
}

/// Why a record's data key cannot be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Crypto-shredded: its master key was destroyed.
    #[error("the record's key was destroyed ({0})")]
    Shredded(String),
    /// The master key is not in this process's ring: a configuration to mend, not data to drop.
    #[error(
        "the record's master key {0} is not in the key ring (field_keys_file or field_keys_command)"
    )]
    Missing(String),
    #[error("the record's key header is malformed or altered")]
    Broken,
}

/// One record's data key, and its header to send with every record sealed with it.
#[derive(Debug, Clone)]
pub struct RecordKey {
    pub(super) dek: Key,
    header: String,
}

fn wrap_aad(kek_id: &str, company: &str, period: &Period) -> Vec<u8> {
    format!("kirikae-dek\0{kek_id}\0{company}\0{period}").into_bytes()
}

impl RecordKey {
    /// `dek` wrapped by master key `kek_id` for `company`'s `period`.
    pub fn wrap(
        kek_id: &str,
        kek: &Key,
        dek: Key,
        company: &str,
        period: &Period,
    ) -> Result<RecordKey, SealError> {
        let wrapped = kek.seal(&wrap_aad(kek_id, company, period), dek.as_bytes())?;
        Ok(RecordKey {
            dek,
            header: header_text(kek_id, period, &wrapped),
        })
    }

    /// The key kept in `data_keys` for `company`'s `period`.
    pub(super) fn stored(
        keys: &Keys,
        company: &str,
        period: &Period,
        kek_id: &str,
        wrapped: &[u8],
    ) -> Result<RecordKey, KeyError> {
        RecordKey::open(
            keys,
            header_text(kek_id, period, wrapped).as_bytes(),
            company,
        )
    }

    /// The wrapped data key alone, as stored in `data_keys`.
    pub fn wrapped(&self) -> Option<Vec<u8>> {
        let (_, _, wrapped) = parse(&self.header)?;
        b64_decode(wrapped)
    }

    /// The data key of a record of `company` from its header.
    pub fn open(keys: &Keys, header: &[u8], company: &str) -> Result<RecordKey, KeyError> {
        let text = std::str::from_utf8(header).map_err(|_| KeyError::Broken)?;
        let (kek_id, period, wrapped) = parse(text).ok_or(KeyError::Broken)?;
        let period = Period::parse(period).ok_or(KeyError::Broken)?;
        let wrapped = b64_decode(wrapped).ok_or(KeyError::Broken)?;
        let kek = keys.kek(kek_id).map_err(|e| match e {
            KekError::Destroyed(id) => KeyError::Shredded(format!("master key {id}")),
            KekError::Unknown(id) => KeyError::Missing(id),
        })?;
        let dek = kek
            .open(&wrap_aad(kek_id, company, &period), &wrapped)
            .ok()
            .and_then(|b| Key::from_bytes(&b))
            .ok_or(KeyError::Broken)?;
        Ok(RecordKey {
            dek,
            header: text.to_string(),
        })
    }

    pub fn header(&self) -> &str {
        &self.header
    }
}

fn header_text(kek_id: &str, period: &Period, wrapped: &[u8]) -> String {
    format!(
        "v1;kek={kek_id};period={period};dek={}",
        b64_encode(wrapped)
    )
}

/// `(kek id, period, wrapped key)` of a header.
fn parse(header: &str) -> Option<(&str, &str, &str)> {
    let mut parts = header.split(';');
    if parts.next()? != "v1" {
        return None;
    }
    let mut field = |name: &str| parts.next()?.strip_prefix(name);
    let kek = field("kek=")?;
    let period = field("period=")?;
    let dek = field("dek=")?;
    Some((kek, period, dek))
}

#[cfg(test)]
mod tests {
    use super::super::ring::{Entry, RingFile};
    use super::*;

    fn keys(entries: Vec<Entry>) -> Keys {
        Keys::new(
            Source::File("/nonexistent".into()),
            KeyRing::of(&RingFile { keys: entries }).unwrap(),
        )
    }

    fn live(id: &str, key: &Key) -> Entry {
        Entry {
            id: id.into(),
            not_before_period: Some("2000-01".into()),
            key: Some(key.to_base64()),
            destroyed_at: None,
        }
    }

    #[test]
    fn a_wrapped_data_key_opens_only_for_its_registration() {
        let kek = Key::generate().unwrap();
        let dek = Key::generate().unwrap();
        let period = Period::parse("2026-01").unwrap();
        let rk = RecordKey::wrap("k1", &kek, dek.clone(), "A0001", &period).unwrap();
        let ring = keys(vec![live("k1", &kek)]);
        let opened = RecordKey::open(&ring, rk.header().as_bytes(), "A0001").unwrap();
        assert_eq!(opened.dek, dek);
        assert_eq!(
            RecordKey::open(&ring, rk.header().as_bytes(), "B0002").unwrap_err(),
            KeyError::Broken
        );
        let moved = rk.header().replace("2026-01", "2026-02");
        assert_eq!(
            RecordKey::open(&ring, moved.as_bytes(), "A0001").unwrap_err(),
            KeyError::Broken
        );
    }

    #[test]
    fn a_destroyed_master_key_shreds_and_an_unknown_one_is_missing() {
        let kek = Key::generate().unwrap();
        let period = Period::parse("2026-01").unwrap();
        let rk = RecordKey::wrap("k1", &kek, Key::generate().unwrap(), "A0001", &period).unwrap();
        let destroyed = keys(vec![
            live("k2", &Key::generate().unwrap()),
            Entry {
                id: "k1".into(),
                not_before_period: None,
                key: None,
                destroyed_at: Some("2026-11-27T00:00:00Z".into()),
            },
        ]);
        assert!(matches!(
            RecordKey::open(&destroyed, rk.header().as_bytes(), "A0001"),
            Err(KeyError::Shredded(_))
        ));
        let other = keys(vec![live("k2", &Key::generate().unwrap())]);
        assert_eq!(
            RecordKey::open(&other, rk.header().as_bytes(), "A0001").unwrap_err(),
            KeyError::Missing("k1".into())
        );
    }
}
