//! Tests of the SPDX output.

use super::*;
use crate::lockfile::Lockfile;
use crate::package::{Ecosystem, Package};

const APP_LOCK: &str = include_str!("../../tests/fixtures/app/Cargo.lock");

const OPTIONS: SpdxOptions<'static> = SpdxOptions {
    tool_name: "gantry-scan",
    tool_version: "0.1.0",
    application_name: "workspace",
    created: "2026-12-03T19:00:00Z",
};

fn app() -> Vec<Inventory> {
    vec![
        Lockfile::parse_cargo_lock("Cargo.lock", APP_LOCK)
            .unwrap()
            .to_inventory(),
    ]
}

fn flat(path: &str, packages: Vec<Package>) -> Inventory {
    Inventory {
        packages,
        has_graph: true,
        ..Inventory::new(path, "test", path.as_bytes())
    }
}

fn find<'a>(document: &'a SpdxDocument, name: &str, version: &str) -> &'a SpdxPackage {
    document
        .packages
        .iter()
        .find(|p| p.name == name && p.version_info.as_deref() == Some(version))
        .unwrap_or_else(|| panic!("no package {name}@{version}"))
}

fn has(document: &SpdxDocument, from: &str, kind: &str, to: &str) -> bool {
    document.relationships.iter().any(|r| {
        r.spdx_element_id == from && r.relationship_type == kind && r.related_spdx_element == to
    })
}

#[test]
fn the_document_has_every_required_field() {
    let document = build_spdx(&app(), &OPTIONS).unwrap();
    let json: serde_json::Value = serde_json::from_str(&document.to_json().unwrap()).unwrap();
    assert_eq!(json["spdxVersion"], "SPDX-2.3");
    assert_eq!(json["dataLicense"], "CC0-1.0");
    assert_eq!(json["SPDXID"], "SPDXRef-DOCUMENT");
    assert_eq!(json["name"], "app");
    assert_eq!(
        json["creationInfo"]["creators"][0],
        "Tool: gantry-scan-0.1.0"
    );
    assert_eq!(json["creationInfo"]["created"], "2026-12-03T19:00:00Z");
    for package in json["packages"].as_array().unwrap() {
        for key in [
            "name",
            "SPDXID",
            "downloadLocation",
            "licenseConcluded",
            "licenseDeclared",
        ] {
            assert!(package.get(key).is_some(), "{key} missing in {package}");
        }
        assert_eq!(package["filesAnalyzed"], false);
    }
}

#[test]
fn the_document_describes_the_application_and_its_edges() {
    let document = build_spdx(&app(), &OPTIONS).unwrap();
    let app = &document.packages[0];
    assert_eq!(app.primary_package_purpose, "APPLICATION");
    assert_eq!(app.spdx_id, "SPDXRef-Application-app");
    assert!(has(
        &document,
        "SPDXRef-DOCUMENT",
        "DESCRIBES",
        &app.spdx_id
    ));
    let helper = find(&document, "helper", "0.2.0");
    assert_eq!(helper.spdx_id, "SPDXRef-local-cargo-helper-0.2.0");
    assert!(has(&document, &app.spdx_id, "DEPENDS_ON", &helper.spdx_id));
    let time = find(&document, "time", "0.3.20");
    assert!(has(&document, &helper.spdx_id, "DEPENDS_ON", &time.spdx_id));
    assert!(!has(&document, &app.spdx_id, "DEPENDS_ON", &time.spdx_id));
}

#[test]
fn packages_carry_their_purl_and_checksums() {
    let document = build_spdx(&app(), &OPTIONS).unwrap();
    let smallvec = find(&document, "smallvec", "1.6.0");
    assert_eq!(
        smallvec.external_refs[0].reference_locator,
        "pkg:cargo/smallvec@1.6.0"
    );
    assert_eq!(
        smallvec.external_refs[0].reference_category,
        "PACKAGE-MANAGER"
    );
    assert_eq!(smallvec.checksums[0].algorithm, "SHA256");
    assert_eq!(smallvec.checksums[0].checksum_value.len(), 64);
    assert_eq!(smallvec.download_location, "NOASSERTION");
    let helper = find(&document, "helper", "0.2.0");
    assert!(
        helper.external_refs.is_empty(),
        "local packages have no purl"
    );
}

#[test]
fn git_packages_are_downloaded_from_their_commit() {
    let document = build_spdx(&app(), &OPTIONS).unwrap();
    let forked = find(&document, "forked", "0.3.0");
    assert_eq!(
        forked.download_location,
        "git+https://github.com/example/forked@0123456789abcdef0123456789abcdef01234567"
    );
    assert_eq!(forked.source_info, None);
}

#[test]
fn urls_validators_refuse_become_noassertion_with_the_url_kept() {
    for url in [
        "http://127.0.0.1:8080/pkg.tgz",
        "https://Example.COM/x.tgz",
        "file:///tmp/x.tgz",
    ] {
        let (location, info) = download_location(&Origin::Url { url: url.into() });
        assert_eq!(location, "NOASSERTION", "{url}");
        assert_eq!(
            info.as_deref(),
            Some(format!("fetched from {url}").as_str())
        );
    }
    for url in [
        "https://registry.example.com/pkg/-/pkg-1.0.0.tgz",
        "git+ssh://git@github.com/acme/lib.git",
        "https://files.pythonhosted.org:443/packages/x.whl",
    ] {
        let (location, info) = download_location(&Origin::Url { url: url.into() });
        assert_eq!(location, url);
        assert_eq!(info, None);
    }
}

#[test]
fn dev_and_optional_dependencies_are_written_from_the_dependency() {
    let dependent = Package {
        dependencies: vec![1, 2, 3],
        ..Package::new(Ecosystem::Npm, "web", "1.0.0")
    };
    let scoped = |name: &str, scope| Package {
        scope: Some(scope),
        ..Package::new(Ecosystem::Npm, name, "1.0.0")
    };
    let inventory = flat(
        "package-lock.json",
        vec![
            dependent,
            scoped("jest", Scope::Dev),
            scoped("fsevents", Scope::Optional),
            scoped("react", Scope::Runtime),
        ],
    );
    let document = build_spdx(&[inventory], &OPTIONS).unwrap();
    let id = |name: &str| find(&document, name, "1.0.0").spdx_id.clone();
    assert!(has(&document, &id("jest"), "DEV_DEPENDENCY_OF", &id("web")));
    assert!(has(
        &document,
        &id("fsevents"),
        "OPTIONAL_DEPENDENCY_OF",
        &id("web")
    ));
    assert!(has(&document, &id("web"), "DEPENDS_ON", &id("react")));
    assert!(!has(&document, &id("web"), "DEPENDS_ON", &id("jest")));
}

#[test]
fn ids_are_unique_and_use_only_allowed_characters() {
    let inventory = flat(
        "mixed",
        vec![
            Package::new(Ecosystem::Npm, "@types/node", "20.1.0"),
            Package::new(Ecosystem::Npm, "types-node", "20.1.0"),
            Package::new(Ecosystem::PyPi, "Zope.Interface", "6.4"),
            Package::new(
                Ecosystem::Go,
                "github.com/Azure/go-autorest",
                "v14.2.0+incompatible",
            ),
            Package::new(Ecosystem::CratesIo, "serde", "1.0.0"),
            Package {
                origin: Origin::Vcs {
                    url: "https://github.com/serde-rs/serde".into(),
                    commit: Some("abc".into()),
                },
                ..Package::new(Ecosystem::CratesIo, "serde", "1.0.0")
            },
        ],
    );
    let document = build_spdx(&[inventory], &OPTIONS).unwrap();
    let ids: BTreeSet<&str> = document
        .packages
        .iter()
        .map(|p| p.spdx_id.as_str())
        .collect();
    assert_eq!(ids.len(), document.packages.len(), "{ids:?}");
    for id in &ids {
        let rest = id.strip_prefix("SPDXRef-").unwrap();
        assert!(
            rest.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'),
            "{id}"
        );
    }
    assert!(ids.contains("SPDXRef-npm--types-node-20.1.0"), "{ids:?}");
    let serde: Vec<&&str> = ids
        .iter()
        .filter(|id| id.starts_with("SPDXRef-cargo-serde-1.0.0-"))
        .collect();
    assert_eq!(serde.len(), 2, "colliding ids get a digest each: {ids:?}");
}

#[test]
fn creation_times_of_another_form_are_refused() {
    for created in [
        "2026-12-03T19:00:00.123Z",
        "2026-12-03T19:00:00+00:00",
        "yesterday",
        "",
    ] {
        let options = SpdxOptions { created, ..OPTIONS };
        let error = build_spdx(&app(), &options).unwrap_err();
        assert!(
            error.to_string().contains(&format!("`{created}`")),
            "{error}"
        );
    }
}

#[test]
fn the_namespace_follows_the_content_and_nothing_else() {
    let first = build_spdx(&app(), &OPTIONS).unwrap();
    let again = build_spdx(&app(), &OPTIONS).unwrap();
    assert_eq!(first.to_json().unwrap(), again.to_json().unwrap());
    assert!(first.document_namespace.starts_with("urn:uuid:"));

    let later = SpdxOptions {
        created: "2026-12-04T19:00:00Z",
        ..OPTIONS
    };
    let other = build_spdx(&app(), &later).unwrap();
    assert_ne!(first.document_namespace, other.document_namespace);
}
