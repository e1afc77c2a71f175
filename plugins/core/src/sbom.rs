//! CycloneDX 1.6 software bills of materials built from lockfiles.
//!
//! [`build_bom`] turns one or more parsed lockfiles into a [`Bom`]: the
//! application as `metadata.component`, every other locked package as a
//! `library` component, and the lockfiles' dependency edges as the
//! `dependencies` graph. Registry and git packages are identified by their
//! purl (see [`crate::purl`]); workspace members and path dependencies have
//! none, so their `bom-ref` is `local:<name>@<version>` and they carry the
//! property `gantry:source = local`.
//!
//! The output is deterministic: components and edges are sorted, the
//! `serialNumber` is derived from the lockfiles' digests, and there is no
//! timestamp unless the caller passes one. The same lockfiles always give
//! the same bytes, so the SBOM's digest is stable across runs.
//!
//! TODO(#4): mark dev- and build-only dependencies with scope `excluded`;
//! that needs the workspace manifests, which a lockfile does not record.
//! TODO(#4): SPDX 2.3 output.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::lockfile::{LockedPackage, Lockfile};
use crate::purl;

/// The CycloneDX version written.
pub const SPEC_VERSION: &str = "1.6";

/// What the caller says about the SBOM it wants.
#[derive(Debug, Clone, Copy)]
pub struct BomOptions<'a> {
    /// The tool recorded in `metadata.tools`, e.g. `gantry-scan`.
    pub tool_name: &'a str,
    /// The tool's version.
    pub tool_version: &'a str,
    /// The application's name when the lockfiles have no single root
    /// package, e.g. a workspace of several top-level crates.
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
    /// One entry per component and the application, sorted by `ref`.
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
    /// The purl, or `local:<name>@<version>`; absent for tools.
    #[serde(rename = "bom-ref", skip_serializing_if = "Option::is_none")]
    pub bom_ref: Option<String>,
    /// The package name.
    pub name: String,
    /// The package version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `required` for locked packages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<&'static str>,
    /// The lockfile's checksum of the `.crate` file.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hashes: Vec<Hash>,
    /// The package URL, absent for local packages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    /// `gantry:source`: `crates.io`, `registry`, `git` or `local`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<Property>,
}

/// A component hash.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hash {
    /// Always `SHA-256`.
    pub alg: &'static str,
    /// Lower-case hex.
    pub content: String,
}

/// A name/value property.
#[derive(Debug, Clone, PartialEq, Serialize)]
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

/// The `bom-ref` of a locked package: its purl, or `local:<name>@<version>`.
pub fn component_ref(package: &LockedPackage) -> String {
    purl::package_url(&package.to_package()).unwrap_or_else(|| format!("local:{package}"))
}

/// Builds the SBOM of `lockfiles`.
///
/// Packages found in several lockfiles appear once. The application is the
/// one root package of all lockfiles together (see [`Lockfile::roots`]);
/// when there are several or none, it is a component named
/// `options.application_name` that depends on every root.
pub fn build_bom(lockfiles: &[Lockfile], options: &BomOptions<'_>) -> Bom {
    let mut graph = Graph::default();
    for lockfile in lockfiles {
        graph.add(lockfile);
    }
    let application = graph.take_application(options.application_name);
    Bom {
        bom_format: "CycloneDX",
        spec_version: SPEC_VERSION,
        serial_number: serial_number(lockfiles),
        version: 1,
        metadata: Metadata {
            timestamp: options.timestamp.map(str::to_owned),
            tools: Tools {
                components: vec![tool_component(options)],
            },
            component: application,
        },
        components: graph.components.into_values().collect(),
        dependencies: graph
            .edges
            .into_iter()
            .map(|(reference, depends_on)| Dependency {
                reference,
                depends_on: depends_on.into_iter().collect(),
            })
            .collect(),
    }
}

/// Components and edges keyed by `bom-ref`, merged across lockfiles.
#[derive(Default)]
struct Graph {
    components: BTreeMap<String, Component>,
    edges: BTreeMap<String, BTreeSet<String>>,
    roots: BTreeSet<String>,
}

impl Graph {
    fn add(&mut self, lockfile: &Lockfile) {
        let refs: Vec<String> = lockfile.packages.iter().map(component_ref).collect();
        for (package, reference) in lockfile.packages.iter().zip(&refs) {
            self.components
                .entry(reference.clone())
                .or_insert_with(|| library_component(package, reference));
            let depends_on = package.dependencies.iter().map(|&dep| refs[dep].clone());
            self.edges
                .entry(reference.clone())
                .or_default()
                .extend(depends_on);
        }
        let roots = lockfile.roots().into_iter().map(|root| refs[root].clone());
        self.roots.extend(roots);
    }

    /// Removes the application from the components, or makes one up.
    fn take_application(&mut self, name: &str) -> Component {
        if self.roots.len() == 1 {
            let root = self.roots.first().cloned().unwrap_or_default();
            if let Some(mut component) = self.components.remove(&root) {
                component.kind = "application";
                component.scope = None;
                return component;
            }
        }
        let reference = format!("local:{name}");
        let roots = std::mem::take(&mut self.roots);
        self.edges.insert(reference.clone(), roots);
        Component {
            kind: "application",
            bom_ref: Some(reference),
            name: name.to_owned(),
            version: None,
            scope: None,
            hashes: Vec::new(),
            purl: None,
            properties: vec![source_property("local")],
        }
    }
}

fn library_component(package: &LockedPackage, reference: &str) -> Component {
    let hashes = package.checksum.iter().map(|checksum| Hash {
        alg: "SHA-256",
        content: checksum.clone(),
    });
    Component {
        kind: "library",
        bom_ref: Some(reference.to_owned()),
        name: package.name.clone(),
        version: Some(package.version.to_string()),
        scope: Some("required"),
        hashes: hashes.collect(),
        purl: purl::package_url(&package.to_package()),
        properties: vec![source_property(package.source.kind())],
    }
}

fn source_property(kind: &str) -> Property {
    Property {
        name: "gantry:source",
        value: kind.to_owned(),
    }
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

/// A version 8 (custom) UUID made of the sha256 of every lockfile's path
/// and digest, in path order.
fn serial_number(lockfiles: &[Lockfile]) -> String {
    let mut sorted: Vec<&Lockfile> = lockfiles.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    let mut hasher = Sha256::new();
    for lockfile in sorted {
        hasher.update(lockfile.path.as_bytes());
        hasher.update([0]);
        hasher.update(lockfile.digest);
    }
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests;
