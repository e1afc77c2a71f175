//! A stage whose `describe` asks for more than its pipeline should give:
//! a mount nobody declared, write access to the workspace, a program, an
//! environment variable and a network destination, in the forms a plugin
//! author might write them (a trailing slash, a left-out default port).
//!
//! It imports neither `exec` nor `http`, so `gantry inspect` also has
//! grants of those to call unusable. `run` does nothing: the plugin exists
//! to be inspected.

use gantry_plugin_sdk::{
    Capabilities, Guest, PluginInfo, StageError, StageInput, StageKind, StageOutput,
};

struct WantsMore;

impl Guest for WantsMore {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "wants-more".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: StageKind::Custom,
            config_schema: r#"{"type":"object"}"#.into(),
            wants: Capabilities {
                read: vec!["/workspace/src/".into(), "/mnt/secrets".into()],
                write: vec!["/workspace/src".into()],
                exec: vec!["curl".into()],
                env: vec!["API_TOKEN".into()],
                net: vec!["https://api.example.com".into()],
            },
        }
    }

    fn run(_input: StageInput) -> Result<StageOutput, StageError> {
        Ok(StageOutput::pass("did nothing"))
    }
}

gantry_plugin_sdk::export!(WantsMore);
