//! The master keys (KEKs): a key ring read from `field_keys_file`, each key used to wrap the
//! data keys of the periods from its `not_before_period` until the next key's. A destroyed key
//! stays listed, without its key, so that a record it wrapped reads as shredded rather than as
//! a configuration mistake.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::seal::Key;
use super::{Period, VaultError};

/// The file's form: `{"keys": [{"id", "not_before_period", "key"}, {"id", "destroyed_at"}]}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RingFile {
    pub keys: Vec<Entry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Letters, digits, `-`, `_` and `.`: it travels in every record's key header.
    pub id: String,
    /// The first period (YYYY-MM, JST) whose new data keys it wraps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before_period: Option<String>,
    /// base64 of 32 random bytes; absent once destroyed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// When it was destroyed (crypto-shredding); its records read as shredded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destroyed_at: Option<String>,
}

/// Why a master key named by a record is not at hand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KekError {
    #[error("master key {0} was destroyed")]
    Destroyed(String),
    #[error("master key {0} is not in the key ring")]
    Unknown(String),
}

/// The parsed ring: live keys and the ids of destroyed ones.
#[derive(Debug, Clone)]
pub struct KeyRing {
    live: Vec<(String, Period, Key)>,
    destroyed: Vec<String>,
}

impl KeyRing {
    pub fn parse(text: &str) -> Result<KeyRing, VaultError> {
        let file: RingFile = serde_json::from_str(text)
            .map_err(|e| VaultError::Ring(format!("not a key ring: {e}")))?;
        KeyRing::of(&file)
    }

    pub fn of(file: &RingFile) -> Result<KeyRing, VaultError> {
        let bad = |m: String| Err(VaultError::Ring(m));
        let mut ring = KeyRing {
            live: Vec::new(),
            destroyed: Vec::new(),
        };
        for e in &file.keys {
            let id_ok = !e.id.is_empty()
                && e.id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if !id_ok {
                return bad(format!("key id {:?}: letters, digits, - _ . only", e.id));
            }
            if ring.has(&e.id) {
                return bad(format!("key id {} appears twice", e.id));
            }
            match (&e.key, &e.not_before_period, &e.destroyed_at) {
                (None, _, Some(_)) => ring.destroyed.push(e.id.clone()),
                (Some(k), Some(p), None) => {
                    let key = Key::from_base64(k).ok_or_else(|| {
                        VaultError::Ring(format!("key {}: not base64 of 32 bytes", e.id))
                    })?;
                    let period = Period::parse(p).ok_or_else(|| {
                        VaultError::Ring(format!("key {}: not_before_period is YYYY-MM", e.id))
                    })?;
                    ring.live.push((e.id.clone(), period, key));
                }
                _ => {
                    return bad(format!(
                        "key {}: either key and not_before_period, or destroyed_at alone",
                        e.id
                    ));
                }
            }
        }
        if ring.live.is_empty() {
            return bad("the key ring holds no live key".into());
        }
        ring.live.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(ring)
    }

    fn has(&self, id: &str) -> bool {
        self.live.iter().any(|(i, ..)| i == id) || self.destroyed.iter().any(|i| i == id)
    }

    /// The key that wraps new data keys of `period`: the live one with the latest
    /// `not_before_period` not after it.
    pub fn current(&self, period: &Period) -> Option<(&str, &Key)> {
        self.live
            .iter()
            .rev()
            .find(|(_, from, _)| from <= period)
            .map(|(id, _, k)| (id.as_str(), k))
    }

    /// The key `id`, to unwrap what it wrapped.
    pub fn get(&self, id: &str) -> Result<&Key, KekError> {
        if let Some((_, _, k)) = self.live.iter().find(|(i, ..)| i == id) {
            return Ok(k);
        }
        if self.destroyed.iter().any(|i| i == id) {
            return Err(KekError::Destroyed(id.to_string()));
        }
        Err(KekError::Unknown(id.to_string()))
    }
}

/// A ring of one fresh key for every period, for a machine with nothing set up (`./scripts/up`).
pub fn fresh_local_ring() -> Result<RingFile, VaultError> {
    Ok(RingFile {
        keys: vec![Entry {
            id: "local-1".into(),
            not_before_period: Some("2000-01".into()),
            key: Some(Key::generate()?.to_base64()),
            destroyed_at: None,
        }],
    })
}

/// Writes `file` to `path`, readable by its owner only, whole or not at all (a process
/// starting beside never reads half a ring). `create_new`: fails with `AlreadyExists` if
/// another process wrote it first.
pub fn write(path: &Path, file: &RingFile, create_new: bool) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text = serde_json::to_string_pretty(file).expect("a ring serializes");
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?
        .write_all(text.as_bytes())?;
    let placed = if create_new {
        std::fs::hard_link(&tmp, path)
    } else {
        std::fs::rename(&tmp, path)
    };
    let _ = std::fs::remove_file(&tmp);
    placed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, from: &str) -> Entry {
        Entry {
            id: id.into(),
            not_before_period: Some(from.into()),
            key: Some(Key::generate().unwrap().to_base64()),
            destroyed_at: None,
        }
    }

    #[test]
    fn new_periods_take_the_latest_key_that_has_begun() {
        let ring = KeyRing::of(&RingFile {
            keys: vec![entry("k2", "2026-02"), entry("k1", "2000-01")],
        })
        .unwrap();
        let p = |s| Period::parse(s).unwrap();
        assert_eq!(ring.current(&p("2026-01")).unwrap().0, "k1");
        assert_eq!(ring.current(&p("2026-02")).unwrap().0, "k2");
        assert_eq!(ring.current(&p("2027-12")).unwrap().0, "k2");
        assert!(ring.get("k1").is_ok());
    }

    #[test]
    fn a_destroyed_key_is_told_apart_from_an_unknown_one() {
        let ring = KeyRing::of(&RingFile {
            keys: vec![
                entry("k2", "2026-02"),
                Entry {
                    id: "k1".into(),
                    not_before_period: None,
                    key: None,
                    destroyed_at: Some("2026-11-27T00:00:00Z".into()),
                },
            ],
        })
        .unwrap();
        assert_eq!(ring.get("k1"), Err(KekError::Destroyed("k1".into())));
        assert_eq!(ring.get("k9"), Err(KekError::Unknown("k9".into())));
    }

    #[test]
    fn a_ring_with_a_bad_entry_or_no_live_key_is_refused() {
        let mut e = entry("k;1", "2026-01");
        assert!(
            KeyRing::of(&RingFile {
                keys: vec![e.clone()]
            })
            .is_err()
        );
        e.id = "k1".into();
        e.key = Some("c2hvcnQ=".into());
        assert!(KeyRing::of(&RingFile { keys: vec![e] }).is_err());
        assert!(KeyRing::of(&RingFile { keys: vec![] }).is_err());
        assert!(
            KeyRing::of(&RingFile {
                keys: vec![entry("k1", "2026-01"), entry("k1", "2026-02")]
            })
            .is_err()
        );
    }
}
