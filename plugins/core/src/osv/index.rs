//! Loading an OSV directory into one index by (ecosystem, package).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::range::{CompiledAffected, Match, VersionProbe};
use super::schema::{Advisory, Affected};
use super::version::Scheme;
use crate::package::Ecosystem;

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

/// Something in the data that could not be used, e.g. a version that does
/// not parse by its range's ordering; the part it concerns is left out of
/// matching.
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

/// One `affected` entry, compiled, and where it sits in its advisory.
#[derive(Debug, Clone)]
struct Entry {
    advisory: usize,
    affected: usize,
    compiled: CompiledAffected,
}

/// An advisory that affects a package at a version.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit<'a> {
    /// The advisory.
    pub advisory: &'a Advisory,
    /// Its first `affected` entry that matched the package.
    pub affected: &'a Affected,
    /// The first fixed version after the package's, as the advisory writes
    /// it, when the data says; the earliest if several entries match.
    pub fixed_in: Option<String>,
}

/// What matching one package found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Matches<'a> {
    /// The advisories affecting the package, each once, in load order.
    pub hits: Vec<Hit<'a>>,
    /// Advisories that could not be checked, because the package's version
    /// does not parse by the ordering their ranges use; one message each.
    pub problems: Vec<String>,
}

/// Advisories of every [`Ecosystem`], indexed by package.
///
/// Package names are compared as each ecosystem compares them: PyPI names
/// after PEP 503 normalisation (`Foo_Bar.baz` is `foo-bar-baz`), crates.io
/// and npm names and Go module paths exactly. Entries about ecosystems
/// outside [`Ecosystem`] are dropped.
#[derive(Debug, Clone, Default)]
pub struct AdvisoryIndex {
    advisories: Vec<Advisory>,
    by_package: BTreeMap<(Ecosystem, String), Vec<Entry>>,
    per_ecosystem: BTreeMap<Ecosystem, usize>,
    withdrawn: usize,
    withdrawn_per_ecosystem: BTreeMap<Ecosystem, usize>,
}

impl AdvisoryIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Loads every `*.json` file under `dir`, recursively and in name order.
    ///
    /// Symbolic links to directories are not followed, so a link cannot
    /// make the walk loop.
    ///
    /// # Errors
    ///
    /// [`OsvError`] when a directory or file cannot be read, or a file is not
    /// an OSV record.
    pub fn load_dir(dir: &Path) -> Result<Self, OsvError> {
        let mut index = Self::new();
        for file in super::dump::json_files(dir)? {
            index.insert(read_advisory(&file)?);
        }
        Ok(index)
    }

    /// Adds one advisory; a withdrawn one is only counted, and one that
    /// affects no package of a known ecosystem is dropped.
    pub fn insert(&mut self, advisory: Advisory) {
        let ecosystems = ecosystems_of(&advisory);
        if advisory.withdrawn.is_some() {
            self.withdrawn += 1;
            for ecosystem in ecosystems {
                *self.withdrawn_per_ecosystem.entry(ecosystem).or_default() += 1;
            }
            return;
        }
        if ecosystems.is_empty() {
            return;
        }
        let position = self.advisories.len();
        for (affected_position, affected) in advisory.affected.iter().enumerate() {
            let Some((ecosystem, name)) = package_of(affected) else {
                continue;
            };
            let entry = Entry {
                advisory: position,
                affected: affected_position,
                compiled: CompiledAffected::compile(affected, ecosystem),
            };
            self.by_package
                .entry((ecosystem, package_key(ecosystem, name)))
                .or_default()
                .push(entry);
        }
        for ecosystem in ecosystems {
            *self.per_ecosystem.entry(ecosystem).or_default() += 1;
        }
        self.advisories.push(advisory);
    }

    /// How many advisories were kept.
    pub fn len(&self) -> usize {
        self.advisories.len()
    }

    /// Whether no advisory was kept.
    pub fn is_empty(&self) -> bool {
        self.advisories.is_empty()
    }

    /// How many kept advisories affect a package of `ecosystem`.
    pub fn count(&self, ecosystem: Ecosystem) -> usize {
        self.per_ecosystem.get(&ecosystem).copied().unwrap_or(0)
    }

    /// How many withdrawn advisories were skipped.
    pub fn withdrawn(&self) -> usize {
        self.withdrawn
    }

    /// How many withdrawn advisories about `ecosystem` were skipped.
    pub fn withdrawn_in(&self, ecosystem: Ecosystem) -> usize {
        self.withdrawn_per_ecosystem
            .get(&ecosystem)
            .copied()
            .unwrap_or(0)
    }

    /// Every data problem found while compiling the advisories.
    pub fn problems(&self) -> Vec<DataProblem> {
        self.by_package
            .iter()
            .flat_map(|(key, entries)| self.problems_of(&key.1, entries))
            .collect()
    }

    /// The data problems of the advisories about package `name` of
    /// `ecosystem`.
    pub fn problems_for(&self, ecosystem: Ecosystem, name: &str) -> Vec<DataProblem> {
        self.problems_of(name, self.entries(ecosystem, name))
    }

    fn problems_of(&self, name: &str, entries: &[Entry]) -> Vec<DataProblem> {
        entries
            .iter()
            .flat_map(|entry| {
                entry.compiled.problems.iter().map(|message| DataProblem {
                    advisory: self.advisories[entry.advisory].id.clone(),
                    package: name.to_owned(),
                    message: message.clone(),
                })
            })
            .collect()
    }

    fn entries(&self, ecosystem: Ecosystem, name: &str) -> &[Entry] {
        self.by_package
            .get(&(ecosystem, package_key(ecosystem, name)))
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// The advisories affecting package `name` of `ecosystem` at `version`
    /// (as the lockfile writes it), each once with its earliest fix.
    pub fn matching(&self, ecosystem: Ecosystem, name: &str, version: &str) -> Matches<'_> {
        let mut matches = Matches::default();
        let mut probe = VersionProbe::new(version);
        let mut positions: Vec<usize> = Vec::new();
        for entry in self.entries(ecosystem, name) {
            let advisory = &self.advisories[entry.advisory];
            let found = match entry.compiled.matches(&mut probe) {
                Ok(Some(Match { fixed_in })) => fixed_in,
                Ok(None) => continue,
                Err(error) => {
                    matches.problems.push(format!(
                        "advisory `{}` not checked against `{name}@{version}`: {error}",
                        advisory.id
                    ));
                    continue;
                }
            };
            if let Some(known) = positions.iter().position(|&p| p == entry.advisory) {
                let hit = &mut matches.hits[known];
                hit.fixed_in = earliest(ecosystem, hit.fixed_in.take(), found);
                continue;
            }
            positions.push(entry.advisory);
            matches.hits.push(Hit {
                advisory,
                affected: &advisory.affected[entry.affected],
                fixed_in: found,
            });
        }
        matches
    }
}

/// The known ecosystems of an advisory's `affected` entries, each once.
fn ecosystems_of(advisory: &Advisory) -> Vec<Ecosystem> {
    let mut ecosystems: Vec<Ecosystem> = advisory
        .affected
        .iter()
        .filter_map(|affected| package_of(affected).map(|(ecosystem, _)| ecosystem))
        .collect();
    ecosystems.sort();
    ecosystems.dedup();
    ecosystems
}

fn package_of(affected: &Affected) -> Option<(Ecosystem, &str)> {
    let package = affected.package.as_ref()?;
    let ecosystem = Ecosystem::from_osv_name(&package.ecosystem)?;
    Some((ecosystem, &package.name))
}

/// The name by which `ecosystem` tells packages apart: PEP 503's normal
/// form for PyPI (lower case, each run of `-`, `_` and `.` one `-`), the
/// name itself elsewhere.
pub fn package_key(ecosystem: Ecosystem, name: &str) -> String {
    if ecosystem != Ecosystem::PyPi {
        return name.to_owned();
    }
    let mut key = String::with_capacity(name.len());
    let mut in_separator_run = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_separator_run {
                key.push('-');
            }
            in_separator_run = true;
        } else {
            key.extend(c.to_lowercase());
            in_separator_run = false;
        }
    }
    key
}

/// The earlier of two fixes by `ecosystem`'s ordering; when one does not
/// parse, the first known is kept.
fn earliest(ecosystem: Ecosystem, a: Option<String>, b: Option<String>) -> Option<String> {
    let (Some(a), Some(b)) = (&a, &b) else {
        return a.or(b);
    };
    let scheme = Scheme::of_ecosystem(ecosystem);
    match (scheme.parse(a), scheme.parse(b)) {
        (Ok(first), Ok(second)) if second < first => Some(b.clone()),
        _ => Some(a.clone()),
    }
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
