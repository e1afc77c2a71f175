//! What a scan knows of a project's dependencies, whichever lockfile said it.
//!
//! Every lockfile reader turns its format into one [`Inventory`]: the
//! packages it locks, each with its [`Ecosystem`], name and version as the
//! ecosystem writes them, where it comes from ([`Origin`]), whether it is a
//! development-only dependency ([`Scope`]), and the edges between packages
//! when the format records them. The SBOM writers and the vulnerability
//! matcher work on inventories only, so a new format needs nothing but a
//! reader.
//!
//! Versions stay strings here: each ecosystem orders versions by its own
//! rules (SemVer, PEP 440, Go module versions), and only the matcher needs
//! to compare them.

use std::fmt;

use crate::purl;

/// A package ecosystem, as OSV names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Ecosystem {
    /// Rust crates; versions are SemVer.
    CratesIo,
    /// JavaScript packages; versions are SemVer.
    Npm,
    /// Python packages; versions are PEP 440.
    PyPi,
    /// Go modules; versions are Go module versions.
    Go,
}

impl Ecosystem {
    /// Every ecosystem, in a fixed order.
    pub const ALL: [Self; 4] = [Self::CratesIo, Self::Npm, Self::PyPi, Self::Go];

    /// The name OSV advisories give the ecosystem in `affected[].package`.
    pub fn osv_name(self) -> &'static str {
        match self {
            Self::CratesIo => "crates.io",
            Self::Npm => "npm",
            Self::PyPi => "PyPI",
            Self::Go => "Go",
        }
    }

    /// The ecosystem OSV calls `name`, if it is one of these.
    pub fn from_osv_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|ecosystem| ecosystem.osv_name() == name)
    }

    /// The purl `type` of the ecosystem's packages.
    pub fn purl_type(self) -> &'static str {
        match self {
            Self::CratesIo => "cargo",
            Self::Npm => "npm",
            Self::PyPi => "pypi",
            Self::Go => "golang",
        }
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.osv_name())
    }
}

/// Where a locked package comes from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    /// The ecosystem's public registry: crates.io, registry.npmjs.org, PyPI
    /// or the Go module proxy. Only these packages are matched against
    /// advisories, which are written for the public registry's packages.
    Registry,
    /// Another registry or index, by the URL the lockfile gives.
    OtherRegistry {
        /// The registry or index URL.
        url: String,
    },
    /// A version control repository at a locked revision.
    Vcs {
        /// The repository URL, without the revision.
        url: String,
        /// The locked commit, when the lockfile records one.
        commit: Option<String>,
    },
    /// An archive fetched from a URL, not from a registry.
    Url {
        /// The URL as the lockfile writes it.
        url: String,
    },
    /// Part of the project itself: a workspace member, a path dependency,
    /// a link or an editable install. Not published, so never matched.
    Local {
        /// The path the lockfile gives, relative to it, when it gives one.
        path: Option<String>,
    },
}

impl Origin {
    /// A short word for the kind of origin: `registry`, `other-registry`,
    /// `vcs`, `url` or `local`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Registry => "registry",
            Self::OtherRegistry { .. } => "other-registry",
            Self::Vcs { .. } => "vcs",
            Self::Url { .. } => "url",
            Self::Local { .. } => "local",
        }
    }

    /// Whether the package is part of the project rather than a dependency
    /// fetched from elsewhere.
    pub fn is_local(&self) -> bool {
        matches!(self, Self::Local { .. })
    }
}

/// Whether a package is needed at run time, as far as the lockfile says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Needed by the application when it runs.
    Runtime,
    /// Needed only to develop, build or test it.
    Dev,
    /// Installed only when an optional feature or extra asks for it.
    Optional,
}

impl Scope {
    /// The word used in reports: `runtime`, `dev` or `optional`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Runtime => "runtime",
            Self::Dev => "dev",
            Self::Optional => "optional",
        }
    }
}

/// One locked package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// The ecosystem the name and version belong to.
    pub ecosystem: Ecosystem,
    /// The name as the ecosystem writes it: a crate name, an npm name with
    /// its `@scope/`, a PyPI project name as the lockfile spells it, a Go
    /// module path.
    pub name: String,
    /// The locked version as the lockfile writes it (Go versions keep their
    /// leading `v`).
    pub version: String,
    /// Where the package comes from.
    pub origin: Origin,
    /// Run-time or development-only, when the lockfile says; `None` when it
    /// does not.
    pub scope: Option<Scope>,
    /// The integrity hashes the lockfile records, each as `<alg>:<hex>` or,
    /// for npm's Subresource Integrity strings, as written
    /// (`sha512-<base64>`).
    pub hashes: Vec<String>,
    /// The packages this one depends on, as indices into
    /// [`Inventory::packages`], sorted and without repeats.
    pub dependencies: Vec<usize>,
    /// The package's licence as the lockfile states it (an SPDX expression,
    /// as written), when the format records one; `None` when it does not.
    pub licence: Option<String>,
}

impl Package {
    /// A package of `ecosystem` from its public registry, with no scope,
    /// hashes or dependencies yet.
    pub fn new(ecosystem: Ecosystem, name: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            ecosystem,
            name: name.into(),
            version: version.into(),
            origin: Origin::Registry,
            scope: None,
            hashes: Vec::new(),
            dependencies: Vec::new(),
            licence: None,
        }
    }

    /// The package's purl, or `None` for a local package, which is not
    /// published anywhere.
    pub fn purl(&self) -> Option<String> {
        purl::package_url(self)
    }
}

impl fmt::Display for Package {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.version)
    }
}

/// The packages one lockfile (or one `go.mod` with its `go.sum`) locks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inventory {
    /// The path the lockfile was read from, as given; used in messages.
    pub path: String,
    /// The format and its version, for people: `Cargo.lock v4`,
    /// `package-lock.json v3`, `poetry.lock 2.0`, …
    pub format: String,
    /// The sha256 of the lockfile's bytes (for `go.mod`, of `go.mod`'s).
    pub digest: [u8; 32],
    /// Every package, in the order the lockfile lists them.
    pub packages: Vec<Package>,
    /// The packages that are the project itself (workspace members, the
    /// root manifest), as indices into `packages`; empty when the format
    /// does not say.
    pub roots: Vec<usize>,
    /// Whether the format records dependency edges; when false, every
    /// `dependencies` list is empty because nothing is known, not because
    /// the package has none.
    pub has_graph: bool,
    /// Entries of an otherwise readable file that could not be used, one
    /// message each naming the entry (and line, when known). A scan reports
    /// every one; none is skipped silently.
    pub warnings: Vec<String>,
}

impl Inventory {
    /// An empty inventory of the lockfile at `path` whose bytes were
    /// `bytes`.
    pub fn new(path: impl Into<String>, format: impl Into<String>, bytes: &[u8]) -> Self {
        use sha2::{Digest, Sha256};
        Self {
            path: path.into(),
            format: format.into(),
            digest: Sha256::digest(bytes).into(),
            packages: Vec::new(),
            roots: Vec::new(),
            has_graph: false,
            warnings: Vec::new(),
        }
    }

    /// The packages fetched from somewhere other than the project itself.
    pub fn dependencies(&self) -> impl Iterator<Item = &Package> {
        self.packages
            .iter()
            .filter(|package| !package.origin.is_local())
    }
}
