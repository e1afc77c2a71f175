//! The `gantry:test` stage: runs the test command and reports what it saw.
//!
//! ```toml
//! [stage.config]
//! command = ["cargo", "test", "--locked"]
//! junit = "target/nextest/ci/junit.xml"   # optional; a glob or a list
//! ```
//!
//! The verdict is the command's exit status: `pass` on 0, `fail` otherwise,
//! naming the failed tests. Without `junit`, counts come from every
//! `test result:` line cargo's test harness prints, summed. With it, they
//! come from the JUnit reports the command wrote into the workspace (see
//! [`junit`]), which are then also copied, joined into one document, to
//! `/out/junit.xml`; a report that records a failure fails the stage even
//! when the command exited 0. The whole report is written to
//! `/out/test-report.json`.

mod cargo;
mod junit;

use std::path::Path;
use std::time::Instant;

use gantry_plugin_sdk::{
    Capabilities, Guest, PluginInfo, StageError, StageInput, StageKind, StageOutput, Verdict,
    config, exec, log, out,
};
use serde::{Deserialize, Serialize};

use gantry_plugin_core::junit::JunitReport;

use crate::cargo::TestCounts;
use crate::junit::Patterns;

/// How much of each output stream the report keeps: the end, where the
/// failures and the summary are.
const CAPTURE_BYTES: usize = 64 * 1024;
/// How many failed tests the verdict names before "and N more".
const NAMED_FAILURES: usize = 5;

const CONFIG_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "command": {
      "type": "array", "items": { "type": "string" }, "minItems": 1,
      "default": ["cargo", "test", "--locked"]
    },
    "junit": {
      "description": "JUnit XML reports the command writes, as globs relative to the workspace",
      "oneOf": [
        { "type": "string" },
        { "type": "array", "items": { "type": "string" }, "minItems": 1 }
      ]
    }
  }
}"#;

/// The stage's `[stage.config]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct TestConfig {
    #[serde(default = "default_command")]
    command: Vec<String>,
    #[serde(default)]
    junit: Option<Patterns>,
}

fn default_command() -> Vec<String> {
    ["cargo", "test", "--locked"].map(String::from).to_vec()
}

/// `/out/test-report.json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
struct TestReport {
    command: Vec<String>,
    /// The exit code, or `null` when a signal or the time limit ended it.
    exit_status: Option<i32>,
    timed_out: bool,
    passed: u64,
    failed: u64,
    ignored: u64,
    failed_tests: Vec<String>,
    duration_ms: u64,
    /// The last 64 KiB of standard output.
    stdout: String,
    /// The last 64 KiB of standard error.
    stderr: String,
    /// What the JUnit reports said, when `junit` is configured; the counts
    /// above are then taken from it.
    #[serde(skip_serializing_if = "Option::is_none")]
    junit: Option<JunitReport>,
}

struct Test;

impl Guest for Test {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "test".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            kind: StageKind::Test,
            config_schema: CONFIG_SCHEMA.to_owned(),
            // The test command runs on the host, in the workspace; the
            // plugin itself reads only the JUnit reports there, when
            // configured, and writes only `/out`.
            wants: Capabilities {
                read: vec![junit::WORKSPACE.to_owned()],
                exec: vec!["cargo".to_owned()],
                ..Capabilities::none()
            },
        }
    }

    fn run(input: StageInput) -> Result<StageOutput, StageError> {
        let config: TestConfig = config::parse(&input.config)?;
        log::info(
            "running test command",
            &[("command", &config.command.join(" "))],
        );
        let started = Instant::now();
        let output = exec::run_command_line("command", &config.command, None)?;
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);

        let mut report = build_report(config.command, &output, duration_ms);
        let mut stage_output = StageOutput::new(Verdict::Pass, String::new());
        if let Some(patterns) = &config.junit {
            let reports = junit::read_reports(patterns, Path::new(junit::WORKSPACE))?;
            out::write("junit.xml", reports.combined().as_bytes())?;
            stage_output = stage_output.with_artifact("junit", "application/xml", "junit.xml");
            apply_junit(&mut report, reports.report);
        }
        out::write_json("test-report.json", &report)?;
        let counts = format!("{} passed, {} failed", report.passed, report.failed);
        log::info(
            "tests finished",
            &[("result", &counts), ("status", &output.describe_status())],
        );

        stage_output.verdict = verdict(&report, &output);
        stage_output.summary = counts;
        Ok(stage_output.with_artifact("test-report", "application/json", "test-report.json"))
    }
}

gantry_plugin_sdk::export!(Test);

fn build_report(command: Vec<String>, output: &exec::Output, duration_ms: u64) -> TestReport {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let TestCounts {
        passed,
        failed,
        ignored,
    } = cargo::sum_results(&[&stdout, &stderr]);
    TestReport {
        command,
        exit_status: output.status,
        timed_out: output.timed_out,
        passed,
        failed,
        ignored,
        failed_tests: cargo::failed_tests(&[&stdout, &stderr]),
        duration_ms,
        stdout: output.stdout_tail(CAPTURE_BYTES),
        stderr: output.stderr_tail(CAPTURE_BYTES),
        junit: None,
    }
}

/// Takes the counts and failed tests from the JUnit reports: they are the
/// runner's own record, where the console output is only what it printed.
fn apply_junit(report: &mut TestReport, junit: JunitReport) {
    report.passed = junit.passed();
    report.failed = junit.failures + junit.errors;
    report.ignored = junit.skipped;
    report.failed_tests = junit
        .failed
        .iter()
        .map(|case| case.qualified_name())
        .collect();
    report.junit = Some(junit);
}

/// `pass` on exit status 0 with no failure reported; otherwise `fail`,
/// naming failed tests if known.
fn verdict(report: &TestReport, output: &exec::Output) -> Verdict {
    let command = report.command.join(" ");
    let mut reason = if !output.success() {
        format!("`{command}` failed with {}", output.describe_status())
    } else if report.junit.is_some() && report.failed > 0 {
        format!("`{command}` exited 0 but its JUnit report records failures")
    } else {
        return Verdict::Pass;
    };
    if !report.failed_tests.is_empty() {
        reason.push_str(&format!(": {}", name_failures(&report.failed_tests)));
    }
    Verdict::Fail(reason)
}

/// "2 tests failed: a, b", or the first few names and how many more.
fn name_failures(names: &[String]) -> String {
    let count = names.len();
    let noun = if count == 1 { "test" } else { "tests" };
    let shown = names[..count.min(NAMED_FAILURES)].join(", ");
    match count.checked_sub(NAMED_FAILURES) {
        Some(more) if more > 0 => format!("{count} {noun} failed: {shown} and {more} more"),
        _ => format!("{count} {noun} failed: {shown}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(status: Option<i32>, stdout: &str) -> exec::Output {
        exec::Output {
            status,
            stdout: stdout.as_bytes().to_vec(),
            stderr: b"   Compiling app v0.1.0\n".to_vec(),
            timed_out: false,
        }
    }

    fn command() -> Vec<String> {
        default_command()
    }

    #[test]
    fn passing_run_is_a_pass_with_counts() {
        let run = output(
            Some(0),
            "test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured\n",
        );
        let report = build_report(command(), &run, 12);
        assert_eq!((report.passed, report.failed, report.ignored), (3, 0, 1));
        assert_eq!(verdict(&report, &run), Verdict::Pass);
    }

    #[test]
    fn failing_run_names_the_failed_tests() {
        let stdout = "---- tests::adds stdout ----\nboom\n\
                      test result: FAILED. 1 passed; 1 failed; 0 ignored\n";
        let run = output(Some(101), stdout);
        let report = build_report(command(), &run, 12);
        let Verdict::Fail(reason) = verdict(&report, &run) else {
            panic!("expected fail")
        };
        assert_eq!(
            reason,
            "`cargo test --locked` failed with exit status 101: 1 test failed: tests::adds"
        );
    }

    #[test]
    fn non_zero_exit_fails_even_without_a_summary() {
        let run = output(Some(101), "error: could not compile `app`\n");
        let report = build_report(command(), &run, 12);
        let Verdict::Fail(reason) = verdict(&report, &run) else {
            panic!("expected fail")
        };
        assert_eq!(reason, "`cargo test --locked` failed with exit status 101");
    }

    #[test]
    fn junit_failures_fail_the_stage_even_after_exit_zero() {
        let run = output(Some(0), "");
        let mut report = build_report(command(), &run, 12);
        let text = r#"<testsuite name="s"><testcase name="a"/>
            <testcase classname="app" name="b"><failure message="no"/></testcase></testsuite>"#;
        apply_junit(
            &mut report,
            gantry_plugin_core::junit::parse("r.xml", text).unwrap(),
        );
        assert_eq!((report.passed, report.failed), (1, 1));
        let Verdict::Fail(reason) = verdict(&report, &run) else {
            panic!("expected fail")
        };
        assert_eq!(
            reason,
            "`cargo test --locked` exited 0 but its JUnit report records failures: \
             1 test failed: app::b"
        );

        let clean = r#"<testsuite name="s"><testcase name="a"/></testsuite>"#;
        let mut report = build_report(command(), &run, 12);
        apply_junit(
            &mut report,
            gantry_plugin_core::junit::parse("r.xml", clean).unwrap(),
        );
        assert_eq!(verdict(&report, &run), Verdict::Pass);
    }

    #[test]
    fn many_failures_are_shortened() {
        let names: Vec<String> = (1..=7).map(|n| format!("t{n}")).collect();
        assert_eq!(
            name_failures(&names),
            "7 tests failed: t1, t2, t3, t4, t5 and 2 more"
        );
    }

    #[test]
    fn report_keeps_only_the_end_of_long_output() {
        let long = "x".repeat(CAPTURE_BYTES * 2);
        let report = build_report(command(), &output(Some(0), &long), 1);
        assert_eq!(report.stdout.len(), CAPTURE_BYTES);
    }
}
