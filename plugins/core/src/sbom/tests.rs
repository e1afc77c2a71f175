//! Tests of the CycloneDX output: a small workspace's lockfile against its
//! reviewed snapshot, and hand-built inventories for what Cargo lacks.

use std::collections::BTreeSet;

use super::*;
use crate::lockfile::Lockfile;
use crate::package::{Ecosystem, Package};

const APP_LOCK: &str = include_str!("../../tests/fixtures/app/Cargo.lock");
const APP_SBOM: &str = include_str!("../../tests/fixtures/app/sbom.cdx.json");

const OPTIONS: BomOptions<'static> = BomOptions {
    tool_name: "gantry-scan",
    tool_version: "0.1.0",
    application_name: "workspace",
    timestamp: None,
};

fn cargo(path: &str, text: &str) -> Inventory {
    Lockfile::parse_cargo_lock(path, text)
        .unwrap()
        .to_inventory()
}

fn app() -> Vec<Inventory> {
    vec![cargo("Cargo.lock", APP_LOCK)]
}

fn flat(path: &str, packages: Vec<Package>) -> Inventory {
    Inventory {
        packages,
        ..Inventory::new(path, "test", path.as_bytes())
    }
}

fn component<'a>(bom: &'a Bom, reference: &str) -> &'a Component {
    bom.components
        .iter()
        .find(|c| c.bom_ref.as_deref() == Some(reference))
        .unwrap_or_else(|| panic!("no component `{reference}`"))
}

fn property<'a>(component: &'a Component, name: &str) -> Vec<&'a str> {
    component
        .properties
        .iter()
        .filter(|p| p.name == name)
        .map(|p| p.value.as_str())
        .collect()
}

#[test]
fn the_sbom_matches_the_reviewed_snapshot() {
    let bom = build_bom(&app(), &OPTIONS);
    assert_eq!(bom.to_json().unwrap(), APP_SBOM);
}

#[test]
fn the_same_lockfile_gives_the_same_bytes() {
    let first = build_bom(&app(), &OPTIONS);
    let second = build_bom(&app(), &OPTIONS);
    assert_eq!(first.to_json().unwrap(), second.to_json().unwrap());
}

#[test]
fn the_serial_number_is_a_version_8_uuid_that_follows_the_content() {
    let bom = build_bom(&app(), &OPTIONS);
    let uuid = bom.serial_number.strip_prefix("urn:uuid:").unwrap();
    assert_eq!(uuid.len(), 36);
    assert_eq!(&uuid[14..15], "8");
    assert!(matches!(&uuid[19..20], "8" | "9" | "a" | "b"), "{uuid}");

    let changed = APP_LOCK.replace("0.2.0", "0.2.1");
    let other = build_bom(&[cargo("Cargo.lock", &changed)], &OPTIONS);
    assert_ne!(bom.serial_number, other.serial_number);
}

#[test]
fn a_timestamp_is_written_only_when_given() {
    let options = BomOptions {
        timestamp: Some("2026-01-02T03:04:05Z"),
        ..OPTIONS
    };
    let bom = build_bom(&app(), &options);
    assert!(
        bom.to_json()
            .unwrap()
            .contains("\"timestamp\": \"2026-01-02T03:04:05Z\"")
    );
    let plain = build_bom(&app(), &OPTIONS);
    assert!(!plain.to_json().unwrap().contains("timestamp"));
}

#[test]
fn local_packages_have_a_local_ref_and_no_purl() {
    let bom = build_bom(&app(), &OPTIONS);
    let helper = component(&bom, "local:cargo/helper@0.2.0");
    assert_eq!(helper.purl, None);
    assert_eq!(property(helper, "gantry:origin"), ["local"]);
    assert_eq!(bom.metadata.component.name, "app");
    assert_eq!(bom.metadata.component.kind, "application");
    assert_eq!(
        bom.metadata.component.bom_ref.as_deref(),
        Some("local:cargo/app@0.1.0")
    );
}

#[test]
fn every_edge_points_at_a_listed_component() {
    let bom = build_bom(&app(), &OPTIONS);
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
    let inventories = [
        cargo("tools/Cargo.lock", tools),
        cargo("Cargo.lock", APP_LOCK),
    ];
    let bom = build_bom(&inventories, &OPTIONS);
    assert_eq!(bom.metadata.component.name, "workspace");
    let root = bom
        .dependencies
        .iter()
        .find(|d| d.reference == "local:workspace")
        .unwrap();
    assert_eq!(
        root.depends_on,
        ["local:cargo/app@0.1.0", "local:cargo/tools@1.0.0"]
    );

    let reversed = [inventories[1].clone(), inventories[0].clone()];
    assert_eq!(build_bom(&reversed, &OPTIONS), bom);
}

#[test]
fn packages_shared_by_two_lockfiles_are_listed_once_naming_both() {
    let inventories = [
        cargo("a/Cargo.lock", APP_LOCK),
        cargo("b/Cargo.lock", &APP_LOCK.replace("\"app\"", "\"other\"")),
    ];
    let bom = build_bom(&inventories, &OPTIONS);
    let smallvec: Vec<&Component> = bom
        .components
        .iter()
        .filter(|c| c.name == "smallvec")
        .collect();
    assert_eq!(smallvec.len(), 1);
    assert_eq!(
        property(smallvec[0], "gantry:lockfile"),
        ["a/Cargo.lock", "b/Cargo.lock"]
    );
}

#[test]
fn scopes_map_to_required_optional_and_excluded_and_unknown_is_left_out() {
    let scoped = |name: &str, scope: Option<Scope>| Package {
        scope,
        ..Package::new(Ecosystem::Npm, name, "1.0.0")
    };
    let inventory = flat(
        "package-lock.json",
        vec![
            scoped("run", Some(Scope::Runtime)),
            scoped("opt", Some(Scope::Optional)),
            scoped("dev", Some(Scope::Dev)),
            scoped("unsaid", None),
        ],
    );
    let bom = build_bom(&[inventory], &OPTIONS);
    let scope = |name: &str| component(&bom, &format!("pkg:npm/{name}@1.0.0")).scope;
    assert_eq!(scope("run"), Some("required"));
    assert_eq!(scope("opt"), Some("optional"));
    assert_eq!(scope("dev"), Some("excluded"));
    assert_eq!(scope("unsaid"), None);
    assert!(!bom.to_json().unwrap().contains("\"scope\": null"));
}

#[test]
fn npm_integrity_becomes_hex_and_other_hashes_stay_as_properties() {
    let npm = Package {
        hashes: vec!["sha1-2jmj7l5rSw0yVb/vlWAYkK/YBwk=".into()],
        ..Package::new(Ecosystem::Npm, "left-pad", "1.3.0")
    };
    let go = Package {
        hashes: vec!["h1:Fw3xl8dd6bQXCm8dvPlHPh3R8Y5e9Yyq8EwgpoV0zWc=".into()],
        ..Package::new(Ecosystem::Go, "github.com/gorilla/mux", "v1.8.1")
    };
    let bom = build_bom(&[flat("mixed", vec![npm, go])], &OPTIONS);

    let left_pad = component(&bom, "pkg:npm/left-pad@1.3.0");
    assert_eq!(left_pad.hashes.len(), 1);
    assert_eq!(left_pad.hashes[0].alg, "SHA-1");
    assert_eq!(
        left_pad.hashes[0].content,
        "da39a3ee5e6b4b0d3255bfef95601890afd80709"
    );
    assert!(property(left_pad, "gantry:hash").is_empty());

    let mux = component(&bom, "pkg:golang/github.com/gorilla/mux@v1.8.1");
    assert!(mux.hashes.is_empty());
    assert_eq!(
        property(mux, "gantry:hash"),
        ["h1:Fw3xl8dd6bQXCm8dvPlHPh3R8Y5e9Yyq8EwgpoV0zWc="]
    );
    assert_eq!(property(mux, "gantry:ecosystem"), ["Go"]);
}

#[test]
fn packages_without_a_known_graph_stay_out_of_the_dependencies() {
    let requirements = flat(
        "requirements.txt",
        vec![Package::new(Ecosystem::PyPi, "Flask", "3.0.3")],
    );
    let bom = build_bom(&[requirements, cargo("Cargo.lock", APP_LOCK)], &OPTIONS);
    let flask = "pkg:pypi/flask@3.0.3";
    assert!(bom.dependencies.iter().all(|d| d.reference != flask));
    let root = bom
        .dependencies
        .iter()
        .find(|d| d.reference == "local:workspace")
        .unwrap();
    assert!(root.depends_on.iter().any(|r| r == flask), "{root:?}");
    assert!(
        bom.dependencies
            .iter()
            .any(|d| d.reference == "pkg:cargo/smallvec@1.6.0" && d.depends_on.is_empty()),
        "a known leaf is listed with no dependencies"
    );
}

#[test]
fn a_local_package_and_a_published_one_of_the_same_name_do_not_collide() {
    let published = Package::new(Ecosystem::CratesIo, "app", "0.1.0");
    let bom = build_bom(
        &[
            cargo("Cargo.lock", APP_LOCK),
            flat("other", vec![published]),
        ],
        &OPTIONS,
    );
    let refs: Vec<&str> = std::iter::once(&bom.metadata.component)
        .chain(&bom.components)
        .filter_map(|c| c.bom_ref.as_deref())
        .collect();
    let unique: BTreeSet<&str> = refs.iter().copied().collect();
    assert_eq!(unique.len(), refs.len(), "{refs:?}");
    assert!(unique.contains("pkg:cargo/app@0.1.0"));
    assert!(unique.contains("local:cargo/app@0.1.0"));
}
