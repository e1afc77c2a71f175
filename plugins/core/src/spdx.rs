//! SPDX 2.3 JSON documents built from inventories.
//!
//! [`build_spdx`] writes the same [`Catalog`] the CycloneDX writer does, so
//! both SBOMs of a scan list the same packages and edges:
//!
//! - one package per catalog entry and one for the application, each with
//!   an `SPDXID` made of its ecosystem, name and version (only letters,
//!   digits, `.` and `-`, as SPDX allows; entries whose ids would collide
//!   get a digest of their reference appended), `filesAnalyzed: false`,
//!   and `NOASSERTION` for licences and copyright, which a lockfile does
//!   not record;
//! - the purl as a `PACKAGE-MANAGER` external reference, the lockfile's
//!   digests as `checksums`, and ecosystem, origin and lockfiles in the
//!   package `comment`;
//! - `downloadLocation` for packages from version control (`git+<url>@<commit>`)
//!   or a plain URL, when the URL has the `scheme://host.tld/…` shape SPDX
//!   validators accept; otherwise `NOASSERTION`, with the URL kept in
//!   `sourceInfo`. Registry packages are `NOASSERTION`: the lockfile names
//!   the package, not the file that was fetched;
//! - relationships: the document `DESCRIBES` the application; a package
//!   `DEPENDS_ON` each dependency, except that a development-only one is
//!   written `DEV_DEPENDENCY_OF` and an optional one
//!   `OPTIONAL_DEPENDENCY_OF` its dependent, as SPDX words them.
//!
//! SPDX requires `creationInfo.created`, so the caller passes the time;
//! a scan passes the time its run started, so that a run's document never
//! changes. The `documentNamespace` is `urn:uuid:` and a UUID derived from
//! the document's own content, the time included: the same document gets
//! the same namespace, and any change gets another.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::package::{Inventory, Origin, Scope};
use crate::sbom::catalog::{self, Application, Catalog, Entry};

/// The SPDX version written.
pub const SPEC_VERSION: &str = "SPDX-2.3";

/// What SPDX writes where a value is not known.
const NOASSERTION: &str = "NOASSERTION";

/// What the caller says about the document it wants.
#[derive(Debug, Clone, Copy)]
pub struct SpdxOptions<'a> {
    /// The tool named in `creationInfo.creators`, e.g. `gantry-scan`.
    pub tool_name: &'a str,
    /// The tool's version.
    pub tool_version: &'a str,
    /// The application's name when the lockfiles have no single local
    /// root; also the document's `name`.
    pub application_name: &'a str,
    /// `creationInfo.created`, as `YYYY-MM-DDThh:mm:ssZ` (UTC, no
    /// fractions), the only form SPDX 2.3 allows.
    pub created: &'a str,
}

/// Why a document could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SpdxError {
    /// `created` is not `YYYY-MM-DDThh:mm:ssZ`.
    #[error("SPDX creation time `{0}` is not of the form YYYY-MM-DDThh:mm:ssZ")]
    Created(String),
    /// Serialization failed, which these types never cause.
    #[error("failed to encode the SPDX document as JSON")]
    Json(#[from] serde_json::Error),
}

/// An SPDX 2.3 document, serialized with [`SpdxDocument::to_json`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SpdxDocument {
    /// Always [`SPEC_VERSION`].
    pub spdx_version: &'static str,
    /// Always `CC0-1.0`, as SPDX requires.
    pub data_license: &'static str,
    /// Always `SPDXRef-DOCUMENT`.
    #[serde(rename = "SPDXID")]
    pub spdx_id: &'static str,
    /// The application's name.
    pub name: String,
    /// `urn:uuid:…`, derived from the content.
    pub document_namespace: String,
    /// Who made it and when.
    pub creation_info: CreationInfo,
    /// The application first, then every entry by reference.
    pub packages: Vec<SpdxPackage>,
    /// `DESCRIBES` and the dependency edges, sorted.
    pub relationships: Vec<Relationship>,
}

/// `creationInfo`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreationInfo {
    /// `Tool: <name>-<version>`.
    pub creators: Vec<String>,
    /// The time the caller gave.
    pub created: String,
}

/// One SPDX package.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SpdxPackage {
    /// The package's name.
    pub name: String,
    /// `SPDXRef-…`, unique in the document.
    #[serde(rename = "SPDXID")]
    pub spdx_id: String,
    /// The version, absent when unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_info: Option<String>,
    /// A URL, or `NOASSERTION`.
    pub download_location: String,
    /// Always false: no files are listed.
    pub files_analyzed: bool,
    /// The digests the lockfiles record.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checksums: Vec<SpdxChecksum>,
    /// Always `NOASSERTION`.
    pub license_concluded: &'static str,
    /// Always `NOASSERTION`.
    pub license_declared: &'static str,
    /// Always `NOASSERTION`.
    pub copyright_text: &'static str,
    /// Where the package came from when `downloadLocation` cannot say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_info: Option<String>,
    /// Ecosystem, origin and lockfiles, for people.
    pub comment: String,
    /// The purl, when the package has one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub external_refs: Vec<ExternalRef>,
    /// `APPLICATION` or `LIBRARY`.
    pub primary_package_purpose: &'static str,
}

/// A package checksum.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SpdxChecksum {
    /// SPDX's name of the algorithm, e.g. `SHA256`.
    pub algorithm: &'static str,
    /// Lower-case hex.
    pub checksum_value: String,
}

/// A package's external reference.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalRef {
    /// Always `PACKAGE-MANAGER`.
    pub reference_category: &'static str,
    /// Always `purl`.
    pub reference_type: &'static str,
    /// The purl.
    pub reference_locator: String,
}

/// A relationship between two elements.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Relationship {
    /// The subject's `SPDXID`.
    pub spdx_element_id: String,
    /// `DESCRIBES`, `DEPENDS_ON`, `DEV_DEPENDENCY_OF` or
    /// `OPTIONAL_DEPENDENCY_OF`.
    pub relationship_type: &'static str,
    /// The object's `SPDXID`.
    pub related_spdx_element: String,
}

impl SpdxDocument {
    /// The document as pretty-printed JSON with a trailing newline.
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

/// Builds the SPDX document of `inventories`, in any order (see the module
/// docs).
///
/// # Errors
///
/// [`SpdxError::Created`] when `options.created` is not of SPDX's form.
pub fn build_spdx(
    inventories: &[Inventory],
    options: &SpdxOptions<'_>,
) -> Result<SpdxDocument, SpdxError> {
    if !is_spdx_time(options.created) {
        return Err(SpdxError::Created(options.created.to_owned()));
    }
    let catalog = Catalog::build(inventories, options.application_name);
    let ids = spdx_ids(&catalog);
    let application = application_package(&catalog.application, &ids);
    let mut packages = vec![application];
    packages.extend(
        catalog
            .entries
            .values()
            .map(|entry| package(entry, &ids, "LIBRARY")),
    );

    let mut document = SpdxDocument {
        spdx_version: SPEC_VERSION,
        data_license: "CC0-1.0",
        spdx_id: "SPDXRef-DOCUMENT",
        name: catalog.application.name().to_owned(),
        document_namespace: String::new(),
        creation_info: CreationInfo {
            creators: vec![format!(
                "Tool: {}-{}",
                options.tool_name, options.tool_version
            )],
            created: options.created.to_owned(),
        },
        packages,
        relationships: relationships(&catalog, &ids),
    };
    let digest = Sha256::digest(document.to_json()?.as_bytes());
    document.document_namespace = format!("urn:uuid:{}", catalog::uuid_from_digest(&digest));
    Ok(document)
}

/// Whether `text` is `YYYY-MM-DDThh:mm:ssZ`.
fn is_spdx_time(text: &str) -> bool {
    const SHAPE: &[u8] = b"dddd-dd-ddTdd:dd:ddZ";
    text.len() == SHAPE.len()
        && text.bytes().zip(SHAPE).all(|(byte, &shape)| match shape {
            b'd' => byte.is_ascii_digit(),
            other => byte == other,
        })
}

/// An `SPDXID` for every reference (see the module docs).
fn spdx_ids(catalog: &Catalog) -> BTreeMap<String, String> {
    let mut by_id: BTreeMap<String, Vec<String>> = BTreeMap::new();
    by_id
        .entry(readable_id("Application", catalog.application.name(), ""))
        .or_default()
        .push(catalog.application.reference().to_owned());
    for entry in catalog.entries.values() {
        let kind = match entry.origin {
            Origin::Local { .. } => format!("local-{}", entry.ecosystem.purl_type()),
            _ => entry.ecosystem.purl_type().to_owned(),
        };
        by_id
            .entry(readable_id(&kind, &entry.name, &entry.version))
            .or_default()
            .push(entry.reference.clone());
    }

    let mut ids = BTreeMap::new();
    for (id, references) in by_id {
        if let [only] = references.as_slice() {
            ids.insert(only.clone(), id);
            continue;
        }
        for reference in references {
            let digest = hex::encode(Sha256::digest(reference.as_bytes()));
            ids.insert(reference, format!("{id}-{}", &digest[..16]));
        }
    }
    ids
}

/// `SPDXRef-<kind>-<name>-<version>`, every character SPDX does not allow
/// in an id written as `-`.
fn readable_id(kind: &str, name: &str, version: &str) -> String {
    let mut id = format!("SPDXRef-{kind}-{name}");
    if !version.is_empty() {
        id.push('-');
        id.push_str(version);
    }
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn application_package(application: &Application, ids: &BTreeMap<String, String>) -> SpdxPackage {
    match application {
        Application::Package(entry) => package(entry, ids, "APPLICATION"),
        Application::Named {
            reference, name, ..
        } => SpdxPackage {
            name: name.clone(),
            spdx_id: ids[reference].clone(),
            version_info: None,
            download_location: NOASSERTION.to_owned(),
            files_analyzed: false,
            checksums: Vec::new(),
            license_concluded: NOASSERTION,
            license_declared: NOASSERTION,
            copyright_text: NOASSERTION,
            source_info: None,
            comment: "the project whose lockfiles were scanned".to_owned(),
            external_refs: Vec::new(),
            primary_package_purpose: "APPLICATION",
        },
    }
}

fn package(entry: &Entry, ids: &BTreeMap<String, String>, purpose: &'static str) -> SpdxPackage {
    let (download_location, source_info) = download_location(&entry.origin);
    let checksums = entry.checksums.iter().map(|checksum| SpdxChecksum {
        algorithm: checksum.algorithm.spdx_name(),
        checksum_value: checksum.hex.clone(),
    });
    let external_refs = entry.purl.iter().map(|purl| ExternalRef {
        reference_category: "PACKAGE-MANAGER",
        reference_type: "purl",
        reference_locator: purl.clone(),
    });
    SpdxPackage {
        name: entry.name.clone(),
        spdx_id: ids[&entry.reference].clone(),
        version_info: (!entry.version.is_empty()).then(|| entry.version.clone()),
        download_location,
        files_analyzed: false,
        checksums: checksums.collect(),
        license_concluded: NOASSERTION,
        license_declared: NOASSERTION,
        copyright_text: NOASSERTION,
        source_info,
        comment: comment(entry),
        external_refs: external_refs.collect(),
        primary_package_purpose: purpose,
    }
}

/// "ecosystem npm; origin registry; scope dev; lockfiles a, b".
fn comment(entry: &Entry) -> String {
    let lockfiles: Vec<&str> = entry.lockfiles.iter().map(String::as_str).collect();
    let mut comment = format!(
        "ecosystem {}; origin {}",
        entry.ecosystem,
        entry.origin.kind()
    );
    if let Some(scope) = entry.scope {
        comment.push_str(&format!("; scope {}", scope.as_str()));
    }
    for hash in &entry.unconverted_hashes {
        comment.push_str(&format!("; hash {hash}"));
    }
    comment.push_str(&format!("; lockfiles {}", lockfiles.join(", ")));
    comment
}

/// `downloadLocation`, and `sourceInfo` when the location is a URL SPDX
/// validators would refuse.
fn download_location(origin: &Origin) -> (String, Option<String>) {
    let location = match origin {
        Origin::Vcs { url, commit } => {
            let tool = if has_tool_prefix(url) { "" } else { "git+" };
            match commit {
                Some(commit) => format!("{tool}{url}@{commit}"),
                None => format!("{tool}{url}"),
            }
        }
        Origin::Url { url } => url.clone(),
        Origin::Registry | Origin::OtherRegistry { .. } | Origin::Local { .. } => {
            return (NOASSERTION.to_owned(), None);
        }
    };
    if is_plain_url(&location) {
        (location, None)
    } else {
        (
            NOASSERTION.to_owned(),
            Some(format!("fetched from {location}")),
        )
    }
}

/// Whether `url` starts with `<tool>+`, as `git+https://…` does.
fn has_tool_prefix(url: &str) -> bool {
    url.split_once('+')
        .is_some_and(|(tool, _)| !tool.contains(['/', ':']))
}

/// Whether `url` is `[<vcs>+]<scheme>://[user@]host.tld[:port][/…]` with a
/// lower-case DNS host whose last label is 2 to 5 letters: the shape the
/// SPDX tools' validator accepts for a download location.
fn is_plain_url(url: &str) -> bool {
    let url = ["git+", "hg+", "svn+", "bzr+"]
        .iter()
        .find_map(|tool| url.strip_prefix(tool))
        .unwrap_or(url);
    let Some((scheme, rest)) = url.split_once("://") else {
        return false;
    };
    if !["http", "https", "ssh", "git", "svn", "sftp", "ftp"].contains(&scheme) {
        return false;
    }
    let authority = rest.split('/').next().unwrap_or_default();
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = match host_port.split_once(':') {
        Some((host, port))
            if !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit()) =>
        {
            host
        }
        Some(_) => return false,
        None => host_port,
    };
    is_dns_host(host)
}

fn is_dns_host(host: &str) -> bool {
    let labels: Vec<&str> = host.split('.').collect();
    let Some((tld, others)) = labels.split_last() else {
        return false;
    };
    let label_ok = |label: &&str| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
            && !label.contains("--")
    };
    !others.is_empty()
        && others.iter().all(label_ok)
        && (2..=5).contains(&tld.len())
        && tld.bytes().all(|b| b.is_ascii_lowercase())
}

fn relationships(catalog: &Catalog, ids: &BTreeMap<String, String>) -> Vec<Relationship> {
    let application = catalog.application.reference();
    let mut relationships = BTreeSet::new();
    relationships.insert(Relationship {
        spdx_element_id: "SPDXRef-DOCUMENT".to_owned(),
        relationship_type: "DESCRIBES",
        related_spdx_element: ids[application].clone(),
    });
    let edges = catalog
        .entries
        .values()
        .filter_map(|entry| Some((entry.reference.as_str(), entry.depends_on.clone()?)))
        .chain(std::iter::once((
            application,
            catalog.application.depends_on(),
        )));
    for (from, targets) in edges {
        for target in targets {
            let scope = catalog.entries.get(&target).and_then(|entry| entry.scope);
            relationships.insert(edge(&ids[from], &ids[&target], scope));
        }
    }
    relationships.into_iter().collect()
}

/// `from DEPENDS_ON to`, or `to DEV_DEPENDENCY_OF from` and
/// `to OPTIONAL_DEPENDENCY_OF from` when the dependency's scope says so.
fn edge(from: &str, to: &str, scope: Option<Scope>) -> Relationship {
    let (subject, kind, object) = match scope {
        Some(Scope::Dev) => (to, "DEV_DEPENDENCY_OF", from),
        Some(Scope::Optional) => (to, "OPTIONAL_DEPENDENCY_OF", from),
        Some(Scope::Runtime) | None => (from, "DEPENDS_ON", to),
    };
    Relationship {
        spdx_element_id: subject.to_owned(),
        relationship_type: kind,
        related_spdx_element: object.to_owned(),
    }
}

#[cfg(test)]
mod tests;
