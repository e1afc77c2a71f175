//! A hostile stage that allocates until something stops it.
//!
//! `[stage.config]` `chunk-kib` sets how much each allocation takes (1024 by
//! default); every page is written so that nothing is left unbacked. Only
//! the stage's memory limit can stop it: the allocations are kept, never
//! freed.

use gantry_plugin_sdk::{
    Capabilities, Guest, PluginInfo, StageError, StageInput, StageOutput, config, log,
};
use hostile_probe::plugin_info;
use serde::Deserialize;

/// The stage's `[stage.config]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct BombConfig {
    #[serde(default = "default_chunk_kib")]
    chunk_kib: usize,
}

fn default_chunk_kib() -> usize {
    1024
}

struct MemoryBomb;

impl Guest for MemoryBomb {
    fn describe() -> PluginInfo {
        plugin_info("memory-bomb", Capabilities::none())
    }

    fn run(input: StageInput) -> Result<StageOutput, StageError> {
        let config: BombConfig = config::parse(&input.config)?;
        let chunk = config.chunk_kib.max(1) * 1024;
        let mut kept: Vec<Vec<u8>> = Vec::new();
        loop {
            kept.push(vec![0xa5; chunk]);
            let total = kept.len() * chunk;
            if total % (8 << 20) < chunk {
                log::info("still allocating", &[("bytes", &total.to_string())]);
            }
        }
    }
}

gantry_plugin_sdk::export!(MemoryBomb);
