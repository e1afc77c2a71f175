//! A hostile stage that runs host programs its `exec` grant does not name.
//!
//! `[stage.config]` lists the programs to try, as the plugin names them
//! (`refused`: `sh`, `/bin/sh`, …), and the granted ones that must run
//! (`granted`), which shows the refusals are the grant's and not a broken
//! `exec`. Each refused program is asked to print a marker, so a program
//! that did run is evidence in the report. The only acceptable refusal is
//! `not-granted`: `spawn-failed` means the host tried to start the program.
//!
//! A name is whatever the plugin says, so it may carry terminal escapes and
//! line breaks; the plugin also repeats each refused name in a warning of
//! its own. Neither the host's report of the denial nor the warning may
//! reach the operator's terminal raw.
//!
//! Each program is asked to run `-c "echo exec-ran"`; for a granted one to
//! run, the stage's config must list that command (`commands`).
//!
//! The raw `exec` binding is used instead of the SDK's wrapper so that the
//! error's variant is seen, not a message made from it.

use gantry_plugin_sdk::bindings::gantry::stage::exec::{self, Command, ExecError, ExecOutput};
use gantry_plugin_sdk::{
    Capabilities, Guest, PluginInfo, StageError, StageInput, StageOutput, config, log,
};
use hostile_probe::{Attempts, Outcome, first_bytes, plugin_info};
use serde::Deserialize;

/// What a program that did run prints.
const MARKER: &str = "exec-ran";

/// The stage's `[stage.config]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ExecConfig {
    #[serde(default)]
    refused: Vec<String>,
    #[serde(default)]
    granted: Vec<String>,
    /// The commands the pipeline lets the stage run, e.g.
    /// `[["sh", "-c", "echo exec-ran"]]`: read by the host, which runs only
    /// commands written in the config; the plugin ignores them.
    #[serde(default)]
    #[expect(
        dead_code,
        reason = "the host reads it from the config, not the plugin"
    )]
    commands: Vec<Vec<String>>,
}

struct ExecUngranted;

impl Guest for ExecUngranted {
    fn describe() -> PluginInfo {
        plugin_info("exec-ungranted", Capabilities::none())
    }

    fn run(input: StageInput) -> Result<StageOutput, StageError> {
        let config: ExecConfig = config::parse(&input.config)?;
        let mut attempts = Attempts::new();
        for program in &config.granted {
            let outcome = match run_shell(program) {
                Ok(output) => Outcome::Allowed(describe(&output)),
                Err(error) => Outcome::Blocked(error_text(&error)),
            };
            attempts.record(&label(program), outcome);
        }
        for program in &config.refused {
            let outcome = match run_shell(program) {
                Ok(output) => Outcome::Escaped(describe(&output)),
                Err(ExecError::NotGranted(why)) => Outcome::Refused(format!("not-granted: {why}")),
                Err(error) => Outcome::Escaped(format!("the host tried: {}", error_text(&error))),
            };
            log::warn(&format!("refused program {program}"), &[]);
            attempts.record(&label(program), outcome);
        }
        Ok(attempts.into_output())
    }
}

gantry_plugin_sdk::export!(ExecUngranted);

/// The attempt's label: the name with control characters escaped, as the
/// host accepts no control characters in a metadata key.
fn label(program: &str) -> String {
    format!("exec.{}", program.escape_default())
}

/// Asks `program` to print [`MARKER`], as a shell would.
fn run_shell(program: &str) -> Result<ExecOutput, ExecError> {
    exec::run(&Command {
        program: program.to_owned(),
        args: vec!["-c".to_owned(), format!("echo {MARKER}")],
        timeout_ms: Some(10_000),
    })
}

fn describe(output: &ExecOutput) -> String {
    format!(
        "ran, status {:?}, stdout {}",
        output.status,
        first_bytes(&output.stdout)
    )
}

fn error_text(error: &ExecError) -> String {
    match error {
        ExecError::NotGranted(why) => format!("not-granted: {why}"),
        ExecError::SpawnFailed(why) => format!("spawn-failed: {why}"),
    }
}
