//! What Gantry costs: compile time per standard plugin, host overhead per
//! stage, process start (cold and warm cache), peak memory, and Gantry's
//! share of the demo pipeline's wall time.
//!
//! Run with `cargo bench -p gantry --bench overhead` (a release build). Every
//! figure is printed beside a baseline measured in the same run, since the
//! machines this runs on are shared and noisy: compare ratios, not
//! milliseconds, across machines.
//!
//! Set `GANTRY_BENCH_SKIP_DEMO=1` to leave out the demo pipeline, which
//! builds and tests the sample service with cargo.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gantry::grants::{Access, Denial, DenialSink, Preopen, Sandbox};
use gantry::host::bindings::types::StageInput;
use gantry::host::{ExecRecord, HttpRecord, Limits, LogLevel, PluginHost, StageEvents};
use gantry::pipeline::BuiltinPlugin;

const GANTRY: &str = env!("CARGO_BIN_EXE_gantry");
const PLUGIN_DIR: &str = env!("GANTRY_PLUGIN_BUILD_DIR");
const STAGE_SAMPLES: usize = 400;

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    println!("gantry overhead benchmark (release build)\n");
    compile_times()?;
    runtime.block_on(stage_overhead())?;
    process_start()?;
    if std::env::var_os("GANTRY_BENCH_SKIP_DEMO").is_none() {
        demo_share()?;
    }
    Ok(())
}

/// Compile time of each standard plugin on a cache miss, against loading
/// the same plugin from the cache.
fn compile_times() -> anyhow::Result<()> {
    println!("== compile time per standard plugin (cache miss vs cache hit)");
    for plugin in [
        BuiltinPlugin::Build,
        BuiltinPlugin::Test,
        BuiltinPlugin::Scan,
        BuiltinPlugin::Ato,
        BuiltinPlugin::Promote,
    ] {
        let bytes = gantry::engine::builtin_bytes(plugin);
        let mut misses = Vec::new();
        let mut hits = Vec::new();
        for _ in 0..3 {
            let cache = tempfile::tempdir()?;
            let host = PluginHost::new(cache.path())?;
            misses.push(time(|| host.load(&plugin.to_string(), bytes).map(drop))?);
            hits.push(time(|| host.load(&plugin.to_string(), bytes).map(drop))?);
        }
        let (miss, hit) = (median(&mut misses), median(&mut hits));
        println!(
            "  {:<16} {:>6} KiB  compile {:>8}  cached {:>8}  ({:.0}x faster cached)",
            plugin.to_string(),
            bytes.len() / 1024,
            ms(miss),
            ms(hit),
            ratio(miss, hit)
        );
    }
    println!();
    Ok(())
}

/// Per-stage host overhead: a fresh store with grants, instantiate, call
/// `run` on a plugin that does nothing. Baseline: the same component
/// instantiated and called with nothing granted and no limits, which is
/// what wasmtime alone costs.
async fn stage_overhead() -> anyhow::Result<()> {
    println!("== host overhead per stage, no-op plugin, {STAGE_SAMPLES} samples");
    let cache = tempfile::tempdir()?;
    let host = PluginHost::new(cache.path())?;
    let bytes = std::fs::read(Path::new(PLUGIN_DIR).join("fixture_noop.wasm"))?;
    let plugin = host.load("noop", &bytes)?;
    let out = tempfile::tempdir()?;
    let granted = Sandbox {
        preopens: vec![
            preopen(cache.path(), "/workspace", Access::ReadOnly),
            preopen(out.path(), "/out", Access::ReadWrite),
        ],
        env: vec!["PATH".into(), "HOME".into()],
        workdir: out.path().to_owned(),
        ..Sandbox::default()
    };
    let limits = Limits {
        memory: 256 << 20,
        timeout: Duration::from_secs(60),
        cpu: Duration::from_secs(60),
        output: 1 << 20,
        out_bytes: 1 << 30,
        log_lines: 1000,
        log_rate: 1000,
        handles: 256,
    };
    let input = StageInput {
        run_id: "bench".into(),
        stage_id: "noop".into(),
        config: "{}".into(),
        policy_id: String::new(),
        policy_version: String::new(),
        policy_rules: "{}".into(),
        artifacts: Vec::new(),
    };
    let events: Arc<dyn StageEvents> = Arc::new(Quiet);

    let mut bare = Vec::new();
    let mut full = Vec::new();
    for _ in 0..STAGE_SAMPLES {
        let started = Instant::now();
        let (result, _) = host
            .run_stage(&plugin, &Sandbox::default(), limits, &input, events.clone())
            .await;
        result?.map_err(|e| anyhow::anyhow!("{e:?}"))?;
        bare.push(started.elapsed());

        let started = Instant::now();
        let (result, _) = host
            .run_stage(&plugin, &granted, limits, &input, events.clone())
            .await;
        result?.map_err(|e| anyhow::anyhow!("{e:?}"))?;
        full.push(started.elapsed());
    }
    let (bare, full) = (median(&mut bare), median(&mut full));
    println!("  nothing granted      median {:>9}", us(bare));
    println!(
        "  two preopens, env    median {:>9}  ({:.2}x; target <= 1 ms: {})",
        us(full),
        ratio(full, bare),
        verdict(full <= Duration::from_millis(1))
    );
    println!();
    Ok(())
}

/// `gantry run` as a process: cold (compiles the plugin) and warm (cache
/// hit), against spawning `true`; and the time from spawn to the first
/// stage's start, read from the audit log.
fn process_start() -> anyhow::Result<()> {
    println!("== gantry run of a 10-stage no-op pipeline, as a process");
    let scratch = tempfile::tempdir()?;
    let pipeline = write_noop_pipeline(scratch.path(), 10)?;
    let state = scratch.path().join("state");

    let mut spawns = (0..20)
        .map(|_| spawn_time("true", &[]))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let baseline = median(&mut spawns);
    let cold = run_gantry(&state, &pipeline)?;
    let mut warm_runs = Vec::new();
    for _ in 0..5 {
        warm_runs.push(run_gantry(&state, &pipeline)?);
    }
    warm_runs.sort_by_key(|r| r.wall);
    let warm = &warm_runs[warm_runs.len() / 2];
    println!("  spawn `true` (baseline)   {:>9}", ms(baseline));
    println!(
        "  cold cache                {:>9}  peak RSS {:>6}",
        ms(cold.wall),
        mib(cold.peak_kib)
    );
    println!(
        "  warm cache                {:>9}  peak RSS {:>6}  ({:.1}x faster than cold)",
        ms(warm.wall),
        mib(warm.peak_kib),
        ratio(cold.wall, warm.wall)
    );
    println!(
        "  warm, spawn to 1st stage  {:>9}  (target <= 50 ms: {})",
        ms(warm.to_first_stage),
        verdict(warm.to_first_stage <= Duration::from_millis(50))
    );
    let per_stage = warm.wall.saturating_sub(warm.to_first_stage) / 10;
    println!(
        "  warm, per stage incl. fsynced state and audit  {:>9}",
        us(per_stage)
    );
    let compiled = std::fs::read_dir(state.join("cache"))?.count();
    println!("  compile cache entries after 6 runs: {compiled} engine key(s)\n");
    Ok(())
}

/// The demo pipeline end to end (run to the gate, approve, resume): the
/// time spent in cargo and the tests (from the audit's `exec` events)
/// against everything else, which is Gantry's share. Measured twice: with
/// the sample service built from clean (its own target directory, through a
/// copy of the pipeline that grants `CARGO_TARGET_DIR`), and warm, where
/// cargo has nothing to do and Gantry's fixed costs dominate.
fn demo_share() -> anyhow::Result<()> {
    println!("== demo pipeline: Gantry's share of the wall time");
    let scratch = tempfile::tempdir()?;
    let pipeline = clean_build_pipeline(scratch.path())?;
    let state = scratch.path().join("state");
    // Compile the plugins first: their one-time cost is measured above.
    let inspect = gantry_in(&state).arg("inspect").arg(&pipeline).output()?;
    anyhow::ensure!(inspect.status.success(), "inspect failed");
    for label in ["clean sample build", "nothing to build"] {
        let (wall, exec, peak) = demo_once(&state, &pipeline, &scratch.path().join("target"))?;
        let share = wall.saturating_sub(exec).as_secs_f64() / wall.as_secs_f64();
        println!(
            "  {label:<24} wall {:>10}  cargo and tests {:>10}  Gantry {:>5.1} %  peak RSS {}",
            ms(wall),
            ms(exec),
            share * 100.0,
            mib(peak)
        );
    }
    println!("  targets: Gantry's share <= 2 % of a real build; peak RSS <= 150 MiB\n");
    Ok(())
}

/// The demo pipeline with absolute paths, written into `dir`, whose build
/// and test stages also get `CARGO_TARGET_DIR`.
fn clean_build_pipeline(dir: &Path) -> anyhow::Result<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."));
    let pipelines = root.join("pipelines");
    let text = std::fs::read_to_string(pipelines.join("contact-tracing.toml"))?;
    let absolute = |relative: &str| format!("\"{}\"", pipelines.join(relative).display());
    let text = text
        .replace(
            "\"../examples/contact-tracing\"",
            &absolute("../examples/contact-tracing"),
        )
        .replace("\"data/osv\"", &absolute("data/osv"))
        .replace("\"policy/cdc.toml\"", &absolute("policy/cdc.toml"))
        .replace("\"roles.toml\"", &absolute("roles.toml"))
        .replace(
            "\"RUSTUP_TOOLCHAIN\"",
            "\"RUSTUP_TOOLCHAIN\", \"CARGO_TARGET_DIR\"",
        );
    let path = dir.join("contact-tracing.toml");
    std::fs::write(&path, text)?;
    Ok(path)
}

fn demo_once(
    state: &Path,
    pipeline: &Path,
    target: &Path,
) -> anyhow::Result<(Duration, Duration, u64)> {
    let before = exec_time(state)?;
    let mut command = gantry_in(state);
    command.arg("run").arg(pipeline);
    let first = measure(command.env("CARGO_TARGET_DIR", target))?;
    let run = latest_run(state)?;
    let approve = gantry_in(state)
        .args(["approve", &run, "--as", "officer"])
        .output()?;
    anyhow::ensure!(
        approve.status.success(),
        "approve failed: {}",
        String::from_utf8_lossy(&approve.stderr)
    );
    let resumed = measure(gantry_in(state).args(["resume", &run]))?;
    let exec = exec_time(state)? - before;
    Ok((
        first.wall + resumed.wall,
        exec,
        first.peak_kib.max(resumed.peak_kib),
    ))
}

struct Measured {
    wall: Duration,
    to_first_stage: Duration,
    peak_kib: u64,
}

fn run_gantry(state: &Path, pipeline: &Path) -> anyhow::Result<Measured> {
    measure(gantry_in(state).arg("run").arg(pipeline))
}

/// `gantry --state-dir <state>`, ready for a command.
fn gantry_in(state: &Path) -> Command {
    let mut command = Command::new(GANTRY);
    command.arg("--state-dir").arg(state);
    command
}

/// Runs a command to its end, sampling its peak RSS (VmHWM) as it goes.
fn measure(command: &mut Command) -> anyhow::Result<Measured> {
    let spawned_at = std::time::SystemTime::now();
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0;
    while child.try_wait()?.is_none() {
        peak_kib = peak_kib.max(vm_hwm(&status_path).unwrap_or(0));
        std::thread::sleep(Duration::from_millis(2));
    }
    let wall = started.elapsed();
    let to_first_stage = first_stage_after(command, spawned_at).unwrap_or(wall);
    Ok(Measured {
        wall,
        to_first_stage,
        peak_kib,
    })
}

fn vm_hwm(status_path: &str) -> Option<u64> {
    let status = std::fs::read_to_string(status_path).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The time from `spawned_at` to the first `stage-start` event logged after
/// it, in the state dir the command was given.
fn first_stage_after(command: &Command, spawned_at: std::time::SystemTime) -> Option<Duration> {
    let args: Vec<_> = command.get_args().collect();
    let state = args
        .iter()
        .position(|a| *a == "--state-dir")
        .map(|i| args[i + 1])?;
    let audit = std::fs::read_to_string(Path::new(state).join("audit.jsonl")).ok()?;
    audit.lines().find_map(|line| {
        let event: serde_json::Value = serde_json::from_str(line).ok()?;
        if event["event"] != "stage-start" {
            return None;
        }
        let at = humantime::parse_rfc3339(event["time"].as_str()?).ok()?;
        at.duration_since(spawned_at).ok()
    })
}

fn exec_time(state: &Path) -> anyhow::Result<Duration> {
    let Ok(audit) = std::fs::read_to_string(state.join("audit.jsonl")) else {
        return Ok(Duration::ZERO);
    };
    let total = audit
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"] == "exec")
        .filter_map(|e| e["duration_ms"].as_u64())
        .sum();
    Ok(Duration::from_millis(total))
}

fn latest_run(state: &Path) -> anyhow::Result<String> {
    let mut runs: Vec<_> = std::fs::read_dir(state.join("runs"))?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    runs.sort();
    runs.pop().ok_or_else(|| anyhow::anyhow!("no run recorded"))
}

fn write_noop_pipeline(dir: &Path, stages: usize) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir.join("ws"))?;
    let plugin = Path::new(PLUGIN_DIR).join("fixture_noop.wasm");
    let mut toml = String::from("[pipeline]\nname = \"noop\"\nworkspace = \"ws\"\n");
    for i in 0..stages {
        let needs = if i == 0 {
            String::new()
        } else {
            format!("needs = [\"s{}\"]\n", i - 1)
        };
        toml.push_str(&format!(
            "\n[[stage]]\nid = \"s{i}\"\nplugin = {:?}\n{needs}[stage.grants]\nread = [\".\"]\n",
            plugin.display().to_string()
        ));
    }
    let path = dir.join("noop.toml");
    std::fs::write(&path, toml)?;
    Ok(path)
}

fn spawn_time(program: &str, args: &[&str]) -> anyhow::Result<Duration> {
    let started = Instant::now();
    Command::new(program).args(args).status()?;
    Ok(started.elapsed())
}

fn preopen(host: &Path, guest: &str, access: Access) -> Preopen {
    // The host refuses a preopen that is not canonical, as a grant is.
    Preopen {
        host: std::fs::canonicalize(host).unwrap_or_else(|_| host.to_owned()),
        guest: guest.into(),
        access,
    }
}

fn time<E>(f: impl FnOnce() -> Result<(), E>) -> Result<Duration, E> {
    let started = Instant::now();
    f()?;
    Ok(started.elapsed())
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

fn mib(kib: u64) -> String {
    format!("{:.0} MiB", kib as f64 / 1024.0)
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

/// Events nobody reads: the no-op plugin sends none anyway.
struct Quiet;

impl DenialSink for Quiet {
    fn denied(&self, _denial: &Denial) {}
}

impl StageEvents for Quiet {
    fn log(&self, _level: LogLevel, _message: &str, _fields: &[(String, String)]) {}
    fn exec(&self, _record: &ExecRecord) {}
    fn http(&self, _record: &HttpRecord) {}
}
