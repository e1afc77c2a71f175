//! The run record: what `runs/<id>/run.json` holds.
//!
//! It is rewritten atomically at every stage boundary, so after a crash it
//! says exactly which stages finished, with which outputs, and where the
//! audit chain stood; `resume` starts from it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::pins::Pins;
use super::signing::{AttestationRecord, SignerRecord};
use crate::store::RunId;

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    /// A process is running it, or was when it died.
    Running,
    /// Stopped at a review gate.
    AwaitingApproval,
    Succeeded,
    Failed,
    /// Stopped by a signal; `resume` continues it.
    Interrupted,
}

impl RunStatus {
    /// Whether the run can still go on.
    pub fn is_open(self) -> bool {
        !matches!(self, RunStatus::Succeeded | RunStatus::Failed)
    }
}

/// Why a run failed; it decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// A stage's verdict was `fail`, or it reported an error.
    StageFailed,
    /// A reviewer rejected the run.
    Rejected,
    /// A plugin trapped, exceeded a limit, or returned malformed output.
    PluginFault,
    /// The stage's configuration was refused by its plugin.
    Configuration,
}

/// The end of a failed run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Failure {
    pub kind: FailureKind,
    pub stage: String,
    pub message: String,
}

/// Where a stage stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StageStatus {
    Pending,
    Running,
    Passed,
    Failed,
    /// The plugin faulted (trap, limit, malformed output).
    Faulted,
    Interrupted,
    AwaitingApproval,
    Approved,
    Rejected,
    /// Never ran: the run failed before reaching it.
    Skipped,
}

impl StageStatus {
    /// Whether the stage is done and the run may go past it.
    pub fn is_done(self) -> bool {
        matches!(self, StageStatus::Passed | StageStatus::Approved)
    }
}

/// One artifact a stage produced, with the digest the host computed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArtifactRecord {
    pub name: String,
    pub media_type: String,
    /// Relative to the stage's output directory.
    pub path: String,
    pub digest: String,
}

/// One finding, as the plugin reported it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FindingRecord {
    pub id: String,
    pub severity: String,
    pub package: String,
    pub title: String,
    pub fixed_in: Option<String>,
}

/// A reviewer's decision at a gate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Decision {
    pub identity: String,
    pub role: String,
    pub approved: bool,
    pub reason: Option<String>,
    pub time: String,
    /// The key id of the approver's key, when the decision is signed; the
    /// signed statement is in the audit trail.
    #[serde(default)]
    pub signed_by: Option<String>,
}

/// Everything recorded about one stage.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageRecord {
    pub id: String,
    /// `gantry:scan`, a plugin path, or `approval` for a gate.
    pub plugin: String,
    pub plugin_digest: Option<String>,
    pub status: StageStatus,
    pub started: Option<String>,
    pub finished: Option<String>,
    pub duration_ms: Option<u64>,
    /// `pass`, `fail` or `needs-review`, when the plugin returned one.
    pub verdict: Option<String>,
    pub reason: Option<String>,
    pub summary: Option<String>,
    /// Digest of the whole output directory.
    pub output_digest: Option<String>,
    pub artifacts: Vec<ArtifactRecord>,
    pub findings: Vec<FindingRecord>,
    pub metadata: BTreeMap<String, String>,
    pub decisions: Vec<Decision>,
    /// The audit chain's head when the stage ended.
    pub audit_head: Option<String>,
}

impl StageRecord {
    /// A stage that has not run yet.
    pub fn pending(id: &str, plugin: String, plugin_digest: Option<String>) -> Self {
        StageRecord {
            id: id.to_owned(),
            plugin,
            plugin_digest,
            status: StageStatus::Pending,
            started: None,
            finished: None,
            duration_ms: None,
            verdict: None,
            reason: None,
            summary: None,
            output_digest: None,
            artifacts: Vec::new(),
            findings: Vec::new(),
            metadata: BTreeMap::new(),
            decisions: Vec::new(),
            audit_head: None,
        }
    }
}

/// Everything recorded about one run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    pub id: RunId,
    pub pipeline: String,
    /// The pipeline file as the operator named it.
    pub pipeline_file: String,
    pub initiator: String,
    pub created: String,
    pub updated: String,
    pub status: RunStatus,
    pub failure: Option<Failure>,
    pub pins: Pins,
    /// In execution order.
    pub stages: Vec<StageRecord>,
    /// The pipeline key the run is signed with.
    #[serde(default)]
    pub signer: Option<SignerRecord>,
    /// The signed provenance, once written.
    #[serde(default)]
    pub attestation: Option<AttestationRecord>,
}

impl RunRecord {
    pub fn stage(&self, id: &str) -> Option<&StageRecord> {
        self.stages.iter().find(|s| s.id == id)
    }

    pub fn stage_mut(&mut self, id: &str) -> Option<&mut StageRecord> {
        self.stages.iter_mut().find(|s| s.id == id)
    }

    /// The process exit code this run's state calls for.
    pub fn exit_code(&self) -> i32 {
        match (self.status, &self.failure) {
            (RunStatus::Succeeded, _) => 0,
            (RunStatus::AwaitingApproval, _) => 4,
            (RunStatus::Interrupted | RunStatus::Running, _) => 130,
            (RunStatus::Failed, Some(f)) if f.kind == FailureKind::PluginFault => 3,
            (RunStatus::Failed, Some(f)) if f.kind == FailureKind::Configuration => 2,
            (RunStatus::Failed, _) => 1,
        }
    }
}
