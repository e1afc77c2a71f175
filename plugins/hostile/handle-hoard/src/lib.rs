//! A hostile stage that opens files and never closes them, so that only
//! the stage's `handles` limit can stop it.
//!
//! `[stage.config]` `count` opens that many and then passes (the lawful
//! case, under the limit); without it the stage opens until it is stopped.
//! `close` closes each file at once, which never nears the limit.
//! `pollables` holds clock pollables instead of files: resources that are
//! not files, bounded by the same limit through the host's resource table.

use std::fs::File;

use gantry_plugin_sdk::{
    Capabilities, Guest, PluginInfo, StageError, StageInput, StageOutput, config,
};
use hostile_probe::plugin_info;
use serde::Deserialize;

/// The stage's `[stage.config]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct HoardConfig {
    #[serde(default)]
    count: Option<usize>,
    #[serde(default)]
    close: bool,
    #[serde(default)]
    pollables: bool,
}

struct HandleHoard;

impl Guest for HandleHoard {
    fn describe() -> PluginInfo {
        plugin_info("handle-hoard", Capabilities::none())
    }

    fn run(input: StageInput) -> Result<StageOutput, StageError> {
        let config: HoardConfig = config::parse(&input.config)?;
        if config.pollables {
            let mut held = Vec::new();
            while config.count.is_none_or(|count| held.len() < count) {
                held.push(wasip2::clocks::monotonic_clock::subscribe_duration(1 << 40));
            }
            return Ok(StageOutput::pass(format!("held {} pollables", held.len())));
        }
        let mut kept = Vec::new();
        let mut opened = 0;
        while config.count.is_none_or(|count| opened < count) {
            let file = File::open("/workspace/file.txt")
                .map_err(|e| StageError::Internal(format!("open number {opened}: {e}")))?;
            opened += 1;
            if !config.close {
                kept.push(file);
            }
        }
        Ok(StageOutput::pass(format!("opened {opened} files")))
    }
}

gantry_plugin_sdk::export!(HandleHoard);
