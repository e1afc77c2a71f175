//! The on-disk cache of compiled components.
//!
//! Compiling a component is the slowest thing the host does (tens of
//! milliseconds for a small plugin in a release build, a second in debug),
//! so each one is compiled once and kept as native code under
//! `<state-dir>/cache/<engine-key>/<component-sha256>.cwasm`. The engine key
//! changes whenever wasmtime, its settings or the file layout change, since
//! native code made with other settings cannot be loaded.
//!
//! The files are native code that the host maps and runs: the state
//! directory keeps `cache/` at mode 0700, and only this module writes it.
//! Each file ends with the sha256 of the native code before it, so a file
//! damaged on disk (cut short, or bytes changed) is compiled again rather
//! than run; wasmtime itself checks only the file's header.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::HostError;
use crate::store::write_atomic;

/// The layout of the files, part of the engine key so that files of an
/// older layout are never read as damaged ones: 2 added the seal.
const CACHE_FORMAT: u32 = 2;

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
        CACHE_FORMAT.hash(&mut hasher);
        ComponentCache {
            dir: root.join(format!("{:016x}", hasher.finish())),
        }
    }

    /// Returns the compiled form of `bytes`, whose digest is `digest`
    /// (`sha256:<hex>`), compiling and storing it on a miss.
    ///
    /// A cached file that fails to load (damaged, or from an incompatible
    /// build) is compiled again and replaced, with a warning.
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
        match load_cached(engine, &path) {
            Ok(Some(component)) => return Ok((component, CacheOutcome::Hit)),
            Ok(None) => {}
            Err(problem) => tracing::warn!(
                path = %path.display(),
                "compiled plugin in the cache is unusable ({problem}); compiling it again"
            ),
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
        write_atomic(path, &seal(native)).map_err(|e| cache_error(e.to_string()))
    }
}

/// The compiled component cached at `path`; `None` when there is none.
///
/// # Errors
///
/// Why a file that is there cannot be used.
fn load_cached(engine: &Engine, path: &Path) -> Result<Option<Component>, String> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let native = unseal(&bytes).ok_or("its checksum does not match its contents")?;
    // SAFETY: files in this directory are written only by `store` above,
    // from `Component::serialize` of a component whose digest names the
    // file, and sealed with the digest of that native code, which was just
    // checked; the directory is private to its owner (mode 0700), so no one
    // else can place native code there.
    let component = unsafe { Component::deserialize(engine, native) };
    component.map(Some).map_err(|e| format!("{e:#}"))
}

/// The length of the seal after the native code: a sha256.
const SEAL_LEN: usize = 32;

/// `native` followed by its sha256.
fn seal(mut native: Vec<u8>) -> Vec<u8> {
    let digest = Sha256::digest(&native);
    native.extend_from_slice(&digest);
    native
}

/// The native code of a sealed file, if its seal matches.
fn unseal(bytes: &[u8]) -> Option<&[u8]> {
    let split = bytes.len().checked_sub(SEAL_LEN)?;
    let (native, digest) = bytes.split_at(split);
    (Sha256::digest(native).as_slice() == digest).then_some(native)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_bytes_unseal_to_themselves() {
        let sealed = seal(b"native code".to_vec());
        assert_eq!(sealed.len(), b"native code".len() + SEAL_LEN);
        assert_eq!(unseal(&sealed), Some(&b"native code"[..]));
    }

    #[test]
    fn a_changed_or_cut_file_does_not_unseal() {
        let sealed = seal(vec![7; 4096]);
        for index in [0, 2048, sealed.len() - 1] {
            let mut flipped = sealed.clone();
            flipped[index] ^= 0x20;
            assert_eq!(unseal(&flipped), None, "byte {index}");
        }
        assert_eq!(unseal(&sealed[..sealed.len() - 1]), None);
        assert_eq!(unseal(&sealed[..10]), None);
        assert_eq!(unseal(b""), None);
    }
}
