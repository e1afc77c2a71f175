//! Atomic writes and content digests.
//!
//! [`write_atomic`] is how every record in the state dir is written: a crash
//! at any point leaves either the old file or the new one. The `sha256_*`
//! functions compute the digests recorded for inputs and outputs, spelled
//! `sha256:<hex>`.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::StoreError;

/// Writes `bytes` to `path` so that readers see the old content or the new,
/// never a mix, and the new content survives a crash once this returns.
///
/// The bytes go to a temporary file in the same directory, which is fsynced,
/// renamed over `path`, and then the directory is fsynced so the rename
/// itself is durable. On failure the temporary file is removed.
///
/// # Errors
///
/// [`StoreError::Io`] naming the file when any step fails, for instance
/// when the directory does not exist.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = parent_dir(path);
    let temp = temp_path(path);
    if let Err(error) = write_and_sync(&temp, bytes) {
        let _ = fs::remove_file(&temp);
        return Err(error);
    }
    if let Err(source) = fs::rename(&temp, path) {
        let _ = fs::remove_file(&temp);
        return Err(StoreError::io("replace", path, source));
    }
    sync_dir(dir)
}

/// Writes `bytes` to a new file at `path`, readable and writable by its
/// owner only (mode 0600), atomically and durably; an existing file is
/// never replaced.
///
/// The bytes go to a private temporary file in the same directory, which is
/// fsynced and then hard-linked to `path`: the link fails, leaving `path`
/// untouched, when something is already there, even if it appeared after
/// the check a rename would need.
///
/// # Errors
///
/// [`StoreError::Exists`] when `path` exists; [`StoreError::Io`] naming the
/// file when any step fails.
pub fn write_new_private(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    if fs::symlink_metadata(path).is_ok() {
        return Err(StoreError::Exists {
            path: path.to_owned(),
        });
    }
    let temp = temp_path(path);
    let written = write_private_and_sync(&temp, bytes).and_then(|()| {
        fs::hard_link(&temp, path).map_err(|source| match source.kind() {
            io::ErrorKind::AlreadyExists => StoreError::Exists {
                path: path.to_owned(),
            },
            _ => StoreError::io("create", path, source),
        })
    });
    let _ = fs::remove_file(&temp);
    written?;
    sync_dir(parent_dir(path))
}

fn write_private_and_sync(temp: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = File::options()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(temp)
        .map_err(|e| StoreError::io("create", temp, e))?;
    file.write_all(bytes)
        .map_err(|e| StoreError::io("write", temp, e))?;
    file.sync_all().map_err(|e| StoreError::io("sync", temp, e))
}

/// The sha256 of a file's contents, `sha256:<hex>`, read in chunks.
///
/// # Errors
///
/// [`StoreError::Io`] when the file cannot be opened or read.
pub fn sha256_file(path: &Path) -> Result<String, StoreError> {
    let mut file = File::open(path).map_err(|e| StoreError::io("open", path, e))?;
    let mut hasher = Sha256::new();
    io::copy(&mut file, &mut hasher).map_err(|e| StoreError::io("read", path, e))?;
    Ok(format!("sha256:{}", hex::encode(hasher.finalize())))
}

/// The sha256 of `bytes`, `sha256:<hex>`.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The digest of a directory tree, `sha256:<hex>`.
///
/// It is the sha256 of one line per regular file,
/// `<hex of the file's sha256>  <path relative to the directory>\n`, with
/// `/` between path components, sorted bytewise by path. Directories count
/// only through the files inside them, so an empty directory (at the top or
/// inside) adds nothing, and times and permissions play no part.
///
/// # Errors
///
/// [`StoreError::UnsupportedEntry`] naming the first symlink or special
/// file found inside (a digest must not depend on what a link points to);
/// [`StoreError::Io`] when something cannot be read.
pub fn sha256_dir(path: &Path) -> Result<String, StoreError> {
    let mut files = Vec::new();
    collect_files(path, &[], &mut files)?;
    files.sort();

    let mut listing = Sha256::new();
    for relative in &files {
        let absolute = path.join(std::ffi::OsStr::from_bytes(relative));
        let digest = sha256_file(&absolute)?;
        let hex = digest.trim_start_matches("sha256:");
        listing.update(hex.as_bytes());
        listing.update(b"  ");
        listing.update(relative);
        listing.update(b"\n");
    }
    Ok(format!("sha256:{}", hex::encode(listing.finalize())))
}

/// The digest of a regular file ([`sha256_file`]) or a directory
/// ([`sha256_dir`]), whichever `path` is.
///
/// # Errors
///
/// [`StoreError::UnsupportedEntry`] when `path` is a symlink or a special
/// file; otherwise as the function it dispatches to.
pub fn sha256_path(path: &Path) -> Result<String, StoreError> {
    let meta = fs::symlink_metadata(path).map_err(|e| StoreError::io("inspect", path, e))?;
    let kind = meta.file_type();
    if kind.is_dir() {
        sha256_dir(path)
    } else if kind.is_file() {
        sha256_file(path)
    } else {
        Err(unsupported(path, kind))
    }
}

/// Appends the regular files under `dir` to `files`, as `/`-separated paths
/// relative to the root; `prefix` is `dir` relative to the root.
fn collect_files(dir: &Path, prefix: &[u8], files: &mut Vec<Vec<u8>>) -> Result<(), StoreError> {
    let entries = fs::read_dir(dir).map_err(|e| StoreError::io("list", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io("list", dir, e))?;
        let path = entry.path();
        let kind = entry
            .file_type()
            .map_err(|e| StoreError::io("inspect", &path, e))?;
        let relative = join_relative(prefix, &entry.file_name());
        if kind.is_dir() {
            collect_files(&path, &relative, files)?;
        } else if kind.is_file() {
            files.push(relative);
        } else {
            return Err(unsupported(&path, kind));
        }
    }
    Ok(())
}

/// `prefix/name`, or `name` at the top.
fn join_relative(prefix: &[u8], name: &OsString) -> Vec<u8> {
    let mut joined = prefix.to_vec();
    if !joined.is_empty() {
        joined.push(b'/');
    }
    joined.extend_from_slice(name.as_bytes());
    joined
}

/// The error for a symlink or special file where a digest was asked.
fn unsupported(path: &Path, kind: fs::FileType) -> StoreError {
    let kind = if kind.is_symlink() {
        "symlink"
    } else {
        "special file"
    };
    StoreError::UnsupportedEntry {
        path: path.to_path_buf(),
        kind,
    }
}

/// Creates `temp` (which must not exist), writes `bytes` and fsyncs it.
fn write_and_sync(temp: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let mut file = File::options()
        .write(true)
        .create_new(true)
        .open(temp)
        .map_err(|e| StoreError::io("create", temp, e))?;
    file.write_all(bytes)
        .map_err(|e| StoreError::io("write", temp, e))?;
    file.sync_all().map_err(|e| StoreError::io("sync", temp, e))
}

/// Fsyncs a directory so that renames and creations in it are durable.
pub(super) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(|e| StoreError::io("sync directory", dir, e))
}

/// The directory holding `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// A hidden sibling of `path`, unique to this process and call.
fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .unwrap_or(path.as_os_str())
        .to_string_lossy();
    let mut nonce = [0u8; 4];
    // A failed fill keeps zeros: the pid still separates processes, and
    // `create_new` refuses rather than clobbering within one.
    let _ = getrandom::fill(&mut nonce);
    let temp = format!(".{name}.tmp-{}-{}", std::process::id(), hex::encode(nonce));
    parent_dir(path).join(temp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn write_tree(root: &Path, files: &[(&str, &str)]) {
        for (relative, content) in files {
            let path = root.join(relative);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, content).unwrap();
        }
    }

    #[test]
    fn atomic_write_replaces_content_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.json");
        write_atomic(&path, b"first").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        assert_eq!(names_in(dir.path()), ["run.json"]);
    }

    #[test]
    fn atomic_write_into_a_missing_directory_fails_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent").join("run.json");
        let err = write_atomic(&path, b"x").unwrap_err();
        assert!(err.to_string().contains("absent"), "{err}");
        assert!(names_in(dir.path()).is_empty());
    }

    #[test]
    fn file_and_byte_digests_agree_with_known_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fs::write(&path, "abc").unwrap();
        let expected = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(sha256_bytes(b"abc"), expected);
        assert_eq!(sha256_file(&path).unwrap(), expected);
        assert_eq!(sha256_path(&path).unwrap(), expected);
    }

    #[test]
    fn dir_digest_follows_the_documented_listing() {
        let dir = tempfile::tempdir().unwrap();
        write_tree(dir.path(), &[("b.txt", "abc"), ("a/x", "")]);
        let listing = format!(
            "{}  a/x\n{}  b.txt\n",
            hex::encode(Sha256::digest(b"")),
            hex::encode(Sha256::digest(b"abc")),
        );
        let expected = format!("sha256:{}", hex::encode(Sha256::digest(listing)));
        assert_eq!(sha256_dir(dir.path()).unwrap(), expected);
        assert_eq!(sha256_path(dir.path()).unwrap(), expected);
    }

    #[test]
    fn dir_digest_is_independent_of_creation_order() {
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        let files = [("z", "1"), ("a/b/c", "2"), ("a/d", "3"), ("m", "4")];
        write_tree(first.path(), &files);
        let mut reversed = files;
        reversed.reverse();
        write_tree(second.path(), &reversed);
        let digest = sha256_dir(first.path()).unwrap();
        assert_eq!(digest, sha256_dir(second.path()).unwrap());
        assert_eq!(digest, sha256_dir(first.path()).unwrap());
    }

    #[test]
    fn dir_digest_changes_when_a_byte_changes_or_a_file_is_renamed() {
        let dir = tempfile::tempdir().unwrap();
        write_tree(
            dir.path(),
            &[("a/report.json", "{\"ok\":true}"), ("b", "x")],
        );
        let original = sha256_dir(dir.path()).unwrap();

        fs::write(dir.path().join("a/report.json"), "{\"ok\":trUe}").unwrap();
        let changed = sha256_dir(dir.path()).unwrap();
        assert_ne!(changed, original);

        fs::write(dir.path().join("a/report.json"), "{\"ok\":true}").unwrap();
        assert_eq!(sha256_dir(dir.path()).unwrap(), original);
        fs::rename(dir.path().join("b"), dir.path().join("c")).unwrap();
        assert_ne!(sha256_dir(dir.path()).unwrap(), original);
    }

    #[test]
    fn empty_dir_has_the_digest_of_an_empty_listing() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(sha256_dir(dir.path()).unwrap(), sha256_bytes(b""));
    }

    #[test]
    fn dir_digest_refuses_a_symlink_inside_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        write_tree(dir.path(), &[("a/real", "x")]);
        symlink("real", dir.path().join("a/link")).unwrap();
        let err = sha256_dir(dir.path()).unwrap_err();
        assert!(matches!(
            err,
            StoreError::UnsupportedEntry {
                kind: "symlink",
                ..
            }
        ));
        assert!(err.to_string().contains("a/link"), "{err}");
    }

    #[test]
    fn path_digest_refuses_a_symlink_at_the_top() {
        let dir = tempfile::tempdir().unwrap();
        write_tree(dir.path(), &[("real/f", "x")]);
        let link = dir.path().join("link");
        symlink("real", &link).unwrap();
        let err = sha256_path(&link).unwrap_err();
        assert!(matches!(
            err,
            StoreError::UnsupportedEntry {
                kind: "symlink",
                ..
            }
        ));
    }

    #[test]
    fn dir_digest_refuses_a_special_file() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("sock");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let err = sha256_dir(dir.path()).unwrap_err();
        assert!(matches!(
            err,
            StoreError::UnsupportedEntry {
                kind: "special file",
                ..
            }
        ));
    }
}
