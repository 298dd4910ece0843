//! The master keys (KEKs): a key ring read from `field_keys_file`, each key used to wrap the
//! data keys of the periods from its `not_before_period` until the next key's. A destroyed key
//! stays listed, without its key, so that a record it wrapped reads as shredded rather than as
//! a configuration mistake.
//!
//! The ring comes from a file (`field_keys_file`) or, so that master keys need never lie on a
//! machine's disk, from a command that prints it (`field_keys_command`): a KMS or secret
//! store's client (`vault kv get -field=ring secret/kirikae`, `aws secretsmanager
//! get-secret-value … --query SecretString --output text`), run again whenever the ring is
//! read again.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

/// Where a process reads its key ring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
    /// Run with `/bin/sh -c`; its standard output is the ring's JSON.
    Command(String),
}

/// How long a key-store command may take before the read fails.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(20);

impl Source {
    /// The command when `field_keys_command` is set, else the file.
    pub fn of(settings: &crate::config::Settings) -> Source {
        match settings.field_keys_command.as_deref().map(str::trim) {
            Some(command) if !command.is_empty() => Source::Command(command.to_string()),
            _ => Source::File(settings.field_keys_file.clone()),
        }
    }

    /// The ring as it is now, checked.
    pub fn read(&self) -> Result<RingFile, VaultError> {
        let text = match self {
            Source::File(path) => std::fs::read_to_string(path).map_err(|e| self.error(e))?,
            Source::Command(command) => run(command).map_err(|e| self.error(e))?,
        };
        let file: RingFile =
            serde_json::from_str(&text).map_err(|e| self.error(format!("not a key ring: {e}")))?;
        KeyRing::of(&file).map_err(|e| self.error(e))?;
        Ok(file)
    }

    /// The ring as it is now, parsed.
    pub fn ring(&self) -> Result<KeyRing, VaultError> {
        KeyRing::of(&self.read()?)
    }

    fn error(&self, e: impl std::fmt::Display) -> VaultError {
        VaultError::Ring(format!("{self}: {e}"))
    }
}

impl std::fmt::Display for Source {
    /// Names the source in messages; a command by its first word only, since its arguments
    /// may carry a credential.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::File(path) => write!(f, "{}", path.display()),
            Source::Command(command) => {
                let program = command.split_whitespace().next().unwrap_or_default();
                write!(f, "field_keys_command ({program} …)")
            }
        }
    }
}

/// `command`'s standard output, if it exits with success within [`COMMAND_TIMEOUT`]; its
/// standard error goes to this process's, for the operator.
fn run(command: &str) -> Result<String, String> {
    let mut child = Command::new("/bin/sh")
        .args(["-c", command])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start: {e}"))?;
    let mut stdout = child.stdout.take().expect("piped");
    // Read on a thread of its own, so a ring larger than the pipe's buffer cannot block the exit.
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).map(|_| text)
    });
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let status = loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) => break status,
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("no answer within {} s", COMMAND_TIMEOUT.as_secs()));
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let text = reader
        .join()
        .map_err(|_| "its output could not be read".to_string())?
        .map_err(|e| format!("its output: {e}"))?;
    if !status.success() {
        return Err(format!("exited with {status}"));
    }
    Ok(text)
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
    // A name of this call's own: two threads of one process (`kirikae up` starts every
    // component at once) writing the first ring must not remove each other's file.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp{}.{n}", std::process::id()));
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

    #[test]
    fn threads_of_one_process_writing_the_first_ring_at_once_all_find_one_ring() {
        for _ in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("keys").join("field-keys.json");
            let start = std::sync::Arc::new(std::sync::Barrier::new(8));
            let writers: Vec<_> = (0..8)
                .map(|_| {
                    let (path, start) = (path.clone(), start.clone());
                    std::thread::spawn(move || {
                        let ring = fresh_local_ring().unwrap();
                        start.wait();
                        write(&path, &ring, true)
                    })
                })
                .collect();
            let outcomes: Vec<_> = writers.into_iter().map(|w| w.join().unwrap()).collect();
            let placed = outcomes.iter().filter(|o| o.is_ok()).count();
            assert_eq!(placed, 1, "{outcomes:?}");
            assert!(
                outcomes.iter().all(|o| match o {
                    Ok(()) => true,
                    Err(e) => e.kind() == std::io::ErrorKind::AlreadyExists,
                }),
                "{outcomes:?}"
            );
            let text = std::fs::read_to_string(&path).unwrap();
            assert_eq!(
                serde_json::from_str::<RingFile>(&text).unwrap().keys.len(),
                1
            );
            // No temporary file is left beside it.
            assert_eq!(
                std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
                1
            );
        }
    }

    #[test]
    fn a_ring_from_a_command_is_what_the_command_prints() {
        let file = RingFile {
            keys: vec![entry("kms-1", "2026-01")],
        };
        let json = serde_json::to_string(&file).unwrap();
        let source = Source::Command(format!("printf '%s' '{json}'"));
        let ring = source.ring().unwrap();
        assert_eq!(
            ring.current(&Period::parse("2026-05").unwrap()).unwrap().0,
            "kms-1"
        );
    }

    #[test]
    fn a_failing_command_is_an_error_that_names_its_program_and_not_its_arguments() {
        let source = Source::Command("false --token=s3cret".into());
        let e = source.ring().unwrap_err().to_string();
        assert!(e.contains("false") && e.contains("exited"), "{e}");
        assert!(!e.contains("s3cret"), "{e}");
        let e = Source::Command("echo not-json".into())
            .ring()
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a key ring"), "{e}");
    }
}
