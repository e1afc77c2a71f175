//! Writing the findings as SARIF 2.1.0 to `/out/findings.sarif`.

use std::collections::{BTreeMap, BTreeSet};

use gantry_plugin_core::osv::FindingsReport;
use gantry_plugin_core::package::{Inventory, Origin};
use gantry_plugin_core::sarif::{self, SarifTool};
use gantry_plugin_sdk::{ResultExt, StageError, out};

/// The file, relative to `/out`.
pub const FILE: &str = "findings.sarif";

/// The artifact's media type.
pub const MEDIA_TYPE: &str = sarif::MEDIA_TYPE;

/// Writes `report`'s findings, each located in the lockfiles that lock
/// its package.
///
/// # Errors
///
/// When the document cannot be encoded or written.
pub fn write(report: &FindingsReport, inventories: &[Inventory]) -> Result<(), StageError> {
    let tool = SarifTool {
        name: "gantry-scan",
        version: env!("CARGO_PKG_VERSION"),
        information_uri: None,
    };
    let document = sarif::to_sarif(report, &tool, &locate(inventories));
    let mut json = serde_json::to_string_pretty(&document)
        .or_internal(|| format!("failed to encode `{FILE}` as JSON"))?;
    json.push('\n');
    out::write(FILE, json.as_bytes())
}

/// `name@version` of each registry package, as findings name them, to
/// the lockfiles (relative to the workspace) that lock it.
fn locate(inventories: &[Inventory]) -> BTreeMap<String, Vec<String>> {
    let mut located: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for inventory in inventories {
        for package in &inventory.packages {
            if package.origin != Origin::Registry {
                continue;
            }
            located
                .entry(format!("{}@{}", package.name, package.version))
                .or_default()
                .insert(inventory.path.clone());
        }
    }
    located
        .into_iter()
        .map(|(package, paths)| (package, paths.into_iter().collect()))
        .collect()
}
