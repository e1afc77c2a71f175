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
//!
//! Lockfiles are the workspace author's text, and may be written to harm
//! the reader. Whatever the format, a leading byte order mark is read
//! past, and a package holding a control character is left out with a
//! warning; warnings and errors quote the file's text with such characters
//! escaped ([`printable`]). Each reader keeps its work in proportion to the
//! file, refuses nesting deeper than its parser allows, and reads no file
//! outside the workspace ([`requirements`] says how includes are held).

use std::path::Path;

use crate::package::Inventory;

pub mod cargo;
pub mod gomod;
mod js;
mod npm;
pub mod pipfile;
mod pnpm;
pub mod poetry;
mod requirement_line;
pub mod requirements;
mod screen;
pub mod uv;
mod yarn;

pub use cargo::{CRATES_IO_SOURCE, LockedPackage, Lockfile, PackageSource};
pub use screen::printable;

/// A lockfile format, told by the file's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    /// `Cargo.lock`, versions 1 to 4.
    Cargo,
    /// A pip requirements file, `requirements*.txt`, with the files it
    /// includes.
    Requirements,
    /// `poetry.lock`, lock versions 1.x and 2.x.
    Poetry,
    /// `Pipfile.lock`, pipenv's lockfile.
    Pipfile,
    /// `uv.lock`, version 1.
    Uv,
    /// `go.mod`, with the `go.sum` beside it.
    GoMod,
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
        npm-shrinkwrap.json, yarn.lock, pnpm-lock.yaml, requirements*.txt, poetry.lock, \
        Pipfile.lock, uv.lock, go.mod";

    /// The format of a file named `file_name` (the last component of its
    /// path), if it is a lockfile this module reads.
    pub fn detect(file_name: &str) -> Option<Self> {
        match file_name {
            "Cargo.lock" => Some(Self::Cargo),
            "poetry.lock" => Some(Self::Poetry),
            "Pipfile.lock" => Some(Self::Pipfile),
            "uv.lock" => Some(Self::Uv),
            "go.mod" => Some(Self::GoMod),
            name if name.starts_with("requirements") && name.ends_with(".txt") => {
                Some(Self::Requirements)
            }
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
            Self::Requirements => "requirements.txt",
            Self::Poetry => "poetry.lock",
            Self::Pipfile => "Pipfile.lock",
            Self::Uv => "uv.lock",
            Self::GoMod => "go.mod",
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
    let body = screen::strip_bom(text);
    let mut inventory = match format {
        Format::Cargo => Lockfile::parse_cargo_lock(path, body)?.to_inventory(),
        Format::Requirements => requirements::parse(path, body, companion)?,
        Format::Poetry => poetry::parse(path, body)?,
        Format::Pipfile => pipfile::parse(path, body)?,
        Format::Uv => uv::parse(path, body)?,
        Format::GoMod => gomod::parse(path, body, companion)?,
        Format::Npm => npm::parse(path, body, companion)?,
        Format::Yarn => yarn::parse(path, body, companion)?,
        Format::Pnpm => pnpm::parse(path, body, companion)?,
    };
    if body.len() != text.len() {
        // The digest is of the file as it is, mark and all.
        inventory.digest = Inventory::new(path, "", text.as_bytes()).digest;
    }
    Ok(screen::screen(inventory))
}

/// A TOML lockfile that does not parse, with the line and column the
/// parser gives.
fn toml_error(path: &str, error: toml::de::Error) -> LockfileError {
    LockfileError::Syntax {
        path: path.to_owned(),
        error: Box::new(error),
    }
}

/// Where each line of a text starts, to tell the line of many offsets
/// without counting from the start for each.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let newlines = text.bytes().enumerate().filter(|&(_, b)| b == b'\n');
        let starts = std::iter::once(0).chain(newlines.map(|(at, _)| at + 1));
        Self {
            starts: starts.collect(),
        }
    }

    /// The 1-based line of the byte at `offset`.
    fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&start| start <= offset)
    }
}

/// A Python project name in the normalised form PEP 503 compares names
/// in: lowercase, every run of `-`, `_` and `.` one `-`.
fn python_key(name: &str) -> String {
    let mut key = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !key.ends_with('-') {
                key.push('-');
            }
        } else {
            key.push(c.to_ascii_lowercase());
        }
    }
    key
}

/// The registry URL PyPI's simple index is written with, in any of the
/// forms tools write it.
fn is_pypi_index(url: &str) -> bool {
    let url = url.trim_end_matches('/');
    matches!(
        url,
        "https://pypi.org/simple" | "https://pypi.python.org/simple" | "https://pypi.org/pypi"
    )
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
    #[error("failed to parse lockfile `{path}`: {}", printable(&error.to_string()))]
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
    #[error(
        "lockfile `{path}`: package `{}` has invalid version `{}`: {error}",
        printable(package),
        printable(version)
    )]
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
        "lockfile `{path}`: package `{}` has unsupported source `{}`: {reason}",
        printable(package),
        printable(source_id)
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
    #[error(
        "lockfile `{path}`: package `{}` is listed more than once",
        printable(package)
    )]
    DuplicatePackage {
        /// The lockfile.
        path: String,
        /// The package as `name version`.
        package: String,
    },
    /// A dependency names no listed package.
    #[error(
        "lockfile `{path}`: package `{}` depends on `{}`, which is not listed",
        printable(package),
        printable(dependency)
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
    #[error(
        "lockfile `{path}`{}: {}",
        line.map(|line| format!(", line {line}")).unwrap_or_default(),
        printable(message)
    )]
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
    #[error(
        "lockfile `{path}` needs `{}`, which could not be read",
        printable(needed)
    )]
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
        "lockfile `{path}`: package `{}` depends on `{}`, \
         which matches more than one package",
        printable(package),
        printable(dependency)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_by_their_file_names() {
        assert_eq!(
            Format::detect("requirements.txt"),
            Some(Format::Requirements)
        );
        assert_eq!(
            Format::detect("requirements-dev.txt"),
            Some(Format::Requirements)
        );
        assert_eq!(Format::detect("requirements.in"), None);
        assert_eq!(Format::detect("constraints.txt"), None);
        assert_eq!(Format::detect("poetry.lock"), Some(Format::Poetry));
        assert_eq!(Format::detect("Pipfile.lock"), Some(Format::Pipfile));
        assert_eq!(Format::detect("Pipfile"), None);
        assert_eq!(Format::detect("uv.lock"), Some(Format::Uv));
        assert_eq!(Format::detect("go.mod"), Some(Format::GoMod));
        assert_eq!(Format::detect("go.sum"), None);
    }

    #[test]
    fn python_names_compare_as_pep_503_normalises_them() {
        assert_eq!(python_key("PyYAML"), "pyyaml");
        assert_eq!(python_key("typing_extensions"), "typing-extensions");
        assert_eq!(python_key("zope.interface"), "zope-interface");
        assert_eq!(python_key("a-_.b"), "a-b");
        assert_ne!(python_key("foo-bar"), python_key("foobar"));
    }

    #[test]
    fn lines_count_from_one() {
        let lines = LineIndex::new("a\nb\nc");
        assert_eq!(lines.line(0), 1);
        assert_eq!(lines.line(1), 1);
        assert_eq!(lines.line(2), 2);
        assert_eq!(lines.line(99), 3);
    }
}
