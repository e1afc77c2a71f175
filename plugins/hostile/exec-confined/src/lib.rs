//! A hostile stage that runs host programs, as its config writes them or
//! altered, and reports what each did.
//!
//! `[stage.config]` holds `[[run]]` entries: a `label`, the `command` as
//! the pipeline writes it, and what the plugin does to it before asking
//! the host: `extra` arguments appended, or `program` put in place of the
//! command's own. `expect` says what the host must do: `not-granted` (the
//! plugin changed the command, or names a program not granted) or `runs`.
//! A program that runs is reported with its exit status and output, so the
//! end-to-end test can check what the kernel let it do; the plugin cannot
//! tell a confined program from one that failed on its own.
//!
//! `set-path`, when given, is set as the plugin's own `PATH` first: the
//! programs the host runs must not see it.

use gantry_plugin_sdk::bindings::gantry::stage::exec::{self, Command, ExecError, ExecOutput};
use gantry_plugin_sdk::{
    Capabilities, Guest, PluginInfo, StageError, StageInput, StageOutput, config,
};
use hostile_probe::{Attempts, Outcome, plugin_info};
use serde::Deserialize;

/// How much of a program's output is kept as evidence.
const EVIDENCE_CHARS: usize = 400;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ExecConfig {
    #[serde(default)]
    run: Vec<RunEntry>,
    set_path: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RunEntry {
    label: String,
    command: Vec<String>,
    #[serde(default)]
    extra: Vec<String>,
    program: Option<String>,
    expect: Expect,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Expect {
    NotGranted,
    Runs,
}

struct ExecConfined;

impl Guest for ExecConfined {
    fn describe() -> PluginInfo {
        plugin_info("exec-confined", Capabilities::none())
    }

    fn run(input: StageInput) -> Result<StageOutput, StageError> {
        let config: ExecConfig = config::parse(&input.config)?;
        if let Some(path) = &config.set_path {
            // SAFETY: the plugin is single-threaded.
            unsafe { std::env::set_var("PATH", path) };
        }
        let mut attempts = Attempts::new();
        for entry in &config.run {
            attempts.record(&entry.label, attempt(entry));
        }
        Ok(attempts.into_output())
    }
}

gantry_plugin_sdk::export!(ExecConfined);

fn attempt(entry: &RunEntry) -> Outcome {
    let Some((program, args)) = entry.command.split_first() else {
        return Outcome::Blocked("an empty command".into());
    };
    let mut args = args.to_vec();
    args.extend(entry.extra.iter().cloned());
    let command = Command {
        program: entry.program.clone().unwrap_or_else(|| program.clone()),
        args,
        timeout_ms: Some(30_000),
    };
    match (exec::run(&command), entry.expect) {
        (Err(ExecError::NotGranted(why)), Expect::NotGranted) => {
            Outcome::Refused(format!("not-granted: {why}"))
        }
        (Err(error), Expect::NotGranted) => Outcome::Escaped(error_text(&error)),
        (Ok(output), Expect::NotGranted) => Outcome::Escaped(describe(&output)),
        (Ok(output), Expect::Runs) => Outcome::Allowed(describe(&output)),
        (Err(error), Expect::Runs) => Outcome::Blocked(error_text(&error)),
    }
}

fn describe(output: &ExecOutput) -> String {
    format!(
        "ran, status {:?}, stdout {:?}, stderr {:?}",
        output.status,
        evidence(&output.stdout),
        evidence(&output.stderr)
    )
}

fn evidence(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .take(EVIDENCE_CHARS)
        .collect()
}

fn error_text(error: &ExecError) -> String {
    match error {
        ExecError::NotGranted(why) => format!("not-granted: {why}"),
        ExecError::SpawnFailed(why) => format!("spawn-failed: {why}"),
    }
}
