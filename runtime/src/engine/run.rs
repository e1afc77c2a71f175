//! Starting, driving and resuming runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use sha2::Digest as _;

use super::confinement;
use super::events::{DescribeEvents, StageRecorder};
use super::pins::{Pins, PluginPin};
use super::record::{Failure, FailureKind, RunRecord, RunStatus, StageRecord, StageStatus};
use super::sandbox::{self, StageDirs};
use super::signing::PipelineKey;
use super::trust::{self, Refusal, TrustRefusal};
use super::{EngineError, Progress, Session, plugins};
use crate::host::bindings::types::{InputArtifact, StageError, StageInput, Verdict};
use crate::host::{Limits, LoadedPlugin, StageFault, StageResult};
use crate::pipeline::{
    self, BuiltinPlugin, PipelineSpec, PluginKind, PluginSource, PluginStage, Policy, StageKind,
    StageLimits, StageSpec,
};
use crate::store::{RunId, timestamp_now};

/// Checked plugins by stage id.
type LoadedPlugins = BTreeMap<String, LoadedPlugin>;

/// What [`Session::load_plugins`] found.
#[derive(Default)]
struct CheckedPlugins {
    /// The plugins it loaded, by stage id.
    loaded: LoadedPlugins,
    /// Their pins, by stage id.
    pins: BTreeMap<String, PluginPin>,
    /// The stages the policy refuses; none of them was loaded.
    refusals: Vec<Refusal>,
}

/// A run whose pipeline is loaded and whose plugins are checked.
pub struct PreparedRun {
    pub record: RunRecord,
    pub(super) spec: PipelineSpec,
    plugins: LoadedPlugins,
    pub(super) key: Arc<PipelineKey>,
}

impl Session {
    /// Loads the pipeline, checks every plugin (pins, then the policy's
    /// trust and ceilings), pins the inputs and records the new run; nothing
    /// has run yet when this returns.
    ///
    /// # Errors
    ///
    /// Fails on a bad pipeline, a plugin that is missing, unpinned or not a
    /// stage component, a plugin the policy refuses (audited, as a run that
    /// never started), or a state directory that cannot be written.
    pub async fn prepare(
        &self,
        pipeline: &Path,
        initiator: &str,
    ) -> Result<PreparedRun, EngineError> {
        let spec = pipeline::load(pipeline)?;
        self.check_state_out_of_reach(&spec)?;
        let id = RunId::generate();
        self.check_confinement(&spec, &id)?;
        let checked = self.load_plugins(&spec).await?;
        let pins = Pins::compute(&spec, checked.pins)?;
        if !checked.refusals.is_empty() {
            let what = "run refused before any stage ran";
            let started = Some((initiator, &pins));
            return Err(self.refuse(&id, what, &spec, started, checked.refusals));
        }
        let plugins = checked.loaded;
        let key = Arc::new(self.pipeline_key(&spec)?);

        self.state.create_run_dir(&id)?;
        let now = timestamp_now();
        let record = RunRecord {
            id: id.clone(),
            pipeline: spec.name.clone(),
            pipeline_file: spec.display_path.clone(),
            initiator: initiator.to_owned(),
            created: now.clone(),
            updated: now,
            status: RunStatus::Running,
            failure: None,
            stages: spec
                .execution_order()
                .into_iter()
                .map(|s| pending_record(s, &pins))
                .collect(),
            pins,
            signer: Some(key.signer.clone()),
            attestation: None,
        };
        let pins_json = serde_json::to_value(&record.pins).unwrap_or_default();
        self.audit(
            &id,
            "run-start",
            json!({
                "pipeline": spec.name, "initiator": initiator, "pins": pins_json,
                "signing_key": key.signer,
            }),
        )?;
        self.save(&record)?;
        Ok(PreparedRun {
            record,
            spec,
            plugins,
            key,
        })
    }

    /// Runs every stage that is not yet done, in dependency order, until the
    /// run ends or reaches a review gate.
    ///
    /// # Errors
    ///
    /// Fails only when the run's state or audit trail cannot be written; a
    /// failing stage is a run that ends `failed`, not an error.
    pub async fn drive(
        &self,
        run: &mut PreparedRun,
        progress: &dyn Progress,
    ) -> Result<RunRecord, EngineError> {
        let order: Vec<StageSpec> = run.spec.execution_order().into_iter().cloned().collect();
        for stage in &order {
            let done = run
                .record
                .stage(stage.id.as_str())
                .is_some_and(|s| s.status.is_done());
            if done {
                continue;
            }
            let go_on = match &stage.kind {
                StageKind::Approval(gate) => self.reach_gate(run, stage, gate)?,
                StageKind::Plugin(_) => self.run_plugin_stage(run, stage, progress).await?,
            };
            if !go_on {
                return Ok(run.record.clone());
            }
        }
        self.attest(&mut run.record, &run.spec, &run.key)?;
        run.record.status = RunStatus::Succeeded;
        self.end_run(&mut run.record, &run.key)?;
        Ok(run.record.clone())
    }

    /// Reopens a run that stopped at a gate, was interrupted, or died, and
    /// checks that none of its pinned inputs changed.
    ///
    /// # Errors
    ///
    /// Fails when the run has ended, or an input changed.
    pub async fn reopen(&self, run: &RunId) -> Result<PreparedRun, EngineError> {
        let record = self.load_run(run)?;
        if !record.status.is_open() {
            return Err(EngineError::RunEnded {
                run: run.clone(),
                status: status_word(record.status),
            });
        }
        let spec = self.check_unchanged(&record, "resume")?;
        self.check_state_out_of_reach(&spec)?;
        self.check_confinement(&spec, run)?;
        self.check_trail_holds(&record)?;
        let checked = self.load_plugins(&spec).await?;
        if !checked.refusals.is_empty() {
            let what = format!("run {run} cannot go on");
            return Err(self.refuse(run, &what, &spec, None, checked.refusals));
        }
        let plugins = checked.loaded;
        let key = Arc::new(self.pipeline_key(&spec)?);
        self.check_same_key(run, record.signer.as_ref(), &key)?;
        self.audit(
            run,
            "run-resume",
            json!({ "status": status_word(record.status) }),
        )?;
        Ok(PreparedRun {
            record,
            spec,
            plugins,
            key,
        })
    }

    /// Loads the run's pipeline again and checks that no pinned input
    /// changed since the run started, and that the policy's `[trust]` still
    /// vouches for every plugin (`command` says who asks, for the record).
    ///
    /// # Errors
    ///
    /// [`EngineError::InputsChanged`] listing every change;
    /// [`EngineError::Refused`] (audited) when a signature no longer holds.
    pub(super) fn check_unchanged(
        &self,
        record: &RunRecord,
        command: &str,
    ) -> Result<PipelineSpec, EngineError> {
        let spec = pipeline::load(Path::new(&record.pins.pipeline.path))?;
        let policy = spec.policy.as_ref().map(|p| &p.rules);
        let mut plugin_pins = BTreeMap::new();
        let mut refusals = Vec::new();
        for stage in &spec.stages {
            let StageKind::Plugin(plugin_stage) = &stage.kind else {
                continue;
            };
            let (plugin, bytes) = plugins::plugin_bytes(&plugin_stage.plugin)?;
            let digest = crate::store::sha256_bytes(&bytes);
            let provenance = match trust::vouch_for(policy, &plugin_stage.plugin, &digest) {
                Ok(provenance) => provenance,
                Err(reason) => {
                    let id = stage.id.as_str();
                    refusals.push(Refusal::untrusted(id, &plugin, &digest, &reason));
                    continue;
                }
            };
            let pin = PluginPin {
                plugin,
                digest,
                provenance,
            };
            plugin_pins.insert(stage.id.to_string(), pin);
        }
        if !refusals.is_empty() {
            let what = format!("run {} cannot {command}", record.id);
            return Err(self.refuse(&record.id, &what, &spec, None, refusals));
        }
        let changes = record.pins.changes_to(&Pins::compute(&spec, plugin_pins)?);
        if !changes.is_empty() {
            return Err(EngineError::InputsChanged {
                run: record.id.clone(),
                changes,
            });
        }
        check_stage_records(record, &spec)?;
        Ok(spec)
    }

    /// Refuses a pipeline that grants a stage the state directory or the
    /// compiled-plugin cache, or a directory holding either: its plugin
    /// could forge run records and approvals, cut the audit trail, or plant
    /// native code the host runs.
    fn check_state_out_of_reach(&self, spec: &PipelineSpec) -> Result<(), EngineError> {
        let kept: Vec<PathBuf> = [self.state.root(), self.cache_dir.as_path()]
            .into_iter()
            .filter_map(|dir| std::fs::canonicalize(dir).ok())
            .collect();
        for stage in &spec.stages {
            let Some(plugin) = stage.plugin() else {
                continue;
            };
            for grant in plugin.grants.read.iter().chain(&plugin.grants.write) {
                let Some(host) = grant.host_path() else {
                    continue;
                };
                let overlap = |dir: &&PathBuf| host.starts_with(dir) || dir.starts_with(host);
                if let Some(dir) = kept.iter().find(overlap) {
                    return Err(EngineError::GrantReachesState {
                        stage: stage.id.to_string(),
                        grant: grant.as_written(),
                        dir: dir.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Records that the process was stopped while driving `run`: the
    /// running stage and the run become `interrupted`.
    ///
    /// # Errors
    ///
    /// Fails when the record or audit log cannot be written.
    pub fn record_interruption(&self, run: &RunId, signal: &str) -> Result<RunRecord, EngineError> {
        let mut record = self.load_run(run)?;
        let mut stage = None;
        for s in record
            .stages
            .iter_mut()
            .filter(|s| s.status == StageStatus::Running)
        {
            s.status = StageStatus::Interrupted;
            s.finished = Some(timestamp_now());
            stage = Some(s.id.clone());
        }
        record.status = RunStatus::Interrupted;
        record.updated = timestamp_now();
        self.audit(
            run,
            "run-interrupted",
            json!({ "stage": stage, "signal": signal }),
        )?;
        self.save(&record)?;
        Ok(record)
    }

    /// Loads every plugin and checks it: its pin, then the policy's trust
    /// (before it is compiled), its kind and its ceiling. Returns the loaded
    /// plugins and their pins, and every stage the policy refuses.
    async fn load_plugins(&self, spec: &PipelineSpec) -> Result<CheckedPlugins, EngineError> {
        let policy = spec.policy.as_ref().map(|p| &p.rules);
        let mut checked = CheckedPlugins::default();
        for stage in &spec.stages {
            let StageKind::Plugin(plugin_stage) = &stage.kind else {
                if spec.roles.is_none() {
                    return Err(EngineError::NoRoles {
                        stage: stage.id.to_string(),
                    });
                }
                continue;
            };
            let id = stage.id.to_string();
            match self.check_plugin(policy, &id, plugin_stage).await? {
                Ok((plugin, pin)) => {
                    checked.pins.insert(id.clone(), pin);
                    checked.loaded.insert(id, plugin);
                }
                Err(refusal) => checked.refusals.push(refusal),
            }
        }
        Ok(checked)
    }

    /// Loads one stage's plugin and checks it: the outer error is a plugin
    /// that cannot be used at all, the inner one the policy's refusal.
    async fn check_plugin(
        &self,
        policy: Option<&Policy>,
        id: &str,
        stage: &PluginStage,
    ) -> Result<Result<(LoadedPlugin, PluginPin), Refusal>, EngineError> {
        let (label, bytes) = plugins::plugin_bytes(&stage.plugin)?;
        let digest = crate::store::sha256_bytes(&bytes);
        let refuse = |reason: TrustRefusal| Refusal::untrusted(id, &label, &digest, &reason);
        // Trust first: an untrusted plugin is not even compiled.
        let mut provenance = match trust::vouch_for(policy, &stage.plugin, &digest) {
            Ok(provenance) => provenance,
            Err(reason) => return Ok(Err(refuse(reason))),
        };
        let plugin = self.host()?.load(&label, &bytes)?;
        if let PluginSource::Path { .. } = stage.plugin {
            let described = self.describe_kind(&plugin).await;
            if let Err(reason) = trust::settle_kind(&mut provenance, described, policy) {
                return Ok(Err(refuse(reason)));
            }
        }
        let excess = trust::excess_for(policy, provenance.kind, stage);
        if let (false, Some(kind)) = (excess.is_empty(), provenance.kind) {
            let refusal = Refusal::beyond_ceiling(id, &label, &digest, kind, excess);
            return Ok(Err(refusal));
        }
        let pin = PluginPin {
            plugin: label,
            digest,
            provenance,
        };
        Ok(Ok((plugin, pin)))
    }

    /// The kind a plugin says it is, or why `describe` failed.
    async fn describe_kind(&self, plugin: &LoadedPlugin) -> Result<PluginKind, String> {
        let events = Arc::new(DescribeEvents);
        match self
            .host()
            .map_err(|e| e.to_string())?
            .describe(plugin, events)
            .await
        {
            Ok(info) => Ok(trust::described_kind(info.kind)),
            Err(fault) => Err(fault.to_string()),
        }
    }

    /// Audits the policy's refusal of `refusals` under run `run` and returns
    /// the error that reports it.
    fn refuse(
        &self,
        run: &RunId,
        what: &str,
        spec: &PipelineSpec,
        started: Option<(&str, &Pins)>,
        refusals: Vec<Refusal>,
    ) -> EngineError {
        let policy = spec.policy.as_ref();
        let mut fields = json!({
            "pipeline": spec.name,
            "policy": policy.map(|p| json!({ "id": p.id, "version": p.version })),
            "refusals": refusals,
        });
        if let Some((initiator, pins)) = started {
            fields["initiator"] = json!(initiator);
            fields["pins"] = serde_json::to_value(pins).unwrap_or_default();
        }
        if let Err(error) = self.audit(run, "run-refused", fields) {
            return error;
        }
        EngineError::Refused {
            what: what.to_owned(),
            policy: policy.map(|p| p.id.clone()).unwrap_or_default(),
            run: run.clone(),
            refusals,
        }
    }

    async fn run_plugin_stage(
        &self,
        run: &mut PreparedRun,
        stage: &StageSpec,
        progress: &dyn Progress,
    ) -> Result<bool, EngineError> {
        let StageKind::Plugin(plugin_stage) = &stage.kind else {
            return Ok(true);
        };
        let id = stage.id.to_string();
        let plugin = run.plugins[&id].clone();
        let stage_dir = self.state.stage_dir(&run.record.id, &id);
        let dirs = self.stage_dirs(run, stage, &stage_dir)?;
        let sandbox = sandbox::sandbox_for(&run.spec, plugin_stage, &dirs);
        let limits = host_limits(&plugin_stage.limits);
        let upstream = sandbox::upstream_plugin_stages(&run.spec, stage);
        let input = stage_input(&run.spec, &run.record, stage, &upstream);
        self.start_stage(run, &id, &plugin, plugin_stage, progress)?;

        let mut recorder = StageRecorder::new(
            run.record.id.as_str(),
            &id,
            &plugin.label,
            self.audit.clone(),
            &stage_dir.join("log.jsonl"),
        );
        let kind = run
            .record
            .pins
            .plugins
            .get(&id)
            .and_then(|p| p.provenance.kind);
        if kind == Some(crate::pipeline::PluginKind::Ato) {
            recorder = recorder.allow_signing(run.key.clone());
        }
        let recorder = Arc::new(recorder);
        if let Some((support, line)) = confinement::stage_confinement(plugin_stage) {
            recorder.host_note(support.confined(), &line);
        }
        let started = Instant::now();
        let (result, stdio) = self
            .host()?
            .run_stage(&plugin, &sandbox, limits, &input, recorder.clone())
            .await;
        keep_stdio(&stage_dir, &stdio);
        if let Err(fault) = &result {
            self.audit_limit_exceeded(&run.record.id, &id, &plugin, fault)?;
        }
        // What programs left in their `TMPDIR` is not part of the record.
        let _ = std::fs::remove_dir_all(&dirs.tmp);
        if let Some(failure) = recorder.audit_failure() {
            return Err(EngineError::AuditLost { message: failure });
        }

        let record = stage_mut(&mut run.record, &id);
        let failure = settle_stage(record, &dirs.out, result);
        record.finished = Some(timestamp_now());
        record.duration_ms = Some(started.elapsed().as_millis() as u64);
        let promoted = matches!(
            plugin_stage.plugin,
            PluginSource::Builtin(BuiltinPlugin::Promote)
        );
        self.finish_stage(run, &id, promoted, failure, progress)
    }

    /// The stage's fresh `out/`, and the canonical directories it is shown
    /// (every directory a sandbox preopens must be canonical).
    fn stage_dirs(
        &self,
        run: &PreparedRun,
        stage: &StageSpec,
        stage_dir: &Path,
    ) -> Result<StageDirs, EngineError> {
        let upstream = sandbox::upstream_plugin_stages(&run.spec, stage)
            .iter()
            .map(|s| {
                let id = s.id.to_string();
                let dir = canonical(&self.state.stage_dir(&run.record.id, &id).join("out"))?;
                Ok((id, dir))
            })
            .collect::<Result<_, EngineError>>()?;
        Ok(StageDirs {
            out: fresh_stage_dir(stage_dir)?,
            upstream,
            registry: canonical(&self.state.registry_dir())?,
            tmp: fresh_tmp_dir(stage_dir)?,
        })
    }

    /// Marks the stage running and records its plugin, grants and limits.
    fn start_stage(
        &self,
        run: &mut PreparedRun,
        id: &str,
        plugin: &LoadedPlugin,
        plugin_stage: &PluginStage,
        progress: &dyn Progress,
    ) -> Result<(), EngineError> {
        let record = stage_mut(&mut run.record, id);
        record.status = StageStatus::Running;
        record.started = Some(timestamp_now());
        let grants = serde_json::to_value(&plugin_stage.grants).unwrap_or_default();
        let provenance = run
            .record
            .pins
            .plugins
            .get(id)
            .map(|pin| pin.provenance.clone())
            .unwrap_or_default();
        let mut fields = json!({
            "stage": id,
            "plugin": plugin.label,
            "plugin_digest": plugin.digest,
            "plugin_signer": provenance.signer,
            "plugin_kind": provenance.kind,
            "grants": grants,
            "limits": plugin_stage.limits,
        });
        // The rules the stage is handed, by digest: the suppressions and
        // licence policy a scan applied can be told from the trail alone.
        if let Some(policy) = run
            .spec
            .policy
            .as_ref()
            .filter(|p| has_stage_rules(&p.rules))
        {
            let digest = sha2::Sha256::digest(policy.rules.rules_json().as_bytes());
            fields["policy_rules"] = json!(format!("sha256:{}", hex::encode(digest)));
        }
        if let Some((support, line)) = confinement::stage_confinement(plugin_stage) {
            fields["exec_confinement"] = json!({
                "confined": support.confined(),
                "landlock_abi": support.landlock_abi,
                "summary": line,
            });
        }
        self.audit(&run.record.id, "stage-start", fields)?;
        self.save(&run.record)?;
        progress.stage_started(&run.record, stage_ref(&run.record, id));
        Ok(())
    }

    /// Records the stage's end (and a promotion), the chain head after it,
    /// and ends the run when the stage failed. Returns whether the run goes
    /// on.
    fn finish_stage(
        &self,
        run: &mut PreparedRun,
        id: &str,
        promoted: bool,
        failure: Option<Failure>,
        progress: &dyn Progress,
    ) -> Result<bool, EngineError> {
        let run_id = run.record.id.clone();
        let record = stage_ref(&run.record, id);
        self.audit_stage_end(&run_id, record)?;
        if promoted && record.status == StageStatus::Passed {
            let facts = json!({ "stage": id, "facts": record.metadata });
            self.audit(&run_id, "promotion", facts)?;
        }
        let head = self
            .audit
            .lock()
            .map_err(|_| EngineError::Poisoned)?
            .head()
            .to_owned();
        stage_mut(&mut run.record, id).audit_head = Some(head);
        self.save(&run.record)?;
        progress.stage_finished(&run.record, stage_ref(&run.record, id));

        let Some(failure) = failure else {
            return Ok(true);
        };
        run.record.status = RunStatus::Failed;
        run.record.failure = Some(failure);
        self.end_run(&mut run.record, &run.key)?;
        Ok(false)
    }

    /// Records which limit a stage crossed, when its fault was one.
    fn audit_limit_exceeded(
        &self,
        run: &RunId,
        stage: &str,
        plugin: &LoadedPlugin,
        fault: &StageFault,
    ) -> Result<(), EngineError> {
        let Some(limit) = fault.limit() else {
            return Ok(());
        };
        let fields = json!({
            "stage": stage,
            "plugin": plugin.label,
            "limit": limit,
            "message": fault.to_string(),
        });
        self.audit(run, "limit-exceeded", fields)?;
        Ok(())
    }

    fn audit_stage_end(&self, run: &RunId, record: &StageRecord) -> Result<(), EngineError> {
        let artifacts: Vec<_> = record
            .artifacts
            .iter()
            .map(|a| json!({ "name": a.name, "path": a.path, "digest": a.digest }))
            .collect();
        let mut fields = json!({
            "stage": record.id,
            "status": record.status,
            "verdict": record.verdict,
            "reason": record.reason,
            "duration_ms": record.duration_ms,
            "output_digest": record.output_digest,
            "artifacts": artifacts,
            "findings": record.findings.len(),
        });
        if let Some(db) = vulnerability_db(record) {
            fields["vulnerability_db"] = db;
        }
        self.audit(run, "stage-end", fields)?;
        Ok(())
    }

    /// Records the run's end, then a signed checkpoint of the log.
    pub(super) fn end_run(
        &self,
        record: &mut RunRecord,
        key: &PipelineKey,
    ) -> Result<(), EngineError> {
        record.updated = timestamp_now();
        if record.status == RunStatus::Failed {
            for stage in &mut record.stages {
                if stage.status == StageStatus::Pending {
                    stage.status = StageStatus::Skipped;
                }
            }
        }
        let failure = serde_json::to_value(&record.failure).unwrap_or_default();
        self.audit(
            &record.id,
            "run-end",
            json!({ "status": record.status, "failure": failure }),
        )?;
        // A run started before pipeline keys has none to sign with.
        if record.signer.is_some() {
            self.checkpoint(&record.id, key, "run-end")?;
        }
        self.save(record)
    }
}

/// The advisory database a scan stage matched against, from its
/// `db-digest`, `db-snapshot` and `db-index-digest` metadata; none for
/// other stages.
fn vulnerability_db(record: &StageRecord) -> Option<serde_json::Value> {
    let digest = record.metadata.get("db-digest")?;
    let snapshot = record.metadata.get("db-snapshot");
    let mut db = json!({ "digest": digest, "snapshot": snapshot });
    if let Some(index) = record.metadata.get("db-index-digest") {
        db["index"] = json!(index);
    }
    Some(db)
}

/// The host's view of a stage's limits.
fn host_limits(limits: &StageLimits) -> Limits {
    Limits {
        memory: limits.memory,
        timeout: limits.timeout,
        cpu: limits.cpu,
        output: limits.output,
        out_bytes: limits.out_bytes,
        log_lines: limits.log_lines,
        log_rate: limits.log_rate,
        handles: limits.handles,
    }
}

/// Applies a stage's result to its record; returns the run's failure, if
/// the stage ends it.
fn settle_stage(
    record: &mut StageRecord,
    out: &Path,
    result: Result<StageResult, StageFault>,
) -> Option<Failure> {
    let fail = |record: &mut StageRecord, status, kind, message: String| {
        record.status = status;
        record.reason = Some(message.clone());
        Some(Failure {
            kind,
            stage: record.id.clone(),
            message,
        })
    };
    let output = match result {
        Err(fault) => {
            return fail(
                record,
                StageStatus::Faulted,
                FailureKind::PluginFault,
                sandbox::printable(&fault.to_string()),
            );
        }
        Ok(Err(error)) => {
            let (kind, message) = stage_error(error);
            return fail(record, StageStatus::Failed, kind, message);
        }
        Ok(Ok(output)) => output,
    };
    let (artifacts, digest) = match sandbox::check_output(out, &output) {
        Ok(checked) => checked,
        Err(why) => {
            // `why` quotes what the plugin returned.
            let message =
                sandbox::printable(&format!("the plugin returned malformed output: {why}"));
            return fail(
                record,
                StageStatus::Faulted,
                FailureKind::PluginFault,
                message,
            );
        }
    };
    record.artifacts = artifacts;
    record.output_digest = Some(digest);
    record.findings = output
        .findings
        .iter()
        .map(sandbox::finding_record)
        .collect();
    record.metadata = output.metadata.into_iter().collect();
    record.summary = Some(sandbox::one_line(&output.summary));
    match output.verdict {
        Verdict::Pass => pass(record, "pass", None),
        Verdict::NeedsReview(reason) => {
            pass(record, "needs-review", Some(sandbox::printable(&reason)))
        }
        Verdict::Fail(reason) => {
            record.verdict = Some("fail".into());
            fail(
                record,
                StageStatus::Failed,
                FailureKind::StageFailed,
                sandbox::printable(&reason),
            )
        }
    }
}

fn pass(record: &mut StageRecord, verdict: &str, reason: Option<String>) -> Option<Failure> {
    record.status = StageStatus::Passed;
    record.verdict = Some(verdict.into());
    record.reason = reason;
    None
}

fn stage_error(error: StageError) -> (FailureKind, String) {
    let (kind, message) = match error {
        StageError::InvalidConfig(m) => {
            (FailureKind::Configuration, format!("invalid config: {m}"))
        }
        StageError::MissingInput(m) => (FailureKind::StageFailed, format!("missing input: {m}")),
        StageError::Internal(m) => (FailureKind::StageFailed, format!("stage error: {m}")),
    };
    (kind, sandbox::printable(&message))
}

fn stage_input(
    spec: &PipelineSpec,
    record: &RunRecord,
    stage: &StageSpec,
    upstream: &[&StageSpec],
) -> StageInput {
    let StageKind::Plugin(plugin_stage) = &stage.kind else {
        unreachable!("only plugin stages take input");
    };
    let artifacts = upstream
        .iter()
        .filter_map(|s| record.stage(s.id.as_str()))
        .flat_map(|s| {
            s.artifacts.iter().map(|a| InputArtifact {
                stage: s.id.clone(),
                name: a.name.clone(),
                media_type: a.media_type.clone(),
                path: format!("/in/{}/{}", s.id, a.path),
                digest: a.digest.clone(),
            })
        })
        .collect();
    let (policy_id, policy_version, policy_rules) = spec
        .policy
        .as_ref()
        .map(|p| (p.id.clone(), p.version.clone(), p.rules.rules_json()))
        .unwrap_or_else(|| (String::new(), String::new(), "{}".to_owned()));
    StageInput {
        run_id: record.id.to_string(),
        stage_id: stage.id.to_string(),
        config: plugin_stage.config.to_string(),
        policy_id,
        policy_version,
        policy_rules,
        artifacts,
    }
}

/// Whether the policy has rules for stages (`policy-rules` is not `{}`).
fn has_stage_rules(policy: &crate::pipeline::Policy) -> bool {
    !policy.suppressions.is_empty() || policy.licences.is_some()
}

fn pending_record(stage: &StageSpec, pins: &Pins) -> StageRecord {
    let pin = pins.plugins.get(stage.id.as_str());
    let plugin = pin.map_or_else(|| "approval".to_owned(), |p| p.plugin.clone());
    StageRecord::pending(stage.id.as_str(), plugin, pin.map(|p| p.digest.clone()))
}

/// Empties a stage's directory (left over from an interrupted attempt) and
/// returns its new, canonical `out/`.
///
/// Whatever an earlier attempt left is removed first, symlinks included
/// (never followed): the log and output files written here would otherwise
/// be written through a link planted in the state dir.
fn fresh_stage_dir(stage_dir: &Path) -> Result<PathBuf, EngineError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| EngineError::Io { path, source }
    };
    let stages = stage_dir.parent().unwrap_or(stage_dir);
    if std::fs::symlink_metadata(stages).is_ok_and(|meta| meta.is_symlink()) {
        let planted = std::io::Error::other("it is a symlink, which gantry never makes");
        return Err(io(stages)(planted));
    }
    match std::fs::symlink_metadata(stage_dir) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(stage_dir).map_err(io(stage_dir))?,
        Ok(_) => std::fs::remove_file(stage_dir).map_err(io(stage_dir))?,
        Err(_) => {}
    }
    let out = stage_dir.join("out");
    std::fs::create_dir_all(&out).map_err(io(&out))?;
    std::fs::canonicalize(&out).map_err(io(&out))
}

/// The stage's empty `tmp/`, beside the `out/` that [`fresh_stage_dir`]
/// just made; programs the stage runs use it as `TMPDIR`.
fn fresh_tmp_dir(stage_dir: &Path) -> Result<PathBuf, EngineError> {
    use std::os::unix::fs::DirBuilderExt;

    let tmp = stage_dir.join("tmp");
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&tmp)
        .map_err(|source| EngineError::Io {
            path: tmp.clone(),
            source,
        })?;
    canonical(&tmp)
}

/// The canonical form of a directory the host made.
fn canonical(dir: &Path) -> Result<PathBuf, EngineError> {
    std::fs::canonicalize(dir).map_err(|source| EngineError::Io {
        path: dir.to_owned(),
        source,
    })
}

/// Checks that a run's record has one stage record per stage of its
/// pipeline, in execution order, as [`Session::prepare`] wrote it; the
/// engine relies on finding each.
fn check_stage_records(record: &RunRecord, spec: &PipelineSpec) -> Result<(), EngineError> {
    let expected: Vec<&str> = spec
        .execution_order()
        .into_iter()
        .map(|s| s.id.as_str())
        .collect();
    let recorded: Vec<&str> = record.stages.iter().map(|s| s.id.as_str()).collect();
    if recorded == expected {
        return Ok(());
    }
    Err(EngineError::DamagedRecord {
        run: record.id.clone(),
        problem: format!("it lists stages {recorded:?}, but its pipeline has {expected:?}"),
    })
}

/// Keeps what the plugin printed beside its log, when it printed anything.
fn keep_stdio(stage_dir: &Path, stdio: &crate::host::Stdio) {
    for (name, bytes) in [("stdout.txt", &stdio.stdout), ("stderr.txt", &stdio.stderr)] {
        if !bytes.is_empty()
            && let Err(e) = std::fs::write(stage_dir.join(name), bytes)
        {
            tracing::warn!(path = %stage_dir.join(name).display(), "failed to keep output: {e}");
        }
    }
}

fn stage_mut<'a>(record: &'a mut RunRecord, id: &str) -> &'a mut StageRecord {
    record
        .stage_mut(id)
        .expect("every stage of the pipeline has a record")
}

fn stage_ref<'a>(record: &'a RunRecord, id: &str) -> &'a StageRecord {
    record
        .stage(id)
        .expect("every stage of the pipeline has a record")
}

/// A status as the word the CLI and JSON use.
pub fn status_word<T: serde::Serialize>(status: T) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}
