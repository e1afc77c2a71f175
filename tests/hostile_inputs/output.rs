//! Stage output built to slip past the host: repeated artifact names and
//! metadata keys, names that display as something else, and more text than
//! a run record should hold. Each is a plugin fault (exit 3) whose message
//! says what was wrong, escaped.

use anyhow::{Result, ensure};

use super::{assert_refused, forged_plugin};
use crate::support::{Gantry, Ran, Scratch, one_stage_pipeline};

/// Runs the forged-output plugin with `config` as its `[stage.config]`.
fn run_forged(config: &str) -> Result<Ran> {
    let stage = format!("[stage.config]\n{config}");
    let scratch = Scratch::new(&one_stage_pipeline(&forged_plugin(), &stage))?;
    Gantry::new()?.run(&["run", &scratch.pipeline()])
}

#[test]
fn repeated_artifact_names_are_a_plugin_fault() -> Result<()> {
    // The reviewer is shown the first artifact named `summary`; a second
    // one was recorded beside it.
    let ran = run_forged(
        r#"files = [["/out/real.md", "real"], ["/out/fake.md", "fake"]]
output = { artifacts = [["summary", "text/markdown", "real.md"], ["summary", "text/markdown", "fake.md"]] }"#,
    )?;
    assert_refused(&ran, 3, "artifact name \"summary\" appears more than once")
}

#[test]
fn repeated_metadata_keys_are_a_plugin_fault() -> Result<()> {
    // The last value silently replaced the first in the run record.
    let ran = run_forged(r#"output = { metadata = [["image", "a"], ["image", "b"]] }"#)?;
    assert_refused(&ran, 3, "metadata key \"image\" appears more than once")
}

#[test]
fn names_with_bidirectional_overrides_are_a_plugin_fault() -> Result<()> {
    let ran = run_forged(
        r#"files = [["/out/a", "1"]]
output = { artifacts = [["sbom\u202egnp.exe", "text/plain", "a"]] }"#,
    )?;
    assert_refused(&ran, 3, "artifact name \"sbom\\u{202e}gnp.exe\"")?;
    ensure!(!ran.stderr.contains('\u{202e}'), "the override was printed");
    Ok(())
}

#[test]
fn an_artifact_path_with_terminal_escapes_is_refused_and_shown_escaped() -> Result<()> {
    let ran = run_forged(
        r#"files = [["/out/x\u001b[2J", "1"]]
output = { artifacts = [["x", "text/plain", "x\u001b[2J"]] }"#,
    )?;
    // The file's name is refused before the artifact naming it.
    assert_refused(&ran, 3, "`/out/x\\u{1b}[2J` has a name with control")?;
    ensure!(!ran.stderr.contains('\u{1b}'), "a raw escape was printed");
    Ok(())
}

#[test]
fn more_output_text_than_a_run_record_should_hold_is_a_plugin_fault() -> Result<()> {
    // 80 MB of metadata was written to run.json and reread by every command.
    let value = "v".repeat(8000);
    let ran = run_forged(&format!(
        "output = {{ metadata = [[\"k\", \"{value}\"]], metadata-copies = 2100 }}"
    ))?;
    assert_refused(&ran, 3, "exceeded its limit `output` of 16.0 MiB")
}

#[test]
fn an_output_dir_nested_past_the_path_limit_is_a_plugin_fault() -> Result<()> {
    // Made one level at a time, relative to the last, so the plugin never
    // names a long path; the host's walk of `out/` must end in an error,
    // not in a crash.
    let ran = run_forged("nest = [\"/out\", 3000]")?;
    assert_refused(&ran, 3, "its output directory is unusable")
}

#[test]
fn metadata_that_is_not_utf8_is_a_fault_and_never_reaches_the_record() -> Result<()> {
    let stage = "[stage.config]\noutput = { invalid-utf8-metadata = true }";
    let scratch = Scratch::new(&one_stage_pipeline(&forged_plugin(), stage))?;
    let gantry = Gantry::new()?;
    let ran = gantry.run(&["run", &scratch.pipeline()])?;
    assert_refused(&ran, 3, "the plugin trapped")?;
    ensure!(ran.stderr.contains("utf-8"), "{}", ran.stderr);
    let record = gantry.run_record(&gantry.only_run()?)?;
    let stage = crate::support::stage(&record, "probe")?;
    ensure!(
        stage["metadata"].as_object().is_none_or(|m| m.is_empty()),
        "{stage:#}"
    );
    gantry.assert_audit_intact()
}
