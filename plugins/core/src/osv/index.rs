//! Loading an OSV directory into an index by (ecosystem, package).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use semver::Version;

use super::range::{CompiledAffected, Match};
use super::schema::Advisory;

/// Why an OSV directory could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum OsvError {
    /// A directory could not be listed.
    #[error("failed to read OSV directory `{path}`")]
    ReadDir {
        /// The directory.
        path: PathBuf,
        /// What the file system said.
        #[source]
        error: std::io::Error,
    },
    /// An advisory file could not be read.
    #[error("failed to read advisory `{path}`")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// What the file system said.
        #[source]
        error: std::io::Error,
    },
    /// An advisory file is not an OSV record.
    #[error("failed to parse advisory `{path}`: {error}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The JSON error, with line and column.
        error: serde_json::Error,
    },
}

/// Something in the data that could not be used, e.g. a version that is not
/// SemVer; the part it concerns is left out of matching.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DataProblem {
    /// The advisory's id.
    pub advisory: String,
    /// The affected package's name.
    pub package: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for DataProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "advisory `{}`, package `{}`: {}",
            self.advisory, self.package, self.message
        )
    }
}

/// One `affected` entry, compiled, and the advisory it belongs to.
#[derive(Debug, Clone)]
struct Entry {
    advisory: usize,
    affected: CompiledAffected,
}

/// Advisories of one ecosystem, indexed by package name.
#[derive(Debug, Clone, Default)]
pub struct AdvisoryIndex {
    ecosystem: String,
    advisories: Vec<Advisory>,
    by_package: BTreeMap<String, Vec<Entry>>,
    withdrawn: usize,
}

impl AdvisoryIndex {
    /// An empty index for `ecosystem`, e.g. [`super::CRATES_IO`].
    pub fn new(ecosystem: &str) -> Self {
        Self {
            ecosystem: ecosystem.to_owned(),
            ..Self::default()
        }
    }

    /// Loads every `*.json` file under `dir`, recursively and in name order,
    /// keeping the advisories that affect a package of `ecosystem`.
    ///
    /// Symbolic links to directories are not followed, so a link cannot
    /// make the walk loop.
    ///
    /// # Errors
    ///
    /// [`OsvError`] when a directory or file cannot be read, or a file is not
    /// an OSV record.
    pub fn load_dir(dir: &Path, ecosystem: &str) -> Result<Self, OsvError> {
        let mut index = Self::new(ecosystem);
        let mut files = Vec::new();
        collect_json_files(dir, &mut files)?;
        for file in files {
            index.insert(read_advisory(&file)?);
        }
        Ok(index)
    }

    /// Adds one advisory; a withdrawn one is only counted, and one that
    /// affects no package of this index's ecosystem is dropped.
    pub fn insert(&mut self, advisory: Advisory) {
        if advisory.withdrawn.is_some() {
            self.withdrawn += 1;
            return;
        }
        let position = self.advisories.len();
        let semver_ecosystem = self.ecosystem == super::CRATES_IO;
        let mut kept = false;
        for affected in &advisory.affected {
            let Some(package) = &affected.package else {
                continue;
            };
            if package.ecosystem != self.ecosystem {
                continue;
            }
            let entry = Entry {
                advisory: position,
                affected: CompiledAffected::compile(affected, semver_ecosystem),
            };
            self.by_package
                .entry(package.name.clone())
                .or_default()
                .push(entry);
            kept = true;
        }
        if kept {
            self.advisories.push(advisory);
        }
    }

    /// The ecosystem this index holds.
    pub fn ecosystem(&self) -> &str {
        &self.ecosystem
    }

    /// How many advisories were kept.
    pub fn len(&self) -> usize {
        self.advisories.len()
    }

    /// Whether no advisory was kept.
    pub fn is_empty(&self) -> bool {
        self.advisories.is_empty()
    }

    /// How many withdrawn advisories were skipped.
    pub fn withdrawn(&self) -> usize {
        self.withdrawn
    }

    /// Every data problem found while compiling the advisories.
    pub fn problems(&self) -> Vec<DataProblem> {
        self.by_package
            .keys()
            .flat_map(|name| self.problems_for(name))
            .collect()
    }

    /// The data problems of the advisories about package `name`.
    pub fn problems_for(&self, name: &str) -> Vec<DataProblem> {
        let entries = self
            .by_package
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or_default();
        entries
            .iter()
            .flat_map(|entry| {
                entry.affected.problems.iter().map(|message| DataProblem {
                    advisory: self.advisories[entry.advisory].id.clone(),
                    package: name.to_owned(),
                    message: message.clone(),
                })
            })
            .collect()
    }

    /// The advisories affecting `name` at `version`, each with the first
    /// fixed version after it when the data says.
    ///
    /// An advisory with several matching `affected` entries is returned
    /// once, with its earliest fix.
    pub fn matching(&self, name: &str, version: &Version) -> Vec<(&Advisory, Option<Version>)> {
        let mut found: BTreeMap<usize, Option<Version>> = BTreeMap::new();
        let entries = self
            .by_package
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for entry in entries {
            let Some(Match { fixed_in }) = entry.affected.matches(version) else {
                continue;
            };
            found
                .entry(entry.advisory)
                .and_modify(|known| *known = earliest(known.take(), fixed_in.clone()))
                .or_insert(fixed_in);
        }
        found
            .into_iter()
            .map(|(position, fixed_in)| (&self.advisories[position], fixed_in))
            .collect()
    }
}

fn earliest(a: Option<Version>, b: Option<Version>) -> Option<Version> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b.cmp_precedence(&a).is_lt() { b } else { a }),
        (a, b) => a.or(b),
    }
}

fn collect_json_files(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), OsvError> {
    let read_error = |error| OsvError::ReadDir {
        path: dir.to_owned(),
        error,
    };
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_error)? {
        let entry = entry.map_err(read_error)?;
        entries.push((entry.path(), entry.file_type().map_err(read_error)?));
    }
    entries.sort_by(|(a, _), (b, _)| a.cmp(b));
    for (path, file_type) in entries {
        if file_type.is_dir() {
            collect_json_files(&path, files)?;
        } else if path.extension().is_some_and(|ext| ext == "json") {
            files.push(path);
        }
    }
    Ok(())
}

fn read_advisory(path: &Path) -> Result<Advisory, OsvError> {
    let bytes = std::fs::read(path).map_err(|error| OsvError::ReadFile {
        path: path.to_owned(),
        error,
    })?;
    serde_json::from_slice(&bytes).map_err(|error| OsvError::Parse {
        path: path.to_owned(),
        error,
    })
}

#[cfg(test)]
mod tests;
