//! Crate licences from `cargo metadata --format-version 1`.
//!
//! `Cargo.lock` records no licences; the build stage, which may run cargo,
//! writes what `cargo metadata` says as `cargo-metadata.json`, and the
//! scan reads each crate's `license` (an SPDX expression, as crates.io
//! requires) and `license_file` from it. Only packages with a `source`
//! (a registry or a git repository) are kept: path and workspace crates are
//! the project itself.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The format version this reader understands.
pub const FORMAT_VERSION: u64 = 1;

/// Why `cargo-metadata.json` could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CargoMetadataError {
    /// The text is not the JSON `cargo metadata` writes.
    #[error("failed to parse cargo metadata: {0}")]
    Json(#[from] serde_json::Error),
    /// A format version other than [`FORMAT_VERSION`].
    #[error("cargo metadata has format version {0}; only version 1 is understood")]
    Version(u64),
}

/// What one crate says of its licence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrateLicence {
    /// The `license` field: an SPDX expression, as written.
    pub expression: Option<String>,
    /// The `license-file` field: a file in the crate, when the crate names
    /// one instead of (or as well as) an expression.
    pub file: Option<String>,
}

/// The licences of every non-local crate, by name and version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CargoLicences {
    crates: BTreeMap<(String, String), CrateLicence>,
}

#[derive(Deserialize)]
struct RawMetadata {
    version: u64,
    packages: Vec<RawPackage>,
}

#[derive(Deserialize)]
struct RawPackage {
    name: String,
    version: String,
    source: Option<String>,
    license: Option<String>,
    license_file: Option<String>,
}

impl CargoLicences {
    /// Reads the output of `cargo metadata --format-version 1`.
    ///
    /// # Errors
    ///
    /// [`CargoMetadataError`] when the text is not that JSON, or has
    /// another format version.
    pub fn parse(json: &str) -> Result<Self, CargoMetadataError> {
        let raw: RawMetadata = serde_json::from_str(json)?;
        if raw.version != FORMAT_VERSION {
            return Err(CargoMetadataError::Version(raw.version));
        }
        let crates = raw
            .packages
            .into_iter()
            .filter(|package| package.source.is_some())
            .map(|package| {
                let licence = CrateLicence {
                    expression: package.license.filter(|text| !text.trim().is_empty()),
                    file: package.license_file,
                };
                ((package.name, package.version), licence)
            })
            .collect();
        Ok(Self { crates })
    }

    /// The crate `name` at `version`, when the metadata lists it.
    pub fn get(&self, name: &str, version: &str) -> Option<&CrateLicence> {
        self.crates.get(&(name.to_owned(), version.to_owned()))
    }

    /// How many crates the metadata lists.
    pub fn len(&self) -> usize {
        self.crates.len()
    }

    /// Whether it lists none.
    pub fn is_empty(&self) -> bool {
        self.crates.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const METADATA: &str = r#"{
      "version": 1,
      "packages": [
        {"name": "time", "version": "0.1.45", "license": "MIT/Apache-2.0",
         "license_file": null,
         "source": "registry+https://github.com/rust-lang/crates.io-index"},
        {"name": "odd", "version": "1.0.0", "license": null,
         "license_file": "LICENSE.txt",
         "source": "git+https://example.org/odd?rev=abc#abc"},
        {"name": "app", "version": "0.1.0", "license": "Apache-2.0",
         "license_file": null, "source": null}
      ],
      "workspace_members": [], "resolve": null, "target_directory": "/t",
      "metadata": null
    }"#;

    #[test]
    fn crates_with_a_source_are_kept_with_their_licence() {
        let licences = CargoLicences::parse(METADATA).unwrap();
        assert_eq!(licences.len(), 2);
        let time = licences.get("time", "0.1.45").unwrap();
        assert_eq!(time.expression.as_deref(), Some("MIT/Apache-2.0"));
        let odd = licences.get("odd", "1.0.0").unwrap();
        assert_eq!(odd.expression, None);
        assert_eq!(odd.file.as_deref(), Some("LICENSE.txt"));
        assert_eq!(licences.get("app", "0.1.0"), None);
        assert_eq!(licences.get("time", "0.1.44"), None);
    }

    #[test]
    fn other_format_versions_and_other_json_are_refused() {
        let two = METADATA.replacen("\"version\": 1", "\"version\": 2", 1);
        let err = CargoLicences::parse(&two).unwrap_err().to_string();
        assert!(err.contains("format version 2"), "{err}");
        let err = CargoLicences::parse("[]").unwrap_err().to_string();
        assert!(err.starts_with("failed to parse cargo metadata"), "{err}");
    }
}
