//! Inputs pinned at run start: pipeline, roles, policy, plugins, workspace.
//!
//! `approve` and `resume` recompute the pins and refuse when any differs, so
//! what a reviewer approves is exactly what ran and what will run.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::pipeline::PipelineSpec;
use crate::store;

use super::EngineError;
use super::trust::Provenance;

/// A file and its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilePin {
    pub path: String,
    pub digest: String,
}

/// The policy a run is held to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyPin {
    pub id: String,
    pub version: String,
    pub path: String,
    pub digest: String,
}

/// The plugin a stage runs, who vouches for it and what kind it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginPin {
    pub plugin: String,
    pub digest: String,
    /// Its signer (or `builtin`), kind, and the digest of the signature
    /// file relied on.
    #[serde(flatten)]
    pub provenance: Provenance,
}

/// The workspace, and its git commit when it is in a repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspacePin {
    pub path: String,
    pub commit: Option<String>,
}

/// Every input of a run, by digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pins {
    pub pipeline: FilePin,
    pub roles: Option<FilePin>,
    pub policy: Option<PolicyPin>,
    /// By stage id.
    pub plugins: BTreeMap<String, PluginPin>,
    pub workspace: WorkspacePin,
}

impl Pins {
    /// Pins a loaded pipeline whose plugins have the given digests.
    ///
    /// # Errors
    ///
    /// Fails when the pipeline, roles or policy file cannot be read.
    pub fn compute(
        spec: &PipelineSpec,
        plugins: BTreeMap<String, PluginPin>,
    ) -> Result<Pins, EngineError> {
        let policy = match &spec.policy {
            Some(policy) => Some(PolicyPin {
                id: policy.id.clone(),
                version: policy.version.clone(),
                path: policy.file.display().to_string(),
                digest: store::sha256_file(&policy.file)?,
            }),
            None => None,
        };
        Ok(Pins {
            pipeline: file_pin(&spec.file)?,
            roles: spec.roles.as_deref().map(file_pin).transpose()?,
            policy,
            plugins,
            workspace: WorkspacePin {
                path: spec.workspace.display().to_string(),
                commit: git_commit(&spec.workspace),
            },
        })
    }

    /// What differs between the pins of a run and the inputs now, one
    /// sentence per difference; empty when nothing changed.
    pub fn changes_to(&self, now: &Pins) -> Vec<String> {
        let mut changes = Vec::new();
        let mut compare = |what: String, old: Option<&str>, new: Option<&str>| {
            if old != new {
                let show = |d: Option<&str>| d.unwrap_or("absent").to_owned();
                changes.push(format!("{what} changed: {} -> {}", show(old), show(new)));
            }
        };
        compare(
            format!("pipeline file `{}`", self.pipeline.path),
            Some(&self.pipeline.digest),
            Some(&now.pipeline.digest),
        );
        let digest = |p: &Option<FilePin>| p.as_ref().map(|p| p.digest.clone());
        compare(
            "roles file".into(),
            digest(&self.roles).as_deref(),
            digest(&now.roles).as_deref(),
        );
        let policy = |p: &Option<PolicyPin>| p.as_ref().map(|p| p.digest.clone());
        compare(
            "policy file".into(),
            policy(&self.policy).as_deref(),
            policy(&now.policy).as_deref(),
        );
        for (stage, pin) in &self.plugins {
            let new = now.plugins.get(stage).map(|p| p.digest.as_str());
            compare(format!("plugin of stage `{stage}`"), Some(&pin.digest), new);
            let signature = now
                .plugins
                .get(stage)
                .and_then(|p| p.provenance.signature.as_deref());
            compare(
                format!("signature of the plugin of stage `{stage}`"),
                pin.provenance.signature.as_deref(),
                signature,
            );
        }
        compare(
            format!("workspace `{}` commit", self.workspace.path),
            self.workspace.commit.as_deref(),
            now.workspace.commit.as_deref(),
        );
        changes
    }
}

fn file_pin(path: &Path) -> Result<FilePin, EngineError> {
    Ok(FilePin {
        path: path.display().to_string(),
        digest: store::sha256_file(path)?,
    })
}

/// The commit checked out in the repository holding `dir`, if any.
///
/// A missing `git` or a directory outside any repository both mean "no
/// commit": the pin then rests on the other inputs.
fn git_commit(dir: &Path) -> Option<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "--verify", "HEAD"])
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .output()
        .ok()?;
    let commit = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    (output.status.success() && !commit.is_empty()).then_some(commit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pins() -> Pins {
        Pins {
            pipeline: FilePin {
                path: "p.toml".into(),
                digest: "sha256:a".into(),
            },
            roles: None,
            policy: None,
            plugins: BTreeMap::from([(
                "scan".into(),
                PluginPin {
                    plugin: "gantry:scan".into(),
                    digest: "sha256:s".into(),
                    provenance: Provenance {
                        signature: Some("sha256:g".into()),
                        ..Provenance::default()
                    },
                },
            )]),
            workspace: WorkspacePin {
                path: "ws".into(),
                commit: Some("c1".into()),
            },
        }
    }

    #[test]
    fn unchanged_inputs_have_no_changes() {
        assert!(pins().changes_to(&pins()).is_empty());
    }

    #[test]
    fn each_changed_input_is_named() {
        let mut now = pins();
        now.pipeline.digest = "sha256:b".into();
        now.plugins.get_mut("scan").unwrap().digest = "sha256:t".into();
        now.workspace.commit = None;
        let changes = pins().changes_to(&now);
        assert_eq!(changes.len(), 3, "{changes:?}");
        assert!(changes[0].contains("pipeline file `p.toml` changed: sha256:a -> sha256:b"));
        assert!(changes[1].contains("plugin of stage `scan`"));
        assert!(changes[2].contains("c1 -> absent"));
    }

    #[test]
    fn a_changed_or_removed_signature_is_a_change() {
        let mut now = pins();
        now.plugins.get_mut("scan").unwrap().provenance.signature = None;
        let changes = pins().changes_to(&now);
        assert_eq!(
            changes,
            ["signature of the plugin of stage `scan` changed: sha256:g -> absent"]
        );
    }
}
