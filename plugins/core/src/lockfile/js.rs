//! What the JavaScript lockfile readers (npm, Yarn, pnpm) share.
//!
//! All three formats name packages the npm way (`name` or `@scope/name`),
//! write `name@spec` descriptors, and point at tarballs by URL. This module
//! splits descriptors, tells a package's [`Origin`] from the URL or spec a
//! lockfile gives, keeps the order of a map's entries (the readers list
//! packages in the lockfile's order, which `serde_json`'s map does not keep),
//! and finds the line an entry starts on for messages.

use std::collections::BTreeSet;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::Value;

use super::LockfileError;
use crate::package::{Ecosystem, Origin, Package, Scope};

/// The hosts of the public npm registry; Yarn writes its own mirror's name.
const PUBLIC_REGISTRIES: [&str; 2] = ["registry.npmjs.org", "registry.yarnpkg.com"];

/// The most YAML nodes (maps, lists and scalars) a lockfile may have.
const LARGEST_YAML_NODES: usize = 8_000_000;

/// A map's entries in the order the file lists them.
pub(super) struct Ordered<T>(pub Vec<(String, T)>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Ordered<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(OrderedVisitor(PhantomData))
    }
}

struct OrderedVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for OrderedVisitor<T> {
    type Value = Ordered<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry::<String, T>()? {
            entries.push(entry);
        }
        Ok(Ordered(entries))
    }

    // YAML writes an empty map as `{}` but an absent one as nothing at all.
    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(Ordered(Vec::new()))
    }
}

impl<T> Default for Ordered<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

/// Splits `name@spec` at the `@` that ends the name, which for a scoped
/// package is the second one.
pub(super) fn split_descriptor(descriptor: &str) -> Option<(&str, &str)> {
    let start = usize::from(descriptor.starts_with('@'));
    let at = descriptor[start..].find('@')? + start;
    let (name, spec) = (&descriptor[..at], &descriptor[at + 1..]);
    (!name.is_empty() && name != "@").then_some((name, spec))
}

/// The origin of a package fetched from `url`, which a lockfile gives as
/// its `resolved` (npm, Yarn classic) or tarball (pnpm) URL.
///
/// The public registry and Yarn's mirror of it are [`Origin::Registry`];
/// another URL laid out as a registry's tarball (`<base>/<name>/-/…`) is
/// [`Origin::OtherRegistry`] at `<base>`; `git+…`, `git:`, `github:`, a
/// URL ending `.git` or carrying Yarn berry's `#commit=`, and GitHub's
/// archive host are [`Origin::Vcs`], with the commit after `#`;
/// `file:` is [`Origin::Local`]; any other URL is [`Origin::Url`].
pub(super) fn origin_of_url(url: &str, name: &str) -> Origin {
    if let Some(path) = url.strip_prefix("file:") {
        return Origin::Local {
            path: Some(path.to_owned()),
        };
    }
    if let Some(origin) = vcs_origin(url) {
        return origin;
    }
    let host = url
        .split_once("://")
        .map(|(_, rest)| rest.split(['/', ':']).next().unwrap_or(rest));
    if host.is_some_and(|host| PUBLIC_REGISTRIES.contains(&host)) {
        return Origin::Registry;
    }
    match url.split_once("/-/") {
        Some((base, _)) if host.is_some() => Origin::OtherRegistry {
            url: base
                .strip_suffix(name)
                .and_then(|base| base.strip_suffix('/'))
                .unwrap_or(base)
                .to_owned(),
        },
        _ => Origin::Url {
            url: url.to_owned(),
        },
    }
}

/// The origin of a version control URL, or `None` if `url` is not one.
fn vcs_origin(url: &str) -> Option<Origin> {
    let is_vcs = url.starts_with("git+")
        || url.starts_with("git:")
        || url.starts_with("git@")
        || url.starts_with("github:")
        || url.starts_with("https://codeload.github.com/")
        || url.contains("#commit=")
        || url
            .split('#')
            .next()
            .is_some_and(|repo| repo.ends_with(".git"));
    if !is_vcs {
        return None;
    }
    if let Some(rest) = url.strip_prefix("https://codeload.github.com/") {
        // An archive of a commit: `<owner>/<repo>/tar.gz/<commit>`.
        let parts: Vec<&str> = rest.split('/').collect();
        if let [owner, repo, _, commit] = parts[..] {
            return Some(Origin::Vcs {
                url: format!("https://github.com/{owner}/{repo}"),
                commit: Some(commit.to_owned()),
            });
        }
    }
    let (repo, fragment) = url.split_once('#').unwrap_or((url, ""));
    // Yarn berry writes `#commit=<sha>`, npm and pnpm a bare `#<sha>`.
    let commit = fragment.strip_prefix("commit=").unwrap_or(fragment);
    let commit = commit.split('&').next().unwrap_or_default();
    Some(Origin::Vcs {
        url: repo.to_owned(),
        commit: (!commit.is_empty()).then(|| commit.to_owned()),
    })
}

/// An npm package with its origin and scope.
pub(super) fn npm_package(
    name: &str,
    version: &str,
    origin: Origin,
    scope: Option<Scope>,
) -> Package {
    let mut package = Package::new(Ecosystem::Npm, name, version);
    package.origin = origin;
    package.scope = scope;
    package
}

/// Sorts every package's dependencies and drops repeats.
pub(super) fn tidy_dependencies(packages: &mut [Package]) {
    for package in packages {
        let unique: BTreeSet<usize> = package.dependencies.iter().copied().collect();
        package.dependencies = unique.into_iter().collect();
    }
}

/// The 1-based line of the first line of `text` that, without its
/// indentation, starts with `key` (bare, single- or double-quoted) and a
/// colon: where a JSON or YAML entry named `key` begins.
pub(super) fn line_of_key(text: &str, key: &str) -> Option<usize> {
    let forms = [
        format!("\"{key}\":"),
        format!("'{key}':"),
        format!("{key}:"),
    ];
    text.lines()
        .position(|line| {
            let line = line.trim_start();
            forms.iter().any(|form| line.starts_with(form.as_str()))
        })
        .map(|index| index + 1)
}

/// A warning about the entry `key`, with its line when it can be found.
pub(super) fn entry_warning(text: &str, key: &str, message: impl fmt::Display) -> String {
    match line_of_key(text, key) {
        Some(line) => format!("line {line}: entry `{key}`: {message}"),
        None => format!("entry `{key}`: {message}"),
    }
}

/// A whole-file error at `line`.
pub(super) fn invalid(
    path: &str,
    line: Option<usize>,
    message: impl Into<String>,
) -> LockfileError {
    LockfileError::Invalid {
        path: path.to_owned(),
        line,
        message: message.into(),
    }
}

/// Parses YAML text, refusing it as a whole with the line of the first
/// problem.
pub(super) fn parse_yaml<T: serde::de::DeserializeOwned>(
    path: &str,
    text: &str,
) -> Result<T, LockfileError> {
    // A large monorepo's pnpm-lock.yaml has a few million nodes, beyond
    // the library's default budget, which is meant for configuration files;
    // the budget still bounds alias expansion. The message names the line
    // itself; a snippet of the text would spread it over several.
    let mut budget = serde_saphyr::Budget::default();
    budget.max_nodes = LARGEST_YAML_NODES;
    budget.max_events = 2 * LARGEST_YAML_NODES;
    let options = serde_saphyr::options! { budget: Some(budget), with_snippet: false };
    serde_saphyr::from_str_with_options(text, options).map_err(|error| {
        let full = error.to_string();
        let Some(at) = error.location() else {
            return invalid(path, None, format!("invalid YAML: {full}"));
        };
        let suffix = format!(" at line {}, column {}", at.line(), at.column());
        let message = full.strip_suffix(&suffix).unwrap_or(&full);
        invalid(
            path,
            Some(at.line() as usize),
            format!("invalid YAML: {message}"),
        )
    })
}

/// What the readers use of a project's `package.json`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Manifest {
    pub name: Option<String>,
    pub version: Option<String>,
    #[serde(default)]
    pub dependencies: Ordered<String>,
    #[serde(default)]
    pub optional_dependencies: Ordered<String>,
    #[serde(default)]
    pub dev_dependencies: Ordered<String>,
    pub workspaces: Option<Value>,
}

impl Manifest {
    /// Every dependency as `(name, range, scope)`; a name listed both as
    /// a run-time and a development dependency is needed at run time.
    pub fn dependency_list(&self) -> Vec<(&str, &str, Scope)> {
        let maps = [
            (&self.dependencies, Scope::Runtime),
            (&self.optional_dependencies, Scope::Optional),
            (&self.dev_dependencies, Scope::Dev),
        ];
        let mut list: Vec<(&str, &str, Scope)> = Vec::new();
        for (map, scope) in maps {
            for (name, range) in &map.0 {
                if !list.iter().any(|(seen, ..)| seen == name) {
                    list.push((name, range, scope));
                }
            }
        }
        list
    }
}

/// The `package.json` of the directory `path` (relative to the lockfile,
/// `.` for its own), when it can be read.
pub(super) fn read_manifest(
    path: &str,
    companion: &dyn Fn(&str) -> std::io::Result<String>,
) -> Option<Manifest> {
    let manifest = match path.trim_end_matches('/') {
        "." | "" => "package.json".to_owned(),
        path => format!("{path}/package.json"),
    };
    let text = companion(&manifest).ok()?;
    serde_json::from_str(&text).ok()
}

/// A root manifest's `workspaces` globs, written as a list or as
/// `{"packages": [...]}`.
pub(super) fn workspace_patterns(value: Option<&Value>) -> Vec<String> {
    let list = match value {
        Some(Value::Object(object)) => object.get("packages"),
        other => other,
    };
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|pattern| pattern.as_str())
        .map(|pattern| {
            let pattern = pattern.trim_start_matches("./").trim_end_matches('/');
            pattern.to_owned()
        })
        .collect()
}

/// How much of a project needs a package: run time before optional
/// before development.
fn scope_rank(scope: Scope) -> u8 {
    match scope {
        Scope::Runtime => 0,
        Scope::Optional => 1,
        Scope::Dev => 2,
    }
}

/// Gives each package reached from `roots` the best scope of any path to
/// it: run time over optional over development, an edge's own scope
/// (`optionalDependencies`, `devDependencies`) narrowing the path's.
pub(super) fn propagate_scopes(
    packages: &mut [Package],
    edges: &[(usize, usize, Scope)],
    roots: &[usize],
) {
    let mut children: Vec<Vec<(usize, Scope)>> = vec![Vec::new(); packages.len()];
    for &(from, to, scope) in edges {
        children[from].push((to, scope));
    }
    // Each package's scope only improves, at most twice, so every edge is
    // followed at most three times.
    let mut queue: Vec<(usize, Scope)> = Vec::new();
    for &root in roots {
        queue.extend(children[root].iter().copied());
    }
    while let Some((index, scope)) = queue.pop() {
        let package = &mut packages[index];
        let better = package
            .scope
            .is_none_or(|current| scope_rank(scope) < scope_rank(current));
        if package.origin.is_local() || !better {
            continue;
        }
        package.scope = Some(scope);
        for &(to, edge) in &children[index] {
            let narrower = if scope_rank(edge) > scope_rank(scope) {
                edge
            } else {
                scope
            };
            queue.push((to, narrower));
        }
    }
}

/// Decodes `%XX` escapes, as Yarn berry writes a descriptor inside a
/// patch.
pub(super) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let escape = text.get(at + 1..at + 3).filter(|_| bytes[at] == b'%');
        match escape.and_then(|hex| u8::from_str_radix(hex, 16).ok()) {
            Some(byte) => {
                decoded.push(byte);
                at += 3;
            }
            None => {
                decoded.push(bytes[at]);
                at += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// The file name part of `path`, for the inventory's format.
pub(super) fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_split_after_the_scope() {
        assert_eq!(
            split_descriptor("@types/node@^20"),
            Some(("@types/node", "^20"))
        );
        assert_eq!(split_descriptor("ms@npm:ms@2"), Some(("ms", "npm:ms@2")));
        assert_eq!(split_descriptor("ms"), None);
        assert_eq!(split_descriptor("@x"), None);
    }

    #[test]
    fn registry_urls_tell_public_from_private() {
        let public = "https://registry.npmjs.org/ms/-/ms-2.1.3.tgz";
        assert_eq!(origin_of_url(public, "ms"), Origin::Registry);
        let private = "https://npm.example.gov/repo/@acme/ui/-/ui-1.0.0.tgz";
        assert_eq!(
            origin_of_url(private, "@acme/ui"),
            Origin::OtherRegistry {
                url: "https://npm.example.gov/repo".into()
            }
        );
        let plain = "https://example.gov/ui.tgz";
        assert_eq!(origin_of_url(plain, "ui").kind(), "url");
    }

    #[test]
    fn git_urls_keep_their_commit() {
        let origin = origin_of_url("git+ssh://git@github.com/a/b.git#0123abc", "b");
        assert_eq!(
            origin,
            Origin::Vcs {
                url: "git+ssh://git@github.com/a/b.git".into(),
                commit: Some("0123abc".into())
            }
        );
        let archive = "https://codeload.github.com/a/b/tar.gz/0123abc";
        assert_eq!(
            origin_of_url(archive, "b"),
            Origin::Vcs {
                url: "https://github.com/a/b".into(),
                commit: Some("0123abc".into())
            }
        );
    }

    #[test]
    fn entry_lines_are_found_in_json_and_yaml() {
        let text = "{\n  \"a\": 1,\n  \"node_modules/b\": {}\n}\n";
        assert_eq!(line_of_key(text, "node_modules/b"), Some(3));
        assert_eq!(line_of_key("x:\n  '@t/n@1':\n", "@t/n@1"), Some(2));
        assert_eq!(line_of_key(text, "c"), None);
    }
}
