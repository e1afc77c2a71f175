//! The scan's advisory sources end to end: the offline OSV directory and
//! the OSV API (a loopback stand-in answering from the same directory)
//! give the same findings; the data's digest and date reach
//! `findings.json`, the run record and the audit log; a stale, empty or
//! ungranted source fails closed; an index kept between scans gives the
//! same findings and is named by digest; and the findings come out as SARIF that
//! an independent validator accepts.

mod server;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};
use serde_json::Value;

use self::server::OsvServer;
use crate::support::{Gantry, Ran, Scratch, read_json, repo_root, sha256_hex, stage};

/// The demo's OSV directory and the sample service's lockfile.
const OSV_DIR: &str = "pipelines/data/osv";
const LOCKFILE: &str = "examples/contact-tracing/Cargo.lock";

/// The one advisory that concerns the sample (`time` 0.1.45).
const ADVISORY: &str = "RUSTSEC-2020-0071";

/// The demo data is a fixed snapshot; an age this large lets it pass.
const LENIENT_AGE: &str = "max-db-age = \"36500d\"";

/// A one-stage scan pipeline over the sample's lockfile, with `osv`
/// mounted from `osv_dir`, `config` and `grants` as TOML lines.
fn scan_case(osv_dir: &Path, config: &str, grants: &str) -> Result<Scratch> {
    scan_case_with_mounts(osv_dir, "", config, grants)
}

/// [`scan_case`] with more `[pipeline.mounts]` lines.
fn scan_case_with_mounts(
    osv_dir: &Path,
    mounts: &str,
    config: &str,
    grants: &str,
) -> Result<Scratch> {
    let toml = format!(
        "[pipeline]\nname = \"scan\"\nworkspace = \"ws\"\n\n\
         [pipeline.mounts]\nosv = {:?}\n{mounts}\n\
         [[stage]]\nid = \"scan\"\nplugin = \"gantry:scan\"\n\n\
         [stage.config]\nfail-on = \"none\"\n{config}\n\n\
         [stage.grants]\n{grants}\n",
        osv_dir.display().to_string()
    );
    let scratch = Scratch::new(&toml)?;
    std::fs::copy(
        repo_root().join(LOCKFILE),
        scratch.workspace().join("Cargo.lock"),
    )?;
    Ok(scratch)
}

fn demo_osv() -> PathBuf {
    repo_root().join(OSV_DIR)
}

/// Runs `scratch`'s pipeline in a fresh state directory.
fn run(scratch: &Scratch) -> Result<(Gantry, Ran)> {
    let gantry = Gantry::new()?;
    let ran = gantry.run(&["--json", "run", &scratch.pipeline()])?;
    Ok((gantry, ran))
}

/// The scan stage of the only run, checked to have passed.
fn passed_scan(gantry: &Gantry, ran: &Ran) -> Result<(Value, PathBuf)> {
    ensure!(ran.code == 0, "the scan failed: {ran:?}");
    let run = gantry.only_run()?;
    let record = gantry.run_record(&run)?;
    let scan = stage(&record, "scan")?.clone();
    ensure!(scan["status"] == "passed", "{scan:#}");
    Ok((scan, gantry.run_dir(&run).join("stages/scan/out")))
}

/// The scan's failure text: the run record, where the reason is kept.
fn failed_scan(gantry: &Gantry, ran: &Ran) -> Result<String> {
    ensure!(ran.code != 0, "the scan must fail: {ran:?}");
    let record = gantry.run_record(&gantry.only_run()?)?;
    let scan = stage(&record, "scan")?;
    ensure!(scan["status"] == "failed", "{scan:#}");
    Ok(format!("{record:#}\n{}", ran.stderr))
}

/// The `stage-end` audit event of the only run's scan.
fn stage_end(gantry: &Gantry) -> Result<Value> {
    let events = gantry.audit_events_of(&gantry.only_run()?)?;
    events
        .into_iter()
        .find(|e| e["event"] == "stage-end" && e["stage"] == "scan")
        .context("no stage-end event for `scan`")
}

/// The digest `sha256sum` users would compute: the SHA-256 of the sorted
/// `<hex>  <relative path>` lines of every `*.json` under `dir`.
fn manifest_digest(dir: &Path) -> Result<String> {
    fn walk(root: &Path, dir: &Path, lines: &mut Vec<(String, String)>) -> Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                walk(root, &path, lines)?;
            } else if path.extension().is_some_and(|e| e == "json") {
                let name = path
                    .strip_prefix(root)?
                    .to_string_lossy()
                    .replace('\\', "/");
                lines.push((name, sha256_hex(&std::fs::read(&path)?)));
            }
        }
        Ok(())
    }
    let mut lines = Vec::new();
    walk(dir, dir, &mut lines)?;
    lines.sort();
    let manifest: String = lines
        .iter()
        .map(|(name, hex)| format!("{hex}  {name}\n"))
        .collect();
    Ok(format!("sha256:{}", sha256_hex(manifest.as_bytes())))
}

/// The parts of `findings.json` both sources must agree on.
fn verdict_parts(findings: &Value) -> Value {
    serde_json::json!({
        "findings": findings["findings"],
        "counts": findings["counts"],
        "warnings": findings["warnings"],
        "problems": findings["problems"],
    })
}

#[test]
fn the_osv_api_gives_the_same_findings_as_the_offline_directory() -> Result<()> {
    let offline = scan_case(
        &demo_osv(),
        &format!("db = \"/mnt/osv\"\n{LENIENT_AGE}"),
        "read = [\".\", \"mount:osv\"]",
    )?;
    let (dir_gantry, dir_ran) = run(&offline)?;
    let (dir_stage, dir_out) = passed_scan(&dir_gantry, &dir_ran)?;
    let dir_findings = read_json(&dir_out.join("findings.json"))?;

    let server = OsvServer::start(&demo_osv(), 1)?;
    let config = format!("source = \"api\"\napi = \"{}\"", server.base());
    let grants = format!("read = [\".\"]\nnet = [\"{}\"]", server.base());
    let online = scan_case(&demo_osv(), &config, &grants)?;
    let (api_gantry, api_ran) = run(&online)?;
    let (api_stage, api_out) = passed_scan(&api_gantry, &api_ran)?;
    let api_findings = read_json(&api_out.join("findings.json"))?;

    // The same findings, and a control: the sample's advisory is among them.
    assert_eq!(verdict_parts(&api_findings), verdict_parts(&dir_findings));
    let ids: Vec<_> = dir_findings["findings"]
        .as_array()
        .context("findings")?
        .iter()
        .map(|f| f["id"].clone())
        .collect();
    assert_eq!(ids, [ADVISORY]);

    // Pagination: one id per page, so `time` (two advisories) took a
    // second query with the first answer's token.
    let batches = server.batches();
    ensure!(batches.len() >= 2, "{batches:#?}");
    let followed = &batches[1]["queries"];
    assert_eq!(followed.as_array().map(Vec::len), Some(1), "{followed:#}");
    assert_eq!(followed[0]["package"]["name"], "time");
    assert_eq!(followed[0]["page_token"], "1");
    let fetched = server
        .requests()
        .into_iter()
        .filter(|r| r.starts_with(&format!("GET /v1/vulns/{ADVISORY} ")))
        .count();
    assert_eq!(fetched, 1, "{:?}", server.requests());

    // The data is named by digest and date, in findings.json, metadata
    // and the audit log.
    assert_eq!(dir_findings["database"]["source"], "dir");
    assert_eq!(
        dir_findings["database"]["digest"],
        manifest_digest(&demo_osv())?
    );
    assert_eq!(dir_findings["database"]["snapshot"], "2026-02-06T09:12:16Z");
    assert_eq!(
        dir_stage["metadata"]["db-digest"],
        dir_findings["database"]["digest"]
    );
    assert_eq!(dir_stage["metadata"]["db-snapshot"], "2026-02-06T09:12:16Z");
    let summary = dir_stage["summary"].as_str().unwrap_or_default();
    ensure!(summary.contains("newest 2026-02-06T09:12:16Z"), "{summary}");
    let dir_end = stage_end(&dir_gantry)?;
    assert_eq!(
        dir_end["vulnerability_db"]["digest"],
        dir_findings["database"]["digest"]
    );
    assert_eq!(
        dir_end["vulnerability_db"]["snapshot"],
        "2026-02-06T09:12:16Z"
    );

    assert_eq!(api_findings["database"]["source"], "api");
    assert_eq!(api_findings["database"]["location"], server.base());
    assert_eq!(api_stage["metadata"]["db-source"], "api");
    ensure!(
        api_findings["database"]["digest"] != dir_findings["database"]["digest"],
        "the API's digest covers only what was fetched"
    );
    assert_eq!(
        stage_end(&api_gantry)?["vulnerability_db"]["digest"],
        api_findings["database"]["digest"]
    );
    dir_gantry.assert_audit_intact()?;
    api_gantry.assert_audit_intact()
}

#[test]
fn an_ungranted_osv_api_is_refused_and_audited() -> Result<()> {
    let server = OsvServer::start(&demo_osv(), 10)?;
    let config = format!("source = \"api\"\napi = \"{}\"", server.base());
    let scratch = scan_case(&demo_osv(), &config, "read = [\".\"]")?;
    let (gantry, ran) = run(&scratch)?;
    let text = failed_scan(&gantry, &ran)?;
    ensure!(text.contains("failed to ask the OSV API"), "{text}");
    ensure!(
        text.contains(&format!(
            "request to `{}/v1/querybatch` refused",
            server.base()
        )),
        "{text}"
    );
    ensure!(
        text.contains("grant it in the stage's `net` list"),
        "{text}"
    );
    assert_eq!(
        server.connections(),
        0,
        "a refused request reached the server"
    );

    let events = gantry.audit_events_of(&gantry.only_run()?)?;
    let denials: Vec<_> = events.iter().filter(|e| e["event"] == "denied").collect();
    assert_eq!(denials.len(), 1, "{denials:#?}");
    assert_eq!(denials[0]["capability"], "net");
    assert_eq!(denials[0]["stage"], "scan");
    let asked = denials[0]["asked"].as_str().unwrap_or_default();
    ensure!(asked.contains("127.0.0.1"), "{:#}", denials[0]);
    gantry.assert_audit_intact()
}

#[test]
fn a_stale_or_empty_directory_fails_closed() -> Result<()> {
    let old = tempfile::tempdir()?;
    let record = std::fs::read_to_string(demo_osv().join("crates.io/RUSTSEC-2020-0071.json"))?;
    let dated = record.replace("2024-06-05T14:00:17Z", "2001-01-01T00:00:00Z");
    ensure!(
        dated != record,
        "the fixture's `modified` changed; update this test"
    );
    std::fs::write(old.path().join("RUSTSEC-2020-0071.json"), dated)?;

    let scratch = scan_case(
        old.path(),
        "db = \"/mnt/osv\"",
        "read = [\".\", \"mount:osv\"]",
    )?;
    let (gantry, ran) = run(&scratch)?;
    let text = failed_scan(&gantry, &ran)?;
    ensure!(
        text.contains("the advisory database at `/mnt/osv` is stale"),
        "{text}"
    );
    ensure!(text.contains("modified at 2001-01-01T00:00:00Z"), "{text}");
    ensure!(text.contains("`max-db-age` is 7days"), "{text}");

    // Control: the same data passes with a longer age.
    let lenient = scan_case(
        old.path(),
        &format!("db = \"/mnt/osv\"\n{LENIENT_AGE}"),
        "read = [\".\", \"mount:osv\"]",
    )?;
    let (gantry, ran) = run(&lenient)?;
    passed_scan(&gantry, &ran)?;

    let empty = tempfile::tempdir()?;
    let scratch = scan_case(
        empty.path(),
        "db = \"/mnt/osv\"",
        "read = [\".\", \"mount:osv\"]",
    )?;
    let (gantry, ran) = run(&scratch)?;
    let text = failed_scan(&gantry, &ran)?;
    ensure!(
        text.contains("OSV directory `/mnt/osv` holds no advisories"),
        "{text}"
    );
    Ok(())
}

/// A scan of the demo directory keeping its index in `cache`, mounted
/// writable or not.
fn cached_scan_case(cache: &Path, writable: bool) -> Result<Scratch> {
    let grants = if writable {
        "read = [\".\", \"mount:osv\"]\nwrite = [\"mount:cache\"]"
    } else {
        "read = [\".\", \"mount:osv\", \"mount:cache\"]"
    };
    scan_case_with_mounts(
        &demo_osv(),
        &format!("cache = {:?}\n", cache.display().to_string()),
        &format!("db = \"/mnt/osv\"\nindex-cache = \"/mnt/cache\"\n{LENIENT_AGE}"),
        grants,
    )
}

#[test]
fn the_index_cache_is_written_then_read_and_its_digest_recorded() -> Result<()> {
    let cache = tempfile::tempdir()?;
    let scratch = cached_scan_case(cache.path(), true)?;

    // First scan: reads the directory, writes the index.
    let (first_gantry, ran) = run(&scratch)?;
    let (first_stage, first_out) = passed_scan(&first_gantry, &ran)?;
    let first = read_json(&first_out.join("findings.json"))?;
    let index = &first["database"]["index"];
    assert_eq!(index["reused"], false, "{first:#}");
    let files: Vec<_> = std::fs::read_dir(cache.path())?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<_, _>>()?;
    ensure!(
        files.len() == 1,
        "one index file and nothing else: {files:?}"
    );
    let bytes = std::fs::read(&files[0])?;
    let digest = format!("sha256:{}", sha256_hex(&bytes));
    assert_eq!(index["digest"], digest.as_str());
    let name = files[0].file_name().context("a file name")?;
    assert_eq!(
        index["file"],
        format!("/mnt/cache/{}", name.to_string_lossy()).as_str()
    );
    assert_eq!(first_stage["metadata"]["db-index-digest"], digest.as_str());
    let summary = first_stage["summary"].as_str().unwrap_or_default();
    ensure!(summary.ends_with(", index written"), "{summary}");
    assert_eq!(
        stage_end(&first_gantry)?["vulnerability_db"]["index"],
        digest.as_str()
    );

    // Second scan: reads the index, finds the same, names the same data.
    let (second_gantry, ran) = run(&scratch)?;
    let (second_stage, second_out) = passed_scan(&second_gantry, &ran)?;
    let second = read_json(&second_out.join("findings.json"))?;
    assert_eq!(second["database"]["index"]["reused"], true);
    assert_eq!(second["database"]["index"]["digest"], digest.as_str());
    assert_eq!(second["findings"], first["findings"]);
    assert_eq!(second["warnings"], first["warnings"]);
    assert_eq!(second["database"]["digest"], manifest_digest(&demo_osv())?);
    assert_eq!(second["database"]["location"], "/mnt/osv");
    assert_eq!(
        second["database"]["snapshot"],
        first["database"]["snapshot"]
    );
    let summary = second_stage["summary"].as_str().unwrap_or_default();
    ensure!(summary.ends_with(", from its index"), "{summary}");
    assert_eq!(
        stage_end(&second_gantry)?["vulnerability_db"]["index"],
        digest.as_str()
    );
    first_gantry.assert_audit_intact()?;
    second_gantry.assert_audit_intact()
}

/// The scan lists the directory through `wasi:filesystem` for the key, not
/// through `std::fs`: its key must be the one `std` computes natively, on a
/// directory with nesting, names that sort differently by case, a link to
/// an advisory (stamped as its target), a link to a directory (not
/// followed) and files that are not advisories.
#[test]
fn the_sandboxed_index_key_is_the_native_one() -> Result<()> {
    let work = tempfile::tempdir()?;
    let (osv, cache) = (work.path().join("osv"), work.path().join("cache"));
    for (from, to) in [
        (
            "crates.io/RUSTSEC-2020-0031.json",
            "crates.io/RUSTSEC-2020-0031.json",
        ),
        (
            "crates.io/RUSTSEC-2020-0071.json",
            "Deep/er/RUSTSEC-2020-0071.json",
        ),
        ("PyPI/PYSEC-2023-221.json", "PyPI/PYSEC-2023-221.json"),
        ("README.md", "README.md"),
    ] {
        let to = osv.join(to);
        std::fs::create_dir_all(to.parent().context("a parent")?)?;
        std::fs::copy(demo_osv().join(from), to)?;
    }
    std::fs::write(osv.join("crates.io/notes.txt"), "not an advisory")?;
    std::os::unix::fs::symlink("crates.io/RUSTSEC-2020-0031.json", osv.join("a-link.json"))?;
    std::os::unix::fs::symlink("crates.io", osv.join("linked"))?;
    std::fs::create_dir(&cache)?;
    let scratch = scan_case_with_mounts(
        &osv,
        &format!("cache = {:?}\n", cache.display().to_string()),
        &format!("db = \"/mnt/osv\"\nindex-cache = \"/mnt/cache\"\n{LENIENT_AGE}"),
        "read = [\".\", \"mount:osv\"]\nwrite = [\"mount:cache\"]",
    )?;
    let (gantry, ran) = run(&scratch)?;
    passed_scan(&gantry, &ran)?;

    let names: Vec<String> = std::fs::read_dir(&cache)?
        .map(|entry| entry.map(|entry| entry.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    let key = gantry_plugin_core::osv::cache::directory_key(&osv)?;
    assert_eq!(names, [format!("osv-index-{key}.json")]);
    let stamped: Vec<String> = gantry_plugin_core::osv::cache::stamps(&osv)?
        .into_iter()
        .map(|stamp| stamp.name)
        .collect();
    assert_eq!(
        stamped,
        [
            "Deep/er/RUSTSEC-2020-0071.json",
            "PyPI/PYSEC-2023-221.json",
            "a-link.json",
            "crates.io/RUSTSEC-2020-0031.json",
        ]
    );
    gantry.assert_audit_intact()
}

/// With a cache, the directory is listed through `wasi:filesystem`; a
/// directory that is not there is named, as without one.
#[test]
fn a_missing_directory_is_named_when_listed_for_the_cache() -> Result<()> {
    let cache = tempfile::tempdir()?;
    let scratch = scan_case_with_mounts(
        &demo_osv(),
        &format!("cache = {:?}\n", cache.path().display().to_string()),
        &format!("db = \"/mnt/osv/nowhere\"\nindex-cache = \"/mnt/cache\"\n{LENIENT_AGE}"),
        "read = [\".\", \"mount:osv\"]\nwrite = [\"mount:cache\"]",
    )?;
    let (gantry, ran) = run(&scratch)?;
    let text = failed_scan(&gantry, &ran)?;
    ensure!(
        text.contains("failed to read OSV directory `/mnt/osv/nowhere`"),
        "{text}"
    );
    ensure!(
        std::fs::read_dir(cache.path())?.next().is_none(),
        "nothing is cached"
    );
    gantry.assert_audit_intact()
}

#[test]
fn a_cache_the_stage_may_not_write_is_a_warning_not_a_failure() -> Result<()> {
    let cache = tempfile::tempdir()?;
    let scratch = cached_scan_case(cache.path(), false)?;
    let (gantry, ran) = run(&scratch)?;
    let (stage, out) = passed_scan(&gantry, &ran)?;
    ensure!(
        ran.stderr.contains("advisory index not used"),
        "{}",
        ran.stderr
    );
    ensure!(
        ran.stderr.contains("could not be written"),
        "{}",
        ran.stderr
    );
    let findings = read_json(&out.join("findings.json"))?;
    ensure!(findings["database"]["index"].is_null(), "{findings:#}");
    ensure!(stage["metadata"]["db-index-digest"].is_null(), "{stage:#}");
    assert_eq!(
        findings["database"]["digest"],
        manifest_digest(&demo_osv())?
    );
    ensure!(
        std::fs::read_dir(cache.path())?.next().is_none(),
        "nothing was written to a read-only grant"
    );
    gantry.assert_audit_intact()
}

#[test]
fn findings_sarif_is_valid_sarif_naming_the_advisory_and_lockfile() -> Result<()> {
    let scratch = scan_case(
        &demo_osv(),
        &format!("db = \"/mnt/osv\"\n{LENIENT_AGE}"),
        "read = [\".\", \"mount:osv\"]",
    )?;
    let (gantry, ran) = run(&scratch)?;
    let (scan, out) = passed_scan(&gantry, &ran)?;
    let path = out.join("findings.sarif");
    let sarif = read_json(&path)?;

    let artifact = scan["artifacts"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["name"] == "findings-sarif")
        .context("no findings-sarif artifact")?;
    assert_eq!(
        artifact["media_type"], "application/sarif+json",
        "{artifact:#}"
    );
    assert_eq!(sarif["version"], "2.1.0");
    let result = &sarif["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], ADVISORY);
    assert_eq!(result["level"], "warning", "a medium finding");
    let location = &result["locations"][0]["physicalLocation"]["artifactLocation"];
    assert_eq!(location["uri"], "Cargo.lock");
    assert_eq!(
        sarif["runs"][0]["results"].as_array().map(Vec::len),
        Some(1)
    );

    let Some(python) = crate::support::interop_python() else {
        return Ok(());
    };
    let said = crate::support::run_interop_check(&python, "check_sarif.py", &[&path])?;
    ensure!(said.contains("valid SARIF 2.1.0: 1 result"), "{said}");

    // Control: the checker refuses a level SARIF does not define.
    let broken = tempfile::tempdir()?;
    let broken_path = broken.path().join("broken.sarif");
    let text = std::fs::read_to_string(&path)?;
    std::fs::write(
        &broken_path,
        text.replacen("\"level\": \"warning\"", "\"level\": \"fatal\"", 1),
    )?;
    let refused = crate::support::run_interop_check(&python, "check_sarif.py", &[&broken_path]);
    let message = format!("{:#}", refused.err().context("the broken copy passed")?);
    ensure!(message.contains("'fatal' is not one of"), "{message}");
    Ok(())
}
