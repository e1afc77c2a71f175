//! Hostile plugins against the sandbox.
//!
//! Each crate in `plugins/hostile/` attacks one boundary: `..` and absolute
//! paths, symlinks and hard links, a read-only workspace, the environment,
//! `exec`, and the time and memory limits. The plugins report what happened
//! to every attempt in their metadata (`attempt.<label>` = `refused: …`,
//! `ESCAPED: …`) and pass only when all were refused; these tests check that
//! report and, from the host's side, what the plugin cannot lie about: the
//! exit code and named error, that a secret beside the workspace appears
//! nowhere gantry wrote, that no file outside the grants changed, that
//! refusals are audited and that the audit trail still verifies.

pub(crate) mod case;
pub(crate) mod files;

use std::fs;
use std::os::unix::fs::symlink;
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};

use self::case::{
    Case, assert_attempts, assert_denials_audited, assert_fault, assert_fs_denied,
    assert_next_run_unaffected, assert_sandbox_held, assert_unchanged, exec_events, fs_denials,
};
use self::files::{changed_paths, regular_files, snapshot};

#[test]
fn dotdot_paths_cannot_leave_the_workspace() -> Result<()> {
    let case = Case::new("escape-dotdot", |_| "[stage.grants]\nread = [\".\"]".into())?;
    case.workspace_file("sub/inside.txt", "inside")?;
    let before = snapshot(case.scratch.path())?;

    let ran = case.run()?;
    let metadata = assert_sandbox_held(&case, &ran)?;
    assert_attempts(&metadata, "allowed: 6 bytes: inside", &["read-inside"])?;
    let climbs = [
        "read-workspace-dotdot",
        "read-sub-dotdot-dotdot",
        "read-deep-dotdot",
        "read-out-dotdot",
        "stat-workspace-dotdot",
        "list-workspace-dotdot",
        "list-out-dotdot",
        "raw-read-workspace-dotdot",
        "raw-read-dotdot-back-in",
        "raw-read-out-dotdot",
    ];
    assert_attempts(&metadata, "refused: ", &climbs)?;
    // The host saw each climb, and audited the path as the plugin asked.
    let workspace = "none: `..`, absolute paths and symlinks stay inside `/workspace`";
    let out = "none: `..`, absolute paths and symlinks stay inside `/out`";
    assert_fs_denied(
        &case,
        &[
            ("open-at /workspace/../secret", workspace),
            ("open-at /workspace/sub/../../secret", workspace),
            ("open-at /workspace/sub/../sub/../../secret", workspace),
            ("open-at /workspace/..", workspace),
            ("open-at /out/..", out),
            ("open-at /out/../log.jsonl", out),
        ],
    )?;

    case.assert_secret_unread(&ran)?;
    assert_unchanged(case.scratch.path(), &before)?;
    case.gantry.assert_audit_intact()
}

#[test]
fn absolute_host_paths_are_not_visible() -> Result<()> {
    let case = Case::new("escape-absolute", |secret| {
        format!("[stage.grants]\nread = [\".\"]\n[stage.config]\nsecret = {secret:?}")
    })?;
    case.workspace_file("inside.txt", "inside")?;
    // A FIFO with no writer: opening it would block the stage's thread.
    let fifo = case.scratch.workspace().join("fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status()?;
    ensure!(made.success(), "mkfifo failed");

    let ran = case.run()?;
    // The checks below read every file of the workspace.
    std::fs::remove_file(&fifo)?;
    let metadata = assert_sandbox_held(&case, &ran)?;
    assert_attempts(&metadata, "allowed: ", &["read-inside"])?;
    let reads = [
        "read-fifo",
        "read-host-path",
        "stat-host-path",
        "read-host-path-under-workspace",
        "raw-read-host-path",
        "read-etc-passwd",
        "raw-read-etc-passwd",
        "read-proc-environ",
        "list-root",
    ];
    assert_attempts(&metadata, "refused: ", &reads)?;
    // A path no preopen holds never reaches the host (the plugin's C
    // library finds no directory to send it to); one sent raw, relative to
    // a preopen, is refused there and audited.
    let secret = case.scratch.path().join("secret");
    let raw = format!("open-at {} (from /workspace)", secret.display());
    assert_fs_denied(
        &case,
        &[
            (
                &raw,
                "none: `..`, absolute paths and symlinks stay inside `/workspace`",
            ),
            (
                "open-at /etc/passwd (from /out)",
                "none: `..`, absolute paths and symlinks stay inside `/out`",
            ),
            (
                "open-at /workspace/fifo",
                "none: `/workspace/fifo` is a FIFO or a socket; plugins open only files and directories",
            ),
        ],
    )?;

    case.assert_secret_unread(&ran)?;
    // What the host's `/etc/passwd` starts with is nowhere either.
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    if let Some(first) = passwd.lines().next().filter(|l| !l.is_empty()) {
        let record = case.gantry.run_record(&case.gantry.only_run()?)?;
        ensure!(!record.to_string().contains(first), "/etc/passwd leaked");
        ensure!(!ran.stderr.contains(first), "/etc/passwd leaked");
    }
    case.gantry.assert_audit_intact()
}

#[test]
fn symlinks_and_hard_links_cannot_leave_the_write_grant() -> Result<()> {
    let case = Case::new("escape-symlink", |secret| {
        format!(
            "[stage.grants]\nread = [\".\"]\nwrite = [\"sub\"]\n\
             [stage.config]\nmode = \"escape\"\nsecret = {secret:?}"
        )
    })?;
    case.workspace_file("keep.txt", "read-only text")?;
    fs::create_dir(case.scratch.workspace().join("sub"))?;
    let before = snapshot(case.scratch.path())?;

    let ran = case.run()?;
    let metadata = assert_sandbox_held(&case, &ran)?;
    // A link whose target leaves the grant is not even made; a link to
    // such a link is, but reading through it finds nothing.
    let unmade = [
        "read-via-relative-link",
        "read-via-link-past-the-root",
        "read-via-directory-link",
    ];
    assert_attempts(&metadata, "refused: making the link: ", &unmade)?;
    assert_attempts(
        &metadata,
        "refused: reading through it: ",
        &["read-via-link-chain"],
    )?;
    let up = case.scratch.workspace().join("sub/up");
    ensure!(
        fs::symlink_metadata(&up).is_err(),
        "the escaping link was made"
    );
    let refused = [
        "make-absolute-link",
        "write-via-link-to-read-only-file",
        "hard-link-dotdot",
        "hard-link-host-path",
        "hard-link-read-only-file-then-write",
        "raw-hard-link-read-only-file",
        "read-via-hard-link-to-escaping-link",
    ];
    assert_attempts(&metadata, "refused: ", &refused)?;
    let sub = "none: `..`, absolute paths and symlinks stay inside `/workspace/sub`";
    let leading_out = "none: a symlink made in `/workspace/sub` must lead inside it";
    let absolute = format!(
        "symlink-at /workspace/sub/abs -> {}",
        case.scratch.path().join("secret").display()
    );
    let across = "none: link-at stays within one grant, and `/workspace` and `/workspace/sub`";
    assert_fs_denied(
        &case,
        &[
            ("symlink-at /workspace/sub/up -> ../../secret", leading_out),
            ("symlink-at /workspace/sub/updir -> ../..", leading_out),
            (
                "symlink-at /workspace/sub/hop2 -> ../../secret",
                leading_out,
            ),
            (&absolute, sub),
            (
                "link-at /workspace/sub/hard -> /workspace/../secret",
                across,
            ),
            (
                "link-at /workspace/sub/keep-hard -> /workspace/keep.txt",
                across,
            ),
        ],
    )?;

    case.assert_secret_unread(&ran)?;
    let changed = changed_paths(&before, &snapshot(case.scratch.path())?);
    let outside: Vec<_> = changed
        .iter()
        .filter(|p| !p.starts_with("ws/sub"))
        .collect();
    ensure!(
        outside.is_empty(),
        "changed outside the write grant: {outside:?}"
    );
    case.gantry.assert_audit_intact()
}

#[test]
fn symlinks_that_stay_inside_the_grant_work() -> Result<()> {
    let case = Case::new("escape-symlink", |_| {
        "[stage.grants]\nread = [\".\"]\nwrite = [\"sub\"]\n[stage.config]\nmode = \"inside\""
            .into()
    })?;
    case.workspace_file("sub/data.txt", "data")?;
    case.workspace_file("sub/nested/deep.txt", "deep")?;
    symlink("sub/data.txt", case.scratch.workspace().join("alias"))?;

    let ran = case.run()?;
    let metadata = assert_sandbox_held(&case, &ran)?;
    let data = [
        "read-via-sibling-link",
        "read-via-link-up-one-level",
        "read-via-existing-link",
    ];
    assert_attempts(&metadata, "allowed: 4 bytes: data", &data)?;
    assert_attempts(
        &metadata,
        "allowed: 4 bytes: deep",
        &["read-via-directory-link"],
    )?;
    let denials = fs_denials(&case)?;
    ensure!(
        denials.is_empty(),
        "legitimate links were denied: {denials:#?}"
    );
    case.gantry.assert_audit_intact()
}

#[test]
fn a_symlink_left_in_out_is_refused_as_malformed_output() -> Result<()> {
    let case = Case::new("escape-symlink", |secret| {
        format!("[stage.config]\nmode = \"out-link\"\nsecret = {secret:?}")
    })?;
    let ran = case.run()?;
    let record = assert_fault(&case, &ran, "the plugin returned malformed output")?;
    ensure!(
        record["artifacts"].as_array().is_none_or(Vec::is_empty),
        "{record:#}"
    );
    let out = case.stage_dir()?.join("out");
    ensure!(
        fs::symlink_metadata(out.join("leak"))?.is_symlink(),
        "the plugin made no link"
    );
    ensure!(
        fs::symlink_metadata(out.join("escape")).is_err(),
        "a link out of `/out` was made"
    );
    case.assert_secret_unread(&ran)?;
    case.gantry.assert_audit_intact()
}

#[test]
fn a_read_only_workspace_cannot_be_changed() -> Result<()> {
    let case = Case::new("write-readonly", |_| {
        "[stage.grants]\nread = [\".\"]".into()
    })?;
    case.workspace_file("keep.txt", "keep me")?;
    case.workspace_file("dir/inner.txt", "inner")?;
    let before = snapshot(case.scratch.path())?;

    let ran = case.run()?;
    let metadata = assert_sandbox_held(&case, &ran)?;
    assert_attempts(&metadata, "allowed: 7 bytes: keep me", &["read-keep"])?;
    let changes = [
        "truncate-and-write",
        "append",
        "write-in-place",
        "write-to-read-descriptor",
        "create-file",
        "create-file-in-subdirectory",
        "create-dir",
        "remove-file",
        "remove-dir",
        "rename",
        "rename-into-out",
        "hard-link-into-out-then-write",
        "raw-rename-into-out",
        "raw-hard-link-into-out",
        "make-symlink",
        "set-length",
        "set-modified-time",
    ];
    assert_attempts(&metadata, "refused: ", &changes)?;
    let write = "write = [\".\"]";
    let across = "none: rename-at stays within one grant, and `/workspace` and `/out` are two";
    let link_across = "none: link-at stays within one grant, and `/workspace` and `/out` are two";
    assert_fs_denied(
        &case,
        &[
            ("open-at /workspace/keep.txt", write),
            ("open-at /workspace/new.txt", write),
            ("open-at /workspace/dir/new.txt", write),
            ("create-directory-at /workspace/newdir", write),
            (
                "rename-at /workspace/keep.txt -> /workspace/moved.txt",
                write,
            ),
            ("unlink-file-at /workspace/keep.txt", write),
            ("symlink-at /workspace/link -> keep.txt", write),
            (
                "rename-at /workspace/keep.txt -> /out/stolen-raw.txt",
                across,
            ),
            ("link-at /out/keep-raw -> /workspace/keep.txt", link_across),
        ],
    )?;

    assert_unchanged(case.scratch.path(), &before)?;
    let out = snapshot(&case.stage_dir()?.join("out"))?;
    assert!(out.is_empty(), "workspace files reached /out: {out:?}");
    case.gantry.assert_audit_intact()
}

#[test]
fn only_granted_environment_variables_are_visible() -> Result<()> {
    let case = Case::new("env-sniff", |_| {
        "[stage.grants]\nenv = [\"GANTRY_TEST_GRANTED\"]\n[stage.config]\n\
         granted = [\"GANTRY_TEST_GRANTED\"]\n\
         ungranted = [\"GANTRY_TEST_SECRET\", \"PATH\", \"HOME\"]"
            .into()
    })?;
    let granted_value = format!("granted-{}", case.secret);
    let ran = case.run_with_env(&[
        ("GANTRY_TEST_SECRET", &case.secret),
        ("GANTRY_TEST_GRANTED", &granted_value),
    ])?;

    let metadata = assert_sandbox_held(&case, &ran)?;
    let seen = format!("allowed: visible, {} bytes", granted_value.len());
    assert_attempts(&metadata, &seen, &["env.GANTRY_TEST_GRANTED"])?;
    let visible: Vec<_> = metadata
        .keys()
        .filter(|k| k.starts_with("attempt.env."))
        .collect();
    assert_eq!(visible, ["attempt.env.GANTRY_TEST_GRANTED"]);
    let lookups = ["lookup.GANTRY_TEST_SECRET", "lookup.PATH", "lookup.HOME"];
    assert_attempts(&metadata, "refused: ", &lookups)?;
    assert_attempts(&metadata, "refused: no arguments", &["args"])?;

    // The granted value reached the plugin, but is never recorded.
    case.assert_secret_unread(&ran)?;
    let audit = fs::read_to_string(case.gantry.state_dir().join("audit.jsonl"))?;
    assert!(
        !audit.contains(&granted_value),
        "a granted value was audited"
    );
    case.gantry.assert_audit_intact()
}

#[test]
fn exec_of_an_ungranted_program_is_refused_and_audited() -> Result<()> {
    let case = Case::new("exec-ungranted", |_| {
        "[stage.config]\nrefused = [\"sh\", \"/bin/sh\"]".into()
    })?;
    let ran = case.run()?;
    let metadata = assert_sandbox_held(&case, &ran)?;
    assert_attempts(
        &metadata,
        "refused: not-granted: ",
        &["exec.sh", "exec./bin/sh"],
    )?;
    assert_denials_audited(&case, &["sh", "/bin/sh"])?;
    assert_eq!(exec_events(&case)?, 0, "a program ran");
    case.gantry.assert_audit_intact()
}

#[test]
fn exec_by_path_is_refused_when_only_the_name_is_granted() -> Result<()> {
    let case = Case::new("exec-ungranted", |_| {
        "[stage.grants]\nexec = [\"sh\"]\n[stage.config]\ngranted = [\"sh\"]\n\
         refused = [\"/bin/sh\", \"/usr/bin/sh\", \"./sh\", \" sh\", \"SH\"]\n\
         commands = [[\"sh\", \"-c\", \"echo exec-ran\"]]"
            .into()
    })?;
    let ran = case.run()?;
    let metadata = assert_sandbox_held(&case, &ran)?;
    assert_attempts(&metadata, "allowed: ran, status Some(0)", &["exec.sh"])?;
    let paths = ["/bin/sh", "/usr/bin/sh", "./sh", " sh", "SH"];
    let labels: Vec<String> = paths.iter().map(|p| format!("exec.{p}")).collect();
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    assert_attempts(&metadata, "refused: not-granted: ", &labels)?;
    assert_denials_audited(&case, &paths)?;
    assert_eq!(exec_events(&case)?, 1, "only the granted `sh` runs");
    case.gantry.assert_audit_intact()
}

#[test]
fn refused_program_names_reach_the_terminal_escaped() -> Result<()> {
    let case = Case::new("exec-ungranted", |_| {
        "[stage.config]\nrefused = [\"\\u001b[2J\\nWARN forged line\"]".into()
    })?;
    let name = "\u{1b}[2J\nWARN forged line";
    let ran = case.run()?;
    assert_sandbox_held(&case, &ran)?;
    // Both the host's report of the denial and the plugin's own warning
    // were printed, neither of them raw.
    let shown = ran.stderr.matches("WARN forged line").count();
    assert!(shown >= 2, "the name was not shown: {}", ran.stderr);
    assert!(
        !ran.stderr.contains('\u{1b}'),
        "raw escape on stderr: {:?}",
        ran.stderr
    );
    let forged = ran
        .stderr
        .lines()
        .any(|line| line.starts_with("WARN forged"));
    assert!(!forged, "a forged line on stderr: {}", ran.stderr);
    // The audit trail keeps the exact name.
    assert_denials_audited(&case, &[name])?;
    case.gantry.assert_audit_intact()
}

#[test]
fn an_endless_loop_is_stopped_at_the_time_limit() -> Result<()> {
    let case = Case::new("endless-loop", |_| {
        "[stage.limits]\ntimeout = \"2s\"".into()
    })?;
    let started = Instant::now();
    let ran = case.run()?;
    let took = started.elapsed();
    assert_fault(&case, &ran, "time limit of 2s")?;
    assert!(took < Duration::from_secs(20), "the loop ran for {took:?}");
    case.gantry.assert_audit_intact()?;
    assert_next_run_unaffected(&case.gantry)
}

#[test]
fn a_stage_blocked_in_a_host_call_is_stopped_at_the_time_limit() -> Result<()> {
    let case = Case::new("endless-loop", |_| {
        "[stage.limits]\ntimeout = \"2s\"\n[stage.config]\nhow = \"sleep\"".into()
    })?;
    let started = Instant::now();
    let ran = case.run()?;
    let took = started.elapsed();
    assert_fault(&case, &ran, "time limit of 2s")?;
    assert!(took < Duration::from_secs(20), "the sleep lasted {took:?}");
    case.gantry.assert_audit_intact()
}

#[test]
fn a_memory_bomb_is_stopped_at_the_memory_limit() -> Result<()> {
    let case = Case::new("memory-bomb", |_| {
        "[stage.limits]\nmemory = \"32 MiB\"\ntimeout = \"30s\"".into()
    })?;
    let ran = case.run()?;
    assert_fault(&case, &ran, "memory limit of 32.0 MiB")?;
    assert!(!ran.stderr.contains("time limit"), "{}", ran.stderr);
    // It really allocated before it was stopped.
    let log = fs::read_to_string(case.stage_dir()?.join("log.jsonl"))?;
    assert!(log.contains("still allocating"), "{log}");
    case.gantry.assert_audit_intact()
}

#[test]
fn one_huge_allocation_is_stopped_at_the_memory_limit() -> Result<()> {
    let case = Case::new("memory-bomb", |_| {
        "[stage.limits]\nmemory = \"32 MiB\"\ntimeout = \"30s\"\n\
         [stage.config]\nchunk-kib = 1048576"
            .into()
    })?;
    let ran = case.run()?;
    assert_fault(&case, &ran, "memory limit of 32.0 MiB")?;
    case.gantry.assert_audit_intact()
}

#[test]
fn a_trap_mid_write_is_a_fault_that_leaves_nothing_outside_out() -> Result<()> {
    let case = Case::new("trap-mid-write", |_| {
        "[stage.grants]\nread = [\".\"]".into()
    })?;
    case.workspace_file("keep.txt", "keep me")?;
    let before = snapshot(case.scratch.path())?;

    // With a host backtrace on offer, as many developers' shells have it.
    let ran = case.run_with_env(&[("RUST_BACKTRACE", "1")])?;
    let trap = "the plugin trapped: wasm trap: wasm `unreachable` instruction executed";
    let record = assert_fault(&case, &ran, trap)?;
    ensure!(record["reason"] == trap, "the reason says more: {record:#}");
    ensure!(
        record["artifacts"].as_array().is_none_or(Vec::is_empty),
        "{record:#}"
    );
    ensure!(record["output_digest"].is_null(), "{record:#}");
    let stage_dir = case.stage_dir()?;
    let stderr = fs::read_to_string(stage_dir.join("stderr.txt"))?;
    assert!(
        stderr.contains("hostile trap after writing half"),
        "{stderr}"
    );

    // The half-written file is in the stage's `out/` and nowhere else.
    let partial = stage_dir.join("out/partial.bin");
    assert_eq!(fs::metadata(&partial)?.len(), 32 * 1024);
    let everywhere = regular_files(case.gantry.state_dir())?;
    let copies: Vec<_> = everywhere
        .iter()
        .filter(|f| f.ends_with("partial.bin"))
        .collect();
    assert_eq!(copies, [&partial]);
    assert_unchanged(case.scratch.path(), &before)?;
    case.gantry.assert_audit_intact()?;
    assert_next_run_unaffected(&case.gantry)
}
