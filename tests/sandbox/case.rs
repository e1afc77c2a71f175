//! One hostile case on the host's side: its state directory, its scratch
//! pipeline and workspace with a secret beside it, and the assertions the
//! sandbox tests share.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};
use serde_json::Value;

use super::files::{Node, changed_paths, regular_files, snapshot};
use crate::support::{Gantry, Ran, Scratch, one_stage_pipeline, stage, test_plugin};

/// One hostile stage: its own state directory, and a scratch directory
/// holding the pipeline, the workspace `ws/` and `secret` beside it, which
/// `/workspace/../secret` would name if `..` left the workspace.
pub(crate) struct Case {
    pub(crate) gantry: Gantry,
    pub(crate) scratch: Scratch,
    /// The secret file's contents, unique to this case.
    pub(crate) secret: String,
}

impl Case {
    /// Writes the secret and a one-stage pipeline running the hostile
    /// plugin `name`; `stage_extra` gets the secret's host path and returns
    /// the stage's grants, limits and config.
    pub(crate) fn new(name: &str, stage_extra: impl FnOnce(&str) -> String) -> Result<Case> {
        let scratch = Scratch::new("")?;
        let secret_path = scratch.path().join("secret");
        let secret = format!("gantry-test-secret-{}", unique_suffix(scratch.path()));
        fs::write(&secret_path, &secret)?;
        let extra = stage_extra(&secret_path.display().to_string());
        scratch.write(
            "pipeline.toml",
            &one_stage_pipeline(&test_plugin(name), &extra),
        )?;
        Ok(Case {
            gantry: Gantry::new()?,
            scratch,
            secret,
        })
    }

    /// Writes `text` to `relative` inside the workspace, making parents.
    pub(crate) fn workspace_file(&self, relative: &str, text: &str) -> Result<()> {
        let path = self.scratch.workspace().join(relative);
        fs::create_dir_all(path.parent().context("a file has a parent")?)?;
        Ok(fs::write(path, text)?)
    }

    /// `gantry --json run` on the pipeline, with extra environment.
    pub(crate) fn run_with_env(&self, env: &[(&str, &str)]) -> Result<Ran> {
        let mut command = self
            .gantry
            .command(&["--json", "run", &self.scratch.pipeline()]);
        command.envs(env.iter().copied());
        let output = command.output().context("failed to run gantry")?;
        Ok(Ran {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }

    pub(crate) fn run(&self) -> Result<Ran> {
        self.run_with_env(&[])
    }

    /// The stage's record in the only run's `run.json`.
    pub(crate) fn stage_record(&self) -> Result<Value> {
        let record = self.gantry.run_record(&self.gantry.only_run()?)?;
        Ok(stage(&record, "probe")?.clone())
    }

    /// The stage's `runs/<run>/stages/probe` directory on the host.
    pub(crate) fn stage_dir(&self) -> Result<PathBuf> {
        let run = self.gantry.only_run()?;
        Ok(self.gantry.run_dir(&run).join("stages").join("probe"))
    }

    /// Asserts that the secret's contents appear nowhere gantry wrote: its
    /// output, and every file of the state directory and the workspace.
    pub(crate) fn assert_secret_unread(&self, ran: &Ran) -> Result<()> {
        ensure!(
            !ran.stdout.contains(&self.secret),
            "secret in stdout:\n{}",
            ran.stdout
        );
        ensure!(
            !ran.stderr.contains(&self.secret),
            "secret in stderr:\n{}",
            ran.stderr
        );
        let mut files = regular_files(self.gantry.state_dir())?;
        ensure!(
            files.iter().any(|f| f.ends_with("run.json")),
            "no run record to search in {files:?}"
        );
        files.extend(regular_files(&self.scratch.workspace())?);
        for file in files {
            let bytes = fs::read(&file)?;
            let found = bytes
                .windows(self.secret.len())
                .any(|w| w == self.secret.as_bytes());
            ensure!(!found, "the secret leaked into `{}`", file.display());
        }
        Ok(())
    }
}

/// Asserts the stage ran to the end with `pass` and that every attempt in
/// its metadata was refused or allowed as it must be; returns the metadata.
pub(crate) fn assert_sandbox_held(case: &Case, ran: &Ran) -> Result<BTreeMap<String, String>> {
    ensure!(ran.code == 0, "expected exit 0: {ran:?}");
    let record = case.stage_record()?;
    ensure!(record["verdict"] == "pass", "verdict: {record:#}");
    let metadata = metadata(&record)?;
    for (key, value) in &metadata {
        let fine = value.starts_with("refused: ") || value.starts_with("allowed: ");
        ensure!(fine, "{key} = {value}");
    }
    Ok(metadata)
}

/// The stage record's metadata, as strings.
fn metadata(record: &Value) -> Result<BTreeMap<String, String>> {
    let map = record["metadata"].as_object().context("metadata")?;
    Ok(map
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect())
}

/// Asserts that `metadata` has `attempt.<label>` for each label, its value
/// starting with `prefix`: the plugin really made each attempt.
pub(crate) fn assert_attempts(
    metadata: &BTreeMap<String, String>,
    prefix: &str,
    labels: &[&str],
) -> Result<()> {
    for label in labels {
        let value = metadata
            .get(&format!("attempt.{label}"))
            .with_context(|| format!("no attempt `{label}` in {metadata:#?}"))?;
        ensure!(value.starts_with(prefix), "{label}: {value}");
    }
    Ok(())
}

/// Asserts that nothing under `root` changed since `before` was taken.
pub(crate) fn assert_unchanged(root: &Path, before: &BTreeMap<PathBuf, Node>) -> Result<()> {
    let changed = changed_paths(before, &snapshot(root)?);
    ensure!(
        changed.is_empty(),
        "changed under `{}`: {changed:?}",
        root.display()
    );
    Ok(())
}

/// Asserts the run stopped as a plugin fault: exit 3, the stage `faulted`,
/// and `message` both on stderr and as the stage's reason.
pub(crate) fn assert_fault(case: &Case, ran: &Ran, message: &str) -> Result<Value> {
    ensure!(ran.code == 3, "expected exit 3 for a plugin fault: {ran:?}");
    ensure!(
        ran.stderr.contains(message),
        "stderr lacks `{message}`:\n{}",
        ran.stderr
    );
    let record = case.stage_record()?;
    ensure!(record["status"] == "faulted", "{record:#}");
    let reason = record["reason"].as_str().unwrap_or_default();
    ensure!(
        reason.contains(message),
        "reason lacks `{message}`: {reason}"
    );
    Ok(record)
}

/// Runs a passing stage in `gantry`'s state directory after a faulted
/// run, and checks it is unaffected: it passes, the faulted run's record
/// is as it was, and the trail verifies across both runs.
pub(crate) fn assert_next_run_unaffected(gantry: &Gantry) -> Result<()> {
    let before = gantry.only_run()?;
    let faulted = gantry.run_record(&before)?;
    let scratch = Scratch::new(&one_stage_pipeline(&test_plugin("env-sniff"), ""))?;
    let ran = gantry.run(&["--json", "run", &scratch.pipeline()])?;
    ensure!(ran.code == 0, "the next run failed: {ran:?}");
    ensure!(ran.json()?["status"] == "succeeded", "{}", ran.stdout);
    ensure!(
        gantry.run_record(&before)? == faulted,
        "the faulted run's record changed"
    );
    gantry.assert_audit_intact()
}

/// Asserts one `denied` audit event per program in `asked`, naming the
/// capability, the program and the grant that would allow it.
pub(crate) fn assert_denials_audited(case: &Case, asked: &[&str]) -> Result<()> {
    let events = case.gantry.audit_events_of(&case.gantry.only_run()?)?;
    let denials: Vec<&Value> = events.iter().filter(|e| e["event"] == "denied").collect();
    ensure!(denials.len() == asked.len(), "denials: {denials:#?}");
    for program in asked {
        let denial = denials
            .iter()
            .find(|e| e["asked"] == *program)
            .with_context(|| format!("no denial of `{program}` in {denials:#?}"))?;
        ensure!(denial["capability"] == "exec", "{denial:#}");
        ensure!(denial["stage"] == "probe", "{denial:#}");
        let grant = format!("exec = [\"{program}\"]");
        ensure!(denial["missing_grant"] == grant.as_str(), "{denial:#}");
    }
    Ok(())
}

/// How many programs the run's audit trail says were run.
pub(crate) fn exec_events(case: &Case) -> Result<usize> {
    let events = case.gantry.audit_events_of(&case.gantry.only_run()?)?;
    Ok(events.iter().filter(|e| e["event"] == "exec").count())
}

/// Something no other test's secret shares: the scratch directory's name.
fn unique_suffix(scratch: &Path) -> String {
    let name = scratch.file_name().unwrap_or_default().to_string_lossy();
    name.chars().filter(char::is_ascii_alphanumeric).collect()
}

/// The filesystem denials the run's audit trail holds, as `(asked,
/// missing_grant)` pairs in the order they happened; each names the stage
/// and the plugin.
pub(crate) fn fs_denials(case: &Case) -> Result<Vec<(String, String)>> {
    let events = case.gantry.audit_events_of(&case.gantry.only_run()?)?;
    let mut denials = Vec::new();
    for event in events.iter().filter(|e| e["event"] == "denied") {
        if event["capability"] != "fs" {
            continue;
        }
        ensure!(event["stage"] == "probe", "{event:#}");
        ensure!(
            event["plugin"]
                .as_str()
                .is_some_and(|p| p.ends_with(".wasm")),
            "{event:#}"
        );
        let text = |key: &str| event[key].as_str().unwrap_or_default().to_owned();
        denials.push((text("asked"), text("missing_grant")));
    }
    Ok(denials)
}

/// Asserts that every `(asked, missing_grant)` pair is among the run's
/// filesystem denials.
pub(crate) fn assert_fs_denied(case: &Case, expected: &[(&str, &str)]) -> Result<()> {
    let denials = fs_denials(case)?;
    for (asked, missing) in expected {
        let found = denials
            .iter()
            .any(|(a, m)| a == asked && (m == missing || m.starts_with(missing)));
        ensure!(found, "no denial of `{asked}` ({missing}) in {denials:#?}");
    }
    Ok(())
}
