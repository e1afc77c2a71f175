//! pip requirements files (`requirements*.txt`) read as lockfiles.
//!
//! A requirements file locks a package when it pins it to one version
//! (`name==1.2.3` or `name===1.2.3`), or names it by a URL, a version
//! control reference or a local path. That is what `pip-compile` and
//! `pip freeze` write, and what this reader turns into packages: names as
//! written (PyPI's normalisation is the purl writer's business), the
//! `--hash` options as the package's hashes, and the origin from the
//! entry's form.
//!
//! What pip's file syntax allows is understood: `\` line continuations,
//! `#` comments, extras (`name[socks]==1`), `-r`/`--requirement` includes,
//! `-c`/`--constraint` files, editable entries (`-e`), `name @ url` direct
//! references, and the global options. An include is read through the
//! caller's `companion` callback, relative to the file that includes it;
//! an include cycle is refused.
//!
//! The files come from the workspace being scanned, so includes are held
//! to it: an include (and the `pyproject.toml` of a local directory) must
//! resolve inside the directory tree the lockfile's path is given relative
//! to, which for a scan is the workspace (for a path given as absolute,
//! inside the lockfile's own directory). An absolute path, or one that
//! climbs out with `..`, is refused. Includes may nest
//! [`MAX_INCLUDE_DEPTH`] files deep, and a file included twice in the same
//! role is read once, so a file cannot make the reader do more work than
//! the files themselves hold. `\` in an include is read as `/`, as pip on
//! Windows reads it.
//!
//! Choices worth knowing:
//!
//! - Environment markers (`; python_version < "3.11"`) are not evaluated.
//!   A lockfile pins for every interpreter and platform it is installed
//!   on, and which of them a scan is about is not known here, so a package
//!   behind a marker is reported like any other.
//! - A requirement that is not pinned (`flask>=2`) locks nothing: unless a
//!   constraints file pins it, it becomes a warning naming the file and
//!   line, never a package with a guessed version.
//! - A constraints file only narrows what is required elsewhere; a package
//!   it names that no requirement asks for is not installed, so it is not
//!   a package here either.
//! - `--index-url` makes every pinned package come from that index
//!   ([`Origin::OtherRegistry`]) unless it is PyPI's. `--extra-index-url`
//!   and `--find-links` add places pip may also take a package from; which
//!   one it took is not recorded, so each is a warning and the packages
//!   stay PyPI's.
//! - Requirements files record no scopes and no dependency edges.

use std::collections::{BTreeMap, BTreeSet};

use super::requirement_line::{Entry, Line, Spec};
use super::{LockfileError, is_pypi_index, python_key};
use crate::package::{Ecosystem, Inventory, Origin, Package};

/// How many files deep includes may nest, the top file counted: far more
/// than any project needs, and few enough for a small stack.
pub const MAX_INCLUDE_DEPTH: usize = 16;

/// Reads a requirements file and the files it includes.
pub(super) fn parse(
    path: &str,
    text: &str,
    companion: &dyn Fn(&str) -> std::io::Result<String>,
) -> Result<Inventory, LockfileError> {
    let top = file_name(path).to_owned();
    let mut reader = Reader {
        dir: parent(path).to_owned(),
        companion,
        stack: Vec::new(),
        read: BTreeSet::new(),
        entries: Vec::new(),
        constraints: BTreeMap::new(),
        index: None,
        warnings: Vec::new(),
    };
    reader.read_file(&top, text, Role::Requirements)?;
    Ok(reader.finish(Inventory::new(path, "requirements.txt", text.as_bytes())))
}

/// Whether a file's entries are requirements or constraints on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Role {
    Requirements,
    Constraints,
}

/// A requirement read so far, in file order.
enum Found {
    /// A locked package.
    Package(Package),
    /// A requirement with no single version, waiting for a constraint;
    /// `at` names the file and line for the warning.
    Unpinned {
        name: String,
        spec: String,
        at: String,
    },
}

/// Walks a requirements file and its includes, depth first.
struct Reader<'a> {
    /// The directory of the top file, as given, for messages.
    dir: String,
    companion: &'a dyn Fn(&str) -> std::io::Result<String>,
    /// The files being read, relative to the top file's directory, outermost
    /// first: an include of one of them is a cycle.
    stack: Vec<String>,
    /// The files read so far and in which role: reading one again adds
    /// nothing.
    read: BTreeSet<(String, Role)>,
    entries: Vec<Found>,
    /// Pinned constraints by normalised name: the version and the hashes.
    constraints: BTreeMap<String, (String, Vec<String>)>,
    /// The last `--index-url`, which pip applies to the whole install.
    index: Option<String>,
    warnings: Vec<String>,
}

impl Reader<'_> {
    /// Reads the file `relative` (to the top file's directory) whose text is
    /// `text`.
    fn read_file(&mut self, relative: &str, text: &str, role: Role) -> Result<(), LockfileError> {
        self.stack.push(relative.to_owned());
        for (number, line) in logical_lines(text) {
            let at = format!("`{}`, line {number}", self.shown(relative));
            match Line::parse(&line) {
                Ok(parsed) => self.take(relative, number, &at, parsed, role)?,
                Err(why) => self.warnings.push(format!("{at}: `{line}`: {why}")),
            }
        }
        self.stack.pop();
        Ok(())
    }

    /// Acts on one parsed line of the file `relative`.
    fn take(
        &mut self,
        relative: &str,
        number: usize,
        at: &str,
        line: Line,
        role: Role,
    ) -> Result<(), LockfileError> {
        match line {
            Line::Include {
                target,
                constraints,
            } => {
                let role = if constraints { Role::Constraints } else { role };
                self.include(relative, number, &target, role)
            }
            Line::IndexUrl(url) => {
                self.index = Some(url);
                Ok(())
            }
            Line::ExtraSource { option, url } => {
                self.warnings.push(format!(
                    "{at}: `{option} {url}`: packages may come from there as well as the \
                     index, which the file does not record; they are reported as PyPI packages"
                ));
                Ok(())
            }
            Line::Ignored => Ok(()),
            Line::UnknownOption(option) => {
                self.warnings.push(format!(
                    "{at}: unknown option `{option}` ignored; what it changes is not reflected"
                ));
                Ok(())
            }
            Line::Requirement(entry) => {
                self.requirement(relative, at, entry, role);
                Ok(())
            }
        }
    }

    /// Reads the file an `-r` or `-c` line names, relative to `including`.
    fn include(
        &mut self,
        including: &str,
        number: usize,
        target: &str,
        role: Role,
    ) -> Result<(), LockfileError> {
        if target.contains("://") {
            self.warnings.push(format!(
                "`{}`, line {number}: `{target}` is a remote file, which is not fetched; \
                 its requirements are not included",
                self.shown(including)
            ));
            return Ok(());
        }
        let target = &target.replace('\\', "/");
        let relative = join(parent(including), target);
        let outside = |message: String| LockfileError::Invalid {
            path: self.shown(including),
            line: Some(number),
            message,
        };
        if is_absolute(target) {
            return Err(outside(format!(
                "`{target}` is an absolute path; an include must be relative to the \
                 file and inside the workspace"
            )));
        }
        if self.escapes(&relative) {
            return Err(outside(format!(
                "`{target}` leads outside the workspace (to `{}`); an include must \
                 stay inside it",
                self.shown(&relative)
            )));
        }
        if self.stack.len() >= MAX_INCLUDE_DEPTH {
            return Err(outside(format!(
                "`{target}`: includes nest more than {MAX_INCLUDE_DEPTH} files deep"
            )));
        }
        if self.stack.contains(&relative) {
            let mut chain = self.stack.clone();
            chain.push(relative);
            return Err(LockfileError::Invalid {
                path: self.shown(including),
                line: Some(number),
                message: format!("include cycle: {}", chain.join(" -> ")),
            });
        }
        if !self.read.insert((relative.clone(), role)) {
            return Ok(());
        }
        let text = (self.companion)(&relative).map_err(|error| LockfileError::Companion {
            path: self.shown(including),
            needed: target.to_owned(),
            error,
        })?;
        self.read_file(&relative, super::screen::strip_bom(&text), role)
    }

    /// Whether `relative` (to the top file's directory) climbs out of the
    /// tree the top file's path is given in; for a path given as absolute,
    /// where that tree is not known, out of the top file's directory.
    fn escapes(&self, relative: &str) -> bool {
        let climbs = |path: &str| path.split('/').any(|part| part == "..");
        if is_absolute(relative) {
            return true;
        }
        if is_absolute(&self.dir) {
            climbs(relative)
        } else {
            climbs(&self.shown(relative))
        }
    }

    /// Records a requirement (or constraint) entry.
    fn requirement(&mut self, relative: &str, at: &str, entry: Entry, role: Role) {
        if role == Role::Constraints {
            self.constrain(at, entry);
            return;
        }
        let found = match entry.spec {
            Spec::Pinned(version) => Found::Package(Package {
                hashes: entry.hashes,
                ..Package::new(Ecosystem::PyPi, entry.name, version)
            }),
            Spec::Unpinned(spec) => Found::Unpinned {
                name: entry.name,
                spec,
                at: at.to_owned(),
            },
            Spec::Located { origin, version } => {
                let origin = self.locate(relative, origin);
                if let Origin::Vcs { url, .. } = &origin
                    && version.is_empty()
                {
                    self.warnings.push(format!(
                        "{at}: `{url}` names no revision, so which commit is installed is \
                         not known; add `@<commit>`"
                    ));
                }
                let (name, version) = self.name_local(at, &origin, entry.name, version);
                Found::Package(Package {
                    origin,
                    hashes: entry.hashes,
                    ..Package::new(Ecosystem::PyPi, name, version)
                })
            }
        };
        self.entries.push(found);
    }

    /// Notes a pinned constraint; a constraint without a single version
    /// pins nothing and is left to pip.
    fn constrain(&mut self, at: &str, entry: Entry) {
        match entry.spec {
            Spec::Pinned(version) => {
                let key = python_key(&entry.name);
                self.constraints.insert(key, (version, entry.hashes));
            }
            Spec::Unpinned(_) => {}
            Spec::Located { .. } => self.warnings.push(format!(
                "{at}: `{}` is a URL or path constraint, which is not applied",
                entry.name
            )),
        }
    }

    /// A local path made relative to the top file's directory, so every
    /// local package names its path the same way.
    fn locate(&self, relative: &str, origin: Origin) -> Origin {
        match origin {
            Origin::Local { path: Some(path) } if !path.starts_with('/') => Origin::Local {
                path: Some(join(parent(relative), &path)),
            },
            other => other,
        }
    }

    /// The name and version of an entry given by location. A local
    /// directory takes what `#egg=` does not give from its
    /// `pyproject.toml`; failing that, the path stands for the name.
    fn name_local(
        &mut self,
        at: &str,
        origin: &Origin,
        name: String,
        version: String,
    ) -> (String, String) {
        if !name.is_empty() && !version.is_empty() {
            return (name, version);
        }
        if let Some((project, project_version)) = self.pyproject(origin) {
            let name = if name.is_empty() { project } else { name };
            let version = if version.is_empty() {
                project_version
            } else {
                version
            };
            return (name, version);
        }
        if !name.is_empty() {
            return (name, version);
        }
        let path = match origin {
            Origin::Local { path: Some(path) } => path.clone(),
            Origin::Vcs { url, .. } | Origin::Url { url } => url.clone(),
            _ => String::new(),
        };
        self.warnings.push(format!(
            "{at}: `{path}` gives no project name (no `#egg=` and no readable \
             pyproject.toml with `[project] name`); it is listed by its path"
        ));
        (path, version)
    }

    /// `[project] name` and `version` of a local directory's
    /// `pyproject.toml`, when it has one.
    fn pyproject(&self, origin: &Origin) -> Option<(String, String)> {
        let Origin::Local { path: Some(dir) } = origin else {
            return None;
        };
        let file = join(dir, "pyproject.toml");
        if self.escapes(&file) {
            return None;
        }
        let text = (self.companion)(&file).ok()?;
        let table: toml::Table = toml::from_str(super::screen::strip_bom(&text)).ok()?;
        let project = table.get("project")?.as_table()?;
        let name = project.get("name")?.as_str()?.to_owned();
        let version = project.get("version").and_then(|v| v.as_str());
        Some((name, version.unwrap_or_default().to_owned()))
    }

    /// The inventory: pinned packages, unpinned ones that a constraint
    /// pins, and a warning for each of the rest.
    fn finish(mut self, mut inventory: Inventory) -> Inventory {
        let registry = match self.index.take() {
            Some(url) if !is_pypi_index(&url) => Origin::OtherRegistry { url },
            _ => Origin::Registry,
        };
        let mut listed = BTreeMap::new();
        for found in std::mem::take(&mut self.entries) {
            let Some(mut package) = self.settle(found) else {
                continue;
            };
            if package.origin == Origin::Registry {
                package.origin = registry.clone();
            }
            let is_project = local_path(&package) == Some(".");
            let index = merge_or_push(&mut inventory.packages, &mut listed, package);
            if is_project && !inventory.roots.contains(&index) {
                inventory.roots.push(index);
            }
        }
        for package in &mut inventory.packages {
            dedup_in_order(&mut package.hashes);
        }
        inventory.warnings = self.warnings;
        inventory
    }

    /// A found requirement as a package, or `None` (with a warning) when
    /// nothing pins its version.
    fn settle(&mut self, found: Found) -> Option<Package> {
        match found {
            Found::Package(package) => Some(package),
            Found::Unpinned { name, spec, at } => {
                if let Some((version, hashes)) = self.constraints.get(&python_key(&name)) {
                    return Some(Package {
                        hashes: hashes.clone(),
                        ..Package::new(Ecosystem::PyPi, name, version.clone())
                    });
                }
                self.warnings.push(format!(
                    "{at}: `{name}{spec}` is not pinned to one version, so which version is \
                     installed is not known; pin it with `==` (pip-compile does) or in a \
                     constraints file"
                ));
                None
            }
        }
    }

    /// `relative` as the user would find it: beside the top file.
    fn shown(&self, relative: &str) -> String {
        join(&self.dir, relative)
    }
}

/// The normalised name, version and origin that make two entries one
/// package.
type PackageKey = (String, String, Origin);

/// Adds `package`, or merges its hashes into an identical entry already
/// listed (the same pin in two included files); gives its index. `listed`
/// holds the index of each package by its key.
fn merge_or_push(
    packages: &mut Vec<Package>,
    listed: &mut BTreeMap<PackageKey, usize>,
    package: Package,
) -> usize {
    let key = (
        python_key(&package.name),
        package.version.clone(),
        package.origin.clone(),
    );
    let Some(&index) = listed.get(&key) else {
        listed.insert(key, packages.len());
        packages.push(package);
        return packages.len() - 1;
    };
    // Repeats go in `finish`, once for all, rather than here per merge.
    packages[index].hashes.extend(package.hashes);
    index
}

/// `hashes` without repeats, in the order they were first given.
fn dedup_in_order(hashes: &mut Vec<String>) {
    let mut seen = BTreeSet::new();
    hashes.retain(|hash| seen.insert(hash.clone()));
}

fn local_path(package: &Package) -> Option<&str> {
    match &package.origin {
        Origin::Local { path } => path.as_deref(),
        _ => None,
    }
}

/// The file's lines with continuations joined and comments removed, each
/// with the number of its first physical line; blank ones are left out.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut lines = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (index, raw) in text.lines().enumerate() {
        let (start, mut joined) = pending.take().unwrap_or((index + 1, String::new()));
        match raw.strip_suffix('\\') {
            Some(head) => {
                joined.push_str(head);
                pending = Some((start, joined));
            }
            None => {
                joined.push_str(raw);
                lines.push((start, joined));
            }
        }
    }
    lines.extend(pending);
    lines
        .into_iter()
        .map(|(number, line)| (number, strip_comment(&line).trim().to_owned()))
        .filter(|(_, line)| !line.is_empty())
        .collect()
}

/// The line up to a `#` that starts it or follows whitespace, as pip
/// reads comments; a `#` inside a URL (`#egg=`) is not a comment.
fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for (index, &byte) in bytes.iter().enumerate() {
        if byte == b'#' && (index == 0 || bytes[index - 1].is_ascii_whitespace()) {
            return &line[..index];
        }
    }
    line
}

/// The last component of a `/`-separated path.
fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// Everything before the last component of a `/`-separated path, or `""`.
fn parent(path: &str) -> &str {
    path.rfind(['/', '\\']).map_or("", |end| &path[..end])
}

/// Whether a path is absolute, in Unix or Windows spelling.
fn is_absolute(path: &str) -> bool {
    let bytes = path.as_bytes();
    path.starts_with('/')
        || (bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':')
}

/// `relative` resolved against the directory `dir`, with `.` and `..`
/// components folded where they can be.
fn join(dir: &str, relative: &str) -> String {
    if relative.starts_with('/') {
        return relative.to_owned();
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in dir.split('/').chain(relative.split('/')) {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|last| *last != "..") => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    match (dir.starts_with('/'), parts.is_empty()) {
        (true, _) => format!("/{}", parts.join("/")),
        (false, true) => ".".to_owned(),
        (false, false) => parts.join("/"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuations_join_and_comments_go_but_url_fragments_stay() {
        let text = "# header\nrequests==2.31.0 \\\n    --hash=sha256:aa  # pinned\n\n\
                    pip @ https://example.com/pip.zip#egg=pip\n";
        assert_eq!(
            logical_lines(text),
            vec![
                (2, "requests==2.31.0     --hash=sha256:aa".to_owned()),
                (5, "pip @ https://example.com/pip.zip#egg=pip".to_owned()),
            ]
        );
    }

    fn read(files: &[(&str, &str)]) -> Result<Inventory, LockfileError> {
        let companion = |name: &str| {
            let found = files.iter().find(|(file, _)| *file == name);
            found
                .map(|(_, text)| (*text).to_owned())
                .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
        };
        parse("requirements.txt", files[0].1, &companion)
    }

    #[test]
    fn constraints_give_unpinned_requirements_their_version_and_hashes() {
        let inventory = read(&[
            (
                "requirements.txt",
                "-c c.txt
flask[async]
",
            ),
            (
                "c.txt",
                "Flask==3.0.3 --hash=sha256:aa
werkzeug==3.0.3
",
            ),
        ])
        .unwrap();
        let flask = &inventory.packages[..];
        assert_eq!(flask.len(), 1, "{flask:?}");
        assert_eq!(
            (flask[0].name.as_str(), flask[0].version.as_str()),
            ("flask", "3.0.3")
        );
        assert_eq!(flask[0].hashes, ["sha256:aa"]);
        assert!(inventory.warnings.is_empty(), "{:?}", inventory.warnings);
    }

    #[test]
    fn the_same_pin_in_two_files_is_one_package_with_every_hash() {
        let inventory = read(&[
            (
                "requirements.txt",
                "six==1.17.0 --hash=sha256:aa
-r more.txt
",
            ),
            (
                "more.txt",
                "Six==1.17.0 --hash=sha256:bb
six==1.16.0
",
            ),
        ])
        .unwrap();
        let versions: Vec<&str> = inventory
            .packages
            .iter()
            .map(|p| p.version.as_str())
            .collect();
        assert_eq!(versions, ["1.17.0", "1.16.0"]);
        assert_eq!(inventory.packages[0].hashes, ["sha256:aa", "sha256:bb"]);
    }

    #[test]
    fn a_requirement_including_itself_is_a_cycle() {
        let error = read(&[(
            "requirements.txt",
            "-r ./requirements.txt
",
        )])
        .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("line 1: include cycle: requirements.txt -> requirements.txt"),
            "{error}"
        );
    }

    #[test]
    fn includes_resolve_against_the_including_file() {
        assert_eq!(join("", "base.txt"), "base.txt");
        assert_eq!(join("reqs", "../common/base.txt"), "common/base.txt");
        assert_eq!(join("reqs", "./dev.txt"), "reqs/dev.txt");
        assert_eq!(join("", "."), ".");
        assert_eq!(join("", "../outside.txt"), "../outside.txt");
        assert_eq!(join("/srv/app", "reqs/base.txt"), "/srv/app/reqs/base.txt");
        assert_eq!(parent("a/b/requirements.txt"), "a/b");
        assert_eq!(parent("requirements.txt"), "");
    }
}
