//! uv lockfiles (`uv.lock`, version 1).
//!
//! Each `[[package]]` is one package, its `source` an inline table with
//! one key saying where it comes from: `registry` (an index URL),
//! `git` (`url?rev=…#commit`), `url` (an archive), `path` or `directory`
//! (part of the project), `editable` or `virtual` (a workspace member:
//! the project itself, so a root). Hashes come from `sdist` and `wheels`.
//!
//! Edges come from `dependencies`, `[package.optional-dependencies]` and
//! `[package.dev-dependencies]`; a dependency names its package by name,
//! and by version and source only when the name alone is ambiguous.
//!
//! uv does not say which packages are for development, so the scope is
//! worked out from the graph: the workspace members, and what they need
//! through `dependencies` (with the extras those dependencies ask for),
//! are run time; what only an extra of a member brings in is optional;
//! what only a dependency group (`dev` and the like) brings in is for
//! development. A lockfile without workspace members gives no scopes.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::{LineIndex, LockfileError, is_pypi_index, python_key, toml_error};
use crate::package::{Ecosystem, Inventory, Origin, Package, Scope};

/// Reads a `uv.lock`.
pub(super) fn parse(path: &str, text: &str) -> Result<Inventory, LockfileError> {
    let raw: RawLock = toml::from_str(text).map_err(|error| toml_error(path, error))?;
    if raw.version != 1 {
        return Err(LockfileError::Invalid {
            path: path.to_owned(),
            line: None,
            message: format!(
                "`version` is {}; uv.lock version 1 is supported",
                raw.version
            ),
        });
    }
    let mut inventory = Inventory::new(path, "uv.lock v1", text.as_bytes());
    inventory.has_graph = true;

    let lines = LineIndex::new(text);
    let mut read = Vec::new();
    for entry in raw.package {
        let line = lines.line(entry.span().start);
        match read_package(entry.into_inner()) {
            Ok((package, raw, is_root)) => {
                if is_root {
                    inventory.roots.push(inventory.packages.len());
                }
                inventory.packages.push(package);
                read.push(raw);
            }
            Err(why) => inventory.warnings.push(format!(
                "`{path}`, line {line}: {why}; the package is left out"
            )),
        }
    }
    let links = Links::resolve(&mut inventory, &read);
    links.apply(&mut inventory);
    Ok(inventory)
}

#[derive(Deserialize)]
struct RawLock {
    version: u32,
    #[serde(default)]
    package: Vec<toml::Spanned<toml::Table>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawPackage {
    name: String,
    version: Option<String>,
    source: toml::Table,
    #[serde(default)]
    dependencies: Vec<RawDependency>,
    #[serde(default)]
    optional_dependencies: BTreeMap<String, Vec<RawDependency>>,
    #[serde(default)]
    dev_dependencies: BTreeMap<String, Vec<RawDependency>>,
    sdist: Option<RawArtifact>,
    #[serde(default)]
    wheels: Vec<RawArtifact>,
}

#[derive(Deserialize)]
struct RawDependency {
    name: String,
    version: Option<String>,
    source: Option<toml::Table>,
    #[serde(default)]
    extra: Vec<String>,
}

#[derive(Deserialize)]
struct RawArtifact {
    hash: Option<String>,
}

/// One `[[package]]` as a package, its raw form for the edges, and
/// whether it is a workspace member.
fn read_package(table: toml::Table) -> Result<(Package, RawPackage, bool), String> {
    let shown = table.get("name").and_then(toml::Value::as_str).map_or_else(
        || "a package".to_owned(),
        |name| format!("package `{name}`"),
    );
    let raw: RawPackage = table
        .try_into()
        .map_err(|error: toml::de::Error| format!("{shown}: {}", error.message()))?;
    let (origin, is_root) = origin(&raw.source).map_err(|why| format!("{shown}: {why}"))?;
    let version = match &raw.version {
        Some(version) => version.clone(),
        None if origin.is_local() => String::new(),
        None => return Err(format!("{shown}: no `version`")),
    };
    let hashes = raw.sdist.iter().chain(&raw.wheels);
    let package = Package {
        origin,
        hashes: hashes.filter_map(|file| file.hash.clone()).collect(),
        ..Package::new(Ecosystem::PyPi, raw.name.clone(), version)
    };
    Ok((package, raw, is_root))
}

/// The origin a `source` table gives, and whether it is a workspace
/// member.
fn origin(source: &toml::Table) -> Result<(Origin, bool), String> {
    let Some((kind, value)) = source.iter().find(|(key, _)| *key != "subdirectory") else {
        return Err("`source` is empty".to_owned());
    };
    let Some(value) = value.as_str() else {
        return Err(format!("`source.{kind}` is not a string"));
    };
    let local = || Origin::Local {
        path: Some(value.to_owned()),
    };
    Ok(match kind.as_str() {
        "registry" if is_pypi_index(value) => (Origin::Registry, false),
        "registry" => (
            Origin::OtherRegistry {
                url: value.to_owned(),
            },
            false,
        ),
        "git" => (git_origin(value), false),
        "url" => (
            Origin::Url {
                url: value.to_owned(),
            },
            false,
        ),
        "path" | "directory" => (local(), false),
        "editable" | "virtual" => (local(), true),
        other => return Err(format!("unknown source `{other}`")),
    })
}

/// `https://host/repo?rev=main#<commit>` as the repository and commit.
fn git_origin(value: &str) -> Origin {
    let (location, commit) = match value.split_once('#') {
        Some((location, commit)) => (location, Some(commit.to_owned())),
        None => (value, None),
    };
    let url = location.split_once('?').map_or(location, |(url, _)| url);
    Origin::Vcs {
        url: url.to_owned(),
        commit,
    }
}

/// A resolved dependency: the packages it names and the extras it asks
/// of them.
struct Link {
    targets: Vec<usize>,
    extras: Vec<String>,
}

/// Every package's resolved dependencies, by kind.
struct Links {
    normal: Vec<Vec<Link>>,
    optional: Vec<BTreeMap<String, Vec<Link>>>,
    dev: Vec<Vec<Link>>,
}

impl Links {
    /// Resolves every dependency of `read` (one per package) against the
    /// inventory; a dependency that names no package is a warning.
    fn resolve(inventory: &mut Inventory, read: &[RawPackage]) -> Self {
        let mut by_key: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (index, raw) in read.iter().enumerate() {
            by_key.entry(python_key(&raw.name)).or_default().push(index);
        }
        let mut warnings = Vec::new();
        let mut resolve_all = |from: usize, deps: &[RawDependency]| -> Vec<Link> {
            let found = |dep| resolve(inventory, read, &by_key, from, dep, &mut warnings);
            deps.iter().filter_map(found).collect()
        };
        let mut links = Self {
            normal: Vec::new(),
            optional: Vec::new(),
            dev: Vec::new(),
        };
        for (from, raw) in read.iter().enumerate() {
            links.normal.push(resolve_all(from, &raw.dependencies));
            let optional = raw.optional_dependencies.iter();
            let optional = optional.map(|(extra, deps)| (extra.clone(), resolve_all(from, deps)));
            links.optional.push(optional.collect());
            let dev = raw.dev_dependencies.values();
            links
                .dev
                .push(dev.flat_map(|deps| resolve_all(from, deps)).collect());
        }
        inventory.warnings.extend(warnings);
        links
    }

    /// Writes the edges and scopes into the inventory.
    fn apply(&self, inventory: &mut Inventory) {
        for (index, package) in inventory.packages.iter_mut().enumerate() {
            let all = self.normal[index]
                .iter()
                .chain(self.optional[index].values().flatten())
                .chain(&self.dev[index]);
            let targets: BTreeSet<usize> = all.flat_map(|link| link.targets.clone()).collect();
            package.dependencies = targets.into_iter().collect();
        }
        let roots = inventory.roots.clone();
        let runtime = self.closure(&roots, &[]);
        let optional_links: Vec<&Link> = roots
            .iter()
            .flat_map(|&root| self.optional[root].values().flatten())
            .collect();
        let optional = self.closure(&[], &optional_links);
        let dev_links: Vec<&Link> = roots.iter().flat_map(|&root| &self.dev[root]).collect();
        let dev = self.closure(&[], &dev_links);
        for (index, package) in inventory.packages.iter_mut().enumerate() {
            package.scope = if runtime.contains(&index) {
                Some(Scope::Runtime)
            } else if optional.contains(&index) {
                Some(Scope::Optional)
            } else if dev.contains(&index) {
                Some(Scope::Dev)
            } else {
                None
            };
        }
    }

    /// Every package reachable from `starts` and from the targets of
    /// `links` through normal dependencies and the extras asked for.
    fn closure<'a>(&'a self, starts: &[usize], links: &[&'a Link]) -> BTreeSet<usize> {
        let mut seen = BTreeSet::new();
        let mut extras_seen = BTreeSet::new();
        let mut queue: Vec<(usize, Option<&'a str>)> =
            starts.iter().map(|&start| (start, None)).collect();
        links.iter().for_each(|link| push_link(&mut queue, link));
        while let Some((index, extra)) = queue.pop() {
            let next: Vec<&Link> = match extra {
                None if seen.insert(index) => self.normal[index].iter().collect(),
                Some(extra) if extras_seen.insert((index, extra)) => self.optional[index]
                    .get(extra)
                    .into_iter()
                    .flatten()
                    .collect(),
                _ => continue,
            };
            next.into_iter()
                .for_each(|link| push_link(&mut queue, link));
        }
        seen
    }
}

/// Queues a link's targets, and each extra it asks of them.
fn push_link<'a>(queue: &mut Vec<(usize, Option<&'a str>)>, link: &'a Link) {
    for &target in &link.targets {
        queue.push((target, None));
        queue.extend(
            link.extras
                .iter()
                .map(|extra| (target, Some(extra.as_str()))),
        );
    }
}

/// The packages a dependency of package `from` names: by name (through
/// `by_key`, the packages of each normalised name), then by version and
/// source when it gives them.
fn resolve(
    inventory: &Inventory,
    read: &[RawPackage],
    by_key: &BTreeMap<String, Vec<usize>>,
    from: usize,
    dep: &RawDependency,
    warnings: &mut Vec<String>,
) -> Option<Link> {
    // A dependency that names a package without its version links to
    // every package of that name, so a crafted file with K versions of one
    // name and M dependents makes M×K edges from M+K entries; real
    // lockfiles hold a few versions of a name at most, and the stage's
    // memory and time limits bound the rest.
    let named = by_key
        .get(&python_key(&dep.name))
        .map_or(&[][..], Vec::as_slice);
    let targets: Vec<usize> = named
        .iter()
        .copied()
        .filter(|&index| dep.version.is_none() || read[index].version == dep.version)
        .filter(|&index| {
            dep.source
                .as_ref()
                .is_none_or(|source| *source == read[index].source)
        })
        .collect();
    if targets.is_empty() {
        warnings.push(format!(
            "`{}`: package `{}` depends on `{}`, which is not locked",
            inventory.path, inventory.packages[from], dep.name
        ));
        return None;
    }
    Some(Link {
        targets,
        extras: dep.extra.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROJECT: &str =
        include_str!("../../tests/fixtures/lockfiles/uv/editable-project/uv.lock");

    #[test]
    fn hashes_come_from_the_sdist_and_every_wheel() {
        let inventory = parse("uv.lock", PROJECT).unwrap();
        let six = inventory.packages.iter().find(|p| p.name == "six").unwrap();
        assert_eq!(six.hashes.len(), 2);
        assert_eq!(
            six.hashes[0],
            "sha256:ff70335d468e7eb6ec65b95b99d3a2836546063f63acc5171de367e834932a81"
        );
        let demo = inventory
            .packages
            .iter()
            .find(|p| p.name == "demo")
            .unwrap();
        assert!(demo.hashes.is_empty());
    }

    #[test]
    fn git_sources_lose_their_query_and_keep_the_commit() {
        assert_eq!(
            git_origin("https://github.com/a/b?tag=v1#0123abc"),
            Origin::Vcs {
                url: "https://github.com/a/b".into(),
                commit: Some("0123abc".into())
            }
        );
        assert_eq!(
            git_origin("https://github.com/a/b"),
            Origin::Vcs {
                url: "https://github.com/a/b".into(),
                commit: None
            }
        );
    }

    #[test]
    fn a_lockfile_without_workspace_members_gives_no_scopes() {
        let text = "version = 1\n[[package]]\nname = \"six\"\nversion = \"1.17.0\"\n\
                    source = { registry = \"https://pypi.org/simple\" }\n";
        let inventory = parse("uv.lock", text).unwrap();
        assert_eq!(inventory.packages[0].scope, None);
        assert!(inventory.roots.is_empty());
    }
}
