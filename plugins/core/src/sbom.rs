//! CycloneDX 1.6 software bills of materials built from inventories.
//!
//! [`build_bom`] merges the inventories of one or more lockfiles, of any
//! ecosystem, into a [`Catalog`](catalog::Catalog) and writes it as a
//! [`Bom`]: the application as `metadata.component`, every other package as
//! a `library` component, and the lockfiles' edges as the `dependencies`
//! graph. Each component's `bom-ref` is its purl, or
//! `local:<type>/<name>@<version>` for a package of the project itself (see
//! [`catalog`] for why these never collide).
//!
//! For each component:
//!
//! - `scope` comes from the lockfile: `required` for run time, `optional`
//!   for an optional extra or feature, `excluded` for development only, and
//!   absent when the lockfile does not say;
//! - `hashes` are the lockfile's digests in hex, npm's base64 integrity
//!   strings included (see [`hashes`]);
//! - properties name the ecosystem (`gantry:ecosystem`, as OSV writes it),
//!   the origin (`gantry:origin`: `registry`, `other-registry`, `vcs`, `url`
//!   or `local`), every lockfile that lists it (`gantry:lockfile`), and any
//!   hash in no shape CycloneDX names (`gantry:hash`, as written).
//!
//! A component appears in `dependencies` only when a lockfile records its
//! edges; one from a lockfile without a graph is left out, since listing it
//! with no `dependsOn` would claim it has no dependencies.
//!
//! The output is deterministic: components and edges are sorted, the
//! `serialNumber` is derived from the lockfiles' paths and digests, and
//! there is no timestamp unless the caller passes one. The same lockfiles
//! always give the same bytes, so the SBOM's digest is stable across runs.

pub mod catalog;
pub mod hashes;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::package::{Inventory, Scope};
use catalog::{Application, Catalog, Entry};

pub use catalog::package_ref as component_ref;

/// The CycloneDX version written.
pub const SPEC_VERSION: &str = "1.6";

/// What the caller says about the SBOM it wants.
#[derive(Debug, Clone, Copy)]
pub struct BomOptions<'a> {
    /// The tool recorded in `metadata.tools`, e.g. `gantry-scan`.
    pub tool_name: &'a str,
    /// The tool's version.
    pub tool_version: &'a str,
    /// The application's name when the lockfiles have no single local
    /// root, e.g. a workspace of several top-level crates.
    pub application_name: &'a str,
    /// `metadata.timestamp`, RFC 3339; none by default, so that equal
    /// inputs give equal SBOMs.
    pub timestamp: Option<&'a str>,
}

/// A CycloneDX BOM, serialized with [`Bom::to_json`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bom {
    /// Always `CycloneDX`.
    pub bom_format: &'static str,
    /// Always [`SPEC_VERSION`].
    pub spec_version: &'static str,
    /// `urn:uuid:…`, derived from the lockfiles.
    pub serial_number: String,
    /// The BOM's revision; always 1.
    pub version: u32,
    /// The application and the tool.
    pub metadata: Metadata,
    /// Every package except the application, sorted by `bom-ref`.
    pub components: Vec<Component>,
    /// The application and every component whose edges are known, sorted
    /// by `ref`.
    pub dependencies: Vec<Dependency>,
}

/// The BOM's `metadata`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metadata {
    /// When the BOM was made, if the caller said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// The tool that made the BOM.
    pub tools: Tools,
    /// The application the BOM describes.
    pub component: Component,
}

/// `metadata.tools`, in the 1.5+ object form.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tools {
    /// The tools, as components of type `application`.
    pub components: Vec<Component>,
}

/// A CycloneDX component.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Component {
    /// `application` or `library`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The purl or local reference; absent for tools.
    #[serde(rename = "bom-ref", skip_serializing_if = "Option::is_none")]
    pub bom_ref: Option<String>,
    /// The package name.
    pub name: String,
    /// The package version, absent when unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `required`, `optional` or `excluded`; absent when unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<&'static str>,
    /// The lockfiles' digests.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hashes: Vec<Hash>,
    /// The package URL, absent for local packages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    /// `gantry:*` properties (see the module docs), sorted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<Property>,
}

/// A component hash.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hash {
    /// CycloneDX's algorithm name, e.g. `SHA-512`.
    pub alg: &'static str,
    /// Lower-case hex.
    pub content: String,
}

/// A name/value property.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Property {
    /// The property's name.
    pub name: &'static str,
    /// Its value.
    pub value: String,
}

/// One node of the dependency graph.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Dependency {
    /// The component's `bom-ref`.
    #[serde(rename = "ref")]
    pub reference: String,
    /// The `bom-ref`s it depends on, sorted.
    pub depends_on: Vec<String>,
}

impl Bom {
    /// The BOM as pretty-printed JSON with a trailing newline.
    ///
    /// # Errors
    ///
    /// Only if serialization itself fails, which these types never cause.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        let mut json = serde_json::to_string_pretty(self)?;
        json.push('\n');
        Ok(json)
    }
}

/// Builds the SBOM of `inventories`, in any order (see the module docs).
pub fn build_bom(inventories: &[Inventory], options: &BomOptions<'_>) -> Bom {
    let catalog = Catalog::build(inventories, options.application_name);
    Bom {
        bom_format: "CycloneDX",
        spec_version: SPEC_VERSION,
        serial_number: format!("urn:uuid:{}", catalog::uuid_from_digest(&catalog.digest)),
        version: 1,
        metadata: Metadata {
            timestamp: options.timestamp.map(str::to_owned),
            tools: Tools {
                components: vec![tool_component(options)],
            },
            component: application_component(&catalog.application),
        },
        components: catalog.entries.values().map(library_component).collect(),
        dependencies: dependencies(&catalog),
    }
}

fn dependencies(catalog: &Catalog) -> Vec<Dependency> {
    let mut graph: BTreeMap<&str, Vec<String>> = catalog
        .entries
        .values()
        .filter_map(|entry| {
            let depends_on = entry.depends_on.as_ref()?;
            Some((
                entry.reference.as_str(),
                depends_on.iter().cloned().collect(),
            ))
        })
        .collect();
    let application = &catalog.application;
    graph.insert(
        application.reference(),
        application.depends_on().into_iter().collect(),
    );
    graph
        .into_iter()
        .map(|(reference, depends_on)| Dependency {
            reference: reference.to_owned(),
            depends_on,
        })
        .collect()
}

fn application_component(application: &Application) -> Component {
    match application {
        Application::Package(entry) => Component {
            kind: "application",
            scope: None,
            ..library_component(entry)
        },
        Application::Named {
            reference, name, ..
        } => Component {
            kind: "application",
            bom_ref: Some(reference.clone()),
            name: name.clone(),
            version: None,
            scope: None,
            hashes: Vec::new(),
            purl: None,
            properties: vec![Property {
                name: "gantry:origin",
                value: "local".to_owned(),
            }],
        },
    }
}

fn library_component(entry: &Entry) -> Component {
    let hashes = entry.checksums.iter().map(|checksum| Hash {
        alg: checksum.algorithm.cyclonedx_name(),
        content: checksum.hex.clone(),
    });
    Component {
        kind: "library",
        bom_ref: Some(entry.reference.clone()),
        name: entry.name.clone(),
        version: (!entry.version.is_empty()).then(|| entry.version.clone()),
        scope: entry.scope.map(scope_name),
        hashes: hashes.collect(),
        purl: entry.purl.clone(),
        properties: properties(entry),
    }
}

/// CycloneDX's word for a scope.
fn scope_name(scope: Scope) -> &'static str {
    match scope {
        Scope::Runtime => "required",
        Scope::Optional => "optional",
        Scope::Dev => "excluded",
    }
}

fn properties(entry: &Entry) -> Vec<Property> {
    let mut properties = vec![
        Property {
            name: "gantry:ecosystem",
            value: entry.ecosystem.osv_name().to_owned(),
        },
        Property {
            name: "gantry:origin",
            value: entry.origin.kind().to_owned(),
        },
    ];
    let lockfiles = entry.lockfiles.iter().map(|path| Property {
        name: "gantry:lockfile",
        value: path.clone(),
    });
    let unconverted = entry.unconverted_hashes.iter().map(|hash| Property {
        name: "gantry:hash",
        value: hash.clone(),
    });
    properties.extend(lockfiles.chain(unconverted));
    properties.sort();
    properties
}

fn tool_component(options: &BomOptions<'_>) -> Component {
    Component {
        kind: "application",
        bom_ref: None,
        name: options.tool_name.to_owned(),
        version: Some(options.tool_version.to_owned()),
        scope: None,
        hashes: Vec::new(),
        purl: None,
        properties: Vec::new(),
    }
}

#[cfg(test)]
mod tests;
