//! The review gate and the life of a run around it: who may approve,
//! rejection, resuming after approval, after a crash and after Ctrl-C, and
//! the refusals that keep a run honest (changed inputs, a busy state dir).
//!
//! The pipelines here are small scratch ones whose stages are
//! `gantry:test` running `true` or a short shell script, so each test
//! takes a second or two.

use std::process::{Child, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

use crate::support::{Gantry, Scratch, stage, wait_for};

/// `first`, a gate needing one `SECURITY_OFFICER` (not the initiator),
/// then `last`.
const GATED: &str = r#"
[pipeline]
name = "gated"
workspace = "ws"
roles = "roles.toml"

[[stage]]
id = "first"
plugin = "gantry:test"
config = { command = ["true"] }
grants = { exec = ["true"] }

[[stage]]
id = "review"
approval = { role = "SECURITY_OFFICER", min = 1, forbid-self-approval = true }
needs = ["first"]

[[stage]]
id = "last"
plugin = "gantry:test"
needs = ["review"]
config = { command = ["true"] }
grants = { exec = ["true"] }
"#;

const ROLES: &str = r#"
[identity.officer]
roles = ["SECURITY_OFFICER"]

[identity.deputy]
roles = ["SECURITY_OFFICER"]

[identity.dev]
roles = ["DEVELOPER"]
"#;

/// `first`, then `slow`, whose script sleeps the first time it runs only
/// (it leaves `slept` in the workspace, and the pids of the shell and its
/// `sleep`), then `last`.
const SLEEPY: &str = r#"
[pipeline]
name = "sleepy"
workspace = "ws"

[[stage]]
id = "first"
plugin = "gantry:test"
config = { command = ["true"] }
grants = { exec = ["true"] }

[[stage]]
id = "slow"
plugin = "gantry:test"
needs = ["first"]

[stage.config]
command = ["sh", "-c", """
if [ -e slept ]; then exit 0; fi
: > slept
sleep 120 &
echo $! > sleep.pid.tmp && mv sleep.pid.tmp sleep.pid
wait
"""]

[stage.grants]
# The script leaves its marks in the workspace.
write = ["."]
exec = ["sh"]
env = ["PATH"]

[stage.limits]
timeout = "5m"

[[stage]]
id = "last"
plugin = "gantry:test"
needs = ["slow"]
config = { command = ["true"] }
grants = { exec = ["true"] }
"#;

/// How long a scratch run may take to reach a point the test waits for.
const PATIENCE: Duration = Duration::from_secs(60);

#[test]
fn approval_without_the_gate_role_is_refused() -> Result<()> {
    let (gantry, scratch) = gated()?;
    let run = run_to_gate(&gantry, &scratch, "officer")?;

    let refused = gantry.run(&["approve", &run, "--as", "dev"])?;
    assert_eq!(refused.code, 2, "{refused:?}");
    ensure!(
        refused.stderr.contains("SECURITY_OFFICER") && refused.stderr.contains("`dev`"),
        "the refusal must name the missing role:\n{}",
        refused.stderr
    );

    let record = gantry.run_record(&run)?;
    assert_eq!(record["status"], "awaiting-approval");
    let review = stage(&record, "review")?;
    assert_eq!(review["status"], "awaiting-approval");
    assert_eq!(review["decisions"], Value::Array(Vec::new()));
    let events = event_names(&gantry, &run)?;
    ensure!(!events.contains(&"approval".to_owned()), "{events:?}");
    Ok(())
}

#[test]
fn initiator_cannot_approve_their_own_run_but_another_officer_can() -> Result<()> {
    let (gantry, scratch) = gated()?;
    let run = run_to_gate(&gantry, &scratch, "officer")?;

    let refused = gantry.run(&["approve", &run, "--as", "officer"])?;
    assert_eq!(refused.code, 2, "{refused:?}");
    ensure!(
        refused.stderr.contains("forbid-self-approval"),
        "the refusal must name the self-approval rule:\n{}",
        refused.stderr
    );
    assert_eq!(gantry.run_record(&run)?["status"], "awaiting-approval");

    let approved = gantry.run(&["approve", &run, "--as", "deputy"])?;
    assert_eq!(approved.code, 0, "{approved:?}");
    let review = stage(&gantry.run_record(&run)?, "review")?.clone();
    assert_eq!(review["status"], "approved");
    assert_eq!(review["decisions"][0]["identity"], "deputy");
    Ok(())
}

#[test]
fn rejection_ends_the_run_and_later_stages_never_run() -> Result<()> {
    let (gantry, scratch) = gated()?;
    let run = run_to_gate(&gantry, &scratch, "dev")?;

    let args = [
        "reject",
        &run,
        "--as",
        "officer",
        "--reason",
        "open finding",
    ];
    let rejected = gantry.run(&args)?;
    assert_eq!(rejected.code, 1, "{rejected:?}");

    let shown = gantry.run(&["--json", "show", &run])?.json()?;
    assert_eq!(shown["status"], "failed");
    assert_eq!(shown["failure"]["kind"], "rejected");
    assert_eq!(shown["failure"]["stage"], "review");
    assert_eq!(stage(&shown, "review")?["status"], "rejected");
    assert_eq!(stage(&shown, "last")?["status"], "skipped");
    assert_eq!(stage(&shown, "last")?["started"], Value::Null);

    let events = gantry.audit_events_of(&run)?;
    let rejection = events
        .iter()
        .find(|e| e["event"] == "rejection")
        .context("no rejection event")?;
    assert_eq!(rejection["identity"], "officer");
    assert_eq!(rejection["reason"], "open finding");

    let resumed = gantry.run(&["resume", &run])?;
    assert_eq!(resumed.code, 2, "{resumed:?}");
    ensure!(
        resumed.stderr.contains("already ended"),
        "{}",
        resumed.stderr
    );
    assert_eq!(
        stage(&gantry.run_record(&run)?, "last")?["status"],
        "skipped"
    );
    gantry.assert_audit_intact()
}

#[test]
fn approved_run_resumes_and_runs_the_remaining_stages() -> Result<()> {
    let (gantry, scratch) = gated()?;
    let run = run_to_gate(&gantry, &scratch, "dev")?;
    let first_finished = stage(&gantry.run_record(&run)?, "first")?["finished"].clone();

    let approved = gantry.run(&["approve", &run, "--as", "officer"])?;
    assert_eq!(approved.code, 0, "{approved:?}");
    let resumed = gantry.run(&["--json", "resume", &run])?;
    assert_eq!(resumed.code, 0, "{resumed:?}");
    assert_eq!(resumed.json()?["status"], "succeeded");

    let record = gantry.run_record(&run)?;
    assert_eq!(stage(&record, "last")?["status"], "passed");
    assert_eq!(stage(&record, "first")?["finished"], first_finished);
    assert_eq!(starts_of(&gantry, &run, "first")?, 1);
    gantry.assert_audit_intact()
}

#[test]
fn run_killed_mid_stage_resumes_from_recorded_state() -> Result<()> {
    let (gantry, scratch) = sleepy()?;
    let background = start_sleeping_run(&gantry, &scratch)?;
    let run = background.run.clone();
    // SIGKILL: gantry records nothing more. The shell dies with it; its
    // `sleep`, a grandchild, would not, so `stop` kills it too.
    stop(background)?;

    let record = gantry.run_record(&run)?;
    assert_eq!(record["status"], "running");
    assert_eq!(stage(&record, "first")?["status"], "passed");
    assert_eq!(stage(&record, "slow")?["status"], "running");
    let first_finished = stage(&record, "first")?["finished"].clone();

    let resumed = gantry.run(&["--json", "resume", &run])?;
    assert_eq!(resumed.code, 0, "{resumed:?}");
    assert_eq!(resumed.json()?["status"], "succeeded");
    let record = gantry.run_record(&run)?;
    assert_eq!(stage(&record, "first")?["finished"], first_finished);
    assert_eq!(starts_of(&gantry, &run, "first")?, 1);
    assert_eq!(stage(&record, "last")?["status"], "passed");
    gantry.assert_audit_intact()
}

#[test]
fn ctrl_c_interrupts_the_run_and_kills_its_programs() -> Result<()> {
    let (gantry, scratch) = sleepy()?;
    let background = start_sleeping_run(&gantry, &scratch)?;
    kill(Pid::from_raw(background.child.id() as i32), Signal::SIGINT)?;
    let output = background.child.wait_with_output()?;
    assert_eq!(
        output.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    wait_for("the stage's `sleep` to die", PATIENCE, || {
        Ok((!is_alive(background.sleep)).then_some(()))
    })?;

    let run = background.run;
    let record = gantry.run_record(&run)?;
    assert_eq!(record["status"], "interrupted");
    assert_eq!(stage(&record, "slow")?["status"], "interrupted");
    let interrupted = gantry
        .audit_events_of(&run)?
        .into_iter()
        .find(|e| e["event"] == "run-interrupted")
        .context("no run-interrupted event")?;
    assert_eq!(interrupted["stage"], "slow");
    assert_eq!(interrupted["signal"], "SIGINT");

    let resumed = gantry.run(&["resume", &run])?;
    assert_eq!(resumed.code, 0, "{resumed:?}");
    assert_eq!(gantry.run_record(&run)?["status"], "succeeded");
    assert_eq!(starts_of(&gantry, &run, "first")?, 1);
    gantry.assert_audit_intact()
}

#[test]
fn approve_and_resume_refuse_when_the_pipeline_file_changed() -> Result<()> {
    let (gantry, scratch) = gated()?;
    let run = run_to_gate(&gantry, &scratch, "dev")?;
    scratch.write(
        "pipeline.toml",
        &format!("{GATED}\n# edited after the run\n"),
    )?;

    for args in [
        ["approve", &run, "--as", "officer"].as_slice(),
        &["resume", &run],
    ] {
        let refused = gantry.run(args)?;
        assert_eq!(refused.code, 2, "{refused:?}");
        ensure!(
            refused.stderr.contains("pipeline file") && refused.stderr.contains("changed"),
            "`{}` must say the pipeline file changed:\n{}",
            args[0],
            refused.stderr
        );
    }
    let record = gantry.run_record(&run)?;
    assert_eq!(record["status"], "awaiting-approval");
    assert_eq!(
        stage(&record, "review")?["decisions"],
        Value::Array(Vec::new())
    );
    Ok(())
}

#[test]
fn second_command_on_a_busy_state_dir_is_refused() -> Result<()> {
    let (gantry, scratch) = sleepy()?;
    let background = start_sleeping_run(&gantry, &scratch)?;
    let holder = background.child.id();

    let refused = gantry.run(&["runs"])?;
    let stopped = stop(background);
    assert_eq!(refused.code, 2, "{refused:?}");
    ensure!(
        refused
            .stderr
            .contains(&format!("is locked by process {holder}"))
            && refused.stderr.contains("another `gantry` is using it"),
        "the refusal must say the state dir is in use, and by whom:\n{}",
        refused.stderr
    );
    stopped?;

    let after = gantry.run(&["runs"])?;
    assert_eq!(after.code, 0, "the lock must go with its holder: {after:?}");
    Ok(())
}

/// A state dir and the gated pipeline with its roles file.
fn gated() -> Result<(Gantry, Scratch)> {
    let scratch = Scratch::new(GATED)?;
    scratch.write("roles.toml", ROLES)?;
    Ok((Gantry::new()?, scratch))
}

/// A state dir and the pipeline whose middle stage sleeps once.
fn sleepy() -> Result<(Gantry, Scratch)> {
    Ok((Gantry::new()?, Scratch::new(SLEEPY)?))
}

/// Runs the gated pipeline as `initiator` up to its gate; returns the run.
fn run_to_gate(gantry: &Gantry, scratch: &Scratch, initiator: &str) -> Result<String> {
    let ran = gantry.run(&["--json", "run", &scratch.pipeline(), "--as", initiator])?;
    ensure!(ran.code == 4, "expected exit 4 at the gate: {ran:?}");
    let report = ran.json()?;
    assert_eq!(stage(&report, "first")?["status"], "passed");
    report["run_id"]
        .as_str()
        .map(str::to_owned)
        .context("run_id")
}

/// A `gantry run` in the background, stopped inside its `slow` stage.
struct BackgroundRun {
    child: Child,
    run: String,
    /// The `sleep` the stage's script started.
    sleep: Pid,
}

/// Starts the sleepy pipeline and waits until `run.json` shows `slow`
/// running and its `sleep` has started.
fn start_sleeping_run(gantry: &Gantry, scratch: &Scratch) -> Result<BackgroundRun> {
    let mut child = gantry
        .command(&["run", &scratch.pipeline()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    match wait_until_sleeping(gantry, scratch) {
        Ok((run, sleep)) => Ok(BackgroundRun { child, run, sleep }),
        Err(err) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(err)
        }
    }
}

fn wait_until_sleeping(gantry: &Gantry, scratch: &Scratch) -> Result<(String, Pid)> {
    let run = wait_for("the run to start", PATIENCE, || gantry.only_run().map(Some))?;
    wait_for("stage `slow` to be running", PATIENCE, || {
        let record = gantry.run_record(&run)?;
        Ok((stage(&record, "slow")?["status"] == "running").then_some(()))
    })?;
    let pid_file = scratch.workspace().join("sleep.pid");
    let sleep = wait_for("the script's `sleep`", PATIENCE, || {
        let Ok(text) = std::fs::read_to_string(&pid_file) else {
            return Ok(None);
        };
        Ok(Some(text.trim().parse::<i32>()?))
    })?;
    let sleep = Pid::from_raw(sleep);
    ensure!(
        is_alive(sleep),
        "the script's `sleep` ({sleep}) is not running"
    );
    Ok((run, sleep))
}

/// Kills a background `gantry` with SIGKILL, and the `sleep` its stage
/// left behind.
fn stop(mut background: BackgroundRun) -> Result<()> {
    background.child.kill()?;
    background.child.wait()?;
    let _ = kill(background.sleep, Signal::SIGKILL);
    Ok(())
}

/// Whether `pid` is a live process; a zombie waiting to be reaped is not.
fn is_alive(pid: Pid) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    !stat.is_empty() && !stat.contains(") Z ")
}

/// The names of a run's audit events, in order.
fn event_names(gantry: &Gantry, run: &str) -> Result<Vec<String>> {
    Ok(gantry
        .audit_events_of(run)?
        .iter()
        .filter_map(|e| e["event"].as_str().map(str::to_owned))
        .collect())
}

/// How many times the audit trail saw stage `id` of `run` start.
fn starts_of(gantry: &Gantry, run: &str, id: &str) -> Result<usize> {
    let events = gantry.audit_events_of(run)?;
    Ok(events
        .iter()
        .filter(|e| e["event"] == "stage-start" && e["stage"] == id)
        .count())
}
