//! Every OSV matching rule, one fixture each.
//!
//! Each folder under `tests/fixtures/osv-rules/` holds the advisories of
//! one rule in `osv/` and an `expected.json`:
//!
//! ```json
//! {
//!   "rule": "`last_affected` is inclusive and names no fix",
//!   "ecosystem": "crates.io",
//!   "package": "demo",
//!   "withdrawn": 0,
//!   "cases": [
//!     {"version": "1.4.2", "finding": "FIX-LAST-1", "fixed-in": null},
//!     {"version": "1.4.3", "finding": null},
//!     {"version": "1.0", "finding": null, "problem": "is not a SemVer version"}
//!   ]
//! }
//! ```
//!
//! Each case scans one registry package (`package` may be overridden per
//! case) and checks that the scan finds exactly the advisory named in
//! `finding` (or the sorted ids in `findings`, or nothing for `null`). When
//! given, `aliases`, `fixed-in` and `severity` of the single finding are
//! compared too, and `problem` must appear in a reported problem; without
//! `problem`, the scan must report none. Every fixture needs a case that
//! matches and one that does not, so no rule passes by matching nothing or
//! everything.

use std::path::{Path, PathBuf};

use gantry_plugin_core::osv::{AdvisoryIndex, FindingsReport, scan_inventories};
use gantry_plugin_core::package::{Ecosystem, Inventory, Package};
use serde_json::Value;

fn fixture_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/osv-rules");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn scan_one(
    index: &AdvisoryIndex,
    ecosystem: Ecosystem,
    name: &str,
    version: &str,
) -> FindingsReport {
    let mut inventory = Inventory::new("lockfile", "test", b"");
    inventory
        .packages
        .push(Package::new(ecosystem, name, version));
    scan_inventories(index, &[inventory])
}

/// Checks one case; returns whether it expected a finding.
fn check_case(
    rule: &str,
    index: &AdvisoryIndex,
    ecosystem: Ecosystem,
    default_package: &str,
    case: &Value,
) -> bool {
    let version = case["version"].as_str().unwrap();
    let package = case["package"].as_str().unwrap_or(default_package);
    let report = scan_one(index, ecosystem, package, version);
    let context = format!("{rule}: {package}@{version}: {report:#?}");

    let found: Vec<&str> = report.findings.iter().map(|f| f.id.as_str()).collect();
    let expected: Vec<&str> = match (&case["finding"], &case["findings"]) {
        (Value::String(id), _) => vec![id.as_str()],
        (_, Value::Array(ids)) => ids.iter().map(|id| id.as_str().unwrap()).collect(),
        _ => Vec::new(),
    };
    let mut sorted = found.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, expected, "{context}");

    if let Some(aliases) = case.get("aliases") {
        let aliases: Vec<&str> = aliases
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(report.findings[0].aliases, aliases, "{context}");
    }
    if let Some(fixed_in) = case.get("fixed-in") {
        assert_eq!(
            report.findings[0].fixed_in.as_deref(),
            fixed_in.as_str(),
            "{context}"
        );
    }
    if let Some(severity) = case.get("severity") {
        assert_eq!(
            report.findings[0].severity.as_str(),
            severity.as_str().unwrap(),
            "{context}"
        );
    }
    match case["problem"].as_str() {
        Some(problem) => assert!(
            report.problems.iter().any(|p| p.contains(problem)),
            "{context}"
        ),
        None => assert!(report.problems.is_empty(), "{context}"),
    }
    !expected.is_empty()
}

#[test]
fn every_osv_rule_matches_its_controls_and_only_them() {
    let dirs = fixture_dirs();
    assert!(dirs.len() >= 20, "fixtures missing: {dirs:?}");
    for dir in dirs {
        let text = std::fs::read_to_string(dir.join("expected.json")).unwrap();
        let expected: Value = serde_json::from_str(&text).unwrap();
        let rule = format!(
            "{} ({})",
            dir.file_name().unwrap().to_string_lossy(),
            expected["rule"].as_str().unwrap()
        );
        let ecosystem = Ecosystem::from_osv_name(expected["ecosystem"].as_str().unwrap()).unwrap();
        let package = expected["package"].as_str().unwrap();
        let index = AdvisoryIndex::load_dir(&dir.join("osv")).unwrap();
        let withdrawn = expected["withdrawn"].as_u64().unwrap_or(0);
        assert_eq!(index.withdrawn() as u64, withdrawn, "{rule}");

        let cases = expected["cases"].as_array().unwrap();
        let outcomes: Vec<bool> = cases
            .iter()
            .map(|case| check_case(&rule, &index, ecosystem, package, case))
            .collect();
        assert!(outcomes.contains(&true), "{rule}: no case that must match");
        assert!(
            outcomes.contains(&false),
            "{rule}: no case that must not match"
        );
    }
}
