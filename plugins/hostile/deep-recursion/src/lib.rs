//! A hostile stage that recurses until its stack runs out.
//!
//! `[stage.config]` `how` picks which stack: `shadow` (the default) keeps
//! an array in every frame, so the stack the compiler keeps in linear
//! memory runs out first and the next frame lands outside the memory;
//! `native` keeps nothing addressable, so wasmtime's own call stack runs
//! out. The host must end either as a clean fault, not crash or hang.

use std::sync::atomic::{AtomicU64, Ordering};

use gantry_plugin_sdk::{
    Capabilities, Guest, PluginInfo, StageError, StageInput, StageOutput, config,
};
use hostile_probe::plugin_info;
use serde::Deserialize;

/// The stage's `[stage.config]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RecursionConfig {
    #[serde(default)]
    how: How,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum How {
    #[default]
    Shadow,
    Native,
}

/// Written after each call returns, so that no call is a tail call the
/// compiler could turn into a loop.
static DEEPEST: AtomicU64 = AtomicU64::new(0);

/// Recurses with an array in every frame.
fn shadow(depth: u64) -> u64 {
    if std::hint::black_box(depth) == u64::MAX {
        return 0;
    }
    let frame = std::hint::black_box([depth; 16]);
    std::hint::black_box(shadow(depth + 1)) + frame[depth as usize % 16]
}

/// Recurses with nothing in linear memory.
fn native(depth: u64) -> u64 {
    if depth == u64::MAX {
        return 0;
    }
    let below = native(depth + 1);
    DEEPEST.store(below, Ordering::Relaxed);
    below + 1
}

struct DeepRecursion;

impl Guest for DeepRecursion {
    fn describe() -> PluginInfo {
        plugin_info("deep-recursion", Capabilities::none())
    }

    fn run(input: StageInput) -> Result<StageOutput, StageError> {
        let config: RecursionConfig = config::parse(&input.config)?;
        let depth = match config.how {
            How::Shadow => shadow(0),
            How::Native => native(DEEPEST.load(Ordering::Relaxed)),
        };
        Ok(StageOutput::pass(format!("came back from depth {depth}")))
    }
}

gantry_plugin_sdk::export!(DeepRecursion);
