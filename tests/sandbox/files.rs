//! What is on disk under a directory, to compare before and after a run.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Result;

/// What a path in a [`snapshot`] was.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Node {
    Dir,
    File {
        bytes: Vec<u8>,
        modified: SystemTime,
    },
    Link(PathBuf),
}

/// Every path under `root` (not following symlinks), relative to it, with
/// what it was: enough to see any change a plugin could make.
pub(crate) fn snapshot(root: &Path) -> Result<BTreeMap<PathBuf, Node>> {
    let mut nodes = BTreeMap::new();
    let mut pending = vec![root.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir)? {
            let path = entry?.path();
            let meta = fs::symlink_metadata(&path)?;
            let node = if meta.is_symlink() {
                Node::Link(fs::read_link(&path)?)
            } else if meta.is_dir() {
                pending.push(path.clone());
                Node::Dir
            } else {
                let modified = meta.modified()?;
                Node::File {
                    bytes: fs::read(&path)?,
                    modified,
                }
            };
            nodes.insert(path.strip_prefix(root)?.to_owned(), node);
        }
    }
    Ok(nodes)
}

/// The paths that differ between two snapshots: added, removed or changed.
pub(crate) fn changed_paths(
    before: &BTreeMap<PathBuf, Node>,
    after: &BTreeMap<PathBuf, Node>,
) -> Vec<PathBuf> {
    let paths: BTreeSet<&PathBuf> = before.keys().chain(after.keys()).collect();
    paths
        .into_iter()
        .filter(|path| before.get(*path) != after.get(*path))
        .cloned()
        .collect()
}

/// Every regular file under `root`, not following symlinks, leaving out the
/// compiled-component cache (native code, and no place a plugin can write).
pub(crate) fn regular_files(root: &Path) -> Result<Vec<PathBuf>> {
    let nodes = snapshot(root)?;
    Ok(nodes
        .into_iter()
        .filter(|(path, node)| matches!(node, Node::File { .. }) && !path.starts_with("cache"))
        .map(|(path, _)| root.join(path))
        .collect())
}
