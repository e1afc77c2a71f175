//! A hostile stage that never returns, so only the stage's wall-time limit
//! can stop it.
//!
//! `[stage.config]` `how` picks the way: `spin` (the default) loops in wasm
//! code without ever calling the host; `sleep` blocks in a host call, a
//! WASI sleep that would last for years.

use std::time::Duration;

use gantry_plugin_sdk::{
    Capabilities, Guest, PluginInfo, StageError, StageInput, StageOutput, config, log,
};
use hostile_probe::plugin_info;
use serde::Deserialize;

/// The stage's `[stage.config]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct LoopConfig {
    #[serde(default)]
    how: How,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum How {
    #[default]
    Spin,
    Sleep,
}

struct EndlessLoop;

impl Guest for EndlessLoop {
    fn describe() -> PluginInfo {
        plugin_info("endless-loop", Capabilities::none())
    }

    fn run(input: StageInput) -> Result<StageOutput, StageError> {
        let config: LoopConfig = config::parse(&input.config)?;
        log::info("never returning", &[("how", &format!("{:?}", config.how))]);
        let mut turns: u64 = 0;
        loop {
            match config.how {
                // Kept observable so the loop cannot be optimised away.
                How::Spin => turns = std::hint::black_box(turns.wrapping_add(1)),
                How::Sleep => std::thread::sleep(Duration::from_secs(1 << 30)),
            }
        }
    }
}

gantry_plugin_sdk::export!(EndlessLoop);
