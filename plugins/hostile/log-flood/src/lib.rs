//! A hostile stage that logs without end, so that only the stage's log
//! limits can stop it.
//!
//! `[stage.config]` `pace-ms` sleeps between lines (0 by default: as fast as
//! the host takes them), so that one test can cross the `log-rate` limit
//! and another the `log-lines` total at a lawful rate.

use std::time::Duration;

use gantry_plugin_sdk::{
    Capabilities, Guest, PluginInfo, StageError, StageInput, StageOutput, config, log,
};
use hostile_probe::plugin_info;
use serde::Deserialize;

/// The stage's `[stage.config]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FloodConfig {
    #[serde(default)]
    pace_ms: u64,
}

struct LogFlood;

impl Guest for LogFlood {
    fn describe() -> PluginInfo {
        plugin_info("log-flood", Capabilities::none())
    }

    fn run(input: StageInput) -> Result<StageOutput, StageError> {
        let config: FloodConfig = config::parse(&input.config)?;
        let mut line: u64 = 0;
        loop {
            line += 1;
            log::info("flood", &[("line", &line.to_string())]);
            if config.pace_ms > 0 {
                std::thread::sleep(Duration::from_millis(config.pace_ms));
            }
        }
    }
}

gantry_plugin_sdk::export!(LogFlood);
