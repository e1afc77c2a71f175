//! A state directory someone edited: run records that do not fit their
//! run or pipeline, a run directory that is a symlink, an audit log cut
//! short at a line boundary, and damaged compiled plugins in the cache.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};
use serde_json::Value;

use super::{GatedRun, assert_refused, noop_plugin};
use crate::support::{Gantry, Scratch, one_stage_pipeline};

#[test]
fn a_run_record_missing_a_stage_is_refused_not_a_panic() -> Result<()> {
    let gated = GatedRun::start()?;
    gated.edit_record(|record| {
        if let Some(stages) = record["stages"].as_array_mut() {
            stages.retain(|stage| stage["id"] != "last");
        }
    })?;
    // Approving, then resuming, panicked on the stage with no record.
    for (verb, args) in [("approve", &["--as", "officer"][..]), ("resume", &[][..])] {
        let ran = gated.on_run(verb, args)?;
        assert_refused(
            &ran,
            2,
            "is damaged: it lists stages [\"first\", \"review\"]",
        )?;
    }
    Ok(())
}

#[test]
fn a_run_record_copied_from_another_run_is_refused() -> Result<()> {
    let gated = GatedRun::start()?;
    let ran = gated
        .gantry
        .run(&["run", &gated.scratch.pipeline(), "--as", "dev"])?;
    ensure!(ran.code == 4, "{ran:?}");
    let other = newest_run(gated.gantry.state_dir(), &gated.run)?;
    fs::copy(
        gated.record_path(),
        gated.gantry.run_dir(&other).join("run.json"),
    )?;

    // The approval was audited for one run and saved under the other.
    let ran = gated.gantry.run(&["approve", &other, "--as", "officer"])?;
    let problem = format!("is damaged: it is the record of run {}", gated.run);
    assert_refused(&ran, 2, &problem)?;
    let approvals = gated.gantry.audit_events()?;
    ensure!(
        !approvals.iter().any(|e| e["event"] == "approval"),
        "an approval was audited"
    );
    gated.gantry.assert_audit_intact()
}

#[test]
fn a_run_dir_that_is_a_symlink_is_refused_not_followed() -> Result<()> {
    let gated = GatedRun::start()?;
    let elsewhere = tempfile::tempdir()?;
    let moved = elsewhere.path().join("run");
    let run_dir = gated.gantry.run_dir(&gated.run);
    fs::rename(&run_dir, &moved)?;
    std::os::unix::fs::symlink(&moved, &run_dir)?;
    let before = fs::read(moved.join("run.json"))?;

    // It was followed: `show` read the record and `approve` rewrote it.
    for (verb, args) in [("show", &[][..]), ("approve", &["--as", "officer"][..])] {
        let ran = gated.on_run(verb, args)?;
        assert_refused(&ran, 2, "is a symlink or not a directory")?;
    }
    ensure!(
        fs::read(moved.join("run.json"))? == before,
        "the record was rewritten"
    );
    Ok(())
}

#[test]
fn a_run_dir_without_its_record_names_the_missing_file() -> Result<()> {
    let gated = GatedRun::start()?;
    fs::remove_file(gated.record_path())?;
    // It said "no run … in state dir", though the run's directory is there.
    for ran in [gated.on_run("show", &[])?, gated.gantry.run(&["runs"])?] {
        assert_refused(&ran, 2, "failed to read")?;
        ensure!(ran.stderr.contains("run.json"), "{ran:?}");
    }
    Ok(())
}

#[test]
fn an_audit_log_cut_at_a_line_boundary_stops_approve_and_resume() -> Result<()> {
    let gated = GatedRun::start()?;
    let log = gated.gantry.state_dir().join("audit.jsonl");
    let text = fs::read_to_string(&log)?;
    let kept: String = text.lines().take(2).map(|l| format!("{l}\n")).collect();
    fs::write(&log, &kept)?;

    // Both went on, appending to the shortened chain.
    for (verb, args) in [("approve", &["--as", "officer"][..]), ("resume", &[][..])] {
        let ran = gated.on_run(verb, args)?;
        assert_refused(&ran, 1, "the audit log no longer holds chain head")?;
        ensure!(ran.stderr.contains("after stage `first`"), "{ran:?}");
    }
    ensure!(fs::read_to_string(&log)? == kept, "events were appended");
    Ok(())
}

#[test]
fn a_damaged_compiled_plugin_is_compiled_again_not_run() -> Result<()> {
    let scratch = Scratch::new(&one_stage_pipeline(&noop_plugin(), ""))?;
    let gantry = Gantry::with_own_cache()?;
    let run = || gantry.run(&["run", &scratch.pipeline()]);
    ensure!(run()?.code == 0);
    let cached = only_cached_file(gantry.state_dir())?;

    // Bytes changed inside the native code were mapped and run as they were.
    let mut flipped = fs::read(&cached)?;
    for index in (flipped.len() / 4..flipped.len() / 2).step_by(61) {
        flipped[index] ^= 0x5a;
    }
    let garbage = b"\x7fELF but not really".to_vec();
    for damaged in [flipped, garbage] {
        fs::write(&cached, &damaged)?;
        let ran = run()?;
        ensure!(ran.code == 0, "{ran:?}");
        ensure!(
            ran.stderr
                .contains("compiled plugin in the cache is unusable"),
            "no warning: {ran:?}"
        );
        ensure!(fs::read(&cached)? != damaged, "the damaged file was kept");
    }
    let ran = run()?;
    ensure!(
        !ran.stderr.contains("unusable"),
        "the new file is damaged too: {ran:?}"
    );
    Ok(())
}

/// The id of the run in `state` other than `known`.
fn newest_run(state: &Path, known: &str) -> Result<String> {
    fs::read_dir(state.join("runs"))?
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .find(|name| name != known)
        .context("no second run")
}

/// The one compiled plugin in the state dir's own cache.
fn only_cached_file(state: &Path) -> Result<PathBuf> {
    let mut files = Vec::new();
    for engine in fs::read_dir(state.join("cache"))? {
        for file in fs::read_dir(engine?.path())? {
            files.push(file?.path());
        }
    }
    ensure!(
        files.len() == 1,
        "expected one cached plugin, found {files:?}"
    );
    Ok(files.remove(0))
}

#[test]
fn a_corrupt_run_record_is_named_by_every_command_that_reads_it() -> Result<()> {
    let gated = GatedRun::start()?;
    fs::write(gated.record_path(), "{\"id\": 42")?;
    for ran in [
        gated.on_run("show", &[])?,
        gated.on_run("approve", &["--as", "officer"])?,
        gated.on_run("resume", &[])?,
    ] {
        assert_refused(&ran, 2, "failed to parse run record")?;
    }
    let record: Result<Value, _> = serde_json::from_slice(&fs::read(gated.record_path())?);
    ensure!(record.is_err(), "the corrupt record was rewritten");
    Ok(())
}

#[test]
fn a_stage_dir_planted_as_a_symlink_is_replaced_not_written_through() -> Result<()> {
    let gated = GatedRun::start()?;
    ensure!(gated.on_run("approve", &["--as", "officer"])?.code == 0);
    let victim = tempfile::tempdir()?;
    fs::write(victim.path().join("log.jsonl"), "precious")?;
    fs::create_dir(victim.path().join("out"))?;
    fs::write(victim.path().join("out/keep"), "precious")?;
    let stages = gated.gantry.run_dir(&gated.run).join("stages");
    std::os::unix::fs::symlink(victim.path(), stages.join("last"))?;

    // The victim's `out/` was removed and its `log.jsonl` truncated.
    let ran = gated.on_run("resume", &[])?;
    ensure!(ran.code == 0, "{ran:?}");
    ensure!(fs::read_to_string(victim.path().join("log.jsonl"))? == "precious");
    ensure!(fs::read_to_string(victim.path().join("out/keep"))? == "precious");
    ensure!(!fs::symlink_metadata(stages.join("last"))?.is_symlink());
    Ok(())
}

#[test]
fn a_stages_dir_planted_as_a_symlink_is_refused() -> Result<()> {
    let gated = GatedRun::start()?;
    ensure!(gated.on_run("approve", &["--as", "officer"])?.code == 0);
    let victim = tempfile::tempdir()?;
    let stages = gated.gantry.run_dir(&gated.run).join("stages");
    fs::rename(&stages, victim.path().join("stages"))?;
    std::os::unix::fs::symlink(victim.path().join("stages"), &stages)?;

    let ran = gated.on_run("resume", &[])?;
    assert_refused(&ran, 2, "it is a symlink, which gantry never makes")?;
    ensure!(
        !victim.path().join("stages/last").exists(),
        "a stage wrote through it"
    );
    Ok(())
}

#[test]
fn an_unreadable_audit_log_is_named_with_its_cause() -> Result<()> {
    let gated = GatedRun::start()?;
    let log = gated.gantry.state_dir().join("audit.jsonl");
    fs::remove_file(&log)?;
    fs::create_dir(&log)?;
    // It said only "failed to read audit log `…`".
    let ran = gated.gantry.run(&["audit", "verify"])?;
    assert_refused(&ran, 1, "Is a directory")
}
