//! Poetry lockfiles (`poetry.lock`), in every lock version Poetry has
//! written: 1.x (Poetry 1.0 to 1.2) and 2.x (Poetry 1.3 on).
//!
//! Each `[[package]]` is one package. The formats differ in three places,
//! all read here:
//!
//! - Hashes: 1.x keeps them apart, in `[metadata.files]` under the
//!   package's name; 2.x lists them inline as `files`.
//! - Scope: 1.x says `category = "main"` or `"dev"`; lock 2.1 (Poetry 2)
//!   gives the dependency `groups` the package is in, `main` meaning it is
//!   needed at run time; Poetry 1.5 to 1.8 write neither, so their
//!   packages have no scope. A package with `optional = true` is installed
//!   only for an extra, whatever its group.
//! - Markers: 2.x may add `markers`, a string or a table per group. They
//!   are not evaluated, for the reason given in [`super::requirements`].
//!
//! `[package.source]` says where a package not from PyPI comes from: `git`
//! (with the `resolved_reference` commit), `directory` and `file` (part of
//! the project), `url` (an archive), `legacy` (another index).
//!
//! Dependency edges come from `[package.dependencies]`, names compared as
//! PEP 503 normalises them. Poetry keeps a dependency there even when it
//! locked nothing for it because its marker (or the extra it belongs to)
//! can never apply to the project; such a conditional dependency with no
//! package is left out without a word, and only an unconditional one is a
//! warning.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{LineIndex, LockfileError, is_pypi_index, python_key, toml_error};
use crate::package::{Ecosystem, Inventory, Origin, Package, Scope};

/// Reads a `poetry.lock`.
pub(super) fn parse(path: &str, text: &str) -> Result<Inventory, LockfileError> {
    let raw: RawLock = toml::from_str(text).map_err(|error| toml_error(path, error))?;
    let version = lock_version(path, &raw)?;
    let mut inventory = Inventory::new(path, format!("poetry.lock {version}"), text.as_bytes());
    inventory.has_graph = true;

    let old_files = raw
        .metadata
        .map(|metadata| metadata.files)
        .unwrap_or_default();
    let lines = LineIndex::new(text);
    let mut read = Vec::new();
    for entry in raw.package {
        let line = lines.line(entry.span().start);
        match read_package(entry.into_inner(), &old_files) {
            Ok((package, dependencies)) => {
                inventory.packages.push(package);
                read.push(dependencies);
            }
            Err(why) => inventory.warnings.push(format!(
                "`{path}`, line {line}: {why}; the package is left out"
            )),
        }
    }
    link(&mut inventory, &read);
    Ok(inventory)
}

#[derive(Deserialize)]
struct RawLock {
    #[serde(default)]
    package: Vec<toml::Spanned<toml::Table>>,
    metadata: Option<RawMetadata>,
}

#[derive(Deserialize)]
struct RawMetadata {
    #[serde(rename = "lock-version")]
    lock_version: Option<String>,
    /// Lock 1.x hashes by package name.
    #[serde(default)]
    files: BTreeMap<String, Vec<RawFile>>,
}

#[derive(Deserialize)]
struct RawPackage {
    name: String,
    version: String,
    #[serde(default)]
    optional: bool,
    category: Option<String>,
    groups: Option<Vec<String>>,
    #[serde(default)]
    files: Vec<RawFile>,
    #[serde(default)]
    dependencies: BTreeMap<String, toml::Value>,
    source: Option<RawSource>,
}

#[derive(Deserialize)]
struct RawFile {
    hash: String,
}

#[derive(Deserialize)]
struct RawSource {
    #[serde(rename = "type")]
    kind: String,
    url: String,
    resolved_reference: Option<String>,
}

/// A package's dependencies as `[package.dependencies]` names them: the
/// name, and whether it applies only under a marker or extra.
type Wanted = Vec<(String, bool)>;

/// The lock version, which must be 1.x or 2.x.
fn lock_version(path: &str, raw: &RawLock) -> Result<String, LockfileError> {
    let Some(metadata) = &raw.metadata else {
        return Err(LockfileError::Invalid {
            path: path.to_owned(),
            line: None,
            message: "no `[metadata]` table; Poetry writes one in every lockfile".to_owned(),
        });
    };
    // Poetry 1.0 wrote no lock version; its format is 1.x's.
    let version = metadata.lock_version.as_deref().unwrap_or("1.0");
    if version.starts_with("1.") || version.starts_with("2.") {
        return Ok(version.to_owned());
    }
    Err(LockfileError::Invalid {
        path: path.to_owned(),
        line: None,
        message: format!(
            "`[metadata] lock-version` is {version}; lock versions 1.x and 2.x are supported"
        ),
    })
}

/// One `[[package]]` table as a package and the names it depends on.
fn read_package(
    table: toml::Table,
    old_files: &BTreeMap<String, Vec<RawFile>>,
) -> Result<(Package, Wanted), String> {
    let shown = table.get("name").and_then(toml::Value::as_str).map_or_else(
        || "a package".to_owned(),
        |name| format!("package `{name}`"),
    );
    let raw: RawPackage = table
        .try_into()
        .map_err(|error: toml::de::Error| format!("{shown}: {}", error.message()))?;
    let origin = origin(raw.source.as_ref()).map_err(|why| format!("{shown}: {why}"))?;
    let files = old_files.get(&raw.name).unwrap_or(&raw.files);
    let wanted = raw
        .dependencies
        .iter()
        .map(|(name, spec)| (name.clone(), is_conditional(spec)))
        .collect();
    let package = Package {
        origin,
        scope: scope(&raw),
        hashes: files.iter().map(|file| file.hash.clone()).collect(),
        ..Package::new(Ecosystem::PyPi, raw.name, raw.version)
    };
    Ok((package, wanted))
}

/// Where a package's `[package.source]` says it comes from; PyPI when it
/// has none.
fn origin(source: Option<&RawSource>) -> Result<Origin, String> {
    let Some(source) = source else {
        return Ok(Origin::Registry);
    };
    let url = source.url.clone();
    Ok(match source.kind.as_str() {
        "git" => Origin::Vcs {
            url,
            commit: source.resolved_reference.clone(),
        },
        "directory" | "file" => Origin::Local { path: Some(url) },
        "url" => Origin::Url { url },
        "legacy" if is_pypi_index(&url) => Origin::Registry,
        "legacy" => Origin::OtherRegistry { url },
        other => return Err(format!("unknown source type `{other}`")),
    })
}

/// The scope Poetry's `optional`, `groups` or `category` gives.
fn scope(raw: &RawPackage) -> Option<Scope> {
    if raw.optional {
        return Some(Scope::Optional);
    }
    if let Some(groups) = &raw.groups {
        let main = groups.iter().any(|group| group == "main");
        return Some(if main { Scope::Runtime } else { Scope::Dev });
    }
    match raw.category.as_deref()? {
        "main" => Some(Scope::Runtime),
        _ => Some(Scope::Dev),
    }
}

/// Whether a dependency applies only under a marker, a Python version or
/// an extra: `{version = "…", markers = "…"}`, `{…, optional = true}`,
/// or a list of such constraints.
fn is_conditional(spec: &toml::Value) -> bool {
    match spec {
        toml::Value::Table(table) => {
            table.contains_key("markers")
                || table.contains_key("python")
                || table.get("optional").and_then(toml::Value::as_bool) == Some(true)
        }
        toml::Value::Array(items) => items.iter().all(is_conditional),
        _ => false,
    }
}

/// Resolves every package's dependency names to the packages of that
/// name (more than one when Poetry locked a version per marker).
fn link(inventory: &mut Inventory, read: &[Wanted]) {
    let mut by_key: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (index, package) in inventory.packages.iter().enumerate() {
        by_key
            .entry(python_key(&package.name))
            .or_default()
            .push(index);
    }
    for (index, wanted) in read.iter().enumerate() {
        let mut dependencies = Vec::new();
        for (name, conditional) in wanted {
            // A dependency that names a package without its version links
            // to every package of that name, so a crafted file with K
            // versions of one name and M dependents makes M×K edges from
            // M+K entries; real lockfiles hold a few versions of a name at
            // most, and the stage's memory and time limits bound the rest.
            match by_key.get(&python_key(name)) {
                Some(found) => dependencies.extend(found),
                None if *conditional => {}
                None => inventory.warnings.push(format!(
                    "`{}`: package `{}` depends on `{name}`, which is not locked",
                    inventory.path, inventory.packages[index]
                )),
            }
        }
        dependencies.sort_unstable();
        dependencies.dedup();
        inventory.packages[index].dependencies = dependencies;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str =
        include_str!("../../tests/fixtures/lockfiles/poetry/lock-1.1-category/poetry.lock");
    const NEW: &str =
        include_str!("../../tests/fixtures/lockfiles/poetry/lock-2.1-groups/poetry.lock");

    fn package<'a>(inventory: &'a Inventory, name: &str) -> &'a Package {
        inventory.packages.iter().find(|p| p.name == name).unwrap()
    }

    #[test]
    fn old_locks_take_hashes_from_the_metadata_files_table() {
        let inventory = parse("poetry.lock", OLD).unwrap();
        assert_eq!(
            package(&inventory, "six").hashes,
            [
                "sha256:8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254",
                "sha256:1e61c37477a1626458e36f7b1d82aa5c9b094fa4802892072e49de9c60c4c926",
            ]
        );
        assert!(package(&inventory, "helper").hashes.is_empty());
    }

    #[test]
    fn new_locks_take_hashes_from_inline_files() {
        let inventory = parse("poetry.lock", NEW).unwrap();
        let six = package(&inventory, "six");
        assert_eq!(six.hashes.len(), 2);
        assert!(six.hashes.iter().all(|hash| hash.starts_with("sha256:")));
        assert!(six.hashes.contains(
            &"sha256:ff70335d468e7eb6ec65b95b99d3a2836546063f63acc5171de367e834932a81".to_owned()
        ));
    }

    #[test]
    fn only_marker_extra_or_python_dependencies_are_conditional() {
        let spec = |text: &str| -> toml::Value {
            toml::from_str::<toml::Table>(text).unwrap()["d"].clone()
        };
        assert!(is_conditional(&spec(
            r#"d = {version = "*", markers = "x"}"#
        )));
        assert!(is_conditional(&spec(
            r#"d = {version = "*", optional = true}"#
        )));
        assert!(is_conditional(&spec(
            r#"d = [{version = "<2", python = "<3.8"}, {version = ">=2", markers = "y"}]"#
        )));
        assert!(!is_conditional(&spec(r#"d = ">=1""#)));
        assert!(!is_conditional(&spec(
            r#"d = {version = "*", optional = false}"#
        )));
        assert!(!is_conditional(&spec(
            r#"d = [{version = "<2", python = "<3.8"}, {version = ">=2"}]"#
        )));
    }
}
