//! The demo pipelines end to end: the sample service is built into an OCI
//! image, tested, scanned against the offline OSV data and documented; the
//! run stops for a security officer, then promotes into the embedded
//! registry. Every output is checked in its own format, with digests
//! recomputed here rather than trusted.
//!
//! The build stage compiles `examples/contact-tracing` with cargo; the first
//! run pays for it, later runs reuse its `target/`.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result, ensure};
use serde_json::Value;

use crate::support::{
    Gantry, Ran, interop_python, read_json, run_interop_check, sha256_hex, stage,
};

const DEMO: &str = "pipelines/contact-tracing.toml";
const BLOCKED: &str = "pipelines/contact-tracing-blocked.toml";

/// The one advisory that concerns the sample service (`time` 0.1.45).
const ADVISORY: &str = "RUSTSEC-2020-0071";

const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

/// The annotation an OCI index uses for a tag.
const REF_NAME: &str = "org.opencontainers.image.ref.name";

#[test]
fn demo_pipeline_stops_at_review_gate_then_promotes_after_approval() -> Result<()> {
    let gantry = Gantry::new()?;
    let run = run_to_gate(&gantry)?;
    let run_dir = gantry.run_dir(&run);
    let record = gantry.run_record(&run)?;

    let image = run_dir.join("stages/build/out/image");
    let manifest = check_image_layout(&image, "0.1.0")?;
    check_layer_holds(&image, &manifest, "app/contact-tracing")?;
    let sbom_digest = check_scan_outputs(&run_dir.join("stages/scan/out"), &record)?;
    let packet = run_dir.join("stages/ato/out");
    check_ato_packet(&packet, &manifest, &sbom_digest)?;
    check_summary_for_people(&packet, "No earlier promoted version")?;
    check_packet_with_independent_tools(&packet)?;

    let approved = gantry.run(&["approve", &run, "--as", "officer"])?;
    ensure!(approved.code == 0, "approve failed: {approved:?}");
    let resumed = gantry.run(&["--json", "resume", &run])?;
    ensure!(resumed.code == 0, "resume failed: {resumed:?}");
    assert_eq!(resumed.json()?["status"], "succeeded");

    check_promotion(&gantry, &run, &manifest)?;
    gantry.assert_audit_intact()?;
    check_audit_trail(&gantry, &run)?;

    // The next release of the service is compared with this one.
    let next = run_to_gate(&gantry)?;
    let packet = gantry.run_dir(&next).join("stages/ato/out");
    let since = format!(
        "Compared with 0.1.0 (image {}, run {run})",
        manifest["digest"]
    );
    check_summary_for_people(&packet, &since.replace('"', ""))?;
    let summary = std::fs::read_to_string(packet.join("summary.md"))?;
    ensure!(
        summary.contains("no package and no open finding changed"),
        "{summary}"
    );
    Ok(())
}

#[test]
fn audit_verify_fails_after_one_byte_changes() -> Result<()> {
    let gantry = Gantry::new()?;
    run_to_gate(&gantry)?;
    gantry.assert_audit_intact()?;

    let path = gantry.state_dir().join("audit.jsonl");
    let text = std::fs::read_to_string(&path)?;
    let (number, tampered) = change_first_duration(&text)?;
    let changed = text.bytes().zip(tampered.bytes()).filter(|(a, b)| a != b);
    assert_eq!(changed.count(), 1, "exactly one byte must differ");
    let line = tampered.lines().nth(number - 1).context("tampered line")?;
    serde_json::from_str::<Value>(line).context("the tampered line must stay valid JSON")?;
    std::fs::write(&path, tampered)?;

    let verify = gantry.run(&["audit", "verify"])?;
    assert_eq!(verify.code, 1, "{verify:?}");
    ensure!(
        verify.stderr.contains(&format!("line {number}:")),
        "audit verify must name line {number}:\n{}",
        verify.stderr
    );
    let verify = gantry.run(&["--json", "audit", "verify"])?;
    assert_eq!(verify.code, 1, "{verify:?}");
    assert_eq!(verify.json()?["intact"], false);
    Ok(())
}

#[test]
fn blocked_pipeline_fails_at_scan_and_never_promotes() -> Result<()> {
    let gantry = Gantry::new()?;
    let ran = gantry.run(&["--json", "run", BLOCKED])?;
    assert_eq!(ran.code, 1, "{ran:?}");
    let report = ran.json()?;
    assert_eq!(report["status"], "failed");
    assert_eq!(report["failure"]["stage"], "scan");
    assert_eq!(report["failure"]["kind"], "stage-failed");
    let run = report["run_id"].as_str().context("run_id")?.to_owned();

    let record = gantry.run_record(&run)?;
    assert_eq!(stage(&record, "scan")?["status"], "failed");
    for later in ["ato", "review", "promote"] {
        let later = stage(&record, later)?;
        assert_eq!(later["status"], "skipped", "{later:#}");
        assert_eq!(later["started"], Value::Null, "{later:#}");
    }
    let registry = gantry.state_dir().join("registry");
    let promoted = std::fs::read_dir(&registry).map_or(0, |entries| entries.count());
    assert_eq!(promoted, 0, "the registry must stay empty");

    let show = gantry.run(&["show", &run])?;
    assert_eq!(show.code, 0, "{show:?}");
    ensure!(show.stdout.contains(ADVISORY), "show:\n{}", show.stdout);
    let events = gantry.audit_events_of(&run)?;
    ensure!(!events.iter().any(|e| e["event"] == "promotion"));
    gantry.assert_audit_intact()
}

#[test]
fn build_is_reproducible() -> Result<()> {
    let mut digests = Vec::new();
    for _ in 0..2 {
        let gantry = Gantry::new()?;
        let run = run_to_gate(&gantry)?;
        let image = gantry.run_dir(&run).join("stages/build/out/image");
        digests.push(manifest_descriptor(&image, "0.1.0")?["digest"].clone());
    }
    assert_eq!(digests[0], digests[1], "two builds gave different images");
    Ok(())
}

/// Runs the demo without a terminal, checks that it stops at the review
/// gate as documented, and returns the run id.
fn run_to_gate(gantry: &Gantry) -> Result<String> {
    let ran = gantry.run(&["--json", "run", DEMO])?;
    ensure!(ran.code == 4, "expected exit 4 at the gate: {ran:?}");
    let report = ran.json()?;
    assert_eq!(report["status"], "awaiting-approval");
    let run = report["run_id"].as_str().context("run_id")?.to_owned();
    let stages = report["stages"].as_array().context("stages")?;
    assert_eq!(stages.len(), 6, "{report:#}");
    for s in stages {
        ensure!(s["id"].is_string() && s["status"].is_string(), "{s:#}");
        ensure!(s.get("duration_ms").is_some(), "no duration_ms: {s:#}");
    }
    assert_eq!(stage(&report, "review")?["status"], "awaiting-approval");
    assert_eq!(stage(&report, "promote")?["status"], "pending");
    check_gate_help(&ran, &run)?;
    Ok(run)
}

/// The first stderr line names the run; the last ones say how to approve
/// and resume it.
fn check_gate_help(ran: &Ran, run: &str) -> Result<()> {
    let first = ran.stderr.lines().next().unwrap_or_default();
    ensure!(first.contains(run), "first line must name {run}: {first}");
    for verb in ["approve", "resume"] {
        let command = format!("{verb} {run}");
        ensure!(
            ran.stderr.contains(&command),
            "stderr must show `{command}`:\n{}",
            ran.stderr
        );
    }
    Ok(())
}

/// Checks an OCI image layout and the manifest tagged `tag`, blob by blob;
/// returns the manifest's descriptor.
fn check_image_layout(layout: &Path, tag: &str) -> Result<Value> {
    let marker = read_json(&layout.join("oci-layout"))?;
    assert_eq!(marker["imageLayoutVersion"], "1.0.0");
    let descriptor = manifest_descriptor(layout, tag)?;
    assert_eq!(descriptor["mediaType"], MANIFEST_TYPE);
    let manifest: Value = serde_json::from_slice(&read_blob(layout, &descriptor)?)?;
    assert_eq!(manifest["schemaVersion"], 2);
    read_blob(layout, &manifest["config"])?;
    let layers = manifest["layers"].as_array().context("manifest layers")?;
    ensure!(!layers.is_empty(), "the image has no layers");
    for layer in layers {
        read_blob(layout, layer)?;
    }
    Ok(descriptor)
}

/// The descriptor in `index.json` tagged `tag`.
fn manifest_descriptor(layout: &Path, tag: &str) -> Result<Value> {
    let index = read_json(&layout.join("index.json"))?;
    let manifests = index["manifests"].as_array().context("index manifests")?;
    manifests
        .iter()
        .find(|m| m["annotations"][REF_NAME] == tag)
        .cloned()
        .with_context(|| format!("no manifest tagged `{tag}` in {index:#}"))
}

/// Reads the blob a descriptor points at, checking that its name, its
/// sha256 and the descriptor's digest agree, and so do the sizes.
fn read_blob(layout: &Path, descriptor: &Value) -> Result<Vec<u8>> {
    let digest = descriptor["digest"].as_str().context("descriptor digest")?;
    let hex = digest
        .strip_prefix("sha256:")
        .with_context(|| format!("digest `{digest}` is not sha256"))?;
    let path = layout.join("blobs/sha256").join(hex);
    let bytes =
        std::fs::read(&path).with_context(|| format!("failed to read `{}`", path.display()))?;
    assert_eq!(sha256_hex(&bytes), hex, "blob `{}`", path.display());
    assert_eq!(
        Some(bytes.len() as u64),
        descriptor["size"].as_u64(),
        "size of blob `{}`",
        path.display()
    );
    Ok(bytes)
}

/// Unpacks the image's one layer (a gzip tar): it must hold `file`, and its
/// uncompressed digest must be the config's `diff_id`.
fn check_layer_holds(layout: &Path, descriptor: &Value, file: &str) -> Result<()> {
    let manifest: Value = serde_json::from_slice(&read_blob(layout, descriptor)?)?;
    let config: Value = serde_json::from_slice(&read_blob(layout, &manifest["config"])?)?;
    let layer = read_blob(layout, &manifest["layers"][0])?;

    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(layer.as_slice()).read_to_end(&mut tar)?;
    let diff_id = format!("sha256:{}", sha256_hex(&tar));
    assert_eq!(config["rootfs"]["diff_ids"][0], Value::String(diff_id));

    let mut archive = tar::Archive::new(tar.as_slice());
    let mut names = Vec::new();
    for entry in archive.entries()? {
        let path = entry?.path()?.display().to_string();
        names.push(path.trim_start_matches("./").to_owned());
    }
    ensure!(
        names.iter().any(|n| n == file),
        "layer lacks `{file}`: {names:?}"
    );
    Ok(())
}

/// The SBOM and the findings; returns the SBOM's digest as `run.json`
/// records it, after checking it against the file.
fn check_scan_outputs(out: &Path, record: &Value) -> Result<String> {
    let sbom_path = out.join("sbom.cdx.json");
    let sbom = read_json(&sbom_path)?;
    assert_eq!(sbom["bomFormat"], "CycloneDX");
    assert_eq!(sbom["specVersion"], "1.6");
    let purls: Vec<&str> = sbom["components"]
        .as_array()
        .context("sbom components")?
        .iter()
        .filter_map(|c| c["purl"].as_str())
        .collect();
    ensure!(purls.contains(&"pkg:cargo/time@0.1.45"), "{purls:?}");
    ensure!(
        purls.iter().any(|p| p.starts_with("pkg:cargo/tiny_http@")),
        "{purls:?}"
    );
    // The service is the workspace's own crate, not a crates.io package.
    let text = std::fs::read_to_string(&sbom_path)?;
    ensure!(!text.contains("pkg:cargo/contact-tracing"));

    let findings = read_json(&out.join("findings.json"))?;
    let finding = findings["findings"]
        .as_array()
        .and_then(|all| all.iter().find(|f| f["id"] == ADVISORY))
        .with_context(|| format!("no {ADVISORY} in {findings:#}"))?;
    assert_eq!(finding["severity"], "medium");
    assert_eq!(finding["package"], "time@0.1.45");
    let warnings = findings["warnings"].as_array().context("warnings")?;
    assert_eq!(warnings.len(), 1, "{:#}", findings["warnings"]);
    assert_eq!(warnings[0]["package"], "fxhash@0.2.1");
    check_licences(&findings["licences"])?;

    let unreadable = findings["unreadable"].as_array().context("unreadable")?;
    ensure!(
        unreadable.is_empty(),
        "the demo's lockfile reads: {unreadable:?}"
    );

    let spdx_path = out.join("sbom.spdx.json");
    check_spdx(&spdx_path, record)?;
    check_sboms_independently(&sbom_path, &spdx_path)?;

    let recorded = artifact_digest(record, "scan", "sbom")?;
    let bytes = std::fs::read(&sbom_path)?;
    assert_eq!(recorded, format!("sha256:{}", sha256_hex(&bytes)));
    let spdx_recorded = artifact_digest(record, "scan", "sbom-spdx")?;
    let bytes = std::fs::read(&spdx_path)?;
    assert_eq!(spdx_recorded, format!("sha256:{}", sha256_hex(&bytes)));
    Ok(recorded)
}

/// Every locked crate has a licence from the build's cargo metadata, and
/// the policy allows each.
fn check_licences(licences: &Value) -> Result<()> {
    assert_eq!(licences["counts"]["denied"], 0, "{licences:#}");
    assert_eq!(licences["counts"]["unknown"], 0, "{licences:#}");
    assert_eq!(licences["counts"]["not-built"], 0, "{licences:#}");
    let packages = licences["packages"].as_array().context("licences")?;
    let line = |name: &str| {
        packages
            .iter()
            .find(|p| p["package"] == name)
            .with_context(|| format!("no licence line for {name}: {licences:#}"))
    };
    let time = line("time@0.1.45")?;
    assert_eq!(time["licence"], "MIT/Apache-2.0");
    assert_eq!(time["source"], "cargo-metadata");
    assert_eq!(time["status"], "allowed");
    // Not built for Linux, but locked, so checked as well.
    assert_eq!(line("winapi@0.3.9")?["status"], "allowed");
    // The service itself is not a dependency.
    ensure!(line("contact-tracing@0.1.0").is_err());
    Ok(())
}

/// The SPDX document lists the same packages, dated by the run's start.
fn check_spdx(path: &Path, record: &Value) -> Result<()> {
    let spdx = read_json(path)?;
    assert_eq!(spdx["spdxVersion"], "SPDX-2.3");
    let run = record["id"].as_str().context("run id")?;
    let (date, time) = (&run[..8], &run[9..15]);
    let created = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &date[..4],
        &date[4..6],
        &date[6..],
        &time[..2],
        &time[2..4],
        &time[4..]
    );
    assert_eq!(spdx["creationInfo"]["created"], created.as_str());
    let purls: Vec<&str> = spdx["packages"]
        .as_array()
        .context("spdx packages")?
        .iter()
        .flat_map(|p| p["externalRefs"].as_array().into_iter().flatten())
        .filter_map(|r| r["referenceLocator"].as_str())
        .collect();
    ensure!(purls.contains(&"pkg:cargo/time@0.1.45"), "{purls:?}");
    Ok(())
}

/// Both SBOMs pass the independent validators (`tests/interop/check_sbom.py`).
fn check_sboms_independently(cyclonedx: &Path, spdx: &Path) -> Result<()> {
    let Some(python) = interop_python() else {
        return Ok(());
    };
    let printed = run_interop_check(&python, "check_sbom.py", &[cyclonedx, spdx])?;
    eprintln!("{printed}");
    ensure!(
        printed.lines().filter(|l| l.starts_with("ok ")).count() == 2,
        "{printed}"
    );
    Ok(())
}

/// The digest `run.json` records for the artifact `name` of `stage_id`.
fn artifact_digest(record: &Value, stage_id: &str, name: &str) -> Result<String> {
    let artifacts = stage(record, stage_id)?["artifacts"]
        .as_array()
        .context("artifacts")?;
    let artifact = artifacts
        .iter()
        .find(|a| a["name"] == name)
        .with_context(|| format!("stage `{stage_id}` recorded no artifact `{name}`"))?;
    artifact["digest"]
        .as_str()
        .map(str::to_owned)
        .context("artifact digest")
}

/// The packet names what the reviewer approves: the image, the SBOM, the
/// policy, and the open finding, in OSCAL assessment results and a POA&M
/// that link the finding to its SBOM component.
fn check_ato_packet(out: &Path, manifest: &Value, sbom_digest: &str) -> Result<()> {
    let image_digest = manifest["digest"].as_str().context("manifest digest")?;
    let results = read_json(&out.join("assessment-results.json"))?;
    let root = &results["assessment-results"];
    let metadata = root["metadata"].to_string();
    for needed in ["cdc-ato", "2026.11"] {
        ensure!(
            metadata.contains(needed),
            "metadata lacks `{needed}`: {metadata}"
        );
    }
    let result = &root["results"][0];
    let props = result["props"].to_string();
    ensure!(
        props.contains(image_digest) && props.contains(sbom_digest),
        "{props}"
    );

    // The finding's observation is about the `time` component of the SBOM.
    let components = result["local-definitions"]["components"]
        .as_array()
        .context("components")?;
    let time = components
        .iter()
        .find(|c| c["title"] == "time@0.1.45")
        .context("no component for time@0.1.45")?;
    let observation = result["observations"]
        .as_array()
        .and_then(|all| {
            all.iter()
                .find(|o| o["title"] == format!("{ADVISORY} in time@0.1.45"))
        })
        .context("no observation of the advisory")?;
    assert_eq!(observation["subjects"][0]["subject-uuid"], time["uuid"]);
    let finding = &result["findings"][0];
    assert_eq!(
        finding["related-observations"][0]["observation-uuid"],
        observation["uuid"]
    );

    // The SBOM's digest is in the back matter, as the file's real sha256.
    let sbom_hex = sbom_digest.trim_start_matches("sha256:");
    ensure!(
        root["back-matter"].to_string().contains(sbom_hex),
        "back matter lacks the SBOM digest"
    );
    let sbom = std::fs::read(out.join("../../scan/out/sbom.cdx.json"))?;
    assert_eq!(
        sha256_hex(&sbom),
        sbom_hex,
        "the back matter's href leads to the SBOM"
    );

    let poam = read_json(&out.join("poam.json"))?;
    let item = &poam["plan-of-action-and-milestones"]["poam-items"][0];
    assert_eq!(
        item["title"],
        format!("Remediate {ADVISORY} in time@0.1.45")
    );
    assert_eq!(item["related-findings"][0]["finding-uuid"], finding["uuid"]);
    Ok(())
}

/// The summary for people, in Markdown and HTML: the verdict first, the
/// facts the reviewer approves, and what changed since the last promotion
/// (`history` is the line expected there).
fn check_summary_for_people(out: &Path, history: &str) -> Result<()> {
    let summary = std::fs::read_to_string(out.join("summary.md"))?;
    let verdict = summary.lines().nth(2).unwrap_or_default();
    assert_eq!(
        verdict,
        "**Verdict:** ready for approval: 1 open finding (1 medium), tests passed."
    );
    for needed in ["cdc-ato version 2026.11", ADVISORY, "fxhash@0.2.1", history] {
        ensure!(
            summary.contains(needed),
            "summary.md lacks `{needed}`:\n{summary}"
        );
    }
    let html = std::fs::read_to_string(out.join("summary.html"))?;
    ensure!(html.starts_with("<!DOCTYPE html>"), "{html}");
    let escaped = history.replace('\'', "&#39;");
    for needed in ["ready for approval", ADVISORY, escaped.as_str()] {
        ensure!(html.contains(needed), "summary.html lacks `{needed}`");
    }
    ensure!(
        !html.contains("<script") && !html.contains("src="),
        "{html}"
    );
    Ok(())
}

/// compliance-trestle loads both documents and the NIST schema and
/// oscal-validate find no error (`tests/interop/check_oscal.py`).
fn check_packet_with_independent_tools(out: &Path) -> Result<()> {
    let Some(python) = interop_python() else {
        return Ok(());
    };
    let results = out.join("assessment-results.json");
    let poam = out.join("poam.json");
    let printed = run_interop_check(&python, "check_oscal.py", &[&results, &poam])?;
    ensure!(printed.contains("0 errors in all"), "{printed}");
    Ok(())
}

/// The image is in the registry under its tag, the catalogue lists the
/// version, and the promote stage wrote its record.
fn check_promotion(gantry: &Gantry, run: &str, manifest: &Value) -> Result<()> {
    let registry = gantry.state_dir().join("registry");
    let pushed = check_image_layout(&registry.join("contact-tracing"), "0.1.0")?;
    assert_eq!(pushed["digest"], manifest["digest"]);

    let catalogue = read_json(&registry.join("catalogue.json"))?;
    let versions = catalogue["services"]["contact-tracing"]["versions"]
        .as_array()
        .with_context(|| format!("no versions in {catalogue:#}"))?;
    let listed = versions
        .iter()
        .any(|v| v["version"] == "0.1.0" && v["image-digest"] == manifest["digest"]);
    ensure!(listed, "catalogue lacks 0.1.0: {catalogue:#}");

    let promotion = gantry
        .run_dir(run)
        .join("stages/promote/out/promotion.json");
    ensure!(promotion.is_file(), "no `{}`", promotion.display());
    Ok(())
}

/// Every line is chained and carries the common keys; the run's events come
/// in the documented order; one hash is recomputed here from its line.
fn check_audit_trail(gantry: &Gantry, run: &str) -> Result<()> {
    check_chain_links(&gantry.audit_events()?)?;
    let events = gantry.audit_events_of(run)?;
    check_event_order(&events)?;
    check_stage_starts(&events, &gantry.run_record(run)?)?;

    let approval = events
        .iter()
        .find(|e| e["event"] == "approval")
        .context("approval")?;
    assert_eq!(approval["identity"], "officer");
    assert_eq!(approval["role"], "SECURITY_OFFICER");
    assert_eq!(approval["hash"], Value::String(recompute_hash(approval)));
    Ok(())
}

fn check_chain_links(lines: &[Value]) -> Result<()> {
    let mut prev = "0".repeat(64);
    for line in lines {
        for key in ["seq", "time", "run", "event", "prev", "hash"] {
            ensure!(line.get(key).is_some(), "no `{key}` in {line}");
        }
        assert_eq!(line["prev"].as_str(), Some(prev.as_str()), "{line}");
        prev = line["hash"].as_str().context("hash")?.to_owned();
    }
    Ok(())
}

/// Start, the five plugin stages, the provenance, the approval and its
/// checkpoint, the promotion, the end and its checkpoint.
fn check_event_order(events: &[Value]) -> Result<()> {
    let names: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
    let order = [
        "run-start",
        "stage-start",
        "stage-end",
        "attestation",
        "awaiting-approval",
        "approval",
        "checkpoint",
        "promotion",
        "run-end",
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|event| names.iter().position(|n| n == event))
        .collect::<Option<_>>()
        .with_context(|| format!("events {names:?} lack one of {order:?}"))?;
    ensure!(positions.is_sorted(), "events out of order: {names:?}");
    assert_eq!(
        names[names.len() - 2..],
        ["run-end", "checkpoint"],
        "{names:?}"
    );
    assert_eq!(names.iter().filter(|n| **n == "stage-start").count(), 5);
    assert_eq!(names.iter().filter(|n| **n == "stage-end").count(), 5);
    Ok(())
}

/// Each stage start names the plugin digest pinned for that stage and the
/// grants it ran with.
fn check_stage_starts(events: &[Value], record: &Value) -> Result<()> {
    for start in events.iter().filter(|e| e["event"] == "stage-start") {
        let id = start["stage"].as_str().context("stage")?;
        let pinned = &record["pins"]["plugins"][id]["digest"];
        ensure!(pinned.is_string(), "no pin for stage `{id}`");
        assert_eq!(&start["plugin_digest"], pinned, "{start}");
        ensure!(start["grants"].is_object(), "no grants: {start}");
    }
    let build = events
        .iter()
        .find(|e| e["event"] == "stage-start" && e["stage"] == "build")
        .context("build start")?;
    assert_eq!(build["grants"]["exec"][0]["name"], "cargo");
    Ok(())
}

/// The documented hash of an audit line: sha256 of its JSON without
/// `hash`, keys sorted at every depth, no whitespace.
fn recompute_hash(line: &Value) -> String {
    let mut without = line.clone();
    if let Some(map) = without.as_object_mut() {
        map.remove("hash");
    }
    let canonical = serde_json::to_string(&sort_keys(&without)).unwrap_or_default();
    sha256_hex(canonical.as_bytes())
}

fn sort_keys(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let sorted = entries.into_iter().map(|(k, v)| (k.clone(), sort_keys(v)));
            Value::Object(sorted.collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(sort_keys).collect()),
        other => other.clone(),
    }
}

/// Changes the first digit of the first stage end's `duration_ms` (never to
/// a leading zero); returns the 1-based line number and the new text.
fn change_first_duration(text: &str) -> Result<(usize, String)> {
    let (index, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains(r#""event":"stage-end""#))
        .context("no stage-end line")?;
    let key = r#""duration_ms":"#;
    let at = line.find(key).context("no duration_ms")? + key.len();
    let digit = line.as_bytes()[at];
    ensure!(digit.is_ascii_digit(), "duration is not a number: {line}");
    let new = if digit == b'9' { b'8' } else { digit + 1 };

    let offset: usize = text.lines().take(index).map(|l| l.len() + 1).sum();
    let mut bytes = text.as_bytes().to_vec();
    bytes[offset + at] = new;
    Ok((index + 1, String::from_utf8(bytes)?))
}
