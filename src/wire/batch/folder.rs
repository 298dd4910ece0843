//! The folder both ends of the batch family share: `inbox/` for request files, `outbox/` for
//! answer files, each file written whole under a hidden temporary name and then renamed, so
//! that the other end never reads half a file.

use std::path::{Path, PathBuf};

/// Writes `bytes` to `dir/name` whole: to a hidden temporary name first, then renamed.
pub fn write_whole(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let temp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&temp, bytes)?;
    std::fs::rename(&temp, dir.join(name))
}

/// The complete `*.csv` files directly in `dir` (not the hidden temporary ones), by name.
pub fn csv_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && is_complete(p))
        .collect();
    found.sort();
    found
}

/// Wakes its owner as soon as a complete file arrives in a folder (created in it, or renamed
/// into it as [`write_whole`] does), so that an answer does not wait for the owner's next look.
/// The owner keeps looking on a timer too: a folder that cannot be watched (or a file system
/// that tells nothing, a network share) is then only slower, never stuck.
pub struct Watch {
    _watcher: Option<notify::RecommendedWatcher>,
    arrived: std::sync::Arc<tokio::sync::Notify>,
}

impl Watch {
    /// Watches `dir` (not its subfolders); without a watch where the system refuses one.
    pub fn of(dir: &Path) -> Watch {
        use notify::Watcher;
        let arrived = std::sync::Arc::new(tokio::sync::Notify::new());
        let wake = arrived.clone();
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if event.is_ok_and(|e| brings_a_file(&e)) {
                // Kept as a permit when no one waits: an arrival between two looks is not lost.
                wake.notify_one();
            }
        })
        .and_then(|mut w| {
            w.watch(dir, notify::RecursiveMode::NonRecursive)
                .map(|()| w)
        });
        let watcher = watcher
            .inspect_err(|e| {
                tracing::warn!(error = %e, dir = %dir.display(), "folder not watched: looked at on a timer only");
            })
            .ok();
        Watch {
            _watcher: watcher,
            arrived,
        }
    }

    /// Returns once a file has arrived since the last return (at once if one already has);
    /// never without a watch.
    pub async fn arrival(&self) {
        self.arrived.notified().await;
    }
}

/// Whether `event` puts a complete `*.csv` file into the folder: not a temporary file's
/// writing, not a file moved out.
fn brings_a_file(event: &notify::Event) -> bool {
    use notify::EventKind;
    use notify::event::{ModifyKind, RenameMode};
    let arrives = matches!(
        event.kind,
        EventKind::Create(_)
            | EventKind::Modify(ModifyKind::Name(
                RenameMode::To | RenameMode::Both | RenameMode::Any
            ))
    );
    arrives && event.paths.last().is_some_and(|p| is_complete(p))
}

/// A `*.csv` file's name, not a hidden temporary one's.
fn is_complete(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".csv") && !n.starts_with('.'))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const PROMPTLY: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn a_file_written_whole_into_a_watched_folder_wakes_its_owner() {
        let dir = tempfile::tempdir().unwrap();
        let watch = Watch::of(dir.path());
        write_whole(dir.path(), "answer.csv", b"x").unwrap();
        tokio::time::timeout(PROMPTLY, watch.arrival())
            .await
            .expect("woken by the arrival");
    }

    #[tokio::test]
    async fn neither_a_temporary_file_nor_a_file_moved_out_wakes_the_owner() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("done")).unwrap();
        std::fs::write(dir.path().join("old.csv"), b"x").unwrap();
        let watch = Watch::of(dir.path());
        std::fs::write(dir.path().join(".answer.csv.tmp"), b"x").unwrap();
        std::fs::rename(dir.path().join("old.csv"), dir.path().join("done/old.csv")).unwrap();
        let woken = tokio::time::timeout(Duration::from_millis(300), watch.arrival()).await;
        assert!(woken.is_err(), "no complete file arrived");
        // The watch still works after the events it ignored.
        std::fs::rename(
            dir.path().join(".answer.csv.tmp"),
            dir.path().join("answer.csv"),
        )
        .unwrap();
        tokio::time::timeout(PROMPTLY, watch.arrival())
            .await
            .expect("woken by the rename");
    }
}
