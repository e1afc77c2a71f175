//! Both SBOMs of every lockfile fixture, checked here and by independent
//! tools.
//!
//! For each case under `tests/fixtures/lockfiles/<format>/<case>/` that
//! reads (cases that must be refused are left to `lockfiles.rs`), for all
//! of them merged into one project, and for hand-built inventories that no
//! single fixture covers (scoped npm names, PyPI names with capitals, Go
//! modules, one name and version in several ecosystems and origins), this
//! builds the CycloneDX and SPDX documents and:
//!
//! - always checks natively that every reference is unique and every edge
//!   of each graph points at a listed element;
//! - when `GANTRY_INTEROP_PYTHON` names a Python with
//!   `tests/interop/requirements.txt` installed, writes them to a temporary
//!   directory and runs `tests/interop/check_sbom.py` on them, which must
//!   pass, and on deliberately broken copies, which must fail. Without it
//!   the independent check is skipped with a note, unless
//!   `GANTRY_INTEROP_REQUIRED` is set, as CI sets it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use gantry_plugin_core::lockfile::{self, Format};
use gantry_plugin_core::package::{Ecosystem, Inventory, Origin, Package, Scope};
use gantry_plugin_core::sbom::{self, Bom, BomOptions};
use gantry_plugin_core::spdx::{self, SpdxDocument, SpdxOptions};

const BOM_OPTIONS: BomOptions<'static> = BomOptions {
    tool_name: "gantry-scan",
    tool_version: "0.1.0",
    application_name: "workspace",
    timestamp: None,
};

const SPDX_OPTIONS: SpdxOptions<'static> = SpdxOptions {
    tool_name: "gantry-scan",
    tool_version: "0.1.0",
    application_name: "workspace",
    created: "2026-12-03T19:00:00Z",
};

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every fixture lockfile that reads, named `<format>-<case>`.
fn fixture_inventories() -> Vec<(String, Inventory)> {
    let root = manifest_dir().join("tests/fixtures/lockfiles");
    let mut inventories = Vec::new();
    for format in sorted_dirs(&root) {
        for case in sorted_dirs(&format) {
            let Some(lockfile) = lockfile_in(&case) else {
                continue;
            };
            let name = format!("{}-{}", file_name(&format), file_name(&case));
            match lockfile::read(&lockfile) {
                Ok(mut inventory) => {
                    // Paths relative to the fixtures, so outputs do not
                    // depend on where the repository is.
                    inventory.path = format!("{}/{}", file_name(&case), file_name(&lockfile));
                    inventories.push((name, inventory));
                }
                Err(error) => eprintln!("{name}: refused ({error}); lockfiles.rs checks it"),
            }
        }
    }
    inventories
}

fn sorted_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn lockfile_in(case: &Path) -> Option<PathBuf> {
    std::fs::read_dir(case)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| Format::detect(&file_name(path)).is_some())
        .min()
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// Inventories for what the fixtures may not cover.
fn hand_built() -> Vec<(String, Vec<Inventory>)> {
    let npm = Inventory {
        packages: vec![
            Package {
                origin: Origin::Local { path: None },
                dependencies: vec![1, 2, 3],
                ..Package::new(Ecosystem::Npm, "@acme/web", "1.0.0")
            },
            Package {
                scope: Some(Scope::Runtime),
                hashes: vec!["sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==".into()],
                ..Package::new(Ecosystem::Npm, "@types/node", "20.1.0")
            },
            Package {
                scope: Some(Scope::Dev),
                hashes: vec!["sha1-2jmj7l5rSw0yVb/vlWAYkK/YBwk=".into()],
                ..Package::new(Ecosystem::Npm, "JSONStream", "1.3.5")
            },
            Package {
                scope: Some(Scope::Optional),
                origin: Origin::Url {
                    url: "http://127.0.0.1:4873/fsevents/-/fsevents-2.3.3.tgz".into(),
                },
                ..Package::new(Ecosystem::Npm, "fsevents", "2.3.3")
            },
        ],
        roots: vec![0],
        has_graph: true,
        ..Inventory::new("web/package-lock.json", "package-lock.json v3", b"npm")
    };
    let pypi = Inventory {
        packages: vec![
            Package {
                hashes: vec![
                    format!("sha256:{}", "ab".repeat(32)),
                    format!("sha256:{}", "cd".repeat(32)),
                ],
                ..Package::new(Ecosystem::PyPi, "PyYAML", "6.0.1")
            },
            Package::new(Ecosystem::PyPi, "Zope.Interface", "6.4"),
            Package::new(Ecosystem::PyPi, "left-pad", "1.0.0"),
            Package::new(Ecosystem::PyPi, "unpinned", ""),
            Package {
                origin: Origin::Vcs {
                    url: "git+ssh://git@github.com/acme/tool.git".into(),
                    commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
                },
                ..Package::new(Ecosystem::PyPi, "tool", "0.1.0")
            },
        ],
        ..Inventory::new("api/requirements.txt", "requirements.txt", b"pypi")
    };
    let go = Inventory {
        packages: vec![
            Package {
                origin: Origin::Local {
                    path: Some(".".into()),
                },
                dependencies: vec![1, 2],
                ..Package::new(Ecosystem::Go, "example.com/acme/svc", "")
            },
            Package {
                hashes: vec!["h1:Fw3xl8dd6bQXCm8dvPlHPh3R8Y5e9Yyq8EwgpoV0zWc=".into()],
                ..Package::new(
                    Ecosystem::Go,
                    "github.com/Azure/go-autorest",
                    "v14.2.0+incompatible",
                )
            },
            Package::new(
                Ecosystem::Go,
                "golang.org/x/text",
                "v0.0.0-20170915032832-14c0d48ead0c",
            ),
        ],
        roots: vec![0],
        has_graph: true,
        ..Inventory::new("svc/go.mod", "go.mod", b"go")
    };
    let cargo = Inventory {
        packages: vec![
            Package::new(Ecosystem::CratesIo, "left-pad", "1.0.0"),
            Package {
                origin: Origin::OtherRegistry {
                    url: "sparse+https://crates.example.com/index/".into(),
                },
                ..Package::new(Ecosystem::CratesIo, "left-pad", "1.0.0")
            },
            Package {
                origin: Origin::Local { path: None },
                ..Package::new(Ecosystem::CratesIo, "left-pad", "1.0.0")
            },
        ],
        has_graph: true,
        ..Inventory::new("tools/Cargo.lock", "Cargo.lock v4", b"cargo")
    };
    vec![
        ("hand-npm".to_owned(), vec![npm.clone()]),
        ("hand-pypi".to_owned(), vec![pypi.clone()]),
        ("hand-go".to_owned(), vec![go.clone()]),
        ("hand-all-ecosystems".to_owned(), vec![npm, pypi, go, cargo]),
    ]
}

/// Every case: one per fixture, the fixtures merged, and the hand-built.
fn cases() -> Vec<(String, Vec<Inventory>)> {
    let fixtures = fixture_inventories();
    assert!(!fixtures.is_empty(), "no lockfile fixture reads");
    let merged: Vec<Inventory> = fixtures.iter().map(|(_, i)| i.clone()).collect();
    let mut cases: Vec<(String, Vec<Inventory>)> = fixtures
        .into_iter()
        .map(|(name, inventory)| (name, vec![inventory]))
        .collect();
    cases.push(("all-fixtures".to_owned(), merged));
    cases.extend(hand_built());
    cases
}

/// Unique bom-refs, and every graph entry and edge naming one of them.
fn check_bom(name: &str, bom: &Bom) {
    let refs: Vec<&str> = std::iter::once(&bom.metadata.component)
        .chain(&bom.components)
        .map(|c| c.bom_ref.as_deref().expect("every component has a bom-ref"))
        .collect();
    let known: BTreeSet<&str> = refs.iter().copied().collect();
    assert_eq!(
        known.len(),
        refs.len(),
        "{name}: repeated bom-refs in {refs:?}"
    );
    let mut entries = BTreeSet::new();
    for dependency in &bom.dependencies {
        assert!(
            entries.insert(&dependency.reference),
            "{name}: `{}` twice",
            dependency.reference
        );
        for target in std::iter::once(&dependency.reference).chain(&dependency.depends_on) {
            assert!(
                known.contains(target.as_str()),
                "{name}: edge to unknown `{target}`"
            );
        }
    }
    let application = bom.metadata.component.bom_ref.as_deref().unwrap();
    assert!(
        entries.iter().any(|r| r.as_str() == application),
        "{name}: no application entry"
    );
}

/// Unique SPDXIDs of allowed characters, and relationships between them.
fn check_spdx(name: &str, document: &SpdxDocument) {
    let ids: Vec<&str> = document
        .packages
        .iter()
        .map(|p| p.spdx_id.as_str())
        .collect();
    let known: BTreeSet<&str> = ids.iter().copied().chain(["SPDXRef-DOCUMENT"]).collect();
    assert_eq!(
        known.len(),
        ids.len() + 1,
        "{name}: repeated SPDXIDs in {ids:?}"
    );
    for id in &ids {
        let rest = id
            .strip_prefix("SPDXRef-")
            .unwrap_or_else(|| panic!("{name}: `{id}`"));
        let allowed = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '-';
        assert!(
            !rest.is_empty() && rest.chars().all(allowed),
            "{name}: `{id}`"
        );
    }
    for relationship in &document.relationships {
        for end in [
            &relationship.spdx_element_id,
            &relationship.related_spdx_element,
        ] {
            assert!(
                known.contains(end.as_str()),
                "{name}: relationship to unknown `{end}`"
            );
        }
    }
}

/// The interpreter the independent check runs with, if any.
fn interop_python() -> Option<PathBuf> {
    match std::env::var_os("GANTRY_INTEROP_PYTHON") {
        Some(python) => Some(PathBuf::from(python)),
        None if std::env::var_os("GANTRY_INTEROP_REQUIRED").is_some() => {
            panic!("GANTRY_INTEROP_REQUIRED is set but GANTRY_INTEROP_PYTHON is not")
        }
        None => {
            eprintln!("GANTRY_INTEROP_PYTHON is not set; skipping the independent SBOM check");
            None
        }
    }
}

/// Runs `check_sbom.py` on `files`; returns its exit code and output.
fn run_checker(python: &Path, files: &[PathBuf]) -> (i32, String) {
    let script = manifest_dir().join("../../tests/interop/check_sbom.py");
    let output = Command::new(python)
        .arg(script)
        .args(files)
        .output()
        .expect("failed to run the SBOM checker");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap_or(-1), text)
}

#[test]
fn every_sbom_has_unique_refs_and_a_closed_graph_and_passes_independent_validators() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (name, inventories) in cases() {
        let bom = sbom::build_bom(&inventories, &BOM_OPTIONS);
        check_bom(&name, &bom);
        let document = spdx::build_spdx(&inventories, &SPDX_OPTIONS).unwrap();
        check_spdx(&name, &document);

        let cdx = dir.path().join(format!("{name}.cdx.json"));
        std::fs::write(&cdx, bom.to_json().unwrap()).unwrap();
        let spdx = dir.path().join(format!("{name}.spdx.json"));
        std::fs::write(&spdx, document.to_json().unwrap()).unwrap();
        files.extend([cdx, spdx]);
    }

    let Some(python) = interop_python() else {
        return;
    };
    let (code, output) = run_checker(&python, &files);
    eprintln!("{output}");
    assert_eq!(code, 0, "the independent checkers refused:\n{output}");
    assert_eq!(
        output.lines().filter(|l| l.starts_with("ok ")).count(),
        files.len(),
        "{output}"
    );
}

#[test]
fn the_independent_checker_refuses_broken_sboms() {
    let Some(python) = interop_python() else {
        return;
    };
    let (_, inventories) = hand_built().pop().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bom = sbom::build_bom(&inventories, &BOM_OPTIONS)
        .to_json()
        .unwrap();
    let document = spdx::build_spdx(&inventories, &SPDX_OPTIONS)
        .unwrap()
        .to_json()
        .unwrap();
    let good_cdx = dir.path().join("good.cdx.json");
    std::fs::write(&good_cdx, &bom).unwrap();
    let good_spdx = dir.path().join("good.spdx.json");
    std::fs::write(&good_spdx, &document).unwrap();
    let (code, output) = run_checker(&python, &[good_cdx, good_spdx]);
    assert_eq!(code, 0, "the unbroken control must pass:\n{output}");

    let broken = [
        (
            "dangling.cdx.json",
            bom.replacen(
                "\"dependsOn\": [",
                "\"dependsOn\": [\n\"pkg:npm/ghost@1.0.0\",",
                1,
            ),
        ),
        (
            "bad-hash.cdx.json",
            bom.replacen("\"alg\": \"SHA-1\"", "\"alg\": \"SHA-256\"", 1),
        ),
        (
            "unknown-key.cdx.json",
            bom.replacen("\"bomFormat\"", "\"gantry\": 1,\n\"bomFormat\"", 1),
        ),
        (
            "bad-id.spdx.json",
            document.replace("SPDXRef-Application-", "SPDXRef-Application_"),
        ),
        (
            "no-created.spdx.json",
            document.replacen(
                "\"created\": \"2026-12-03T19:00:00Z\"",
                "\"created\": \"today\"",
                1,
            ),
        ),
    ];
    let mut paths = Vec::new();
    for (name, text) in broken {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        paths.push(path);
    }
    let (code, output) = run_checker(&python, &paths);
    assert_eq!(code, 1, "every broken file must be refused:\n{output}");
    for path in &paths {
        let verdict = format!("FAIL {}:", path.display());
        assert!(
            output.contains(&verdict),
            "{} must be refused:\n{output}",
            path.display()
        );
    }
}
