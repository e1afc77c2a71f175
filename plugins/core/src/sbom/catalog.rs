//! The packages of several inventories merged into one list of SBOM
//! entries, each under a reference no other entry has.
//!
//! Both SBOM formats are written from a [`Catalog`], so they always list
//! the same packages and edges.
//!
//! # References
//!
//! A published package is referred to by its purl: two inventories that
//! lock the same package give the same purl and are merged, while the same
//! name and version from another ecosystem, registry, repository or URL
//! gives another purl (see [`crate::purl`]). A local package has no purl
//! and is referred to as `local:<type>/<name>@<version>`, written like the
//! purl it would have (`local:npm/%40acme/web@1.0.0`): two lockfiles that
//! both hold the project's own `helper` crate name the same crate.
//!
//! # Scope
//!
//! A package merged from several lockfiles gets the scope that needs it
//! most: run time if any says so, else unknown if any does not say, else
//! optional, else development only.
//!
//! # Graph
//!
//! Edges are known only for inventories that record them. A package seen
//! only in lockfiles without a graph has no known dependencies (`None`),
//! which SBOMs state by leaving the package out of the graph rather than
//! claiming it depends on nothing.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use super::hashes::{self, Checksum};
use crate::package::{Ecosystem, Inventory, Origin, Package, Scope};
use crate::purl;

/// The reference of a package in an SBOM: its purl, or
/// `local:<type>/<name>@<version>` for a local package.
pub fn package_ref(package: &Package) -> String {
    package.purl().unwrap_or_else(|| {
        format!(
            "local:{}/{}",
            package.ecosystem.purl_type(),
            purl::name_and_version(package)
        )
    })
}

/// One package of the merged inventories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The reference, unique in the catalog.
    pub reference: String,
    /// The ecosystem.
    pub ecosystem: Ecosystem,
    /// The name as the first lockfile (by path) writes it.
    pub name: String,
    /// The version; empty when the lockfile pins none.
    pub version: String,
    /// Where the package comes from.
    pub origin: Origin,
    /// The purl, `None` for a local package.
    pub purl: Option<String>,
    /// The merged scope (see the module docs).
    pub scope: Option<Scope>,
    /// Every digest the lockfiles record, sorted, without repeats.
    pub checksums: BTreeSet<Checksum>,
    /// Hashes in no shape an SBOM format names, as written.
    pub unconverted_hashes: BTreeSet<String>,
    /// The references of its dependencies, or `None` when no lockfile
    /// holding it records edges.
    pub depends_on: Option<BTreeSet<String>>,
    /// The lockfiles that list it, by path.
    pub lockfiles: BTreeSet<String>,
}

impl Entry {
    fn new(package: &Package, reference: String) -> Self {
        Self {
            reference,
            ecosystem: package.ecosystem,
            name: package.name.clone(),
            version: package.version.clone(),
            origin: package.origin.clone(),
            purl: package.purl(),
            scope: package.scope,
            checksums: BTreeSet::new(),
            unconverted_hashes: BTreeSet::new(),
            depends_on: None,
            lockfiles: BTreeSet::new(),
        }
    }

    /// Adds what another lockfile says of the same package.
    fn merge(&mut self, package: &Package, lockfile: &str) {
        if scope_rank(package.scope) > scope_rank(self.scope) {
            self.scope = package.scope;
        }
        let parsed = hashes::parse_hashes(&package.hashes);
        self.checksums.extend(parsed.checksums);
        self.unconverted_hashes.extend(parsed.unconverted);
        self.lockfiles.insert(lockfile.to_owned());
    }

    /// Records that the graph of this entry is known, with `targets`.
    fn add_edges(&mut self, targets: impl IntoIterator<Item = String>) {
        let reference = self.reference.clone();
        self.depends_on
            .get_or_insert_with(BTreeSet::new)
            .extend(targets.into_iter().filter(|target| *target != reference));
    }
}

/// How much a scope needs the package: the higher, the more.
fn scope_rank(scope: Option<Scope>) -> u8 {
    match scope {
        Some(Scope::Dev) => 0,
        Some(Scope::Optional) => 1,
        None => 2,
        Some(Scope::Runtime) => 3,
    }
}

/// The application an SBOM describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Application {
    /// The one local root of every lockfile, taken out of the entries.
    Package(Box<Entry>),
    /// A name standing for a project of several roots, or of none.
    Named {
        /// `local:<name>`, the name percent-encoded, so that it cannot
        /// collide with a package's `local:<type>/…`.
        reference: String,
        /// The name the caller gave.
        name: String,
        /// The references of the tops of every lockfile.
        depends_on: BTreeSet<String>,
    },
}

impl Application {
    /// The application's reference.
    pub fn reference(&self) -> &str {
        match self {
            Self::Package(entry) => &entry.reference,
            Self::Named { reference, .. } => reference,
        }
    }

    /// The application's name.
    pub fn name(&self) -> &str {
        match self {
            Self::Package(entry) => &entry.name,
            Self::Named { name, .. } => name,
        }
    }

    /// What the application depends on, as far as known.
    pub fn depends_on(&self) -> BTreeSet<String> {
        match self {
            Self::Package(entry) => entry.depends_on.clone().unwrap_or_default(),
            Self::Named { depends_on, .. } => depends_on.clone(),
        }
    }
}

/// The merged inventories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    /// The application the SBOM describes.
    pub application: Application,
    /// Every package except the application, by reference.
    pub entries: BTreeMap<String, Entry>,
    /// The sha256 of every inventory's path and digest, in path order.
    pub digest: [u8; 32],
}

impl Catalog {
    /// Merges `inventories`, whichever order they come in.
    ///
    /// The application is the one local package that tops every
    /// inventory's graph (its declared root, or what nothing depends on);
    /// when there are several tops, or the only one is not local, it is a
    /// project named `application_name` that depends on them all. An
    /// inventory without a graph or roots has every package as a top.
    pub fn build(inventories: &[Inventory], application_name: &str) -> Self {
        let mut sorted: Vec<&Inventory> = inventories.iter().collect();
        sorted.sort_by(|a, b| a.path.cmp(&b.path));

        let mut entries = BTreeMap::new();
        let mut tops = BTreeSet::new();
        for inventory in &sorted {
            tops.extend(add_inventory(&mut entries, inventory));
        }
        let application = take_application(&mut entries, tops, application_name);
        Self {
            application,
            entries,
            digest: digest(&sorted),
        }
    }

    /// Every reference, the application's included.
    pub fn references(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.application.reference()).chain(self.entries.keys().map(String::as_str))
    }
}

/// Adds one inventory's packages and edges; returns its tops.
fn add_inventory(entries: &mut BTreeMap<String, Entry>, inventory: &Inventory) -> Vec<String> {
    let refs: Vec<String> = inventory.packages.iter().map(package_ref).collect();
    for (package, reference) in inventory.packages.iter().zip(&refs) {
        let entry = entries
            .entry(reference.clone())
            .or_insert_with(|| Entry::new(package, reference.clone()));
        entry.merge(package, &inventory.path);
        if inventory.has_graph {
            entry.add_edges(package.dependencies.iter().map(|&dep| refs[dep].clone()));
        }
    }

    let tops = tops(inventory);
    if !inventory.has_graph && !inventory.roots.is_empty() {
        // The lockfile lists what its project installs, but not who needs
        // what: the project depends on all of it, as far as anyone knows.
        let others: Vec<String> = (0..refs.len())
            .filter(|index| !inventory.roots.contains(index))
            .map(|index| refs[index].clone())
            .collect();
        for &root in &inventory.roots {
            if let Some(entry) = entries.get_mut(&refs[root]) {
                entry.add_edges(others.iter().cloned());
            }
        }
    }
    tops.into_iter().map(|index| refs[index].clone()).collect()
}

/// The packages an inventory's project starts from (see [`Catalog::build`]).
fn tops(inventory: &Inventory) -> Vec<usize> {
    if !inventory.roots.is_empty() {
        return inventory.roots.clone();
    }
    if !inventory.has_graph {
        return (0..inventory.packages.len()).collect();
    }
    let depended_on: BTreeSet<usize> = inventory
        .packages
        .iter()
        .flat_map(|package| package.dependencies.iter().copied())
        .collect();
    (0..inventory.packages.len())
        .filter(|index| !depended_on.contains(index))
        .collect()
}

fn take_application(
    entries: &mut BTreeMap<String, Entry>,
    tops: BTreeSet<String>,
    name: &str,
) -> Application {
    let single_local = match tops.first() {
        Some(only) if tops.len() == 1 => entries.get(only).is_some_and(|e| e.origin.is_local()),
        _ => false,
    };
    if single_local && let Some(mut entry) = tops.first().and_then(|only| entries.remove(only)) {
        entry.depends_on.get_or_insert_with(BTreeSet::new);
        entry.scope = None;
        return Application::Package(Box::new(entry));
    }
    Application::Named {
        reference: format!("local:{}", purl::percent_encode(name)),
        name: name.to_owned(),
        depends_on: tops,
    }
}

fn digest(sorted: &[&Inventory]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for inventory in sorted {
        hasher.update(inventory.path.as_bytes());
        hasher.update([0]);
        hasher.update(inventory.digest);
    }
    hasher.finalize().into()
}

/// A UUID made of the first 16 bytes of `digest`, marked as version 8
/// (custom) as RFC 9562 defines it.
pub fn uuid_from_digest(digest: &[u8]) -> String {
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests;
