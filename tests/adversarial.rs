//! The adversarial suite: one hostile plugin per attack on a limit or a
//! grant boundary, beyond the escapes of `sandbox`.
//!
//! Each test asserts the refusal or the fault and its message naming the
//! limit, the audit record of it, that nothing outside the grants was read
//! or written, that the run's state and audit trail still verify, and that
//! the next run is unaffected. Lawful neighbours of each attack (a flood
//! under its limit, a link inside one grant) must still work.
//!
//! The plugins: `cross-grant` (renames and hard links between grants,
//! `/proc` and `/etc` through every preopen), `log-flood`, `output-flood`
//! (returned text and bytes under `/out`, seven ways), `deep-recursion`,
//! `handle-hoard`, and `endless-loop` for the CPU limit.

use std::fs;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use serde_json::Value;

use crate::sandbox::case::{
    Case, assert_attempts, assert_fault, assert_fs_denied, assert_next_run_unaffected,
    assert_sandbox_held, assert_unchanged, fs_denials,
};
use crate::sandbox::files::{changed_paths, snapshot};

/// A case for `plugin` with `extra` as its stage tables, and a workspace
/// file `file.txt`.
fn case(plugin: &str, extra: &str) -> Result<Case> {
    let case = Case::new(plugin, |_| extra.to_owned())?;
    case.workspace_file("file.txt", "lawful")?;
    Ok(case)
}

/// Asserts the run's `limit-exceeded` audit event names `limit` for the
/// stage, with the message the operator saw.
fn assert_limit_audited(case: &Case, limit: &str, message: &str) -> Result<()> {
    let events = case.gantry.audit_events_of(&case.gantry.only_run()?)?;
    let crossed: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "limit-exceeded")
        .collect();
    ensure!(crossed.len() == 1, "limit events: {crossed:#?}");
    let event = crossed[0];
    ensure!(event["limit"] == limit, "{event:#}");
    ensure!(event["stage"] == "probe", "{event:#}");
    ensure!(
        event["plugin"]
            .as_str()
            .is_some_and(|p| p.ends_with(".wasm")),
        "{event:#}"
    );
    let audited = event["message"].as_str().unwrap_or_default();
    ensure!(audited.contains(message), "{event:#}");
    Ok(())
}

/// Runs `case`, expecting a fault naming `limit` with `message`; checks the
/// audit record, that nothing outside the stage's `out/` changed and the
/// trail. Returns the stage record; the caller checks the next run last
/// (it adds a run to the state directory).
fn assert_limit_fault(case: &Case, limit: &str, message: &str) -> Result<Value> {
    let before = snapshot(case.scratch.path())?;
    let ran = case.run()?;
    let record = assert_fault(case, &ran, message)?;
    assert_limit_audited(case, limit, message)?;
    assert_unchanged(case.scratch.path(), &before)?;
    case.gantry.assert_audit_intact()?;
    Ok(record)
}

/// How many lines of the stage's log are the plugin's flood.
fn flood_lines(case: &Case) -> Result<usize> {
    let log = fs::read_to_string(case.stage_dir()?.join("log.jsonl"))?;
    Ok(log.lines().filter(|l| l.contains("\"flood\"")).count())
}

#[test]
fn renames_and_hard_links_between_grants_are_refused_and_audited() -> Result<()> {
    let case = Case::new("cross-grant", |_| {
        "[stage.grants]\nread = [\".\"]\nwrite = [\"sub\"]".into()
    })?;
    case.workspace_file("keep.txt", "read-only")?;
    case.workspace_file("sub/moved.txt", "stays")?;
    case.workspace_file("sub/a.txt", "inside")?;
    let before = snapshot(case.scratch.path())?;

    let ran = case.run_with_env(&[("GANTRY_TEST_SECRET", &case.secret)])?;
    let metadata = assert_sandbox_held(&case, &ran)?;
    let across = [
        "rename-workspace-into-out",
        "rename-out-into-workspace",
        "raw-rename-workspace-into-out",
        "hard-link-workspace-into-out",
        "raw-hard-link-workspace-into-out",
        "raw-hard-link-out-into-workspace",
        "hard-link-in-read-only-grant",
    ];
    assert_attempts(&metadata, "refused: ", &across)?;
    let proc = [
        "read-proc-environ",
        "read-proc-mounts",
        "raw-read-proc-environ-via-sub",
        "raw-read-proc-environ-via-out",
        "raw-read-etc-passwd",
        "read-via-link-to-proc",
    ];
    assert_attempts(&metadata, "refused: ", &proc)?;
    let lawful = [
        "write-out",
        "rename-within-grant",
        "hard-link-within-grant",
        "symlink-within-grant",
    ];
    assert_attempts(&metadata, "allowed: ", &lawful)?;

    let two = "none: rename-at stays within one grant, and `/workspace/sub` and `/out` are two";
    let back = "none: rename-at stays within one grant, and `/out` and `/workspace/sub` are two";
    let link = "none: link-at stays within one grant, and `/workspace/sub` and `/out` are two";
    let link_back = "none: link-at stays within one grant, and `/out` and `/workspace/sub` are two";
    let climb = "../".repeat(15) + "..";
    let via_sub = format!("open-at /workspace/sub/{climb}/proc/self/environ");
    let via_out = format!("open-at /out/{climb}/proc/self/environ");
    let passwd = format!("open-at /workspace/{climb}/etc/passwd");
    let escape = "none: `..`, absolute paths and symlinks stay inside";
    assert_fs_denied(
        &case,
        &[
            ("rename-at /workspace/sub/moved.txt -> /out/moved.txt", two),
            ("rename-at /out/made.txt -> /workspace/sub/made.txt", back),
            (
                "rename-at /workspace/sub/moved.txt -> /out/raw-moved.txt",
                two,
            ),
            ("link-at /out/linked.txt -> /workspace/sub/moved.txt", link),
            (
                "link-at /out/raw-linked.txt -> /workspace/sub/moved.txt",
                link,
            ),
            (
                "link-at /workspace/sub/made-link.txt -> /out/made.txt",
                link_back,
            ),
            (
                "link-at /workspace/keep-link.txt -> /workspace/keep.txt",
                "write = [\".\"]",
            ),
            (&via_sub, escape),
            (&via_out, escape),
            (&passwd, escape),
            (
                &format!("symlink-at /workspace/sub/proc-link -> {climb}/proc/self/environ"),
                "none: a symlink made in `/workspace/sub` must lead inside it",
            ),
        ],
    )?;
    // The lawful moves inside `sub/` were not reported.
    let denials = fs_denials(&case)?;
    ensure!(
        !denials.iter().any(|(asked, _)| asked.contains("b.txt")),
        "{denials:#?}"
    );

    // The host's environment (which holds the secret) was not read.
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
    ensure!(
        case.scratch.workspace().join("sub/moved.txt").is_file(),
        "a file left its grant"
    );
    let out = case.stage_dir()?.join("out");
    let names: Vec<_> = fs::read_dir(&out)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()?;
    ensure!(
        names == ["made.txt"],
        "only `made.txt` belongs in out/: {names:?}"
    );
    case.gantry.assert_audit_intact()?;
    assert_next_run_unaffected(&case.gantry)
}

#[test]
fn a_hard_link_inside_out_is_refused_as_malformed_output() -> Result<()> {
    let case = case("cross-grant", "[stage.config]\nmode = \"out-hard-link\"")?;
    let ran = case.run()?;
    let record = assert_fault(
        &case,
        &ran,
        "is a hard link shared with another file (2 links)",
    )?;
    ensure!(
        record["artifacts"].as_array().is_none_or(Vec::is_empty),
        "{record:#}"
    );
    ensure!(record["output_digest"].is_null(), "{record:#}");
    case.gantry.assert_audit_intact()?;
    assert_next_run_unaffected(&case.gantry)
}

#[test]
fn a_log_flood_is_stopped_at_the_log_rate_limit() -> Result<()> {
    let case = case("log-flood", "[stage.limits]\nlog-rate = 200")?;
    let message = "the plugin exceeded its limit `log-rate` of 200 log lines per second";
    assert_limit_fault(&case, "log-rate", message)?;
    // The line that crossed the limit was not kept.
    let lines = flood_lines(&case)?;
    ensure!((200..=400).contains(&lines), "{lines} lines were logged");
    assert_next_run_unaffected(&case.gantry)
}

#[test]
fn a_slow_log_flood_is_stopped_at_the_log_lines_total() -> Result<()> {
    let case = case(
        "log-flood",
        "[stage.limits]\nlog-lines = 40\n[stage.config]\npace-ms = 5",
    )?;
    let message = "the plugin exceeded its limit `log-lines` of 40 log lines";
    assert_limit_fault(&case, "log-lines", message)?;
    ensure!(flood_lines(&case)? == 40, "{} lines", flood_lines(&case)?);
    assert_next_run_unaffected(&case.gantry)
}

#[test]
fn returned_output_beyond_its_limit_is_a_fault() -> Result<()> {
    let case = case(
        "output-flood",
        "[stage.limits]\noutput = \"1 MiB\"\n[stage.config]\nhow = \"returned\"\nbytes = 2000000",
    )?;
    let record = assert_limit_fault(&case, "output", "exceeded its limit `output` of 1.0 MiB")?;
    ensure!(
        record["metadata"].as_object().is_none_or(|m| m.is_empty()),
        "the flood reached the run record"
    );
    assert_next_run_unaffected(&case.gantry)
}

#[test]
fn output_under_its_limit_is_kept() -> Result<()> {
    let case = case(
        "output-flood",
        "[stage.limits]\noutput = \"1 MiB\"\n[stage.config]\nhow = \"returned\"\nbytes = 500000",
    )?;
    let ran = case.run()?;
    ensure!(ran.code == 0, "{ran:?}");
    let record = case.stage_record()?;
    let kept = record["metadata"].as_object().map_or(0, |m| m.len());
    ensure!(kept == 63, "{kept} metadata entries");
    case.gantry.assert_audit_intact()
}

#[test]
fn writes_under_out_stop_at_the_out_bytes_limit_however_they_are_made() -> Result<()> {
    let limit = 4 << 20;
    let message = "the plugin exceeded its limit `out-bytes` of 4.0 MiB written under `/out`";
    for how in ["fs", "stream", "append", "pwrite", "sparse", "hole"] {
        let case = case(
            "output-flood",
            &format!("[stage.limits]\nout-bytes = \"4 MiB\"\n[stage.config]\nhow = \"{how}\""),
        )?;
        assert_limit_fault(&case, "out-bytes", message).with_context(|| format!("how = {how}"))?;
        // Stopped as it crossed the limit, not after: the file is no
        // larger than the limit, holes included.
        let flood = case.stage_dir()?.join("out/flood.bin");
        let size = fs::metadata(&flood).map_or(0, |m| m.len());
        ensure!(
            size <= limit,
            "how = {how}: `/out/flood.bin` grew to {size} bytes"
        );
        assert_next_run_unaffected(&case.gantry)?;
    }
    Ok(())
}

#[test]
fn writes_under_the_out_bytes_limit_are_kept() -> Result<()> {
    let case = case(
        "output-flood",
        "[stage.limits]\nout-bytes = \"4 MiB\"\n[stage.config]\nhow = \"within\"\nbytes = 3000000",
    )?;
    let ran = case.run()?;
    ensure!(ran.code == 0, "{ran:?}");
    let record = case.stage_record()?;
    ensure!(record["artifacts"][0]["name"] == "flood", "{record:#}");
    let flood = case.stage_dir()?.join("out/flood.bin");
    ensure!(fs::metadata(flood)?.len() == 3_000_000);
    case.gantry.assert_audit_intact()
}

#[test]
fn deep_recursion_is_a_clean_fault_on_either_stack() -> Result<()> {
    let stacks = [
        // The stack the compiler keeps in linear memory runs off its start.
        ("shadow", "wasm trap: out of bounds memory access"),
        // wasmtime's own limit on nested wasm calls.
        ("native", "wasm trap: call stack exhausted"),
    ];
    for (how, trap) in stacks {
        let case = case(
            "deep-recursion",
            &format!("[stage.config]\nhow = \"{how}\""),
        )?;
        let before = snapshot(case.scratch.path())?;
        let ran = case.run()?;
        let message = format!("the plugin trapped: {trap}");
        let record = assert_fault(&case, &ran, &message)?;
        ensure!(record["reason"] == message.as_str(), "{how}: {record:#}");
        assert_unchanged(case.scratch.path(), &before)?;
        case.gantry.assert_audit_intact()?;
        assert_next_run_unaffected(&case.gantry)?;
    }
    Ok(())
}

#[test]
fn hoarded_file_handles_stop_at_the_handles_limit() -> Result<()> {
    let case = case(
        "handle-hoard",
        "[stage.grants]\nread = [\".\"]\n[stage.limits]\nhandles = 64",
    )?;
    let message = "the plugin exceeded its limit `handles` of 64 files and directories open at \
                   once (320 host resources of any kind)";
    assert_limit_fault(&case, "handles", message)?;
    assert_next_run_unaffected(&case.gantry)
}

#[test]
fn hoarded_pollables_stop_at_the_handles_limit_too() -> Result<()> {
    let case = case(
        "handle-hoard",
        "[stage.limits]\nhandles = 64\n[stage.config]\npollables = true",
    )?;
    let message = "the plugin exceeded its limit `handles` of 64 files and directories open at \
                   once (320 host resources of any kind)";
    assert_limit_fault(&case, "handles", message)?;
    assert_next_run_unaffected(&case.gantry)
}

#[test]
fn pollables_within_the_handles_limit_are_allowed() -> Result<()> {
    let case = case(
        "handle-hoard",
        "[stage.limits]\nhandles = 64\n[stage.config]\npollables = true\ncount = 100",
    )?;
    let ran = case.run()?;
    ensure!(ran.code == 0, "{ran:?}");
    ensure!(case.stage_record()?["summary"] == "held 100 pollables");
    case.gantry.assert_audit_intact()
}

#[test]
fn files_opened_and_closed_never_near_the_handles_limit() -> Result<()> {
    let case = case(
        "handle-hoard",
        "[stage.grants]\nread = [\".\"]\n[stage.limits]\nhandles = 64\n\
         [stage.config]\ncount = 500\nclose = true",
    )?;
    let ran = case.run()?;
    ensure!(ran.code == 0, "{ran:?}");
    ensure!(case.stage_record()?["summary"] == "opened 500 files");
    case.gantry.assert_audit_intact()
}

#[test]
fn an_endless_loop_is_stopped_at_the_cpu_limit() -> Result<()> {
    let case = case(
        "endless-loop",
        "[stage.limits]\ncpu = \"1s\"\ntimeout = \"5m\"",
    )?;
    let started = Instant::now();
    let message = "the stage exceeded its limit `cpu` of 1s of CPU time";
    assert_limit_fault(&case, "cpu", message)?;
    ensure!(
        started.elapsed() < Duration::from_secs(120),
        "the loop ran for {:?}",
        started.elapsed()
    );
    assert_next_run_unaffected(&case.gantry)
}

#[test]
fn time_blocked_in_a_host_call_is_not_cpu_time() -> Result<()> {
    // The plugin waits on a clock subscription of years, inside the host:
    // no CPU limit can see it, and the wall-time limit must still stop it.
    let case = case(
        "endless-loop",
        "[stage.limits]\ncpu = \"1s\"\ntimeout = \"3s\"\n[stage.config]\nhow = \"sleep\"",
    )?;
    let record = assert_limit_fault(&case, "timeout", "time limit of 3s")?;
    let reason = record["reason"].as_str().unwrap_or_default();
    ensure!(!reason.contains("cpu"), "{reason}");
    assert_next_run_unaffected(&case.gantry)
}
