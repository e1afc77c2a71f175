//! OSCAL documents for the ATO packet: assessment results and a plan of
//! action and milestones (POA&M).
//!
//! [`assessment_results`] turns what the pipeline learnt about a release
//! (the image, its SBOM, the tests, the open vulnerabilities) into an
//! `assessment-results` document a GRC tool can import: one result whose
//! observations record the test run, each failing test, the scan and each
//! open vulnerability, with the SBOM's packages as components the
//! observations are about, a risk and an OSCAL finding for every open
//! vulnerability (and for failing tests), and the evidence files with
//! their digests as back matter. [`poam`] writes the plan for the same
//! open items.
//!
//! Every UUID is derived from the release's content (the image, SBOM and
//! policy, the findings and the test results), never from the clock or the
//! run id, so the same release gives the same identifiers run after run
//! and only the timestamps differ.
//!
//! The controls assessed are SI-2 (flaw remediation: the scan) and SA-11
//! (developer testing: the tests), named here rather than taken from the
//! policy file.

mod model;
mod parts;
mod poam;
mod results;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

pub use model::*;
pub use poam::poam;
pub use results::assessment_results;

/// The OSCAL version the documents follow: the newest one
/// compliance-trestle's models load, and no older than 1.1.2.
pub const OSCAL_VERSION: &str = "1.2.1";
/// Namespace of the properties Gantry adds.
pub const GANTRY_NS: &str = "urn:gantry:oscal";
/// The control an open vulnerability leaves unsatisfied: NIST SP 800-53
/// SI-2, flaw remediation.
pub const FLAW_REMEDIATION_CONTROL: &str = "si-2";
/// The control failing tests leave unsatisfied: NIST SP 800-53 SA-11,
/// developer testing and evaluation.
pub const DEVELOPER_TESTING_CONTROL: &str = "sa-11";

/// What the packet is about: everything the ATO stage read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Assessment {
    /// The system under assessment, e.g. `Contact Tracing`.
    pub system: String,
    pub policy_id: String,
    pub policy_version: String,
    pub run_id: String,
    /// When the assessment was made, RFC 3339 with a time zone.
    pub timestamp: String,
    pub image: Option<ImageFacts>,
    /// `sha256:…` of the SBOM the scan wrote.
    pub sbom_digest: Option<String>,
    pub tests: Option<TestFacts>,
    /// Open vulnerabilities.
    pub findings: Vec<OpenFinding>,
    /// The packages the SBOM lists.
    pub components: Vec<ComponentFacts>,
    /// The files the packet is evidence of, recorded as back matter.
    pub evidence: Vec<EvidenceFile>,
}

/// The image being released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFacts {
    pub name: String,
    pub version: String,
    /// The manifest digest, `sha256:…`.
    pub digest: String,
}

/// What the test stage reported.
#[derive(Debug, Clone, PartialEq)]
pub struct TestFacts {
    /// The command line, as one string.
    pub command: String,
    pub exit_status: Option<i32>,
    pub timed_out: bool,
    pub passed: u64,
    pub failed: u64,
    pub ignored: u64,
    pub failed_tests: Vec<String>,
    /// Where the report is, e.g. `/in/test/test-report.json`.
    pub report_href: String,
    /// The JUnit totals, when the stage read JUnit reports.
    pub junit: Option<JunitTotals>,
    /// Each failed or errored test, when the stage read JUnit reports.
    pub failures: Vec<TestFailure>,
}

impl TestFacts {
    /// True when the command exited 0 within its time limit and no test
    /// failed.
    pub fn succeeded(&self) -> bool {
        self.exit_status == Some(0) && !self.timed_out && self.failed == 0
    }
}

/// Totals from JUnit reports.
#[derive(Debug, Clone, PartialEq)]
pub struct JunitTotals {
    pub tests: u64,
    pub failures: u64,
    pub errors: u64,
    pub skipped: u64,
    /// Seconds.
    pub time: f64,
}

/// One test that failed (`failure`) or could not run (`error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestFailure {
    /// `failure` or `error`.
    pub outcome: String,
    pub suite: String,
    pub name: String,
    pub classname: String,
    pub message: String,
}

impl TestFailure {
    /// `classname::name`, or the name alone.
    pub fn qualified_name(&self) -> String {
        if self.classname.is_empty() {
            self.name.clone()
        } else {
            format!("{}::{}", self.classname, self.name)
        }
    }
}

/// A vulnerability the scan found and nobody suppressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenFinding {
    /// The advisory id, e.g. `RUSTSEC-2020-0071`.
    pub id: String,
    pub aliases: Vec<String>,
    /// `low`, `medium`, `high`, `critical` or `unknown`.
    pub severity: String,
    /// `name@version`.
    pub package: String,
    pub title: String,
    pub fixed_in: Option<String>,
    pub url: Option<String>,
}

/// A package the SBOM lists.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ComponentFacts {
    pub name: String,
    pub version: String,
    /// The package URL, when the package has one.
    pub purl: Option<String>,
}

impl ComponentFacts {
    /// `name@version`, as findings name their package.
    pub fn key(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}

/// A file the packet is evidence of: the SBOM, the findings, a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceFile {
    /// The artifact's name, e.g. `sbom`.
    pub name: String,
    /// What it is, for people: "CycloneDX SBOM from stage `scan`".
    pub title: String,
    /// Where it is, relative to the packet's own directory.
    pub href: String,
    pub media_type: String,
    /// `sha256:<hex>`.
    pub digest: String,
}

/// A digest of the facts that identify the release; the run id and the
/// timestamp are left out so that the same release keeps the same UUIDs.
fn fingerprint(assessment: &Assessment) -> String {
    let mut facts: BTreeMap<&str, String> = BTreeMap::new();
    facts.insert("system", assessment.system.clone());
    facts.insert(
        "policy",
        format!("{}@{}", assessment.policy_id, assessment.policy_version),
    );
    if let Some(image) = &assessment.image {
        facts.insert("image", image.digest.clone());
    }
    facts.insert("sbom", assessment.sbom_digest.clone().unwrap_or_default());
    let findings: Vec<String> = assessment
        .findings
        .iter()
        .map(|finding| format!("{} {}", finding.id, finding.package))
        .collect();
    facts.insert("findings", findings.join(","));
    if let Some(tests) = &assessment.tests {
        let failed = tests.failed_tests.join(",");
        let counts = format!("{}/{}/{}", tests.passed, tests.failed, tests.ignored);
        facts.insert("tests", format!("{counts} {failed}"));
    }
    let lines: Vec<String> = facts
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    hex::encode(Sha256::digest(lines.join("\n")))
}

/// A UUID made from the sha256 of `parts`, with the version and variant
/// bits of a version 4 UUID so that it matches OSCAL's UUID pattern.
///
/// Version 5 would be the name-based kind, but it is defined on SHA-1; a
/// hash-derived value is as unique as a random one for this use.
pub fn derive_uuid(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    let mut bytes: [u8; 16] = hasher.finalize()[..16].try_into().unwrap_or_default();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Formats seconds since the Unix epoch as RFC 3339 in UTC,
/// `2026-11-03T14:05:09Z`.
pub fn format_timestamp(unix_seconds: u64) -> String {
    let days = unix_seconds / 86_400;
    let seconds = unix_seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    let (hour, minute, second) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
}

/// The proleptic Gregorian date `days` after 1970-01-01, by counting
/// 400-year eras from 0000-03-01 so that leap days fall at the end.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let shifted = days + 719_468;
    let era = shifted / 146_097;
    let day_of_era = shifted % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}
