//! Crypto-shredding and rotation, for `kirikae keys`. A period's records stay on the log; they
//! become unreadable once no master key that wrapped their data keys is left. So destroying a
//! period destroys its data keys in `data_keys` and then retires every master key that wraps
//! nothing live any more (its entry kept, without the key, so consumers read its records as
//! shredded). One master key per period (rotation at each month, [`add_master_key`]) makes a
//! period shreddable alone; docs/security.md gives the procedure.

use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};
use deadpool_postgres::Pool;

use super::ring::{self, Entry, KeyRing, RingFile, Source};
use super::seal::Key;
use super::{Period, VaultError, store};

/// What destroying a period did.
#[derive(Debug, Default)]
pub struct Destroyed {
    /// Master keys retired in the key ring: the period's records are unreadable with them gone.
    pub retired: Vec<String>,
    /// Master keys kept, each with why: the records of the period stay readable with them.
    pub kept: Vec<(String, String)>,
}

/// Where the ring is written back: only a file is. A ring from `field_keys_command` lives in
/// a key store the hub does not write; there the operator retires what this names.
fn writable(source: &Source) -> Option<&Path> {
    match source {
        Source::File(path) => Some(path),
        Source::Command(_) => None,
    }
}

/// Destroys the data keys of `period` (a month already over at `now`) and retires each master
/// key that then wraps no live data key and is not the one new periods use: in the ring file,
/// or, for a ring from a command, by naming it in [`Destroyed::retired`] for the operator to
/// remove from the key store. The audit trail records it as `actor`'s. Run again after a failed
/// write of the ring file, it retires what it could not.
pub async fn destroy_period(
    pool: &Pool,
    source: &Source,
    period: &Period,
    now: DateTime<Utc>,
    actor: &str,
) -> Result<Destroyed, VaultError> {
    let this_month = Period::of(now);
    if *period >= this_month {
        return Err(VaultError::Ring(format!(
            "{period} is not over yet (now {this_month} in JST): only a past period can be destroyed"
        )));
    }
    let mut file = source.read()?;
    let ring = KeyRing::of(&file)?;
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let mut candidates = store::destroy(&tx, period).await?;
    candidates.extend(ring.current(period).map(|(id, _)| id.to_string()));
    candidates.sort();
    candidates.dedup();
    let newest = ring.current(&this_month).map(|(id, _)| id.to_string());
    let mut done = Destroyed::default();
    for kek in candidates {
        let live = store::live_periods_of(&tx, &kek).await?;
        if Some(&kek) == newest.as_ref() {
            done.kept.push((kek, format!("it wraps the keys of new periods ({this_month}): add a new master key first (kirikae keys add)")));
        } else if !live.is_empty() {
            done.kept.push((
                kek,
                format!("it still wraps the keys of {}", live.join(", ")),
            ));
        } else {
            retire(&mut file, &kek, now);
            done.retired.push(kek);
        }
    }
    let detail = serde_json::json!({"retired": done.retired, "kept": done.kept});
    crate::audit::record_as(
        &tx,
        "-",
        actor,
        "field_keys.period_destroyed",
        period.as_str(),
        detail,
    )
    .await?;
    tx.commit().await?;
    if let Some(path) = writable(source)
        && !done.retired.is_empty()
    {
        ring::write(path, &file, false)
            .map_err(|e| VaultError::Ring(format!("{}: {e}", path.display())))?;
    }
    Ok(done)
}

fn retire(file: &mut RingFile, id: &str, now: DateTime<Utc>) {
    for e in file.keys.iter_mut().filter(|e| e.id == id) {
        e.key = None;
        e.not_before_period = None;
        e.destroyed_at = Some(now.to_rfc3339_opts(SecondsFormat::Secs, true));
    }
}

/// Adds a fresh master key to the ring file for the periods from `from` on (rotation): new
/// data keys of those periods are wrapped by it; older keys stay, to read what they wrapped.
pub fn add_master_key(source: &Source, id: &str, from: &Period) -> Result<(), VaultError> {
    let Some(ring_path) = writable(source) else {
        return Err(VaultError::Ring(format!(
            "the key ring comes from {source}: add the key in the key store it reads"
        )));
    };
    let mut file = source.read()?;
    file.keys.push(Entry {
        id: id.to_string(),
        not_before_period: Some(from.to_string()),
        key: Some(Key::generate()?.to_base64()),
        destroyed_at: None,
    });
    KeyRing::of(&file)?;
    ring::write(ring_path, &file, false)
        .map_err(|e| VaultError::Ring(format!("{}: {e}", ring_path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retired_master_key_keeps_its_id_and_loses_its_key() {
        let mut file = RingFile {
            keys: vec![
                Entry {
                    id: "k1".into(),
                    not_before_period: Some("2000-01".into()),
                    key: Some(Key::generate().unwrap().to_base64()),
                    destroyed_at: None,
                },
                Entry {
                    id: "k2".into(),
                    not_before_period: Some("2026-02".into()),
                    key: Some(Key::generate().unwrap().to_base64()),
                    destroyed_at: None,
                },
            ],
        };
        retire(&mut file, "k1", Utc::now());
        assert!(file.keys[0].key.is_none() && file.keys[0].destroyed_at.is_some());
        let ring = KeyRing::of(&file).unwrap();
        assert!(matches!(
            ring.get("k1"),
            Err(super::super::ring::KekError::Destroyed(_))
        ));
        assert!(ring.get("k2").is_ok());
    }
}
