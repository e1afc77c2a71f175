//! The parts of the OSV schema the scan reads.
//!
//! Fields are named as the schema names them. Unknown fields are ignored:
//! the schema grows new optional fields over time, and databases add their
//! own under `database_specific`. Lists the schema marks optional may be
//! absent or `null`; both read as empty.

use std::borrow::Cow;
use std::fmt;

use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// One OSV record.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Advisory {
    /// The advisory id, e.g. `RUSTSEC-2021-0003`.
    pub id: String,
    /// Other ids for the same problem, e.g. CVE and GHSA ids.
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub aliases: Vec<String>,
    /// When the record last changed, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<String>,
    /// When the record was withdrawn, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<String>,
    /// A one-line description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Severity scores of the whole advisory.
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub severity: Vec<SeverityScore>,
    /// The packages and versions affected.
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub affected: Vec<Affected>,
    /// Links about the advisory.
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub references: Vec<Reference>,
    /// What the scan reads of whatever the database adds.
    #[serde(default, skip_serializing_if = "Specific::is_empty")]
    pub database_specific: Specific,
}

/// A severity score: a type such as `CVSS_V3` and a vector string.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct SeverityScore {
    /// `CVSS_V2`, `CVSS_V3`, `CVSS_V4` or `Ubuntu`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The vector or value.
    pub score: String,
}

/// One affected package and its versions.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Affected {
    /// The package; the schema allows it to be absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<AffectedPackage>,
    /// Severity scores for this package only.
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub severity: Vec<SeverityScore>,
    /// Version ranges.
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ranges: Vec<Range>,
    /// Explicitly listed affected versions.
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub versions: Vec<String>,
    /// What the scan reads of the ecosystem-defined details.
    #[serde(default, skip_serializing_if = "Specific::is_empty")]
    pub ecosystem_specific: Specific,
    /// What the scan reads of the database-defined details, e.g.
    /// RustSec's `informational`.
    #[serde(default, skip_serializing_if = "Specific::is_empty")]
    pub database_specific: Specific,
}

/// The two keys the scan reads from an `ecosystem_specific` or
/// `database_specific` object: `severity` (GitHub's word for the
/// advisory) and `informational` (RustSec's kind of notice).
///
/// The rest of the object, often large (Go lists every affected symbol),
/// is skipped without being built. A key holding anything but a string
/// reads as absent, as does a value that is not an object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Specific {
    /// `severity`, when it is a string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// `informational`, when it is a string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub informational: Option<String>,
}

impl Specific {
    /// Whether neither key was there.
    pub fn is_empty(&self) -> bool {
        self.severity.is_none() && self.informational.is_none()
    }
}

impl<'de> Deserialize<'de> for Specific {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SpecificVisitor)
    }
}

/// The visits of a value the scan has no use for: it reads as `$empty`.
macro_rules! ignore_other_values {
    ($output:ty, $empty:expr) => {
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<$output, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok($empty)
        }

        fn visit_bool<E>(self, _: bool) -> Result<$output, E> {
            Ok($empty)
        }

        fn visit_i64<E>(self, _: i64) -> Result<$output, E> {
            Ok($empty)
        }

        fn visit_u64<E>(self, _: u64) -> Result<$output, E> {
            Ok($empty)
        }

        fn visit_f64<E>(self, _: f64) -> Result<$output, E> {
            Ok($empty)
        }

        fn visit_unit<E>(self) -> Result<$output, E> {
            Ok($empty)
        }
    };
}

struct SpecificVisitor;

impl<'de> Visitor<'de> for SpecificVisitor {
    type Value = Specific;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Specific, A::Error> {
        let mut specific = Specific::default();
        while let Some(key) = map.next_key::<KeyName>()? {
            let slot = match key {
                KeyName::Severity => &mut specific.severity,
                KeyName::Informational => &mut specific.informational,
                KeyName::Other => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            *slot = map.next_value::<StringOrOther>()?.0;
        }
        Ok(specific)
    }

    fn visit_str<E>(self, _: &str) -> Result<Specific, E> {
        Ok(Specific::default())
    }

    ignore_other_values!(Specific, Specific::default());
}

/// A key of a `*_specific` object, as far as the scan cares.
enum KeyName {
    Severity,
    Informational,
    Other,
}

impl<'de> Deserialize<'de> for KeyName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let key = Cow::<'de, str>::deserialize(deserializer)?;
        Ok(match key.as_ref() {
            "severity" => Self::Severity,
            "informational" => Self::Informational,
            _ => Self::Other,
        })
    }
}

/// A string, or `None` for any other JSON value.
struct StringOrOther(Option<String>);

impl<'de> Deserialize<'de> for StringOrOther {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StringOrOtherVisitor)
    }
}

struct StringOrOtherVisitor;

impl<'de> Visitor<'de> for StringOrOtherVisitor {
    type Value = StringOrOther;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_str<E>(self, text: &str) -> Result<StringOrOther, E> {
        Ok(StringOrOther(Some(text.to_owned())))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StringOrOther, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(StringOrOther(None))
    }

    ignore_other_values!(StringOrOther, StringOrOther(None));
}

/// The package an `affected` entry is about.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct AffectedPackage {
    /// The ecosystem, e.g. `crates.io`.
    pub ecosystem: String,
    /// The package name in that ecosystem.
    pub name: String,
    /// The package's purl, without version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
}

/// A range of affected versions, as events.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Range {
    /// `SEMVER`, `ECOSYSTEM` or `GIT`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The repository, for `GIT` ranges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    /// The events, in any order.
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub events: Vec<Event>,
}

/// One range event; the schema requires exactly one field to be set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Event {
    /// The first affected version; `0` means from the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introduced: Option<String>,
    /// The first version no longer affected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed: Option<String>,
    /// The last version still affected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_affected: Option<String>,
    /// An upper bound on the search, for `GIT` ranges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
}

/// A link about an advisory.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
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
        let on_record = informational_of(&self.database_specific);
        let on_entry = || {
            self.affected
                .iter()
                .find_map(|affected| informational_of(&affected.database_specific))
        };
        on_record.or_else(on_entry)
    }

    /// The best link for people: the `ADVISORY` reference, else the first
    /// `WEB` one, else the first of any type.
    pub fn url(&self) -> Option<&str> {
        self.best_reference()
            .map(|at| self.references[at].url.as_str())
    }

    fn best_reference(&self) -> Option<usize> {
        let of_kind = |kind: &str| self.references.iter().position(|r| r.kind == kind);
        of_kind("ADVISORY")
            .or_else(|| of_kind("WEB"))
            .or_else(|| (!self.references.is_empty()).then_some(0))
    }

    /// Drops what nothing reads once the database is named and dated: every
    /// reference but [`Advisory::url`]'s, and `modified`. Matching, and
    /// every report made from it, is the same before and after; an index
    /// file keeps advisories so trimmed, a third smaller.
    pub fn trim(&mut self) {
        let best = self.best_reference();
        self.references = best
            .map(|at| self.references.swap_remove(at))
            .into_iter()
            .collect();
        self.modified = None;
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

fn informational_of(database_specific: &Specific) -> Option<&str> {
    database_specific
        .informational
        .as_deref()
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
    fn trimming_keeps_the_reference_a_finding_links_to_and_nothing_else() {
        let reference = |kind: &str, url: &str| format!(r#"{{"type": "{kind}", "url": "{url}"}}"#);
        let with = |references: &[String]| {
            advisory(&format!(
                r#"{{"id": "X-1", "modified": "2026-01-02T03:04:05Z", "references": [{}]}}"#,
                references.join(",")
            ))
        };
        let cases = [
            (
                vec![
                    reference("WEB", "https://w"),
                    reference("ADVISORY", "https://a"),
                    reference("PACKAGE", "https://p"),
                ],
                Some(("ADVISORY", "https://a")),
            ),
            (
                vec![
                    reference("PACKAGE", "https://p"),
                    reference("WEB", "https://w"),
                ],
                Some(("WEB", "https://w")),
            ),
            (
                vec![
                    reference("PACKAGE", "https://p"),
                    reference("FIX", "https://f"),
                ],
                Some(("PACKAGE", "https://p")),
            ),
            (vec![], None),
        ];
        for (references, kept) in cases {
            let mut advisory = with(&references);
            let url = advisory.url().map(str::to_owned);
            advisory.trim();
            assert_eq!(advisory.url().map(str::to_owned), url);
            let left: Vec<_> = advisory
                .references
                .iter()
                .map(|r| (r.kind.as_str(), r.url.as_str()))
                .collect();
            assert_eq!(left, kept.into_iter().collect::<Vec<_>>());
            assert_eq!(advisory.modified, None);
            assert_eq!(advisory.id, "X-1");
        }
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
    fn only_string_severity_and_informational_are_read_from_specific_objects() {
        let read = |json: &str| serde_json::from_str::<Specific>(json).unwrap();
        assert_eq!(
            read(
                r#"{"imports": [{"path": "x", "symbols": ["A", "B"]}], "severity": "HIGH",
                    "informational": "unsound", "cwe_ids": {"nested": [1, 2.5, null, true]}}"#
            ),
            Specific {
                severity: Some("HIGH".into()),
                informational: Some("unsound".into()),
            }
        );
        // A key holding something else reads as absent; so does a value
        // that is not an object, whatever it is.
        let absent = Specific::default();
        assert_eq!(read(r#"{"severity": {"level": "HIGH"}}"#), absent);
        assert_eq!(
            read(r#"{"severity": ["HIGH"], "informational": 3}"#),
            absent
        );
        for other in [r#""HIGH""#, "[1, {}]", "7", "-7", "0.5", "true", "null"] {
            assert_eq!(read(other), absent, "{other}");
        }
        // Escaped keys are still the keys they spell.
        assert_eq!(
            read(r#"{"sev\u0065rity": "LOW"}"#).severity.as_deref(),
            Some("LOW")
        );
        // Malformed JSON is still an error.
        assert!(serde_json::from_str::<Specific>(r#"{"severity": "HIGH""#).is_err());
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
