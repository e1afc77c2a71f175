//! `exec-read` and `exec-write` grants: host directories that programs run
//! through `exec` may use, outside the workspace.
//!
//! An entry is an absolute path, or starts with `~/` (the host's `HOME`) or
//! `$NAME/` (`$NAME` alone too), expanded from the environment `gantry`
//! runs in when the pipeline loads, so that a pipeline can name a
//! toolchain (`$RUSTUP_HOME`) without naming a machine. The result must
//! exist and is canonicalised: what `inspect` shows and the audit trail
//! records is the directory the kernel will confine the program to.

use std::path::{Path, PathBuf};

use super::error::{ExecPathProblem, Location, PipelineError};
use super::grants::is_env_name;

/// Expands and canonicalises one entry, looking variables up with `var`.
pub(super) fn resolve_host_path(
    written: &str,
    var: impl Fn(&str) -> Option<String>,
    at: Location,
) -> Result<PathBuf, PipelineError> {
    let problem = |problem| PipelineError::BadExecPath {
        at: at.clone(),
        path: written.to_owned(),
        problem,
    };
    let expanded = expand(written, &var).map_err(problem)?;
    if !Path::new(&expanded).is_absolute() {
        return Err(problem(ExecPathProblem::NotAbsolute));
    }
    std::fs::canonicalize(&expanded).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound if expanded == written => {
            problem(ExecPathProblem::Missing(String::new()))
        }
        std::io::ErrorKind::NotFound => problem(ExecPathProblem::Missing(expanded.clone())),
        kind => problem(ExecPathProblem::Unresolvable(kind)),
    })
}

/// `~/rest` → `$HOME/rest`, `$NAME/rest` → its value and `rest`; anything
/// else is returned as written.
fn expand(written: &str, var: &impl Fn(&str) -> Option<String>) -> Result<String, ExecPathProblem> {
    let (name, rest) = if written == "~" || written.starts_with("~/") {
        ("HOME", &written[1..])
    } else if let Some(after) = written.strip_prefix('$') {
        let end = after.find('/').unwrap_or(after.len());
        (&after[..end], &after[end..])
    } else {
        return Ok(written.to_owned());
    };
    if !is_env_name(name) {
        return Err(ExecPathProblem::BadVariable(name.to_owned()));
    }
    let value = var(name)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ExecPathProblem::Unset(name.to_owned()))?;
    Ok(format!("{value}{rest}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOME" => Some("/home/dev".into()),
            "CARGO_HOME" => Some("/opt/cargo".into()),
            _ => None,
        }
    }

    #[test]
    fn home_and_variables_expand_at_the_start_only() {
        let cases = [
            ("~/.rustup", "/home/dev/.rustup"),
            ("~", "/home/dev"),
            ("$CARGO_HOME", "/opt/cargo"),
            ("$CARGO_HOME/registry", "/opt/cargo/registry"),
            ("/usr/$CARGO_HOME", "/usr/$CARGO_HOME"),
            ("/opt/x", "/opt/x"),
        ];
        for (written, expected) in cases {
            assert_eq!(expand(written, &env).as_deref(), Ok(expected), "{written}");
        }
    }

    #[test]
    fn unset_and_malformed_variables_are_named() {
        assert_eq!(
            expand("$RUSTUP_HOME/x", &env),
            Err(ExecPathProblem::Unset("RUSTUP_HOME".into()))
        );
        assert_eq!(
            expand("${CARGO_HOME}/x", &env),
            Err(ExecPathProblem::BadVariable("{CARGO_HOME}".into()))
        );
        assert_eq!(
            expand("~root/x", &env),
            Ok("~root/x".into()),
            "left for the absolute-path check to refuse"
        );
    }
}
