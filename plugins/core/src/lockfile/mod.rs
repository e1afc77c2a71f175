//! Lockfiles of every ecosystem Gantry scans, read into one
//! [`Inventory`](crate::package::Inventory) each.
//!
//! [`Format::detect`] tells a lockfile's format from its file name, and
//! [`read`] (or [`parse`], given the text) reads it. Each format has its
//! own module; what they share is the model in [`crate::package`] and
//! [`LockfileError`], whose every variant names the file.
//!
//! A reader refuses a file it cannot make sense of as a whole, and keeps
//! going past a single entry it cannot use, listing it in
//! [`Inventory::warnings`](crate::package::Inventory::warnings): nothing is
//! skipped without a word.

use std::path::Path;

use crate::package::Inventory;

pub mod cargo;
mod js;
mod npm;
mod pnpm;
mod yarn;

pub use cargo::{CRATES_IO_SOURCE, LockedPackage, Lockfile, PackageSource};

/// A lockfile format, told by the file's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    /// `Cargo.lock`, versions 1 to 4.
    Cargo,
    /// npm's `package-lock.json` or `npm-shrinkwrap.json`, lockfile
    /// versions 1 to 3.
    Npm,
    /// `yarn.lock`, Yarn classic's (v1) or Yarn berry's (YAML).
    Yarn,
    /// `pnpm-lock.yaml`, lockfile versions 5.x, 6.x and 9.0.
    Pnpm,
}

impl Format {
    /// The file names [`Format::detect`] knows, for messages.
    pub const NAMES_HINT: &str = "known lockfiles are: Cargo.lock, package-lock.json, \
        npm-shrinkwrap.json, yarn.lock, pnpm-lock.yaml";

    /// The format of a file named `file_name` (the last component of its
    /// path), if it is a lockfile this module reads.
    pub fn detect(file_name: &str) -> Option<Self> {
        match file_name {
            "Cargo.lock" => Some(Self::Cargo),
            "package-lock.json" | "npm-shrinkwrap.json" => Some(Self::Npm),
            "yarn.lock" => Some(Self::Yarn),
            "pnpm-lock.yaml" => Some(Self::Pnpm),
            _ => None,
        }
    }

    /// The format's name, for people.
    pub fn name(self) -> &'static str {
        match self {
            Self::Cargo => "Cargo.lock",
            Self::Npm => "package-lock.json",
            Self::Yarn => "yarn.lock",
            Self::Pnpm => "pnpm-lock.yaml",
        }
    }
}

/// Reads the lockfile at `path`, whose format its file name gives, and
/// any file it needs beside it.
///
/// # Errors
///
/// [`LockfileError::UnknownFormat`] for a file name no format has,
/// [`LockfileError::Read`] when the file cannot be read, or any error of
/// [`parse`].
pub fn read(path: &Path) -> Result<Inventory, LockfileError> {
    let shown = path.display().to_string();
    let format = path
        .file_name()
        .and_then(|name| name.to_str())
        .and_then(Format::detect)
        .ok_or_else(|| LockfileError::UnknownFormat {
            path: shown.clone(),
        })?;
    let text = std::fs::read_to_string(path).map_err(|error| LockfileError::Read {
        path: shown.clone(),
        error,
    })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    parse(format, &shown, &text, &|relative| {
        std::fs::read_to_string(dir.join(relative))
    })
}

/// Parses the text of a lockfile of `format`; `path` only names it in
/// messages. `companion` reads a file the lockfile needs, given its path
/// relative to the lockfile's directory (a `go.sum`, an included
/// requirements file, the `package.json` files of a JavaScript project,
/// which say what a `yarn.lock` or a version 1 `package-lock.json` does
/// not; those readers do without them when they cannot be read).
///
/// # Errors
///
/// [`LockfileError`] naming the file, and the entry and line where the
/// format has them, when the text is not a lockfile of `format`.
pub fn parse(
    format: Format,
    path: &str,
    text: &str,
    companion: &dyn Fn(&str) -> std::io::Result<String>,
) -> Result<Inventory, LockfileError> {
    match format {
        Format::Cargo => Ok(Lockfile::parse_cargo_lock(path, text)?.to_inventory()),
        Format::Npm => npm::parse(path, text, companion),
        Format::Yarn => yarn::parse(path, text, companion),
        Format::Pnpm => pnpm::parse(path, text, companion),
    }
}

/// Why a lockfile could not be read.
///
/// Every variant names the file as it was given to the parser.
#[derive(Debug, thiserror::Error)]
pub enum LockfileError {
    /// The file could not be read.
    #[error("failed to read lockfile `{path}`")]
    Read {
        /// The lockfile.
        path: String,
        /// What the file system said.
        #[source]
        error: std::io::Error,
    },
    /// The file is not valid TOML, or not shaped like a lockfile.
    #[error("failed to parse lockfile `{path}`: {error}")]
    Syntax {
        /// The lockfile.
        path: String,
        /// The TOML error, with line and column.
        error: Box<toml::de::Error>,
    },
    /// A format version newer than this module knows.
    #[error("lockfile `{path}` has format version {version}; versions 1 to 4 are supported")]
    UnsupportedFormat {
        /// The lockfile.
        path: String,
        /// The `version` it declares.
        version: u32,
    },
    /// A package's version is not SemVer.
    #[error("lockfile `{path}`: package `{package}` has invalid version `{version}`: {error}")]
    InvalidVersion {
        /// The lockfile.
        path: String,
        /// The package's name.
        package: String,
        /// The version as written.
        version: String,
        /// What is wrong with it.
        error: semver::Error,
    },
    /// A package's `source` is not one Cargo writes.
    #[error(
        "lockfile `{path}`: package `{package}` has unsupported source `{source_id}`: {reason}"
    )]
    InvalidSource {
        /// The lockfile.
        path: String,
        /// The package as `name version`.
        package: String,
        /// The `source` as written.
        source_id: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The same package is listed twice.
    #[error("lockfile `{path}`: package `{package}` is listed more than once")]
    DuplicatePackage {
        /// The lockfile.
        path: String,
        /// The package as `name version`.
        package: String,
    },
    /// A dependency names no listed package.
    #[error(
        "lockfile `{path}`: package `{package}` depends on `{dependency}`, which is not listed"
    )]
    UnknownDependency {
        /// The lockfile.
        path: String,
        /// The dependent package as `name version`.
        package: String,
        /// The dependency as written.
        dependency: String,
    },
    /// A lockfile of another format is malformed; the message says where.
    #[error("lockfile `{path}`{}: {message}", line.map(|line| format!(", line {line}")).unwrap_or_default())]
    Invalid {
        /// The lockfile.
        path: String,
        /// The line the problem is on, when the format has lines to name.
        line: Option<usize>,
        /// What is wrong, naming the entry or key.
        message: String,
    },
    /// A file the lockfile needs beside it (a `go.sum`, a file a
    /// requirements file includes) could not be read.
    #[error("lockfile `{path}` needs `{needed}`, which could not be read")]
    Companion {
        /// The lockfile.
        path: String,
        /// The other file, as the lockfile names it.
        needed: String,
        /// What the file system said.
        #[source]
        error: std::io::Error,
    },
    /// The file's name is not one of a known lockfile format.
    #[error("`{path}` is not a lockfile Gantry reads; {}", Format::NAMES_HINT)]
    UnknownFormat {
        /// The file.
        path: String,
    },
    /// A dependency names several listed packages.
    #[error(
        "lockfile `{path}`: package `{package}` depends on `{dependency}`, \
         which matches more than one package"
    )]
    AmbiguousDependency {
        /// The lockfile.
        path: String,
        /// The dependent package as `name version`.
        package: String,
        /// The dependency as written.
        dependency: String,
    },
}
