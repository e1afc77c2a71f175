//! What changed since the last promoted version of the service.
//!
//! The ato stage writes `release-facts.json`: the release's image, its
//! packages and its open findings. When the release is promoted, the
//! promote stage keeps that file in the registry beside the catalogue, at
//! `<registry>/_releases/<service>/<version>.json` (an image name cannot
//! start with `_`, so no image layout is ever there). The next packet for
//! the service reads the catalogue, takes the version promoted last, reads
//! its facts and compares.
//!
//! Reading the registry needs the pipeline to grant it
//! (`read = ["mount:registry"]`) and the stage's `registry` config to point
//! at it; without both the summary says the comparison was not made.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use gantry_plugin_sdk::{ResultExt, StageError};
use serde::{Deserialize, Serialize};

use crate::inputs::Packet;

/// Where the promote stage keeps release facts, under the registry.
pub const RELEASES_DIR: &str = "_releases";

/// `release-facts.json`: what a later packet compares itself with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ReleaseFacts {
    pub service: String,
    pub version: String,
    pub image_digest: String,
    pub run_id: String,
    /// `name@version` of every SBOM package.
    pub packages: BTreeSet<String>,
    /// `<id> in <name@version> (<severity>)` of every open finding.
    pub findings: BTreeSet<String>,
}

impl ReleaseFacts {
    /// The facts of the release `packet` describes.
    pub fn of(packet: &Packet) -> ReleaseFacts {
        let assessment = &packet.assessment;
        let (service, version, image_digest) = match &assessment.image {
            Some(image) => (
                image.name.clone(),
                image.version.clone(),
                image.digest.clone(),
            ),
            None => Default::default(),
        };
        ReleaseFacts {
            service,
            version,
            image_digest,
            run_id: assessment.run_id.clone(),
            packages: assessment.components.iter().map(|c| c.key()).collect(),
            findings: assessment
                .findings
                .iter()
                .map(|f| format!("{} in {} ({})", f.id, f.package, f.severity))
                .collect(),
        }
    }
}

/// What the comparison found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum History {
    /// No `registry` configured: the comparison was not asked for.
    NotConfigured,
    /// The catalogue lists no earlier version of the service.
    FirstVersion,
    /// The version promoted last has no facts recorded (promoted before
    /// the registry kept them).
    NoFacts { version: String },
    /// The comparison with the version promoted last.
    Compared(Changes),
}

/// The differences between the last promoted release and this one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    pub version: String,
    pub image_digest: String,
    pub run_id: String,
    pub added_packages: Vec<String>,
    pub removed_packages: Vec<String>,
    /// `name: old → new`.
    pub upgraded_packages: Vec<String>,
    pub new_findings: Vec<String>,
    pub resolved_findings: Vec<String>,
}

impl Changes {
    pub fn between(earlier: &ReleaseFacts, now: &ReleaseFacts) -> Changes {
        let versions = |facts: &ReleaseFacts| -> BTreeMap<String, String> {
            facts
                .packages
                .iter()
                .map(|key| match key.rsplit_once('@') {
                    Some((name, version)) => (name.to_owned(), version.to_owned()),
                    None => (key.clone(), String::new()),
                })
                .collect()
        };
        let (old, new) = (versions(earlier), versions(now));
        let mut changes = Changes {
            version: earlier.version.clone(),
            image_digest: earlier.image_digest.clone(),
            run_id: earlier.run_id.clone(),
            new_findings: now
                .findings
                .difference(&earlier.findings)
                .cloned()
                .collect(),
            resolved_findings: earlier
                .findings
                .difference(&now.findings)
                .cloned()
                .collect(),
            ..Changes::default()
        };
        for (name, version) in &new {
            match old.get(name) {
                None => changes.added_packages.push(format!("{name}@{version}")),
                Some(before) if before != version => changes
                    .upgraded_packages
                    .push(format!("{name}: {before} → {version}")),
                Some(_) => {}
            }
        }
        for (name, version) in &old {
            if !new.contains_key(name) {
                changes.removed_packages.push(format!("{name}@{version}"));
            }
        }
        changes
    }

    /// True when nothing the packet compares changed.
    pub fn is_empty(&self) -> bool {
        self.added_packages.is_empty()
            && self.removed_packages.is_empty()
            && self.upgraded_packages.is_empty()
            && self.new_findings.is_empty()
            && self.resolved_findings.is_empty()
    }
}

/// The catalogue's parts the comparison reads.
#[derive(Debug, Deserialize)]
struct Catalogue {
    #[serde(default)]
    services: BTreeMap<String, Service>,
}

#[derive(Debug, Deserialize)]
struct Service {
    #[serde(default)]
    versions: Vec<Version>,
}

#[derive(Debug, Deserialize)]
struct Version {
    version: String,
}

/// Compares `now` with the version of its service promoted last, as the
/// catalogue under `registry` records it.
///
/// # Errors
///
/// [`StageError::MissingInput`] when the catalogue or the facts file exists
/// but cannot be read or parsed: a comparison that silently found nothing
/// would tell the reviewer nothing changed.
pub fn compare(registry: &Path, now: &ReleaseFacts) -> Result<History, StageError> {
    let path = registry.join("catalogue.json");
    let Some(bytes) = read_if_present(&path)? else {
        return Ok(History::FirstVersion);
    };
    let catalogue: Catalogue = serde_json::from_slice(&bytes)
        .or_missing_input(|| format!("failed to parse `{}`", path.display()))?;
    let Some(last) = catalogue
        .services
        .get(&now.service)
        .and_then(|service| service.versions.last())
    else {
        return Ok(History::FirstVersion);
    };
    let facts_path = registry
        .join(RELEASES_DIR)
        .join(&now.service)
        .join(format!("{}.json", last.version));
    let Some(bytes) = read_if_present(&facts_path)? else {
        return Ok(History::NoFacts {
            version: last.version.clone(),
        });
    };
    let earlier: ReleaseFacts = serde_json::from_slice(&bytes)
        .or_missing_input(|| format!("failed to parse `{}`", facts_path.display()))?;
    Ok(History::Compared(Changes::between(&earlier, now)))
}

fn read_if_present(path: &Path) -> Result<Option<Vec<u8>>, StageError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => {
            Err(error).or_missing_input(|| format!("failed to read `{}`", path.display()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(version: &str, packages: &[&str], findings: &[&str]) -> ReleaseFacts {
        ReleaseFacts {
            service: "contact-tracing".to_owned(),
            version: version.to_owned(),
            image_digest: format!("sha256:{version}"),
            run_id: format!("run-{version}"),
            packages: packages.iter().map(|p| (*p).to_owned()).collect(),
            findings: findings.iter().map(|f| (*f).to_owned()).collect(),
        }
    }

    fn registry(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("gantry-ato-history-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join(RELEASES_DIR).join("contact-tracing")).unwrap();
        dir
    }

    #[test]
    fn changes_name_added_removed_upgraded_packages_and_findings() {
        let earlier = facts(
            "0.1.0",
            &["a@1.0.0", "b@1.0.0", "c@2.0.0"],
            &["X in b@1.0.0 (high)"],
        );
        let now = facts(
            "0.2.0",
            &["a@1.0.0", "b@1.1.0", "d@0.1.0"],
            &["Y in d@0.1.0 (low)"],
        );
        let changes = Changes::between(&earlier, &now);
        assert_eq!(changes.added_packages, ["d@0.1.0"]);
        assert_eq!(changes.removed_packages, ["c@2.0.0"]);
        assert_eq!(changes.upgraded_packages, ["b: 1.0.0 → 1.1.0"]);
        assert_eq!(changes.new_findings, ["Y in d@0.1.0 (low)"]);
        assert_eq!(changes.resolved_findings, ["X in b@1.0.0 (high)"]);
        assert!(Changes::between(&now, &now).is_empty());
    }

    #[test]
    fn no_catalogue_or_no_service_is_the_first_version() {
        let dir = registry("first");
        let now = facts("0.1.0", &[], &[]);
        assert_eq!(compare(&dir, &now).unwrap(), History::FirstVersion);
        fs::write(
            dir.join("catalogue.json"),
            r#"{"services": {"other": {"versions": []}}}"#,
        )
        .unwrap();
        assert_eq!(compare(&dir, &now).unwrap(), History::FirstVersion);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_last_promoted_version_is_compared_from_its_recorded_facts() {
        let dir = registry("compare");
        let catalogue = r#"{"services": {"contact-tracing": {"versions": [
            {"version": "0.1.0"}, {"version": "0.2.0"}]}}}"#;
        fs::write(dir.join("catalogue.json"), catalogue).unwrap();
        let now = facts("0.3.0", &["a@2.0.0"], &[]);
        assert_eq!(
            compare(&dir, &now).unwrap(),
            History::NoFacts {
                version: "0.2.0".to_owned()
            }
        );
        let earlier = facts("0.2.0", &["a@1.0.0"], &[]);
        let path = dir.join(RELEASES_DIR).join("contact-tracing/0.2.0.json");
        fs::write(&path, serde_json::to_vec(&earlier).unwrap()).unwrap();
        let History::Compared(changes) = compare(&dir, &now).unwrap() else {
            panic!("expected a comparison")
        };
        assert_eq!(
            (changes.version.as_str(), changes.run_id.as_str()),
            ("0.2.0", "run-0.2.0")
        );
        assert_eq!(changes.upgraded_packages, ["a: 1.0.0 → 2.0.0"]);

        fs::write(&path, b"{").unwrap();
        let error = compare(&dir, &now).unwrap_err();
        assert!(matches!(error, StageError::MissingInput(m) if m.contains("0.2.0.json")));
        fs::remove_dir_all(dir).unwrap();
    }
}
