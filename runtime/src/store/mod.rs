//! The state directory: its lock, run records, digests and atomic writes.
//!
//! Everything Gantry keeps between commands lives under one directory
//! (`--state-dir`, `.gantry` by default):
//!
//! ```text
//! <state-dir>/runs/<run-id>/   run state (run.json), per-stage outputs, logs
//! <state-dir>/audit.jsonl      one hash chain for every run in this state dir
//! <state-dir>/registry/        the embedded OCI registry
//! <state-dir>/cache/           compiled components (mode 0700: native code)
//! <state-dir>/lock             held by the one process using the directory
//! ```
//!
//! [`StateDir`] creates that layout and holds the lock for as long as it
//! lives, so that two `gantry` processes never interleave their writes. Every
//! record is written with [`write_atomic`]: a crash leaves either the old
//! file or the new one, never half of either.
//!
//! Digests are always spelled `sha256:<hex>`. A directory's digest
//! ([`sha256_dir`]) is the sha256 of its sorted list of files and their
//! digests, so it does not depend on the order in which files were created
//! or on timestamps, only on names and contents.
//!
//! This module knows nothing of wasmtime or of pipelines: it stores what the
//! engine gives it.

mod files;
mod run_id;
mod state_dir;

use std::io;
use std::path::PathBuf;

pub use files::{
    sha256_bytes, sha256_dir, sha256_file, sha256_path, write_atomic, write_new_private,
};
pub use run_id::{RunId, timestamp_now};
pub use state_dir::{StateDir, create_private_dir};

/// Everything that can go wrong in the state directory.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A filesystem operation failed; `action` says which ("read", "create
    /// directory", …).
    #[error("failed to {action} `{path}`")]
    Io {
        /// What was being done, as a verb phrase.
        action: &'static str,
        /// The file or directory it was done to.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// Another process holds the state directory's lock.
    #[error(
        "state dir `{dir}` is locked by {}\n\
         hint: another `gantry` is using it; wait for it or pass a different --state-dir",
        holder_name(*holder)
    )]
    Locked {
        /// The state directory.
        dir: PathBuf,
        /// The pid the holder wrote in the lock file, when it could be read.
        holder: Option<u32>,
    },

    /// A run id that is not of the form `YYYYMMDD-HHMMSS-xxxxxx`.
    #[error("invalid run id `{value}`: expected `YYYYMMDD-HHMMSS-xxxxxx` (UTC time, 6 hex digits)")]
    InvalidRunId {
        /// The text that was refused.
        value: String,
    },

    /// No run with this id in the state directory.
    #[error(
        "no run `{run}` in state dir `{dir}`\n\
         hint: `gantry runs` lists the runs this state dir holds"
    )]
    RunNotFound {
        /// The run asked for.
        run: RunId,
        /// The state directory searched.
        dir: PathBuf,
    },

    /// A run's directory is a symlink or a file: gantry makes run
    /// directories itself, and never follows one out of the state dir.
    #[error(
        "run directory `{path}` is a symlink or not a directory\n\
         hint: gantry makes run directories itself; remove this one"
    )]
    StrayRunDir {
        /// The run directory.
        path: PathBuf,
    },

    /// A file that is only ever created, never replaced, already exists.
    #[error(
        "`{path}` already exists; refusing to overwrite it\n\
         hint: choose another path, or move the old file away first"
    )]
    Exists {
        /// The file.
        path: PathBuf,
    },

    /// A new run's directory already exists: run ids are never reused.
    #[error("run directory `{path}` already exists")]
    RunExists {
        /// The run directory.
        path: PathBuf,
    },

    /// A run record could not be turned into JSON.
    #[error("failed to serialize the record of run `{run}`")]
    Serialize {
        /// The run whose record it is.
        run: RunId,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },

    /// A run record is not valid JSON or does not have the expected shape.
    #[error("failed to parse run record `{path}`")]
    Parse {
        /// The run record file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },

    /// A digest was asked of something that is neither a regular file nor a
    /// directory (a symlink, a socket, a device…).
    #[error("cannot hash `{path}`: it is a {kind}, not a regular file or directory")]
    UnsupportedEntry {
        /// The offending path.
        path: PathBuf,
        /// What it is ("symlink", "special file").
        kind: &'static str,
    },
}

impl StoreError {
    /// Builds an [`StoreError::Io`] for `action` on `path`.
    fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        StoreError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// Names the lock holder for [`StoreError::Locked`].
fn holder_name(holder: Option<u32>) -> String {
    match holder {
        Some(pid) => format!("process {pid}"),
        None => "another process".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_error_without_a_readable_pid_still_names_dir_and_hint() {
        let err = StoreError::Locked {
            dir: PathBuf::from("state"),
            holder: None,
        };
        let message = err.to_string();
        assert!(message.starts_with("state dir `state` is locked by another process\n"));
        assert!(message.ends_with("wait for it or pass a different --state-dir"));
    }

    #[test]
    fn io_errors_name_the_action_and_the_path() {
        let source = io::Error::from(io::ErrorKind::PermissionDenied);
        let err = StoreError::io("create directory", "state/runs", source);
        assert_eq!(err.to_string(), "failed to create directory `state/runs`");
        assert!(std::error::Error::source(&err).is_some());
    }
}
