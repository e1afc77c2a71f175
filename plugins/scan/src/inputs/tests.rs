//! Finding and reading lockfiles in a real directory tree.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

const LOCK: &str = "version = 4\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\n";
const BROKEN: &str = "version = 4\n[[package]]\nname = \n";

/// A directory of its own under the system's temporary directory, removed
/// when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "gantry-scan-inputs-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let dir = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn write(&self, relative: &str, text: &str) {
        let path = self.0.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn every_lockfile_is_found_sorted_outside_dependency_and_build_dirs() {
    let tree = Scratch::new();
    for path in ["b/Cargo.lock", "Cargo.lock", "a/x/Cargo.lock"] {
        tree.write(path, LOCK);
    }
    for skipped in [
        "node_modules/p",
        "target/debug",
        ".git",
        "vendor/dep",
        ".venv",
    ] {
        tree.write(&format!("{skipped}/Cargo.lock"), LOCK);
    }
    tree.write("a/Cargo.toml", "");
    tree.write("a/Cargo.lock.bak", LOCK);

    let found = discover(&tree.0);
    assert_eq!(
        found.lockfiles,
        ["Cargo.lock", "a/x/Cargo.lock", "b/Cargo.lock"]
    );
    assert_eq!(
        found.skipped,
        [".git", ".venv", "node_modules", "target", "vendor"]
    );
    assert!(found.unreadable.is_empty(), "{:?}", found.unreadable);
}

#[test]
fn directories_below_the_depth_limit_are_reported_not_skipped() {
    let tree = Scratch::new();
    let at_limit: Vec<String> = (1..=MAX_DEPTH).map(|n| format!("d{n}")).collect();
    let at_limit = at_limit.join("/");
    tree.write(&format!("{at_limit}/Cargo.lock"), LOCK);
    tree.write(&format!("{at_limit}/deeper/Cargo.lock"), LOCK);

    let found = discover(&tree.0);
    assert_eq!(found.lockfiles, [format!("{at_limit}/Cargo.lock")]);
    assert_eq!(found.unreadable.len(), 1, "{:?}", found.unreadable);
    assert_eq!(found.unreadable[0].path, format!("{at_limit}/deeper"));
    assert!(
        found.unreadable[0]
            .reason
            .contains("more than 8 directories deep"),
        "{:?}",
        found.unreadable[0]
    );
}

#[test]
fn a_directory_that_cannot_be_listed_is_reported() {
    let tree = Scratch::new();
    let found = discover(&tree.0.join("missing"));
    assert!(found.lockfiles.is_empty());
    assert_eq!(found.unreadable[0].path, ".");
    assert!(
        found.unreadable[0]
            .reason
            .starts_with("failed to list directory: "),
        "{:?}",
        found.unreadable
    );
}

#[cfg(unix)]
#[test]
fn symbolic_links_to_directories_are_not_followed() {
    let tree = Scratch::new();
    tree.write("real/Cargo.lock", LOCK);
    std::os::unix::fs::symlink(tree.0.join("real"), tree.0.join("link")).unwrap();
    let found = discover(&tree.0);
    assert_eq!(found.lockfiles, ["real/Cargo.lock"]);
    assert_eq!(found.skipped, ["link"]);
}

#[test]
fn a_lockfile_that_does_not_parse_is_reported_and_the_others_are_read() {
    let tree = Scratch::new();
    tree.write("Cargo.lock", LOCK);
    tree.write("tools/Cargo.lock", BROKEN);

    let inputs = read(&tree.0, None).unwrap();
    assert_eq!(inputs.inventories.len(), 1);
    assert_eq!(inputs.inventories[0].path, "Cargo.lock");
    assert_eq!(inputs.unreadable.len(), 1, "{:?}", inputs.unreadable);
    assert_eq!(inputs.unreadable[0].path, "tools/Cargo.lock");
    assert!(
        inputs.unreadable[0]
            .reason
            .contains("failed to parse lockfile"),
        "{:?}",
        inputs.unreadable[0]
    );
}

#[test]
fn named_lockfiles_are_read_alone_and_a_missing_one_is_an_error() {
    let tree = Scratch::new();
    tree.write("Cargo.lock", LOCK);
    tree.write("tools/Cargo.lock", LOCK);

    let named = vec!["tools/Cargo.lock".to_owned()];
    let inputs = read(&tree.0, Some(&named)).unwrap();
    let paths: Vec<&str> = inputs.inventories.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(paths, ["tools/Cargo.lock"]);
    assert!(inputs.unreadable.is_empty());

    let missing = vec!["web/Cargo.lock".to_owned()];
    let Err(StageError::MissingInput(message)) = read(&tree.0, Some(&missing)) else {
        panic!("a missing named lockfile must be an error");
    };
    assert!(message.contains("`web/Cargo.lock`"), "{message}");
}

#[test]
fn a_workspace_without_lockfiles_is_reported() {
    let tree = Scratch::new();
    tree.write("src/main.rs", "");
    let inputs = read(&tree.0, None).unwrap();
    assert!(inputs.inventories.is_empty());
    assert_eq!(inputs.unreadable.len(), 1);
    assert!(
        inputs.unreadable[0]
            .reason
            .starts_with("no lockfile found in the workspace; known lockfiles are:"),
        "{:?}",
        inputs.unreadable
    );
}
