//! Tests of loading OSV directories.

use std::path::PathBuf;

use super::*;
use crate::package::Ecosystem;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/osv")
}

fn ids(hits: &[Hit<'_>]) -> Vec<String> {
    hits.iter().map(|hit| hit.advisory.id.clone()).collect()
}

#[test]
fn nested_directories_are_loaded_for_every_ecosystem() {
    let index = AdvisoryIndex::load_dir(&fixtures()).unwrap();
    // Six crates.io files, one withdrawn, and one PyPI file.
    assert_eq!(index.len(), 6);
    assert_eq!(index.count(Ecosystem::CratesIo), 5);
    assert_eq!(index.count(Ecosystem::PyPi), 1);
    assert_eq!(index.count(Ecosystem::Go), 0);
    assert_eq!(index.withdrawn(), 1);
    assert_eq!(index.withdrawn_in(Ecosystem::CratesIo), 1);
    assert!(index.problems().is_empty());
}

#[test]
fn a_flat_ecosystem_directory_loads_the_same() {
    let index = AdvisoryIndex::load_dir(&fixtures().join("crates.io")).unwrap();
    assert_eq!(index.len(), 5);
}

#[test]
fn ecosystem_names_are_compared_exactly() {
    let mut index = AdvisoryIndex::new();
    let json = |ecosystem: &str| {
        format!(
            r#"{{"id": "X-{ecosystem}", "affected": [{{"package":
                {{"ecosystem": "{ecosystem}", "name": "a"}}, "versions": ["1.0"]}}]}}"#
        )
    };
    index.insert(serde_json::from_str(&json("PyPI")).unwrap());
    index.insert(serde_json::from_str(&json("pypi")).unwrap());
    index.insert(serde_json::from_str(&json("Debian:12")).unwrap());
    assert_eq!(index.len(), 1);
    assert_eq!(
        ids(&index.matching(Ecosystem::PyPi, "a", "1.0").hits),
        ["X-PyPI"]
    );
}

#[test]
fn pypi_names_match_by_their_pep_503_form_and_others_exactly() {
    let index = AdvisoryIndex::load_dir(&fixtures()).unwrap();
    for spelling in ["ansi_term", "Ansi-Term", "ansi.term", "ANSI__term"] {
        let found = index.matching(Ecosystem::PyPi, spelling, "1.0").hits;
        assert_eq!(ids(&found), ["TEST-PYPI-0001"], "{spelling}");
    }
    assert!(
        index
            .matching(Ecosystem::PyPi, "ansi-terms", "1.0")
            .hits
            .is_empty()
    );
    assert!(
        index
            .matching(Ecosystem::CratesIo, "SmallVec", "1.6.0")
            .hits
            .is_empty()
    );
    assert_eq!(package_key(Ecosystem::PyPi, "Foo_Bar.-baz"), "foo-bar-baz");
    assert_eq!(package_key(Ecosystem::Npm, "@Scope/Pkg"), "@Scope/Pkg");
}

#[test]
fn withdrawn_advisories_never_match() {
    let index = AdvisoryIndex::load_dir(&fixtures()).unwrap();
    assert!(
        index
            .matching(Ecosystem::CratesIo, "git2", "0.13.0")
            .hits
            .is_empty()
    );
}

#[test]
fn matching_returns_the_fix_after_the_version() {
    let index = AdvisoryIndex::load_dir(&fixtures()).unwrap();
    let found = index
        .matching(Ecosystem::CratesIo, "smallvec", "1.6.0")
        .hits;
    assert_eq!(ids(&found), ["RUSTSEC-2021-0003"]);
    assert_eq!(found[0].fixed_in.as_deref(), Some("1.6.1"));
    assert!(
        index
            .matching(Ecosystem::CratesIo, "smallvec", "1.6.1")
            .hits
            .is_empty()
    );

    let old = index
        .matching(Ecosystem::CratesIo, "smallvec", "0.6.10")
        .hits;
    assert_eq!(ids(&old), ["RUSTSEC-2018-0018", "RUSTSEC-2021-0003"]);
}

#[test]
fn an_advisory_with_two_matching_entries_is_returned_once_with_its_earliest_fix() {
    let json = r#"{"id": "X-1", "affected": [
        {"package": {"ecosystem": "crates.io", "name": "a"},
         "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "2.0.0"}]}]},
        {"package": {"ecosystem": "crates.io", "name": "a"},
         "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.5.0"}]}]}]}"#;
    let mut index = AdvisoryIndex::new();
    index.insert(serde_json::from_str(json).unwrap());
    let found = index.matching(Ecosystem::CratesIo, "a", "1.0.0").hits;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].fixed_in.as_deref(), Some("1.5.0"));
}

#[test]
fn data_problems_name_the_advisory_and_package() {
    let json = r#"{"id": "X-2", "affected": [
        {"package": {"ecosystem": "crates.io", "name": "a"},
         "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.x"}]}]}]}"#;
    let mut index = AdvisoryIndex::new();
    index.insert(serde_json::from_str(json).unwrap());
    assert!(
        index
            .matching(Ecosystem::CratesIo, "a", "0.1.0")
            .hits
            .is_empty()
    );
    let problems = index.problems_for(Ecosystem::CratesIo, "a");
    assert_eq!(problems.len(), 1);
    let message = problems[0].to_string();
    assert!(
        message.starts_with(
            "advisory `X-2`, package `a`: SEMVER range, `fixed` event: `1.x` is not a SemVer version"
        ),
        "{message}"
    );
}

#[test]
fn a_missing_directory_is_named() {
    let err = AdvisoryIndex::load_dir(Path::new("no/such/osv")).unwrap_err();
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
    let err = AdvisoryIndex::load_dir(&dir).unwrap_err();
    std::fs::remove_dir_all(&dir).unwrap();
    let message = err.to_string();
    assert!(
        message.starts_with("failed to parse advisory `"),
        "{message}"
    );
    assert!(message.contains("BROKEN-1.json"), "{message}");
}
