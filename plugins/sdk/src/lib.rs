//! The SDK for Gantry stage plugins.
//!
//! A plugin is a `cdylib` built for `wasm32-wasip2` that implements [`Guest`]
//! and exports it:
//!
//! ```ignore
//! use gantry_plugin_sdk::{Guest, PluginInfo, StageError, StageInput, StageOutput};
//!
//! struct Hello;
//!
//! impl Guest for Hello {
//!     fn describe() -> PluginInfo { /* … */ }
//!     fn run(input: StageInput) -> Result<StageOutput, StageError> {
//!         gantry_plugin_sdk::log::info("hello", &[("stage", &input.stage_id)]);
//!         Ok(StageOutput::pass("said hello"))
//!     }
//! }
//!
//! gantry_plugin_sdk::export!(Hello);
//! ```
//!
//! The bindings come from the `stage` world in the repository's `wit/`
//! folder; the modules here wrap the imports and the chores every plugin
//! shares: reading its config ([`config`]), finding upstream artifacts
//! ([`input`]), running granted programs ([`exec`]), sending HTTP requests
//! to granted destinations ([`http`]), logging ([`log`]), writing its
//! outputs ([`out`]) and having the host sign them ([`sign`]).

// The bindings name their runtime `gantry_plugin_sdk::rt`, a path that must
// resolve both here and in the plugins where `export!` expands.
extern crate self as gantry_plugin_sdk;

pub mod config;
pub mod error;
pub mod exec;
pub mod http;
pub mod input;
pub mod log;
pub mod out;
mod output;
pub mod sign;

/// The generated bindings of the `stage` world.
///
/// Plugins use the re-exports at the crate root instead.
#[doc(hidden)]
#[expect(
    clippy::too_many_arguments,
    reason = "the generated lowering of `run`'s input takes one argument per flattened field"
)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "stage",
        path: "../../wit",
        pub_export_macro: true,
        additional_derives: [PartialEq],
        default_bindings_module: "gantry_plugin_sdk::bindings",
        runtime_path: "gantry_plugin_sdk::rt",
    });
}

/// The runtime support the generated bindings call into.
#[doc(hidden)]
pub use wit_bindgen::rt;

pub use bindings::gantry::stage::types::{
    Artifact, Capabilities, Finding, InputArtifact, PluginInfo, Severity, StageError, StageInput,
    StageKind, StageOutput, Verdict,
};
pub use bindings::{Guest, export};
pub use error::ResultExt;
