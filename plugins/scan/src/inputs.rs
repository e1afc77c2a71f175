//! The lockfiles a scan reads, and everything it could not.
//!
//! With `lockfiles` in the config, exactly those are read; without it,
//! [`discover`] walks the workspace for every file whose name
//! [`Format::detect`] knows. The walk skips directories of fetched or built
//! code that hold other projects' lockfiles ([`SKIPPED_DIRS`]), does not
//! follow symbolic links, and stops [`MAX_DEPTH`] directories down; it
//! returns the lockfiles sorted, so the SBOM does not depend on the order
//! the file system lists them in.
//!
//! Nothing is skipped silently: a directory that cannot be listed, one
//! below the depth limit, a lockfile that cannot be read or parsed, and
//! each entry a reader could not use ([`Inventory::warnings`]) become an
//! [`Unreadable`] naming the path, for the report.

use std::ffi::OsStr;
use std::fs::FileType;
use std::path::Path;

use gantry_plugin_core::lockfile::{self, Format};
use gantry_plugin_core::osv::Unreadable;
use gantry_plugin_core::package::Inventory;
use gantry_plugin_sdk::StageError;
use gantry_plugin_sdk::error::error_chain;

/// Directory names the walk never enters: version control data, installed
/// or vendored dependencies, virtual environments and build output.
pub const SKIPPED_DIRS: &[&str] = &[
    ".git",
    ".hg",
    ".svn",
    ".tox",
    ".venv",
    "__pycache__",
    "node_modules",
    "target",
    "vendor",
    "venv",
];

/// How many directories below the workspace the walk descends.
pub const MAX_DEPTH: usize = 8;

/// What the walk found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Discovery {
    /// Lockfiles, relative to the workspace, sorted.
    pub lockfiles: Vec<String>,
    /// Directories that could not be searched.
    pub unreadable: Vec<Unreadable>,
    /// Directories skipped by name, for the debug log.
    pub skipped: Vec<String>,
}

/// The lockfiles read, and what could not be.
#[derive(Debug, Default)]
pub struct Inputs {
    /// One inventory per lockfile read, its `path` relative to the
    /// workspace.
    pub inventories: Vec<Inventory>,
    /// Everything unreadable, sorted by path.
    pub unreadable: Vec<Unreadable>,
    /// Directories skipped by name.
    pub skipped: Vec<String>,
}

/// Reads the lockfiles named in the config, or all under `root`.
///
/// # Errors
///
/// [`StageError::MissingInput`] when a lockfile the config names does not
/// exist: the pipeline asked for it, so its absence is not a warning.
pub fn read(root: &Path, named: Option<&[String]>) -> Result<Inputs, StageError> {
    let discovery = match named {
        Some(names) => named_lockfiles(root, names)?,
        None => discover(root),
    };
    let mut inputs = Inputs {
        unreadable: discovery.unreadable,
        skipped: discovery.skipped,
        ..Inputs::default()
    };
    if named.is_none() && discovery.lockfiles.is_empty() {
        inputs.unreadable.push(Unreadable {
            path: ".".to_owned(),
            reason: format!("no lockfile found in the workspace; {}", Format::NAMES_HINT),
        });
    }
    for relative in discovery.lockfiles {
        read_one(root, relative, &mut inputs);
    }
    inputs.unreadable.sort();
    Ok(inputs)
}

fn named_lockfiles(root: &Path, names: &[String]) -> Result<Discovery, StageError> {
    for name in names {
        if !root.join(name).is_file() {
            return Err(StageError::MissingInput(format!(
                "lockfile `{name}` named in `lockfiles` is not in the workspace"
            )));
        }
    }
    Ok(Discovery {
        lockfiles: names.to_vec(),
        ..Discovery::default()
    })
}

/// Reads one lockfile into `inputs`: its inventory and warnings, or why
/// it could not be read.
fn read_one(root: &Path, relative: String, inputs: &mut Inputs) {
    match lockfile::read(&root.join(&relative)) {
        Ok(mut inventory) => {
            let warnings = inventory.warnings.iter().map(|warning| Unreadable {
                path: relative.clone(),
                reason: warning.clone(),
            });
            inputs.unreadable.extend(warnings);
            inventory.path = relative;
            inputs.inventories.push(inventory);
        }
        Err(error) => inputs.unreadable.push(Unreadable {
            path: relative,
            reason: error_chain(&error),
        }),
    }
}

/// Finds every lockfile under `root` (see the module docs).
pub fn discover(root: &Path) -> Discovery {
    let mut walk = Walk {
        root,
        pending: vec![(String::new(), 0)],
        found: Discovery::default(),
    };
    while let Some((relative, depth)) = walk.pending.pop() {
        walk.visit_dir(relative, depth);
    }
    let mut found = walk.found;
    found.lockfiles.sort();
    found.skipped.sort();
    found.unreadable.sort();
    found
}

/// A walk in progress: directories still to list, and what was found.
struct Walk<'a> {
    root: &'a Path,
    pending: Vec<(String, usize)>,
    found: Discovery,
}

impl Walk<'_> {
    fn visit_dir(&mut self, relative: String, depth: usize) {
        let shown = if relative.is_empty() {
            "."
        } else {
            relative.as_str()
        };
        if depth > MAX_DEPTH {
            self.found.unreadable.push(Unreadable {
                path: shown.to_owned(),
                reason: format!(
                    "not searched: more than {MAX_DEPTH} directories deep; \
                     name its lockfiles in `lockfiles` to scan them"
                ),
            });
            return;
        }
        let entries = match std::fs::read_dir(self.root.join(&relative)) {
            Ok(entries) => entries,
            Err(error) => return self.found.unreadable.push(unlistable(shown, &error)),
        };
        for entry in entries {
            match entry.and_then(|entry| Ok((entry.file_name(), entry.file_type()?))) {
                Ok((name, kind)) => self.visit_entry(&relative, depth, &name, kind),
                Err(error) => self.found.unreadable.push(unlistable(shown, &error)),
            }
        }
    }

    fn visit_entry(&mut self, dir: &str, depth: usize, name: &OsStr, kind: FileType) {
        let Some(name) = name.to_str() else {
            self.found.unreadable.push(Unreadable {
                path: join(dir, &name.to_string_lossy()),
                reason: "not searched: the name is not UTF-8".to_owned(),
            });
            return;
        };
        let path = join(dir, name);
        if Format::detect(name).is_some() && !kind.is_dir() {
            self.found.lockfiles.push(path);
        } else if kind.is_symlink() || (kind.is_dir() && SKIPPED_DIRS.contains(&name)) {
            // Links are not followed, so that no link leads the walk in
            // circles or out of the workspace.
            self.found.skipped.push(path);
        } else if kind.is_dir() {
            self.pending.push((path, depth + 1));
        }
    }
}

fn unlistable(directory: &str, error: &std::io::Error) -> Unreadable {
    Unreadable {
        path: directory.to_owned(),
        reason: format!("failed to list directory: {error}"),
    }
}

fn join(directory: &str, name: &str) -> String {
    if directory.is_empty() {
        name.to_owned()
    } else {
        format!("{directory}/{name}")
    }
}

#[cfg(test)]
mod tests;
