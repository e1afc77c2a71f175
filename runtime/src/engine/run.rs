//! Starting, driving and resuming runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;

use super::confinement;
use super::events::StageRecorder;
use super::pins::{Pins, PluginPin};
use super::record::{Failure, FailureKind, RunRecord, RunStatus, StageRecord, StageStatus};
use super::sandbox::{self, StageDirs};
use super::{EngineError, Progress, Session, plugins};
use crate::host::bindings::types::{InputArtifact, StageError, StageInput, Verdict};
use crate::host::{Limits, LoadedPlugin, StageFault, StageResult};
use crate::pipeline::{
    self, BuiltinPlugin, PipelineSpec, PluginSource, PluginStage, StageKind, StageSpec,
};
use crate::store::{RunId, timestamp_now};

/// Checked plugins by stage id.
type LoadedPlugins = BTreeMap<String, LoadedPlugin>;

/// A run whose pipeline is loaded and whose plugins are checked.
pub struct PreparedRun {
    pub record: RunRecord,
    spec: PipelineSpec,
    plugins: LoadedPlugins,
}

impl Session {
    /// Loads the pipeline, checks every plugin, pins the inputs and records
    /// the new run; nothing has run yet when this returns.
    ///
    /// # Errors
    ///
    /// Fails on a bad pipeline, a plugin that is missing, unpinned or not a
    /// stage component, or a state directory that cannot be written.
    pub fn prepare(&self, pipeline: &Path, initiator: &str) -> Result<PreparedRun, EngineError> {
        let spec = pipeline::load(pipeline)?;
        self.check_state_out_of_reach(&spec)?;
        let (plugins, plugin_pins) = self.load_plugins(&spec)?;
        let pins = Pins::compute(&spec, plugin_pins)?;

        let id = RunId::generate();
        self.check_confinement(&spec, &id)?;
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
        };
        let pins_json = serde_json::to_value(&record.pins).unwrap_or_default();
        self.audit(
            &id,
            "run-start",
            json!({ "pipeline": spec.name, "initiator": initiator, "pins": pins_json }),
        )?;
        self.save(&record)?;
        Ok(PreparedRun {
            record,
            spec,
            plugins,
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
        run.record.status = RunStatus::Succeeded;
        self.end_run(&mut run.record)?;
        Ok(run.record.clone())
    }

    /// Reopens a run that stopped at a gate, was interrupted, or died, and
    /// checks that none of its pinned inputs changed.
    ///
    /// # Errors
    ///
    /// Fails when the run has ended, or an input changed.
    pub fn reopen(&self, run: &RunId) -> Result<PreparedRun, EngineError> {
        let record = self.load_run(run)?;
        if !record.status.is_open() {
            return Err(EngineError::RunEnded {
                run: run.clone(),
                status: status_word(record.status),
            });
        }
        let spec = self.check_unchanged(&record)?;
        self.check_state_out_of_reach(&spec)?;
        self.check_confinement(&spec, run)?;
        self.check_trail_holds(&record)?;
        let (plugins, _) = self.load_plugins(&spec)?;
        self.audit(
            run,
            "run-resume",
            json!({ "status": status_word(record.status) }),
        )?;
        Ok(PreparedRun {
            record,
            spec,
            plugins,
        })
    }

    /// Loads the run's pipeline again and checks that no pinned input
    /// changed since the run started.
    ///
    /// # Errors
    ///
    /// [`EngineError::InputsChanged`] listing every change.
    pub(super) fn check_unchanged(&self, record: &RunRecord) -> Result<PipelineSpec, EngineError> {
        let spec = pipeline::load(Path::new(&record.pins.pipeline.path))?;
        let mut plugin_pins = BTreeMap::new();
        for stage in &spec.stages {
            if let StageKind::Plugin(plugin_stage) = &stage.kind {
                let (plugin, bytes) = plugins::plugin_bytes(&plugin_stage.plugin)?;
                let digest = crate::store::sha256_bytes(&bytes);
                plugin_pins.insert(stage.id.to_string(), PluginPin { plugin, digest });
            }
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

    fn load_plugins(
        &self,
        spec: &PipelineSpec,
    ) -> Result<(LoadedPlugins, BTreeMap<String, PluginPin>), EngineError> {
        let mut loaded = BTreeMap::new();
        let mut pins = BTreeMap::new();
        for stage in &spec.stages {
            let StageKind::Plugin(plugin_stage) = &stage.kind else {
                if spec.roles.is_none() {
                    return Err(EngineError::NoRoles {
                        stage: stage.id.to_string(),
                    });
                }
                continue;
            };
            let (label, bytes) = plugins::plugin_bytes(&plugin_stage.plugin)?;
            let plugin = self.host()?.load(&label, &bytes)?;
            let pin = PluginPin {
                plugin: label,
                digest: plugin.digest.clone(),
            };
            pins.insert(stage.id.to_string(), pin);
            loaded.insert(stage.id.to_string(), plugin);
        }
        Ok((loaded, pins))
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
        let limits = Limits {
            memory: plugin_stage.limits.memory,
            timeout: plugin_stage.limits.timeout,
        };
        let upstream = sandbox::upstream_plugin_stages(&run.spec, stage);
        let input = stage_input(&run.spec, &run.record, stage, &upstream);
        self.start_stage(run, &id, &plugin, plugin_stage, limits, progress)?;

        let recorder = Arc::new(StageRecorder::new(
            run.record.id.as_str(),
            &id,
            &plugin.label,
            self.audit.clone(),
            &stage_dir.join("log.jsonl"),
        ));
        if let Some((support, line)) = confinement::stage_confinement(plugin_stage) {
            recorder.host_note(support.confined(), &line);
        }
        let started = Instant::now();
        let (result, stdio) = self
            .host()?
            .run_stage(&plugin, &sandbox, limits, &input, recorder.clone())
            .await;
        keep_stdio(&stage_dir, &stdio);
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
        limits: Limits,
        progress: &dyn Progress,
    ) -> Result<(), EngineError> {
        let record = stage_mut(&mut run.record, id);
        record.status = StageStatus::Running;
        record.started = Some(timestamp_now());
        let grants = serde_json::to_value(&plugin_stage.grants).unwrap_or_default();
        let mut fields = json!({
            "stage": id,
            "plugin": plugin.label,
            "plugin_digest": plugin.digest,
            "grants": grants,
            "limits": { "memory": limits.memory, "timeout_ms": limits.timeout.as_millis() as u64 },
        });
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
        self.end_run(&mut run.record)?;
        Ok(false)
    }

    fn audit_stage_end(&self, run: &RunId, record: &StageRecord) -> Result<(), EngineError> {
        let artifacts: Vec<_> = record
            .artifacts
            .iter()
            .map(|a| json!({ "name": a.name, "path": a.path, "digest": a.digest }))
            .collect();
        self.audit(
            run,
            "stage-end",
            json!({
                "stage": record.id,
                "status": record.status,
                "verdict": record.verdict,
                "reason": record.reason,
                "duration_ms": record.duration_ms,
                "output_digest": record.output_digest,
                "artifacts": artifacts,
                "findings": record.findings.len(),
            }),
        )?;
        Ok(())
    }

    pub(super) fn end_run(&self, record: &mut RunRecord) -> Result<(), EngineError> {
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
        self.save(record)
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
    let (policy_id, policy_version) = spec
        .policy
        .as_ref()
        .map(|p| (p.id.clone(), p.version.clone()))
        .unwrap_or_default();
    StageInput {
        run_id: record.id.to_string(),
        stage_id: stage.id.to_string(),
        config: plugin_stage.config.to_string(),
        policy_id,
        policy_version,
        artifacts,
    }
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
