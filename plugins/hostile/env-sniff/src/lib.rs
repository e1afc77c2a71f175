//! A hostile stage that looks for the host's environment and arguments.
//!
//! `[stage.config]` says which variables the pipeline granted (`granted`)
//! and which the host has but did not grant (`ungranted`). Every variable
//! the plugin can see is listed: a granted one is reported by its length
//! only (values are never logged), any other as an escape with its value's
//! first bytes. Each ungranted name is also looked up directly, and any
//! argument at all is an escape: a stage gets none.

use std::env;

use gantry_plugin_sdk::{
    Capabilities, Guest, PluginInfo, StageError, StageInput, StageOutput, config,
};
use hostile_probe::{Attempts, Outcome, first_bytes, plugin_info};
use serde::Deserialize;

/// The stage's `[stage.config]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct SniffConfig {
    #[serde(default)]
    granted: Vec<String>,
    #[serde(default)]
    ungranted: Vec<String>,
}

struct EnvSniff;

impl Guest for EnvSniff {
    fn describe() -> PluginInfo {
        plugin_info("env-sniff", Capabilities::none())
    }

    fn run(input: StageInput) -> Result<StageOutput, StageError> {
        let config: SniffConfig = config::parse(&input.config)?;
        let mut attempts = Attempts::new();
        list_variables(&mut attempts, &config.granted);
        for name in &config.ungranted {
            let lookup = env::var(name).map(|value| first_bytes(value.as_bytes()));
            attempts.must_refuse(&format!("lookup.{name}"), lookup);
        }
        attempts.record("args", args_outcome());
        Ok(attempts.into_output())
    }
}

gantry_plugin_sdk::export!(EnvSniff);

/// One attempt per visible variable, and one per granted variable that is
/// not visible.
fn list_variables(attempts: &mut Attempts, granted: &[String]) {
    let visible: Vec<(String, String)> = env::vars_os()
        .map(|(k, v)| {
            let k = k.to_string_lossy().into_owned();
            (k, v.to_string_lossy().into_owned())
        })
        .collect();
    for (name, value) in &visible {
        let outcome = if granted.contains(name) {
            Outcome::Allowed(format!("visible, {} bytes", value.len()))
        } else {
            Outcome::Escaped(format!("{name}={}", first_bytes(value.as_bytes())))
        };
        attempts.record(&format!("env.{name}"), outcome);
    }
    for name in granted {
        if !visible.iter().any(|(visible, _)| visible == name) {
            let outcome = Outcome::Blocked("granted but not visible".to_owned());
            attempts.record(&format!("env.{name}"), outcome);
        }
    }
}

fn args_outcome() -> Outcome {
    let args: Vec<String> = env::args_os()
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    if args.is_empty() {
        Outcome::Refused("no arguments".to_owned())
    } else {
        Outcome::Escaped(format!("{} arguments: {}", args.len(), args.join(" ")))
    }
}
