//! Reading an OSV directory with the digest of every file.
//!
//! The same walk as [`super::AdvisoryIndex::load_dir`]: every `*.json`
//! under the directory, recursively, in name order, symbolic links to
//! directories not followed. Each file is hashed as it is read, so the
//! database's digest covers exactly the bytes that were matched against.

use std::path::{Path, PathBuf};

use super::database::{DatabaseInfo, LoadedDatabase, ManifestEntry, SourceKind};
use super::index::{AdvisoryIndex, OsvError};

/// Reads every advisory under `dir`, whatever its ecosystem, and names the
/// data by digest and snapshot date.
///
/// # Errors
///
/// [`OsvError`] when a directory or file cannot be read, or a file is not
/// an OSV record.
pub fn read_dir(dir: &Path) -> Result<LoadedDatabase, OsvError> {
    let files = json_files(dir)?;
    let mut entries = Vec::with_capacity(files.len());
    for file in files {
        let bytes = std::fs::read(&file).map_err(|error| OsvError::ReadFile {
            path: file.clone(),
            error,
        })?;
        let advisory = serde_json::from_slice(&bytes).map_err(|error| OsvError::Parse {
            path: file.clone(),
            error,
        })?;
        entries.push(ManifestEntry::new(
            relative_name(dir, &file),
            &bytes,
            advisory,
        ));
    }
    Ok(LoadedDatabase::from_entries(
        SourceKind::Dir,
        &dir.display().to_string(),
        entries,
    ))
}

impl LoadedDatabase {
    /// Indexes this data's advisories of every ecosystem, keeping what
    /// names the data and its problems.
    pub fn into_index(self) -> (AdvisoryIndex, DatabaseInfo, Vec<String>) {
        let mut index = AdvisoryIndex::new();
        for advisory in self.advisories {
            index.insert(advisory);
        }
        (index, self.info, self.problems)
    }
}

/// `file`'s path under `dir`, with `/` between parts on every platform.
pub(crate) fn relative_name(dir: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(dir).unwrap_or(file);
    let parts: Vec<_> = relative
        .components()
        .map(|part| part.as_os_str().to_string_lossy())
        .collect();
    parts.join("/")
}

/// Calls `found` with every `*.json` file under `dir`, recursively, in
/// name order, and its directory entry; symbolic links to directories are
/// not followed, so a link cannot make the walk loop.
pub(crate) fn walk(
    dir: &Path,
    found: &mut dyn FnMut(PathBuf, &std::fs::DirEntry) -> Result<(), OsvError>,
) -> Result<(), OsvError> {
    let read_error = |error| OsvError::ReadDir {
        path: dir.to_owned(),
        error,
    };
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_error)? {
        let entry = entry.map_err(read_error)?;
        let is_dir = entry.file_type().map_err(read_error)?.is_dir();
        entries.push((entry.path(), is_dir, entry));
    }
    entries.sort_by(|(a, ..), (b, ..)| a.cmp(b));
    for (path, is_dir, entry) in entries {
        if is_dir {
            walk(&path, found)?;
        } else if is_advisory_file(&path) {
            found(path, &entry)?;
        }
    }
    Ok(())
}

/// Whether [`walk`] takes a file so named for an advisory: its name ends
/// in `.json` (a name that is only `.json` does not).
pub fn is_advisory_file(name: &Path) -> bool {
    name.extension().is_some_and(|ext| ext == "json")
}

/// Every `*.json` file under `dir`, as [`walk`] finds them.
pub(crate) fn json_files(dir: &Path) -> Result<Vec<PathBuf>, OsvError> {
    let mut files = Vec::new();
    walk(dir, &mut |path, _| {
        files.push(path);
        Ok(())
    })?;
    Ok(files)
}

#[cfg(test)]
mod tests {
    use sha2::Digest as _;

    use super::*;
    use crate::package::Ecosystem;

    const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../pipelines/data/osv");

    #[test]
    fn the_demo_directory_is_named_by_digest_and_newest_modified() {
        let loaded = read_dir(Path::new(FIXTURE)).unwrap();
        assert_eq!(loaded.info.source, SourceKind::Dir);
        assert_eq!(loaded.info.advisories, 7);
        assert_eq!(
            loaded.info.snapshot.as_deref(),
            Some("2026-02-06T09:12:16Z")
        );
        assert!(loaded.info.digest.starts_with("sha256:"));
        assert_eq!(loaded.info.digest.len(), "sha256:".len() + 64);
        assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
        let (index, _, _) = loaded.into_index();
        assert_eq!(index.len(), 6, "one is withdrawn");
        assert_eq!(index.count(Ecosystem::CratesIo), 5);
        assert_eq!(index.count(Ecosystem::PyPi), 1);
    }

    #[test]
    fn the_digest_is_that_of_a_sha256sum_manifest() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("x")).unwrap();
        let record = br#"{"id": "A-1", "modified": "2026-01-02T03:04:05Z"}"#;
        std::fs::write(dir.path().join("x/A-1.json"), record).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not an advisory").unwrap();
        let loaded = read_dir(dir.path()).unwrap();

        let manifest = format!(
            "{}  x/A-1.json\n",
            hex::encode(sha2::Sha256::digest(record))
        );
        let expected = hex::encode(sha2::Sha256::digest(manifest.as_bytes()));
        assert_eq!(loaded.info.digest, format!("sha256:{expected}"));
        assert_eq!(loaded.info.advisories, 1);

        // One changed byte changes the digest.
        let changed = br#"{"id": "A-1", "modified": "2026-01-02T03:04:06Z"}"#;
        std::fs::write(dir.path().join("x/A-1.json"), changed).unwrap();
        assert_ne!(
            read_dir(dir.path()).unwrap().info.digest,
            loaded.info.digest
        );
    }

    #[test]
    fn an_unparsable_modified_is_reported_and_left_out_of_the_date() {
        let dir = tempfile::tempdir().unwrap();
        let good = r#"{"id": "A-1", "modified": "2026-01-02T03:04:05Z"}"#;
        let bad = r#"{"id": "B-2", "modified": "yesterday"}"#;
        std::fs::write(dir.path().join("A-1.json"), good).unwrap();
        std::fs::write(dir.path().join("B-2.json"), bad).unwrap();
        let loaded = read_dir(dir.path()).unwrap();
        assert_eq!(
            loaded.info.snapshot.as_deref(),
            Some("2026-01-02T03:04:05Z")
        );
        assert_eq!(loaded.problems.len(), 1);
        assert!(
            loaded.problems[0].starts_with("advisory `B-2`"),
            "{:?}",
            loaded.problems
        );
    }

    #[test]
    fn a_missing_directory_is_named() {
        let error = read_dir(Path::new("/nonexistent/osv")).unwrap_err();
        assert!(error.to_string().contains("`/nonexistent/osv`"), "{error}");
    }
}
