//! `cargo-metadata.json`: what cargo knows of the crates it just built,
//! for the scan's licence policy (`Cargo.lock` records no licences).
//!
//! With `cargo-metadata = true` in the config, after a successful build the
//! stage asks cargo for its host platform (`cargo -vV`) and then runs
//!
//! ```text
//! cargo metadata --format-version 1 --offline --locked --filter-platform <host>
//! ```
//!
//! through the same `exec` grant as the build. `--offline` because the
//! build has just fetched everything the platform needs; the platform
//! filter because cargo would otherwise want crates the build never
//! fetched (those of other platforms), which are not in the image either.
//! The output is written, unchanged, to `/out/cargo-metadata.json`.

use gantry_plugin_sdk::{StageError, exec, log, out};

/// The file under `/out`, and the artifact name downstream stages look for.
pub const FILE: &str = "cargo-metadata.json";
/// The artifact name.
pub const ARTIFACT: &str = "cargo-metadata";

/// What the step left: the platform it asked for, or why it failed.
pub enum Metadata {
    /// Written for this host platform.
    Written(String),
    /// A cargo run failed: the command and its output.
    Failed(Vec<String>, exec::Output),
}

/// Runs cargo twice and writes [`FILE`].
///
/// # Errors
///
/// [`StageError::Internal`] when `cargo` is not granted, its version text
/// names no host, or its metadata is not JSON.
pub fn write_cargo_metadata() -> Result<Metadata, StageError> {
    let version = args(&["cargo", "-vV"]);
    let output = exec::run_command_line("command", &version, None)?;
    if !output.success() {
        return Ok(Metadata::Failed(version, output));
    }
    let host = host_platform(&String::from_utf8_lossy(&output.stdout))
        .ok_or_else(|| StageError::Internal("`cargo -vV` names no `host:` platform".to_owned()))?;

    let mut metadata = args(&[
        "cargo",
        "metadata",
        "--format-version",
        "1",
        "--offline",
        "--locked",
        "--filter-platform",
    ]);
    metadata.push(host.clone());
    log::info("running cargo metadata", &[("platform", &host)]);
    let output = exec::run_command_line("command", &metadata, None)?;
    if !output.success() {
        return Ok(Metadata::Failed(metadata, output));
    }
    // The host keeps only the tail of a long output: check it is whole.
    serde_json::from_slice::<serde_json::Value>(&output.stdout).map_err(|error| {
        StageError::Internal(format!(
            "`cargo metadata` printed {} bytes that are not JSON ({error}); \
             was the output cut at the host's capture limit?",
            output.stdout.len()
        ))
    })?;
    out::write(FILE, &output.stdout)?;
    Ok(Metadata::Written(host))
}

fn args(words: &[&str]) -> Vec<String> {
    words.iter().map(|word| (*word).to_owned()).collect()
}

/// The `host:` line of `cargo -vV` (or `rustc -vV`).
fn host_platform(version: &str) -> Option<String> {
    version
        .lines()
        .find_map(|line| line.strip_prefix("host:"))
        .map(|host| host.trim().to_owned())
        .filter(|host| !host.is_empty() && !host.contains(char::is_whitespace))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_platform_is_read_from_the_version_text() {
        let text = "cargo 1.95.0 (abc 2026-01-01)\nrelease: 1.95.0\n\
                    host: x86_64-unknown-linux-gnu\nos: Debian\n";
        assert_eq!(
            host_platform(text).as_deref(),
            Some("x86_64-unknown-linux-gnu")
        );
        assert_eq!(host_platform("cargo 1.95.0\nrelease: 1.95.0\n"), None);
        assert_eq!(host_platform("host: \n"), None);
    }
}
