//! Writing a stage's outputs under `/out`.
//!
//! The host hashes everything under `/out` when `run` returns, so a file is
//! written beside its final name and renamed into place: a plugin that traps
//! halfway never leaves a truncated file under the name a later stage reads.

use std::fs;
use std::path::{Path, PathBuf};

use crate::{ResultExt, StageError};

/// The stage's output directory as the plugin sees it.
pub const OUT_DIR: &str = "/out";

/// Returns `/out/<relative>`.
pub fn path(relative: &str) -> PathBuf {
    Path::new(OUT_DIR).join(relative)
}

/// Writes `contents` to `/out/<relative>`, creating parent directories.
///
/// # Errors
///
/// Returns [`StageError::Internal`] naming the file when it cannot be
/// written.
pub fn write(relative: &str, contents: &[u8]) -> Result<(), StageError> {
    write_atomic(&path(relative), contents)
}

/// Writes `value` as pretty JSON, with a final newline, to `/out/<relative>`.
///
/// # Errors
///
/// Returns [`StageError::Internal`] when the file cannot be written.
pub fn write_json<T: serde::Serialize>(relative: &str, value: &T) -> Result<(), StageError> {
    let mut json = serde_json::to_vec_pretty(value)
        .or_internal(|| format!("failed to encode `{relative}` as JSON"))?;
    json.push(b'\n');
    write(relative, &json)
}

/// Writes `contents` to `path` by writing a temporary file beside it and
/// renaming it over `path`, creating parent directories first.
///
/// # Errors
///
/// Returns [`StageError::Internal`] naming the file when any step fails.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), StageError> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)
            .or_internal(|| format!("failed to create directory `{}`", parent.display()))?;
    }
    let temporary = temporary_path(path);
    fs::write(&temporary, contents)
        .or_internal(|| format!("failed to write `{}`", temporary.display()))?;
    fs::rename(&temporary, path).or_internal(|| format!("failed to replace `{}`", path.display()))
}

/// `dir/name` becomes `dir/.name.tmp`: hidden, and on the same filesystem so
/// the rename is atomic.
fn temporary_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_file_is_hidden_beside_the_target() {
        let temporary = temporary_path(Path::new("/out/image/index.json"));
        assert_eq!(temporary, Path::new("/out/image/.index.json.tmp"));
    }

    #[test]
    fn write_atomic_creates_parents_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("gantry-sdk-out-{}", std::process::id()));
        let target = dir.join("a/b/file.txt");
        write_atomic(&target, b"one").unwrap();
        write_atomic(&target, b"two").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"two");
        assert!(!temporary_path(&target).exists());
        fs::remove_dir_all(dir).unwrap();
    }
}
