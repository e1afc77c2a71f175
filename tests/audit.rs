//! The audit trail catches lines cut from its end, which a hash chain alone
//! cannot: runs record the chain head at every stage boundary.

use std::path::Path;

use crate::support::{Gantry, PLUGIN_DIR, Scratch, one_stage_pipeline};

#[test]
fn audit_verify_fails_when_lines_are_cut_from_the_end() -> anyhow::Result<()> {
    let plugin = Path::new(PLUGIN_DIR).join("fixture_noop.wasm");
    let scratch = Scratch::new(&one_stage_pipeline(&plugin, ""))?;
    let gantry = Gantry::new()?;
    assert_eq!(gantry.run(&["run", &scratch.pipeline()])?.code, 0);
    gantry.assert_audit_intact()?;

    // Drop the last four lines (stage-end, the attestation, run-end and
    // the checkpoint after it): still a valid chain.
    let log = gantry.state_dir().join("audit.jsonl");
    let text = std::fs::read_to_string(&log)?;
    let lines: Vec<&str> = text.lines().collect();
    anyhow::ensure!(lines.len() > 4, "too few audit lines: {}", lines.len());
    anyhow::ensure!(lines[lines.len() - 1].contains("\"event\":\"checkpoint\""));
    let kept = lines[..lines.len() - 4].join("\n") + "\n";
    std::fs::write(&log, kept)?;

    let ran = gantry.run(&["audit", "verify", "--json"])?;
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(
        ran.stderr.contains("lines were removed from the end"),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("stage `probe`"), "{}", ran.stderr);
    assert_eq!(ran.json()?["intact"], false);
    Ok(())
}
