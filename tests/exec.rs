//! Programs run through `exec`, attacked from the plugin and from the
//! program itself.
//!
//! The plugin (`plugins/hostile/exec-confined`) runs commands as the stage's
//! config writes them, or altered: another program, a relative path, extra
//! arguments. The host must refuse every alteration and audit it. A
//! command the config does write runs, confined by the kernel: these tests
//! write commands (`bash -c …`, `curl …`) that try to read and write
//! outside the grants, reach a TCP server on loopback, get past the
//! filtering proxy or send UDP, and check from the host's side that nothing
//! got through: the secret beside the workspace is unread, no file outside
//! the write grants appeared, the test's own servers saw nothing, every
//! refusal is on the audit trail, and the trail verifies.

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use serde_json::Value;

use crate::support::{Gantry, Ran, Scratch, one_stage_pipeline, stage, test_plugin};

/// What a denied command is missing, as the host names it.
const NOT_IN_CONFIG: &str = "`[stage.config]` listing this command";

/// One stage running `exec-confined`, in its own state directory, with a
/// secret beside the workspace.
struct ExecCase {
    gantry: Gantry,
    scratch: Scratch,
    secret: String,
}

impl ExecCase {
    /// `stage_extra` gets the scratch directory and returns the stage's
    /// grants and config.
    fn new(stage_extra: impl FnOnce(&Path) -> String) -> Result<ExecCase> {
        let scratch = Scratch::new("")?;
        let name = scratch.path().file_name().context("scratch name")?;
        let secret = format!("gantry-exec-secret-{}", name.to_string_lossy());
        fs::write(scratch.path().join("secret"), &secret)?;
        fs::create_dir_all(scratch.workspace().join("target"))?;
        fs::create_dir_all(scratch.workspace().join("src"))?;
        let extra = stage_extra(scratch.path());
        let pipeline = one_stage_pipeline(&test_plugin("exec-confined"), &extra);
        scratch.write("pipeline.toml", &pipeline)?;
        Ok(ExecCase {
            gantry: Gantry::new()?,
            scratch,
            secret,
        })
    }

    fn run(&self) -> Result<Ran> {
        self.gantry
            .run(&["--json", "run", &self.scratch.pipeline()])
    }

    /// Runs, expects the stage to pass, and returns its attempts.
    fn run_passing(&self) -> Result<Value> {
        let ran = self.run()?;
        ensure!(ran.code == 0, "expected exit 0: {ran:?}");
        let record = self.gantry.run_record(&self.gantry.only_run()?)?;
        let probe = stage(&record, "probe")?;
        ensure!(probe["verdict"] == "pass", "{probe:#}");
        ensure!(!ran.stdout.contains(&self.secret), "secret on stdout");
        ensure!(!ran.stderr.contains(&self.secret), "secret on stderr");
        ensure!(
            !record.to_string().contains(&self.secret),
            "secret in the run record"
        );
        Ok(probe["metadata"].clone())
    }

    fn events(&self, kind: &str) -> Result<Vec<Value>> {
        let events = self.gantry.audit_events_of(&self.gantry.only_run()?)?;
        Ok(events.into_iter().filter(|e| e["event"] == kind).collect())
    }

    /// Asserts the audit trail has exactly these `exec` denials, by what
    /// was asked and the grant named missing.
    fn assert_denied(&self, expected: &[(&str, &str)]) -> Result<()> {
        let denials = self.events("denied")?;
        ensure!(denials.len() == expected.len(), "denials: {denials:#?}");
        for (asked, missing) in expected {
            let denial = denials
                .iter()
                .find(|d| d["asked"] == *asked)
                .with_context(|| format!("no denial of {asked} in {denials:#?}"))?;
            ensure!(denial["missing_grant"] == *missing, "{denial:#}");
            ensure!(denial["stage"] == "probe", "{denial:#}");
        }
        Ok(())
    }

    /// Asserts that nothing outside the workspace's `target/` was written:
    /// the scratch directory holds what the test made, and the pipeline's
    /// write grants cover nothing else.
    fn assert_nothing_planted(&self) -> Result<()> {
        for planted in ["planted", "ws/planted", "ws/src/planted"] {
            let path = self.scratch.path().join(planted);
            ensure!(!path.exists(), "`{planted}` was written");
        }
        Ok(())
    }
}

/// Runs a harmless command in the same state directory and checks it is
/// unaffected by the case before it: it passes, that case's record is as
/// it was, and the trail verifies across both runs.
fn assert_next_run_unaffected(case: &ExecCase) -> Result<()> {
    let before = case.gantry.only_run()?;
    let record = case.gantry.run_record(&before)?;
    let extra = format!(
        "[stage.grants]\nexec = [\"sh\"]\n[stage.config]\n{}",
        run_entry("next", &["sh", "-c", "echo next"], "runs", "")
    );
    let next = Scratch::new(&one_stage_pipeline(&test_plugin("exec-confined"), &extra))?;
    let ran = case.gantry.run(&["--json", "run", &next.pipeline()])?;
    ensure!(ran.code == 0, "the next run failed: {ran:?}");
    ensure!(ran.json()?["status"] == "succeeded", "{}", ran.stdout);
    ensure!(
        case.gantry.run_record(&before)? == record,
        "the first run's record changed"
    );
    case.gantry.assert_audit_intact()
}

/// `attempt.<label>` of a stage's metadata.
fn attempt<'a>(metadata: &'a Value, label: &str) -> Result<&'a str> {
    metadata[format!("attempt.{label}")]
        .as_str()
        .with_context(|| format!("no attempt `{label}` in {metadata:#}"))
}

/// A `[[stage.config.run]]` entry.
fn run_entry(label: &str, command: &[&str], expect: &str, alter: &str) -> String {
    format!(
        "[[stage.config.run]]\nlabel = {label:?}\ncommand = {command:?}\nexpect = {expect:?}\n\
         {alter}\n"
    )
}

/// A TCP server on loopback that records whether anyone connected.
fn tcp_witness() -> Result<(u16, mpsc::Receiver<String>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let (sender, seen) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let mut request = [0; 1024];
            let n = stream.read(&mut request).unwrap_or(0);
            let request = String::from_utf8_lossy(&request[..n]).into_owned();
            let reply = "HTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: close\r\n\r\nwitness";
            let _ = stream.write_all(reply.as_bytes());
            let _ = sender.send(request);
        }
    });
    Ok((port, seen))
}

#[test]
fn relative_paths_and_ungranted_programs_are_refused() -> Result<()> {
    let case = ExecCase::new(|_| {
        let mut extra = "[stage.grants]\nexec = [\"sh\"]\n[stage.config]\n".to_owned();
        let command = ["sh", "-c", "echo real"];
        extra += &run_entry("granted", &command, "runs", "");
        for program in ["./sh", "../bin/sh", "/bin/sh", "bash", "cargo"] {
            let alter = format!("program = {program:?}");
            extra += &run_entry(program, &command, "not-granted", &alter);
        }
        extra
    })?;
    let metadata = case.run_passing()?;
    ensure!(attempt(&metadata, "granted")?.contains("stdout \"real\\n\""));
    let denied: Vec<(String, String)> = ["./sh", "../bin/sh", "/bin/sh", "bash", "cargo"]
        .iter()
        .map(|p| (p.to_string(), format!("exec = [\"{p}\"]")))
        .collect();
    let denied: Vec<(&str, &str)> = denied
        .iter()
        .map(|(a, m)| (a.as_str(), m.as_str()))
        .collect();
    case.assert_denied(&denied)?;
    ensure!(
        case.events("exec")?.len() == 1,
        "only the granted command ran"
    );
    case.gantry.assert_audit_intact()?;
    assert_next_run_unaffected(&case)
}

#[test]
fn a_plugin_cannot_change_path_or_run_a_planted_program() -> Result<()> {
    let case = ExecCase::new(|_| {
        let command = ["sh", "-c", "echo \"PATH=$PATH\"; command -v sh"];
        format!(
            "[stage.grants]\nread = [\".\"]\nwrite = [\".\"]\nexec = [\"sh\"]\nenv = [\"PATH\"]\n\
             [stage.config]\nset-path = \"/workspace/bin:.\"\n{}",
            run_entry("path", &command, "runs", "")
        )
    })?;
    // A `sh` in the workspace, as an earlier stage could have left it.
    let planted = case.scratch.workspace().join("bin/sh");
    fs::create_dir_all(planted.parent().context("parent")?)?;
    fs::write(&planted, "#!/bin/sh\ntouch \"$0.ran\"\necho planted\n")?;
    let mut permissions = fs::metadata(&planted)?.permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    fs::set_permissions(&planted, permissions)?;

    let host_path = std::env::var("PATH")?;
    let metadata = case.run_passing()?;
    let seen = attempt(&metadata, "path")?;
    ensure!(
        seen.contains(&format!("PATH={host_path}")),
        "the program saw another PATH: {seen}"
    );
    ensure!(!seen.contains("planted"), "{seen}");
    ensure!(!case.scratch.workspace().join("bin/sh.ran").exists());
    let exec = &case.events("exec")?[0];
    ensure!(exec["path"] != planted.display().to_string(), "{exec:#}");
    case.gantry.assert_audit_intact()?;
    assert_next_run_unaffected(&case)
}

#[test]
fn arguments_not_written_in_the_config_are_refused() -> Result<()> {
    let case = ExecCase::new(|_| {
        let command = ["sh", "-c", "echo built"];
        let mut extra = "[stage.grants]\nexec = [\"sh\"]\n[stage.config]\n".to_owned();
        extra += &run_entry("as-written", &command, "runs", "");
        extra += &run_entry("extra-arg", &command, "not-granted", "extra = [\"x\"]");
        let injection = "extra = [\"--config\", \"build.rustc='/tmp/evil'\"]";
        extra += &run_entry("config-injection", &command, "not-granted", injection);
        extra
    })?;
    let metadata = case.run_passing()?;
    ensure!(attempt(&metadata, "as-written")?.contains("built"));
    case.assert_denied(&[
        (r#"["sh", "-c", "echo built", "x"]"#, NOT_IN_CONFIG),
        (
            r#"["sh", "-c", "echo built", "--config", "build.rustc='/tmp/evil'"]"#,
            NOT_IN_CONFIG,
        ),
    ])?;
    ensure!(case.events("exec")?.len() == 1);
    case.gantry.assert_audit_intact()?;
    assert_next_run_unaffected(&case)
}

#[test]
fn a_granted_program_reads_and_writes_only_its_grants() -> Result<()> {
    let case = ExecCase::new(|scratch| {
        let dir = scratch.display();
        let attack = format!(
            "cat {dir}/secret; echo x > {dir}/planted; echo x > src/planted; \
             ls /root /home; echo done"
        );
        let legit = "echo ok > target/built && cat target/built && echo t > \"$TMPDIR/t\" \
                     && cat \"$TMPDIR/t\"";
        format!(
            "[stage.grants]\nread = [\".\"]\nwrite = [\"target\"]\nexec = [\"bash\"]\n\
             [stage.config]\n{}{}",
            run_entry("attack", &["bash", "-c", &attack], "runs", ""),
            run_entry("legit", &["bash", "-c", legit], "runs", "")
        )
    })?;
    let metadata = case.run_passing()?;
    let attack = attempt(&metadata, "attack")?;
    ensure!(attack.contains("done"), "{attack}");
    ensure!(attack.contains("Permission denied"), "{attack}");
    let legit = attempt(&metadata, "legit")?;
    ensure!(
        legit.contains("status Some(0)") && legit.contains("ok\\nt\\n"),
        "{legit}"
    );
    case.assert_nothing_planted()?;
    ensure!(case.scratch.workspace().join("target/built").exists());
    case.gantry.assert_audit_intact()?;
    assert_next_run_unaffected(&case)
}

#[test]
fn a_program_cannot_leave_its_process_group() -> Result<()> {
    let case = ExecCase::new(|_| {
        let escape = "setsid sleep 0; echo setsid-exit=$?; \
                      perl -e 'print setpgrp(0, 0) ? \"left\" : \"stayed\"' 2>/dev/null \
                      || echo stayed";
        format!(
            "[stage.grants]\nexec = [\"bash\"]\n[stage.config]\n{}",
            run_entry("escape", &["bash", "-c", escape], "runs", "")
        )
    })?;
    let metadata = case.run_passing()?;
    let escape = attempt(&metadata, "escape")?;
    ensure!(!escape.contains("setsid-exit=0"), "{escape}");
    ensure!(
        escape.contains("stayed") && !escape.contains("left"),
        "{escape}"
    );
    case.gantry.assert_audit_intact()?;
    assert_next_run_unaffected(&case)
}

#[test]
fn without_a_net_grant_a_program_reaches_no_tcp_or_udp_server() -> Result<()> {
    let (port, seen) = tcp_witness()?;
    let udp = UdpSocket::bind("127.0.0.1:0")?;
    udp.set_read_timeout(Some(Duration::from_millis(500)))?;
    let udp_port = udp.local_addr()?.port();
    let case = ExecCase::new(|_| {
        let tcp = format!("echo hello > /dev/tcp/127.0.0.1/{port}; echo tcp-exit=$?");
        let udp = format!("echo hello > /dev/udp/127.0.0.1/{udp_port}; echo udp-exit=$?");
        format!(
            "[stage.grants]\nexec = [\"bash\"]\n[stage.config]\n{}{}",
            run_entry("tcp", &["bash", "-c", &tcp], "runs", ""),
            run_entry("udp", &["bash", "-c", &udp], "runs", "")
        )
    })?;
    let metadata = case.run_passing()?;
    ensure!(attempt(&metadata, "tcp")?.contains("tcp-exit=1"));
    ensure!(attempt(&metadata, "udp")?.contains("udp-exit=1"));
    ensure!(seen.try_recv().is_err(), "the TCP server was reached");
    ensure!(
        udp.recv(&mut [0; 64]).is_err(),
        "the UDP server was reached"
    );
    case.gantry.assert_audit_intact()?;
    assert_next_run_unaffected(&case)
}

#[test]
fn with_a_net_grant_a_program_still_has_no_other_socket_or_device() -> Result<()> {
    let (port, seen) = tcp_witness()?;
    let case = ExecCase::new(|_| {
        let sockets = format!(
            "use Socket; \
             socket(my $u, AF_UNIX, SOCK_STREAM, 0) ? print \"unix-open \" : print \"unix-refused \"; \
             socket(my $m, AF_INET, SOCK_STREAM, 262) ? print \"mptcp-open \" : print \"mptcp-refused \"; \
             socket(my $t, AF_INET, SOCK_STREAM, 0) or die; \
             connect($t, pack_sockaddr_in({port}, inet_aton('127.0.0.1'))) \
               ? print \"direct-open\" : print \"direct-refused\";"
        );
        format!(
            "[stage.grants]\nwrite = [\"target\"]\nexec = [\"perl\", \"mknod\"]\n\
             net = [\"http://127.0.0.1:{port}\"]\n[stage.config]\n{}{}",
            run_entry("sockets", &["perl", "-e", &sockets], "runs", ""),
            run_entry(
                "device",
                &["mknod", "target/disk", "b", "8", "0"],
                "runs",
                ""
            )
        )
    })?;
    let metadata = case.run_passing()?;
    let sockets = attempt(&metadata, "sockets")?;
    for refused in ["unix-refused", "mptcp-refused", "direct-refused"] {
        ensure!(sockets.contains(refused), "{refused}: {sockets}");
    }
    ensure!(seen.try_recv().is_err(), "the server was reached directly");
    let device = attempt(&metadata, "device")?;
    ensure!(!device.contains("status Some(0)"), "{device}");
    ensure!(!case.scratch.workspace().join("target/disk").exists());
    case.gantry.assert_audit_intact()?;
    assert_next_run_unaffected(&case)
}

#[test]
fn through_the_proxy_only_granted_destinations_are_reached() -> Result<()> {
    let (granted, granted_seen) = tcp_witness()?;
    let (other, other_seen) = tcp_witness()?;
    let udp = UdpSocket::bind("127.0.0.1:0")?;
    udp.set_read_timeout(Some(Duration::from_millis(500)))?;
    let udp_port = udp.local_addr()?.port();
    let case = ExecCase::new(|_| {
        let curl = |url: String| {
            format!("curl -sS --max-time 10 -w ' code=%{{http_code}}' {url}; echo \" exit=$?\"")
        };
        let granted_url = curl(format!("http://127.0.0.1:{granted}/granted"));
        let other_url = curl(format!("http://127.0.0.1:{other}/other"));
        let bypass = format!(
            "curl -sS --max-time 5 --noproxy '*' http://127.0.0.1:{other}/bypass; echo \" exit=$?\""
        );
        let udp = format!("echo hello > /dev/udp/127.0.0.1/{udp_port}; echo udp-exit=$?");
        format!(
            "[stage.grants]\nexec = [\"bash\"]\nnet = [\"http://127.0.0.1:{granted}\"]\n\
             [stage.config]\n{}{}{}{}",
            run_entry("granted", &["bash", "-c", &granted_url], "runs", ""),
            run_entry("other", &["bash", "-c", &other_url], "runs", ""),
            run_entry("bypass", &["bash", "-c", &bypass], "runs", ""),
            run_entry("udp", &["bash", "-c", &udp], "runs", ""),
        )
    })?;
    let metadata = case.run_passing()?;
    let reached = attempt(&metadata, "granted")?;
    ensure!(reached.contains("witness code=200 exit=0"), "{reached}");
    let request = granted_seen.recv_timeout(Duration::from_secs(5))?;
    ensure!(request.starts_with("GET /granted HTTP/1.1"), "{request}");
    ensure!(
        attempt(&metadata, "other")?.contains("code=403"),
        "{metadata:#}"
    );
    ensure!(
        !attempt(&metadata, "bypass")?.contains("exit=0"),
        "{metadata:#}"
    );
    ensure!(attempt(&metadata, "udp")?.contains("udp-exit=1"));
    ensure!(
        other_seen.try_recv().is_err(),
        "the ungranted server was reached"
    );
    ensure!(
        udp.recv(&mut [0; 64]).is_err(),
        "the UDP server was reached"
    );

    let asked = format!("http://127.0.0.1:{other}");
    let missing = format!("net = [\"{asked}\"]");
    case.assert_denied(&[(&asked, &missing)])?;
    let denial = &case.events("denied")?[0];
    ensure!(denial["capability"] == "net", "{denial:#}");
    case.gantry.assert_audit_intact()?;
    assert_next_run_unaffected(&case)
}

/// A pipeline with a policy whose `[exec]` says `confinement`.
fn policy_case(confinement: &str) -> Result<ExecCase> {
    let case = ExecCase::new(|_| {
        format!(
            "[stage.grants]\nexec = [\"sh\"]\n[stage.config]\n{}",
            run_entry("granted", &["sh", "-c", "echo ran"], "runs", "")
        )
    })?;
    let pipeline = fs::read_to_string(case.scratch.path().join("pipeline.toml"))?;
    let policy_line = "policy = { id = \"p\", version = \"1\", file = \"policy.toml\" }\n";
    let pipeline = pipeline.replacen(
        "workspace = \"ws\"\n",
        &format!("workspace = \"ws\"\n{policy_line}"),
        1,
    );
    case.scratch.write("pipeline.toml", &pipeline)?;
    case.scratch.write(
        "policy.toml",
        &format!("[policy]\nid = \"p\"\nversion = \"1\"\n[exec]\nconfinement = {confinement:?}\n"),
    )?;
    Ok(case)
}

#[test]
fn a_policy_requiring_confinement_refuses_the_run_when_the_kernel_cannot() -> Result<()> {
    let case = policy_case("require")?;
    let ran = case
        .gantry
        .command(&["run", &case.scratch.pipeline()])
        .env("GANTRY_EXEC_CONFINEMENT", "none")
        .output()?;
    let stderr = String::from_utf8_lossy(&ran.stderr);
    ensure!(ran.status.code() == Some(2), "expected exit 2: {stderr}");
    ensure!(
        stderr.contains("requires programs run through `exec` to be confined"),
        "{stderr}"
    );
    ensure!(stderr.contains("hint:"), "{stderr}");
    let events = case.gantry.audit_events()?;
    let refused: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "run-refused")
        .collect();
    ensure!(refused.len() == 1, "{events:#?}");
    ensure!(
        refused[0]["stages"] == serde_json::json!(["probe"]),
        "{:#}",
        refused[0]
    );
    ensure!(
        !events.iter().any(|e| e["event"] == "exec"),
        "a program ran"
    );
    case.gantry.assert_audit_intact()?;

    // On a kernel that can confine, the same pipeline runs.
    let metadata = case.run_passing()?;
    ensure!(attempt(&metadata, "granted")?.contains("ran"));
    let start = &case.events("stage-start")?[0];
    ensure!(start["exec_confinement"]["confined"] == true, "{start:#}");
    case.gantry.assert_audit_intact()
}

#[test]
fn best_effort_runs_unconfined_with_a_warning_on_the_record() -> Result<()> {
    let case = policy_case("best-effort")?;
    let ran = case
        .gantry
        .command(&["--json", "run", &case.scratch.pipeline()])
        .env("GANTRY_EXEC_CONFINEMENT", "none")
        .output()?;
    let stderr = String::from_utf8_lossy(&ran.stderr);
    ensure!(ran.status.code() == Some(0), "{stderr}");
    ensure!(stderr.contains("exec: NOT confined"), "{stderr}");
    let start = &case.events("stage-start")?[0];
    ensure!(start["exec_confinement"]["confined"] == false, "{start:#}");
    let summary = start["exec_confinement"]["summary"]
        .as_str()
        .unwrap_or_default();
    ensure!(summary.starts_with("exec: NOT confined"), "{summary}");
    case.gantry.assert_audit_intact()
}
