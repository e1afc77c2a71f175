//! Helpers shared by the end-to-end suites: running the real `gantry`
//! binary against a state directory, and writing small pipelines.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use sha2::{Digest, Sha256};

/// The `gantry` binary cargo built for these tests.
pub const GANTRY: &str = env!("CARGO_BIN_EXE_gantry");

/// Where the plugin workspace's components were built, test plugins too.
pub const PLUGIN_DIR: &str = env!("GANTRY_PLUGIN_BUILD_DIR");

/// The repository root (tests run with the `runtime/` package as cwd).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("runtime/ has a parent")
        .to_owned()
}

/// A test plugin's component, e.g. `test_plugin("escape-dotdot")` for the
/// crate `hostile-escape-dotdot`.
pub fn test_plugin(name: &str) -> PathBuf {
    Path::new(PLUGIN_DIR).join(format!("hostile_{}.wasm", name.replace('-', "_")))
}

/// What one `gantry` invocation did.
#[derive(Debug)]
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    fn from_output(output: Output) -> Ran {
        Ran {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// The `--json` object printed on stdout.
    pub fn json(&self) -> anyhow::Result<serde_json::Value> {
        serde_json::from_str(self.stdout.trim())
            .with_context(|| format!("stdout is not one JSON object:\n{}", self.stdout))
    }
}

/// A state directory of its own for one test, removed at the end.
pub struct Gantry {
    pub state: tempfile::TempDir,
    /// Whether compiled plugins go to the cache every test shares.
    shared_cache: bool,
}

/// The compiled-plugin cache the tests share, so that each plugin is
/// compiled once per test run rather than once per test.
pub fn shared_cache_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("gantry-plugin-cache")
}

impl Gantry {
    /// A fresh state directory using the shared plugin cache.
    pub fn new() -> anyhow::Result<Gantry> {
        Ok(Gantry {
            state: tempfile::tempdir()?,
            shared_cache: true,
        })
    }

    /// A fresh state directory that caches plugins in its own `cache/`.
    pub fn with_own_cache() -> anyhow::Result<Gantry> {
        Ok(Gantry {
            shared_cache: false,
            ..Gantry::new()?
        })
    }

    pub fn state_dir(&self) -> &Path {
        self.state.path()
    }

    /// Runs `gantry --state-dir <state> <args>` with no terminal, from the
    /// repository root.
    pub fn run(&self, args: &[&str]) -> anyhow::Result<Ran> {
        let output = self
            .command(args)
            .output()
            .context("failed to run gantry")?;
        Ok(Ran::from_output(output))
    }

    /// The command, for tests that need to start it in the background.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(GANTRY);
        command
            .current_dir(repo_root())
            .arg("--state-dir")
            .arg(self.state_dir())
            .args(args)
            .stdin(Stdio::null())
            .env_remove("GANTRY_LOG")
            .env_remove("GANTRY_CACHE_DIR");
        if self.shared_cache {
            command.arg("--cache-dir").arg(shared_cache_dir());
        }
        command
    }

    /// The audit log's events, parsed.
    pub fn audit_events(&self) -> anyhow::Result<Vec<serde_json::Value>> {
        let text = std::fs::read_to_string(self.state_dir().join("audit.jsonl"))?;
        text.lines()
            .map(|l| serde_json::from_str(l).context("audit line is not JSON"))
            .collect()
    }

    /// Asserts that `gantry audit verify` passes.
    pub fn assert_audit_intact(&self) -> anyhow::Result<()> {
        let ran = self.run(&["audit", "verify"])?;
        anyhow::ensure!(ran.code == 0, "audit verify failed: {ran:?}");
        Ok(())
    }

    /// `<state>/runs/<run>`.
    pub fn run_dir(&self, run: &str) -> PathBuf {
        self.state_dir().join("runs").join(run)
    }

    /// `<state>/runs/<run>/run.json`, parsed.
    pub fn run_record(&self, run: &str) -> anyhow::Result<serde_json::Value> {
        read_json(&self.run_dir(run).join("run.json"))
    }

    /// The audit events of one run, in log order.
    pub fn audit_events_of(&self, run: &str) -> anyhow::Result<Vec<serde_json::Value>> {
        let events = self.audit_events()?;
        Ok(events.into_iter().filter(|e| e["run"] == run).collect())
    }

    /// The one run id in this state directory.
    pub fn only_run(&self) -> anyhow::Result<String> {
        let runs: Vec<_> = std::fs::read_dir(self.state_dir().join("runs"))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        anyhow::ensure!(runs.len() == 1, "expected one run, found {runs:?}");
        Ok(runs[0].clone())
    }
}

/// A pipeline written into a temporary directory, with a workspace beside
/// it: `<dir>/pipeline.toml` and `<dir>/ws/`.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    /// Creates the directory, an empty workspace `ws/`, and writes
    /// `pipeline.toml` from `toml`.
    pub fn new(toml: &str) -> anyhow::Result<Scratch> {
        let dir = tempfile::tempdir()?;
        std::fs::create_dir(dir.path().join("ws"))?;
        std::fs::write(dir.path().join("pipeline.toml"), toml)?;
        Ok(Scratch { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn pipeline(&self) -> String {
        self.dir.path().join("pipeline.toml").display().to_string()
    }

    pub fn workspace(&self) -> PathBuf {
        self.dir.path().join("ws")
    }

    /// Writes `name` (e.g. `roles.toml`) beside the pipeline.
    pub fn write(&self, name: &str, text: &str) -> anyhow::Result<()> {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).with_context(|| format!("failed to write `{}`", path.display()))
    }
}

/// The stage `id` of a run record (`run.json` or `show --json`).
pub fn stage<'a>(record: &'a serde_json::Value, id: &str) -> anyhow::Result<&'a serde_json::Value> {
    record["stages"]
        .as_array()
        .and_then(|stages| stages.iter().find(|s| s["id"] == id))
        .with_context(|| format!("run record has no stage `{id}`:\n{record:#}"))
}

/// Reads and parses a JSON file.
pub fn read_json(path: &Path) -> anyhow::Result<serde_json::Value> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read `{}`", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("`{}` is not JSON", path.display()))
}

/// The sha256 of `bytes`, in lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Polls `probe` every 50 ms until it returns a value; fails after
/// `timeout`, naming `what` and the last error the probe gave.
pub fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut probe: impl FnMut() -> anyhow::Result<Option<T>>,
) -> anyhow::Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        let last = match probe() {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => String::from("not yet"),
            Err(err) => format!("{err:#}"),
        };
        if Instant::now() > deadline {
            anyhow::bail!("timed out after {timeout:?} waiting for {what} ({last})");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A one-stage pipeline running the plugin at `plugin` with extra TOML for
/// the stage (grants, limits, config tables).
pub fn one_stage_pipeline(plugin: &Path, stage_extra: &str) -> String {
    format!(
        "[pipeline]\nname = \"probe\"\nworkspace = \"ws\"\n\n\
         [[stage]]\nid = \"probe\"\nplugin = {:?}\n{stage_extra}\n",
        plugin.display().to_string()
    )
}

/// The Python interpreter with the independent checkers of
/// `tests/interop/requirements.txt` installed, from `GANTRY_INTEROP_PYTHON`.
///
/// `None` when it is not set, so the default test command needs no Python;
/// CI sets it, and sets `GANTRY_INTEROP_REQUIRED`, which turns a missing
/// interpreter into a failure rather than a skip.
pub fn interop_python() -> Option<PathBuf> {
    match std::env::var_os("GANTRY_INTEROP_PYTHON") {
        Some(python) => Some(PathBuf::from(python)),
        None if std::env::var_os("GANTRY_INTEROP_REQUIRED").is_some() => {
            panic!("GANTRY_INTEROP_REQUIRED is set but GANTRY_INTEROP_PYTHON is not")
        }
        None => {
            eprintln!("GANTRY_INTEROP_PYTHON is not set; skipping the independent check");
            None
        }
    }
}

/// Runs `tests/interop/<script>` with `python` and `args`; fails with what
/// the checker printed unless it exits 0.
pub fn run_interop_check(python: &Path, script: &str, args: &[&Path]) -> anyhow::Result<String> {
    let output = Command::new(python)
        .arg(repo_root().join("tests/interop").join(script))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("failed to run `{}`", python.display()))?;
    let ran = Ran::from_output(output);
    anyhow::ensure!(
        ran.code == 0,
        "{script} exited {}:\n{}\n{}",
        ran.code,
        ran.stdout,
        ran.stderr
    );
    Ok(ran.stdout)
}
