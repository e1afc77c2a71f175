//! pipenv lockfiles (`Pipfile.lock`): JSON, one object per package
//! category.
//!
//! `default` holds the packages needed at run time and `develop` those
//! for development; any other object beside them is a custom category
//! (pipenv's `[docs]` and the like in the Pipfile), which is not installed
//! by default and so is taken as development-only too. A package in more
//! than one category is listed once, with the scope of the first.
//!
//! An entry is pinned by `version` (`==1.2.3`, or `===`), fetched from the
//! index its `index` names in `_meta.sources` (PyPI unless that index is
//! another), and carries its `hashes`. Entries without a version say
//! where they come from instead: `git` with the `ref` pipenv locked,
//! `path` (part of the project, often `editable`), or `file` (an archive
//! URL). Markers are kept out of it, for the reason given in
//! [`super::requirements`]. The format records no dependency edges.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::Value;

use super::{LockfileError, is_pypi_index, python_key};
use crate::package::{Ecosystem, Inventory, Origin, Package, Scope};

/// Reads a `Pipfile.lock`.
pub(super) fn parse(path: &str, text: &str) -> Result<Inventory, LockfileError> {
    let invalid = |line, message| LockfileError::Invalid {
        path: path.to_owned(),
        line,
        message,
    };
    let raw: BTreeMap<String, Value> = serde_json::from_str(text)
        .map_err(|error| invalid(Some(error.line()), format!("invalid JSON: {error}")))?;
    if !raw.contains_key("default") && !raw.contains_key("develop") {
        let message = "no `default` or `develop` object; not a Pipfile.lock".to_owned();
        return Err(invalid(None, message));
    }
    let meta: Meta = match raw.get("_meta") {
        Some(meta) => {
            Meta::deserialize(meta).map_err(|error| invalid(None, format!("`_meta`: {error}")))?
        }
        None => Meta::default(),
    };
    let format = match meta.pipfile_spec {
        Some(spec) => format!("Pipfile.lock spec {spec}"),
        None => "Pipfile.lock".to_owned(),
    };
    let mut inventory = Inventory::new(path, format, text.as_bytes());
    let indexes = meta.indexes();
    let mut seen = BTreeSet::new();
    for (category, scope) in categories(&raw) {
        let Some(Value::Object(entries)) = raw.get(category) else {
            continue;
        };
        // By name, as pipenv writes them, whatever order the JSON map keeps.
        let mut entries: Vec<_> = entries.iter().collect();
        entries.sort_by_key(|(name, _)| name.as_str());
        for (name, entry) in entries {
            let at = format!("`{path}`: `{category}` package `{name}`");
            match read_entry(name, entry, &indexes) {
                Ok(package) => add(&mut inventory, &mut seen, package, scope),
                Err(why) => inventory
                    .warnings
                    .push(format!("{at}: {why}; it is left out")),
            }
        }
    }
    Ok(inventory)
}

/// Every package category in the file with its scope, `default` first,
/// then `develop`, then any custom ones.
fn categories(raw: &BTreeMap<String, Value>) -> Vec<(&str, Scope)> {
    let mut found = vec![("default", Scope::Runtime), ("develop", Scope::Dev)];
    let custom = raw
        .iter()
        .filter(|(key, value)| !key.starts_with('_') && value.is_object())
        .map(|(key, _)| key.as_str())
        .filter(|key| !matches!(*key, "default" | "develop"));
    found.extend(custom.map(|key| (key, Scope::Dev)));
    found
}

#[derive(Default, Deserialize)]
struct Meta {
    #[serde(rename = "pipfile-spec")]
    pipfile_spec: Option<u32>,
    #[serde(default)]
    sources: Vec<Source>,
}

#[derive(Deserialize)]
struct Source {
    name: String,
    url: String,
}

impl Meta {
    /// The origin of a package from each named index.
    fn indexes(&self) -> BTreeMap<String, Origin> {
        let origin = |url: &str| {
            if is_pypi_index(url) {
                Origin::Registry
            } else {
                Origin::OtherRegistry {
                    url: url.to_owned(),
                }
            }
        };
        let sources = self.sources.iter();
        sources
            .map(|source| (source.name.clone(), origin(&source.url)))
            .collect()
    }
}

#[derive(Deserialize)]
struct Entry {
    version: Option<String>,
    #[serde(default)]
    hashes: Vec<String>,
    index: Option<String>,
    git: Option<String>,
    #[serde(rename = "ref")]
    reference: Option<String>,
    path: Option<String>,
    file: Option<String>,
}

/// One entry as a package, or why it cannot be one.
fn read_entry(
    name: &str,
    value: &Value,
    indexes: &BTreeMap<String, Origin>,
) -> Result<Package, String> {
    let entry = Entry::deserialize(value).map_err(|error| error.to_string())?;
    let version = entry.version.as_deref().map(|v| {
        v.trim_start_matches("===")
            .trim_start_matches("==")
            .to_owned()
    });
    let (origin, version) = match (&entry.git, &entry.path, &entry.file, version) {
        (Some(url), _, _, version) => {
            let commit = entry.reference.clone();
            let version = version.or_else(|| commit.clone()).unwrap_or_default();
            (
                Origin::Vcs {
                    url: url.clone(),
                    commit,
                },
                version,
            )
        }
        (None, Some(path), _, version) => (
            Origin::Local {
                path: Some(path.clone()),
            },
            version.unwrap_or_default(),
        ),
        (None, None, Some(file), version) => (url_or_path(file), version.unwrap_or_default()),
        (None, None, None, Some(version)) => (registry(&entry, indexes)?, version),
        (None, None, None, None) => {
            return Err("no `version`, `git`, `path` or `file`, so nothing is locked".to_owned());
        }
    };
    Ok(Package {
        origin,
        hashes: entry.hashes,
        ..Package::new(Ecosystem::PyPi, name, version)
    })
}

/// The origin of a pinned package: the index its `index` names.
fn registry(entry: &Entry, indexes: &BTreeMap<String, Origin>) -> Result<Origin, String> {
    let Some(index) = &entry.index else {
        return Ok(Origin::Registry);
    };
    match indexes.get(index) {
        Some(origin) => Ok(origin.clone()),
        None => Err(format!(
            "`index` is `{index}`, which `_meta.sources` does not list"
        )),
    }
}

/// A `file` entry: an archive URL, or a local archive.
fn url_or_path(file: &str) -> Origin {
    if file.contains("://") && !file.starts_with("file:") {
        Origin::Url {
            url: file.to_owned(),
        }
    } else {
        Origin::Local {
            path: Some(file.trim_start_matches("file://").to_owned()),
        }
    }
}

/// Adds a package unless a category read earlier has it already; `seen`
/// holds the normalised name and version of each one added.
fn add(
    inventory: &mut Inventory,
    seen: &mut BTreeSet<(String, String)>,
    mut package: Package,
    scope: Scope,
) {
    if !seen.insert((python_key(&package.name), package.version.clone())) {
        return;
    }
    package.scope = Some(scope);
    inventory.packages.push(package);
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str =
        include_str!("../../tests/fixtures/lockfiles/pipfile/editable-and-develop/Pipfile.lock");

    #[test]
    fn hashes_are_kept_as_pipenv_writes_them() {
        let inventory = parse("Pipfile.lock", LOCK).unwrap();
        let six = inventory.packages.iter().find(|p| p.name == "six").unwrap();
        assert_eq!(
            six.hashes,
            [
                "sha256:4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274",
                "sha256:ff70335d468e7eb6ec65b95b99d3a2836546063f63acc5171de367e834932a81",
            ]
        );
    }

    #[test]
    fn a_json_file_without_package_categories_is_refused() {
        let error = parse("Pipfile.lock", r#"{"_meta": {}}"#).unwrap_err();
        assert!(
            error.to_string().contains("no `default` or `develop`"),
            "{error}"
        );
        assert!(parse("Pipfile.lock", r#"{"default": {}}"#).is_ok());
    }
}
