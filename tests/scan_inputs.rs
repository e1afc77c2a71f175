//! The scan stage on a workspace of several lockfiles, one of them broken:
//! every lockfile found, dependency directories left alone, the broken one
//! reported by name, and with `fail-on-unreadable` the stage failing on it.
//! Both SBOMs of the run go through the independent validators.

use std::path::Path;

use anyhow::{Context, Result, ensure};

use crate::support::{
    Gantry, Scratch, interop_python, read_json, repo_root, run_interop_check, stage,
};

/// A lockfile whose second package has no version: Cargo's reader refuses
/// it as a whole.
const BROKEN: &str = "version = 4\n[[package]]\nname = \"tools\"\nversion = \"0.1.0\"\n\
                      [[package]]\nname = \"half\"\n";

fn scan_pipeline(extra_config: &str) -> String {
    format!(
        "[pipeline]\nname = \"scan-inputs\"\nworkspace = \"ws\"\n\
         [pipeline.mounts]\nosv = \"osv\"\n\n\
         [[stage]]\nid = \"scan\"\nplugin = \"gantry:scan\"\n\
         [stage.config]\ndb = \"/mnt/osv\"\nmax-db-age = \"36500d\"\nfail-on = \"none\"\n{extra_config}\
         [stage.grants]\nread = [\".\", \"mount:osv\"]\n"
    )
}

/// A scratch pipeline whose workspace holds the sample app's lockfile at
/// the top, a broken one under `tools/`, and a broken one under
/// `node_modules/`, which the scan must not even look at.
fn workspace(extra_config: &str) -> Result<Scratch> {
    let scratch = Scratch::new(&scan_pipeline(extra_config))?;
    let fixtures = repo_root().join("plugins/core/tests/fixtures");
    let ws = scratch.workspace();
    std::fs::copy(fixtures.join("app/Cargo.lock"), ws.join("Cargo.lock"))?;
    for dir in ["tools", "node_modules/left-pad"] {
        std::fs::create_dir_all(ws.join(dir))?;
        std::fs::write(ws.join(dir).join("Cargo.lock"), BROKEN)?;
    }
    let osv = scratch.path().join("osv/crates.io");
    std::fs::create_dir_all(&osv)?;
    for advisory in std::fs::read_dir(fixtures.join("osv/crates.io"))? {
        let advisory = advisory?.path();
        std::fs::copy(&advisory, osv.join(advisory.file_name().context("name")?))?;
    }
    Ok(scratch)
}

#[test]
fn scan_reports_an_unreadable_lockfile_by_name_and_still_writes_both_sboms() -> Result<()> {
    let scratch = workspace("")?;
    let gantry = Gantry::new()?;
    let ran = gantry.run(&["--json", "run", &scratch.pipeline()])?;
    ensure!(ran.code == 0, "the scan must pass with a warning: {ran:?}");
    let run = gantry.only_run()?;
    let out = gantry.run_dir(&run).join("stages/scan/out");

    let findings = read_json(&out.join("findings.json"))?;
    let unreadable = findings["unreadable"].as_array().context("unreadable")?;
    assert_eq!(unreadable.len(), 1, "{unreadable:?}");
    assert_eq!(unreadable[0]["path"], "tools/Cargo.lock");
    let reason = unreadable[0]["reason"].as_str().context("reason")?;
    ensure!(reason.contains("failed to parse lockfile"), "{reason}");

    let record = gantry.run_record(&run)?;
    let summary = stage(&record, "scan")?["summary"]
        .as_str()
        .context("summary")?;
    ensure!(summary.contains("1 unreadable"), "{summary}");
    ensure!(
        ran.stderr.contains("unreadable scan input"),
        "the warning must be logged:\n{}",
        ran.stderr
    );
    check_sboms(&out)
}

#[test]
fn fail_on_unreadable_fails_the_scan_naming_the_lockfile() -> Result<()> {
    let scratch = workspace("fail-on-unreadable = true\n")?;
    let gantry = Gantry::new()?;
    let ran = gantry.run(&["--json", "run", &scratch.pipeline()])?;
    assert_eq!(ran.code, 1, "{ran:?}");
    let report = ran.json()?;
    assert_eq!(report["failure"]["stage"], "scan");
    assert_eq!(report["failure"]["kind"], "stage-failed");
    let message = report["failure"]["message"].as_str().context("message")?;
    ensure!(
        message.contains("1 unreadable input with fail-on-unreadable: `tools/Cargo.lock`"),
        "{message}"
    );
    ensure!(!message.contains("node_modules"), "{message}");
    Ok(())
}

/// Both SBOMs list the readable lockfile's packages, and pass the
/// independent validators.
fn check_sboms(out: &Path) -> Result<()> {
    let cyclonedx = out.join("sbom.cdx.json");
    let text = std::fs::read_to_string(&cyclonedx)?;
    ensure!(text.contains("\"pkg:cargo/smallvec@1.6.0\""), "{text}");
    ensure!(
        !text.contains("\"half\""),
        "the broken lockfile adds nothing"
    );
    let spdx = out.join("sbom.spdx.json");
    ensure!(std::fs::read_to_string(&spdx)?.contains("pkg:cargo/smallvec@1.6.0"));
    let Some(python) = interop_python() else {
        return Ok(());
    };
    let printed = run_interop_check(&python, "check_sbom.py", &[&cyclonedx, &spdx])?;
    ensure!(
        printed.lines().filter(|l| l.starts_with("ok ")).count() == 2,
        "{printed}"
    );
    Ok(())
}
