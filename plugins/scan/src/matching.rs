//! What the OSV matcher can check of the inventories.
//!
//! TODO(#4): the matcher still reads Cargo's `Lockfile`; once it takes
//! `Inventory`, this bridge goes and every ecosystem is matched. Until
//! then only crates.io packages are matched, and the others are counted
//! and reported as not matched rather than passed over in silence.

use gantry_plugin_core::lockfile::{LockedPackage, Lockfile, PackageSource};
use gantry_plugin_core::package::{Ecosystem, Inventory, Origin, Package};

/// The crates.io registry packages of `inventories` as the matcher reads
/// them, and how many published packages it cannot check.
pub fn cargo_lockfiles(inventories: &[Inventory]) -> (Vec<Lockfile>, usize) {
    let mut unmatched = 0;
    let lockfiles = inventories
        .iter()
        .map(|inventory| {
            let mut packages = Vec::new();
            for package in inventory.dependencies() {
                match locked_package(package) {
                    Some(locked) => packages.push(locked),
                    None => unmatched += 1,
                }
            }
            Lockfile {
                path: inventory.path.clone(),
                format_version: 0,
                digest: inventory.digest,
                packages,
            }
        })
        .collect();
    (lockfiles, unmatched)
}

/// A crates.io package with a SemVer version, as Cargo's reader gives it.
fn locked_package(package: &Package) -> Option<LockedPackage> {
    if package.ecosystem != Ecosystem::CratesIo {
        return None;
    }
    let source = match &package.origin {
        Origin::Registry => PackageSource::CratesIo,
        // Not on crates.io, so no advisory concerns it; not a gap.
        _ => PackageSource::Local,
    };
    Some(LockedPackage {
        name: package.name.clone(),
        version: package.version.parse().ok()?,
        source,
        checksum: None,
        dependencies: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_crates_io_packages_reach_the_matcher_and_the_rest_are_counted() {
        let inventory = Inventory {
            packages: vec![
                Package::new(Ecosystem::CratesIo, "smallvec", "1.6.0"),
                Package::new(Ecosystem::Npm, "lodash", "4.17.20"),
                Package::new(Ecosystem::PyPi, "jinja2", "3.1.3"),
                Package {
                    origin: Origin::Local { path: None },
                    ..Package::new(Ecosystem::CratesIo, "app", "0.1.0")
                },
            ],
            ..Inventory::new("Cargo.lock", "test", b"")
        };
        let (lockfiles, unmatched) = cargo_lockfiles(&[inventory]);
        assert_eq!(unmatched, 2, "npm and PyPI are not matched yet");
        let names: Vec<&str> = lockfiles[0]
            .packages
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(names, ["smallvec"]);
        assert_eq!(lockfiles[0].packages[0].source, PackageSource::CratesIo);
    }
}
