//! A check of the matcher against a real OSV database, run by hand.
//!
//! ```text
//! GANTRY_OSV_DIR=<osv>/crates.io cargo test -p gantry-plugin-core \
//!     --test real_osv -- --ignored --nocapture
//! ```
//!
//! It scans this repository's own `Cargo.lock`, or the lockfile named by
//! `GANTRY_LOCKFILE`, and prints what it found.
//! Without `GANTRY_OSV_DIR` it does nothing, so it never depends on data a
//! fresh clone lacks.

use std::path::Path;

use gantry_plugin_core::lockfile::Lockfile;
use gantry_plugin_core::osv::{AdvisoryIndex, CRATES_IO, scan_lockfiles};

#[test]
#[ignore = "needs a real OSV database in GANTRY_OSV_DIR"]
fn the_repository_lockfile_scans_against_a_real_database() {
    let Some(dir) = std::env::var_os("GANTRY_OSV_DIR") else {
        eprintln!("GANTRY_OSV_DIR is not set; skipping");
        return;
    };
    let index = AdvisoryIndex::load_dir(Path::new(&dir), CRATES_IO).unwrap();
    let lock_path = std::env::var_os("GANTRY_LOCKFILE").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.lock"),
        Into::into,
    );
    let lockfile = Lockfile::read_cargo_lock(&lock_path).unwrap();
    let report = scan_lockfiles(&index, std::slice::from_ref(&lockfile));

    eprintln!(
        "{} advisories loaded ({} withdrawn skipped), {} data problems",
        index.len(),
        index.withdrawn(),
        index.problems().len()
    );
    eprintln!("{} packages in the lockfile", lockfile.packages.len());
    eprintln!(
        "findings: {} [{}]",
        report.findings.len(),
        report.counts_text()
    );
    for finding in &report.findings {
        eprintln!(
            "  {} {} {} fixed in {:?}",
            finding.id, finding.severity, finding.package, finding.fixed_in
        );
    }
    eprintln!("warnings: {}", report.warnings.len());
    for warning in &report.warnings {
        eprintln!("  {} {} {}", warning.id, warning.kind, warning.package);
    }
    assert!(!index.is_empty(), "no advisories under {}", dir.display());
    assert!(index.problems().is_empty(), "{:#?}", index.problems());
}
