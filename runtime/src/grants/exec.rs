//! The `exec` grant: host programs a stage may run.
//!
//! A plugin names a program; the host runs it only when the stage's `exec`
//! grant names it, and then runs the absolute path resolved when the
//! pipeline was loaded, never a path the plugin supplies. The program gets
//! a cleared environment plus the granted variables, the workspace as its
//! working directory, no standard input, a time limit, and bounded captured
//! output. It runs in its own process group so that the group, with every
//! child it started, is killed when the time limit passes, when the stage
//! ends early, or when `gantry` stops.
//!
//! Programs run this way are host processes: the kernel does not yet confine
//! them to the stage's directory grants. TODO(#3): confine exec'd programs
//! with Landlock and a network namespace.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::time::Instant;

use super::{Denial, Program, Sandbox};

/// The most output kept from each of a program's two streams; earlier output
/// is dropped so that the end, where errors are, survives.
pub const OUTPUT_CAPTURE_LIMIT: usize = 256 * 1024;

/// What one stage may run, and how.
#[derive(Debug, Clone)]
pub struct ExecPolicy {
    programs: Vec<Program>,
    env: Vec<(String, String)>,
    workdir: PathBuf,
    deadline: Instant,
}

/// A finished program.
#[derive(Debug, Clone, Default)]
pub struct ExecOutcome {
    /// The exit code, or `None` when a signal ended it.
    pub status: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// True when the time limit killed it.
    pub timed_out: bool,
    pub duration: Duration,
}

impl ExecPolicy {
    /// Takes the programs, variables and working directory from `sandbox`;
    /// no program may run past `deadline`, the stage's own.
    pub fn new(sandbox: &Sandbox, deadline: Instant) -> Self {
        ExecPolicy {
            programs: sandbox.exec.clone(),
            env: sandbox.env_values(),
            workdir: sandbox.workdir.clone(),
            deadline,
        }
    }

    /// Finds the granted program a plugin asked for by name.
    ///
    /// # Errors
    ///
    /// A [`Denial`] when no grant names it; a path is never matched against a
    /// name, so `/bin/sh` is refused even when `sh` is granted.
    pub fn authorize(&self, asked: &str) -> Result<&Program, Denial> {
        self.programs
            .iter()
            .find(|p| p.name == asked)
            .ok_or_else(|| Denial {
                capability: "exec",
                asked: asked.to_owned(),
                missing_grant: format!("exec = [\"{asked}\"]"),
            })
    }

    /// Runs a granted program to its end or its time limit, whichever
    /// comes first; the limit is `timeout` capped by the stage's deadline.
    ///
    /// # Errors
    ///
    /// Fails when the program cannot be started, with the reason.
    pub async fn run(
        &self,
        program: &Program,
        args: &[String],
        timeout: Option<Duration>,
    ) -> Result<ExecOutcome, String> {
        let started = Instant::now();
        let deadline = timeout.map_or(self.deadline, |t| (started + t).min(self.deadline));
        let mut child = self
            .command(program, args)
            .spawn()
            .map_err(|e| format!("failed to start `{}`: {e}", program.path.display()))?;
        let group = ProcessGroup(child.id().map(|id| id as i32));

        let stdout = tokio::spawn(read_tail(child.stdout.take()));
        let stderr = tokio::spawn(read_tail(child.stderr.take()));
        let (status, timed_out) = match tokio::time::timeout_at(deadline, child.wait()).await {
            Ok(status) => (status.map_err(|e| e.to_string())?, false),
            Err(_) => {
                group.kill();
                (child.wait().await.map_err(|e| e.to_string())?, true)
            }
        };
        // Descendants that outlived the program would keep the pipes open.
        group.kill();

        Ok(ExecOutcome {
            status: status.code(),
            stdout: stdout.await.unwrap_or_default(),
            stderr: stderr.await.unwrap_or_default(),
            timed_out,
            duration: started.elapsed(),
        })
    }

    fn command(&self, program: &Program, args: &[String]) -> Command {
        let mut command = Command::new(&program.path);
        command
            .args(args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.workdir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        // If `gantry` itself is killed outright, the parent-death signal ends
        // the program, but not programs it started in turn.
        // TODO(#3): a subreaper or cgroup so that a SIGKILL of gantry takes
        // the whole tree down.
        // SAFETY: the closure runs in the child between fork and exec and
        // only makes one async-signal-safe system call, prctl(2).
        unsafe {
            command.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)
            });
        }
        command
    }
}

/// A program's process group, killed whole when dropped.
///
/// Dropping the stage's future (time limit, Ctrl-C) drops this guard, so no
/// program outlives the stage that started it.
struct ProcessGroup(Option<i32>);

impl ProcessGroup {
    fn kill(&self) {
        if let Some(pgid) = self.0 {
            // ESRCH (the group is already gone) is the common, fine case.
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Reads a stream to its end, keeping only its last
/// [`OUTPUT_CAPTURE_LIMIT`] bytes.
async fn read_tail(stream: Option<impl AsyncRead + Unpin>) -> Vec<u8> {
    let Some(mut stream) = stream else {
        return Vec::new();
    };
    let mut kept = Vec::new();
    let mut chunk = vec![0; 64 * 1024];
    while let Ok(n) = stream.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        kept.extend_from_slice(&chunk[..n]);
        if kept.len() > OUTPUT_CAPTURE_LIMIT {
            kept.drain(..kept.len() - OUTPUT_CAPTURE_LIMIT);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy_with(programs: &[(&str, &str)], timeout: Duration) -> ExecPolicy {
        let sandbox = Sandbox {
            exec: programs
                .iter()
                .map(|(name, path)| Program {
                    name: (*name).into(),
                    path: (*path).into(),
                })
                .collect(),
            env: vec!["PATH".into()],
            workdir: std::env::temp_dir(),
            ..Sandbox::default()
        };
        ExecPolicy::new(&sandbox, Instant::now() + timeout)
    }

    #[test]
    fn ungranted_program_is_denied_naming_the_grant() {
        let policy = policy_with(&[("sh", "/bin/sh")], Duration::from_secs(5));
        let denial = policy.authorize("curl").unwrap_err();
        assert_eq!(denial.asked, "curl");
        assert_eq!(denial.missing_grant, "exec = [\"curl\"]");
    }

    #[test]
    fn a_path_does_not_match_a_granted_name() {
        let policy = policy_with(&[("sh", "/bin/sh")], Duration::from_secs(5));
        assert!(policy.authorize("/bin/sh").is_err());
        assert!(policy.authorize("sh").is_ok());
    }

    #[tokio::test]
    async fn program_sees_only_granted_environment() {
        let policy = policy_with(&[("sh", "/bin/sh")], Duration::from_secs(10));
        let sh = policy.authorize("sh").unwrap().clone();
        let out = policy
            .run(&sh, &["-c".into(), "env | cut -d= -f1 | sort".into()], None)
            .await
            .unwrap();
        let names = String::from_utf8_lossy(&out.stdout);
        let names: Vec<_> = names.lines().filter(|n| !n.is_empty()).collect();
        // sh itself may export PWD, SHLVL and `_`; nothing else may appear.
        let unexpected: Vec<_> = names
            .iter()
            .filter(|n| !["PATH", "PWD", "SHLVL", "_"].contains(n))
            .collect();
        assert!(unexpected.is_empty(), "leaked: {unexpected:?}");
        assert_eq!(out.status, Some(0));
    }

    #[tokio::test]
    async fn time_limit_kills_the_program_and_its_children() {
        let policy = policy_with(&[("sh", "/bin/sh")], Duration::from_secs(30));
        let sh = policy.authorize("sh").unwrap().clone();
        let script = "sleep 30 & echo $! ; wait";
        let out = policy
            .run(
                &sh,
                &["-c".into(), script.into()],
                Some(Duration::from_millis(300)),
            )
            .await
            .unwrap();
        assert!(out.timed_out);
        assert_eq!(out.status, None);
        let child: i32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        // The background `sleep` was in the group and must be gone (or a zombie
        // about to be reaped by init), not still sleeping.
        std::thread::sleep(Duration::from_millis(100));
        let state = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
        assert!(
            state.is_empty() || state.contains(") Z"),
            "still alive: {state}"
        );
    }

    #[tokio::test]
    async fn output_keeps_only_the_tail() {
        let policy = policy_with(&[("sh", "/bin/sh")], Duration::from_secs(30));
        let sh = policy.authorize("sh").unwrap().clone();
        let script = "head -c 600000 /dev/zero | tr '\\0' a; echo END";
        let out = policy
            .run(&sh, &["-c".into(), script.into()], None)
            .await
            .unwrap();
        assert_eq!(out.stdout.len(), OUTPUT_CAPTURE_LIMIT);
        assert!(out.stdout.ends_with(b"END\n"));
    }
}
