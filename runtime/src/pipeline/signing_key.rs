//! `[pipeline] signing-key`: where the pipeline's own ed25519 key comes
//! from.
//!
//! ```toml
//! [pipeline]
//! signing-key = { path = "keys/pipeline.pem" }   # a `gantry keygen` file
//! # or
//! signing-key = { env = "GANTRY_PIPELINE_KEY" }  # the PEM text itself
//! ```
//!
//! A key file is read and checked when the pipeline loads (it must be a
//! PKCS#8 PEM ed25519 key at mode 0600), so a bad one is reported with its
//! line. A variable is only named here: its value is a secret of the
//! machine that runs the pipeline, read when a run starts, and `inspect`
//! works without it. Without `signing-key`, the engine keeps a key for the
//! pipeline in the state directory.

use std::path::{Path, PathBuf};

use serde::Serialize;
use toml::Spanned;

use super::error::{PipelineError, Scope};
use super::grants::is_env_name;
use super::model::RawSigningKey;
use crate::audit::keys;

/// Where the pipeline's signing key comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SigningKeySource {
    /// A private key file (canonical path), checked when the pipeline
    /// loaded.
    File(PathBuf),
    /// An environment variable holding the key's PEM text.
    Env(String),
}

/// Checks `signing-key = { path | env }`; `dir` is the pipeline file's
/// directory.
pub(super) fn resolve_signing_key(
    dir: &Path,
    raw: Spanned<RawSigningKey>,
    top: &Scope<'_>,
) -> Result<SigningKeySource, PipelineError> {
    let span = raw.span();
    let raw = raw.into_inner();
    match (raw.path, raw.env) {
        (Some(path), None) => {
            let at = top.at(path.span(), "pipeline.signing-key.path");
            let file = super::validate::resolve_key_file(dir, path.get_ref(), at.clone())?;
            keys::load_private_key(&file).map_err(|e| PipelineError::InvalidValue {
                at,
                message: e.to_string(),
            })?;
            Ok(SigningKeySource::File(file))
        }
        (None, Some(name)) if is_env_name(name.get_ref()) => {
            Ok(SigningKeySource::Env(name.into_inner()))
        }
        (None, Some(name)) => Err(PipelineError::InvalidValue {
            at: top.at(name.span(), "pipeline.signing-key.env"),
            message: format!(
                "`{}` is not an environment variable name (letters, digits and `_`, not \
                 starting with a digit)",
                name.get_ref()
            ),
        }),
        _ => Err(PipelineError::InvalidValue {
            at: top.at(span, "pipeline.signing-key"),
            message: "give exactly one of `path` (a key file) or `env` (a variable holding \
                      the key)\n  hint: `gantry keygen --out <file>` makes a key file"
                .to_owned(),
        }),
    }
}
