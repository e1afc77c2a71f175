//! What every reader's output goes through before a scan sees it.
//!
//! Lockfiles come from the workspace, so their text is the workspace
//! author's, and what a reader takes from them flows into SBOMs, SARIF,
//! purls and terminals. Three things are settled here once for every
//! format:
//!
//! - A byte order mark at the start of a file (Windows editors write one)
//!   is not part of the text: [`strip_bom`].
//! - A package whose name, version, origin or hash holds a control
//!   character (NUL, an escape sequence, a bidirectional override) is left
//!   out with a warning: no tool writes one, and passed on it could rewrite
//!   a terminal line or split a purl. [`screen`] does this, keeping the
//!   other packages' edges and roots right.
//! - Text quoted from the file in a warning or an error is shown with such
//!   characters escaped: [`printable`].

use std::borrow::Cow;

use crate::package::{Inventory, Origin, Package};

/// The text without a leading UTF-8 byte order mark.
pub(super) fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// Whether `c` may not appear in text shown to people or written to a
/// report: a control character, or a bidirectional formatting one that
/// reorders what is displayed around it.
fn is_hidden(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every control or bidirectional formatting character
/// written as a `\u{…}` escape.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_hidden) {
        return Cow::Borrowed(text);
    }
    let escaped = text.chars().map(|c| {
        if is_hidden(c) {
            c.escape_unicode().to_string()
        } else {
            c.to_string()
        }
    });
    Cow::Owned(escaped.collect())
}

/// The inventory without packages that hold hidden characters (each one
/// a warning), its edges and roots renumbered, and its format and warnings
/// printable.
pub(super) fn screen(mut inventory: Inventory) -> Inventory {
    let mut kept = Vec::with_capacity(inventory.packages.len());
    // The new index of each package, `None` for one left out.
    let mut renumbered = Vec::with_capacity(inventory.packages.len());
    for package in std::mem::take(&mut inventory.packages) {
        match hidden_field(&package) {
            Some(field) => {
                inventory.warnings.push(format!(
                    "`{}`: package `{}` has a control character in its {field}; \
                     no tool writes one, so it is left out",
                    inventory.path,
                    printable(&package.to_string())
                ));
                renumbered.push(None);
            }
            None => {
                renumbered.push(Some(kept.len()));
                kept.push(package);
            }
        }
    }
    if kept.len() < renumbered.len() {
        for package in &mut kept {
            package.dependencies = renumber(&package.dependencies, &renumbered);
        }
        inventory.roots = renumber(&inventory.roots, &renumbered);
    }
    inventory.packages = kept;
    // Poetry's lock version, for one, is the file's text.
    if let Cow::Owned(escaped) = printable(&inventory.format) {
        inventory.format = escaped;
    }
    for warning in &mut inventory.warnings {
        if let Cow::Owned(escaped) = printable(warning) {
            *warning = escaped;
        }
    }
    inventory
}

/// The first field of `package` holding a hidden character, by name.
fn hidden_field(package: &Package) -> Option<&'static str> {
    let has = |text: &str| text.chars().any(is_hidden);
    if has(&package.name) {
        return Some("name");
    }
    if has(&package.version) {
        return Some("version");
    }
    if package.hashes.iter().any(|hash| has(hash)) {
        return Some("hashes");
    }
    let origin = match &package.origin {
        Origin::Registry | Origin::Local { path: None } => false,
        Origin::OtherRegistry { url } | Origin::Url { url } => has(url),
        Origin::Vcs { url, commit } => has(url) || commit.as_deref().is_some_and(has),
        Origin::Local { path: Some(path) } => has(path),
    };
    origin.then_some("source")
}

/// `indices` mapped through `renumbered`, dropping the ones left out.
fn renumber(indices: &[usize], renumbered: &[Option<usize>]) -> Vec<usize> {
    indices
        .iter()
        .filter_map(|&index| renumbered.get(index).copied().flatten())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::Ecosystem;

    #[test]
    fn hidden_characters_are_escaped_and_the_rest_kept() {
        assert_eq!(printable("caf\u{e9} 1.0"), "caf\u{e9} 1.0");
        assert_eq!(printable("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(printable("x\u{202e}y\0"), "x\\u{202e}y\\u{0}");
    }

    #[test]
    fn a_package_left_out_takes_its_edges_and_keeps_the_others_right() {
        let mut inventory = Inventory::new("uv.lock", "uv.lock v1", b"");
        let mut app = Package::new(Ecosystem::PyPi, "app", "1");
        app.dependencies = vec![1, 2];
        inventory.packages = vec![
            app,
            Package::new(Ecosystem::PyPi, "bad\0", "1"),
            Package::new(Ecosystem::PyPi, "six", "1.17.0"),
        ];
        inventory.roots = vec![0];
        let screened = screen(inventory);
        let names: Vec<&str> = screened.packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["app", "six"]);
        assert_eq!(screened.packages[0].dependencies, [1]);
        assert_eq!(screened.roots, [0]);
        assert_eq!(screened.warnings.len(), 1);
        assert!(
            screened.warnings[0].contains("`bad\\u{0}@1`"),
            "{:?}",
            screened.warnings
        );
    }
}
