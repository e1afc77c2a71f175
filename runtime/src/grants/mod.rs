//! Each capability a stage is granted, applied in one place.
//!
//! The engine turns a stage's pipeline grants into a [`Sandbox`]: plain
//! host paths, variable names and program paths, with no TOML left in them.
//! This module then builds everything the plugin can reach from that value
//! alone: the WASI context ([`Sandbox::wasi_ctx`]: preopens, environment, no
//! arguments, no sockets), the `exec` policy ([`exec::ExecPolicy`]) and the
//! `http` policy ([`http::HttpPolicy`], matching with [`net`]).
//! Nothing is inherited from the host process; what is not in the sandbox
//! does not exist for the plugin.
//!
//! Every request the host refuses is reported as a [`Denial`] to the run's
//! [`DenialSink`], which logs and audits it.

pub mod confine;
pub mod exec;
pub mod http;
pub mod net;
pub mod proxy;

use std::path::PathBuf;

use serde::Serialize;
use wasmtime_wasi::p2::pipe::{ClosedInputStream, MemoryOutputPipe};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder};

/// How a plugin may use a preopened directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    /// Read files and list directories; nothing can be created or changed.
    ReadOnly,
    /// Read, create, change and remove files below the directory.
    ReadWrite,
}

/// One host directory a plugin sees at a guest path.
#[derive(Debug, Clone, Serialize)]
pub struct Preopen {
    /// The canonical host directory.
    pub host: PathBuf,
    /// Where the plugin sees it, e.g. `/workspace` or `/in/build`.
    pub guest: String,
    pub access: Access,
}

/// A host program a stage may run through `exec`.
#[derive(Debug, Clone, Serialize)]
pub struct Program {
    /// The name the grant and the plugin use, e.g. `cargo`.
    pub name: String,
    /// The absolute path resolved when the pipeline was loaded.
    pub path: PathBuf,
}

/// Everything one stage is allowed to touch.
///
/// Built by the engine from the pipeline's grants; the defaults are empty, so
/// a `Sandbox::default()` grants nothing at all.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Sandbox {
    /// Directories, in the order they are preopened.
    pub preopens: Vec<Preopen>,
    /// Names of host environment variables passed to the plugin and to the
    /// programs it runs. Values are read from the host at stage start and
    /// are never logged.
    pub env: Vec<String>,
    /// Programs the plugin may run.
    pub exec: Vec<Program>,
    /// The directory programs run in: the workspace.
    pub workdir: PathBuf,
    /// Every command (program and arguments) written in the stage's
    /// config: the only ones its programs may be run with.
    pub commands: Vec<Vec<String>>,
    /// Host directories programs may read: the stage's `exec-read` and
    /// read grants and the policy's system directories.
    pub exec_read: Vec<PathBuf>,
    /// Host directories programs may write: the stage's `exec-write` and
    /// write grants.
    pub exec_write: Vec<PathBuf>,
    /// The stage's private temporary directory, programs' `TMPDIR`.
    pub exec_tmp: Option<PathBuf>,
    /// Destinations the plugin may send HTTP requests to, and its programs
    /// may reach through the filtering proxy.
    pub net: Vec<net::Destination>,
}

/// The most a plugin may write to its standard output or error; more is
/// refused to the plugin as a closed stream.
pub const STDIO_CAPTURE_LIMIT: usize = 1 << 20;

/// What the plugin printed to its standard streams, kept for the stage log.
#[derive(Debug, Clone)]
pub struct StdioCapture {
    pub stdout: MemoryOutputPipe,
    pub stderr: MemoryOutputPipe,
}

impl Sandbox {
    /// Builds the WASI context for one stage: the preopens, the granted
    /// environment variables, no arguments, no standard input, captured
    /// standard output and error, and every socket use refused.
    ///
    /// File operations run on the stage's own thread rather than being
    /// handed to a blocking pool one by one: a scan reading thousands of
    /// advisories is several times faster so. A file operation can then
    /// hold the thread past the time limit only if it never returns, which
    /// is why the host refuses to open FIFOs, sockets and devices.
    ///
    /// # Errors
    ///
    /// Fails when a preopened directory cannot be opened, or no longer
    /// resolves to itself (a symlink replaced part of it), naming it.
    pub fn wasi_ctx(&self) -> Result<(WasiCtx, StdioCapture), GrantError> {
        let capture = StdioCapture {
            stdout: MemoryOutputPipe::new(STDIO_CAPTURE_LIMIT),
            stderr: MemoryOutputPipe::new(STDIO_CAPTURE_LIMIT),
        };
        let mut builder = WasiCtxBuilder::new();
        builder
            .stdin(ClosedInputStream)
            .stdout(capture.stdout.clone())
            .stderr(capture.stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .allow_blocking_current_thread(true);
        for (name, value) in self.env_values() {
            builder.env(name, value);
        }
        for preopen in &self.preopens {
            grant_preopen(&mut builder, preopen)?;
        }
        Ok((builder.build(), capture))
    }

    /// The granted variables that are set on the host, with their values.
    ///
    /// A granted name the host does not have is left out, not set empty.
    pub fn env_values(&self) -> Vec<(String, String)> {
        self.env
            .iter()
            .filter_map(|name| Some((name.clone(), std::env::var(name).ok()?)))
            .collect()
    }
}

fn grant_preopen(builder: &mut WasiCtxBuilder, preopen: &Preopen) -> Result<(), GrantError> {
    check_unmoved(preopen)?;
    let perms = match preopen.access {
        Access::ReadOnly => FsPerms::ReadOnly,
        Access::ReadWrite => FsPerms::ReadWrite,
    };
    builder
        .preopened_dir(&preopen.host, &preopen.guest, perms)
        .map_err(|source| GrantError::Preopen {
            host: preopen.host.clone(),
            guest: preopen.guest.clone(),
            message: format!("{source:#}"),
        })?;
    Ok(())
}

/// Checks that a preopen's host directory still resolves to itself.
///
/// Grants are resolved to canonical directories when the pipeline loads;
/// an earlier stage allowed to write the workspace can have replaced a
/// directory on the way with a symlink since, and opening the path would
/// follow it out of the workspace.
fn check_unmoved(preopen: &Preopen) -> Result<(), GrantError> {
    let now = std::fs::canonicalize(&preopen.host).map_err(|e| GrantError::Preopen {
        host: preopen.host.clone(),
        guest: preopen.guest.clone(),
        message: e.to_string(),
    })?;
    if now == preopen.host {
        return Ok(());
    }
    Err(GrantError::Moved {
        host: preopen.host.clone(),
        guest: preopen.guest.clone(),
        now,
    })
}

/// A request the host refused because no grant allows it.
#[derive(Debug, Clone, Serialize)]
pub struct Denial {
    /// Which capability was asked for: `exec`, `env`, `fs`, `net`.
    pub capability: &'static str,
    /// Exactly what was asked, e.g. the program name or `tcp 10.0.0.1:80`.
    pub asked: String,
    /// The grant that would have allowed it, as the pipeline would write it.
    pub missing_grant: String,
}

/// Receives every denial of a stage, to log and audit it.
pub trait DenialSink: Send + Sync {
    /// Records one refused request.
    fn denied(&self, denial: &Denial);
}

/// Errors applying grants.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    #[error("failed to preopen `{}` as `{guest}`: {message}", host.display())]
    Preopen {
        host: PathBuf,
        guest: String,
        message: String,
    },
    /// A granted directory that now resolves elsewhere, through a symlink
    /// made after the pipeline loaded.
    #[error(
        "`{}`, granted as `{guest}`, now leads to `{}`: part of it was replaced by a \
         symlink since the pipeline was loaded",
        host.display(),
        now.display()
    )]
    Moved {
        host: PathBuf,
        guest: String,
        now: PathBuf,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_sandbox_grants_no_environment() {
        let sandbox = Sandbox::default();
        assert!(sandbox.env_values().is_empty());
        assert!(sandbox.wasi_ctx().is_ok());
    }

    #[test]
    fn env_values_skip_names_the_host_lacks() {
        let sandbox = Sandbox {
            env: vec!["PATH".into(), "GANTRY_SURELY_UNSET_VARIABLE".into()],
            ..Sandbox::default()
        };
        let names: Vec<_> = sandbox.env_values().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["PATH"]);
    }

    #[test]
    fn a_preopen_whose_path_became_a_symlink_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(root.path()).unwrap();
        let granted = root.join("ws/src");
        std::fs::create_dir_all(&granted).unwrap();
        std::fs::create_dir(root.join("outside")).unwrap();
        let sandbox = Sandbox {
            preopens: vec![Preopen {
                host: granted.clone(),
                guest: "/workspace/src".into(),
                access: Access::ReadWrite,
            }],
            ..Sandbox::default()
        };
        assert!(sandbox.wasi_ctx().is_ok());

        std::fs::remove_dir(&granted).unwrap();
        std::os::unix::fs::symlink("../outside", &granted).unwrap();
        let Err(err) = sandbox.wasi_ctx() else {
            panic!("a grant that now leads outside was preopened");
        };
        assert!(matches!(err, GrantError::Moved { .. }), "{err}");
        let err = err.to_string();
        assert!(err.contains("/workspace/src"), "{err}");
        assert!(
            err.contains(&root.join("outside").display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn missing_preopen_directory_is_named() {
        let sandbox = Sandbox {
            preopens: vec![Preopen {
                host: "/nonexistent/gantry-grant".into(),
                guest: "/workspace".into(),
                access: Access::ReadOnly,
            }],
            ..Sandbox::default()
        };
        let Err(err) = sandbox.wasi_ctx() else {
            panic!("a missing directory was preopened");
        };
        let err = err.to_string();
        assert!(err.contains("/nonexistent/gantry-grant"), "{err}");
        assert!(err.contains("/workspace"), "{err}");
    }
}
