//! Matching locked packages against an advisory index.

use std::collections::BTreeSet;

use semver::Version;

use super::index::AdvisoryIndex;
use super::report::{Finding, FindingsReport, Severity, SeverityCounts, Warning};
use super::schema::{Advisory, SeverityScore};
use crate::cvss::{self, Rating};
use crate::lockfile::{Lockfile, PackageSource};

/// Checks every crates.io package of `lockfiles` against `index`.
///
/// Only packages whose source is crates.io are checked: a git or
/// other-registry package that shares a crate's name is a different
/// package, and local packages are not published. A package listed by
/// several lockfiles is checked once.
///
/// Each matching advisory becomes a [`Finding`], or a [`Warning`] when the
/// advisory is informational. Its severity is the CVSS v3 base score's
/// rating, preferring a score given for the affected package over one for
/// the whole advisory; an advisory with no v3 vector is of unknown severity.
/// Data problems of the checked packages' advisories, and vectors that do
/// not parse, are listed in the report's `problems`.
pub fn scan_lockfiles(index: &AdvisoryIndex, lockfiles: &[Lockfile]) -> FindingsReport {
    let mut report = FindingsReport::default();
    let mut problems = BTreeSet::new();
    for (name, version) in crates_io_packages(lockfiles) {
        problems.extend(index.problems_for(name).iter().map(ToString::to_string));
        for (advisory, fixed_in) in index.matching(name, version) {
            let package = format!("{name}@{version}");
            match advisory.informational() {
                Some(kind) => report.warnings.push(warning(advisory, kind, package)),
                None => {
                    let (finding, problem) = finding(advisory, name, package, fixed_in);
                    report.findings.push(finding);
                    problems.extend(problem);
                }
            }
        }
    }
    sort_report(&mut report);
    report.counts = SeverityCounts::of(&report.findings);
    report.problems = problems.into_iter().collect();
    report
}

fn crates_io_packages(lockfiles: &[Lockfile]) -> BTreeSet<(&str, &Version)> {
    lockfiles
        .iter()
        .flat_map(|lockfile| &lockfile.packages)
        .filter(|package| package.source == PackageSource::CratesIo)
        .map(|package| (package.name.as_str(), &package.version))
        .collect()
}

fn warning(advisory: &Advisory, kind: &str, package: String) -> Warning {
    Warning {
        id: advisory.id.clone(),
        kind: kind.to_owned(),
        package,
        title: advisory.title().to_owned(),
        url: advisory.url().map(str::to_owned),
    }
}

/// The finding, and a problem message when a CVSS vector did not parse.
fn finding(
    advisory: &Advisory,
    name: &str,
    package: String,
    fixed_in: Option<Version>,
) -> (Finding, Option<String>) {
    let scored = score(advisory, name);
    let problem = scored
        .error
        .map(|error| format!("advisory `{}`, package `{name}`: {error}", advisory.id));
    let finding = Finding {
        id: advisory.id.clone(),
        aliases: advisory.aliases.clone(),
        severity: scored.severity,
        score: scored.score,
        cvss: scored.vector,
        package,
        title: advisory.title().to_owned(),
        fixed_in: fixed_in.map(|version| version.to_string()),
        url: advisory.url().map(str::to_owned),
    };
    (finding, problem)
}

/// What the advisory's CVSS vectors say.
struct Scored {
    severity: Severity,
    score: Option<f64>,
    vector: Option<String>,
    /// The first vector that did not parse, if any.
    error: Option<cvss::CvssError>,
}

/// Scores the first CVSS v3 vector that parses: the affected package's
/// own, then the advisory's. TODO(#4): score `CVSS_V4` vectors, which
/// leave the severity unknown for now.
fn score(advisory: &Advisory, name: &str) -> Scored {
    let for_package = advisory
        .affected
        .iter()
        .filter(|affected| affected.package.as_ref().is_some_and(|p| p.name == name))
        .flat_map(|affected| &affected.severity);
    let vectors = for_package
        .chain(&advisory.severity)
        .filter(|entry: &&SeverityScore| entry.kind == "CVSS_V3");
    let mut error = None;
    for entry in vectors {
        match cvss::base_score(&entry.score) {
            Ok(score) => {
                return Scored {
                    severity: Severity::from(Rating::from_score(score)),
                    score: Some(score.value()),
                    vector: Some(entry.score.clone()),
                    error,
                };
            }
            Err(parse_error) => error = error.or(Some(parse_error)),
        }
    }
    Scored {
        severity: Severity::Unknown,
        score: None,
        vector: None,
        error,
    }
}

fn sort_report(report: &mut FindingsReport) {
    report.findings.sort_by(|a, b| {
        let by_name = || (&a.id, &a.package).cmp(&(&b.id, &b.package));
        b.severity.cmp(&a.severity).then_with(by_name)
    });
    report
        .warnings
        .sort_by(|a, b| (&a.id, &a.package).cmp(&(&b.id, &b.package)));
}

#[cfg(test)]
mod tests;
