//! OSV advisories: loading a database directory and matching packages.
//!
//! An OSV database, as the OSV project publishes it, is a directory of JSON
//! files, one advisory each, often grouped by ecosystem
//! (`<db>/crates.io/RUSTSEC-2021-0003.json`). [`AdvisoryIndex::load_dir`]
//! reads every `*.json` under a directory, counts and skips withdrawn
//! advisories, and indexes the rest by ecosystem and package for every
//! [`Ecosystem`](crate::package::Ecosystem): crates.io, npm, PyPI and Go.
//! Ecosystem names are compared exactly, as the OSV schema spells them;
//! package names as each ecosystem compares them (PyPI's in PEP 503 form).
//!
//! Matching follows the OSV schema's evaluation rules (see `range.rs`):
//! `introduced`, `fixed` (exclusive), `last_affected` (inclusive) and
//! `limit` events, and explicit `versions` lists. `SEMVER` ranges compare
//! by SemVer precedence, `ECOSYSTEM` ranges by the ecosystem's own ordering
//! ([`Scheme`]: SemVer for crates.io and npm, PEP 440 for PyPI, Go module
//! versions for Go), and `GIT` ranges, which name commits, are not used for
//! version matching. A version in the data that does not parse is reported
//! as a [`DataProblem`] and its range is not used; a package version that
//! does not parse is reported in the scan's problems. Neither is ever a
//! silent non-match.
//!
//! [`scan_inventories`] checks every registry package of some inventories
//! against an index and returns a [`FindingsReport`]: one [`Finding`] per
//! vulnerability and package, merging advisories that alias each other,
//! with a severity from the best source the advisories give (CVSS v4.0,
//! then v3.x, then a database's severity word), and informational
//! advisories (unmaintained, unsound, notice) as [`Warning`]s, never as
//! findings.

pub mod api;
pub mod cache;
mod database;
mod dump;
mod index;
mod range;
mod report;
mod scan;
mod schema;
mod score;
mod version;

pub use database::{
    CLOCK_SKEW, DEFAULT_MAX_AGE, DatabaseInfo, FreshnessError, IndexInfo, LoadedDatabase,
    ManifestEntry, SourceKind, check_freshness, format_timestamp, parse_max_age, parse_timestamp,
};
pub use dump::read_dir;
pub use index::{AdvisoryIndex, DataProblem, Hit, Matches, OsvError, package_key};
pub use report::{FailOn, Finding, FindingsReport, Severity, SeverityCounts, Unreadable, Warning};
pub use scan::{scan_inventories, scan_lockfiles};
pub use schema::{
    Advisory, Affected, AffectedPackage, Event, EventKind, Range, Reference, SeverityScore,
};
pub use time::OffsetDateTime;
pub use version::{OrderedVersion, Scheme};

/// The OSV ecosystem name of crates.io packages.
pub const CRATES_IO: &str = "crates.io";
