//! The pipeline model: the TOML schema of a pipeline file and its
//! validation.
//!
//! [`load`] reads a pipeline file and returns a [`PipelineSpec`] in which
//! everything the engine and sandbox rely on has been checked against the
//! file system once: the workspace, mounts, policy and roles files exist,
//! every grant path is a canonical directory inside the workspace (or a
//! declared mount), every `exec` grant is an absolute program path, and the
//! stages form a graph without cycles. This module knows nothing of
//! wasmtime.
//!
//! # Errors
//!
//! Every problem is a [`PipelineError`] whose `Display` is the whole message
//! for the user, in the form
//!
//! ```text
//! pipelines/x.toml:14: stage `scan`, `grants`: unknown key `netwrk`
//!   hint: the keys allowed here are `read`, `write`, `exec`, `env`, `net`, `exec-read` and
//!   `exec-write`
//! ```
//!
//! # Layout
//!
//! - `model`: the file as serde reads it; every table refuses unknown keys.
//! - `parse`: TOML parsing, with toml's errors located by key path.
//! - `validate`: raw model to [`PipelineSpec`]; `graph` orders stages.
//! - `grants`, `net`, `limits`, `names`: the value types and their parsers.
//! - `roles`: the roles file; `policy`: the policy file.

mod error;
mod grants;
mod graph;
mod host_paths;
mod limits;
mod model;
mod names;
mod net;
mod parse;
mod policy;
mod roles;
mod signing_key;
mod spec;
mod validate;

use std::path::Path;

pub use error::{ExecPathProblem, GrantPathProblem, Location, PathProblem, PipelineError};
pub use grants::{ExecGrant, GrantPath, StageGrants};
pub use limits::{DEFAULT_MEMORY, DEFAULT_TIMEOUT, MAX_MEMORY, MAX_TIMEOUT, StageLimits};
pub use names::{MAX_NAME_LEN, MountName, StageId, escape_deceptive, is_deceptive_char};
pub use net::NetGrant;
pub use policy::{
    Ceiling, Confinement, DEFAULT_EXEC_READ, Excess, ExecRules, PluginKind, Policy, PublicKey,
    Signer, TrustPolicy, load_policy_file,
};
pub use roles::{Roles, load_roles};
pub use signing_key::SigningKeySource;
pub use spec::{
    ApprovalGate, BuiltinPlugin, PipelineSpec, PluginSource, PluginStage, PolicyRef, StageKind,
    StageSpec,
};

use error::Source;
use model::RawDocument;

/// Reads, parses and validates the pipeline file at `path`.
///
/// Relative paths in the file are resolved against the directory holding
/// it; bare `exec` program names against the current `PATH`. Messages name
/// the file as `path` is written.
///
/// # Errors
///
/// Returns [`PipelineError`] for an unreadable file, invalid TOML, an
/// unknown or missing key, a value of the wrong shape, a path that is
/// missing or leaves the workspace, an unresolvable program, or a stage
/// graph with unknown `needs` or a cycle.
pub fn load(path: &Path) -> Result<PipelineSpec, PipelineError> {
    let source = read_source(path, path.display().to_string())?;
    let raw: RawDocument = parse::parse_toml(&source)?;
    let file = std::fs::canonicalize(path).map_err(|reason| PipelineError::Read {
        file: path.display().to_string(),
        reason,
    })?;
    let spec = validate::validate_pipeline(&source, raw, file, path.display().to_string())?;
    tracing::debug!(
        pipeline = %spec.name,
        file = %spec.display_path,
        stages = spec.stages.len(),
        "loaded pipeline"
    );
    Ok(spec)
}

/// Reads a TOML file for parsing, remembering the name to report it under.
fn read_source(path: &Path, display: String) -> Result<Source, PipelineError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Source::new(display, text)),
        Err(reason) => Err(PipelineError::Read {
            file: display,
            reason,
        }),
    }
}
