//! The engine owns a run: it loads and pins the pipeline, checks every
//! plugin before anything runs, runs the stages in dependency order, stops
//! at review gates, and records the run state and the audit trail at every
//! step.
//!
//! A [`Session`] holds the state directory (and its lock) for the life of
//! one command. Runs start with [`Session::prepare`] and
//! [`Session::drive`]; [`Session::approve`], [`Session::reject`] and
//! [`Session::resume`] continue them.

mod approval;
mod confinement;
mod events;
mod gate;
mod inspect;
mod pins;
mod plugins;
mod provenance;
mod record;
mod run;
mod sandbox;
mod signatures;
mod signing;
mod trail;
mod trust;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

pub use self::approval::{APPROVAL_PAYLOAD_TYPE, APPROVAL_STATEMENT_TYPE};
pub use self::inspect::{
    Described, Finding, FindingCode, InspectReport, PluginReport, PolicyReport, Severity,
    StageReport, StageReportKind, Wants,
};
pub use self::pins::{FilePin, Pins, PluginPin, PolicyPin, WorkspacePin};
pub use self::plugins::{builtin_bytes, plugin_bytes};
pub use self::provenance::PAYLOAD_TYPE as PROVENANCE_PAYLOAD_TYPE;
pub use self::record::{
    ArtifactRecord, Decision, Failure, FailureKind, FindingRecord, RunRecord, RunStatus,
    StageRecord, StageStatus,
};
pub use self::run::{PreparedRun, status_word};
pub use self::signatures::SignatureSummary;
pub use self::signing::{AttestationRecord, CHECKPOINT_PAYLOAD_TYPE, SignerRecord};
pub use self::trail::{TrailSummary, verify_trail};
pub use self::trust::{
    Assessment, PLUGIN_PAYLOAD_TYPE, PluginStatement, Provenance, Refusal, TrustRefusal, Verified,
    Voucher, assess_plugin, described_kind, excess_for, read_signature, settle_kind, sign_plugin,
    verify_plugin_signature, vouch_for,
};

use crate::audit::{AuditError, AuditLog};
use crate::host::{HostError, PluginError, PluginHost};
use crate::pipeline::PipelineError;
use crate::store::{RunId, StateDir, StoreError};

/// Told about a run's progress, for people watching it.
pub trait Progress {
    /// A stage is about to run.
    fn stage_started(&self, _run: &RunRecord, _stage: &StageRecord) {}
    /// A stage has ended, whatever its status.
    fn stage_finished(&self, _run: &RunRecord, _stage: &StageRecord) {}
}

/// Progress nobody watches.
pub struct Silent;

impl Progress for Silent {}

/// One command's hold on a state directory.
pub struct Session {
    state: StateDir,
    cache_dir: PathBuf,
    audit: Arc<Mutex<AuditLog>>,
    host: OnceLock<PluginHost>,
}

impl Session {
    /// Opens (creating if needed) and locks the state directory.
    ///
    /// Compiled plugins are cached in `cache_dir` when given (created, or
    /// narrowed, to mode 0700), else in the state directory's `cache/`.
    ///
    /// # Errors
    ///
    /// Fails when another process holds the lock, the audit log is
    /// unreadable, or the cache directory cannot be made private.
    pub fn open(state_dir: &Path, cache_dir: Option<&Path>) -> Result<Session, EngineError> {
        let state = StateDir::open(state_dir)?;
        let cache_dir = match cache_dir {
            Some(dir) => {
                crate::store::create_private_dir(dir)?;
                dir.to_owned()
            }
            None => state.cache_dir(),
        };
        let audit = AuditLog::open(&state.audit_path())?;
        Ok(Session {
            state,
            cache_dir,
            audit: Arc::new(Mutex::new(audit)),
            host: OnceLock::new(),
        })
    }

    /// The state directory this session holds.
    pub fn state(&self) -> &StateDir {
        &self.state
    }

    /// The wasmtime host, made on first use: commands that never run a
    /// plugin never pay for it.
    ///
    /// # Errors
    ///
    /// Fails when wasmtime cannot be set up.
    pub fn host(&self) -> Result<&PluginHost, EngineError> {
        if let Some(host) = self.host.get() {
            return Ok(host);
        }
        let host = PluginHost::new(&self.cache_dir)?;
        Ok(self.host.get_or_init(|| host))
    }

    /// Reads a run's record.
    ///
    /// # Errors
    ///
    /// Fails when the run does not exist or its record is unreadable.
    pub fn load_run(&self, run: &RunId) -> Result<RunRecord, EngineError> {
        let record: RunRecord = self.state.load_run(run)?;
        // A record copied from another run's directory would have this
        // run's approvals recorded, and saved, under the other's id.
        if record.id != *run {
            let problem = format!("it is the record of run {}", record.id);
            let run = run.clone();
            return Err(EngineError::DamagedRecord { run, problem });
        }
        Ok(record)
    }

    /// Every run in the state directory, oldest first.
    ///
    /// # Errors
    ///
    /// Fails when a run's record is unreadable.
    pub fn list_runs(&self) -> Result<Vec<RunRecord>, EngineError> {
        let ids = self.state.list_runs()?;
        ids.iter().map(|id| self.load_run(id)).collect()
    }

    fn save(&self, record: &RunRecord) -> Result<(), EngineError> {
        Ok(self.state.save_run(&record.id, record)?)
    }

    fn audit(
        &self,
        run: &RunId,
        event: &str,
        fields: serde_json::Value,
    ) -> Result<String, EngineError> {
        let mut audit = self.audit.lock().map_err(|_| EngineError::Poisoned)?;
        Ok(audit.append(run.as_str(), event, fields)?)
    }
}

/// Why a command could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Host(#[from] HostError),
    #[error(transparent)]
    Plugin(#[from] PluginError),
    #[error("failed to read plugin `{plugin}`: {source}")]
    ReadPlugin {
        plugin: String,
        source: std::io::Error,
    },
    #[error(
        "plugin `{plugin}` does not match its pinned digest: the pipeline pins {expected}, \
         the file is {actual}\n  hint: if the new plugin is trusted, update `sha256` in the \
         pipeline"
    )]
    PluginDigest {
        plugin: String,
        expected: String,
        actual: String,
    },
    #[error(
        "stage `{stage}` is a review gate, but the pipeline names no roles file\n  \
         hint: add `roles = \"roles.toml\"` to `[pipeline]`"
    )]
    NoRoles { stage: String },
    #[error(
        "run {run} cannot go on: its inputs changed since it started\n{}\n  \
         hint: start a new run with `gantry run`",
        changes.iter().map(|c| format!("  - {c}")).collect::<Vec<_>>().join("\n")
    )]
    InputsChanged { run: RunId, changes: Vec<String> },
    #[error("run {run} has already ended ({status})")]
    RunEnded { run: RunId, status: String },
    #[error("run {run} is not waiting at a review gate (its status: {status})")]
    NotAwaiting { run: RunId, status: String },
    #[error(
        "`{identity}` may not review stage `{stage}`: it needs role `{role}`, and `{identity}` \
         holds {}",
        if held.is_empty() { "no roles".to_owned() } else { held.join(", ") }
    )]
    MissingRole {
        identity: String,
        stage: String,
        role: String,
        held: Vec<String>,
    },
    #[error(
        "`{identity}` started run {run} and stage `{stage}` forbids self-approval \
         (`forbid-self-approval = true`)\n  hint: another holder of the role must approve"
    )]
    SelfApproval {
        identity: String,
        run: RunId,
        stage: String,
    },
    #[error("`{identity}` has already decided on stage `{stage}` of run {run}")]
    AlreadyDecided {
        identity: String,
        run: RunId,
        stage: String,
    },
    #[error("failed to prepare `{}`: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A run record that does not belong to its run, or not to its
    /// pipeline.
    #[error(
        "the record of run {run} is damaged: {problem}\n  hint: it was edited or corrupted; \
         start a new run with `gantry run`"
    )]
    DamagedRecord { run: RunId, problem: String },
    /// The audit log lost lines that a run recorded the hash of.
    #[error(
        "run {run} cannot go on: the audit log no longer holds chain head {head}, recorded \
         after stage `{stage}`: lines were removed from its end\n  hint: `gantry audit verify` \
         checks the whole trail"
    )]
    TrailCut {
        run: RunId,
        stage: String,
        head: String,
    },
    /// A grant that would let a plugin into the state directory or the
    /// compiled-plugin cache.
    #[error(
        "stage `{stage}` grants `{grant}`, which holds or lies inside `{}`, where gantry keeps \
         run records, the audit trail and compiled plugins: the plugin could rewrite them\n  \
         hint: use a --state-dir and --cache-dir outside every directory a stage is granted",
        dir.display()
    )]
    GrantReachesState {
        stage: String,
        grant: String,
        dir: PathBuf,
    },
    /// Plugins the pipeline's policy does not let run: untrusted, or
    /// granted beyond the ceiling for their kind. Nothing ran.
    #[error(
        "{what}: the policy `{policy}` refuses {} (recorded in the audit trail as run {run})\n  {}",
        if refusals.len() == 1 { "a plugin".to_owned() } else { format!("{} plugins", refusals.len()) },
        refusals.iter().map(|r| r.to_string().replace('\n', "\n  ")).collect::<Vec<_>>().join("\n  ")
    )]
    Refused {
        /// What could not happen: "run refused before any stage ran", …
        what: String,
        policy: String,
        run: RunId,
        refusals: Vec<Refusal>,
    },
    /// The policy requires confined programs and the kernel cannot
    /// confine them.
    #[error(
        "the policy requires programs run through `exec` to be confined, and this kernel \
         cannot confine them: {reason} (stages that run programs: {})\n  hint: run on Linux \
         6.7 or later with Landlock enabled and unprivileged user namespaces allowed, or set \
         `confinement = \"best-effort\"` under `[exec]` in the policy file to run them \
         unconfined, with a warning on the record",
        stages.join(", ")
    )]
    Unconfinable { stages: Vec<String>, reason: String },
    /// The pipeline's signing key cannot be read or made.
    #[error("failed to get the signing key of pipeline `{pipeline}`: {message}")]
    SigningKey { pipeline: String, message: String },
    /// The pipeline's key is not the one the run started with.
    #[error(
        "run {run} cannot go on: it is signed with pipeline key {recorded}, and the pipeline's \
         key is now {now}\n  hint: restore the key the run started with, or start a new run"
    )]
    SigningKeyChanged {
        run: RunId,
        recorded: String,
        now: String,
    },
    /// An approver's key that the roles file does not bind to them.
    #[error("{message}")]
    ApprovalKey { message: String },
    #[error("a previous failure left the audit log unusable in this process")]
    Poisoned,
    #[error("an audit event was lost while the stage ran: {message}")]
    AuditLost { message: String },
}

impl EngineError {
    /// The exit code this error calls for (see `gantry --help`).
    pub fn exit_code(&self) -> i32 {
        match self {
            EngineError::Audit(_)
            | EngineError::Poisoned
            | EngineError::AuditLost { .. }
            | EngineError::TrailCut { .. } => 1,
            _ => 2,
        }
    }
}
