//! Tests of scanning a small workspace's lockfile against fixture advisories.

use std::path::Path;

use super::*;
use crate::osv::{AdvisoryIndex, FailOn, Severity};
use crate::package::Package;

const APP_LOCK: &str = include_str!("../../../tests/fixtures/app/Cargo.lock");

fn scan_app() -> FindingsReport {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/osv");
    let index = AdvisoryIndex::load_dir(&dir).unwrap();
    let lockfile = Lockfile::parse_cargo_lock("Cargo.lock", APP_LOCK).unwrap();
    scan_lockfiles(&index, &[lockfile])
}

fn index_of(json: &str) -> AdvisoryIndex {
    let mut index = AdvisoryIndex::new();
    index.insert(serde_json::from_str(json).unwrap());
    index
}

fn one_package_lock(name: &str, version: &str) -> Lockfile {
    let text = format!(
        "version = 4\n[[package]]\nname = \"{name}\"\nversion = \"{version}\"\n\
         source = \"registry+https://github.com/rust-lang/crates.io-index\"\n"
    );
    Lockfile::parse_cargo_lock("Cargo.lock", &text).unwrap()
}

#[test]
fn vulnerable_packages_become_findings_most_severe_first() {
    let report = scan_app();
    let found: Vec<(&str, &str, Severity)> = report
        .findings
        .iter()
        .map(|f| (f.id.as_str(), f.package.as_str(), f.severity))
        .collect();
    assert_eq!(
        found,
        [
            ("RUSTSEC-2021-0003", "smallvec@1.6.0", Severity::Critical),
            ("RUSTSEC-2020-0071", "time@0.1.45", Severity::Medium),
            ("RUSTSEC-2026-0009", "time@0.3.20", Severity::Medium),
        ]
    );
}

#[test]
fn findings_carry_score_fix_aliases_and_link() {
    let report = scan_app();
    let smallvec = &report.findings[0];
    assert_eq!(smallvec.score, Some(9.8));
    assert_eq!(smallvec.fixed_in.as_deref(), Some("1.6.1"));
    assert_eq!(smallvec.aliases, ["CVE-2021-25900", "GHSA-43w2-9j62-hq99"]);
    assert_eq!(
        smallvec.url.as_deref(),
        Some("https://rustsec.org/advisories/RUSTSEC-2021-0003.html")
    );
    let time = &report.findings[1];
    assert_eq!(time.score, Some(6.2));
    assert_eq!(time.fixed_in.as_deref(), Some("0.2.0"));
}

#[test]
fn a_cvss_v4_only_advisory_is_scored_by_v4() {
    let report = scan_app();
    let v4 = &report.findings[2];
    assert_eq!(v4.id, "RUSTSEC-2026-0009");
    assert_eq!(v4.severity, Severity::Medium);
    assert_eq!(v4.score, Some(6.8));
    assert!(v4.cvss.as_deref().unwrap().starts_with("CVSS:4.0/"));
    assert_eq!(v4.fixed_in.as_deref(), Some("0.3.47"));
}

#[test]
fn informational_advisories_are_warnings_not_findings() {
    let report = scan_app();
    assert_eq!(report.warnings.len(), 1);
    let warning = &report.warnings[0];
    assert_eq!(warning.id, "RUSTSEC-2021-0139");
    assert_eq!(warning.kind, "unmaintained");
    assert_eq!(warning.package, "ansi_term@0.12.1");
    assert!(!report.findings.iter().any(|f| f.id == warning.id));
}

#[test]
fn counts_and_blocking_follow_the_threshold() {
    let report = scan_app();
    assert_eq!(report.counts.critical, 1);
    assert_eq!(report.counts.medium, 2);
    assert_eq!(report.counts.unknown, 0);
    assert_eq!(report.counts_text(), "1 critical, 2 medium");

    let blocking = |fail_on: &str| report.blocking(fail_on.parse::<FailOn>().unwrap()).count();
    assert_eq!(blocking("critical"), 1);
    assert_eq!(blocking("medium"), 3);
    assert_eq!(blocking("low"), 3);
    assert_eq!(blocking("none"), 0);
}

#[test]
fn git_and_local_packages_are_not_matched_against_crates_io() {
    let json = r#"{"id": "X-1", "affected": [
        {"package": {"ecosystem": "crates.io", "name": "forked"},
         "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}]},
        {"package": {"ecosystem": "crates.io", "name": "helper"},
         "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}]}]}"#;
    let lockfile = Lockfile::parse_cargo_lock("Cargo.lock", APP_LOCK).unwrap();
    let report = scan_lockfiles(&index_of(json), &[lockfile]);
    assert!(report.findings.is_empty());
}

#[test]
fn a_package_in_two_lockfiles_is_reported_once() {
    let lockfiles = [
        Lockfile::parse_cargo_lock("a/Cargo.lock", APP_LOCK).unwrap(),
        Lockfile::parse_cargo_lock("b/Cargo.lock", APP_LOCK).unwrap(),
    ];
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/osv");
    let index = AdvisoryIndex::load_dir(&dir).unwrap();
    assert_eq!(scan_lockfiles(&index, &lockfiles).findings.len(), 3);
}

#[test]
fn a_package_specific_score_wins_over_the_advisory_score() {
    let json = r#"{"id": "X-1",
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
        "affected": [{"package": {"ecosystem": "crates.io", "name": "a"},
         "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:L/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:H"}],
         "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}]}]}"#;
    let report = scan_lockfiles(&index_of(json), &[one_package_lock("a", "1.0.0")]);
    assert_eq!(report.findings[0].severity, Severity::Medium);
    assert_eq!(report.findings[0].score, Some(5.1));
}

#[test]
fn a_malformed_vector_is_reported_and_leaves_the_severity_unknown() {
    let json = r#"{"id": "X-1",
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L"}],
        "affected": [{"package": {"ecosystem": "crates.io", "name": "a"},
         "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}]}]}"#;
    let report = scan_lockfiles(&index_of(json), &[one_package_lock("a", "1.0.0")]);
    assert_eq!(report.findings[0].severity, Severity::Unknown);
    assert_eq!(report.problems.len(), 1);
    assert!(
        report.problems[0].contains("missing base metric `PR`"),
        "{:?}",
        report.problems
    );
}

#[test]
fn data_problems_of_scanned_packages_are_reported() {
    let json = r#"{"id": "X-1", "affected": [{"package": {"ecosystem": "crates.io", "name": "a"},
         "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "2"}]}]}]}"#;
    let index = index_of(json);
    let report = scan_lockfiles(&index, &[one_package_lock("a", "1.0.0")]);
    assert!(report.findings.is_empty());
    assert_eq!(report.problems.len(), 1);
    assert!(report.problems[0].contains("`2` is not a SemVer version"));
    let other = scan_lockfiles(&index, &[one_package_lock("b", "1.0.0")]);
    assert!(other.problems.is_empty());
}

#[test]
fn findings_json_uses_kebab_case_keys() {
    let json = scan_app().to_json().unwrap();
    assert!(json.contains("\"fixed-in\": \"1.6.1\""), "{json}");
    let back: FindingsReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, scan_app());
}

fn inventory_of(packages: Vec<Package>) -> Inventory {
    let mut inventory = Inventory::new("lockfile", "test", b"");
    inventory.packages = packages;
    inventory
}

#[test]
fn only_registry_packages_of_the_advisory_ecosystem_are_matched() {
    let json = r#"{"id": "PYSEC-1", "affected": [
        {"package": {"ecosystem": "PyPI", "name": "requests"},
         "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0"}]}]}]}"#;
    let index = index_of(json);
    let registry = Package::new(Ecosystem::PyPi, "Requests", "1.0");
    let mut forked = Package::new(Ecosystem::PyPi, "requests", "1.1");
    forked.origin = Origin::Vcs {
        url: "https://example.com/requests".into(),
        commit: None,
    };
    let same_name_crate = Package::new(Ecosystem::CratesIo, "requests", "1.2.0");
    let report = scan_inventories(
        &index,
        &[inventory_of(vec![registry, forked, same_name_crate])],
    );
    let found: Vec<(&str, &str)> = report
        .findings
        .iter()
        .map(|f| (f.id.as_str(), f.package.as_str()))
        .collect();
    assert_eq!(found, [("PYSEC-1", "Requests@1.0")]);
}

#[test]
fn spellings_of_one_pypi_package_in_two_inventories_are_checked_once() {
    let json = r#"{"id": "PYSEC-2", "affected": [
        {"package": {"ecosystem": "PyPI", "name": "zope.interface"},
         "versions": ["4.0"]}]}"#;
    let index = index_of(json);
    let report = scan_inventories(
        &index,
        &[
            inventory_of(vec![Package::new(Ecosystem::PyPi, "zope.interface", "4.0")]),
            inventory_of(vec![Package::new(Ecosystem::PyPi, "Zope-Interface", "4.0")]),
        ],
    );
    assert_eq!(report.findings.len(), 1);
    assert_eq!(report.findings[0].package, "zope.interface@4.0");
}
