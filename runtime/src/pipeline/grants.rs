//! What a stage is granted: directories to read and write, programs to run,
//! environment variables and network destinations, resolved against the host
//! when the pipeline loads.
//!
//! Resolution happens once, here, so that what `inspect` shows, what the
//! audit trail records and what the sandbox applies are the same thing:
//! canonical host directories and absolute program paths.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Component, Path, PathBuf};

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use toml::Spanned;

use super::error::{GrantPathProblem, Location, PipelineError, Scope};
use super::host_paths::resolve_host_path;
use super::model::RawGrants;
use super::names::MountName;
use super::net::{NetGrant, parse_net};

/// Everything one plugin stage may touch; each list is empty unless granted.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StageGrants {
    /// Directories the stage may read.
    pub read: Vec<GrantPath>,
    /// Directories the stage may write (and read).
    pub write: Vec<GrantPath>,
    /// Host programs the stage may run through the `exec` import.
    pub exec: Vec<ExecGrant>,
    /// Names of host environment variables passed to `exec`ed programs.
    pub env: Vec<String>,
    /// Destinations the stage may reach through the `http` import (and
    /// programs it runs, through the host's filtering proxy).
    pub net: Vec<NetGrant>,
    /// Host directories (or files) that programs run through `exec` may
    /// read, besides the stage's own grants: canonical, existing.
    #[serde(rename = "exec-read")]
    pub exec_read: Vec<PathBuf>,
    /// As `exec_read`, read and write.
    #[serde(rename = "exec-write")]
    pub exec_write: Vec<PathBuf>,
}

/// A directory a stage is granted: part of the workspace, or a mount.
///
/// Serializes as `{ "grant": <as written>, "guest": <guest path>, "host":
/// <host path or null> }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantPath {
    /// A directory inside the workspace.
    Workspace {
        /// Normalised path relative to the workspace: `.` for all of it.
        rel: PathBuf,
        /// The canonical host directory, inside the canonical workspace.
        host: PathBuf,
    },
    /// A named mount.
    Mount {
        /// The mount's name.
        name: MountName,
        /// The canonical host directory; `None` for the built-in `registry`,
        /// which the host provides.
        host: Option<PathBuf>,
    },
}

impl GrantPath {
    /// Where the stage sees this directory: `/workspace`, `/workspace/src`,
    /// `/mnt/osv`.
    pub fn guest_path(&self) -> String {
        match self {
            Self::Workspace { rel, .. } if rel == Path::new(".") => "/workspace".to_owned(),
            Self::Workspace { rel, .. } => format!("/workspace/{}", slash_path(rel)),
            Self::Mount { name, .. } => format!("/mnt/{name}"),
        }
    }

    /// The grant as a pipeline file writes it, normalised: `.`, `src`,
    /// `mount:osv`.
    pub fn as_written(&self) -> String {
        match self {
            Self::Workspace { rel, .. } => slash_path(rel),
            Self::Mount { name, .. } => format!("mount:{name}"),
        }
    }

    /// The host directory, when the pipeline names one.
    pub fn host_path(&self) -> Option<&Path> {
        match self {
            Self::Workspace { host, .. } => Some(host),
            Self::Mount { host, .. } => host.as_deref(),
        }
    }
}

impl Serialize for GrantPath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut grant = s.serialize_struct("GrantPath", 3)?;
        grant.serialize_field("grant", &self.as_written())?;
        grant.serialize_field("guest", &self.guest_path())?;
        grant.serialize_field("host", &self.host_path())?;
        grant.end()
    }
}

/// A host program a stage may run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExecGrant {
    /// The name as granted (`cargo`, or an absolute path).
    pub name: String,
    /// The absolute path it resolved to when the pipeline loaded.
    pub resolved: PathBuf,
}

/// What grants are resolved against.
pub(super) struct GrantRoots<'a> {
    /// The canonical workspace.
    pub workspace: &'a Path,
    /// The declared mounts, canonical.
    pub mounts: &'a BTreeMap<MountName, PathBuf>,
    /// The `PATH` that bare program names are looked up on.
    pub search_path: Option<&'a OsStr>,
}

/// Resolves a stage's `[stage.grants]` table.
pub(super) fn resolve_grants(
    raw: RawGrants,
    roots: &GrantRoots<'_>,
    scope: &Scope<'_>,
) -> Result<StageGrants, PipelineError> {
    let paths = |entries: Vec<Spanned<String>>, key: &str| {
        entries
            .into_iter()
            .map(|entry| resolve_path(entry.get_ref(), roots, scope.at(entry.span(), key)))
            .collect::<Result<Vec<_>, _>>()
    };
    let read = paths(raw.read, "grants.read")?;
    let write = paths(raw.write, "grants.write")?;

    let exec = raw
        .exec
        .into_iter()
        .map(|name| check_exec(&name, roots, scope))
        .collect::<Result<_, _>>()?;
    let env = raw
        .env
        .into_iter()
        .map(|name| check_env(name, scope))
        .collect::<Result<_, _>>()?;
    let net = raw
        .net
        .into_iter()
        .map(|entry| check_net(entry, scope))
        .collect::<Result<_, _>>()?;
    let host_paths = |entries: Vec<Spanned<String>>, key: &str| {
        entries
            .into_iter()
            .map(|entry| {
                let at = scope.at(entry.span(), key);
                resolve_host_path(entry.get_ref(), |name| std::env::var(name).ok(), at)
            })
            .collect::<Result<Vec<_>, _>>()
    };
    let exec_read = host_paths(raw.exec_read, "grants.exec-read")?;
    let exec_write = host_paths(raw.exec_write, "grants.exec-write")?;
    Ok(StageGrants {
        read,
        write,
        exec,
        env,
        net,
        exec_read,
        exec_write,
    })
}

/// Resolves one `read` or `write` entry: `mount:<name>`, or a path inside
/// the workspace.
fn resolve_path(
    written: &str,
    roots: &GrantRoots<'_>,
    at: Location,
) -> Result<GrantPath, PipelineError> {
    let Some(name) = written.strip_prefix("mount:") else {
        return resolve_workspace_path(written, roots.workspace, at);
    };
    let name = MountName::new(name).map_err(|reason| PipelineError::InvalidName {
        at: at.clone(),
        kind: "mount name",
        value: name.to_owned(),
        reason,
    })?;
    if name.is_registry() {
        return Ok(GrantPath::Mount { name, host: None });
    }
    match roots.mounts.get(&name) {
        Some(host) => Ok(GrantPath::Mount {
            host: Some(host.clone()),
            name,
        }),
        None => Err(PipelineError::UndeclaredMount {
            at,
            name: name.to_string(),
        }),
    }
}

/// Resolves a workspace grant, refusing anything that leaves the workspace
/// by `..`, by being absolute, or through a symlink.
fn resolve_workspace_path(
    written: &str,
    workspace: &Path,
    at: Location,
) -> Result<GrantPath, PipelineError> {
    let path = written.to_owned();
    let rel = match normalise_grant(written) {
        Ok(rel) => rel,
        Err(NormaliseError::Absolute) => return Err(PipelineError::AbsoluteGrant { at, path }),
        Err(NormaliseError::ClimbsOut) => return Err(PipelineError::GrantClimbsOut { at, path }),
        Err(NormaliseError::Empty) => {
            let what = "a grant path";
            return Err(PipelineError::Empty { at, what });
        }
    };

    let problem = |problem| PipelineError::BadGrantPath {
        at: at.clone(),
        path: written.to_owned(),
        problem,
    };
    let host = std::fs::canonicalize(workspace.join(&rel)).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => problem(GrantPathProblem::Missing),
        kind => problem(GrantPathProblem::Unresolvable(kind)),
    })?;
    if !host.starts_with(workspace) {
        return Err(PipelineError::GrantEscapes {
            at,
            path,
            target: host,
        });
    }
    if !host.is_dir() {
        return Err(problem(GrantPathProblem::NotADirectory));
    }
    Ok(GrantPath::Workspace { rel, host })
}

/// Why a grant path cannot be normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NormaliseError {
    Empty,
    Absolute,
    ClimbsOut,
}

/// Normalises a workspace grant path without touching the file system:
/// drops `.` and empty components, applies `..` to what precedes it, and
/// returns `.` for the workspace itself. An empty path is refused rather
/// than read as the whole workspace.
pub(super) fn normalise_grant(written: &str) -> Result<PathBuf, NormaliseError> {
    if written.is_empty() {
        return Err(NormaliseError::Empty);
    }
    let mut parts: Vec<&OsStr> = Vec::new();
    for component in Path::new(written).components() {
        match component {
            Component::Prefix(_) | Component::RootDir => return Err(NormaliseError::Absolute),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop().ok_or(NormaliseError::ClimbsOut)?;
            }
            Component::Normal(part) => parts.push(part),
        }
    }
    if parts.is_empty() {
        return Ok(PathBuf::from("."));
    }
    Ok(parts.iter().collect())
}

/// A relative path with `/` separators, whatever the host's separator.
pub(super) fn slash_path(rel: &Path) -> String {
    let parts: Vec<_> = rel.iter().map(|p| p.to_string_lossy()).collect();
    parts.join("/")
}

/// Resolves an `exec` grant to an absolute program path.
///
/// A bare name is looked up on `search_path` (relative entries of which are
/// skipped, since they would depend on the directory a run starts in); a
/// name with a `/` must be an absolute path to an executable file.
pub(super) fn resolve_exec(
    name: &str,
    search_path: Option<&OsStr>,
    at: Location,
) -> Result<ExecGrant, PipelineError> {
    let name = name.to_owned();
    if name.is_empty() {
        let what = "a program name";
        return Err(PipelineError::Empty { at, what });
    }
    if name.contains('/') {
        let path = Path::new(&name);
        if !path.is_absolute() {
            return Err(PipelineError::RelativeExec { at, name });
        }
        if !is_executable_file(path) {
            return Err(PipelineError::NotExecutable { at, name });
        }
        let resolved = path.to_path_buf();
        return Ok(ExecGrant { name, resolved });
    }
    match find_on_path(&name, search_path) {
        Some(resolved) => Ok(ExecGrant { name, resolved }),
        None => Err(PipelineError::ExecNotFound { at, name }),
    }
}

fn check_exec(
    name: &Spanned<String>,
    roots: &GrantRoots<'_>,
    scope: &Scope<'_>,
) -> Result<ExecGrant, PipelineError> {
    let at = scope.at(name.span(), "grants.exec");
    resolve_exec(name.get_ref(), roots.search_path, at)
}

fn find_on_path(name: &str, search_path: Option<&OsStr>) -> Option<PathBuf> {
    let dirs = std::env::split_paths(search_path?);
    dirs.filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable_file(candidate))
}

fn is_executable_file(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;

    std::fs::metadata(path)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

fn check_env(name: Spanned<String>, scope: &Scope<'_>) -> Result<String, PipelineError> {
    if is_env_name(name.get_ref()) {
        return Ok(name.into_inner());
    }
    Err(PipelineError::InvalidEnvName {
        at: scope.at(name.span(), "grants.env"),
        name: name.into_inner(),
    })
}

/// Whether `name` is a portable environment variable name:
/// `[A-Za-z_][A-Za-z0-9_]*`.
pub(super) fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn check_net(entry: Spanned<String>, scope: &Scope<'_>) -> Result<NetGrant, PipelineError> {
    parse_net(entry.get_ref()).map_err(|reason| PipelineError::InvalidNet {
        at: scope.at(entry.span(), "grants.net"),
        entry: entry.get_ref().clone(),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_paths_normalise_dots_slashes_and_inner_parents() {
        let cases = [
            (".", "."),
            ("./", "."),
            ("src", "src"),
            ("./src/", "src"),
            ("src//lib/./x", "src/lib/x"),
            ("src/../docs", "docs"),
            ("a/b/../..", "."),
        ];
        for (written, expected) in cases {
            assert_eq!(
                normalise_grant(written),
                Ok(PathBuf::from(expected)),
                "{written}"
            );
        }
    }

    #[test]
    fn grant_paths_that_leave_the_workspace_are_refused() {
        assert_eq!(normalise_grant(".."), Err(NormaliseError::ClimbsOut));
        assert_eq!(
            normalise_grant("src/../../x"),
            Err(NormaliseError::ClimbsOut)
        );
        assert_eq!(normalise_grant("/etc"), Err(NormaliseError::Absolute));
        assert_eq!(normalise_grant(""), Err(NormaliseError::Empty));
    }

    /// A workspace with directories, a file, and symlinks that stay inside
    /// or lead out to a sibling; returns the root and the canonical
    /// workspace.
    fn linked_workspace() -> (tempfile::TempDir, PathBuf) {
        let root = tempfile::tempdir().unwrap();
        let canonical_root = std::fs::canonicalize(root.path()).unwrap();
        let ws = canonical_root.join("ws");
        std::fs::create_dir_all(ws.join("a/b")).unwrap();
        std::fs::create_dir_all(canonical_root.join("outside/x")).unwrap();
        std::fs::write(ws.join("a/file"), b"f").unwrap();
        std::os::unix::fs::symlink("a/b", ws.join("in")).unwrap();
        std::os::unix::fs::symlink("../outside", ws.join("out")).unwrap();
        std::os::unix::fs::symlink(canonical_root.join("outside"), ws.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../..", ws.join("a/up")).unwrap();
        (root, ws)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(64)
        ))]

        /// Whatever a pipeline writes, a resolved workspace grant is a
        /// canonical directory inside the workspace.
        #[test]
        fn no_grant_resolves_outside_the_workspace(
            written in "(\\.\\.|\\.|/|a|b|in|out|abs|up|file|ws|outside|x|\\x00|\\\\|~|\\$HOME| |\\PC){0,8}",
        ) {
            let (_root, ws) = linked_workspace();
            let at = Location::unknown_for_tests();
            if let Ok(GrantPath::Workspace { host, rel }) = resolve_workspace_path(&written, &ws, at) {
                proptest::prop_assert!(host.starts_with(&ws), "{written:?} -> {}", host.display());
                proptest::prop_assert!(host.is_dir());
                proptest::prop_assert_eq!(std::fs::canonicalize(&host).unwrap(), host.clone());
                proptest::prop_assert!(rel.is_relative());
                proptest::prop_assert!(!rel.components().any(|c| c == Component::ParentDir));
            }
        }
    }

    #[test]
    fn symlinked_grants_resolve_inside_or_are_refused() {
        let (_root, ws) = linked_workspace();
        let resolve =
            |written: &str| resolve_workspace_path(written, &ws, Location::unknown_for_tests());
        let Ok(GrantPath::Workspace { host, .. }) = resolve("in") else {
            panic!("a link inside the workspace was refused");
        };
        assert_eq!(host, ws.join("a/b"));
        for escaping in ["out", "abs", "a/up", "out/x", "in/../../outside"] {
            assert!(resolve(escaping).is_err(), "{escaping} resolved");
        }
    }

    #[test]
    fn guest_paths_place_the_workspace_and_mounts() {
        let workspace = |rel: &str| GrantPath::Workspace {
            rel: PathBuf::from(rel),
            host: PathBuf::from("/h"),
        };
        assert_eq!(workspace(".").guest_path(), "/workspace");
        assert_eq!(workspace("src/lib").guest_path(), "/workspace/src/lib");
        let name = MountName::new("osv").expect("valid");
        let mount = GrantPath::Mount { name, host: None };
        assert_eq!(mount.guest_path(), "/mnt/osv");
        assert_eq!(mount.as_written(), "mount:osv");
    }

    #[test]
    fn grant_paths_serialize_with_guest_and_host() {
        let grant = GrantPath::Workspace {
            rel: PathBuf::from("src"),
            host: PathBuf::from("/ws/src"),
        };
        let json = serde_json::to_string(&grant).expect("json");
        assert_eq!(
            json,
            r#"{"grant":"src","guest":"/workspace/src","host":"/ws/src"}"#
        );
    }

    #[test]
    fn env_names_follow_the_portable_rule() {
        for name in ["HOME", "PATH", "_X", "cargo_home", "A1"] {
            assert!(is_env_name(name), "{name}");
        }
        for name in ["", "1A", "A-B", "A=B", "Ä"] {
            assert!(!is_env_name(name), "{name}");
        }
    }

    #[test]
    fn bare_program_names_resolve_on_the_search_path() {
        let search_path = std::env::var_os("PATH");
        let at = crate::pipeline::error::Source::new("x".into(), String::new()).at(0..0, "");
        let exec = resolve_exec("sh", search_path.as_deref(), at).expect("sh is on PATH");
        assert!(exec.resolved.is_absolute());
        assert!(exec.resolved.ends_with("sh"));
    }

    #[test]
    fn programs_are_not_looked_up_in_relative_path_entries() {
        let at = crate::pipeline::error::Source::new("x".into(), String::new()).at(0..0, "");
        let found = resolve_exec("sh", Some(OsStr::new("bin:.")), at);
        assert!(matches!(found, Err(PipelineError::ExecNotFound { .. })));
    }
}
