//! Hostile inputs from every side but the sandbox's own: pipeline files
//! built to hang or mislead the loader, a state directory someone edited,
//! plugin output built to slip past the host's checks, and grants that hand
//! a plugin gantry's own files.
//!
//! Most tests are regression tests for problems found by attacking the
//! binary: before their fix, the input was accepted, silently mishandled,
//! or made gantry panic. The others keep attacks that were already refused
//! refused. Every refusal must name what is wrong, exit with the documented
//! code, and never show a panic.

mod grants;
mod output;
mod state_dir;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use serde_json::Value;

use crate::support::{Gantry, PLUGIN_DIR, Ran, Scratch, read_json, test_plugin};

/// The stage plugin that does nothing and passes.
fn noop_plugin() -> PathBuf {
    PathBuf::from(PLUGIN_DIR).join("fixture_noop.wasm")
}

/// The hostile plugin that does and returns whatever its config says.
fn forged_plugin() -> PathBuf {
    test_plugin("forged-output")
}

/// `first` (no-op), a gate needing one `SECURITY_OFFICER` who did not
/// start the run, then `last` (no-op).
fn gated_pipeline() -> String {
    let noop = noop_plugin().display().to_string();
    format!(
        "[pipeline]\nname = \"gated\"\nworkspace = \"ws\"\nroles = \"roles.toml\"\n\n\
         [[stage]]\nid = \"first\"\nplugin = {noop:?}\n\n\
         [[stage]]\nid = \"review\"\nneeds = [\"first\"]\n\
         approval = {{ role = \"SECURITY_OFFICER\", min = 1 }}\n\n\
         [[stage]]\nid = \"last\"\nplugin = {noop:?}\nneeds = [\"review\"]\n"
    )
}

const ROLES: &str = "[identity.officer]\nroles = [\"SECURITY_OFFICER\"]\n\
                     [identity.deputy]\nroles = [\"SECURITY_OFFICER\"]\n";

/// A run of [`gated_pipeline`] stopped at its gate, in its own state dir.
struct GatedRun {
    scratch: Scratch,
    gantry: Gantry,
    run: String,
}

impl GatedRun {
    fn start() -> Result<GatedRun> {
        let scratch = Scratch::new(&gated_pipeline())?;
        scratch.write("roles.toml", ROLES)?;
        let gantry = Gantry::new()?;
        let ran = gantry.run(&["run", &scratch.pipeline(), "--as", "dev"])?;
        ensure!(ran.code == 4, "the run did not stop at its gate: {ran:?}");
        let run = gantry.only_run()?;
        Ok(GatedRun {
            scratch,
            gantry,
            run,
        })
    }

    /// `gantry <verb> <run> <args>`.
    fn on_run(&self, verb: &str, args: &[&str]) -> Result<Ran> {
        let mut all = vec![verb, self.run.as_str()];
        all.extend_from_slice(args);
        self.gantry.run(&all)
    }

    fn record_path(&self) -> PathBuf {
        self.gantry.run_dir(&self.run).join("run.json")
    }

    /// Rewrites the run's `run.json` with `edit` applied.
    fn edit_record(&self, edit: impl FnOnce(&mut Value)) -> Result<()> {
        let mut record = read_json(&self.record_path())?;
        edit(&mut record);
        Ok(std::fs::write(self.record_path(), record.to_string())?)
    }
}

/// Asserts that gantry refused with `code`, saying `needle`, and did not
/// panic.
fn assert_refused(ran: &Ran, code: i32, needle: &str) -> Result<()> {
    ensure!(ran.code == code, "expected exit {code}, got {ran:?}");
    ensure!(
        ran.stderr.contains(needle),
        "stderr does not say {needle:?}:\n{}",
        ran.stderr
    );
    ensure!(
        !ran.stderr.contains("panicked"),
        "gantry panicked:\n{}",
        ran.stderr
    );
    Ok(())
}

#[test]
fn a_pipeline_of_more_than_a_thousand_stages_is_refused_at_once() -> Result<()> {
    // Before the cap, 20,000 chained stages took minutes to order and a
    // hundred thousand did not finish.
    let mut toml =
        String::from("[pipeline]\nname = \"huge\"\nworkspace = \"ws\"\nroles = \"roles.toml\"\n");
    for index in 0..20_000 {
        toml.push_str(&format!(
            "[[stage]]\nid = \"s{index}\"\napproval = {{ role = \"R\" }}\nneeds = [\"s{}\"]\n",
            index.max(1) - 1
        ));
    }
    let scratch = Scratch::new(&toml.replacen("needs = [\"s0\"]\n", "", 1))?;
    scratch.write("roles.toml", "[identity.r]\nroles = [\"R\"]\n")?;

    let started = Instant::now();
    let ran = Gantry::new()?.run(&["inspect", &scratch.pipeline()])?;
    // The 1001st `[[stage]]` header: 4 lines of `[pipeline]`, then 4 per
    // stage, the first stage one line shorter.
    let line = 5 + 1000 * 4 - 1;
    assert_refused(
        &ran,
        2,
        &format!("pipeline.toml:{line}: a pipeline may have at most 1000 stages"),
    )?;
    ensure!(
        started.elapsed() < Duration::from_secs(30),
        "refusing took {:?}",
        started.elapsed()
    );
    Ok(())
}

#[test]
fn values_quoted_in_errors_cannot_write_terminal_escapes() -> Result<()> {
    let scratch =
        Scratch::new("[pipeline]\nname = \"escape\"\nworkspace = \"gone\\u001b[2J\\u001b[8m\"\n")?;
    let ran = Gantry::new()?.run(&["inspect", &scratch.pipeline()])?;
    assert_refused(
        &ran,
        2,
        "workspace `gone\\u{1b}[2J\\u{1b}[8m` does not exist",
    )?;
    ensure!(!ran.stderr.contains('\u{1b}'), "a raw escape was printed");
    Ok(())
}

#[test]
fn approving_a_gate_that_has_its_approvals_says_to_resume() -> Result<()> {
    let gated = GatedRun::start()?;
    let ran = gated.on_run("approve", &["--as", "officer"])?;
    ensure!(ran.code == 0, "{ran:?}");
    // It said "not waiting at a review gate (it is awaiting-approval)".
    let ran = gated.on_run("approve", &["--as", "deputy"])?;
    assert_refused(
        &ran,
        2,
        "approved at its gate; `gantry resume` continues it",
    )?;
    let ran = gated.on_run("resume", &[])?;
    ensure!(ran.code == 0, "{ran:?}");
    gated.gantry.assert_audit_intact()
}
