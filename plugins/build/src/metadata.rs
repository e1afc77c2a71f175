//! `cargo-metadata.json`: what cargo knows of the crates it builds, for
//! the scan's licence policy (`Cargo.lock` records no licences).
//!
//! ```toml
//! [stage.config.cargo-metadata]
//! command = ["cargo", "metadata", "--format-version", "1", "--locked"]
//! ```
//!
//! After a successful build the stage runs that command through the same
//! `exec` grant as the build (the host runs only commands the config
//! writes under a `command` key), checks that it printed JSON, and writes
//! it unchanged to `/out/cargo-metadata.json`.
//!
//! Cargo lists every crate of the lockfile, for every platform, so it may
//! fetch crates the build itself did not need (a Linux build does not
//! fetch `winapi`): grant it the crates.io hosts, as the demo's build
//! stage does. Without network, add `--offline --filter-platform <target
//! triple>`: cargo then lists only the crates of that platform, and the
//! scan reports the others as not built.
//!
//! The host captures at most 256 KiB of a program's output, which a large
//! workspace's metadata can exceed; the stage then fails, saying so, rather
//! than write a cut document.

use gantry_plugin_sdk::{StageError, config, exec, log, out};
use serde::Deserialize;

/// The file under `/out`.
pub const FILE: &str = "cargo-metadata.json";
/// The artifact name downstream stages look for.
pub const ARTIFACT: &str = "cargo-metadata";

/// `[stage.config.cargo-metadata]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetadataConfig {
    /// The `cargo metadata` command line.
    pub command: Vec<String>,
}

impl MetadataConfig {
    /// Checks that the command asks cargo for format version 1, the one
    /// the scan reads.
    ///
    /// # Errors
    ///
    /// [`StageError::InvalidConfig`] naming `cargo-metadata.command`.
    pub fn check(&self) -> Result<(), StageError> {
        let asks_v1 = self
            .command
            .windows(2)
            .any(|pair| pair[0] == "--format-version" && pair[1] == "1");
        let runs_metadata = self.command.iter().skip(1).any(|arg| arg == "metadata");
        if runs_metadata && asks_v1 {
            return Ok(());
        }
        Err(config::invalid(
            "cargo-metadata.command",
            "must run `cargo metadata --format-version 1`",
        ))
    }
}

/// Runs the command and writes [`FILE`]; returns the failed run's output
/// when the command fails.
///
/// # Errors
///
/// [`StageError::Internal`] when the program is not granted or cannot
/// start, or its output is not JSON.
pub fn write_cargo_metadata(config: &MetadataConfig) -> Result<Option<exec::Output>, StageError> {
    log::info(
        "running cargo metadata",
        &[("command", &config.command.join(" "))],
    );
    let output = exec::run_command_line("cargo-metadata.command", &config.command, None)?;
    if !output.success() {
        return Ok(Some(output));
    }
    // The host keeps only the tail of a long output: check it is whole.
    serde_json::from_slice::<serde_json::Value>(&output.stdout).map_err(|error| {
        StageError::Internal(format!(
            "`{}` printed {} bytes that are not JSON ({error}); was the output cut at the \
             host's capture limit?",
            config.command.join(" "),
            output.stdout.len()
        ))
    })?;
    out::write(FILE, &output.stdout)?;
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(words: &[&str]) -> MetadataConfig {
        MetadataConfig {
            command: words.iter().map(|w| (*w).to_owned()).collect(),
        }
    }

    #[test]
    fn the_command_must_ask_for_format_version_1() {
        let good = command(&["cargo", "metadata", "--format-version", "1", "--locked"]);
        assert!(good.check().is_ok());
        for bad in [
            command(&["cargo", "metadata", "--locked"]),
            command(&["cargo", "metadata", "--format-version", "2"]),
            command(&["cargo", "build", "--format-version", "1"]),
            command(&[]),
        ] {
            let Err(StageError::InvalidConfig(message)) = bad.check() else {
                panic!("{bad:?} accepted");
            };
            assert!(message.starts_with("`cargo-metadata.command`"), "{message}");
        }
    }
}
