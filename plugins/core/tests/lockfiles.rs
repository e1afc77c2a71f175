//! Every lockfile fixture read and compared with what it must give.
//!
//! Each directory under `tests/fixtures/lockfiles/<format>/<case>/` holds
//! one lockfile, named as its tool names it (with any file it needs beside
//! it, such as a `go.sum`), and `expected.json`: the format, the roots, every
//! package with its origin kind, scope and purl, every dependency edge as
//! `[from, to]` in `name@version` form, and the warnings, each given as a
//! piece of text the warning must contain. Packages are compared in the
//! lockfile's order, edges and warnings as sorted lists, so a reader that
//! adds, drops or renames anything fails here.
//!
//! A case whose `expected.json` has `"error"` instead must be refused with
//! a message containing that text.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use gantry_plugin_core::lockfile::{self, Format};
use gantry_plugin_core::package::Inventory;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Expected {
    format: Option<String>,
    #[serde(default)]
    has_graph: bool,
    #[serde(default)]
    roots: Vec<String>,
    #[serde(default)]
    packages: Vec<ExpectedPackage>,
    #[serde(default)]
    edges: Vec<(String, String)>,
    #[serde(default)]
    warnings: Vec<String>,
    error: Option<String>,
}

#[derive(Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedPackage {
    name: String,
    version: String,
    origin: String,
    scope: Option<String>,
    purl: Option<String>,
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lockfiles")
}

/// Every case directory, as `(case dir, lockfile path)`.
fn cases() -> Vec<(PathBuf, PathBuf)> {
    let mut cases = Vec::new();
    for format in sorted_dirs(&fixtures()) {
        for case in sorted_dirs(&format) {
            let lockfile = std::fs::read_dir(&case)
                .unwrap()
                .map(|entry| entry.unwrap().path())
                .filter(|path| {
                    let name = path.file_name().unwrap().to_str().unwrap();
                    Format::detect(name).is_some()
                })
                .min()
                .unwrap_or_else(|| panic!("{}: no lockfile in the case", case.display()));
            cases.push((case, lockfile));
        }
    }
    cases
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

fn key(inventory: &Inventory, index: usize) -> String {
    inventory.packages[index].to_string()
}

fn check(case: &Path, lockfile: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(case.join("expected.json")).unwrap();
    let expected: Expected = serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("{}/expected.json: {error}", case.display()));
    let inventory = match (lockfile::read(lockfile), &expected.error) {
        (Err(error), Some(wanted)) => {
            let message = format!("{error}");
            return if message.contains(wanted.as_str()) {
                Ok(())
            } else {
                Err(format!("error `{message}` does not contain `{wanted}`"))
            };
        }
        (Err(error), None) => return Err(format!("refused: {error}")),
        (Ok(_), Some(wanted)) => return Err(format!("read, but must fail with `{wanted}`")),
        (Ok(inventory), None) => inventory,
    };

    let mut problems = Vec::new();
    if Some(&inventory.format) != expected.format.as_ref() {
        problems.push(format!("format {:?}", inventory.format));
    }
    if inventory.has_graph != expected.has_graph {
        problems.push(format!("has-graph {}", inventory.has_graph));
    }
    let roots: Vec<String> = inventory.roots.iter().map(|&i| key(&inventory, i)).collect();
    if roots != expected.roots {
        problems.push(format!("roots {roots:?}"));
    }
    let packages: Vec<ExpectedPackage> = inventory
        .packages
        .iter()
        .map(|package| ExpectedPackage {
            name: package.name.clone(),
            version: package.version.clone(),
            origin: package.origin.kind().to_owned(),
            scope: package.scope.map(|scope| scope.as_str().to_owned()),
            purl: package.purl(),
        })
        .collect();
    for (index, (got, wanted)) in packages.iter().zip(&expected.packages).enumerate() {
        if got != wanted {
            problems.push(format!("package {index}: got {got:?}, want {wanted:?}"));
        }
    }
    if packages.len() != expected.packages.len() {
        problems.push(format!(
            "{} packages, want {}; got {:#?}",
            packages.len(),
            expected.packages.len(),
            packages
        ));
    }
    let edges: BTreeSet<(String, String)> = inventory
        .packages
        .iter()
        .enumerate()
        .flat_map(|(from, package)| {
            let inventory = &inventory;
            package
                .dependencies
                .iter()
                .map(move |&to| (key(inventory, from), key(inventory, to)))
        })
        .collect();
    let wanted_edges: BTreeSet<(String, String)> = expected.edges.iter().cloned().collect();
    if edges != wanted_edges {
        let missing: Vec<_> = wanted_edges.difference(&edges).collect();
        let extra: Vec<_> = edges.difference(&wanted_edges).collect();
        problems.push(format!("edges missing {missing:?}, extra {extra:?}"));
    }
    if inventory.warnings.len() != expected.warnings.len()
        || !expected
            .warnings
            .iter()
            .all(|wanted| inventory.warnings.iter().any(|got| got.contains(wanted.as_str())))
    {
        problems.push(format!("warnings {:?}", inventory.warnings));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n    "))
    }
}

#[test]
fn every_lockfile_fixture_gives_exactly_its_expected_packages() {
    let cases = cases();
    assert!(!cases.is_empty(), "no fixtures under {}", fixtures().display());
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(case, lockfile)| {
            check(case, lockfile)
                .err()
                .map(|problem| format!("{}:\n    {problem}", case.display()))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
