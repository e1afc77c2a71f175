//! Plugins are checked before anything runs: a missing file, a file that
//! is not a component, a component that is not a stage, and a digest that
//! does not match its pin all stop `gantry run` with exit 2, naming the
//! plugin and what is wrong. And a second run compiles nothing.

use std::path::Path;

use crate::support::{Gantry, Scratch, one_stage_pipeline, repo_root};

fn noop_plugin() -> std::path::PathBuf {
    Path::new(crate::support::PLUGIN_DIR).join("fixture_noop.wasm")
}

/// Runs a one-stage pipeline using `plugin`; returns the result and the
/// state dir (for checking that no run was recorded).
fn run_with_plugin(plugin: &Path, extra: &str) -> anyhow::Result<(crate::support::Ran, Gantry)> {
    let scratch = Scratch::new(&one_stage_pipeline(plugin, extra))?;
    let gantry = Gantry::new()?;
    let ran = gantry.run(&["run", &scratch.pipeline()])?;
    Ok((ran, gantry))
}

fn assert_no_run_started(gantry: &Gantry) -> anyhow::Result<()> {
    let runs = gantry.state_dir().join("runs");
    let count = std::fs::read_dir(&runs).map(|d| d.count()).unwrap_or(0);
    anyhow::ensure!(count == 0, "a run was recorded in {}", runs.display());
    Ok(())
}

#[test]
fn missing_plugin_file_is_refused_naming_it() -> anyhow::Result<()> {
    let (ran, gantry) = run_with_plugin(Path::new("/nonexistent/stage.wasm"), "")?;
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(
        ran.stderr.contains("/nonexistent/stage.wasm"),
        "{}",
        ran.stderr
    );
    assert_no_run_started(&gantry)
}

#[test]
fn a_file_that_is_not_webassembly_is_refused() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let plugin = dir.path().join("notes.wasm");
    std::fs::write(&plugin, "this is not a component")?;
    let (ran, gantry) = run_with_plugin(&plugin, "")?;
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.stderr.contains("notes.wasm"), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("not a WebAssembly file"),
        "{}",
        ran.stderr
    );
    assert_no_run_started(&gantry)
}

#[test]
fn a_core_module_is_refused_with_a_hint() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let plugin = dir.path().join("core.wasm");
    // The smallest valid core module: magic and version 1, no sections.
    std::fs::write(&plugin, b"\0asm\x01\0\0\0")?;
    let (ran, gantry) = run_with_plugin(&plugin, "")?;
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(
        ran.stderr
            .contains("core WebAssembly module, not a component"),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("wasm32-wasip2"), "{}", ran.stderr);
    assert_no_run_started(&gantry)
}

#[test]
fn a_component_without_the_stage_exports_is_refused() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let plugin = dir.path().join("empty.wasm");
    // The smallest valid component: it imports and exports nothing.
    std::fs::write(&plugin, b"\0asm\x0d\0\x01\0")?;
    let (ran, gantry) = run_with_plugin(&plugin, "")?;
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.stderr.contains("empty.wasm"), "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains("does not implement the `gantry:stage` world"),
        "{}",
        ran.stderr
    );
    assert_no_run_started(&gantry)
}

#[test]
fn a_plugin_that_does_not_match_its_pin_is_refused_naming_both_digests() -> anyhow::Result<()> {
    let plugin = noop_plugin();
    let wrong = "0".repeat(64);
    let toml = format!(
        "[pipeline]\nname = \"pinned\"\nworkspace = \"ws\"\n\n[[stage]]\nid = \"probe\"\n\
         plugin = {{ path = {:?}, sha256 = \"{wrong}\" }}\n",
        plugin.display().to_string()
    );
    let scratch = Scratch::new(&toml)?;
    let gantry = Gantry::new()?;
    let ran = gantry.run(&["run", &scratch.pipeline()])?;
    assert_eq!(ran.code, 2, "{ran:?}");
    let actual = gantry::store::sha256_file(&plugin)?;
    assert!(
        ran.stderr.contains(&format!("sha256:{wrong}")),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains(&actual), "{}", ran.stderr);
    assert_no_run_started(&gantry)
}

#[test]
fn a_plugin_matching_its_pin_runs() -> anyhow::Result<()> {
    let plugin = noop_plugin();
    let digest = gantry::store::sha256_file(&plugin)?;
    let hex = digest.trim_start_matches("sha256:");
    let toml = format!(
        "[pipeline]\nname = \"pinned\"\nworkspace = \"ws\"\n\n[[stage]]\nid = \"probe\"\n\
         plugin = {{ path = {:?}, sha256 = \"{hex}\" }}\n",
        plugin.display().to_string()
    );
    let scratch = Scratch::new(&toml)?;
    let gantry = Gantry::new()?;
    let ran = gantry.run(&["run", &scratch.pipeline(), "--json"])?;
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(ran.json()?["status"], "succeeded");
    let events = gantry.audit_events()?;
    let start = events
        .iter()
        .find(|e| e["event"] == "stage-start")
        .ok_or_else(|| anyhow::anyhow!("no stage-start event"))?;
    assert_eq!(start["plugin_digest"], digest.as_str());
    gantry.assert_audit_intact()
}

#[test]
fn a_second_run_compiles_nothing() -> anyhow::Result<()> {
    let scratch = Scratch::new(&one_stage_pipeline(&noop_plugin(), ""))?;
    let gantry = Gantry::with_own_cache()?;
    assert_eq!(gantry.run(&["run", &scratch.pipeline()])?.code, 0);
    let before = cache_listing(gantry.state_dir())?;
    anyhow::ensure!(!before.is_empty(), "the first run cached nothing");

    assert_eq!(gantry.run(&["run", &scratch.pipeline()])?.code, 0);
    // A compile writes (or rewrites) the cached file; a hit only reads it.
    assert_eq!(cache_listing(gantry.state_dir())?, before);
    Ok(())
}

#[test]
fn bad_pipeline_exits_2_with_file_line_and_key() -> anyhow::Result<()> {
    let gantry = Gantry::new()?;
    let pipeline = repo_root().join("tests/ui/unknown-key-grants.toml");
    let ran = gantry.run(&["run", &pipeline.display().to_string()])?;
    assert_eq!(ran.code, 2, "{ran:?}");
    let expected = std::fs::read_to_string(repo_root().join("tests/ui/unknown-key-grants.stderr"))?;
    let first = expected.lines().next().unwrap_or_default();
    let (_, message) = first.split_once(".toml").unwrap_or(("", first));
    assert!(
        ran.stderr.contains(message.trim()),
        "{}\nexpected: {first}",
        ran.stderr
    );
    Ok(())
}

/// Every cached file with its size and modification time.
fn cache_listing(state: &Path) -> anyhow::Result<Vec<(String, u64, std::time::SystemTime)>> {
    let mut files = Vec::new();
    for key in std::fs::read_dir(state.join("cache"))? {
        for file in std::fs::read_dir(key?.path())? {
            let file = file?;
            let meta = file.metadata()?;
            files.push((
                file.path().display().to_string(),
                meta.len(),
                meta.modified()?,
            ));
        }
    }
    files.sort();
    Ok(files)
}

#[test]
fn a_cache_dir_given_on_the_command_line_is_made_private_and_used() -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;

    let scratch = Scratch::new(&one_stage_pipeline(&noop_plugin(), ""))?;
    let cache = tempfile::tempdir()?;
    std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o755))?;
    let gantry = Gantry::with_own_cache()?;
    let cache_arg = cache.path().display().to_string();
    let ran = gantry.run(&["run", &scratch.pipeline(), "--cache-dir", &cache_arg])?;
    assert_eq!(ran.code, 0, "{ran:?}");

    let mode = std::fs::metadata(cache.path())?.permissions().mode() & 0o777;
    assert_eq!(
        mode, 0o700,
        "the cache holds native code: only its owner may use it"
    );
    anyhow::ensure!(
        std::fs::read_dir(cache.path())?.count() > 0,
        "nothing was cached"
    );
    let own = gantry.state_dir().join("cache");
    let own_count = std::fs::read_dir(&own).map(|d| d.count()).unwrap_or(0);
    assert_eq!(own_count, 0, "the state dir's own cache was used instead");
    Ok(())
}

#[test]
fn errors_are_one_json_object_with_json() -> anyhow::Result<()> {
    let gantry = Gantry::new()?;
    let ran = gantry.run(&["run", "/nonexistent/pipeline.toml", "--json"])?;
    assert_eq!(ran.code, 2, "{ran:?}");
    let object = ran.json()?;
    assert_eq!(object["exit_code"], 2);
    let error = object["error"].as_str().unwrap_or_default();
    assert!(error.contains("/nonexistent/pipeline.toml"), "{object}");
    Ok(())
}

#[test]
fn commands_that_only_read_do_not_create_a_state_dir() -> anyhow::Result<()> {
    let parent = tempfile::tempdir()?;
    let missing = parent.path().join("never-made");
    let missing_arg = missing.display().to_string();
    let output = std::process::Command::new(crate::support::GANTRY)
        .args(["--state-dir", &missing_arg, "runs"])
        .output()?;
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no state directory at"), "{stderr}");
    assert!(!missing.exists(), "`runs` created the state dir");
    Ok(())
}
