//! Cargo lockfiles: the packages a build resolved and the edges between them.
//!
//! [`Lockfile::parse_cargo_lock`] reads every `Cargo.lock` format Cargo has
//! written (versions 1 to 4). Each `[[package]]` becomes a
//! [`LockedPackage`] whose [`PackageSource`] says where it came from, and
//! each entry of its `dependencies` list is resolved to the package it names,
//! so the dependency graph is explicit.
//!
//! Version 1 files name dependencies in full (`name version (source)`) and
//! keep checksums in a `[metadata]` table; later versions name a dependency
//! only as precisely as needed to tell it apart (`name`, or `name version`)
//! and keep checksums inline. Both are resolved the same way here.
//!
//! [`Lockfile::to_inventory`] gives the packages in the form every other
//! lockfile reader gives them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::LockfileError;
use crate::package::{Ecosystem, Inventory, Origin, Package};

/// The `source` Cargo writes for crates.io.
pub const CRATES_IO_SOURCE: &str = "registry+https://github.com/rust-lang/crates.io-index";

/// The sparse protocol's name for crates.io, which Cargo may also write.
const CRATES_IO_SPARSE_SOURCE: &str = "sparse+https://index.crates.io/";

/// The newest format version this module understands.
const NEWEST_FORMAT: u32 = 4;

/// Where a locked package comes from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PackageSource {
    /// The crates.io registry.
    CratesIo,
    /// Another registry, by its index URL as Cargo's configuration writes it
    /// (`https://…` for a git index, `sparse+https://…` for a sparse one).
    Registry {
        /// The index URL.
        index: String,
    },
    /// A git repository at a locked commit.
    Git {
        /// The repository URL, without query or fragment.
        url: String,
        /// The branch, tag or rev the manifest asked for, if any, as
        /// `branch=main`, `tag=v1` or `rev=abc`.
        reference: Option<String>,
        /// The commit Cargo locked.
        commit: String,
    },
    /// A workspace member or a path dependency: no `source` in the lockfile,
    /// so not a published package.
    Local,
}

impl PackageSource {
    /// Reads a lockfile `source` string; `None` is a local package.
    fn parse(source: Option<&str>) -> Result<Self, &'static str> {
        let Some(source) = source else {
            return Ok(Self::Local);
        };
        if source == CRATES_IO_SOURCE || source == CRATES_IO_SPARSE_SOURCE {
            return Ok(Self::CratesIo);
        }
        if let Some(index) = source.strip_prefix("registry+") {
            return Ok(Self::Registry {
                index: index.to_owned(),
            });
        }
        if source.starts_with("sparse+") {
            return Ok(Self::Registry {
                index: source.to_owned(),
            });
        }
        match source.strip_prefix("git+") {
            Some(git) => parse_git_source(git),
            None => Err("expected a registry, sparse or git source"),
        }
    }

    /// A short word for the kind of source: `crates.io`, `registry`, `git`
    /// or `local`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::CratesIo => "crates.io",
            Self::Registry { .. } => "registry",
            Self::Git { .. } => "git",
            Self::Local => "local",
        }
    }
}

/// Splits `url?kind=name#commit` into its parts.
fn parse_git_source(git: &str) -> Result<PackageSource, &'static str> {
    let Some((location, commit)) = git.split_once('#') else {
        return Err("a git source must end with `#<commit>`");
    };
    if commit.is_empty() {
        return Err("a git source must end with `#<commit>`");
    }
    let (url, reference) = match location.split_once('?') {
        Some((url, query)) => (url, Some(query.to_owned())),
        None => (location, None),
    };
    Ok(PackageSource::Git {
        url: url.to_owned(),
        reference,
        commit: commit.to_owned(),
    })
}

/// One `[[package]]` of a lockfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedPackage {
    /// The crate's name.
    pub name: String,
    /// The locked version.
    pub version: semver::Version,
    /// Where the package comes from.
    pub source: PackageSource,
    /// The sha256 of the `.crate` file, hex, for registry packages.
    pub checksum: Option<String>,
    /// The packages this one depends on, as indices into
    /// [`Lockfile::packages`], sorted and without repeats.
    pub dependencies: Vec<usize>,
}

impl LockedPackage {
    /// Whether the package is a workspace member or path dependency.
    pub fn is_local(&self) -> bool {
        self.source == PackageSource::Local
    }
}

impl LockedPackage {
    /// The package in the form every lockfile reader gives it.
    pub fn to_package(&self) -> Package {
        let origin = match &self.source {
            PackageSource::CratesIo => Origin::Registry,
            PackageSource::Registry { index } => Origin::OtherRegistry { url: index.clone() },
            PackageSource::Git { url, commit, .. } => Origin::Vcs {
                url: url.clone(),
                commit: Some(commit.clone()),
            },
            PackageSource::Local => Origin::Local { path: None },
        };
        Package {
            origin,
            hashes: self
                .checksum
                .iter()
                .map(|checksum| format!("sha256:{checksum}"))
                .collect(),
            dependencies: self.dependencies.clone(),
            ..Package::new(Ecosystem::CratesIo, &self.name, self.version.to_string())
        }
    }
}

impl fmt::Display for LockedPackage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.version)
    }
}

/// A parsed Cargo lockfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lockfile {
    /// The path the lockfile was read from, as given; used in messages.
    pub path: String,
    /// The format version: the `version` key, or 1 or 2 when absent.
    pub format_version: u32,
    /// The sha256 of the file's bytes.
    pub digest: [u8; 32],
    /// Every package, in the order of the file (Cargo sorts it).
    pub packages: Vec<LockedPackage>,
}

impl Lockfile {
    /// Reads and parses the `Cargo.lock` at `path`.
    ///
    /// # Errors
    ///
    /// [`LockfileError::Read`] when the file cannot be read, or any error of
    /// [`Lockfile::parse_cargo_lock`].
    pub fn read_cargo_lock(path: &Path) -> Result<Self, LockfileError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| LockfileError::Read {
            path: shown.clone(),
            error,
        })?;
        Self::parse_cargo_lock(&shown, &text)
    }

    /// Parses the text of a `Cargo.lock`; `path` only names it in errors.
    ///
    /// # Errors
    ///
    /// [`LockfileError`] when the text is not TOML, declares a format newer
    /// than version 4, or has a package with an invalid version or source,
    /// a package listed twice, or a dependency that names no package or
    /// several.
    pub fn parse_cargo_lock(path: &str, text: &str) -> Result<Self, LockfileError> {
        let raw: RawLockfile = toml::from_str(text).map_err(|error| LockfileError::Syntax {
            path: path.to_owned(),
            error: Box::new(error),
        })?;
        let format_version = raw.format_version(path)?;
        let parser = Parser { path };
        let packages = parser.packages(&raw)?;
        Ok(Self {
            path: path.to_owned(),
            format_version,
            digest: Sha256::digest(text.as_bytes()).into(),
            packages,
        })
    }

    /// The packages in the form every lockfile reader gives them: crates.io
    /// packages from the registry, other registries and git sources with
    /// their URLs, workspace members and path dependencies local, and the
    /// roots and dependency graph kept.
    pub fn to_inventory(&self) -> Inventory {
        Inventory {
            path: self.path.clone(),
            format: format!("Cargo.lock v{}", self.format_version),
            digest: self.digest,
            packages: self
                .packages
                .iter()
                .map(LockedPackage::to_package)
                .collect(),
            roots: self.roots(),
            has_graph: true,
            warnings: Vec::new(),
        }
    }

    /// The packages nothing else in the lockfile depends on, as indices.
    ///
    /// These are the workspace's top-level crates. When some are local, only
    /// the local ones are returned: a registry package that nothing uses is a
    /// leftover, not the application.
    pub fn roots(&self) -> Vec<usize> {
        let depended_on: BTreeSet<usize> = self
            .packages
            .iter()
            .flat_map(|package| package.dependencies.iter().copied())
            .collect();
        let unused: Vec<usize> = (0..self.packages.len())
            .filter(|index| !depended_on.contains(index))
            .collect();
        let local: Vec<usize> = unused
            .iter()
            .copied()
            .filter(|&index| self.packages[index].is_local())
            .collect();
        if local.is_empty() { unused } else { local }
    }
}

/// The lockfile as TOML, before any checking.
///
/// Unknown keys are ignored, as Cargo itself does: the format belongs to
/// Cargo, and refusing a key a newer Cargo adds would fail every scan of an
/// otherwise readable file.
#[derive(Deserialize)]
struct RawLockfile {
    version: Option<u32>,
    #[serde(default)]
    package: Vec<RawPackage>,
    /// Early version 1 files keep the root package apart from the others.
    root: Option<RawPackage>,
    /// Version 1 checksums: `"checksum name version (source)" = "hex"`.
    #[serde(default)]
    metadata: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct RawPackage {
    name: String,
    version: String,
    source: Option<String>,
    checksum: Option<String>,
    #[serde(default)]
    dependencies: Vec<String>,
}

impl RawLockfile {
    fn format_version(&self, path: &str) -> Result<u32, LockfileError> {
        match self.version {
            Some(version) if version > NEWEST_FORMAT => Err(LockfileError::UnsupportedFormat {
                path: path.to_owned(),
                version,
            }),
            Some(version) => Ok(version),
            None if self.is_version_1() => Ok(1),
            None => Ok(2),
        }
    }

    /// Version 1 keeps checksums in `[metadata]` and writes dependencies
    /// with their source; version 2 does neither.
    fn is_version_1(&self) -> bool {
        !self.metadata.is_empty()
            || self
                .all_packages()
                .any(|package| package.dependencies.iter().any(|dep| dep.contains(" (")))
    }

    fn all_packages(&self) -> impl Iterator<Item = &RawPackage> {
        self.root.iter().chain(&self.package)
    }
}

/// Package indices by `(name, None)` and by `(name, Some(version))`.
type Named<'a> = BTreeMap<(&'a str, Option<&'a str>), Vec<usize>>;

/// Turns raw packages into checked ones; holds the path for messages.
struct Parser<'a> {
    path: &'a str,
}

impl Parser<'_> {
    fn packages(&self, raw: &RawLockfile) -> Result<Vec<LockedPackage>, LockfileError> {
        let mut packages = Vec::new();
        for package in raw.all_packages() {
            packages.push(self.package(package, &raw.metadata)?);
        }
        self.reject_duplicates(raw)?;
        // Each package under its name alone and under name and version,
        // the two ways a dependency may name it.
        let mut by_name: Named = BTreeMap::new();
        for (index, package) in raw.all_packages().enumerate() {
            let name = package.name.as_str();
            by_name.entry((name, None)).or_default().push(index);
            let version = Some(package.version.as_str());
            by_name.entry((name, version)).or_default().push(index);
        }
        let all: Vec<&RawPackage> = raw.all_packages().collect();
        for (index, package) in all.iter().enumerate() {
            packages[index].dependencies = self.dependencies(&all, &by_name, package)?;
        }
        Ok(packages)
    }

    fn package(
        &self,
        raw: &RawPackage,
        metadata: &BTreeMap<String, String>,
    ) -> Result<LockedPackage, LockfileError> {
        let version = semver::Version::parse(&raw.version).map_err(|error| {
            LockfileError::InvalidVersion {
                path: self.path.to_owned(),
                package: raw.name.clone(),
                version: raw.version.clone(),
                error,
            }
        })?;
        let source = PackageSource::parse(raw.source.as_deref()).map_err(|reason| {
            LockfileError::InvalidSource {
                path: self.path.to_owned(),
                package: raw_id(raw),
                source_id: raw.source.clone().unwrap_or_default(),
                reason,
            }
        })?;
        Ok(LockedPackage {
            name: raw.name.clone(),
            version,
            source,
            checksum: raw
                .checksum
                .clone()
                .or_else(|| metadata_checksum(raw, metadata)),
            dependencies: Vec::new(),
        })
    }

    fn reject_duplicates(&self, raw: &RawLockfile) -> Result<(), LockfileError> {
        let mut seen = BTreeSet::new();
        for package in raw.all_packages() {
            let key = (&package.name, &package.version, &package.source);
            if !seen.insert(key) {
                return Err(LockfileError::DuplicatePackage {
                    path: self.path.to_owned(),
                    package: raw_id(package),
                });
            }
        }
        Ok(())
    }

    /// The packages `package` depends on; `by_name` gives the indices into
    /// `all` of the packages of each name, and of each name and version.
    fn dependencies(
        &self,
        all: &[&RawPackage],
        by_name: &Named,
        package: &RawPackage,
    ) -> Result<Vec<usize>, LockfileError> {
        let mut resolved = BTreeSet::new();
        for dependency in &package.dependencies {
            resolved.insert(self.resolve(all, by_name, package, dependency)?);
        }
        Ok(resolved.into_iter().collect())
    }

    /// Finds the one package a `name[ version[ (source)]]` string names.
    fn resolve(
        &self,
        all: &[&RawPackage],
        by_name: &Named,
        package: &RawPackage,
        dependency: &str,
    ) -> Result<usize, LockfileError> {
        let wanted = DependencyRef::parse(dependency);
        let named = by_name.get(&(wanted.name, wanted.version));
        let named = named.map_or(&[][..], Vec::as_slice);
        let mut matches = named
            .iter()
            .copied()
            .filter(|&index| wanted.matches(all[index]));
        let error_fields = || (self.path.to_owned(), raw_id(package), dependency.to_owned());
        match (matches.next(), matches.next()) {
            (Some(index), None) => Ok(index),
            (None, _) => {
                let (path, package, dependency) = error_fields();
                Err(LockfileError::UnknownDependency {
                    path,
                    package,
                    dependency,
                })
            }
            (Some(_), Some(_)) => {
                let (path, package, dependency) = error_fields();
                Err(LockfileError::AmbiguousDependency {
                    path,
                    package,
                    dependency,
                })
            }
        }
    }
}

/// A dependency as a lockfile writes it: `name`, `name version` or
/// `name version (source)`.
struct DependencyRef<'a> {
    name: &'a str,
    version: Option<&'a str>,
    source: Option<&'a str>,
}

impl<'a> DependencyRef<'a> {
    fn parse(text: &'a str) -> Self {
        let mut parts = text.splitn(3, ' ');
        let name = parts.next().unwrap_or_default();
        let version = parts.next();
        let source = parts
            .next()
            .map(|source| source.trim_start_matches('(').trim_end_matches(')'));
        Self {
            name,
            version,
            source,
        }
    }

    fn matches(&self, candidate: &RawPackage) -> bool {
        candidate.name == self.name
            && self
                .version
                .is_none_or(|version| candidate.version == version)
            && self
                .source
                .is_none_or(|source| candidate.source.as_deref() == Some(source))
    }
}

/// The package as `name version`, as Cargo names it in messages.
fn raw_id(package: &RawPackage) -> String {
    format!("{} {}", package.name, package.version)
}

/// A version 1 checksum from `[metadata]`; `<none>` means there is none.
fn metadata_checksum(package: &RawPackage, metadata: &BTreeMap<String, String>) -> Option<String> {
    let source = package.source.as_deref()?;
    let key = format!("checksum {} {} ({source})", package.name, package.version);
    metadata
        .get(&key)
        .filter(|checksum| checksum.as_str() != "<none>")
        .cloned()
}

#[cfg(test)]
#[path = "cargo_tests.rs"]
mod tests;
