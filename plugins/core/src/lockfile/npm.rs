//! npm's `package-lock.json` and `npm-shrinkwrap.json`, lockfile versions
//! 1, 2 and 3.
//!
//! Versions 2 and 3 list every installed copy of a package in `packages`,
//! keyed by where it sits: `""` is the project, `node_modules/a` a hoisted
//! copy, `node_modules/a/node_modules/b` a copy of `b` only `a` sees, and a
//! key outside `node_modules` (`packages/member`) a workspace member or a
//! local directory. An entry with `link: true` is a symlink to another
//! entry, so it is not a package of its own. Version 1 has the same tree
//! nested as `dependencies` inside `dependencies`; it is flattened into the
//! same keys here, so both are read alike. Version 2 files carry both; the
//! `packages` map is read.
//!
//! A dependency is resolved the way Node finds it: in the dependent's own
//! `node_modules`, then in each enclosing one up to the project's.
//!
//! An alias (`"old": "npm:real@1.0.0"`) is recorded under the real name,
//! the one advisories use. Scopes come from the `dev`, `optional` and
//! `devOptional` flags; a package installed only to satisfy a peer
//! dependency (`peer`) is still needed at run time. Version 1 does not say
//! which packages the project itself requires; they are read from the
//! `package.json` beside it, and without one the root has no edges.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use super::LockfileError;
use super::js::{self, Ordered};
use crate::package::{Inventory, Origin, Package, Scope};

/// The top level of a `package-lock.json`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLockfile {
    name: Option<String>,
    version: Option<String>,
    lockfile_version: Option<Value>,
    packages: Option<Ordered<Value>>,
    #[serde(default)]
    dependencies: Ordered<Value>,
}

/// One entry of a version 2 or 3 `packages` map.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PackageEntry {
    name: Option<String>,
    version: Option<String>,
    resolved: Option<String>,
    integrity: Option<String>,
    #[serde(default)]
    link: bool,
    #[serde(default)]
    dev: bool,
    #[serde(default)]
    optional: bool,
    #[serde(default)]
    dev_optional: bool,
    workspaces: Option<Value>,
    #[serde(default)]
    dependencies: Ordered<String>,
    #[serde(default)]
    dev_dependencies: Ordered<String>,
    #[serde(default)]
    optional_dependencies: Ordered<String>,
    #[serde(default)]
    peer_dependencies: Ordered<String>,
}

/// One entry of a version 1 `dependencies` tree.
#[derive(Deserialize)]
struct DependencyEntry {
    version: String,
    resolved: Option<String>,
    integrity: Option<String>,
    #[serde(default)]
    dev: bool,
    #[serde(default)]
    optional: bool,
    #[serde(default)]
    requires: Ordered<String>,
    #[serde(default)]
    dependencies: Ordered<Value>,
}

/// An installed copy of a package, or a link to one, by its location key.
struct Node {
    key: String,
    target: Target,
    /// Dependency names; `true` when the lockfile must hold them (a missing
    /// optional or peer dependency is normal).
    dependencies: Vec<(String, bool)>,
}

enum Target {
    Package(usize),
    Link(String),
}

/// Reads a `package-lock.json` or `npm-shrinkwrap.json`; `companion`
/// reads the `package.json` beside a version 1 file.
///
/// # Errors
///
/// [`LockfileError::Invalid`] when the text is not JSON (with its line),
/// has no `lockfileVersion` or one other than 1, 2 or 3, or a version 2 or
/// 3 file has no `packages` map.
pub(super) fn parse(
    path: &str,
    text: &str,
    companion: &dyn Fn(&str) -> std::io::Result<String>,
) -> Result<Inventory, LockfileError> {
    let raw: RawLockfile = serde_json::from_str(text).map_err(|error| json_error(path, &error))?;
    let version = lockfile_version(path, text, raw.lockfile_version.as_ref())?;
    let mut reader = Reader::new(text);
    if version == 1 {
        let manifest = companion("package.json").ok();
        reader.read_v1(&raw, manifest.as_deref());
    } else {
        let Some(packages) = raw.packages else {
            let line = js::line_of_key(text, "lockfileVersion");
            let message = format!("lockfileVersion {version} has no `packages` map");
            return Err(js::invalid(path, line, message));
        };
        reader.read_packages(packages, raw.name.as_deref());
    }
    reader.resolve_edges();

    let format = format!("{} v{version}", js::file_name(path));
    let mut inventory = Inventory::new(path, format, text.as_bytes());
    js::tidy_dependencies(&mut reader.packages);
    inventory.packages = reader.packages;
    inventory.roots = reader.roots;
    inventory.has_graph = true;
    inventory.warnings = reader.warnings;
    Ok(inventory)
}

/// A JSON syntax or shape error with its line.
fn json_error(path: &str, error: &serde_json::Error) -> LockfileError {
    let full = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    let message = full.strip_suffix(&suffix).unwrap_or(&full);
    js::invalid(path, Some(error.line()), format!("invalid JSON: {message}"))
}

fn lockfile_version(path: &str, text: &str, value: Option<&Value>) -> Result<u64, LockfileError> {
    let line = js::line_of_key(text, "lockfileVersion");
    let Some(value) = value else {
        let message = "no `lockfileVersion`; npm 5 and later write one";
        return Err(js::invalid(path, None, message));
    };
    match value.as_u64() {
        Some(version @ 1..=3) => Ok(version),
        _ => Err(js::invalid(
            path,
            line,
            format!("unsupported lockfileVersion {value}; versions 1, 2 and 3 are supported"),
        )),
    }
}

struct Reader<'a> {
    text: &'a str,
    packages: Vec<Package>,
    nodes: Vec<Node>,
    by_key: HashMap<String, usize>,
    roots: Vec<usize>,
    warnings: Vec<String>,
}

impl<'a> Reader<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text,
            packages: Vec::new(),
            nodes: Vec::new(),
            by_key: HashMap::new(),
            roots: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn warn(&mut self, key: &str, message: impl std::fmt::Display) {
        let key = if key.is_empty() { "\"\"" } else { key };
        let warning = js::entry_warning(self.text, key, message);
        self.warnings.push(warning);
    }

    fn add_node(&mut self, key: String, target: Target, dependencies: Vec<(String, bool)>) {
        self.by_key.insert(key.clone(), self.nodes.len());
        self.nodes.push(Node {
            key,
            target,
            dependencies,
        });
    }

    fn add_package(&mut self, key: String, package: Package, deps: Vec<(String, bool)>) {
        let index = self.packages.len();
        self.packages.push(package);
        self.add_node(key, Target::Package(index), deps);
    }

    /// Reads a version 2 or 3 `packages` map.
    fn read_packages(&mut self, packages: Ordered<Value>, top_name: Option<&str>) {
        let mut workspaces = Vec::new();
        for (key, value) in packages.0 {
            let entry = match serde_json::from_value::<PackageEntry>(value) {
                Ok(entry) => entry,
                Err(error) => {
                    self.warn(&key, error);
                    continue;
                }
            };
            if key.is_empty() {
                workspaces = js::workspace_patterns(entry.workspaces.as_ref());
            }
            self.read_package_entry(key, entry, top_name);
        }
        self.roots = self
            .nodes
            .iter()
            .filter(|node| node.key.is_empty() || matches_any(&workspaces, &node.key))
            .filter_map(|node| match node.target {
                Target::Package(index) => Some(index),
                Target::Link(_) => None,
            })
            .collect();
    }

    fn read_package_entry(&mut self, key: String, entry: PackageEntry, top_name: Option<&str>) {
        if entry.link {
            let Some(target) = entry.resolved else {
                return self.warn(&key, "link without `resolved` target");
            };
            return self.add_node(key, Target::Link(target), Vec::new());
        }
        let installed = key_name(&key);
        if installed.is_some() && entry.version.is_none() {
            return self.warn(&key, "no `version`");
        }
        let name = match (&entry.name, installed) {
            (Some(name), _) => name.clone(),
            (None, Some(name)) => name.to_owned(),
            (None, None) if key.is_empty() => top_name.unwrap_or_default().to_owned(),
            (None, None) => key.rsplit('/').next().unwrap_or_default().to_owned(),
        };

        let (origin, scope) = match installed {
            None => (local_origin(&key), None),
            Some(_) => {
                let resolved = entry.resolved.as_deref();
                let origin = resolved.map_or(Origin::Registry, |url| js::origin_of_url(url, &name));
                let optional = entry.optional || entry.dev_optional;
                (origin, Some(scope_of(entry.dev, optional)))
            }
        };
        let dependencies = entry_dependencies(&entry, installed.is_none());
        let version = entry.version.unwrap_or_default();
        let mut package = js::npm_package(&name, &version, origin, scope);
        package.hashes.extend(entry.integrity);
        self.add_package(key, package, dependencies);
    }

    /// Reads a version 1 file: the project, then its `dependencies` tree.
    fn read_v1(&mut self, raw: &RawLockfile, manifest: Option<&str>) {
        if let Some(name) = &raw.name {
            let version = raw.version.clone().unwrap_or_default();
            let root = js::npm_package(name, &version, local_origin(""), None);
            let dependencies = match manifest.map(serde_json::from_str::<PackageEntry>) {
                Some(Ok(manifest)) => entry_dependencies(&manifest, true),
                Some(Err(error)) => {
                    let warning = format!("the `package.json` beside it is unreadable: {error}");
                    self.warnings.push(warning);
                    Vec::new()
                }
                None => Vec::new(),
            };
            self.roots.push(self.packages.len());
            self.add_package(String::new(), root, dependencies);
        }
        self.read_v1_tree("", &raw.dependencies);
    }

    fn read_v1_tree(&mut self, parent: &str, dependencies: &Ordered<Value>) {
        for (name, value) in &dependencies.0 {
            let key = if parent.is_empty() {
                format!("node_modules/{name}")
            } else {
                format!("{parent}/node_modules/{name}")
            };
            match DependencyEntry::deserialize(value) {
                Ok(entry) => {
                    self.read_v1_entry(key.clone(), name, &entry);
                    self.read_v1_tree(&key, &entry.dependencies);
                }
                Err(error) => self.warn(name, error),
            }
        }
    }

    fn read_v1_entry(&mut self, key: String, installed: &str, entry: &DependencyEntry) {
        let (name, version, origin) = v1_identity(installed, entry);
        let scope = scope_of(entry.dev, entry.optional);
        let scope = (!origin.is_local()).then_some(scope);
        let mut package = js::npm_package(&name, &version, origin, scope);
        package.hashes.extend(entry.integrity.clone());
        let requires = entry.requires.0.iter().map(|(dep, _)| (dep.clone(), true));
        self.add_package(key, package, requires.collect());
    }

    /// Adds every edge, found by Node's rule from the dependent's location.
    fn resolve_edges(&mut self) {
        let mut unresolved = Vec::new();
        for node in &self.nodes {
            let Target::Package(from) = node.target else {
                continue;
            };
            for (name, required) in &node.dependencies {
                match self.find(&node.key, name) {
                    Some(to) => self.packages[from].dependencies.push(to),
                    None if *required => unresolved.push((node.key.clone(), name.clone())),
                    None => {}
                }
            }
        }
        for (key, name) in unresolved {
            let message = format!("depends on `{name}`, which is not installed where Node looks");
            self.warn(&key, message);
        }
    }

    fn find(&self, from: &str, name: &str) -> Option<usize> {
        let mut base = from;
        loop {
            let candidate = if base.is_empty() {
                format!("node_modules/{name}")
            } else {
                format!("{base}/node_modules/{name}")
            };
            if let Some(&node) = self.by_key.get(&candidate) {
                return self.package_of(node);
            }
            if base.is_empty() {
                return None;
            }
            base = base.rfind("/node_modules/").map_or("", |at| &base[..at]);
        }
    }

    /// The package a node is, following a link to its target.
    fn package_of(&self, node: usize) -> Option<usize> {
        match &self.nodes[node].target {
            Target::Package(index) => Some(*index),
            Target::Link(target) => match self.nodes[*self.by_key.get(target)?].target {
                Target::Package(index) => Some(index),
                Target::Link(_) => None,
            },
        }
    }
}

/// The package name a `node_modules/…` key installs, or `None` for a key
/// outside `node_modules` (the project, a workspace member, a directory).
fn key_name(key: &str) -> Option<&str> {
    let at = key.rfind("node_modules/")?;
    if at != 0 && !key[..at].ends_with('/') {
        return None;
    }
    Some(&key[at + "node_modules/".len()..])
}

/// The origin of the project (`""`) or another directory outside
/// `node_modules`.
fn local_origin(key: &str) -> Origin {
    let path = if key.is_empty() { "." } else { key };
    Origin::Local {
        path: Some(path.to_owned()),
    }
}

/// The names an entry depends on, each with whether it must be installed:
/// a missing optional or peer dependency is normal. Only a project's own
/// `devDependencies` are installed.
fn entry_dependencies(entry: &PackageEntry, local: bool) -> Vec<(String, bool)> {
    let dev = entry.dev_dependencies.0.iter().filter(|_| local);
    let required = entry.dependencies.0.iter().chain(dev);
    let loose = entry.optional_dependencies.0.iter();
    let loose = loose.chain(&entry.peer_dependencies.0);
    let required = required.map(|(name, _)| (name.clone(), true));
    required
        .chain(loose.map(|(name, _)| (name.clone(), false)))
        .collect()
}

fn scope_of(dev: bool, optional: bool) -> Scope {
    match (dev, optional) {
        (true, _) => Scope::Dev,
        (false, true) => Scope::Optional,
        (false, false) => Scope::Runtime,
    }
}

/// The real name, version and origin of a version 1 entry installed as
/// `installed`, whose `version` may be an alias, a path or a git URL.
fn v1_identity(installed: &str, entry: &DependencyEntry) -> (String, String, Origin) {
    let written = entry.version.as_str();
    if let Some(path) = written.strip_prefix("file:") {
        let path = Some(path.to_owned());
        return (
            installed.to_owned(),
            written.to_owned(),
            Origin::Local { path },
        );
    }
    let (name, version) = match written.strip_prefix("npm:").and_then(js::split_descriptor) {
        Some((name, version)) => (name, version),
        None => (installed, written),
    };
    if version.contains(':') {
        // A git or tarball URL in place of a version: the commit, when
        // there is one, is the most exact version there is.
        let origin = js::origin_of_url(version, name);
        let version = match &origin {
            Origin::Vcs {
                commit: Some(commit),
                ..
            } => commit.clone(),
            _ => version.to_owned(),
        };
        return (name.to_owned(), version, origin);
    }
    let origin = entry
        .resolved
        .as_deref()
        .map_or(Origin::Registry, |url| js::origin_of_url(url, name));
    (name.to_owned(), version.to_owned(), origin)
}

fn matches_any(patterns: &[String], key: &str) -> bool {
    patterns.iter().any(|pattern| glob_matches(pattern, key))
}

/// Whether `path` matches a workspace glob, segment by segment: `*`
/// matches within a segment, `**` any number of segments.
fn glob_matches(pattern: &str, path: &str) -> bool {
    fn segments(pattern: &[&str], path: &[&str]) -> bool {
        match (pattern.split_first(), path.split_first()) {
            (None, None) => true,
            (Some((&"**", rest)), _) => {
                segments(rest, path) || (!path.is_empty() && segments(pattern, &path[1..]))
            }
            (Some((first, rest)), Some((segment, tail))) => {
                segment_matches(first, segment) && segments(rest, tail)
            }
            _ => false,
        }
    }
    let pattern: Vec<&str> = pattern.split('/').collect();
    let path: Vec<&str> = path.split('/').collect();
    segments(&pattern, &path)
}

fn segment_matches(pattern: &str, segment: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == segment,
        Some((prefix, suffix)) => {
            segment.len() >= prefix.len() + suffix.len()
                && segment.starts_with(prefix)
                && segment_matches_rest(suffix, &segment[prefix.len()..])
        }
    }
}

/// Matches the part of a segment after a `*` against the rest of a
/// pattern, which may hold further `*`s.
fn segment_matches_rest(pattern: &str, rest: &str) -> bool {
    if !pattern.contains('*') {
        return rest.ends_with(pattern);
    }
    (0..=rest.len())
        .filter(|&at| rest.is_char_boundary(at))
        .any(|at| segment_matches(pattern, &rest[at..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_what_they_install() {
        assert_eq!(key_name("node_modules/a"), Some("a"));
        assert_eq!(key_name("node_modules/a/node_modules/@s/b"), Some("@s/b"));
        assert_eq!(key_name("packages/member"), None);
        assert_eq!(key_name("packages/member/node_modules/x"), Some("x"));
        assert_eq!(key_name("my_node_modules/x"), None);
    }

    #[test]
    fn workspace_globs_match_by_segment() {
        assert!(glob_matches("packages/*", "packages/member"));
        assert!(!glob_matches("packages/*", "packages/member/sub"));
        assert!(glob_matches("libs/**", "libs/a/b"));
        assert!(glob_matches("apps/web-*", "apps/web-admin"));
        assert!(!glob_matches("apps/web-*", "apps/api"));
        assert!(glob_matches("tools", "tools"));
    }

    #[test]
    fn version_one_aliases_are_their_real_package() {
        let entry: DependencyEntry =
            serde_json::from_str(r#"{"version": "npm:@types/node@20.1.0"}"#).unwrap();
        let (name, version, origin) = v1_identity("node-types", &entry);
        assert_eq!((name.as_str(), version.as_str()), ("@types/node", "20.1.0"));
        assert_eq!(origin, Origin::Registry);
    }
}
