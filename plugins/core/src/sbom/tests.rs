//! Tests of the CycloneDX output against a small workspace's lockfile.

use super::*;

const APP_LOCK: &str = include_str!("../../tests/fixtures/app/Cargo.lock");
const APP_SBOM: &str = include_str!("../../tests/fixtures/app/sbom.cdx.json");

const OPTIONS: BomOptions<'static> = BomOptions {
    tool_name: "gantry-scan",
    tool_version: "0.1.0",
    application_name: "workspace",
    timestamp: None,
};

fn lockfile(path: &str, text: &str) -> Lockfile {
    Lockfile::parse_cargo_lock(path, text).unwrap()
}

#[test]
fn the_sbom_matches_the_reviewed_snapshot() {
    let bom = build_bom(&[lockfile("Cargo.lock", APP_LOCK)], &OPTIONS);
    assert_eq!(bom.to_json().unwrap(), APP_SBOM);
}

#[test]
fn the_same_lockfile_gives_the_same_bytes() {
    let first = build_bom(&[lockfile("Cargo.lock", APP_LOCK)], &OPTIONS);
    let second = build_bom(&[lockfile("Cargo.lock", APP_LOCK)], &OPTIONS);
    assert_eq!(first.to_json().unwrap(), second.to_json().unwrap());
}

#[test]
fn the_serial_number_is_a_version_8_uuid_that_follows_the_content() {
    let bom = build_bom(&[lockfile("Cargo.lock", APP_LOCK)], &OPTIONS);
    let uuid = bom.serial_number.strip_prefix("urn:uuid:").unwrap();
    assert_eq!(uuid.len(), 36);
    assert_eq!(&uuid[14..15], "8");
    assert!(matches!(&uuid[19..20], "8" | "9" | "a" | "b"), "{uuid}");

    let changed = APP_LOCK.replace("0.2.0", "0.2.1");
    let other = build_bom(&[lockfile("Cargo.lock", &changed)], &OPTIONS);
    assert_ne!(bom.serial_number, other.serial_number);
}

#[test]
fn a_timestamp_is_written_only_when_given() {
    let options = BomOptions {
        timestamp: Some("2026-01-02T03:04:05Z"),
        ..OPTIONS
    };
    let bom = build_bom(&[lockfile("Cargo.lock", APP_LOCK)], &options);
    assert!(
        bom.to_json()
            .unwrap()
            .contains("\"timestamp\": \"2026-01-02T03:04:05Z\"")
    );
    let plain = build_bom(&[lockfile("Cargo.lock", APP_LOCK)], &OPTIONS);
    assert!(!plain.to_json().unwrap().contains("timestamp"));
}

#[test]
fn local_packages_have_a_local_ref_and_no_purl() {
    let bom = build_bom(&[lockfile("Cargo.lock", APP_LOCK)], &OPTIONS);
    let helper = bom.components.iter().find(|c| c.name == "helper").unwrap();
    assert_eq!(helper.bom_ref.as_deref(), Some("local:helper@0.2.0"));
    assert_eq!(helper.purl, None);
    assert_eq!(helper.properties[0].value, "local");
    assert_eq!(bom.metadata.component.name, "app");
    assert_eq!(bom.metadata.component.kind, "application");
}

#[test]
fn every_edge_points_at_a_listed_component() {
    let bom = build_bom(&[lockfile("Cargo.lock", APP_LOCK)], &OPTIONS);
    let mut refs: BTreeSet<&str> = bom
        .components
        .iter()
        .filter_map(|c| c.bom_ref.as_deref())
        .collect();
    refs.insert(bom.metadata.component.bom_ref.as_deref().unwrap());
    assert_eq!(bom.dependencies.len(), refs.len());
    for dependency in &bom.dependencies {
        assert!(refs.contains(dependency.reference.as_str()));
        for target in &dependency.depends_on {
            assert!(refs.contains(target.as_str()), "{target}");
        }
    }
}

#[test]
fn several_roots_hang_under_a_named_application() {
    let tools = "version = 4\n[[package]]\nname = \"tools\"\nversion = \"1.0.0\"\n";
    let lockfiles = [
        lockfile("tools/Cargo.lock", tools),
        lockfile("Cargo.lock", APP_LOCK),
    ];
    let bom = build_bom(&lockfiles, &OPTIONS);
    assert_eq!(bom.metadata.component.name, "workspace");
    let root = bom
        .dependencies
        .iter()
        .find(|d| d.reference == "local:workspace")
        .unwrap();
    assert_eq!(root.depends_on, ["local:app@0.1.0", "local:tools@1.0.0"]);

    let reversed = [lockfiles[1].clone(), lockfiles[0].clone()];
    assert_eq!(build_bom(&reversed, &OPTIONS), bom);
}

#[test]
fn packages_shared_by_two_lockfiles_are_listed_once() {
    let lockfiles = [
        lockfile("a/Cargo.lock", APP_LOCK),
        lockfile("b/Cargo.lock", &APP_LOCK.replace("\"app\"", "\"other\"")),
    ];
    let bom = build_bom(&lockfiles, &OPTIONS);
    let smallvec = bom.components.iter().filter(|c| c.name == "smallvec");
    assert_eq!(smallvec.count(), 1);
}
