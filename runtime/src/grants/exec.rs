//! The `exec` grant: host programs a stage may run.
//!
//! A plugin names a program and its arguments; the host runs it only when
//! the stage's `exec` grant names the program and the whole command,
//! program and arguments, is written as an array of strings in the stage's
//! `[stage.config]`, so a plugin can neither add a program nor smuggle an
//! argument. The host runs the absolute path resolved when the pipeline was
//! loaded, never a path the plugin supplies, with a cleared environment
//! plus the granted variables (a plugin cannot set `PATH` or anything
//! else), the workspace as its working directory, no standard input, a
//! time limit, and bounded captured output. It runs in its own process
//! group so that the group, with every child it started, is killed when
//! the time limit passes, when the stage ends early, or when `gantry`
//! stops.
//!
//! Where the kernel allows, the program is confined to the stage's grants
//! ([`super::confine`]): it reads and writes only the granted directories,
//! its private `TMPDIR` and `/dev/null`, and reaches the network only
//! through the stage's filtering proxy ([`super::proxy`]), or not at all.

use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::sync::OnceCell;
use tokio::time::Instant;

use super::confine::{
    ConfinementPlan, ConfinementSupport, NAMESPACE_PROXY_PORT, Prepared, ProxyPlan,
    confinement_support, receive_listener,
};
use super::net::NetGrants;
use super::proxy::FilteringProxy;
use super::{Denial, DenialSink, Program, Sandbox};

/// The most output kept from each of a program's two streams; earlier output
/// is dropped so that the end, where errors are, survives.
pub const OUTPUT_CAPTURE_LIMIT: usize = 256 * 1024;

/// What a refused command is missing, as the denial names it.
pub const COMMAND_NOT_IN_CONFIG: &str = "`[stage.config]` listing this command";

/// The variables that point a program at the stage's filtering proxy.
const PROXY_VARS: [&str; 5] = [
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "https_proxy",
    "http_proxy",
    "CARGO_HTTP_PROXY",
];

/// What one stage may run, and how.
pub struct ExecPolicy {
    programs: Vec<Program>,
    commands: Vec<Vec<String>>,
    env: Vec<(String, String)>,
    workdir: PathBuf,
    tmp: Option<PathBuf>,
    fs: ConfinementPlan,
    net: Arc<NetGrants>,
    deadline: Instant,
    denials: Arc<dyn DenialSink>,
    proxy: OnceCell<FilteringProxy>,
    support: &'static ConfinementSupport,
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
    /// Takes the programs, commands, variables, directories and network
    /// grants from `sandbox`; no program may run past `deadline`, the
    /// stage's own. Requests the proxy refuses go to `denials`.
    pub fn new(sandbox: &Sandbox, deadline: Instant, denials: Arc<dyn DenialSink>) -> Self {
        let mut write = sandbox.exec_write.clone();
        write.extend(sandbox.exec_tmp.clone());
        ExecPolicy {
            programs: sandbox.exec.clone(),
            commands: sandbox.commands.clone(),
            env: sandbox.env_values(),
            workdir: sandbox.workdir.clone(),
            tmp: sandbox.exec_tmp.clone(),
            fs: ConfinementPlan {
                read: sandbox.exec_read.clone(),
                write,
                proxy: None,
            },
            net: Arc::new(NetGrants::new(sandbox.net.clone())),
            deadline,
            denials,
            proxy: OnceCell::new(),
            support: confinement_support(),
        }
    }

    /// Finds the granted program a plugin asked for by name, and checks
    /// that the stage's config lists the whole command.
    ///
    /// # Errors
    ///
    /// A [`Denial`] when no grant names the program (a path is never
    /// matched against a name, so `/bin/sh` is refused even when `sh` is
    /// granted), or when `[program, args…]` is not an array in the config.
    pub fn authorize(&self, asked: &str, args: &[String]) -> Result<&Program, Denial> {
        let program = self
            .programs
            .iter()
            .find(|p| p.name == asked)
            .ok_or_else(|| Denial {
                capability: "exec",
                asked: asked.to_owned(),
                missing_grant: format!("exec = [\"{asked}\"]"),
            })?;
        let listed = self.commands.iter().any(|command| {
            command
                .split_first()
                .is_some_and(|(p, a)| p == asked && a == args)
        });
        if !listed {
            let argv: Vec<&str> = std::iter::once(asked)
                .chain(args.iter().map(String::as_str))
                .collect();
            return Err(Denial {
                capability: "exec",
                asked: format!("{argv:?}"),
                missing_grant: COMMAND_NOT_IN_CONFIG.to_owned(),
            });
        }
        Ok(program)
    }

    /// Runs a granted program to its end or its time limit, whichever
    /// comes first; the limit is `timeout` capped by the stage's deadline.
    ///
    /// # Errors
    ///
    /// Fails when the program cannot be confined or started, with the
    /// reason.
    pub async fn run(
        &self,
        program: &Program,
        args: &[String],
        timeout: Option<Duration>,
    ) -> Result<ExecOutcome, String> {
        let started = Instant::now();
        let deadline = timeout.map_or(self.deadline, |t| (started + t).min(self.deadline));
        let (mut command, handover) = self.command(program, args).await?;
        let mut child = command
            .spawn()
            .map_err(|e| format!("failed to start `{}`: {e}", program.path.display()))?;
        // The child handed its namespace's listener over before it ran the
        // program; the proxy serves it while the program runs.
        let _proxy = match handover {
            Some(handover) => Some(handover.serve(&self.net, &self.denials)?),
            None => None,
        };
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

    /// The stage's proxy on the host, started at the first program that
    /// needs it, for kernels without namespaces.
    async fn host_proxy(&self) -> Result<&FilteringProxy, String> {
        let start = || FilteringProxy::start(self.net.clone(), self.denials.clone());
        self.proxy
            .get_or_try_init(start)
            .await
            .map_err(|e| format!("failed to start the network proxy: {e}"))
    }

    async fn command(
        &self,
        program: &Program,
        args: &[String],
    ) -> Result<(Command, Option<HandOver>), String> {
        let mut plan = self.fs.clone();
        let mut handover = None;
        let mut proxy_url = None;
        if !self.net.is_empty() {
            if self.support.namespaces {
                let (host, child) = std::os::unix::net::UnixStream::pair()
                    .map_err(|e| format!("failed to prepare the network proxy: {e}"))?;
                plan.proxy = Some(ProxyPlan::HandOver {
                    channel: child.as_raw_fd(),
                });
                handover = Some(HandOver { host, child });
                proxy_url = Some(format!("http://127.0.0.1:{NAMESPACE_PROXY_PORT}"));
            } else {
                let proxy = self.host_proxy().await?;
                plan.proxy = Some(ProxyPlan::HostPort(proxy.port()));
                proxy_url = Some(proxy.url());
            }
        }
        // The granted program itself may always be read and run, wherever
        // it is; what it needs beside it must be granted.
        plan.read.push(program.path.clone());
        let confinement = Prepared::build(&plan, self.support)
            .map_err(|e| format!("failed to confine `{}`: {e}", program.path.display()))?;

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
        if let Some(tmp) = &self.tmp {
            command.env("TMPDIR", tmp);
        }
        if let Some(url) = &proxy_url {
            command.envs(PROXY_VARS.iter().map(|name| (name, url)));
        }
        // If `gantry` itself is killed outright, the parent-death signal ends
        // the program; programs it started in turn cannot leave its process
        // group (seccomp refuses `setsid`), but nothing is left to kill the
        // group: they run on, still confined, until they end (README,
        // "Security model").
        // SAFETY: the closure runs in the child between fork and exec; it
        // makes only async-signal-safe system calls, prctl(2) and those of
        // `Prepared::enter` on memory prepared before the fork.
        unsafe {
            command.pre_exec(move || {
                nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)?;
                confinement.enter()
            });
        }
        Ok((command, handover))
    }
}

/// The two ends of the Unix socket over which a program's child hands the
/// host its namespace's proxy listener.
struct HandOver {
    host: std::os::unix::net::UnixStream,
    /// Kept open until the child has forked with it.
    child: std::os::unix::net::UnixStream,
}

impl HandOver {
    /// Takes the listener the child sent and serves the proxy on it.
    fn serve(
        self,
        net: &Arc<NetGrants>,
        denials: &Arc<dyn DenialSink>,
    ) -> Result<FilteringProxy, String> {
        drop(self.child);
        let fail = |e: std::io::Error| format!("failed to take over the network proxy: {e}");
        let listener = std::net::TcpListener::from(receive_listener(&self.host).map_err(fail)?);
        listener.set_nonblocking(true).map_err(fail)?;
        let listener = tokio::net::TcpListener::from_std(listener).map_err(fail)?;
        Ok(FilteringProxy::adopt(
            listener,
            net.clone(),
            denials.clone(),
        ))
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

    struct NoDenials;

    impl DenialSink for NoDenials {
        fn denied(&self, _: &Denial) {}
    }

    fn policy_with(commands: &[&[&str]], timeout: Duration) -> ExecPolicy {
        let system = ["/usr", "/lib", "/lib64", "/bin", "/etc"];
        let sandbox = Sandbox {
            exec: vec![Program {
                name: "sh".into(),
                path: "/bin/sh".into(),
            }],
            commands: commands
                .iter()
                .map(|c| c.iter().map(|a| (*a).to_owned()).collect())
                .collect(),
            env: vec!["PATH".into()],
            workdir: std::env::temp_dir(),
            exec_read: system
                .iter()
                .filter_map(|d| std::fs::canonicalize(d).ok())
                .collect(),
            ..Sandbox::default()
        };
        ExecPolicy::new(&sandbox, Instant::now() + timeout, Arc::new(NoDenials))
    }

    async fn run_sh(policy: &ExecPolicy, script: &str, timeout: Option<Duration>) -> ExecOutcome {
        let args = ["-c".to_owned(), script.to_owned()];
        let sh = policy.authorize("sh", &args).unwrap().clone();
        policy.run(&sh, &args, timeout).await.unwrap()
    }

    #[test]
    fn ungranted_program_is_denied_naming_the_grant() {
        let policy = policy_with(&[&["curl"]], Duration::from_secs(5));
        let denial = policy.authorize("curl", &[]).unwrap_err();
        assert_eq!(denial.asked, "curl");
        assert_eq!(denial.missing_grant, "exec = [\"curl\"]");
    }

    #[test]
    fn a_path_does_not_match_a_granted_name() {
        let policy = policy_with(&[&["sh"], &["/bin/sh"]], Duration::from_secs(5));
        assert!(policy.authorize("/bin/sh", &[]).is_err());
        assert!(policy.authorize("sh", &[]).is_ok());
    }

    #[test]
    fn commands_not_written_in_the_config_are_denied() {
        let policy = policy_with(&[&["sh", "-c", "true"]], Duration::from_secs(5));
        let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(policy.authorize("sh", &args(&["-c", "true"])).is_ok());
        for smuggled in [&["-c", "true", "x"][..], &["-c"], &["-c", "false"], &[]] {
            let denial = policy.authorize("sh", &args(smuggled)).unwrap_err();
            assert_eq!(denial.missing_grant, COMMAND_NOT_IN_CONFIG);
        }
        let denial = policy
            .authorize("sh", &args(&["-c", "x\u{1b}[2J"]))
            .unwrap_err();
        assert_eq!(denial.asked, r#"["sh", "-c", "x\u{1b}[2J"]"#);
    }

    #[tokio::test]
    async fn program_sees_only_granted_environment() {
        let script = "env | cut -d= -f1 | sort";
        let policy = policy_with(&[&["sh", "-c", script]], Duration::from_secs(10));
        let out = run_sh(&policy, script, None).await;
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
        let script = "sleep 30 & echo $! ; wait";
        let policy = policy_with(&[&["sh", "-c", script]], Duration::from_secs(30));
        let out = run_sh(&policy, script, Some(Duration::from_millis(300))).await;
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
        let script = "head -c 600000 /dev/zero | tr '\\0' a; echo END";
        let policy = policy_with(&[&["sh", "-c", script]], Duration::from_secs(30));
        let out = run_sh(&policy, script, None).await;
        assert_eq!(out.stdout.len(), OUTPUT_CAPTURE_LIMIT);
        assert!(out.stdout.ends_with(b"END\n"));
    }

    #[tokio::test]
    async fn a_confined_program_reads_only_what_it_is_granted() {
        if !confinement_support().confined() {
            return;
        }
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "s3cret").unwrap();
        let script = format!(
            "cat {0}/secret; echo x > {0}/planted; ls /proc/1/environ; echo done",
            outside.path().display()
        );
        let policy = policy_with(&[&["sh", "-c", &script]], Duration::from_secs(10));
        let out = run_sh(&policy, &script, None).await;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stdout.contains("s3cret"), "{stdout}");
        assert!(stdout.contains("done"), "{stdout} {stderr}");
        assert!(stderr.contains("Permission denied"), "{stderr}");
        assert!(!outside.path().join("planted").exists());
    }
}
