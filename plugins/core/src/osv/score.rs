//! How severe an advisory is, from the most precise source it has.
//!
//! The sources, best first:
//!
//! 1. a `CVSS_V4` vector, scored by CVSS v4.0;
//! 2. a `CVSS_V3` vector, scored by CVSS v3.x;
//! 3. a severity word (`CRITICAL`, `HIGH`, `MODERATE` or `MEDIUM`, `LOW`)
//!    the database adds under `ecosystem_specific.severity` or
//!    `database_specific.severity`, as GitHub's advisories do.
//!
//! v4 comes first because it is the newer and finer-grained model, and a
//! database that bothered to add it alongside v3 meant it to be read. At
//! each level the affected package's own entry is read before the whole
//! advisory's. A vector that does not parse is reported and the next one
//! tried; a severity word is a fallback only, so it never overrides a
//! vector. An advisory with none of these is of unknown severity.

use super::report::Severity;
use super::schema::{Advisory, Affected, SeverityScore};
use crate::cvss::{self, Rating};

/// Where a severity came from, least precise first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Source {
    /// Nothing said how severe it is.
    Nothing,
    /// A severity word from `ecosystem_specific` or `database_specific`.
    Word,
    /// A CVSS v3.x vector.
    CvssV3,
    /// A CVSS v4.0 vector.
    CvssV4,
}

/// An advisory's severity and what it was taken from.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Scored {
    pub severity: Severity,
    pub source: Source,
    /// The CVSS score, when a vector was scored.
    pub score: Option<f64>,
    /// The vector scored.
    pub vector: Option<String>,
    /// Vectors or words that could not be read, one message each.
    pub problems: Vec<String>,
}

impl Scored {
    /// Orders by source, then severity, then score: the better of two
    /// advisories about one vulnerability is the one that says more.
    pub fn rank(&self) -> (Source, Severity, u32) {
        let tenths = self.score.map_or(0, |score| (score * 10.0).round() as u32);
        (self.source, self.severity, tenths)
    }
}

/// Scores `advisory` for its `affected` entry.
pub(super) fn score(advisory: &Advisory, affected: &Affected) -> Scored {
    let vectors: Vec<&SeverityScore> = affected.severity.iter().chain(&advisory.severity).collect();
    let mut problems = Vec::new();
    for (kind, source) in [("CVSS_V4", Source::CvssV4), ("CVSS_V3", Source::CvssV3)] {
        for entry in vectors.iter().filter(|entry| entry.kind == kind) {
            let scored = match source {
                Source::CvssV4 => cvss::score_v4(&entry.score),
                _ => cvss::base_score(&entry.score),
            };
            match scored {
                Ok(score) => {
                    return Scored {
                        severity: Severity::from(Rating::from_score(score)),
                        source,
                        score: Some(score.value()),
                        vector: Some(entry.score.clone()),
                        problems,
                    };
                }
                Err(error) => problems.push(error.to_string()),
            }
        }
    }
    let (severity, source) = match severity_word(advisory, affected, &mut problems) {
        Some(severity) => (severity, Source::Word),
        None => (Severity::Unknown, Source::Nothing),
    };
    Scored {
        severity,
        source,
        score: None,
        vector: None,
        problems,
    }
}

/// The first severity word of the entry's `ecosystem_specific`, its
/// `database_specific`, or the advisory's `database_specific`.
fn severity_word(
    advisory: &Advisory,
    affected: &Affected,
    problems: &mut Vec<String>,
) -> Option<Severity> {
    let places = [
        ("ecosystem_specific", &affected.ecosystem_specific),
        ("database_specific", &affected.database_specific),
        ("database_specific", &advisory.database_specific),
    ];
    for (place, value) in places {
        let Some(word) = value.severity.as_deref() else {
            continue;
        };
        match parse_word(word) {
            Some(severity) => return Some(severity),
            None => problems.push(format!("unknown severity `{word}` in `{place}`")),
        }
    }
    None
}

fn parse_word(word: &str) -> Option<Severity> {
    match word.to_ascii_uppercase().as_str() {
        "CRITICAL" => Some(Severity::Critical),
        "HIGH" => Some(Severity::High),
        "MODERATE" | "MEDIUM" => Some(Severity::Medium),
        "LOW" => Some(Severity::Low),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V3_CRITICAL: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H";
    const V4_MEDIUM: &str = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N";

    fn scored(json: &str) -> Scored {
        let advisory: Advisory = serde_json::from_str(json).unwrap();
        score(&advisory, &advisory.affected[0])
    }

    #[test]
    fn a_v4_vector_is_preferred_to_a_v3_one() {
        let both = scored(&format!(
            r#"{{"id": "X-1", "affected": [{{}}], "severity": [
                {{"type": "CVSS_V3", "score": "{V3_CRITICAL}"}},
                {{"type": "CVSS_V4", "score": "{V4_MEDIUM}"}}]}}"#
        ));
        assert_eq!(both.source, Source::CvssV4);
        assert_eq!(both.severity, Severity::Medium);
        assert_eq!(both.score, Some(6.9));
        assert_eq!(both.vector.as_deref(), Some(V4_MEDIUM));
    }

    #[test]
    fn the_package_vector_is_preferred_to_the_advisory_one() {
        let own = scored(&format!(
            r#"{{"id": "X-1",
                "affected": [{{"severity": [{{"type": "CVSS_V3", "score": "{V3_CRITICAL}"}}]}}],
                "severity": [{{"type": "CVSS_V3",
                    "score": "CVSS:3.1/AV:N/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N"}}]}}"#
        ));
        assert_eq!(own.severity, Severity::Critical);
        assert_eq!(own.score, Some(9.8));
    }

    #[test]
    fn a_vector_that_does_not_parse_is_reported_and_the_next_used() {
        let next = scored(&format!(
            r#"{{"id": "X-1", "affected": [{{}}], "severity": [
                {{"type": "CVSS_V4", "score": "CVSS:4.0/AV:N"}},
                {{"type": "CVSS_V3", "score": "{V3_CRITICAL}"}}]}}"#
        ));
        assert_eq!(next.source, Source::CvssV3);
        assert_eq!(next.problems.len(), 1);
        assert!(
            next.problems[0].contains("CVSS:4.0/AV:N"),
            "{:?}",
            next.problems
        );
    }

    #[test]
    fn a_severity_word_is_only_a_fallback() {
        let word = scored(
            r#"{"id": "GHSA-x", "affected": [{}],
                "database_specific": {"severity": "MODERATE"}}"#,
        );
        assert_eq!(
            (word.source, word.severity),
            (Source::Word, Severity::Medium)
        );
        assert_eq!(word.score, None);

        let vector_wins = scored(&format!(
            r#"{{"id": "GHSA-x", "affected": [{{}}],
                "severity": [{{"type": "CVSS_V3", "score": "{V3_CRITICAL}"}}],
                "database_specific": {{"severity": "LOW"}}}}"#
        ));
        assert_eq!(vector_wins.severity, Severity::Critical);
    }

    #[test]
    fn the_ecosystem_specific_word_comes_before_the_database_ones() {
        let word = scored(
            r#"{"id": "X-1", "affected": [{"ecosystem_specific": {"severity": "HIGH"}}],
                "database_specific": {"severity": "LOW"}}"#,
        );
        assert_eq!(word.severity, Severity::High);
    }

    #[test]
    fn unknown_words_are_reported_and_nothing_is_unknown() {
        let odd = scored(
            r#"{"id": "X-1", "affected": [{}], "database_specific": {"severity": "SEVERE"}}"#,
        );
        assert_eq!(
            (odd.source, odd.severity),
            (Source::Nothing, Severity::Unknown)
        );
        assert!(odd.problems[0].contains("unknown severity `SEVERE`"));
        let nothing = scored(r#"{"id": "X-1", "affected": [{}]}"#);
        assert!(nothing.problems.is_empty());
        assert_eq!(nothing.severity, Severity::Unknown);
    }
}
