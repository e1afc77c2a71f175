//! Where a stage's plugin comes from: the standard plugins built into this
//! binary, or a `.wasm` file, optionally pinned by digest.

use std::borrow::Cow;

use crate::pipeline::{BuiltinPlugin, PluginSource};
use crate::store;

use super::EngineError;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/plugins.rs"));
}

/// The component bytes of a standard plugin.
pub fn builtin_bytes(plugin: BuiltinPlugin) -> &'static [u8] {
    match plugin {
        BuiltinPlugin::Build => embedded::BUILD,
        BuiltinPlugin::Test => embedded::TEST,
        BuiltinPlugin::Scan => embedded::SCAN,
        BuiltinPlugin::Ato => embedded::ATO,
        BuiltinPlugin::Promote => embedded::PROMOTE,
    }
}

/// A plugin's label for people, and its bytes.
///
/// # Errors
///
/// Fails when a plugin file cannot be read, or its digest differs from the
/// `sha256` the pipeline pins.
pub fn plugin_bytes(source: &PluginSource) -> Result<(String, Cow<'static, [u8]>), EngineError> {
    match source {
        PluginSource::Builtin(plugin) => Ok((plugin.to_string(), builtin_bytes(*plugin).into())),
        PluginSource::Path { path, sha256, .. } => {
            let label = path.display().to_string();
            let bytes = std::fs::read(path).map_err(|source| EngineError::ReadPlugin {
                plugin: label.clone(),
                source,
            })?;
            if let Some(expected) = sha256 {
                let actual = store::sha256_bytes(&bytes);
                if actual.strip_prefix("sha256:") != Some(expected.as_str()) {
                    return Err(EngineError::PluginDigest {
                        plugin: label,
                        expected: format!("sha256:{expected}"),
                        actual,
                    });
                }
            }
            Ok((label, bytes.into()))
        }
    }
}
