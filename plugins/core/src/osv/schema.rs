//! The parts of the OSV schema the scan reads.
//!
//! Fields are named as the schema names them. Unknown fields are ignored:
//! the schema grows new optional fields over time, and databases add their
//! own under `database_specific`. Lists the schema marks optional may be
//! absent or `null`; both read as empty.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// One OSV record.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Advisory {
    /// The advisory id, e.g. `RUSTSEC-2021-0003`.
    pub id: String,
    /// Other ids for the same problem, e.g. CVE and GHSA ids.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub aliases: Vec<String>,
    /// When the record last changed, RFC 3339.
    #[serde(default)]
    pub modified: Option<String>,
    /// When the record was withdrawn, if it was.
    #[serde(default)]
    pub withdrawn: Option<String>,
    /// A one-line description.
    #[serde(default)]
    pub summary: Option<String>,
    /// Severity scores of the whole advisory.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub severity: Vec<SeverityScore>,
    /// The packages and versions affected.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub affected: Vec<Affected>,
    /// Links about the advisory.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub references: Vec<Reference>,
    /// Whatever the database adds.
    #[serde(default)]
    pub database_specific: Option<Value>,
}

/// A severity score: a type such as `CVSS_V3` and a vector string.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SeverityScore {
    /// `CVSS_V2`, `CVSS_V3`, `CVSS_V4` or `Ubuntu`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The vector or value.
    pub score: String,
}

/// One affected package and its versions.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Affected {
    /// The package; the schema allows it to be absent.
    #[serde(default)]
    pub package: Option<AffectedPackage>,
    /// Severity scores for this package only.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub severity: Vec<SeverityScore>,
    /// Version ranges.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub ranges: Vec<Range>,
    /// Explicitly listed affected versions.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub versions: Vec<String>,
    /// Ecosystem-defined details, e.g. affected functions.
    #[serde(default)]
    pub ecosystem_specific: Option<Value>,
    /// Database-defined details, e.g. RustSec's `informational`.
    #[serde(default)]
    pub database_specific: Option<Value>,
}

/// The package an `affected` entry is about.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AffectedPackage {
    /// The ecosystem, e.g. `crates.io`.
    pub ecosystem: String,
    /// The package name in that ecosystem.
    pub name: String,
    /// The package's purl, without version.
    #[serde(default)]
    pub purl: Option<String>,
}

/// A range of affected versions, as events.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Range {
    /// `SEMVER`, `ECOSYSTEM` or `GIT`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The repository, for `GIT` ranges.
    #[serde(default)]
    pub repo: Option<String>,
    /// The events, in any order.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub events: Vec<Event>,
}

/// One range event; the schema requires exactly one field to be set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Event {
    /// The first affected version; `0` means from the start.
    #[serde(default)]
    pub introduced: Option<String>,
    /// The first version no longer affected.
    #[serde(default)]
    pub fixed: Option<String>,
    /// The last version still affected.
    #[serde(default)]
    pub last_affected: Option<String>,
    /// An upper bound on the search, for `GIT` ranges.
    #[serde(default)]
    pub limit: Option<String>,
}

/// A link about an advisory.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Reference {
    /// `ADVISORY`, `WEB`, `REPORT`, `PACKAGE`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// The link.
    pub url: String,
}

impl Advisory {
    /// The informational kind of the advisory, if it is one: RustSec marks
    /// advisories that are not vulnerabilities (`unmaintained`, `unsound`,
    /// `notice`) with a `database_specific.informational` string, on the
    /// record or on an affected entry.
    pub fn informational(&self) -> Option<&str> {
        let on_record = informational_of(self.database_specific.as_ref());
        let on_entry = || {
            self.affected
                .iter()
                .find_map(|affected| informational_of(affected.database_specific.as_ref()))
        };
        on_record.or_else(on_entry)
    }

    /// The best link for people: the `ADVISORY` reference, else the first
    /// `WEB` one, else the first of any type.
    pub fn url(&self) -> Option<&str> {
        let of_kind = |kind: &str| self.references.iter().find(|r| r.kind == kind);
        of_kind("ADVISORY")
            .or_else(|| of_kind("WEB"))
            .or_else(|| self.references.first())
            .map(|reference| reference.url.as_str())
    }

    /// The summary, or the id when there is none.
    pub fn title(&self) -> &str {
        self.summary
            .as_deref()
            .filter(|summary| !summary.trim().is_empty())
            .unwrap_or(&self.id)
    }
}

impl Event {
    /// The event's kind and version, or `None` unless exactly one field is
    /// set.
    pub fn kind_and_version(&self) -> Option<(EventKind, &str)> {
        let fields = [
            (EventKind::Introduced, &self.introduced),
            (EventKind::Fixed, &self.fixed),
            (EventKind::LastAffected, &self.last_affected),
            (EventKind::Limit, &self.limit),
        ];
        let mut set = fields
            .into_iter()
            .filter_map(|(kind, version)| Some((kind, version.as_deref()?)));
        match (set.next(), set.next()) {
            (Some(only), None) => Some(only),
            _ => None,
        }
    }
}

/// Which field of an [`Event`] is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// `introduced`.
    Introduced,
    /// `fixed`.
    Fixed,
    /// `last_affected`.
    LastAffected,
    /// `limit`.
    Limit,
}

impl EventKind {
    /// The field's name in the schema, e.g. `last_affected`.
    pub fn field(self) -> &'static str {
        match self {
            Self::Introduced => "introduced",
            Self::Fixed => "fixed",
            Self::LastAffected => "last_affected",
            Self::Limit => "limit",
        }
    }
}

fn informational_of(database_specific: Option<&Value>) -> Option<&str> {
    database_specific?
        .get("informational")?
        .as_str()
        .filter(|kind| !kind.is_empty())
}

fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn advisory(json: &str) -> Advisory {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn informational_kind_is_read_from_the_affected_entry() {
        let unmaintained = advisory(
            r#"{"id": "RUSTSEC-2020-0036", "affected": [
                {"package": {"ecosystem": "crates.io", "name": "failure"},
                 "database_specific": {"informational": "unmaintained"}}]}"#,
        );
        assert_eq!(unmaintained.informational(), Some("unmaintained"));
    }

    #[test]
    fn informational_kind_is_read_from_the_record() {
        let notice = advisory(r#"{"id": "X-1", "database_specific": {"informational": "notice"}}"#);
        assert_eq!(notice.informational(), Some("notice"));
    }

    #[test]
    fn null_informational_means_a_vulnerability() {
        let vulnerability = advisory(
            r#"{"id": "X-1", "aliases": null, "affected": [
                {"database_specific": {"informational": null}}]}"#,
        );
        assert_eq!(vulnerability.informational(), None);
        assert!(vulnerability.aliases.is_empty());
    }

    #[test]
    fn the_advisory_link_is_preferred() {
        let linked = advisory(
            r#"{"id": "X-1", "references": [
                {"type": "PACKAGE", "url": "https://crates.io/crates/x"},
                {"type": "WEB", "url": "https://example.com/web"},
                {"type": "ADVISORY", "url": "https://example.com/advisory"}]}"#,
        );
        assert_eq!(linked.url(), Some("https://example.com/advisory"));
    }

    #[test]
    fn events_must_set_exactly_one_field() {
        let event = |json: &str| serde_json::from_str::<Event>(json).unwrap();
        assert_eq!(
            event(r#"{"fixed": "1.0.0"}"#).kind_and_version(),
            Some((EventKind::Fixed, "1.0.0"))
        );
        assert_eq!(event(r#"{}"#).kind_and_version(), None);
        assert_eq!(
            event(r#"{"introduced": "0", "fixed": "1.0.0"}"#).kind_and_version(),
            None
        );
    }
}
