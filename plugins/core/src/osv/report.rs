//! Findings, warnings and the `findings.json` document.
//!
//! `findings.json` is a [`FindingsReport`] serialized as JSON:
//!
//! ```json
//! {
//!   "findings": [{"id": "RUSTSEC-2021-0003", "aliases": ["CVE-2021-25900"],
//!                 "severity": "critical", "score": 9.8,
//!                 "cvss": "CVSS:3.1/AV:N/…", "package": "smallvec@1.6.0",
//!                 "title": "…", "fixed-in": "1.6.1", "url": "https://…"}],
//!   "counts": {"critical": 1, "high": 0, "medium": 0, "low": 0, "unknown": 0},
//!   "warnings": [{"id": "RUSTSEC-2021-0139", "kind": "unmaintained",
//!                 "package": "ansi_term@0.12.1", "title": "…", "url": "…"}],
//!   "problems": ["advisory `…`, package `…`: invalid version `1.2` …"],
//!   "unreadable": [{"path": "web/package-lock.json",
//!                   "reason": "failed to parse …"}],
//!   "database": {"source": "dir", "location": "/mnt/osv",
//!                "digest": "sha256:…", "advisories": 7,
//!                "snapshot": "2026-02-06T09:12:16Z"}
//! }
//! ```
//!
//! Findings come most severe first; `score` and `cvss` are absent when the
//! advisory has no CVSS vector, and `fixed-in` and `url` when unknown.
//! Keys are kebab-case, like the other stages' reports.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::database::DatabaseInfo;
use crate::cvss::Rating;

/// How bad a finding is, ordered from `Unknown` to `Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Nothing said how severe it is: no CVSS vector and no severity word.
    Unknown,
    /// CVSS 0.0 to 3.9.
    Low,
    /// CVSS 4.0 to 6.9.
    Medium,
    /// CVSS 7.0 to 8.9.
    High,
    /// CVSS 9.0 to 10.0.
    Critical,
}

impl Severity {
    /// Every severity, most severe first.
    pub const DESCENDING: [Self; 5] = [
        Self::Critical,
        Self::High,
        Self::Medium,
        Self::Low,
        Self::Unknown,
    ];

    /// The lower-case name, as in `findings.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

impl From<Rating> for Severity {
    /// A 0.0 score (`none`) counts as `low`: an advisory was still
    /// published about the package.
    fn from(rating: Rating) -> Self {
        match rating {
            Rating::None | Rating::Low => Self::Low,
            Rating::Medium => Self::Medium,
            Rating::High => Self::High,
            Rating::Critical => Self::Critical,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The severity from which findings block a run: the scan's `fail-on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    /// `none`: findings never block.
    Never,
    /// Findings at or above this severity block.
    AtLeast(Severity),
}

impl FailOn {
    /// Whether a finding of `severity` blocks.
    ///
    /// `low`, the strictest threshold, blocks every finding, including those
    /// of unknown severity: an advisory without a score is not known to be
    /// harmless. Higher thresholds let unknown findings through, reported
    /// but not blocking.
    pub fn blocks(self, severity: Severity) -> bool {
        match self {
            Self::Never => false,
            Self::AtLeast(Severity::Low) => true,
            Self::AtLeast(threshold) => severity >= threshold,
        }
    }
}

impl FromStr for FailOn {
    type Err = String;

    /// Reads `none`, `low`, `medium`, `high` or `critical`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let threshold = match text {
            "none" => return Ok(Self::Never),
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            other => {
                return Err(format!(
                    "unknown severity `{other}`; expected none, low, medium, high or critical"
                ));
            }
        };
        Ok(Self::AtLeast(threshold))
    }
}

impl fmt::Display for FailOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Never => f.write_str("none"),
            Self::AtLeast(severity) => severity.fmt(f),
        }
    }
}

/// A vulnerability affecting one locked package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Finding {
    /// The advisory id, e.g. `RUSTSEC-2021-0003`.
    pub id: String,
    /// Every other id of the vulnerability: the aliases of the advisory and
    /// of each advisory merged into this finding, and those advisories' ids.
    pub aliases: Vec<String>,
    /// The severity scored from the CVSS vector, or the database's word.
    pub severity: Severity,
    /// The CVSS score (v4.0 preferred, else v3.x), when there is a vector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// The CVSS vector scored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvss: Option<String>,
    /// The affected package as `name@version`.
    pub package: String,
    /// The advisory's summary.
    pub title: String,
    /// The first version after this one that is fixed, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_in: Option<String>,
    /// A link to the advisory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// An informational advisory about a locked package: not a vulnerability,
/// never a finding, never blocking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Warning {
    /// The advisory id.
    pub id: String,
    /// `unmaintained`, `unsound`, `notice`, or another kind the database
    /// uses.
    pub kind: String,
    /// The package as `name@version`.
    pub package: String,
    /// The advisory's summary.
    pub title: String,
    /// A link to the advisory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// How many findings there are of each severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeverityCounts {
    /// Critical findings.
    pub critical: usize,
    /// High findings.
    pub high: usize,
    /// Medium findings.
    pub medium: usize,
    /// Low findings.
    pub low: usize,
    /// Findings without a score.
    pub unknown: usize,
}

impl SeverityCounts {
    /// Counts `findings`.
    pub fn of(findings: &[Finding]) -> Self {
        let mut counts = Self::default();
        for finding in findings {
            *counts.slot(finding.severity) += 1;
        }
        counts
    }

    /// The count for `severity`.
    pub fn get(&self, severity: Severity) -> usize {
        match severity {
            Severity::Unknown => self.unknown,
            Severity::Low => self.low,
            Severity::Medium => self.medium,
            Severity::High => self.high,
            Severity::Critical => self.critical,
        }
    }

    fn slot(&mut self, severity: Severity) -> &mut usize {
        match severity {
            Severity::Unknown => &mut self.unknown,
            Severity::Low => &mut self.low,
            Severity::Medium => &mut self.medium,
            Severity::High => &mut self.high,
            Severity::Critical => &mut self.critical,
        }
    }
}

/// The result of a scan, as written to `findings.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct FindingsReport {
    /// Vulnerabilities, most severe first, then by id and package.
    pub findings: Vec<Finding>,
    /// How many findings of each severity.
    pub counts: SeverityCounts,
    /// Informational advisories, by id and package.
    pub warnings: Vec<Warning>,
    /// Parts of the advisory data that could not be used.
    pub problems: Vec<String>,
    /// Inputs of the scan that could not be read or used, each naming the
    /// file or directory; reported, never skipped silently.
    #[serde(default)]
    pub unreadable: Vec<Unreadable>,
    /// The advisory data matched against: source, digest, snapshot date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<DatabaseInfo>,
}

/// A lockfile, directory or lockfile entry the scan could not read or use.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Unreadable {
    /// The file or directory, relative to the workspace.
    pub path: String,
    /// What went wrong, naming the entry and line where known.
    pub reason: String,
}

impl FindingsReport {
    /// The findings that block at `fail_on`.
    pub fn blocking(&self, fail_on: FailOn) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(move |finding| fail_on.blocks(finding.severity))
    }

    /// The counts as `1 critical, 2 medium`, most severe first, leaving out
    /// zeros; empty when there are no findings.
    pub fn counts_text(&self) -> String {
        Severity::DESCENDING
            .iter()
            .filter(|&&severity| self.counts.get(severity) > 0)
            .map(|&severity| format!("{} {severity}", self.counts.get(severity)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The report as pretty-printed JSON with a trailing newline.
    ///
    /// # Errors
    ///
    /// Only if serialization itself fails, which these types never cause.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        let mut json = serde_json::to_string_pretty(self)?;
        json.push('\n');
        Ok(json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(id: &str, severity: Severity) -> Finding {
        Finding {
            id: id.into(),
            aliases: Vec::new(),
            severity,
            score: None,
            cvss: None,
            package: "x@1.0.0".into(),
            title: String::new(),
            fixed_in: None,
            url: None,
        }
    }

    #[test]
    fn severities_order_from_unknown_to_critical() {
        assert!(Severity::Unknown < Severity::Low);
        assert!(Severity::Low < Severity::Medium);
        assert!(Severity::High < Severity::Critical);
    }

    #[test]
    fn a_zero_score_counts_as_low() {
        assert_eq!(Severity::from(Rating::None), Severity::Low);
        assert_eq!(Severity::from(Rating::Critical), Severity::Critical);
    }

    #[test]
    fn fail_on_blocks_at_or_above_its_threshold() {
        let high: FailOn = "high".parse().unwrap();
        assert!(high.blocks(Severity::Critical));
        assert!(high.blocks(Severity::High));
        assert!(!high.blocks(Severity::Medium));
        assert!(!high.blocks(Severity::Unknown));
    }

    #[test]
    fn fail_on_low_blocks_unknown_severities_too() {
        let low: FailOn = "low".parse().unwrap();
        assert!(low.blocks(Severity::Unknown));
        assert!(low.blocks(Severity::Low));
    }

    #[test]
    fn fail_on_none_never_blocks() {
        let never: FailOn = "none".parse().unwrap();
        assert!(!never.blocks(Severity::Critical));
        assert_eq!(never.to_string(), "none");
    }

    #[test]
    fn unknown_thresholds_are_refused_with_the_choices() {
        let err = "severe".parse::<FailOn>().unwrap_err();
        assert!(err.contains("unknown severity `severe`"), "{err}");
        assert!("Critical".parse::<FailOn>().is_err());
    }

    #[test]
    fn counts_text_lists_nonzero_counts_most_severe_first() {
        let findings = vec![
            finding("A", Severity::Medium),
            finding("B", Severity::Critical),
            finding("C", Severity::Medium),
        ];
        let report = FindingsReport {
            counts: SeverityCounts::of(&findings),
            findings,
            ..FindingsReport::default()
        };
        assert_eq!(report.counts_text(), "1 critical, 2 medium");
        assert_eq!(FindingsReport::default().counts_text(), "");
    }

    #[test]
    fn the_report_round_trips_through_json() {
        let findings = vec![finding("A", Severity::High)];
        let report = FindingsReport {
            counts: SeverityCounts::of(&findings),
            findings,
            ..FindingsReport::default()
        };
        let json = report.to_json().unwrap();
        assert!(json.contains("\"severity\": \"high\""), "{json}");
        assert!(!json.contains("fixed-in"), "{json}");
        let back: FindingsReport = serde_json::from_str(&json).unwrap();
        assert_eq!(back, report);
    }
}
