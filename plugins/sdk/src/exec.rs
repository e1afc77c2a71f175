//! Running host programs through the `exec` import.
//!
//! The host runs only programs named in the stage's `exec` grant, in the
//! workspace, with a cleared environment; see the WIT docs for the details.

use std::time::Duration;

use crate::StageError;
use crate::bindings::gantry::stage::exec::{self as wit, Command, ExecError};

/// What a finished program left behind.
#[derive(Debug, Clone)]
pub struct Output {
    /// The exit code, or `None` when a signal ended the program.
    pub status: Option<i32>,
    /// Standard output, cut at the host's capture limit.
    pub stdout: Vec<u8>,
    /// Standard error, cut at the host's capture limit.
    pub stderr: Vec<u8>,
    /// True when the time limit killed the program.
    pub timed_out: bool,
}

impl Output {
    /// True when the program exited by itself with status 0.
    pub fn success(&self) -> bool {
        self.status == Some(0) && !self.timed_out
    }

    /// The last `max_bytes` of standard error as text, lossily decoded and
    /// starting at a line boundary where one is near.
    pub fn stderr_tail(&self, max_bytes: usize) -> String {
        tail_text(&self.stderr, max_bytes)
    }

    /// The last `max_bytes` of standard output as text, like [`Self::stderr_tail`].
    pub fn stdout_tail(&self, max_bytes: usize) -> String {
        tail_text(&self.stdout, max_bytes)
    }

    /// Says how the program ended: "exit status 1", "killed by a signal" or
    /// "timed out".
    pub fn describe_status(&self) -> String {
        match (self.timed_out, self.status) {
            (true, _) => "timed out".to_owned(),
            (false, Some(code)) => format!("exit status {code}"),
            (false, None) => "killed by a signal".to_owned(),
        }
    }
}

/// Runs `program` with `args` in the workspace, waiting at most `timeout`
/// (the stage's own deadline applies as well).
///
/// A program that runs and fails is an `Ok` whose [`Output::success`] is
/// false: the caller decides what a failure means for its verdict.
///
/// # Errors
///
/// Returns [`StageError::Internal`] when the program is not in the stage's
/// `exec` grant or the host could not start it.
pub fn run(
    program: &str,
    args: &[String],
    timeout: Option<Duration>,
) -> Result<Output, StageError> {
    let command = Command {
        program: program.to_owned(),
        args: args.to_vec(),
        timeout_ms: timeout.map(|limit| u64::try_from(limit.as_millis()).unwrap_or(u64::MAX)),
    };
    let output = wit::run(&command).map_err(|error| refusal(program, error))?;
    Ok(Output {
        status: output.status,
        stdout: output.stdout,
        stderr: output.stderr,
        timed_out: output.timed_out,
    })
}

/// Runs a command line given as a list, as plugins' configs write it:
/// the first element is the program, the rest its arguments.
///
/// # Errors
///
/// Returns [`StageError::InvalidConfig`] naming `key` when the list is
/// empty, and otherwise what [`run`] returns.
pub fn run_command_line(
    key: &str,
    command: &[String],
    timeout: Option<Duration>,
) -> Result<Output, StageError> {
    let Some((program, args)) = command.split_first() else {
        return Err(crate::config::invalid(key, "must name a program to run"));
    };
    run(program, args, timeout)
}

fn refusal(program: &str, error: ExecError) -> StageError {
    StageError::Internal(match error {
        ExecError::NotGranted(reason) => format!(
            "program `{program}` is not granted: {reason}; add it to the stage's `exec` grant"
        ),
        ExecError::SpawnFailed(reason) => format!("failed to start program `{program}`: {reason}"),
    })
}

/// Decodes the last `max_bytes` of `bytes`, dropping a partial first line
/// when a line break is close to the cut.
fn tail_text(bytes: &[u8], max_bytes: usize) -> String {
    if bytes.len() <= max_bytes {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let tail = &bytes[bytes.len() - max_bytes..];
    let start = tail
        .iter()
        .position(|&byte| byte == b'\n')
        .map_or(0, |newline| newline + 1);
    let start = if start < tail.len() { start } else { 0 };
    String::from_utf8_lossy(&tail[start..]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_output_is_kept_whole() {
        assert_eq!(tail_text(b"one\ntwo\n", 100), "one\ntwo\n");
    }

    #[test]
    fn long_output_is_cut_at_a_line_boundary() {
        assert_eq!(tail_text(b"first line\nsecond\nthird\n", 12), "third\n");
    }

    #[test]
    fn output_without_line_breaks_keeps_the_last_bytes() {
        assert_eq!(tail_text(b"abcdefgh", 3), "fgh");
    }

    #[test]
    fn a_timed_out_program_is_not_a_success() {
        let output = Output {
            status: Some(0),
            stdout: vec![],
            stderr: vec![],
            timed_out: true,
        };
        assert!(!output.success());
        assert_eq!(output.describe_status(), "timed out");
    }
}
