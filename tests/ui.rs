//! Pipeline files, good and bad, loaded with `gantry::pipeline::load`.
//!
//! Each bad case is a pair: `tests/ui/<case>.toml` and `tests/ui/<case>.stderr`,
//! the exact message a user sees. Run with `GANTRY_BLESS=1` to write the
//! `.stderr` files from the current messages, then review the diff.
//!
//! Cases are loaded by a path relative to the package directory (cargo runs
//! tests there), so the messages name `../tests/ui/<case>.toml` on any
//! machine.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use gantry::pipeline::{
    self, BuiltinPlugin, GrantPath, PipelineError, PluginSource, StageId, StageKind,
};

/// The snapshot directory, relative to the package directory.
const UI_DIR: &str = "../tests/ui";

/// Pipeline files in [`UI_DIR`] that must load.
const GOOD_CASES: [&str; 1] = ["good.toml"];

#[test]
fn bad_pipelines_fail_with_the_expected_messages() -> Result<()> {
    let bless = std::env::var_os("GANTRY_BLESS").is_some_and(|v| v == "1");
    let cases = bad_cases()?;
    ensure!(
        cases.len() >= 20,
        "only {} ui cases found in {UI_DIR}",
        cases.len()
    );

    let mut failures = Vec::new();
    for case in &cases {
        if let Some(failure) = check_case(case, bless)? {
            failures.push(failure);
        }
    }
    if !failures.is_empty() {
        bail!(
            "{} of {} ui cases differ (rerun with GANTRY_BLESS=1 to accept):\n\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n")
        );
    }
    Ok(())
}

/// Every `*.toml` directly in [`UI_DIR`] except the good ones, sorted.
fn bad_cases() -> Result<Vec<PathBuf>> {
    let mut cases = Vec::new();
    for entry in std::fs::read_dir(UI_DIR).with_context(|| format!("failed to list `{UI_DIR}`"))? {
        let path = entry?.path();
        let is_toml = path.extension().is_some_and(|ext| ext == "toml");
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if is_toml && !GOOD_CASES.contains(&name) {
            cases.push(path);
        }
    }
    cases.sort();
    Ok(cases)
}

/// Loads one case; returns a description of the mismatch, if any.
fn check_case(case: &Path, bless: bool) -> Result<Option<String>> {
    let actual = match pipeline::load(case) {
        Ok(_) => {
            return Ok(Some(format!(
                "{}: loaded, but should fail\n",
                case.display()
            )));
        }
        Err(error) => format!("{error}\n"),
    };
    let expected_file = case.with_extension("stderr");
    if bless {
        std::fs::write(&expected_file, &actual)
            .with_context(|| format!("failed to write `{}`", expected_file.display()))?;
        return Ok(None);
    }
    let expected = std::fs::read_to_string(&expected_file).unwrap_or_default();
    if expected == actual {
        return Ok(None);
    }
    Ok(Some(format!(
        "{}:\n--- expected ({})\n{expected}+++ actual\n{actual}",
        case.display(),
        expected_file.display()
    )))
}

#[test]
fn every_expected_message_has_its_pipeline_file() -> Result<()> {
    for entry in std::fs::read_dir(UI_DIR)? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "stderr") {
            let case = path.with_extension("toml");
            ensure!(
                case.is_file(),
                "`{}` has no `{}`",
                path.display(),
                case.display()
            );
        }
    }
    Ok(())
}

fn id(text: &str) -> StageId {
    StageId::new(text).expect("valid stage id")
}

fn ids<'a>(ids: impl IntoIterator<Item = &'a StageId>) -> Vec<&'a str> {
    ids.into_iter().map(StageId::as_str).collect()
}

#[test]
fn good_pipeline_loads_in_dependency_order() -> Result<()> {
    let spec = pipeline::load(Path::new("../tests/ui/good.toml"))?;

    assert_eq!(spec.name, "good");
    assert_eq!(spec.display_path, "../tests/ui/good.toml");
    assert!(spec.file.is_absolute() && spec.workspace.is_absolute());
    assert_eq!(spec.workspace, std::fs::canonicalize("../tests/ui/ws")?);
    let order: Vec<&str> = spec
        .execution_order()
        .iter()
        .map(|s| s.id.as_str())
        .collect();
    assert_eq!(order, ["build", "scan", "test", "review", "promote"]);
    assert_eq!(
        ids(spec.upstream(&id("promote"))),
        ["build", "scan", "test", "review"]
    );
    assert_eq!(ids(spec.upstream(&id("scan"))), ["build"]);
    assert!(spec.upstream(&id("build")).is_empty());
    assert_eq!(spec.stage("promote").map(|s| s.line), Some(12));
    Ok(())
}

#[test]
fn good_pipeline_resolves_grants_against_the_host() -> Result<()> {
    let spec = pipeline::load(Path::new("../tests/ui/good.toml"))?;
    let build = spec
        .stage("build")
        .and_then(|s| s.plugin())
        .context("build")?;

    assert_eq!(build.plugin, PluginSource::Builtin(BuiltinPlugin::Build));
    let exec = &build.grants.exec[0];
    assert_eq!(exec.name, "sh");
    assert!(exec.resolved.is_absolute(), "{}", exec.resolved.display());
    assert!(exec.resolved.is_file());
    assert_eq!(build.grants.env, ["HOME", "PATH"]);

    let write = &build.grants.write[0];
    assert_eq!(write.as_written(), "src");
    assert_eq!(write.guest_path(), "/workspace/src");
    assert_eq!(
        write.host_path(),
        Some(spec.workspace.join("src").as_path())
    );

    let scan = spec
        .stage("scan")
        .and_then(|s| s.plugin())
        .context("scan")?;
    let read: Vec<String> = scan.grants.read.iter().map(GrantPath::guest_path).collect();
    assert_eq!(read, ["/workspace", "/mnt/osv"]);
    assert_eq!(scan.grants.net[0].to_string(), "https://api.osv.dev:443");
    assert_eq!(scan.config["fail-on"], "critical");

    let promote = spec
        .stage("promote")
        .and_then(|s| s.plugin())
        .context("promote")?;
    let registry = &promote.grants.write[0];
    assert_eq!(
        (registry.guest_path(), registry.host_path()),
        ("/mnt/registry".into(), None)
    );
    Ok(())
}

#[test]
fn good_pipeline_applies_limit_and_approval_defaults() -> Result<()> {
    let spec = pipeline::load(Path::new("../tests/ui/good.toml"))?;
    let limits = |stage: &str| spec.stage(stage).and_then(|s| s.plugin()).map(|p| p.limits);

    let test = limits("test").context("test")?;
    assert_eq!(
        (test.memory, test.timeout),
        (512 << 20, Duration::from_secs(600))
    );
    let build = limits("build").context("build")?;
    assert_eq!(
        (build.memory, build.timeout),
        (1 << 30, Duration::from_secs(600))
    );
    let scan = limits("scan").context("scan")?;
    assert_eq!(
        (scan.memory, scan.timeout),
        (256 << 20, Duration::from_secs(120))
    );
    assert_eq!(scan.cpu, Duration::from_secs(30));
    assert_eq!((scan.output, scan.out_bytes), (2 << 20, 1 << 30));
    assert_eq!(
        (scan.log_lines, scan.log_rate, scan.handles),
        (5000, 50, 128)
    );
    // Unset, CPU time is bounded by the wall time, and the rest by the
    // defaults.
    assert_eq!(test.cpu, test.timeout);
    assert_eq!((test.output, test.out_bytes), (16 << 20, 4 << 30));
    assert_eq!(
        (test.log_lines, test.log_rate, test.handles),
        (100_000, 1000, 1024)
    );

    let Some(StageKind::Approval(gate)) = spec.stage("review").map(|s| &s.kind) else {
        bail!("review is not an approval stage");
    };
    assert_eq!((gate.role.as_str(), gate.min), ("SECURITY_OFFICER", 2));
    assert!(gate.forbid_self_approval);

    let policy = spec.policy.as_ref().context("policy")?;
    assert_eq!(
        (policy.id.as_str(), policy.version.as_str()),
        ("cdc-ato", "2026.11")
    );
    let roles = pipeline::load_roles(spec.roles.as_deref().context("roles")?)?;
    assert!(roles.has_role("officer", "SECURITY_OFFICER"));
    Ok(())
}

/// Writes a pipeline with one stage reading `read` from a workspace `ws/`
/// inside `dir`.
fn write_pipeline(dir: &Path, read: &str, extra: &str) -> Result<PathBuf> {
    std::fs::create_dir_all(dir.join("ws"))?;
    let path = dir.join("pipeline.toml");
    let text = format!(
        "[pipeline]\nname = \"tmp\"\nworkspace = \"ws\"\n\n[[stage]]\nid = \"scan\"\n\
         plugin = \"gantry:scan\"\n{extra}[stage.grants]\nread = [\"{read}\"]\n"
    );
    std::fs::write(&path, text)?;
    Ok(path)
}

#[test]
fn symlinked_grant_root_leading_outside_is_refused() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let secrets = dir.path().join("secrets");
    std::fs::create_dir(&secrets)?;
    let path = write_pipeline(dir.path(), "keys", "")?;
    std::os::unix::fs::symlink(&secrets, dir.path().join("ws/keys"))?;

    let error = pipeline::load(&path).expect_err("the symlink leads outside");
    let text = error.to_string();
    let prefix = format!(
        "{}:9: stage `scan`, `grants.read`: grant path `keys`",
        path.display()
    );
    assert!(text.starts_with(&prefix), "{text}");
    let target = std::fs::canonicalize(&secrets)?;
    assert!(text.contains(&format!(
        "resolves to `{}`, outside the workspace",
        target.display()
    )));
    assert!(matches!(error, PipelineError::GrantEscapes { .. }));
    Ok(())
}

#[test]
fn symlink_inside_the_workspace_is_granted_at_its_target() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = write_pipeline(dir.path(), "docs", "")?;
    std::fs::create_dir(dir.path().join("ws/real-docs"))?;
    std::os::unix::fs::symlink("real-docs", dir.path().join("ws/docs"))?;

    let spec = pipeline::load(&path)?;
    let grant = &spec.stages[0].plugin().context("plugin stage")?.grants.read[0];
    assert_eq!(grant.guest_path(), "/workspace/docs");
    assert_eq!(
        grant.host_path(),
        Some(spec.workspace.join("real-docs").as_path())
    );
    Ok(())
}

#[test]
fn pinned_path_plugin_resolves_to_its_canonical_file() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let digest = "0123456789abcdef".repeat(4);
    let pin = format!("plugin = {{ path = \"plugins/check.wasm\", sha256 = \"{digest}\" }}\n");
    let path = write_pipeline(dir.path(), ".", "")?;
    let text = std::fs::read_to_string(&path)?.replace("plugin = \"gantry:scan\"\n", &pin);
    std::fs::write(&path, text)?;
    std::fs::create_dir(dir.path().join("plugins"))?;
    std::fs::write(dir.path().join("plugins/check.wasm"), b"\0asm")?;

    let spec = pipeline::load(&path)?;
    let plugin = &spec.stages[0].plugin().context("plugin stage")?.plugin;
    let expected = std::fs::canonicalize(dir.path().join("plugins/check.wasm"))?;
    assert_eq!(
        plugin,
        &PluginSource::Path {
            path: expected,
            sha256: Some(digest),
            signature: std::fs::canonicalize(dir.path())?.join("plugins/check.wasm.sig"),
        }
    );
    Ok(())
}

#[test]
fn unreadable_pipeline_file_is_named_in_the_error() {
    let error = pipeline::load(Path::new("../tests/ui/no-such-pipeline.toml"))
        .expect_err("the file does not exist");
    let text = error.to_string();
    assert!(
        text.starts_with("failed to read `../tests/ui/no-such-pipeline.toml`: "),
        "{text}"
    );
}

#[test]
fn resolved_grants_serialize_for_the_audit_trail() -> Result<()> {
    let spec = pipeline::load(Path::new("../tests/ui/good.toml"))?;
    let whole = serde_json::to_value(&spec)?;
    assert_eq!(
        whole["mounts"]["osv"],
        serde_json::json!(spec.mounts.values().next())
    );
    let json = serde_json::to_value(spec.stage("scan").context("scan")?)?;
    let grants = &json["kind"]["plugin"]["grants"];
    assert_eq!(grants["read"][1]["grant"], "mount:osv");
    assert_eq!(grants["read"][1]["guest"], "/mnt/osv");
    assert_eq!(grants["net"][0], "https://api.osv.dev:443");
    assert_eq!(json["kind"]["plugin"]["limits"]["timeout"], "2m");
    assert_eq!(json["kind"]["plugin"]["plugin"]["builtin"], "gantry:scan");
    Ok(())
}
