//! A stage whose `describe` traps, so it cannot say what it wants:
//! `gantry inspect` must report that as a finding, not fail, and still show
//! what the stage is granted.

use gantry_plugin_sdk::{Guest, PluginInfo, StageError, StageInput, StageOutput};

struct DescribeTrap;

impl Guest for DescribeTrap {
    fn describe() -> PluginInfo {
        // Plugins are built with `panic = "abort"`: this traps.
        panic!("describe refuses to say what it wants")
    }

    fn run(_input: StageInput) -> Result<StageOutput, StageError> {
        Ok(StageOutput::pass("did nothing"))
    }
}

gantry_plugin_sdk::export!(DescribeTrap);
