//! What a vulnerability scan costs: a 1,000-package lockfile against every
//! advisory of a real OSV database, in the sandbox and natively.
//!
//! ```text
//! GANTRY_BENCH_OSV_DIR=<osv> cargo bench -p gantry --bench scan
//! ```
//!
//! `<osv>` is an OSV database with one folder per ecosystem (`crates.io/`,
//! `PyPI/`, `Go/`, …). The bench writes a `Cargo.lock` of 1,000 crates.io
//! packages whose names and versions come from the database's own crates.io
//! ranges, so that many of them match, then measures, each several times:
//!
//! - `gantry run` of a one-stage pipeline running `gantry:scan` on it, with
//!   the database as the `osv` mount: wall time of the whole process, the
//!   scan stage's own time from the audit log, and peak RSS. Twice: with
//!   every run reading and indexing the directory afresh, and with the
//!   stage's `index-cache` (the index written by a first run, read by the
//!   measured ones, its digest recorded in the findings and the audit log).
//!   Nothing else is kept between runs but the compiled plugin.
//! - the baseline for each: the same work natively (load the database, or
//!   its index, read the lockfile, write both SBOMs, the findings and
//!   SARIF) in a child process of this bench, with its wall time and peak
//!   RSS;
//! - SBOM plus matching alone, natively, with the index loaded once, as
//!   packages per second.
//!
//! Without `GANTRY_BENCH_OSV_DIR` it prints how to run it and stops.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gantry_plugin_core::lockfile;
use gantry_plugin_core::osv::{self, AdvisoryIndex};
use gantry_plugin_core::package::Inventory;
use gantry_plugin_core::sarif::{self, SarifTool};
use gantry_plugin_core::sbom::{self, BomOptions};
use gantry_plugin_core::spdx::{self, SpdxOptions};

const GANTRY: &str = env!("CARGO_BIN_EXE_gantry");
const PACKAGES: usize = 1000;
const SAMPLES: usize = 7;
/// Set in the child process that does the native baseline once.
const CHILD_ENV: &str = "GANTRY_BENCH_SCAN_CHILD";
/// The index cache of a native baseline run, when it keeps one.
const CHILD_CACHE_ENV: &str = "GANTRY_BENCH_SCAN_CACHE";

fn main() -> anyhow::Result<()> {
    if let Some(work) = std::env::var_os(CHILD_ENV) {
        let work = PathBuf::from(work);
        let osv_dir = PathBuf::from(std::env::var_os("GANTRY_BENCH_OSV_DIR").unwrap_or_default());
        let cache = std::env::var_os(CHILD_CACHE_ENV).map(PathBuf::from);
        return native_scan(&osv_dir, cache.as_deref(), &work.join("ws/Cargo.lock")).map(drop);
    }
    let Some(osv_dir) = std::env::var_os("GANTRY_BENCH_OSV_DIR") else {
        println!("set GANTRY_BENCH_OSV_DIR to an OSV database to run the scan benchmark");
        return Ok(());
    };
    let osv_dir = std::fs::canonicalize(osv_dir)?;
    let work = tempfile::tempdir()?;
    let lock = write_lockfile(&osv_dir, &work.path().join("ws"))?;
    println!("gantry scan benchmark (release build)\n");

    let index = AdvisoryIndex::load_dir(&osv_dir)?;
    println!(
        "== {} packages in Cargo.lock against {} advisories ({} withdrawn, skipped)",
        PACKAGES,
        index.len() + index.withdrawn(),
        index.withdrawn()
    );
    println!("-- every run reads and indexes the directory");
    let fresh = write_pipeline(work.path(), &osv_dir, None)?;
    let sandboxed = sandboxed_runs(work.path(), &fresh, "state-fresh")?;
    let native = native_runs(work.path(), &osv_dir, None)?;
    print_scan(&sandboxed, &native, false);

    println!("-- index cached: a first run writes it, the measured runs read it");
    let caches = [work.path().join("cache"), work.path().join("native-cache")];
    for cache in &caches {
        std::fs::create_dir(cache)?;
    }
    let cached = write_pipeline(work.path(), &osv_dir, Some(&caches[0]))?;
    let sandboxed = sandboxed_runs(work.path(), &cached, "state-cached")?;
    let native = native_runs(work.path(), &osv_dir, Some(&caches[1]))?;
    print_scan(&sandboxed, &native, true);
    throughput(&index, &lock)?;
    Ok(())
}

/// One measured run.
struct Sample {
    wall: Duration,
    stage: Duration,
    peak_kib: u64,
}

/// `gantry run` of the scan pipeline, after one run that compiles the
/// plugin into the cache.
fn sandboxed_runs(work: &Path, pipeline: &Path, state: &str) -> anyhow::Result<Vec<Sample>> {
    let state = work.join(state);
    let gantry = || {
        let mut command = Command::new(GANTRY);
        command
            .arg("--state-dir")
            .arg(&state)
            .arg("run")
            .arg(pipeline);
        command
    };
    measure(&mut gantry())?;
    let mut samples = Vec::new();
    for _ in 0..SAMPLES {
        let (wall, peak_kib) = measure(&mut gantry())?;
        let stage = last_stage_duration(&state)?;
        samples.push(Sample {
            wall,
            stage,
            peak_kib,
        });
    }
    Ok(samples)
}

/// The same work natively, each run in a fresh child process of this
/// bench; with `cache`, after one run that writes the index there.
fn native_runs(work: &Path, osv_dir: &Path, cache: Option<&Path>) -> anyhow::Result<Vec<Sample>> {
    let child = || -> anyhow::Result<Command> {
        let mut child = Command::new(std::env::current_exe()?);
        child
            .env(CHILD_ENV, work)
            .env("GANTRY_BENCH_OSV_DIR", osv_dir);
        if let Some(cache) = cache {
            child.env(CHILD_CACHE_ENV, cache);
        }
        Ok(child)
    };
    if cache.is_some() {
        measure(&mut child()?)?;
    }
    let mut samples = Vec::new();
    for _ in 0..SAMPLES {
        let (wall, peak_kib) = measure(&mut child()?)?;
        samples.push(Sample {
            wall,
            stage: wall,
            peak_kib,
        });
    }
    Ok(samples)
}

fn print_scan(sandboxed: &[Sample], native: &[Sample], targets: bool) {
    let wall = median(sandboxed.iter().map(|s| s.wall));
    let stage = median(sandboxed.iter().map(|s| s.stage));
    let peak = sandboxed.iter().map(|s| s.peak_kib).max().unwrap_or(0);
    let native_wall = median(native.iter().map(|s| s.wall));
    let native_peak = native.iter().map(|s| s.peak_kib).max().unwrap_or(0);
    println!(
        "  gantry run, scan stage in the sandbox  median wall {:>9}  stage {:>9}  peak RSS {:>7}",
        ms(wall),
        ms(stage),
        mib(peak)
    );
    println!(
        "  native baseline, same work             median wall {:>9}                   peak RSS {:>7}",
        ms(native_wall),
        mib(native_peak)
    );
    println!(
        "  sandbox / native: wall {:.2}x, stage {:.2}x, peak RSS {:.2}x",
        ratio(wall, native_wall),
        ratio(stage, native_wall),
        peak as f64 / native_peak.max(1) as f64
    );
    if targets {
        println!(
            "  targets: <= 300 ms wall: {}; <= 100 MiB peak: {}",
            verdict(wall <= Duration::from_millis(300)),
            verdict(peak <= 100 * 1024)
        );
    }
    println!();
}

/// SBOM and matching natively, index loaded once, as packages per second.
fn throughput(index: &AdvisoryIndex, lock: &Path) -> anyhow::Result<()> {
    let inventory = lockfile::read(lock)?;
    let inventories = std::slice::from_ref(&inventory);
    let started = Instant::now();
    let mut rounds = 0;
    let mut findings = 0;
    while rounds < 3 || started.elapsed() < Duration::from_secs(2) {
        write_sboms(inventories)?;
        findings = osv::scan_inventories(index, inventories).findings.len();
        rounds += 1;
    }
    let per_round = started.elapsed() / rounds;
    let per_second = inventory.packages.len() as f64 / per_round.as_secs_f64();
    println!("== SBOM + matching, native, index loaded once");
    println!(
        "  {} packages, {findings} findings: {} per round, {:.0} packages/s\n",
        inventory.packages.len(),
        ms(per_round),
        per_second
    );
    Ok(())
}

/// What the scan stage does, natively: load (through the index in `cache`,
/// when given), read, SBOM, match, encode.
fn native_scan(osv_dir: &Path, cache: Option<&Path>, lock: &Path) -> anyhow::Result<usize> {
    let loaded = match cache {
        Some(cache) => osv::cache::load_dir_cached(osv_dir, cache, "bench")?.loaded,
        None => osv::read_dir(osv_dir)?,
    };
    let (index, _info, _problems) = loaded.into_index();
    let inventory = lockfile::read(lock)?;
    let inventories = std::slice::from_ref(&inventory);
    write_sboms(inventories)?;
    let report = osv::scan_inventories(&index, inventories);
    std::hint::black_box(report.to_json()?);
    let tool = SarifTool {
        name: "gantry-scan",
        version: "bench",
        information_uri: None,
    };
    let located: BTreeMap<String, Vec<String>> = inventory
        .packages
        .iter()
        .map(|p| {
            (
                format!("{}@{}", p.name, p.version),
                vec![inventory.path.clone()],
            )
        })
        .collect();
    let sarif = sarif::to_sarif(&report, &tool, &located);
    std::hint::black_box(serde_json::to_string(&sarif)?);
    Ok(report.findings.len())
}

/// Both SBOMs, encoded, as the scan stage writes them.
fn write_sboms(inventories: &[Inventory]) -> anyhow::Result<()> {
    let options = BomOptions {
        tool_name: "gantry-scan",
        tool_version: "bench",
        application_name: "workspace",
        timestamp: None,
    };
    std::hint::black_box(sbom::build_bom(inventories, &options).to_json()?);
    let options = SpdxOptions {
        tool_name: "gantry-scan",
        tool_version: "bench",
        application_name: "workspace",
        created: "2026-12-04T00:00:00Z",
    };
    std::hint::black_box(spdx::build_spdx(inventories, &options)?.to_json()?);
    Ok(())
}

/// Writes `<ws>/Cargo.lock` with `PACKAGES` crates.io packages: the
/// versions named by the database's crates.io ranges, taken one name at a
/// time so that as many names as possible appear.
fn write_lockfile(osv_dir: &Path, ws: &Path) -> anyhow::Result<PathBuf> {
    let mut versions: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for advisory in index_advisories(osv_dir)? {
        for affected in advisory.affected {
            let Some(package) = affected.package else {
                continue;
            };
            let events = affected.ranges.iter().flat_map(|range| &range.events);
            for event in events {
                let Some((_, version)) = event.kind_and_version() else {
                    continue;
                };
                if osv::Scheme::SemVer.parse(version).is_ok() {
                    versions
                        .entry(package.name.clone())
                        .or_default()
                        .push(version.to_owned());
                }
            }
        }
    }
    for list in versions.values_mut() {
        list.sort();
        list.dedup();
    }
    let mut chosen = Vec::new();
    for round in 0.. {
        let before = chosen.len();
        for (name, list) in &versions {
            if let Some(version) = list.get(round) {
                chosen.push((name.clone(), version.clone()));
            }
            if chosen.len() == PACKAGES {
                break;
            }
        }
        if chosen.len() == PACKAGES || chosen.len() == before {
            break;
        }
    }
    anyhow::ensure!(
        chosen.len() == PACKAGES,
        "only {} packages in the data",
        chosen.len()
    );
    chosen.sort();
    let mut text = String::from("version = 4\n");
    for (name, version) in chosen {
        text.push_str(&format!(
            "\n[[package]]\nname = \"{name}\"\nversion = \"{version}\"\n\
             source = \"registry+https://github.com/rust-lang/crates.io-index\"\n"
        ));
    }
    std::fs::create_dir_all(ws)?;
    let path = ws.join("Cargo.lock");
    std::fs::write(&path, text)?;
    Ok(path)
}

/// The crates.io advisories, read as they are stored.
fn index_advisories(osv_dir: &Path) -> anyhow::Result<Vec<osv::Advisory>> {
    let mut advisories = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(osv_dir.join("crates.io"))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.sort();
    for file in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "json"))
    {
        advisories.push(serde_json::from_slice(&std::fs::read(file)?)?);
    }
    Ok(advisories)
}

/// The scan pipeline, keeping the index in `cache` when given; the
/// database is a fixed copy, so its age is not held against it.
fn write_pipeline(work: &Path, osv_dir: &Path, cache: Option<&Path>) -> anyhow::Result<PathBuf> {
    let (mount, config, grant, name) = match cache {
        Some(cache) => (
            format!("cache = {:?}\n", cache.display().to_string()),
            "index-cache = \"/mnt/cache\"\n",
            "write = [\"mount:cache\"]\n",
            "scan-cached.toml",
        ),
        None => (String::new(), "", "", "scan.toml"),
    };
    let toml = format!(
        "[pipeline]\nname = \"scan-bench\"\nworkspace = \"ws\"\n\n\
         [pipeline.mounts]\nosv = {:?}\n{mount}\n\
         [[stage]]\nid = \"scan\"\nplugin = \"gantry:scan\"\n\n\
         [stage.config]\ndb = \"/mnt/osv\"\nmax-db-age = \"36500d\"\nfail-on = \"none\"\n{config}\n\
         [stage.grants]\nread = [\".\", \"mount:osv\"]\n{grant}",
        osv_dir.display().to_string()
    );
    let path = work.join(name);
    std::fs::write(&path, toml)?;
    Ok(path)
}

/// The `duration_ms` of the last `stage-end` event in the audit log.
fn last_stage_duration(state: &Path) -> anyhow::Result<Duration> {
    let audit = std::fs::read_to_string(state.join("audit.jsonl"))?;
    let millis = audit
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|event| event["event"] == "stage-end")
        .filter_map(|event| event["duration_ms"].as_u64())
        .next_back()
        .ok_or_else(|| anyhow::anyhow!("no stage-end event in the audit log"))?;
    Ok(Duration::from_millis(millis))
}

/// Runs a command to its end, sampling its peak RSS (VmHWM) as it goes;
/// fails unless it succeeds.
fn measure(command: &mut Command) -> anyhow::Result<(Duration, u64)> {
    // A file, not a pipe: the scan logs a line per informational advisory,
    // more than a pipe holds while nobody reads it.
    let mut stderr = tempfile::tempfile()?;
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr.try_clone()?)
        .spawn()?;
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        peak_kib = peak_kib.max(vm_hwm(&status_path).unwrap_or(0));
        std::thread::sleep(Duration::from_millis(1));
    };
    let wall = started.elapsed();
    if !status.success() {
        let mut text = String::new();
        stderr.seek(SeekFrom::Start(0))?;
        stderr.read_to_string(&mut text)?;
        anyhow::bail!("{command:?} failed: {text}");
    }
    Ok((wall, peak_kib))
}

fn vm_hwm(status_path: &str) -> Option<u64> {
    let status = std::fs::read_to_string(status_path).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn median(samples: impl Iterator<Item = Duration>) -> Duration {
    let mut samples: Vec<Duration> = samples.collect();
    samples.sort();
    samples[samples.len() / 2]
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn mib(kib: u64) -> String {
    format!("{:.0} MiB", kib as f64 / 1024.0)
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}
