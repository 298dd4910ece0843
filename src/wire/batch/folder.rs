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
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.ends_with(".csv") && !n.starts_with('.'))
        })
        .collect();
    found.sort();
    found
}
