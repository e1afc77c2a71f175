//! Tests of loading OSV directories.

use std::path::PathBuf;

use super::*;
use crate::osv::CRATES_IO;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/osv")
}

fn version(text: &str) -> Version {
    Version::parse(text).unwrap()
}

fn ids(matches: &[(&Advisory, Option<Version>)]) -> Vec<String> {
    matches.iter().map(|(a, _)| a.id.clone()).collect()
}

#[test]
fn nested_directories_are_loaded_and_other_ecosystems_dropped() {
    let index = AdvisoryIndex::load_dir(&fixtures(), CRATES_IO).unwrap();
    // Six crates.io files, one withdrawn; the PyPI file is dropped.
    assert_eq!(index.len(), 5);
    assert_eq!(index.withdrawn(), 1);
    assert!(index.problems().is_empty());
}

#[test]
fn a_flat_ecosystem_directory_loads_the_same() {
    let index = AdvisoryIndex::load_dir(&fixtures().join("crates.io"), CRATES_IO).unwrap();
    assert_eq!(index.len(), 5);
}

#[test]
fn ecosystem_names_are_compared_exactly() {
    let pypi = AdvisoryIndex::load_dir(&fixtures(), "PyPI").unwrap();
    assert_eq!(pypi.len(), 1);
    let lower = AdvisoryIndex::load_dir(&fixtures(), "pypi").unwrap();
    assert!(lower.is_empty());
}

#[test]
fn withdrawn_advisories_never_match() {
    let index = AdvisoryIndex::load_dir(&fixtures(), CRATES_IO).unwrap();
    assert!(index.matching("git2", &version("0.13.0")).is_empty());
}

#[test]
fn matching_returns_the_fix_after_the_version() {
    let index = AdvisoryIndex::load_dir(&fixtures(), CRATES_IO).unwrap();
    let found = index.matching("smallvec", &version("1.6.0"));
    assert_eq!(ids(&found), ["RUSTSEC-2021-0003"]);
    assert_eq!(found[0].1, Some(version("1.6.1")));
    assert!(index.matching("smallvec", &version("1.6.1")).is_empty());

    let old = index.matching("smallvec", &version("0.6.10"));
    assert_eq!(ids(&old), ["RUSTSEC-2018-0018", "RUSTSEC-2021-0003"]);
}

#[test]
fn an_advisory_with_two_matching_entries_is_returned_once_with_its_earliest_fix() {
    let json = r#"{"id": "X-1", "affected": [
        {"package": {"ecosystem": "crates.io", "name": "a"},
         "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "2.0.0"}]}]},
        {"package": {"ecosystem": "crates.io", "name": "a"},
         "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.5.0"}]}]}]}"#;
    let mut index = AdvisoryIndex::new(CRATES_IO);
    index.insert(serde_json::from_str(json).unwrap());
    let found = index.matching("a", &version("1.0.0"));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].1, Some(version("1.5.0")));
}

#[test]
fn data_problems_name_the_advisory_and_package() {
    let json = r#"{"id": "X-2", "affected": [
        {"package": {"ecosystem": "crates.io", "name": "a"},
         "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.x"}]}]}]}"#;
    let mut index = AdvisoryIndex::new(CRATES_IO);
    index.insert(serde_json::from_str(json).unwrap());
    assert!(index.matching("a", &version("0.1.0")).is_empty());
    let problems = index.problems_for("a");
    assert_eq!(problems.len(), 1);
    let message = problems[0].to_string();
    assert!(
        message.starts_with("advisory `X-2`, package `a`: invalid version `1.x` in SEMVER range"),
        "{message}"
    );
}

#[test]
fn a_missing_directory_is_named() {
    let err = AdvisoryIndex::load_dir(Path::new("no/such/osv"), CRATES_IO).unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to read OSV directory `no/such/osv`"
    );
}

#[test]
fn a_file_that_is_not_an_advisory_is_named() {
    let dir = std::env::temp_dir().join(format!("gantry-osv-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("BROKEN-1.json");
    std::fs::write(&file, "{\"id\": 7}").unwrap();
    let err = AdvisoryIndex::load_dir(&dir, CRATES_IO).unwrap_err();
    std::fs::remove_dir_all(&dir).unwrap();
    let message = err.to_string();
    assert!(
        message.starts_with("failed to parse advisory `"),
        "{message}"
    );
    assert!(message.contains("BROKEN-1.json"), "{message}");
}
