//! `gantry inspect`, the permission audit, on the demo pipelines and on a
//! pipeline that grants too much on purpose (`tests/inspect/over-granted/`).
//!
//! The human report and the `--json` object of each are compared with
//! goldens in `tests/inspect/<case>.txt` and `<case>.json` (the JSON pretty
//! printed). Run with `GANTRY_BLESS=1` to rewrite them, then review the diff.
//!
//! So that the goldens hold on any machine and across plugin rebuilds, the
//! output is redacted, and only in these ways:
//!
//! - every run of exactly 64 hex digits (a sha256: `sha256:<hex>` in JSON,
//!   the hex alone in the human report) becomes `<digest>`: component
//!   digests change with every change to a plugin;
//! - the absolute path each `exec` grant resolved to becomes
//!   `<PATH>/<name>`: it depends on the machine's `PATH`;
//! - the scratch directory the over-granted case is copied to becomes
//!   `<dir>`, the repository root `<repo>`, and the home directory (where
//!   `exec-read` finds the toolchain) `<home>`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};

use crate::support::{Gantry, Ran, repo_root, test_plugin};

/// Where the goldens and the over-granted pipeline live.
fn inspect_dir() -> PathBuf {
    repo_root().join("tests/inspect")
}

/// One pipeline to inspect, and what to redact from its report.
struct Case {
    name: &'static str,
    /// The pipeline file as passed to `gantry` (run from the repository
    /// root).
    pipeline: String,
    redactions: Vec<(String, String)>,
    /// Keeps the scratch copy alive for the case's life.
    _scratch: Option<tempfile::TempDir>,
}

impl Case {
    /// A pipeline of the repository, named relative to its root.
    fn in_repo(name: &'static str, pipeline: &str) -> Result<Case> {
        let redactions = redactions(&repo_root().join(pipeline), None)?;
        Ok(Case {
            name,
            pipeline: pipeline.to_owned(),
            redactions,
            _scratch: None,
        })
    }

    /// The over-granted pipeline, copied with its test plugins into a
    /// scratch directory.
    fn over_granted() -> Result<Case> {
        let scratch = tempfile::tempdir()?;
        let dir = std::fs::canonicalize(scratch.path())?;
        copy_dir(&inspect_dir().join("over-granted"), &dir)?;
        for plugin in ["wants-more", "describe-trap"] {
            let target = dir.join(format!("{plugin}.wasm"));
            std::fs::copy(test_plugin(plugin), &target)
                .with_context(|| format!("failed to copy test plugin `{plugin}`"))?;
        }
        let pipeline = dir.join("pipeline.toml");
        let redactions = redactions(&pipeline, Some(&dir))?;
        Ok(Case {
            name: "over-granted",
            pipeline: pipeline.display().to_string(),
            redactions,
            _scratch: Some(scratch),
        })
    }

    fn redact(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for (from, to) in &self.redactions {
            text = text.replace(from, to);
        }
        redact_digests(&text)
    }
}

/// The paths to redact from a pipeline's report: each program an `exec`
/// grant resolved to, the scratch directory, the repository root.
fn redactions(pipeline: &Path, scratch: Option<&Path>) -> Result<Vec<(String, String)>> {
    let spec = gantry::pipeline::load(pipeline)?;
    let mut redactions = Vec::new();
    for stage in &spec.stages {
        for program in stage
            .plugin()
            .map(|p| &p.grants.exec[..])
            .unwrap_or_default()
        {
            let from = program.resolved.display().to_string();
            redactions.push((from, format!("<PATH>/{}", program.name)));
        }
    }
    if let Some(dir) = scratch {
        redactions.push((dir.display().to_string(), "<dir>".to_owned()));
    }
    let root = std::fs::canonicalize(repo_root())?;
    redactions.push((root.display().to_string(), "<repo>".to_owned()));
    // `exec-read` and `exec-write` name the toolchain under the home
    // directory (`~/.rustup`), which is the user's own.
    if let Some(home) = std::env::var_os("HOME").and_then(|h| std::fs::canonicalize(h).ok())
        && home != Path::new("/")
    {
        redactions.push((home.display().to_string(), "<home>".to_owned()));
    }
    Ok(redactions)
}

/// Every run of exactly 64 lowercase hex digits made `<digest>`.
fn redact_digests(text: &str) -> String {
    let is_hex = |c: char| matches!(c, '0'..='9' | 'a'..='f');
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    for c in text.chars().chain(std::iter::once('\n')) {
        if is_hex(c) {
            run.push(c);
            continue;
        }
        out.push_str(if run.len() == 64 { "<digest>" } else { &run });
        run.clear();
        out.push(c);
    }
    out.pop();
    out
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Compares `actual` with the golden `file`, or writes it when blessing;
/// returns a description of the difference, if any.
fn check_golden(file: &str, actual: &str) -> Result<Option<String>> {
    let path = inspect_dir().join(file);
    if std::env::var_os("GANTRY_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, actual)
            .with_context(|| format!("failed to write `{}`", path.display()))?;
        return Ok(None);
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    if expected == actual {
        return Ok(None);
    }
    Ok(Some(format!(
        "tests/inspect/{file}:\n--- expected\n{expected}+++ actual\n{actual}"
    )))
}

fn inspect(gantry: &Gantry, case: &Case, extra: &[&str]) -> Result<Ran> {
    let mut args = vec!["inspect", case.pipeline.as_str()];
    args.extend_from_slice(extra);
    gantry.run(&args)
}

/// Checks the human report and the JSON object of one case.
fn check_case(gantry: &Gantry, case: &Case) -> Result<Vec<String>> {
    let mut failures = Vec::new();
    let human = inspect(gantry, case, &[])?;
    ensure!(human.code == 0, "{}: inspect failed: {human:?}", case.name);
    let text = case.redact(&human.stdout);
    failures.extend(check_golden(&format!("{}.txt", case.name), &text)?);

    let json = inspect(gantry, case, &["--json"])?;
    ensure!(
        json.code == 0,
        "{}: inspect --json failed: {json:?}",
        case.name
    );
    ensure!(
        json.stdout.trim_end().lines().count() == 1,
        "{}: --json printed more than one line",
        case.name
    );
    let pretty = serde_json::to_string_pretty(&json.json()?)? + "\n";
    failures.extend(check_golden(
        &format!("{}.json", case.name),
        &case.redact(&pretty),
    )?);
    Ok(failures)
}

#[test]
fn inspect_reports_match_their_goldens() -> Result<()> {
    let gantry = Gantry::new()?;
    let cases = [
        Case::in_repo("contact-tracing", "pipelines/contact-tracing.toml")?,
        Case::in_repo(
            "contact-tracing-blocked",
            "pipelines/contact-tracing-blocked.toml",
        )?,
        Case::over_granted()?,
    ];
    let mut failures = Vec::new();
    for case in &cases {
        failures.extend(check_case(&gantry, case)?);
    }
    if !failures.is_empty() {
        bail!(
            "{} inspect goldens differ (rerun with GANTRY_BLESS=1 to accept):\n\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
    Ok(())
}

#[test]
fn the_human_report_fits_eighty_columns_where_no_host_path_is_named() -> Result<()> {
    let gantry = Gantry::new()?;
    let case = Case::over_granted()?;
    let ran = inspect(&gantry, &case, &[])?;
    for line in ran.stdout.lines() {
        // Only the lines naming host paths may run longer.
        let names_a_path = case.redactions.iter().any(|(path, _)| line.contains(path));
        ensure!(
            names_a_path || line.chars().count() <= 80,
            "line over 80 columns: {line}"
        );
    }
    Ok(())
}

/// The finding codes of one stage of a `--json` report.
fn codes(report: &serde_json::Value, stage: &str) -> Result<Vec<String>> {
    let stage = crate::support::stage(report, stage)?;
    let findings = stage["findings"].as_array().context("findings")?;
    Ok(findings
        .iter()
        .map(|f| format!("{} {}", f["code"].as_str().unwrap_or("?"), f["key"]))
        .collect())
}

#[test]
fn every_kind_of_finding_is_found_in_the_over_granted_pipeline() -> Result<()> {
    let gantry = Gantry::new()?;
    let case = Case::over_granted()?;
    let report = inspect(&gantry, &case, &["--json"])?.json()?;

    let scan = codes(&report, "scan")?;
    for expected in [
        "grant-not-imported \"exec\"",
        "beyond-ceiling \"exec\"",
        "beyond-ceiling \"net\"",
        "beyond-ceiling \"memory\"",
        "beyond-ceiling \"timeout\"",
    ] {
        ensure!(
            scan.iter().any(|c| c == expected),
            "scan lacks {expected}: {scan:?}"
        );
    }
    let wants = codes(&report, "wants-more")?;
    ensure!(
        wants.iter().any(|c| c == "grant-not-imported \"net\""),
        "wants-more lacks grant-not-imported \"net\": {wants:?}"
    );
    for key in ["read", "write", "exec", "env", "net"] {
        let expected = format!("want-not-granted \"{key}\"");
        ensure!(
            wants.contains(&expected),
            "wants-more lacks {expected}: {wants:?}"
        );
    }
    // `/workspace/src/` is inside the `src` grant: that want is granted.
    let read_wants = wants
        .iter()
        .filter(|c| *c == "want-not-granted \"read\"")
        .count();
    ensure!(read_wants == 1, "{wants:?}");
    ensure!(codes(&report, "mute")?.contains(&"describe-failed null".to_owned()));

    let build = crate::support::stage(&report, "build")?;
    let overlaps: Vec<&str> = build["findings"]
        .as_array()
        .context("findings")?
        .iter()
        .filter(|f| f["code"] == "write-overlaps-read")
        .filter_map(|f| f["other_stage"].as_str())
        .collect();
    ensure!(overlaps == ["scan", "wants-more"], "{overlaps:?}");

    let total: usize = report["stages"]
        .as_array()
        .context("stages")?
        .iter()
        .map(|s| s["findings"].as_array().map_or(0, Vec::len))
        .sum();
    ensure!(
        report["finding_count"] == total,
        "{}",
        report["finding_count"]
    );
    Ok(())
}

#[test]
fn deny_warnings_fails_on_findings_and_passes_a_clean_pipeline() -> Result<()> {
    let gantry = Gantry::new()?;
    let over = Case::over_granted()?;
    let ran = inspect(&gantry, &over, &["--deny-warnings"])?;
    ensure!(ran.code == 1, "over-granted: {ran:?}");
    ensure!(
        ran.stdout.contains("stage mute"),
        "the report is printed: {ran:?}"
    );

    let ran = inspect(&gantry, &over, &["--deny-warnings", "--json"])?;
    ensure!(ran.code == 1, "over-granted --json: {ran:?}");
    let report = ran.json()?;
    ensure!(report["exit_code"] == 1 && report["stages"].as_array().map(Vec::len) == Some(4));

    // Without the flag, findings do not change the exit code.
    ensure!(inspect(&gantry, &over, &[])?.code == 0);

    let clean = Case::in_repo("clean", "tests/inspect/clean/pipeline.toml")?;
    let ran = inspect(&gantry, &clean, &["--deny-warnings", "--json"])?;
    ensure!(ran.code == 0, "clean: {ran:?}");
    ensure!(ran.json()?["finding_count"] == 0);
    Ok(())
}

#[test]
fn digests_are_redacted_only_where_whole() {
    let text = "a sha256:{} b sha256:abc c {}0\n".replace("{}", &"0f".repeat(32));
    let longer = format!("{}0", "0f".repeat(32));
    assert_eq!(
        redact_digests(&text),
        format!("a sha256:<digest> b sha256:abc c {longer}\n")
    );
}
