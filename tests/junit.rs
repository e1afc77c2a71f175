//! The test stage reading JUnit reports inside the sandbox, and the ATO
//! packet carrying what they say.
//!
//! The reports are the real ones under
//! `plugins/core/tests/fixtures/junit/` (written by pytest and
//! cargo-nextest), put into a scratch workspace where a runner would have
//! left them; the stage's command is `true`, so what the stage decides
//! comes from the reports alone.

use std::path::Path;

use anyhow::{Context, Result, ensure};
use serde_json::Value;

use crate::support::{Gantry, Ran, Scratch, read_json, repo_root, stage};

/// A `test` stage reading `pattern`, then an `ato` stage after it.
fn pipeline(pattern: &str) -> String {
    format!(
        r#"
[pipeline]
name = "junit"
workspace = "ws"

[[stage]]
id = "test"
plugin = "gantry:test"
config = {{ command = ["true"], junit = {pattern} }}
grants = {{ read = ["."], exec = ["true"] }}

[[stage]]
id = "ato"
plugin = "gantry:ato"
needs = ["test"]
config = {{ system = "JUnit demo" }}
"#
    )
}

/// A scratch pipeline whose workspace holds the named fixtures under
/// `reports/`.
fn scratch(pattern: &str, fixtures: &[&str]) -> Result<Scratch> {
    let scratch = Scratch::new(&pipeline(pattern))?;
    let reports = scratch.workspace().join("reports");
    std::fs::create_dir_all(&reports)?;
    let dir = repo_root().join("plugins/core/tests/fixtures/junit");
    for name in fixtures {
        std::fs::copy(dir.join(name), reports.join(name))
            .with_context(|| format!("failed to copy fixture `{name}`"))?;
    }
    Ok(scratch)
}

fn run(gantry: &Gantry, scratch: &Scratch) -> Result<(Ran, Value)> {
    let ran = gantry.run(&["--json", "run", &scratch.pipeline()])?;
    let report = ran.json()?;
    Ok((ran, report))
}

#[test]
fn junit_counts_reach_the_test_report_and_the_packet() -> Result<()> {
    let gantry = Gantry::new()?;
    let scratch = scratch(r#""reports/*.xml""#, &["pytest-passing.xml"])?;
    let (ran, report) = run(&gantry, &scratch)?;
    ensure!(ran.code == 0, "{ran:?}");
    let run_dir = gantry.run_dir(report["run_id"].as_str().context("run_id")?);

    let out = run_dir.join("stages/test/out");
    let test_report = read_json(&out.join("test-report.json"))?;
    assert_eq!(test_report["passed"], 3);
    assert_eq!(test_report["junit"]["tests"], 3);
    assert_eq!(
        test_report["junit"]["files"][0],
        "reports/pytest-passing.xml"
    );
    let junit = std::fs::read_to_string(out.join("junit.xml"))?;
    ensure!(junit.contains("test_merge_rejects_empty"), "{junit}");

    let results = read_json(&run_dir.join("stages/ato/out/assessment-results.json"))?;
    let observation = &results["assessment-results"]["results"][0]["observations"][0];
    assert_eq!(observation["title"], "Test run passed");
    let props = observation["props"].as_array().context("props")?;
    let total = props
        .iter()
        .find(|p| p["name"] == "tests-total")
        .context("tests-total")?;
    assert_eq!(total["value"], "3");
    let resources = &results["assessment-results"]["back-matter"]["resources"];
    let junit_resource = resources
        .as_array()
        .and_then(|all| all.iter().find(|r| r["props"][0]["value"] == "junit"))
        .context("no junit resource in the back matter")?;
    let recorded = sha_of(&out.join("junit.xml"))?;
    assert_eq!(junit_resource["rlinks"][0]["hashes"][0]["value"], recorded);
    Ok(())
}

#[test]
fn a_failure_in_the_report_fails_the_stage_though_the_command_passed() -> Result<()> {
    let gantry = Gantry::new()?;
    let pattern = r#"["reports/pytest-passing.xml", "reports/nextest.xml"]"#;
    let scratch = scratch(pattern, &["pytest-passing.xml", "nextest.xml"])?;
    let (ran, report) = run(&gantry, &scratch)?;
    assert_eq!(ran.code, 1, "{ran:?}");
    assert_eq!(report["failure"]["stage"], "test");
    let record = gantry.run_record(report["run_id"].as_str().context("run_id")?)?;
    let test = stage(&record, "test")?;
    let reason = test.to_string();
    ensure!(
        reason.contains(
            "exited 0 but its JUnit report records failures: \
             1 test failed: exposure::tests::window_is_ten_days"
        ),
        "{test:#}"
    );
    assert_eq!(stage(&record, "ato")?["status"], "skipped");
    Ok(())
}

#[test]
fn a_pattern_matching_nothing_stops_the_stage_naming_it() -> Result<()> {
    let gantry = Gantry::new()?;
    let scratch = scratch(r#""target/junit/*.xml""#, &["pytest-passing.xml"])?;
    let (ran, _) = run(&gantry, &scratch)?;
    ensure!(ran.code != 0, "{ran:?}");
    ensure!(
        ran.stderr
            .contains("no file in the workspace matches the JUnit pattern `target/junit/*.xml`"),
        "{}",
        ran.stderr
    );
    Ok(())
}

#[test]
fn a_malformed_report_is_named_with_its_line() -> Result<()> {
    let gantry = Gantry::new()?;
    let scratch = scratch(r#""reports/*.xml""#, &[])?;
    let bad = "<testsuites>\n  <testsuite name=\"s\">\n    <testcase name=\"a\">\n  </testsuite>\n";
    std::fs::write(scratch.workspace().join("reports/bad.xml"), bad)?;
    let (ran, _) = run(&gantry, &scratch)?;
    ensure!(ran.code != 0, "{ran:?}");
    ensure!(
        ran.stderr
            .contains("invalid JUnit report reports/bad.xml:4:"),
        "{}",
        ran.stderr
    );
    Ok(())
}

fn sha_of(path: &Path) -> Result<String> {
    Ok(crate::support::sha256_hex(&std::fs::read(path)?))
}
