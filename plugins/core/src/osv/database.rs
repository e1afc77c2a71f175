//! Which advisory database a scan used, and whether it is fresh enough.
//!
//! Both sources, the offline OSV directory and the OSV API, give the scan a
//! [`LoadedDatabase`]: the advisories, and a [`DatabaseInfo`] naming the
//! data by digest and date, which `findings.json`, the stage's metadata and
//! the audit log record.
//!
//! The digest is the SHA-256 of a manifest in the layout `sha256sum`
//! prints, one line per advisory, `<hex digest of the bytes>  <name>`,
//! sorted by name: the file's path relative to the directory (with `/`)
//! for a directory, the advisory id for the API. An auditor can recompute a
//! directory's digest with standard tools.
//!
//! The snapshot date is the newest `modified` among the advisories, since
//! OSV exports carry no date of their own. [`check_freshness`] compares it
//! with a clock the caller passes in, so the rule is tested without one.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::schema::Advisory;

/// The default `max-db-age`: a week, the longest a published advisory may
/// go unseen.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(7 * 86_400);

/// How far in the future a snapshot may lie before it is refused: clocks
/// of the data's publisher and this host may disagree a little.
pub const CLOCK_SKEW: Duration = Duration::from_secs(3600);

/// Where advisories came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// An OSV directory, read offline.
    Dir,
    /// The OSV API, asked over the `http` grant.
    Api,
}

impl SourceKind {
    /// `dir` or `api`, as in `findings.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dir => "dir",
            Self::Api => "api",
        }
    }
}

/// The identity of the advisory data a scan used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct DatabaseInfo {
    /// The kind of source.
    pub source: SourceKind,
    /// The directory as the stage sees it, or the API's base URL.
    pub location: String,
    /// `sha256:<hex>` of the manifest described in the module docs.
    pub digest: String,
    /// How many advisory records were read or fetched, withdrawn ones
    /// and other ecosystems' included.
    pub advisories: usize,
    /// The newest `modified` among them, RFC 3339 in UTC; absent when no
    /// record says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    /// The index file the advisories were read from or written to, when
    /// the scan keeps one (see `cache.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<IndexInfo>,
}

/// The index of an OSV directory a scan used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct IndexInfo {
    /// The index file as the stage sees it.
    pub file: String,
    /// `sha256:<hex>` of the index file's bytes.
    pub digest: String,
    /// Whether the advisories were read from it (`true`) or from the
    /// directory, and the index written (`false`).
    pub reused: bool,
}

/// Advisories from either source, and what identifies them.
#[derive(Debug, Clone)]
pub struct LoadedDatabase {
    /// The records, in manifest order.
    pub advisories: Vec<Advisory>,
    /// Their identity.
    pub info: DatabaseInfo,
    /// Records whose `modified` does not parse, so that they leave the
    /// snapshot date: one message each.
    pub problems: Vec<String>,
}

/// One advisory's line in the manifest.
#[derive(Debug, Clone)]
pub struct ManifestEntry {
    /// The path relative to the directory, or the advisory id.
    pub name: String,
    /// The record's bytes as read.
    pub bytes_digest: [u8; 32],
    /// The parsed record.
    pub advisory: Advisory,
}

impl ManifestEntry {
    /// Hashes `bytes` and keeps the record parsed from them.
    pub fn new(name: String, bytes: &[u8], advisory: Advisory) -> Self {
        Self {
            name,
            bytes_digest: Sha256::digest(bytes).into(),
            advisory,
        }
    }
}

impl LoadedDatabase {
    /// Sorts `entries` by name and computes the digest and snapshot.
    pub fn from_entries(
        source: SourceKind,
        location: &str,
        mut entries: Vec<ManifestEntry>,
    ) -> Self {
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        let digest = manifest_digest(&entries);
        let (snapshot, problems) = newest_modified(&entries);
        Self {
            info: DatabaseInfo {
                source,
                location: location.to_owned(),
                digest,
                advisories: entries.len(),
                snapshot: snapshot.map(format_timestamp),
                index: None,
            },
            advisories: entries.into_iter().map(|entry| entry.advisory).collect(),
            problems,
        }
    }
}

/// `sha256:` and the hex digest of the manifest of sorted `entries`.
fn manifest_digest(entries: &[ManifestEntry]) -> String {
    let mut hasher = Sha256::new();
    for entry in entries {
        hasher.update(hex::encode(entry.bytes_digest));
        hasher.update(b"  ");
        hasher.update(entry.name.as_bytes());
        hasher.update(b"\n");
    }
    format!("sha256:{}", hex::encode(hasher.finalize()))
}

/// The newest parsable `modified`, and a message for each that is not.
fn newest_modified(entries: &[ManifestEntry]) -> (Option<OffsetDateTime>, Vec<String>) {
    let mut newest = None;
    let mut problems = Vec::new();
    for entry in entries {
        let Some(text) = &entry.advisory.modified else {
            continue;
        };
        match parse_timestamp(text) {
            Ok(time) => newest = newest.max(Some(time)),
            Err(error) => problems.push(format!(
                "advisory `{}`: `modified` is not an RFC 3339 time ({error}); \
                 it does not count towards the database's date",
                entry.advisory.id
            )),
        }
    }
    (newest, problems)
}

/// Parses an RFC 3339 time such as `2024-06-05T14:00:17.123Z`.
///
/// # Errors
///
/// The parser's message when `text` is not RFC 3339.
pub fn parse_timestamp(text: &str) -> Result<OffsetDateTime, time::error::Parse> {
    OffsetDateTime::parse(text, &Rfc3339)
}

/// Formats `time` in UTC to the second: `2024-06-05T14:00:17Z`.
pub fn format_timestamp(time: OffsetDateTime) -> String {
    let utc = time.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        utc.year(),
        u8::from(utc.month()),
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second()
    )
}

/// Parses a `max-db-age` such as `7d`, `36h` or `2weeks`.
///
/// # Errors
///
/// A message naming the text when it is not a duration or is zero.
pub fn parse_max_age(text: &str) -> Result<Duration, String> {
    let age = humantime::parse_duration(text).map_err(|error| {
        format!("`{text}` is not a duration ({error}); write it like `7d`, `36h` or `2weeks`")
    })?;
    if age.is_zero() {
        return Err(format!("`{text}` is zero; no database could be that fresh"));
    }
    Ok(age)
}

/// Why the data may not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FreshnessError {
    /// No advisory says when it was modified.
    #[error(
        "the advisory database at `{location}` has no date: none of its {advisories} \
         advisories has a `modified` time"
    )]
    Undated {
        /// The directory or URL.
        location: String,
        /// How many records it holds.
        advisories: usize,
    },
    /// The newest advisory is older than the allowed age.
    #[error(
        "the advisory database at `{location}` is stale: its newest advisory was \
         modified at {snapshot}, {age} before now ({now}), and `max-db-age` is {max_age}\n\
         hint: update the database, or raise `max-db-age` if this age is acceptable"
    )]
    Stale {
        /// The directory or URL.
        location: String,
        /// The snapshot date.
        snapshot: String,
        /// The clock's time.
        now: String,
        /// How old the snapshot is.
        age: String,
        /// The allowed age.
        max_age: String,
    },
    /// The snapshot lies further in the future than clock skew explains.
    #[error(
        "the advisory database at `{location}` is dated {snapshot}, after now ({now}); \
         is this host's clock right, or the data tampered with?"
    )]
    Future {
        /// The directory or URL.
        location: String,
        /// The snapshot date.
        snapshot: String,
        /// The clock's time.
        now: String,
    },
}

/// Checks that `info`'s snapshot is at most `max_age` before `now` and at
/// most [`CLOCK_SKEW`] after it. An age of exactly `max_age` passes.
///
/// # Errors
///
/// [`FreshnessError`] when the data has no date, is too old, or is dated
/// in the future.
pub fn check_freshness(
    info: &DatabaseInfo,
    now: OffsetDateTime,
    max_age: Duration,
) -> Result<(), FreshnessError> {
    let location = info.location.clone();
    let Some(snapshot) = info
        .snapshot
        .as_deref()
        .and_then(|s| parse_timestamp(s).ok())
    else {
        return Err(FreshnessError::Undated {
            location,
            advisories: info.advisories,
        });
    };
    let age = now - snapshot;
    if age.is_negative() && age.unsigned_abs() > CLOCK_SKEW {
        return Err(FreshnessError::Future {
            location,
            snapshot: format_timestamp(snapshot),
            now: format_timestamp(now),
        });
    }
    if age.is_positive() && age.unsigned_abs() > max_age {
        return Err(FreshnessError::Stale {
            location,
            snapshot: format_timestamp(snapshot),
            now: format_timestamp(now),
            // Whole seconds: nobody needs the nanoseconds of a stale age.
            age: humantime::format_duration(Duration::from_secs(age.unsigned_abs().as_secs()))
                .to_string(),
            max_age: humantime::format_duration(max_age).to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
