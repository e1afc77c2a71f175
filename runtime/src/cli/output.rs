//! What the commands print: progress and reports for people on stderr, one
//! JSON object on stdout with `--json`.

use std::path::Path;

use serde_json::json;

use crate::engine::{Progress, RunRecord, RunStatus, Session, StageRecord, StageStatus};

/// Prints a line per stage as the run goes.
pub struct HumanProgress {
    /// With `--json`, people's progress still goes to stderr, but briefly.
    pub quiet: bool,
}

impl Progress for HumanProgress {
    fn stage_started(&self, _run: &RunRecord, stage: &StageRecord) {
        if !self.quiet {
            eprintln!("  {:<10} running   {}", stage.id, stage.plugin);
        }
    }

    fn stage_finished(&self, _run: &RunRecord, stage: &StageRecord) {
        eprintln!("{}", stage_line(stage));
    }
}

fn stage_line(stage: &StageRecord) -> String {
    let duration = stage
        .duration_ms
        .map(|ms| format!("{:.1}s", ms as f64 / 1000.0))
        .unwrap_or_default();
    let detail = match stage.status {
        StageStatus::Passed => stage.summary.clone().unwrap_or_default(),
        _ => stage
            .reason
            .clone()
            .or(stage.summary.clone())
            .unwrap_or_default(),
    };
    format!(
        "  {:<10} {:<9} {:>7}  {}",
        stage.id,
        word(stage.status),
        duration,
        detail
    )
}

/// The first line of a run: its id.
pub fn run_header(record: &RunRecord, what: &str, _json: bool) {
    let count = record.stages.len();
    let stages = if count == 1 { "stage" } else { "stages" };
    eprintln!(
        "run {} {what}: pipeline `{}` ({count} {stages}), initiated by `{}`",
        record.id, record.pipeline, record.initiator
    );
}

/// The end of `run` and `resume`.
pub fn run_report(state: Option<&Path>, record: &RunRecord, json: bool) -> anyhow::Result<i32> {
    if json {
        print_json(&run_json(record));
    }
    match record.status {
        RunStatus::Succeeded => eprintln!("run {} succeeded", record.id),
        RunStatus::AwaitingApproval => print_gate_help(state, record),
        RunStatus::Failed | RunStatus::Interrupted | RunStatus::Running => {
            let why = record
                .failure
                .as_ref()
                .map(|f| format!(": stage `{}`: {}", f.stage, f.message));
            eprintln!(
                "run {} {}{}",
                record.id,
                word(record.status),
                why.unwrap_or_default()
            );
            if record.status != RunStatus::Failed {
                eprintln!(
                    "  continue it with: {}",
                    command(state, "resume", &record.id.to_string())
                );
            }
        }
    }
    Ok(record.exit_code())
}

fn print_gate_help(state: Option<&Path>, record: &RunRecord) {
    let Some(gate) = record
        .stages
        .iter()
        .find(|s| s.status == StageStatus::AwaitingApproval)
    else {
        eprintln!(
            "run {} is approved at its gate; continue it with:",
            record.id
        );
        eprintln!("  {}", command(state, "resume", &record.id.to_string()));
        return;
    };
    let id = record.id.to_string();
    eprintln!("run {id} is waiting for review at stage `{}`", gate.id);
    eprintln!("  review:  {}", command(state, "show", &id));
    eprintln!(
        "  approve: {}",
        command(state, "approve", &format!("{id} --as <ID>"))
    );
    eprintln!(
        "  reject:  {}",
        command(state, "reject", &format!("{id} --as <ID> --reason \"…\""))
    );
    eprintln!("  then:    {}", command(state, "resume", &id));
}

/// `gantry [--state-dir DIR] <verb> <args>`, as a user would type it.
pub fn command(state: Option<&Path>, verb: &str, args: &str) -> String {
    match state {
        Some(dir) => format!("gantry --state-dir {} {verb} {args}", dir.display()),
        None => format!("gantry {verb} {args}"),
    }
}

fn run_json(record: &RunRecord) -> serde_json::Value {
    let stages: Vec<_> = record
        .stages
        .iter()
        .map(|s| {
            json!({
                "id": s.id, "status": s.status, "duration_ms": s.duration_ms,
                "verdict": s.verdict, "summary": s.summary, "reason": s.reason,
            })
        })
        .collect();
    json!({
        "run_id": record.id,
        "pipeline": record.pipeline,
        "status": record.status,
        "exit_code": record.exit_code(),
        "failure": record.failure,
        "stages": stages,
    })
}

/// The end of `approve` and `reject`.
pub fn decision(
    state: Option<&Path>,
    record: &RunRecord,
    identity: &str,
    json: bool,
) -> anyhow::Result<i32> {
    let id = record.id.to_string();
    let waiting = record
        .stages
        .iter()
        .any(|s| s.status == StageStatus::AwaitingApproval);
    let code = match record.status {
        RunStatus::Failed => {
            eprintln!("run {id} rejected by `{identity}`; it has ended failed");
            1
        }
        _ if waiting => {
            eprintln!("approval by `{identity}` recorded; the gate needs more approvals");
            4
        }
        _ => {
            eprintln!("run {id} approved by `{identity}`; continue it with:");
            eprintln!("  {}", command(state, "resume", &id));
            0
        }
    };
    if json {
        let mut object = run_json(record);
        object["exit_code"] = code.into();
        print_json(&object);
    }
    Ok(code)
}

/// `gantry runs`.
pub fn runs(records: &[RunRecord], json: bool) -> anyhow::Result<i32> {
    if json {
        let runs: Vec<_> = records.iter().map(run_json).collect();
        print_json(&json!({ "runs": runs }));
        return Ok(0);
    }
    if records.is_empty() {
        eprintln!("no runs yet; start one with `gantry run <PIPELINE>`");
        return Ok(0);
    }
    println!(
        "{:<22}  {:<18} {:<24} INITIATOR",
        "RUN", "STATUS", "PIPELINE"
    );
    for r in records {
        println!(
            "{}  {:<18} {:<24} {}",
            r.id,
            word(r.status),
            r.pipeline,
            r.initiator
        );
    }
    Ok(0)
}

/// `gantry show`.
pub fn show(session: &Session, record: &RunRecord, json: bool) -> anyhow::Result<i32> {
    if json {
        let mut object = serde_json::to_value(record)?;
        object["run_id"] = record.id.to_string().into();
        object["exit_code"] = record.exit_code().into();
        print_json(&object);
        return Ok(0);
    }
    println!("run       {}", record.id);
    println!("pipeline  {} ({})", record.pipeline, record.pipeline_file);
    println!("status    {}", word(record.status));
    println!("initiator {}", record.initiator);
    if let Some(policy) = &record.pins.policy {
        println!(
            "policy    {} {} ({})",
            policy.id, policy.version, policy.digest
        );
    }
    if let Some(failure) = &record.failure {
        println!("failure   stage `{}`: {}", failure.stage, failure.message);
    }
    let run_dir = session.state().run_dir(&record.id);
    for stage in &record.stages {
        show_stage(stage, &run_dir);
    }
    Ok(0)
}

fn show_stage(stage: &StageRecord, run_dir: &Path) {
    println!("\n{}", stage_line(stage).trim_start());
    if let Some(digest) = &stage.plugin_digest {
        println!("    plugin    {} {digest}", stage.plugin);
    }
    for a in &stage.artifacts {
        let path = run_dir
            .join("stages")
            .join(&stage.id)
            .join("out")
            .join(&a.path);
        println!(
            "    artifact  {:<20} {}  {}",
            a.name,
            a.digest,
            path.display()
        );
    }
    for (key, value) in &stage.metadata {
        println!("    fact      {key:<20} {}", terminal_safe(value));
    }
    for f in &stage.findings {
        let fixed = f
            .fixed_in
            .as_deref()
            .map(|v| format!(" (fixed in {v})"))
            .unwrap_or_default();
        println!(
            "    finding   {} {} {}: {}{fixed}",
            f.severity, f.id, f.package, f.title
        );
    }
    for d in &stage.decisions {
        let what = if d.approved { "approved" } else { "rejected" };
        let reason = d
            .reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        println!(
            "    {what:<9} by `{}` ({}) at {}{reason}",
            d.identity, d.role, d.time
        );
    }
}

/// `gantry audit verify`.
pub fn audit_verify(path: &Path, json: bool) -> anyhow::Result<i32> {
    if !path.exists() {
        anyhow::bail!(
            "no audit log at `{}`\n  hint: pass the --state-dir the runs used",
            path.display()
        );
    }
    let state_dir = path.parent().unwrap_or(Path::new("."));
    match crate::engine::verify_trail(state_dir) {
        Ok(summary) => {
            if json {
                print_json(&json!({ "intact": true, "summary": summary }));
            }
            eprintln!(
                "audit log `{}` is intact: {}, head {}; the chain heads run records name \
                 are all in it ({})",
                path.display(),
                counted(
                    usize::try_from(summary.chain.lines).unwrap_or(usize::MAX),
                    "line",
                    "lines"
                ),
                summary.chain.head,
                counted(summary.heads_checked, "head", "heads")
            );
            let signed = &summary.signatures;
            eprintln!(
                "signatures hold: {}, {}, {} ({}, {} without a pipeline key, {} without \
                 their own record)",
                counted(signed.checkpoints, "checkpoint", "checkpoints"),
                counted(signed.attestations, "attestation", "attestations"),
                counted(
                    signed.signed_decisions,
                    "signed decision",
                    "signed decisions"
                ),
                counted(
                    signed.unsigned_decisions,
                    "unsigned decision",
                    "unsigned decisions"
                ),
                counted(signed.unsigned_runs, "run", "runs"),
                counted(signed.unrecorded_runs, "run", "runs")
            );
            Ok(0)
        }
        Err(err) => {
            if json {
                print_json(&json!({ "intact": false, "error": err }));
            }
            // It quotes lines of the log and fields of run records.
            eprintln!("{}", terminal_safe(&err));
            Ok(1)
        }
    }
}

fn word<T: serde::Serialize>(status: T) -> String {
    crate::engine::status_word(status)
}

/// Text from outside gantry (a plugin's file, a value in a user's file)
/// made safe to print whole: line breaks and tabs are kept, every other
/// control character and invisible reordering one is shown escaped, so it
/// cannot rewrite, hide or reorder what the terminal shows.
pub fn terminal_safe(text: &str) -> String {
    crate::pipeline::escape_deceptive(text, true)
}

fn print_json(value: &serde_json::Value) {
    println!("{value}");
}

/// `1 line`, `2 lines`.
fn counted(count: usize, one: &str, many: &str) -> String {
    let noun = if count == 1 { one } else { many };
    format!("{count} {noun}")
}

#[cfg(test)]
mod tests {
    use super::terminal_safe;

    #[test]
    fn terminal_safe_text_keeps_lines_and_escapes_the_rest() {
        let summary = "# ATO\n\tall good\u{1b}[8m\nhidden\u{202e}txt";
        assert_eq!(
            terminal_safe(summary),
            "# ATO\n\tall good\\u{1b}[8m\nhidden\\u{202e}txt"
        );
    }
}
