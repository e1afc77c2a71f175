//! OSV advisories: loading a database directory and matching packages.
//!
//! An OSV database, as the OSV project publishes it, is a directory of JSON
//! files, one advisory each, often grouped by ecosystem
//! (`<db>/crates.io/RUSTSEC-2021-0003.json`). [`AdvisoryIndex::load_dir`]
//! reads every `*.json` under a directory, skips withdrawn advisories, and
//! indexes the rest by (ecosystem, package name). Ecosystem names are
//! compared exactly, as the OSV schema spells them (`crates.io`).
//!
//! Matching follows the OSV schema's evaluation rules: the events of a
//! `SEMVER` range are sorted by version (`introduced: "0"` first), each
//! `introduced` opens an affected interval, `fixed` closes it exclusively
//! and `last_affected` inclusively, and a range with no closing event stays
//! open. Versions compare by SemVer precedence, so `1.0.0-rc.1` comes before
//! `1.0.0` and build metadata is ignored. An explicit `versions` list
//! matches the versions it names. `ECOSYSTEM` ranges of `crates.io` are
//! SemVer too and are evaluated the same way; `GIT` ranges name commits, not
//! versions, and are not used. A version in the data that does not parse is
//! reported as a [`DataProblem`] and its range is not used, so a bad record
//! never matches silently.
//!
//! [`scan_lockfiles`] checks every crates.io package of some lockfiles
//! against an index and returns a [`FindingsReport`]: vulnerabilities as
//! [`Finding`]s with a severity scored from their CVSS v3 vector, and
//! informational advisories (unmaintained, unsound, notice) as
//! [`Warning`]s, never as findings.

pub mod api;
mod database;
mod dump;
mod index;
mod range;
mod report;
mod scan;
mod schema;

pub use database::{
    CLOCK_SKEW, DEFAULT_MAX_AGE, DatabaseInfo, FreshnessError, LoadedDatabase, ManifestEntry,
    SourceKind, check_freshness, format_timestamp, parse_max_age, parse_timestamp,
};
pub use dump::read_dir;
pub use index::{AdvisoryIndex, DataProblem, OsvError};
pub use report::{FailOn, Finding, FindingsReport, Severity, SeverityCounts, Warning};
pub use scan::scan_lockfiles;
pub use schema::{
    Advisory, Affected, AffectedPackage, Event, EventKind, Range, Reference, SeverityScore,
};
pub use time::OffsetDateTime;

/// The OSV ecosystem name of crates.io packages.
pub const CRATES_IO: &str = "crates.io";
