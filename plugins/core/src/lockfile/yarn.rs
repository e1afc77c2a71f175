//! `yarn.lock`, as Yarn classic (1.x) and Yarn berry (2 and later) write it.
//!
//! Both list one entry per resolved package under the descriptors that
//! resolved to it (`"a@^1", a@~1.2:`), and name each dependency by a
//! descriptor (`a "^1"`), so an edge is found by looking the descriptor up.
//!
//! Classic files are Yarn's own indented format, headed
//! `# yarn lockfile v1`; each entry has a `version`, the `resolved` URL and
//! usually an `integrity`. The project and its workspaces are not listed.
//! Berry files are YAML with a `__metadata` entry; each entry has a
//! `resolution` (`name@npm:1.2.3`, `name@workspace:path`, …) that names the
//! real package (so an alias is recorded under the name it resolved to)
//! and its protocol, and a `checksum` of Yarn's cached archive, kept as
//! written. Workspaces are listed and are the roots.
//!
//! Neither records whether a package is only for development. When the
//! projects' `package.json` files beside the lockfile can be read, each
//! package's scope is the best of the ways it is reached from a project
//! (`dependencies`, `optionalDependencies`, `devDependencies`); otherwise
//! no scope is given. For classic files those manifests also give the
//! roots: the project and the workspace members it names by path. Berry
//! does not record which registry served a package, so every `npm:`
//! package counts as the public registry's.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use super::LockfileError;
use super::js::{self, Ordered};
use crate::package::{Inventory, Origin, Package, Scope};

/// Berry `__metadata` versions this reader knows: Yarn 2 wrote 4, Yarn 4
/// writes 8 and later 10.
const BERRY_VERSIONS: std::ops::RangeInclusive<u64> = 4..=10;

/// Reads a `yarn.lock` of either kind.
///
/// # Errors
///
/// [`LockfileError::Invalid`] when the file is neither kind, a classic
/// line cannot be read (with its line), the YAML is malformed, or the
/// berry `__metadata` version is unknown.
pub(super) fn parse(
    path: &str,
    text: &str,
    companion: &dyn Fn(&str) -> std::io::Result<String>,
) -> Result<Inventory, LockfileError> {
    let berry = text.lines().any(|line| line.trim_end() == "__metadata:");
    let mut reader = if berry {
        let mut reader = read_berry(path, text)?;
        scope_berry_workspaces(&mut reader, companion);
        reader
    } else {
        let mut reader = read_classic(path, text)?;
        add_classic_projects(&mut reader, companion);
        reader
    };
    reader.resolve(berry);
    if reader.scoped {
        js::propagate_scopes(&mut reader.packages, &reader.edges, &reader.roots);
    }
    js::tidy_dependencies(&mut reader.packages);
    let mut inventory = Inventory::new(path, reader.format, text.as_bytes());
    inventory.packages = reader.packages;
    inventory.roots = reader.roots;
    inventory.has_graph = true;
    inventory.warnings = reader.warnings;
    Ok(inventory)
}

/// What both kinds are read into.
#[derive(Default)]
struct Reader {
    format: String,
    packages: Vec<Package>,
    roots: Vec<usize>,
    warnings: Vec<String>,
    /// Every descriptor an entry is listed under, to its package.
    descriptors: HashMap<String, usize>,
    /// Dependencies not yet resolved.
    pending: Vec<Dependency>,
    /// Resolved edges with the scope of the map that gave them.
    edges: Vec<(usize, usize, Scope)>,
    /// Whether every project's manifest was read, so that scopes can be
    /// told from how each package is reached.
    scoped: bool,
}

/// A dependency named by its descriptor, not yet resolved.
struct Dependency {
    from: usize,
    descriptor: String,
    /// Whether a missing entry is worth a warning.
    required: bool,
    /// The scope of the map that lists it.
    scope: Scope,
    /// The dependent entry's line.
    line: Option<usize>,
}

impl Reader {
    fn add(&mut self, package: Package, descriptors: &[String]) -> usize {
        let index = self.packages.len();
        self.packages.push(package);
        for descriptor in descriptors {
            self.descriptors.insert(descriptor.clone(), index);
        }
        index
    }

    fn link(&mut self, from: usize, to: usize, scope: Scope) {
        self.packages[from].dependencies.push(to);
        self.edges.push((from, to, scope));
    }

    /// Resolves every pending dependency. Yarn 2 wrote a registry
    /// dependency as a bare range (`ms: 2.0.0`), so berry files are also
    /// looked up with `npm:` added.
    fn resolve(&mut self, berry: bool) {
        for dependency in std::mem::take(&mut self.pending) {
            let descriptor = &dependency.descriptor;
            let found = self.descriptors.get(descriptor).copied().or_else(|| {
                let (name, range) = js::split_descriptor(descriptor)?;
                let registry = format!("{name}@npm:{range}");
                let bare = berry && !range.contains(':');
                bare.then(|| self.descriptors.get(&registry).copied())?
            });
            match found {
                Some(to) => self.link(dependency.from, to, dependency.scope),
                None if dependency.required => self.warn_unresolved(&dependency),
                None => {}
            }
        }
    }

    fn warn_unresolved(&mut self, dependency: &Dependency) {
        let at = dependency
            .line
            .map(|line| format!("line {line}: "))
            .unwrap_or_default();
        let package = &self.packages[dependency.from];
        let descriptor = &dependency.descriptor;
        self.warnings.push(format!(
            "{at}entry `{package}`: depends on `{descriptor}`, which no entry lists"
        ));
    }
}

/// One classic entry as read, before it becomes a package.
#[derive(Default)]
struct ClassicEntry {
    line: usize,
    descriptors: Vec<String>,
    fields: HashMap<String, String>,
    /// `(name, range, required)`.
    dependencies: Vec<(String, String, bool)>,
}

fn read_classic(path: &str, text: &str) -> Result<Reader, LockfileError> {
    check_classic_header(path, text)?;
    let mut reader = Reader {
        format: "yarn.lock v1".to_owned(),
        ..Reader::default()
    };
    for entry in classic_entries(path, text)? {
        read_classic_entry(&mut reader, entry);
    }
    Ok(reader)
}

fn check_classic_header(path: &str, text: &str) -> Result<(), LockfileError> {
    let header = text
        .lines()
        .enumerate()
        .find_map(|(index, line)| Some((index + 1, line.strip_prefix("# yarn lockfile v")?)));
    match header {
        Some((_, "1")) => Ok(()),
        Some((line, version)) => Err(js::invalid(
            path,
            Some(line),
            format!("unsupported yarn lockfile version {version}; classic version 1 is supported"),
        )),
        None => Err(js::invalid(
            path,
            None,
            "neither a `# yarn lockfile v1` header nor berry's `__metadata` entry",
        )),
    }
}

/// Splits the classic format into entries, line by line.
fn classic_entries(path: &str, text: &str) -> Result<Vec<ClassicEntry>, LockfileError> {
    let mut entries: Vec<ClassicEntry> = Vec::new();
    let mut section = String::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let content = raw.trim_start();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let indent = raw.len() - content.len();
        let bad = |message: &str| js::invalid(path, Some(line), message.to_owned());
        if indent == 0 {
            let header = content
                .strip_suffix(':')
                .ok_or_else(|| bad("an entry's descriptors must end with `:`"))?;
            let descriptors = header.split(", ").map(|d| unquote(d).to_owned()).collect();
            entries.push(ClassicEntry {
                line,
                descriptors,
                ..ClassicEntry::default()
            });
            continue;
        }
        let entry = entries
            .last_mut()
            .ok_or_else(|| bad("an indented line before any entry"))?;
        if let Some(name) = content.strip_suffix(':').filter(|_| indent == 2) {
            section = unquote(name).to_owned();
            continue;
        }
        let (key, value) = split_field(content).ok_or_else(|| bad("expected `key value`"))?;
        match indent {
            2 => {
                section.clear();
                entry.fields.insert(key.to_owned(), value.to_owned());
            }
            4 if section == "dependencies" || section == "optionalDependencies" => {
                let required = section == "dependencies";
                entry
                    .dependencies
                    .push((key.to_owned(), value.to_owned(), required));
            }
            4 => {}
            _ => return Err(bad("unexpected indentation")),
        }
    }
    Ok(entries)
}

/// Splits `key value`, either of which may be quoted.
fn split_field(content: &str) -> Option<(&str, &str)> {
    let (key, value) = match content.strip_prefix('"') {
        Some(rest) => {
            let end = rest.find('"')?;
            (&rest[..end], rest[end + 1..].trim_start())
        }
        None => content.split_once(' ')?,
    };
    Some((key, unquote(value.trim())))
}

fn unquote(text: &str) -> &str {
    text.strip_prefix('"')
        .and_then(|text| text.strip_suffix('"'))
        .unwrap_or(text)
}

fn read_classic_entry(reader: &mut Reader, entry: ClassicEntry) {
    let line = Some(entry.line);
    let first = entry
        .descriptors
        .first()
        .map(String::as_str)
        .unwrap_or_default();
    let warn = |reader: &mut Reader, message: &str| {
        let line = entry.line;
        reader
            .warnings
            .push(format!("line {line}: entry `{first}`: {message}"));
    };
    let Some((listed, range)) = js::split_descriptor(first) else {
        return warn(reader, "not a `name@range` descriptor");
    };
    let Some(version) = entry.fields.get("version") else {
        return warn(reader, "no `version`");
    };
    // An alias resolves to its real package, which advisories name.
    let name = range
        .strip_prefix("npm:")
        .and_then(js::split_descriptor)
        .map_or(listed, |(real, _)| real);

    let resolved = entry.fields.get("resolved").map(String::as_str);
    let local = ["file:", "link:"]
        .iter()
        .find_map(|protocol| range.strip_prefix(protocol));
    let (origin, sha1) = match (local, resolved) {
        (Some(path), _) => (local_origin(path), None),
        (None, Some(url)) => classic_origin(url, name),
        (None, None) => (Origin::Registry, None),
    };
    let mut package = js::npm_package(name, version, origin, None);
    package
        .hashes
        .extend(entry.fields.get("integrity").cloned().or(sha1));
    let index = reader.add(package, &entry.descriptors);
    for (dependency, range, required) in entry.dependencies {
        reader.pending.push(Dependency {
            from: index,
            descriptor: format!("{dependency}@{range}"),
            required,
            scope: if required {
                Scope::Runtime
            } else {
                Scope::Optional
            },
            line,
        });
    }
}

/// The origin of a classic `resolved` URL, and the SHA-1 Yarn appends to
/// a tarball URL as its fragment, kept when there is no `integrity`.
fn classic_origin(url: &str, name: &str) -> (Origin, Option<String>) {
    let origin = js::origin_of_url(url, name);
    if matches!(origin, Origin::Vcs { .. }) {
        return (origin, None);
    }
    let Some((bare, fragment)) = url.split_once('#') else {
        return (origin, None);
    };
    let sha1 = (fragment.len() == 40 && fragment.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| format!("sha1:{fragment}"));
    (js::origin_of_url(bare, name), sha1)
}

fn local_origin(path: &str) -> Origin {
    Origin::Local {
        path: Some(path.to_owned()),
    }
}

/// One berry entry.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BerryEntry {
    version: Value,
    resolution: String,
    #[serde(default)]
    dependencies: Ordered<Value>,
    dependencies_meta: Option<Value>,
    checksum: Option<String>,
}

fn read_berry(path: &str, text: &str) -> Result<Reader, LockfileError> {
    let top: Ordered<Value> = js::parse_yaml(path, text)?;
    let mut reader = Reader::default();
    let mut metadata = None;
    for (key, value) in top.0 {
        if key == "__metadata" {
            metadata = value.get("version").cloned();
            continue;
        }
        read_berry_entry(&mut reader, text, &key, value);
    }
    let version = berry_version(path, text, metadata)?;
    reader.format = format!("yarn.lock berry v{version}");
    Ok(reader)
}

fn berry_version(path: &str, text: &str, version: Option<Value>) -> Result<u64, LockfileError> {
    let number = version.as_ref().and_then(|value| match value {
        Value::String(text) => text.parse().ok(),
        other => other.as_u64(),
    });
    match number {
        Some(number) if BERRY_VERSIONS.contains(&number) => Ok(number),
        _ => Err(js::invalid(
            path,
            js::line_of_key(text, "__metadata"),
            format!(
                "unsupported yarn berry lockfile `__metadata` version {}; versions 4 to 10 are supported",
                version.map_or("(none)".to_owned(), |value| value.to_string())
            ),
        )),
    }
}

fn read_berry_entry(reader: &mut Reader, text: &str, key: &str, value: Value) {
    let warn = |reader: &mut Reader, message: &dyn std::fmt::Display| {
        reader.warnings.push(js::entry_warning(text, key, message));
    };
    let entry = match BerryEntry::deserialize(&value) {
        Ok(entry) => entry,
        Err(error) => return warn(reader, &error),
    };
    let Some((name, reference)) = js::split_descriptor(&entry.resolution) else {
        return warn(reader, &"`resolution` is not `name@reference`");
    };
    let Some((origin, root)) = berry_origin(name, reference) else {
        return warn(
            reader,
            &format!("unsupported resolution `{}`", entry.resolution),
        );
    };
    let version = match &entry.version {
        Value::String(version) => version.clone(),
        other => other.to_string(),
    };
    let mut package = js::npm_package(name, &version, origin, None);
    package.hashes.extend(entry.checksum);
    // A dependency on a local path names it without the `::locator=…`
    // binding its entry's descriptor carries.
    let descriptors: Vec<String> = key
        .split(", ")
        .flat_map(|descriptor| {
            [
                descriptor,
                descriptor.split("::").next().unwrap_or(descriptor),
            ]
        })
        .map(str::to_owned)
        .collect();
    let index = reader.add(package, &descriptors);
    if root {
        reader.roots.push(index);
    }
    let line = js::line_of_key(text, key);
    for (dependency, range) in entry.dependencies.0 {
        let range = range
            .as_str()
            .map_or_else(|| range.to_string(), str::to_owned);
        let meta = entry
            .dependencies_meta
            .as_ref()
            .and_then(|m| m.get(&dependency));
        let optional = meta.and_then(|m| m.get("optional")) == Some(&Value::Bool(true));
        reader.pending.push(Dependency {
            from: index,
            descriptor: format!("{dependency}@{range}"),
            required: true,
            scope: if optional {
                Scope::Optional
            } else {
                Scope::Runtime
            },
            line,
        });
    }
}

/// Adds the project and the workspace members its `package.json` names by
/// path, which a classic file does not list, each with its dependencies.
/// Without a readable `package.json` there are no roots and no scopes.
fn add_classic_projects(reader: &mut Reader, companion: &dyn Fn(&str) -> std::io::Result<String>) {
    let Some(root) = js::read_manifest(".", companion) else {
        return;
    };
    let patterns = js::workspace_patterns(root.workspaces.as_ref());
    // Workspace globs are not expanded: a reader sees files, not
    // directories. Members behind one are not read, so the projects'
    // dependencies that no entry lists are not warned of.
    let globbed = patterns.iter().any(|pattern| pattern.contains('*'));
    let mut projects = vec![(".".to_owned(), root)];
    for pattern in patterns.into_iter().filter(|p| !p.contains('*')) {
        if let Some(member) = js::read_manifest(&pattern, companion) {
            projects.push((pattern, member));
        }
    }

    let mut by_name = HashMap::new();
    for (path, manifest) in &projects {
        let name = manifest.name.clone().unwrap_or_else(|| path.clone());
        let version = manifest.version.clone().unwrap_or_default();
        let package = js::npm_package(&name, &version, local_origin(path), None);
        let index = reader.add(package, &[]);
        reader.roots.push(index);
        by_name.insert(name, index);
    }
    let indices = reader.roots.clone();
    for ((_, manifest), from) in projects.iter().zip(indices) {
        for (name, range, scope) in manifest.dependency_list() {
            if let Some(&member) = by_name.get(name) {
                reader.link(from, member, scope);
                continue;
            }
            let descriptor = format!("{name}@{range}");
            let required = !globbed;
            let line = None;
            reader.pending.push(Dependency {
                from,
                descriptor,
                required,
                scope,
                line,
            });
        }
    }
    reader.scoped = true;
}

/// Gives each berry workspace's dependencies the scope its `package.json`
/// lists them under, which the lockfile does not record. Unless every
/// workspace's `package.json` can be read, no scopes are given.
fn scope_berry_workspaces(
    reader: &mut Reader,
    companion: &dyn Fn(&str) -> std::io::Result<String>,
) {
    let mut scopes: HashMap<usize, HashMap<String, Scope>> = HashMap::new();
    for &root in &reader.roots {
        let Origin::Local { path: Some(path) } = &reader.packages[root].origin else {
            return;
        };
        let Some(manifest) = js::read_manifest(path, companion) else {
            return;
        };
        let listed = manifest.dependency_list();
        let listed = listed
            .into_iter()
            .map(|(name, _, scope)| (name.to_owned(), scope));
        scopes.insert(root, listed.collect());
    }
    for dependency in &mut reader.pending {
        let Some(listed) = scopes.get(&dependency.from) else {
            continue;
        };
        let name = js::split_descriptor(&dependency.descriptor).map(|(name, _)| name);
        if let Some(&scope) = name.and_then(|name| listed.get(name)) {
            dependency.scope = scope;
        }
    }
    reader.scoped = true;
}

/// The origin of a berry resolution's `reference`, and whether it is a
/// workspace; `None` for a protocol this reader does not know.
fn berry_origin(name: &str, reference: &str) -> Option<(Origin, bool)> {
    let (protocol, rest) = reference.split_once(':')?;
    // A local path may carry `::locator=…` bindings or a `#` hash.
    let local_path = || rest.split("::").next().unwrap_or(rest).split('#').next();
    match protocol {
        "npm" => Some((Origin::Registry, false)),
        "workspace" => Some((local_origin(rest), true)),
        "link" | "portal" | "file" => Some((local_origin(local_path()?), false)),
        "patch" => {
            // `patch:<percent-encoded descriptor>#<patch>`: the package is
            // the one patched.
            let inner = js::percent_decode(rest.split('#').next()?);
            let (_, inner_reference) = js::split_descriptor(&inner)?;
            berry_origin(name, inner_reference)
        }
        _ => Some((js::origin_of_url(reference, name), false)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_fields_split_with_or_without_quotes() {
        assert_eq!(
            split_field(r#""@types/node" "^20""#),
            Some(("@types/node", "^20"))
        );
        assert_eq!(split_field("version \"1.0.0\""), Some(("version", "1.0.0")));
        assert_eq!(split_field("lonely"), None);
    }

    #[test]
    fn berry_patches_are_the_package_they_patch() {
        let reference = "patch:resolve@npm%3A1.22.8#optional!builtin<compat/resolve>";
        assert_eq!(
            berry_origin("resolve", reference),
            Some((Origin::Registry, false))
        );
        assert_eq!(berry_origin("x", "exotic"), None);
    }

    #[test]
    fn classic_tarball_fragments_are_sha1_hashes() {
        let url = "https://registry.yarnpkg.com/ms/-/ms-2.0.0.tgz#5608aeadfc00be6c2901df5f9861788de0d597c8";
        let (origin, sha1) = classic_origin(url, "ms");
        assert_eq!(origin, Origin::Registry);
        assert_eq!(
            sha1.as_deref(),
            Some("sha1:5608aeadfc00be6c2901df5f9861788de0d597c8")
        );
    }
}
