//! An index of an OSV directory, kept between scans.
//!
//! Reading a directory of thousands of advisories costs a file open, a
//! hash and a parse per advisory; the data changes at most daily. With a
//! cache directory, the scan keeps what it parsed in one file,
//! `osv-index-<key>.json`, and later scans of the same data read that file
//! instead.
//!
//! The key is the SHA-256 of every advisory file's relative name, size and
//! modification time, in the order [`super::read_dir`] reads them: the
//! question a build tool asks before it trusts an earlier result, answered
//! without reading the advisories. A file changed in place without a new
//! size or time goes unnoticed, as it would by `make`; a new dump, written
//! as dumps are, gets a new key. [`stamps`] lists them with `std::fs`; a
//! caller with a cheaper way to list a directory (a WebAssembly stage,
//! where each `std::fs` metadata call costs several host calls) passes its
//! own to [`load_dir_cached_with`], and must list the same [`Stamp`]s.
//!
//! The index file carries the database's [`DatabaseInfo`] as computed when
//! it was built (the digest of every advisory's bytes, the snapshot date),
//! the problems found then, and the advisories in the schema's own form,
//! keeping only the fields the scan reads and, of their references, only
//! the one a finding links to ([`Advisory::trim`]); a load through the
//! cache gives advisories so trimmed whether it read the index or the
//! directory. The key is in the file's name,
//! not in its bytes, which are a function of the advisory data alone: an
//! auditor can rebuild the index from any copy of the directory and compare
//! digests. The scan records the digest of the index file it used in
//! [`DatabaseInfo::index`].
//!
//! Whoever may write the cache directory decides what a later scan
//! matches against: grant it to the scan stage alone.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::database::{DatabaseInfo, IndexInfo, LoadedDatabase};
pub use super::dump::is_advisory_file;
use super::dump::{read_dir, relative_name, walk};
use super::index::OsvError;
use super::schema::Advisory;

/// What names the layout of an index file; a file of another format is
/// rebuilt.
pub const FORMAT: &str = "gantry-osv-index/2";

/// The file name prefix of index files.
const PREFIX: &str = "osv-index-";

/// One index file, as read.
#[derive(Debug, Deserialize)]
struct IndexFile {
    format: String,
    database: DatabaseInfo,
    problems: Vec<String>,
    advisories: Vec<Advisory>,
}

/// One index file, as written: the same fields, borrowed.
#[derive(Serialize)]
struct IndexFileOut<'a> {
    format: &'a str,
    database: &'a DatabaseInfo,
    problems: &'a [String],
    advisories: &'a [Advisory],
}

/// An OSV directory's advisories, through the cache when it holds them.
#[derive(Debug)]
pub struct CachedLoad {
    /// The advisories and what names them; `info.index` says which index
    /// file was used or written.
    pub loaded: LoadedDatabase,
    /// What went wrong with the cache, one message each: an index file that
    /// could not be read or written. The advisories were read from the
    /// directory then; none of these makes the scan wrong.
    pub cache_problems: Vec<String>,
}

/// Loads the advisories under `db`, from the index in `cache` when one
/// matches the directory, and otherwise from the directory, writing the
/// index for next time. `nonce` makes the temporary file's name unique
/// (the run id serves).
///
/// # Errors
///
/// [`OsvError`] when the directory or an advisory cannot be read or
/// parsed; never for the cache, whose troubles are in
/// [`CachedLoad::cache_problems`].
pub fn load_dir_cached(db: &Path, cache: &Path, nonce: &str) -> Result<CachedLoad, OsvError> {
    load_dir_cached_with(db, cache, nonce, stamps)
}

/// [`load_dir_cached`], with the advisory files' stamps listed by
/// `list`, which must give what [`stamps`] gives.
///
/// # Errors
///
/// As [`load_dir_cached`], and whatever `list` returns.
pub fn load_dir_cached_with(
    db: &Path,
    cache: &Path,
    nonce: &str,
    list: fn(&Path) -> Result<Vec<Stamp>, OsvError>,
) -> Result<CachedLoad, OsvError> {
    let key = key_of(&list(db)?);
    let file = cache.join(format!("{PREFIX}{key}.json"));
    let mut cache_problems = Vec::new();
    match read_index(&file) {
        Ok(Some((mut loaded, digest))) => {
            loaded.info.location = db.display().to_string();
            loaded.info.index = Some(IndexInfo {
                file: file.display().to_string(),
                digest,
                reused: true,
            });
            return Ok(CachedLoad {
                loaded,
                cache_problems,
            });
        }
        Ok(None) => {}
        Err(problem) => cache_problems.push(problem),
    }
    let mut loaded = read_dir(db)?;
    loaded.advisories.iter_mut().for_each(Advisory::trim);
    match write_index(&file, &loaded, nonce) {
        Ok(digest) => {
            loaded.info.index = Some(IndexInfo {
                file: file.display().to_string(),
                digest,
                reused: false,
            });
            remove_stale(cache, &file, &mut cache_problems);
        }
        Err(problem) => cache_problems.push(problem),
    }
    Ok(CachedLoad {
        loaded,
        cache_problems,
    })
}

/// One advisory file as the key sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// Its path under the directory, parts joined by `/`.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its modification time in nanoseconds since the Unix epoch; 0 when
    /// the file system keeps none.
    pub modified: u128,
}

/// `sha256:<hex>` of every advisory file's name, size and modification
/// time, one line each, in the order [`super::read_dir`] reads them.
///
/// # Errors
///
/// [`OsvError`] when the directory or a file's metadata cannot be read.
pub fn directory_key(db: &Path) -> Result<String, OsvError> {
    Ok(key_of(&stamps(db)?))
}

/// The key of a directory whose advisory files are `stamps`, in order.
pub fn key_of(stamps: &[Stamp]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(FORMAT.as_bytes());
    hasher.update(b"\n");
    let mut line = String::new();
    for stamp in stamps {
        line.clear();
        // Writing to a `String` cannot fail.
        let _ = writeln!(line, "{}\t{}\t{}", stamp.name, stamp.size, stamp.modified);
        hasher.update(line.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// The [`Stamp`] of every advisory file under `db`, in the order
/// [`super::read_dir`] reads them. A symbolic link is stamped with its
/// target's size and time, which is what reading it reads.
///
/// # Errors
///
/// [`OsvError`] when the directory or a file's metadata cannot be read.
pub fn stamps(db: &Path) -> Result<Vec<Stamp>, OsvError> {
    let mut stamps = Vec::new();
    walk(db, &mut |path, entry| {
        let read_error = |error| OsvError::ReadFile {
            path: path.clone(),
            error,
        };
        let mut metadata = entry.metadata().map_err(read_error)?;
        if metadata.is_symlink() {
            metadata = std::fs::metadata(&path).map_err(read_error)?;
        }
        let modified = metadata
            .modified()
            .ok()
            .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |since| since.as_nanos());
        stamps.push(Stamp {
            name: relative_name(db, &path),
            size: metadata.len(),
            modified,
        });
        Ok(())
    })?;
    Ok(stamps)
}

/// The index in `file` and its digest, when it is there; `Ok(None)` when
/// there is none; a message when it is there but cannot be used.
fn read_index(file: &Path) -> Result<Option<(LoadedDatabase, String)>, String> {
    let bytes = match std::fs::read(file) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(format!(
                "index `{}` could not be read ({error}); read the directory instead",
                file.display()
            ));
        }
    };
    let unusable = |why: String| {
        format!(
            "index `{}` {why}; read the directory instead",
            file.display()
        )
    };
    let index: IndexFile = serde_json::from_slice(&bytes)
        .map_err(|error| unusable(format!("is not an index ({error})")))?;
    if index.format != FORMAT {
        return Err(unusable(format!(
            "has format `{}`, not `{FORMAT}`",
            index.format
        )));
    }
    if index.database.advisories != index.advisories.len() {
        return Err(unusable(format!(
            "says it holds {} advisories but holds {}",
            index.database.advisories,
            index.advisories.len()
        )));
    }
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
    let loaded = LoadedDatabase {
        advisories: index.advisories,
        info: DatabaseInfo {
            index: None,
            ..index.database
        },
        problems: index.problems,
    };
    Ok(Some((loaded, digest)))
}

/// Writes the index of `loaded` to `file` through a temporary file in the
/// same directory, renamed into place; returns its digest.
fn write_index(file: &Path, loaded: &LoadedDatabase, nonce: &str) -> Result<String, String> {
    // Where the directory was mounted is no part of the data.
    let database = DatabaseInfo {
        location: String::new(),
        index: None,
        ..loaded.info.clone()
    };
    let index = IndexFileOut {
        format: FORMAT,
        database: &database,
        problems: &loaded.problems,
        advisories: &loaded.advisories,
    };
    let bytes = serde_json::to_vec(&index).map_err(|error| error.to_string())?;
    let temporary = temporary_name(file, nonce);
    let written = std::fs::File::create(&temporary)
        .and_then(|mut out| out.write_all(&bytes).and_then(|()| out.sync_all()))
        .and_then(|()| std::fs::rename(&temporary, file));
    if let Err(error) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(format!(
            "index `{}` could not be written ({error}); the next scan reads the \
             directory again\n  hint: grant the stage write access to the cache \
             directory",
            file.display()
        ));
    }
    Ok(format!("sha256:{}", hex::encode(Sha256::digest(&bytes))))
}

fn temporary_name(file: &Path, nonce: &str) -> PathBuf {
    let name = file.file_name().unwrap_or_default().to_string_lossy();
    let nonce: String = nonce
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    file.with_file_name(format!(".{name}.{nonce}.tmp"))
}

/// Removes the other index files in `cache`: they index data no longer
/// there.
fn remove_stale(cache: &Path, current: &Path, problems: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(cache) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let stale = path != current && name.starts_with(PREFIX) && name.ends_with(".json");
        if !stale {
            continue;
        }
        if let Err(error) = std::fs::remove_file(&path) {
            problems.push(format!(
                "old index `{}` could not be removed ({error})",
                path.display()
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::dump::json_files;
    use super::*;

    const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../pipelines/data/osv");

    fn copy_fixture(to: &Path) {
        for file in json_files(Path::new(FIXTURE)).unwrap() {
            let target = to.join(file.strip_prefix(FIXTURE).unwrap());
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::copy(&file, target).unwrap();
        }
    }

    /// A scratch directory holding a copy of the demo data at `osv` and an
    /// empty `cache`.
    fn scratch() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let work = tempfile::tempdir().unwrap();
        let (db, cache) = (work.path().join("osv"), work.path().join("cache"));
        copy_fixture(&db);
        std::fs::create_dir(&cache).unwrap();
        (work, db, cache)
    }

    fn index_files(cache: &Path) -> Vec<String> {
        let mut names: Vec<_> = std::fs::read_dir(cache)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn the_second_load_reads_the_index_and_gives_the_same_advisories() {
        let (_work, db, cache) = scratch();

        let built = load_dir_cached(&db, &cache, "run-1").unwrap();
        assert!(
            built.cache_problems.is_empty(),
            "{:?}",
            built.cache_problems
        );
        let built_index = built.loaded.info.index.clone().unwrap();
        assert!(!built_index.reused);
        assert_eq!(index_files(&cache).len(), 1, "no temporary file is left");

        let reused = load_dir_cached(&db, &cache, "run-2").unwrap();
        assert!(
            reused.cache_problems.is_empty(),
            "{:?}",
            reused.cache_problems
        );
        let reused_index = reused.loaded.info.index.clone().unwrap();
        assert!(reused_index.reused);
        assert_eq!(reused_index.digest, built_index.digest);

        // Exactly what reading the directory gives, trimmed, and named the
        // same.
        let mut direct = read_dir(&db).unwrap();
        assert_ne!(reused.loaded.advisories, direct.advisories);
        direct.advisories.iter_mut().for_each(Advisory::trim);
        assert_eq!(reused.loaded.advisories, direct.advisories);
        assert_eq!(built.loaded.advisories, direct.advisories);
        assert_eq!(reused.loaded.problems, direct.problems);
        assert_eq!(reused.loaded.info.digest, direct.info.digest);
        assert_eq!(reused.loaded.info.snapshot, direct.info.snapshot);
        assert_eq!(reused.loaded.info.advisories, direct.info.advisories);

        // The index digest is that of the file's bytes.
        let bytes = std::fs::read(&reused_index.file).unwrap();
        assert_eq!(
            reused_index.digest,
            format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
        );
    }

    #[test]
    fn changed_data_is_read_again_and_replaces_the_old_index() {
        let (_work, db, cache) = scratch();
        let first = load_dir_cached(&db, &cache, "run-1").unwrap();
        let first_files = index_files(&cache);

        // A new advisory: new key, new digest, new index; the old one goes.
        let added = r#"{"id": "RUSTSEC-2099-0001", "modified": "2026-01-01T00:00:00Z",
            "affected": [{"package": {"ecosystem": "crates.io", "name": "zzz"},
            "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}]}]}"#;
        std::fs::write(db.join("crates.io/RUSTSEC-2099-0001.json"), added).unwrap();
        let second = load_dir_cached(&db, &cache, "run-2").unwrap();
        assert!(!second.loaded.info.index.as_ref().unwrap().reused);
        assert_ne!(second.loaded.info.digest, first.loaded.info.digest);
        assert_eq!(
            second.loaded.info.advisories,
            first.loaded.info.advisories + 1
        );
        let second_files = index_files(&cache);
        assert_eq!(second_files.len(), 1);
        assert_ne!(second_files, first_files);

        // A file rewritten with a new size is noticed too.
        std::fs::write(
            db.join("crates.io/RUSTSEC-2099-0001.json"),
            added.replace("zzz", "zzzz"),
        )
        .unwrap();
        let third = load_dir_cached(&db, &cache, "run-3").unwrap();
        assert!(!third.loaded.info.index.as_ref().unwrap().reused);
        assert_ne!(third.loaded.info.digest, second.loaded.info.digest);
    }

    #[test]
    fn a_linked_advisory_is_keyed_by_its_target() {
        let work = tempfile::tempdir().unwrap();
        let db = work.path().join("osv");
        std::fs::create_dir(&db).unwrap();
        let target = work.path().join("A-1.json");
        std::fs::write(&target, r#"{"id": "A-1"}"#).unwrap();
        std::os::unix::fs::symlink(&target, db.join("A-1.json")).unwrap();
        let before = directory_key(&db).unwrap();
        std::fs::write(&target, r#"{"id": "A-1", "aliases": ["B-1"]}"#).unwrap();
        assert_ne!(directory_key(&db).unwrap(), before);
    }

    #[test]
    fn a_damaged_or_foreign_index_is_reported_and_the_directory_read() {
        let (_work, db, cache) = scratch();
        let built = load_dir_cached(&db, &cache, "run-1").unwrap();
        let file = PathBuf::from(&built.loaded.info.index.as_ref().unwrap().file);
        let good = std::fs::read_to_string(&file).unwrap();

        let damaged = [
            ("{\"format\": ".to_owned(), "is not an index"),
            (
                good.replacen(FORMAT, "gantry-osv-index/0", 1),
                "has format `gantry-osv-index/0`",
            ),
            (
                good.replacen("\"advisories\":7", "\"advisories\":8", 1),
                "says it holds 8 advisories but holds 7",
            ),
        ];
        for (text, expected) in damaged {
            std::fs::write(&file, &text).unwrap();
            let again = load_dir_cached(&db, &cache, "run-2").unwrap();
            let problems = again.cache_problems.join("\n");
            assert!(problems.contains(expected), "{expected}: {problems}");
            assert!(
                problems.contains("read the directory instead"),
                "{problems}"
            );
            assert_eq!(again.loaded.info.digest, built.loaded.info.digest);
            assert_eq!(again.loaded.advisories, built.loaded.advisories);
            // The index was written afresh.
            assert!(!again.loaded.info.index.as_ref().unwrap().reused);
            assert_eq!(std::fs::read_to_string(&file).unwrap(), good);
        }
    }

    #[test]
    fn an_unwritable_cache_is_reported_and_the_scan_goes_on() {
        let work = tempfile::tempdir().unwrap();
        let db = work.path().join("osv");
        copy_fixture(&db);
        let missing = work.path().join("no-such-dir");
        let loaded = load_dir_cached(&db, &missing, "run-1").unwrap();
        assert!(loaded.loaded.info.index.is_none());
        let problems = loaded.cache_problems.join("\n");
        assert!(problems.contains("could not be written"), "{problems}");
        assert!(
            problems.contains("hint: grant the stage write access"),
            "{problems}"
        );
        assert_eq!(
            loaded.loaded.info.digest,
            read_dir(&db).unwrap().info.digest
        );
    }

    #[test]
    fn the_index_is_a_function_of_the_data() {
        // Two copies of the data, made apart: other times, other keys, the
        // same index bytes.
        let work = tempfile::tempdir().unwrap();
        let (one, two) = (work.path().join("one"), work.path().join("two"));
        copy_fixture(&one);
        std::thread::sleep(std::time::Duration::from_millis(20));
        copy_fixture(&two);
        assert_ne!(directory_key(&one).unwrap(), directory_key(&two).unwrap());
        let cache = work.path().join("cache");
        std::fs::create_dir(&cache).unwrap();
        let a = load_dir_cached(&one, &cache, "a")
            .unwrap()
            .loaded
            .info
            .index
            .unwrap();
        let b = load_dir_cached(&two, &cache, "b")
            .unwrap()
            .loaded
            .info
            .index
            .unwrap();
        assert_ne!(a.file, b.file);
        assert_eq!(a.digest, b.digest);
    }
}
