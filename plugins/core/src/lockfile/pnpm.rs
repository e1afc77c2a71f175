//! pnpm's `pnpm-lock.yaml`, lockfile versions 5.x, 6.x and 9.0.
//!
//! `importers` lists the projects of a workspace by path (`.` is the root;
//! a file of a single project written before version 9 puts its
//! dependency maps at the top level instead). Each is a local package and
//! a root; its name and version come from the `package.json` beside the
//! lockfile when that can be read, and are its path otherwise.
//!
//! `packages` lists every resolved package under a key that differs by
//! version: `/name/1.0.0` (5.x), `/name@1.0.0` (6.x), `name@1.0.0` (9.0),
//! each possibly followed by the peers it was resolved with
//! (`_peer@1.0.0` in 5.x, `(peer@1.0.0)` later). Copies that differ only
//! by their peers are one package here. Version 9.0 moved each package's
//! dependencies to `snapshots`, keyed the same way.
//!
//! A dependency is written as a version (`1.0.0`, `1.0.0(peer@2.0.0)`), as
//! a whole key (an alias, `/real/1.0.0` or `real@1.0.0`, which is recorded
//! under its real name), as `link:<path>` to another project, or as a
//! `file:` reference. A local directory's version, which 6.x and 9.0 leave
//! out, is read from its `package.json` when that can be.
//!
//! Scopes come from the `dev` and `optional` flags before version 9, and
//! from the way each package is first reached from a project
//! (`dependencies`, `optionalDependencies`, `devDependencies`) in 9.0,
//! which dropped the flags.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;
use serde_json::Value;

use super::LockfileError;
use super::js::{self, Ordered};
use crate::package::{Inventory, Origin, Package, Scope};

/// How a lockfile version writes package keys.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dialect {
    /// 5.x: `/name/1.0.0_peer@1.0.0`.
    V5,
    /// 6.x: `/name@1.0.0(peer@1.0.0)`.
    V6,
    /// 9.0: `name@1.0.0(peer@1.0.0)`, dependencies under `snapshots`.
    V9,
}

/// The dependency maps of an importer or a package, with the scope each
/// gives the packages reached through it.
const DEPENDENCY_KINDS: [(&str, Scope); 3] = [
    ("dependencies", Scope::Runtime),
    ("optionalDependencies", Scope::Optional),
    ("devDependencies", Scope::Dev),
];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLockfile {
    lockfile_version: Option<Value>,
    #[serde(default)]
    importers: Ordered<Value>,
    #[serde(default)]
    packages: Ordered<Value>,
    #[serde(default)]
    snapshots: Ordered<Value>,
    dependencies: Option<Value>,
    optional_dependencies: Option<Value>,
    dev_dependencies: Option<Value>,
}

#[derive(Deserialize)]
struct PackageEntry {
    resolution: Option<Value>,
    name: Option<String>,
    version: Option<String>,
    dev: Option<bool>,
    #[serde(default)]
    optional: bool,
}

/// Reads a `pnpm-lock.yaml`; `companion` reads each project's
/// `package.json` for its name.
///
/// # Errors
///
/// [`LockfileError::Invalid`] when the YAML is malformed (with its line)
/// or the `lockfileVersion` is missing or not 5.x, 6.x or 9.0.
pub(super) fn parse(
    path: &str,
    text: &str,
    companion: &dyn Fn(&str) -> std::io::Result<String>,
) -> Result<Inventory, LockfileError> {
    let mut raw: RawLockfile = js::parse_yaml(path, text)?;
    let (written, dialect) = lockfile_version(path, text, raw.lockfile_version.as_ref())?;
    if raw.importers.0.is_empty() {
        raw.importers
            .0
            .push((".".to_owned(), single_importer(&raw)));
    }

    let mut reader = Reader::new(dialect, text);
    reader.read_importers(&raw.importers, companion);
    reader.read_packages(&raw.packages, companion);
    let with_dependencies = match dialect {
        Dialect::V9 => &raw.snapshots,
        Dialect::V5 | Dialect::V6 => &raw.packages,
    };
    reader.read_dependencies(with_dependencies);
    reader.resolve();
    if dialect == Dialect::V9 {
        let importers: Vec<usize> = (0..reader.importers.len()).collect();
        js::propagate_scopes(&mut reader.packages, &reader.edges, &importers);
    }

    let mut inventory = Inventory::new(path, format!("pnpm-lock.yaml {written}"), text.as_bytes());
    js::tidy_dependencies(&mut reader.packages);
    inventory.roots = (0..reader.importers.len()).collect();
    inventory.packages = reader.packages;
    inventory.has_graph = true;
    inventory.warnings = reader.warnings;
    Ok(inventory)
}

fn lockfile_version(
    path: &str,
    text: &str,
    value: Option<&Value>,
) -> Result<(String, Dialect), LockfileError> {
    let written = match value {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Number(number)) => match number.as_f64() {
            Some(float) if float.fract() == 0.0 => format!("{float:.1}"),
            _ => number.to_string(),
        },
        _ => return Err(js::invalid(path, None, "no `lockfileVersion`")),
    };
    let dialect = match written
        .split_once('.')
        .map_or(written.as_str(), |(major, _)| major)
    {
        "5" => Dialect::V5,
        "6" => Dialect::V6,
        "9" if written == "9.0" => Dialect::V9,
        _ => {
            let line = js::line_of_key(text, "lockfileVersion");
            let message = format!(
                "unsupported lockfileVersion {written}; versions 5.x, 6.x and 9.0 are supported"
            );
            return Err(js::invalid(path, line, message));
        }
    };
    Ok((written, dialect))
}

/// The one project of a lockfile without `importers`.
fn single_importer(raw: &RawLockfile) -> Value {
    let mut importer = serde_json::Map::new();
    let maps = [
        ("dependencies", &raw.dependencies),
        ("optionalDependencies", &raw.optional_dependencies),
        ("devDependencies", &raw.dev_dependencies),
    ];
    for (kind, map) in maps {
        if let Some(map) = map {
            importer.insert(kind.to_owned(), map.clone());
        }
    }
    Value::Object(importer)
}

struct Reader<'a> {
    dialect: Dialect,
    text: &'a str,
    packages: Vec<Package>,
    /// Project paths, the first packages.
    importers: Vec<String>,
    /// Package keys without their peers, to packages.
    by_key: HashMap<String, usize>,
    /// `(from, dependency name, reference, scope of the edge, entry key)`.
    pending: Vec<(usize, String, String, Scope, String)>,
    /// Resolved edges with the scope of the map that gave them.
    edges: Vec<(usize, usize, Scope)>,
    warnings: Vec<String>,
    /// Entries already warned about, not to be warned about again.
    unusable: HashSet<String>,
}

impl<'a> Reader<'a> {
    fn new(dialect: Dialect, text: &'a str) -> Self {
        Self {
            dialect,
            text,
            packages: Vec::new(),
            importers: Vec::new(),
            by_key: HashMap::new(),
            pending: Vec::new(),
            edges: Vec::new(),
            warnings: Vec::new(),
            unusable: HashSet::new(),
        }
    }

    fn warn(&mut self, key: &str, message: impl std::fmt::Display) {
        let warning = js::entry_warning(self.text, key, message);
        self.warnings.push(warning);
    }

    fn read_importers(
        &mut self,
        importers: &Ordered<Value>,
        companion: &dyn Fn(&str) -> std::io::Result<String>,
    ) {
        for (path, importer) in &importers.0 {
            let (name, version) = project_identity(path, companion);
            let origin = Origin::Local {
                path: Some(path.clone()),
            };
            let index = self.packages.len();
            self.packages
                .push(js::npm_package(&name, &version, origin, None));
            self.importers.push(path.clone());
            self.queue_dependencies(index, importer, path);
        }
    }

    fn queue_dependencies(&mut self, from: usize, entry: &Value, key: &str) {
        for (kind, scope) in DEPENDENCY_KINDS {
            let Some(map) = entry.get(kind).and_then(Value::as_object) else {
                continue;
            };
            for (name, value) in map {
                // 6.0 and later write `{specifier, version}`, 5.x the version.
                let reference = value.get("version").unwrap_or(value);
                let reference = reference
                    .as_str()
                    .map_or_else(|| reference.to_string(), str::to_owned);
                self.pending
                    .push((from, name.clone(), reference, scope, key.to_owned()));
            }
        }
    }

    fn read_packages(
        &mut self,
        packages: &Ordered<Value>,
        companion: &dyn Fn(&str) -> std::io::Result<String>,
    ) {
        for (key, value) in &packages.0 {
            let entry = match PackageEntry::deserialize(value) {
                Ok(entry) => entry,
                Err(error) => {
                    self.warn(key, error);
                    self.unusable.insert(key.clone());
                    continue;
                }
            };
            let base = self.without_peers(key);
            if self.by_key.contains_key(&base) {
                continue;
            }
            let Some((name, version)) = self.identity(&base, &entry) else {
                self.warn(key, "neither its key nor `name` gives the package's name");
                continue;
            };
            let origin = origin_of(entry.resolution.as_ref(), &version, &name);
            // Later versions leave a local directory's version to its own
            // `package.json`.
            let version = match &origin {
                Origin::Local { path: Some(path) } if entry.version.is_none() => {
                    js::read_manifest(path, companion)
                        .and_then(|manifest| manifest.version)
                        .unwrap_or(version)
                }
                _ => version,
            };
            let scope = match (self.dialect, entry.dev, entry.optional) {
                (Dialect::V9, ..) => None,
                (_, Some(true), _) => Some(Scope::Dev),
                (_, _, true) => Some(Scope::Optional),
                _ => Some(Scope::Runtime),
            };
            let scope = scope.filter(|_| !origin.is_local());
            let mut package = js::npm_package(&name, &version, origin, scope);
            let integrity = entry.resolution.as_ref().and_then(|r| r.get("integrity"));
            package
                .hashes
                .extend(integrity.and_then(Value::as_str).map(str::to_owned));
            self.by_key.insert(base, self.packages.len());
            self.packages.push(package);
        }
    }

    fn read_dependencies(&mut self, entries: &Ordered<Value>) {
        for (key, value) in &entries.0 {
            if self.unusable.contains(key) {
                continue;
            }
            let base = self.without_peers(key);
            match self.by_key.get(&base) {
                Some(&from) => self.queue_dependencies(from, value, key),
                None => self.warn(key, "a snapshot of no package under `packages`"),
            }
        }
    }

    /// The key under `packages` without the peers it was resolved with.
    fn without_peers(&self, key: &str) -> String {
        match self.dialect {
            Dialect::V6 | Dialect::V9 => key.split('(').next().unwrap_or(key).to_owned(),
            Dialect::V5 => match v5_split(key) {
                Some((name, version)) => format!("/{name}/{version}"),
                None => key.to_owned(),
            },
        }
    }

    /// The name and version of the package at `base`, a key without peers.
    fn identity(&self, base: &str, entry: &PackageEntry) -> Option<(String, String)> {
        let from_key = match self.dialect {
            Dialect::V5 => v5_split(base),
            Dialect::V6 => base.strip_prefix('/').and_then(js::split_descriptor),
            Dialect::V9 => js::split_descriptor(base),
        };
        let name = entry.name.as_deref().or(from_key.map(|(name, _)| name))?;
        let version = entry
            .version
            .as_deref()
            .or(from_key.map(|(_, version)| version))
            .unwrap_or(base);
        Some((name.to_owned(), version.to_owned()))
    }

    /// Resolves every queued dependency to a package.
    fn resolve(&mut self) {
        for (from, name, reference, scope, key) in std::mem::take(&mut self.pending) {
            let found = match reference.strip_prefix("link:") {
                Some(link) => {
                    let base = self.importers.get(from).map_or(".", String::as_str);
                    let target = join(base, link);
                    self.importers.iter().position(|path| *path == target)
                }
                None => self.by_key.get(&self.key_of(&name, &reference)).copied(),
            };
            match found {
                Some(to) => {
                    self.packages[from].dependencies.push(to);
                    self.edges.push((from, to, scope));
                }
                None if scope == Scope::Optional => {}
                None => {
                    let message =
                        format!("depends on `{name}` at `{reference}`, which is not listed");
                    self.warn(&key, message);
                }
            }
        }
    }

    /// The `packages` key (without peers) a dependency `reference` names.
    fn key_of(&self, name: &str, reference: &str) -> String {
        let head = reference.split('(').next().unwrap_or(reference);
        let is_version = head.starts_with(|c: char| c.is_ascii_digit());
        match self.dialect {
            Dialect::V9 if head.contains('@') => self.without_peers(reference),
            Dialect::V9 => format!("{name}@{head}"),
            Dialect::V6 if is_version => format!("/{name}@{head}"),
            Dialect::V5 if is_version => {
                let version = head.split('_').next().unwrap_or(head);
                format!("/{name}/{version}")
            }
            Dialect::V5 | Dialect::V6 => self.without_peers(reference),
        }
    }
}

/// A 5.x key's name and version: `/@scope/name/1.0.0_peer@2.0.0` gives
/// `@scope/name` and `1.0.0`.
fn v5_split(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix('/')?;
    let skip = usize::from(rest.starts_with('@'));
    let end = rest.match_indices('/').nth(skip)?.0;
    let version = &rest[end + 1..];
    let version = version.split('_').next().unwrap_or(version);
    Some((&rest[..end], version))
}

/// A project's name and version from its `package.json`, or its path.
fn project_identity(
    path: &str,
    companion: &dyn Fn(&str) -> std::io::Result<String>,
) -> (String, String) {
    let read = js::read_manifest(path, companion);
    let name = read.as_ref().and_then(|m| m.name.clone());
    let version = read.and_then(|m| m.version).unwrap_or_default();
    (name.unwrap_or_else(|| path.to_owned()), version)
}

/// Where a package comes from, by its `resolution`.
fn origin_of(resolution: Option<&Value>, version: &str, name: &str) -> Origin {
    let field = |key: &str| resolution.and_then(|r| r.get(key)).and_then(Value::as_str);
    if let Some(directory) = field("directory") {
        return Origin::Local {
            path: Some(directory.to_owned()),
        };
    }
    if let Some(repo) = field("repo") {
        return Origin::Vcs {
            url: repo.to_owned(),
            commit: field("commit").map(str::to_owned),
        };
    }
    if let Some(tarball) = field("tarball") {
        return js::origin_of_url(tarball, name);
    }
    match version
        .strip_prefix("file:")
        .or(version.strip_prefix("link:"))
    {
        Some(path) => Origin::Local {
            path: Some(path.to_owned()),
        },
        None => Origin::Registry,
    }
}

/// `link` relative to the project at `base`, both relative to the
/// lockfile's directory, with `.` and `..` folded.
fn join(base: &str, link: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in base.split('/').chain(link.split('/')) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v5_keys_lose_their_peers() {
        assert_eq!(v5_split("/ms/2.1.3"), Some(("ms", "2.1.3")));
        assert_eq!(
            v5_split("/@types/node/20.1.0_react@18.2.0"),
            Some(("@types/node", "20.1.0"))
        );
        assert_eq!(v5_split("file:local"), None);
    }

    fn reader(dialect: Dialect) -> Reader<'static> {
        Reader::new(dialect, "")
    }

    #[test]
    fn references_name_their_package_key_in_every_dialect() {
        let v5 = reader(Dialect::V5);
        assert_eq!(
            v5.key_of("debug", "2.6.9_supports-color@7.2.0"),
            "/debug/2.6.9"
        );
        assert_eq!(v5.key_of("old", "/ms/2.1.2"), "/ms/2.1.2");
        let git = "github.com/a/b/0123abc";
        assert_eq!(v5.key_of("b", git), git);
        let v6 = reader(Dialect::V6);
        assert_eq!(
            v6.key_of("react-dom", "18.2.0(react@18.3.1)"),
            "/react-dom@18.2.0"
        );
        assert_eq!(v6.key_of("old", "/ms@2.1.2"), "/ms@2.1.2");
        assert_eq!(v6.key_of("lib", "file:lib"), "file:lib");
        let v9 = reader(Dialect::V9);
        assert_eq!(
            v9.key_of("react-dom", "18.2.0(react@18.3.1)"),
            "react-dom@18.2.0"
        );
        assert_eq!(v9.key_of("old", "@types/node@20.1.0"), "@types/node@20.1.0");
        assert_eq!(v9.key_of("lib", "file:lib"), "lib@file:lib");
        // A control: a version is never read as a whole key.
        assert_ne!(v9.key_of("ms", "2.1.3"), "2.1.3");
    }

    #[test]
    fn links_are_relative_to_their_project() {
        assert_eq!(join(".", "packages/member"), "packages/member");
        assert_eq!(join("packages/a", "../b"), "packages/b");
        assert_eq!(join("packages/a", "../.."), ".");
    }

    #[test]
    fn resolutions_give_origins() {
        let git: Value =
            serde_json::json!({"type": "git", "repo": "https://h/r.git", "commit": "abc"});
        assert_eq!(origin_of(Some(&git), "1.0.0", "r").kind(), "vcs");
        let dir: Value = serde_json::json!({"directory": "lib", "type": "directory"});
        assert_eq!(origin_of(Some(&dir), "file:lib", "lib").kind(), "local");
        let sri: Value = serde_json::json!({"integrity": "sha512-x"});
        assert_eq!(origin_of(Some(&sri), "1.0.0", "x"), Origin::Registry);
    }
}
