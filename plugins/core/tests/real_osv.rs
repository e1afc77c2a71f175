//! Checks of the matcher against a real OSV database, run by hand.
//!
//! ```text
//! GANTRY_OSV_DIR=<osv> cargo test -p gantry-plugin-core \
//!     --test real_osv -- --ignored --nocapture
//! ```
//!
//! `<osv>` holds one folder per ecosystem (`crates.io/`, `PyPI/`, `Go/`,
//! `npm/`), or advisories of any ecosystem in any layout. The first test
//! scans this repository's `Cargo.lock`, the plugins' `Cargo.lock`, every
//! lockfile among the fixtures and the lockfiles named in
//! `GANTRY_LOCKFILES` (separated by `:`), and prints what it found. The
//! second checks the ranges of every advisory against the `versions` list
//! the same advisory gives. Without `GANTRY_OSV_DIR` both do nothing, so
//! they never depend on data a fresh clone lacks.

use std::path::{Path, PathBuf};

use gantry_plugin_core::lockfile::{self, Format};
use gantry_plugin_core::osv::{Advisory, AdvisoryIndex, scan_inventories};
use gantry_plugin_core::package::{Ecosystem, Inventory};

fn osv_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("GANTRY_OSV_DIR");
    if dir.is_none() {
        eprintln!("GANTRY_OSV_DIR is not set; skipping");
    }
    dir.map(PathBuf::from)
}

fn lockfile_paths() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut paths = vec![root.join("Cargo.lock"), root.join("plugins/Cargo.lock")];
    collect_lockfiles(&root.join("plugins/core/tests/fixtures"), &mut paths);
    if let Some(extra) = std::env::var_os("GANTRY_LOCKFILES") {
        paths.extend(std::env::split_paths(&extra));
    }
    paths
}

fn collect_lockfiles(dir: &Path, paths: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            collect_lockfiles(&path, paths);
        } else if Format::detect(&name).is_some() {
            paths.push(path);
        }
    }
}

fn read_inventories() -> Vec<Inventory> {
    let mut inventories = Vec::new();
    for path in lockfile_paths() {
        match lockfile::read(&path) {
            Ok(inventory) => inventories.push(inventory),
            // Fixtures of bad lockfiles are meant not to read.
            Err(error) => eprintln!("not read: {}: {error}", path.display()),
        }
    }
    inventories
}

#[test]
#[ignore = "needs a real OSV database in GANTRY_OSV_DIR"]
fn real_lockfiles_scan_against_every_ecosystem_of_a_real_database() {
    let Some(dir) = osv_dir() else { return };
    let index = AdvisoryIndex::load_dir(&dir).unwrap();
    eprintln!(
        "{} advisories loaded, {} withdrawn skipped, {} data problems",
        index.len(),
        index.withdrawn(),
        index.problems().len()
    );
    for ecosystem in Ecosystem::ALL {
        eprintln!(
            "  {ecosystem}: {} advisories, {} withdrawn",
            index.count(ecosystem),
            index.withdrawn_in(ecosystem)
        );
    }
    for problem in index.problems() {
        eprintln!("  problem: {problem}");
    }

    let inventories = read_inventories();
    for inventory in &inventories {
        let report = scan_inventories(&index, std::slice::from_ref(inventory));
        eprintln!(
            "{} ({}): {} packages, {} findings [{}], {} warnings, {} problems",
            inventory.path,
            inventory.format,
            inventory.packages.len(),
            report.findings.len(),
            report.counts_text(),
            report.warnings.len(),
            report.problems.len()
        );
        for finding in &report.findings {
            eprintln!(
                "  {} ({}) {} {} fixed in {:?}",
                finding.id,
                finding.aliases.join(", "),
                finding.severity,
                finding.package,
                finding.fixed_in
            );
        }
        for warning in &report.warnings {
            eprintln!(
                "  warning {} {} {}",
                warning.id, warning.kind, warning.package
            );
        }
        for problem in &report.problems {
            eprintln!("  problem: {problem}");
        }
    }
    assert!(!index.is_empty(), "no advisories under {}", dir.display());
}

/// What checking one advisory's listed versions against its ranges found.
#[derive(Default)]
struct Agreement {
    checked: usize,
    outside: Vec<String>,
    problems: usize,
}

/// Matches each listed version of `advisory` against its ranges alone.
fn check_listed_versions(advisory: &Advisory, agreement: &mut Agreement) {
    let mut ranges_only = advisory.clone();
    let mut listed = Vec::new();
    for affected in &mut ranges_only.affected {
        let Some(package) = &affected.package else {
            continue;
        };
        let Some(ecosystem) = Ecosystem::from_osv_name(&package.ecosystem) else {
            continue;
        };
        // Only entries whose ranges all name versions can be compared.
        if affected.ranges.is_empty() || affected.ranges.iter().any(|r| r.kind == "GIT") {
            continue;
        }
        for version in std::mem::take(&mut affected.versions) {
            listed.push((ecosystem, package.name.clone(), version));
        }
    }
    let mut index = AdvisoryIndex::new();
    index.insert(ranges_only);
    for (ecosystem, name, version) in listed {
        let matches = index.matching(ecosystem, &name, &version);
        agreement.checked += 1;
        agreement.problems += matches.problems.len();
        if matches.hits.is_empty() && matches.problems.is_empty() {
            agreement
                .outside
                .push(format!("{} {name}@{version}", advisory.id));
        }
    }
}

#[test]
#[ignore = "needs a real OSV database in GANTRY_OSV_DIR"]
fn listed_versions_of_real_advisories_fall_in_their_ranges() {
    let Some(dir) = osv_dir() else { return };
    let mut agreement = Agreement::default();
    let mut files = Vec::new();
    collect_json(&dir, &mut files);
    for file in files {
        let advisory: Advisory = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        if advisory.withdrawn.is_none() {
            check_listed_versions(&advisory, &mut agreement);
        }
    }
    eprintln!(
        "{} listed versions checked against their ranges: {} outside, {} not parsed",
        agreement.checked,
        agreement.outside.len(),
        agreement.problems
    );
    for outside in agreement.outside.iter().take(20) {
        eprintln!("  outside: {outside}");
    }
}

fn collect_json(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_json(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "json") {
            files.push(path);
        }
    }
}
