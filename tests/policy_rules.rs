//! The policy file's suppressions and licence rules, end to end: the host
//! reads them, hands them to the scan stage in `policy-rules`, and the scan
//! applies them; `findings.json`, the verdict and the audit trail say what
//! happened.
//!
//! The workspace locks `time` 0.1.45 (RUSTSEC-2020-0071, medium, alias
//! CVE-2020-26235) and three other crates; an upstream stage (the
//! `fixture-publish` plugin) hands the scan a `cargo-metadata` artifact in
//! which one crate is GPL-3.0-only, so no cargo runs here.

use std::path::Path;

use anyhow::{Context, Result, ensure};
use serde_json::Value;

use crate::support::{Gantry, PLUGIN_DIR, Scratch, read_json, repo_root, stage};

const ADVISORY: &str = "RUSTSEC-2020-0071";

const CARGO_LOCK: &str = r#"version = 4

[[package]]
name = "app"
version = "0.1.0"
dependencies = ["copyleft", "libc", "time", "winapi"]

[[package]]
name = "copyleft"
version = "1.0.0"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "libc"
version = "0.2.191"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "time"
version = "0.1.45"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "winapi"
version = "0.3.9"
source = "registry+https://github.com/rust-lang/crates.io-index"
"#;

/// As `cargo metadata --filter-platform` would leave it on Linux: no winapi.
const METADATA: &str = r#"{"version": 1, "packages": [
  {"name": "app", "version": "0.1.0", "license": "Apache-2.0", "license_file": null, "source": null},
  {"name": "copyleft", "version": "1.0.0", "license": "GPL-3.0-only", "license_file": null,
   "source": "registry+https://github.com/rust-lang/crates.io-index"},
  {"name": "libc", "version": "0.2.191", "license": "MIT OR Apache-2.0", "license_file": null,
   "source": "registry+https://github.com/rust-lang/crates.io-index"},
  {"name": "time", "version": "0.1.45", "license": "MIT/Apache-2.0", "license_file": null,
   "source": "registry+https://github.com/rust-lang/crates.io-index"}
]}"#;

/// A policy suppressing the advisory by its CVE alias until `expires`, with
/// a second suppression that expired long ago, and a licence policy.
fn policy(expires: &str) -> String {
    format!(
        "[policy]\nid = \"p\"\nversion = \"1\"\n\n\
         [[suppress]]\nid = \"CVE-2020-26235\"\npackage = \"time@0.1.45\"\n\
         reason = \"only UTC is formatted; the local-time path is never called\"\n\
         expires = {expires}\nstatus = \"not_affected\"\n\
         justification = \"vulnerable_code_not_in_execute_path\"\n\n\
         [[suppress]]\nid = \"RUSTSEC-2099-0001\"\npackage = \"libc\"\n\
         reason = \"kept to show that expired rules are reported\"\nexpires = 2020-01-01\n\n\
         [licences]\nallow = [\"MIT\", \"Apache-2.0\"]\ndeny = [\"GPL-3.0-only\"]\n"
    )
}

fn pipeline() -> String {
    let publish = Path::new(PLUGIN_DIR).join("fixture_publish.wasm");
    let osv = repo_root().join("pipelines/data/osv");
    format!(
        "[pipeline]\nname = \"rules\"\nworkspace = \"ws\"\n\
         policy = {{ id = \"p\", version = \"1\", file = \"policy.toml\" }}\n\
         [pipeline.mounts]\nosv = {osv:?}\n\n\
         [[stage]]\nid = \"build\"\nplugin = {publish:?}\n\
         [stage.config]\nfiles = [{{ src = \"metadata.json\", name = \"cargo-metadata\", \
         media-type = \"application/json\" }}]\n[stage.grants]\nread = [\".\"]\n\n\
         [[stage]]\nid = \"scan\"\nplugin = \"gantry:scan\"\nneeds = [\"build\"]\n\
         [stage.config]\ndb = \"/mnt/osv\"\nmax-db-age = \"36500d\"\nfail-on = \"medium\"\n\
         [stage.grants]\nread = [\".\", \"mount:osv\"]\n"
    )
}

/// Runs the pipeline under `policy`; returns the scan's record and
/// `findings.json`, and the gantry that ran it.
fn run_scan(policy: &str) -> Result<(Value, Value, Gantry)> {
    let scratch = Scratch::new(&pipeline())?;
    scratch.write("policy.toml", policy)?;
    std::fs::write(scratch.workspace().join("Cargo.lock"), CARGO_LOCK)?;
    std::fs::write(scratch.workspace().join("metadata.json"), METADATA)?;
    let gantry = Gantry::new()?;
    let ran = gantry.run(&["run", &scratch.pipeline()])?;
    ensure!(ran.code == 1, "the scan should fail: {ran:?}");
    let run = gantry.only_run()?;
    let record = gantry.run_record(&run)?;
    let scan = stage(&record, "scan")?.clone();
    let findings = read_json(&gantry.run_dir(&run).join("stages/scan/out/findings.json"))?;
    Ok((scan, findings, gantry))
}

#[test]
fn a_suppressed_advisory_passes_but_a_denied_licence_fails_the_scan() -> Result<()> {
    let (scan, findings, gantry) = run_scan(&policy("2099-12-31"))?;

    // The advisory is out of the verdict but listed with its suppression.
    let reason = scan["reason"].as_str().context("reason")?;
    ensure!(!reason.contains(ADVISORY), "{reason}");
    assert_eq!(
        reason,
        "1 package fails the licence policy: copyleft@1.0.0 (denied)"
    );
    assert_eq!(findings["findings"], Value::Array(Vec::new()));
    assert_eq!(findings["suppressed"][0]["id"], ADVISORY);
    let by = &findings["suppressed"][0]["suppressed-by"];
    assert_eq!(by["id"], "CVE-2020-26235");
    assert_eq!(by["package"], "time@0.1.45");
    assert_eq!(by["expires"], "2099-12-31");
    ensure!(
        by["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("only UTC"))
    );
    let states: Vec<&Value> = findings["suppressions"]
        .as_array()
        .context("suppressions")?
        .iter()
        .map(|s| &s["state"])
        .collect();
    assert_eq!(states, ["applied", "expired"]);

    // Licences: denied, allowed, and not built for this platform.
    let licences = &findings["licences"];
    assert_eq!(licences["counts"]["denied"], 1);
    assert_eq!(licences["counts"]["allowed"], 2);
    assert_eq!(licences["counts"]["not-built"], 1);
    let copyleft = package_licence(licences, "copyleft@1.0.0")?;
    assert_eq!(copyleft["status"], "denied");
    assert_eq!(copyleft["source"], "cargo-metadata");
    assert_eq!(
        package_licence(licences, "time@0.1.45")?["status"],
        "allowed"
    );
    assert_eq!(
        package_licence(licences, "winapi@0.3.9")?["status"],
        "not-built"
    );

    // The stage's findings, summary and metadata.
    let ids: Vec<&str> = scan["findings"]
        .as_array()
        .context("findings")?
        .iter()
        .filter_map(|f| f["id"].as_str())
        .collect();
    assert_eq!(ids, ["licence-denied:copyleft@1.0.0"]);
    let summary = scan["summary"].as_str().context("summary")?;
    ensure!(
        summary.contains(
            "; 1 suppressed; 1 suppression expired; licences: 2 allowed, 1 denied, 0 unknown; "
        ),
        "{summary}"
    );
    assert_eq!(scan["metadata"]["suppressed"], "1");

    check_audit(&gantry, reason)
}

/// The scan's stage-start records the digest of the rules it was handed;
/// its stage-end, the licence failure.
fn check_audit(gantry: &Gantry, reason: &str) -> Result<()> {
    gantry.assert_audit_intact()?;
    let events = gantry.audit_events()?;
    let start = events
        .iter()
        .find(|e| e["event"] == "stage-start" && e["stage"] == "scan")
        .context("no stage-start for scan")?;
    let digest = start["policy_rules"].as_str().context("policy_rules")?;
    ensure!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );
    let end = events
        .iter()
        .find(|e| e["event"] == "stage-end" && e["stage"] == "scan")
        .context("no stage-end for scan")?;
    assert_eq!(end["status"], "failed");
    assert_eq!(end["reason"], reason);
    assert_eq!(end["findings"], 1);
    Ok(())
}

#[test]
fn an_expired_suppression_lets_the_advisory_fail_the_scan_again() -> Result<()> {
    let (scan, findings, _gantry) = run_scan(&policy("2020-06-30"))?;
    let reason = scan["reason"].as_str().context("reason")?;
    ensure!(
        reason
            .starts_with("1 finding at or above fail-on medium: RUSTSEC-2020-0071 in time@0.1.45"),
        "{reason}"
    );
    ensure!(reason.ends_with("copyleft@1.0.0 (denied)"), "{reason}");
    assert_eq!(findings["findings"][0]["id"], ADVISORY);
    ensure!(findings.get("suppressed").is_none(), "{findings:#}");
    let expired = &findings["suppressions"][0];
    assert_eq!(expired["state"], "expired");
    assert_eq!(expired["covers"][0], "RUSTSEC-2020-0071 in time@0.1.45");
    Ok(())
}

fn package_licence<'a>(licences: &'a Value, package: &str) -> Result<&'a Value> {
    licences["packages"]
        .as_array()
        .and_then(|all| all.iter().find(|p| p["package"] == package))
        .with_context(|| format!("no licence line for {package}: {licences:#}"))
}
