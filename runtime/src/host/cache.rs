//! The on-disk cache of compiled components.
//!
//! Compiling a component is the slowest thing the host does (tens of
//! milliseconds for a small plugin in a release build, a second in debug),
//! so each one is compiled once and kept as native code under
//! `<state-dir>/cache/<engine-key>/<component-sha256>.cwasm`. The engine key
//! changes whenever wasmtime or its settings change, since native code made
//! with other settings cannot be loaded.
//!
//! The files are native code that the host maps and runs: the state
//! directory keeps `cache/` at mode 0700, and only this module writes it.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

use super::HostError;
use crate::store::write_atomic;

/// Whether a component came from the cache or was compiled now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CacheOutcome {
    Hit,
    Compiled,
}

/// Compiled components for one engine configuration.
#[derive(Debug, Clone)]
pub struct ComponentCache {
    dir: PathBuf,
}

impl ComponentCache {
    /// A cache under `root` for components compiled by `engine`.
    pub fn new(root: &Path, engine: &Engine) -> Self {
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        ComponentCache {
            dir: root.join(format!("{:016x}", hasher.finish())),
        }
    }

    /// Returns the compiled form of `bytes`, whose digest is `digest`
    /// (`sha256:<hex>`), compiling and storing it on a miss.
    ///
    /// A cached file that fails to load (truncated, or from an incompatible
    /// build) is compiled again and replaced.
    ///
    /// # Errors
    ///
    /// Fails when the bytes do not compile, or the cache cannot be written.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        digest: &str,
        bytes: &[u8],
    ) -> Result<(Component, CacheOutcome), HostError> {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        let path = self.dir.join(format!("{hex}.cwasm"));
        if path.is_file() {
            // SAFETY: files in this directory are written only by `store`
            // below, from `Component::serialize` of a component whose digest
            // names the file; the directory is private to the state dir's
            // owner (mode 0700), so no one else can place native code there.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok((component, CacheOutcome::Hit)),
                Err(err) => tracing::debug!(path = %path.display(), "recompiling: {err:#}"),
            }
        }
        let component = Component::new(engine, bytes).map_err(|e| HostError::Compile {
            message: format!("{e:#}"),
        })?;
        self.store(&path, &component)?;
        Ok((component, CacheOutcome::Compiled))
    }

    fn store(&self, path: &Path, component: &Component) -> Result<(), HostError> {
        let cache_error = |message: String| HostError::Cache {
            path: path.to_owned(),
            message,
        };
        std::fs::create_dir_all(&self.dir).map_err(|e| cache_error(e.to_string()))?;
        let native = component
            .serialize()
            .map_err(|e| cache_error(format!("{e:#}")))?;
        write_atomic(path, &native).map_err(|e| cache_error(e.to_string()))
    }
}
