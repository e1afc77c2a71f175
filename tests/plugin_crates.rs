//! The plugin crates' own unit tests.
//!
//! The plugins are a cargo workspace of their own, built for wasm32-wasip2;
//! their unit tests are plain Rust, so they run natively here, which keeps
//! `cargo test` at the root the one command that runs every test.

use std::path::Path;
use std::process::Command;

use crate::support::repo_root;

#[test]
fn plugin_crates_pass_their_unit_tests() -> anyhow::Result<()> {
    let plugins = repo_root().join("plugins");
    let target_dir = Path::new(env!("GANTRY_PLUGIN_BUILD_DIR"))
        .ancestors()
        .nth(3)
        .map_or_else(|| plugins.join("target"), |t| t.join("plugins-native"));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(&plugins)
        .args([
            "test",
            "--locked",
            "--workspace",
            "--target",
            env!("GANTRY_HOST_TARGET"),
        ])
        .arg("--target-dir")
        .arg(target_dir)
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_TARGET_DIR")
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    anyhow::ensure!(
        output.status.success(),
        "the plugin crates' tests failed:\n{stdout}\n{stderr}"
    );
    let passed: usize = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("test result: ok. "))
        .filter_map(|l| l.split(' ').next()?.parse::<usize>().ok())
        .sum();
    anyhow::ensure!(passed > 0, "no plugin test ran:\n{stdout}");
    Ok(())
}
