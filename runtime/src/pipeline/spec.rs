//! The validated pipeline: what the engine runs, `inspect` shows and the
//! audit trail records.
//!
//! Every path in here is canonical and every grant resolved, so nothing
//! downstream needs the pipeline file or the directory it was loaded from.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Serialize, Serializer};

use super::grants::StageGrants;
use super::graph;
use super::limits::StageLimits;
use super::names::{MountName, StageId};
use super::policy::{PluginKind, Policy};

/// A pipeline file, loaded and validated by [`load`](super::load).
#[derive(Debug, Clone, Serialize)]
pub struct PipelineSpec {
    /// The canonical path of the pipeline file.
    pub file: PathBuf,
    /// The path as the user gave it, for messages.
    pub display_path: String,
    /// The canonical directory holding the file; relative paths in it start
    /// here.
    pub dir: PathBuf,
    /// `[pipeline] name`.
    pub name: String,
    /// The canonical workspace directory.
    pub workspace: PathBuf,
    /// The policy the pipeline runs under, if it names one.
    pub policy: Option<PolicyRef>,
    /// The canonical roles file, if the pipeline names one.
    pub roles: Option<PathBuf>,
    /// `[pipeline] signing-key`; `None` when the engine is to keep the
    /// pipeline's key in the state directory.
    pub signing_key: Option<super::SigningKeySource>,
    /// Declared mounts and their canonical directories. The built-in
    /// `registry` mount is not listed.
    pub mounts: BTreeMap<MountName, PathBuf>,
    /// The stages, in file order.
    pub stages: Vec<StageSpec>,
}

impl PipelineSpec {
    /// The stage with id `id`, if there is one.
    pub fn stage(&self, id: &str) -> Option<&StageSpec> {
        self.stages.iter().find(|stage| stage.id == id)
    }

    /// Every stage, each after all the stages it needs; among the stages
    /// ready at each step, the earliest in the file comes first.
    pub fn execution_order(&self) -> Vec<&StageSpec> {
        graph::execution_order(&self.stages)
            .into_iter()
            .map(|i| &self.stages[i])
            .collect()
    }

    /// The ids of every stage `id` needs, directly or transitively, in
    /// execution order; empty for an unknown id.
    pub fn upstream(&self, id: &StageId) -> Vec<&StageId> {
        let Some(index) = self.stages.iter().position(|stage| &stage.id == id) else {
            return Vec::new();
        };
        let upstream = graph::upstream(&self.stages, index);
        graph::execution_order(&self.stages)
            .into_iter()
            .filter(|i| upstream.contains(i))
            .map(|i| &self.stages[i].id)
            .collect()
    }
}

/// `[pipeline] policy`: the policy a run is held to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyRef {
    /// The policy's id, e.g. `cdc-ato`.
    pub id: String,
    /// The policy's version, e.g. `2026.11`.
    pub version: String,
    /// The canonical policy file; it exists.
    pub file: PathBuf,
    /// What the file says, checked.
    pub rules: Policy,
}

/// One `[[stage]]`.
#[derive(Debug, Clone, Serialize)]
pub struct StageSpec {
    /// The stage's id, unique in the pipeline.
    pub id: StageId,
    /// The stages this one waits for, as written; all exist, none is this
    /// stage, and they form no cycle.
    pub needs: Vec<StageId>,
    /// What the stage does.
    pub kind: StageKind,
    /// The line of the stage's `[[stage]]` header.
    pub line: usize,
}

impl StageSpec {
    /// The plugin stage, if this is one.
    pub fn plugin(&self) -> Option<&PluginStage> {
        match &self.kind {
            StageKind::Plugin(plugin) => Some(plugin),
            StageKind::Approval(_) => None,
        }
    }
}

/// A stage runs a plugin or waits for approval.
#[derive(Debug, Clone, Serialize)]
#[expect(
    clippy::large_enum_variant,
    reason = "a pipeline holds a handful of stages; boxing would only add indirection"
)]
#[serde(rename_all = "kebab-case")]
pub enum StageKind {
    /// A WebAssembly component run in a sandbox.
    Plugin(PluginStage),
    /// A gate that stops the run until people holding a role approve.
    Approval(ApprovalGate),
}

/// A stage that runs a plugin.
#[derive(Debug, Clone, Serialize)]
pub struct PluginStage {
    /// Which component runs.
    pub plugin: PluginSource,
    /// `[stage.config]` as a JSON object (empty when absent), handed to the
    /// plugin as text.
    pub config: serde_json::Value,
    /// What the plugin may touch.
    pub grants: StageGrants,
    /// Memory and time limits.
    pub limits: StageLimits,
}

/// Where a stage's component comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PluginSource {
    /// A standard plugin shipped with Gantry.
    Builtin(BuiltinPlugin),
    /// A `.wasm` file.
    Path {
        /// The canonical path; the file existed when the pipeline loaded.
        path: PathBuf,
        /// The sha256 the file must have (64 lowercase hex digits); the host
        /// refuses to run a file that does not match.
        sha256: Option<String>,
        /// The plugin's signature envelope: the `signature` the pipeline
        /// names (canonical; it existed when the pipeline loaded), else
        /// `<path as written>.sig` beside the pipeline, which may not exist.
        /// Checked only when the policy has a `[trust]` table.
        signature: PathBuf,
    },
}

impl fmt::Display for PluginSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Builtin(builtin) => builtin.fmt(f),
            Self::Path { path, .. } => path.display().fmt(f),
        }
    }
}

/// The standard plugins, written `gantry:<name>` in a pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BuiltinPlugin {
    /// Runs the build and packages an OCI image.
    Build,
    /// Runs the tests and reads their report.
    Test,
    /// Builds an SBOM and matches it against advisories.
    Scan,
    /// Assembles the ATO packet.
    Ato,
    /// Pushes the image and registers the release.
    Promote,
}

impl BuiltinPlugin {
    /// Every standard plugin.
    pub const ALL: [Self; 5] = [
        Self::Build,
        Self::Test,
        Self::Scan,
        Self::Ato,
        Self::Promote,
    ];

    /// The name after `gantry:`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Build => "build",
            Self::Test => "test",
            Self::Scan => "scan",
            Self::Ato => "ato",
            Self::Promote => "promote",
        }
    }

    /// The kind of stage the standard plugin is.
    pub fn kind(self) -> PluginKind {
        match self {
            Self::Build => PluginKind::Build,
            Self::Test => PluginKind::Test,
            Self::Scan => PluginKind::Scan,
            Self::Ato => PluginKind::Ato,
            Self::Promote => PluginKind::Promote,
        }
    }

    /// The standard plugin written as `gantry:<name>`, if there is one.
    pub fn from_reference(reference: &str) -> Option<Self> {
        let name = reference.strip_prefix("gantry:")?;
        Self::ALL.into_iter().find(|builtin| builtin.name() == name)
    }
}

impl fmt::Display for BuiltinPlugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "gantry:{}", self.name())
    }
}

impl Serialize for BuiltinPlugin {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// An approval gate: the run stops here until enough people holding `role`
/// approve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApprovalGate {
    /// The role an approver must hold, from the roles file.
    pub role: String,
    /// How many distinct approvers are needed; at least 1, default 1.
    pub min: u32,
    /// Whether the identity that started the run is barred from approving
    /// it; default true.
    pub forbid_self_approval: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_plugins_are_written_with_the_gantry_prefix() {
        for builtin in BuiltinPlugin::ALL {
            let written = builtin.to_string();
            assert_eq!(BuiltinPlugin::from_reference(&written), Some(builtin));
        }
        assert_eq!(BuiltinPlugin::Scan.to_string(), "gantry:scan");
        assert_eq!(BuiltinPlugin::from_reference("scan"), None);
        assert_eq!(BuiltinPlugin::from_reference("gantry:lint"), None);
    }

    #[test]
    fn plugin_sources_serialize_by_kind() {
        let builtin = PluginSource::Builtin(BuiltinPlugin::Ato);
        let json = serde_json::to_string(&builtin).expect("json");
        assert_eq!(json, r#"{"builtin":"gantry:ato"}"#);
    }
}
