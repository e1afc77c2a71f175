//! The `gantry:build` stage: runs the build command, then packages the
//! chosen files into a reproducible OCI image layout at `/out/image`.
//!
//! ```toml
//! [stage.config]
//! command = ["cargo", "build", "--release", "--locked"]
//! name = "contact-tracing"
//! version = "0.1.0"
//! files = [{ src = "target/release/contact-tracing", dest = "app/contact-tracing", mode = "0755" }]
//! entrypoint = ["/app/contact-tracing"]
//! ```
//!
//! The command runs through the host's `exec` import, so its program must
//! be in the stage's `exec` grant. A command that exits non-zero fails the
//! stage with the tail of its standard error.
//!
//! A `[stage.config.cargo-metadata]` table also writes
//! `cargo-metadata.json` (see `metadata.rs`), from which the scan reads
//! crate licences.

mod metadata;

use std::path::{Component, Path};

use gantry_plugin_core::oci::{self, ImageSpec, LayerFile};
use gantry_plugin_sdk::{
    Capabilities, Guest, PluginInfo, ResultExt, StageError, StageInput, StageKind, StageOutput,
    Verdict, config, exec, log, out,
};
use serde::Deserialize;

/// Where the workspace is preopened.
const WORKSPACE: &str = "/workspace";
/// How much of a failed command's standard error the verdict quotes.
const STDERR_TAIL_BYTES: usize = 2048;

const CONFIG_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "required": ["name", "version", "files"],
  "properties": {
    "command": {
      "type": "array", "items": { "type": "string" }, "minItems": 1,
      "default": ["cargo", "build", "--release", "--locked"]
    },
    "name": { "type": "string", "pattern": "^[a-z0-9]+([._-][a-z0-9]+)*$" },
    "version": { "type": "string", "pattern": "^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$" },
    "files": {
      "type": "array", "minItems": 1,
      "items": {
        "type": "object",
        "additionalProperties": false,
        "required": ["src", "dest"],
        "properties": {
          "src": { "type": "string", "description": "path in the workspace" },
          "dest": { "type": "string", "description": "path in the image" },
          "mode": { "type": "string", "pattern": "^0?[0-7]{3,4}$", "default": "0644" }
        }
      }
    },
    "entrypoint": { "type": "array", "items": { "type": "string" }, "default": [] },
    "cargo-metadata": {
      "type": "object",
      "additionalProperties": false,
      "required": ["command"],
      "properties": {
        "command": { "type": "array", "items": { "type": "string" }, "minItems": 1 }
      },
      "description": "Also write cargo-metadata.json (crate licences, for the scan) with this command"
    }
  }
}"#;

/// The stage's `[stage.config]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct BuildConfig {
    #[serde(default = "default_command")]
    command: Vec<String>,
    name: String,
    version: String,
    files: Vec<FileConfig>,
    #[serde(default)]
    entrypoint: Vec<String>,
    cargo_metadata: Option<metadata::MetadataConfig>,
}

/// One file to copy from the workspace into the image.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileConfig {
    src: String,
    dest: String,
    #[serde(default = "default_mode")]
    mode: String,
}

fn default_command() -> Vec<String> {
    ["cargo", "build", "--release", "--locked"]
        .map(String::from)
        .to_vec()
}

fn default_mode() -> String {
    "0644".to_owned()
}

struct Build;

impl Guest for Build {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "build".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            kind: StageKind::Build,
            config_schema: CONFIG_SCHEMA.to_owned(),
            wants: Capabilities {
                read: vec![WORKSPACE.to_owned()],
                exec: vec!["cargo".to_owned()],
                ..Capabilities::none()
            },
        }
    }

    fn run(input: StageInput) -> Result<StageOutput, StageError> {
        let config: BuildConfig = config::parse(&input.config)?;
        let modes = check_config(&config)?;

        log::info(
            "running build command",
            &[("command", &config.command.join(" "))],
        );
        let output = exec::run_command_line("command", &config.command, None)?;
        if !output.success() {
            log::error(
                "build command failed",
                &[("status", &output.describe_status())],
            );
            return Ok(failed_command(&config.command, &output));
        }

        if let Some(metadata) = &config.cargo_metadata
            && let Some(output) = metadata::write_cargo_metadata(metadata)?
        {
            return Ok(failed_command(&metadata.command, &output));
        }

        let files = read_files(&config.files, &modes)?;
        let image = ImageSpec {
            name: config.name.clone(),
            version: config.version.clone(),
            entrypoint: config.entrypoint,
            files,
        };
        let descriptor = oci::write_layout(&out::path("image"), &image)
            .or_internal(|| "failed to write the image layout".to_owned())?;

        let digest = descriptor.digest.to_string();
        log::info("wrote image", &[("name", &image.name), ("digest", &digest)]);
        let summary = format!("image {}:{} {digest}", image.name, image.version);
        let mut output = StageOutput::pass(summary)
            .with_artifact("image", oci::MEDIA_TYPE_INDEX, "image")
            .with_metadata("image-digest", digest)
            .with_metadata("image-name", image.name)
            .with_metadata("image-version", image.version);
        if config.cargo_metadata.is_some() {
            output = output.with_artifact(metadata::ARTIFACT, "application/json", metadata::FILE);
        }
        Ok(output)
    }
}

gantry_plugin_sdk::export!(Build);

/// Checks what serde cannot, and returns each file's parsed mode.
fn check_config(config: &BuildConfig) -> Result<Vec<u32>, StageError> {
    oci::check_image_name(&config.name).map_err(|problem| config::invalid("name", problem))?;
    oci::check_tag(&config.version).map_err(|problem| config::invalid("version", problem))?;
    if config.command.is_empty() {
        return Err(config::invalid("command", "must name a program to run"));
    }
    if let Some(metadata) = &config.cargo_metadata {
        metadata.check()?;
    }
    if config.files.is_empty() {
        return Err(config::invalid(
            "files",
            "must list at least one file for the image",
        ));
    }
    let mut modes = Vec::with_capacity(config.files.len());
    for (position, file) in config.files.iter().enumerate() {
        if !is_inside_workspace(&file.src) {
            let key = format!("files[{position}].src");
            return Err(config::invalid(
                &key,
                "must be a relative path inside the workspace",
            ));
        }
        if !is_image_path(&file.dest) {
            let key = format!("files[{position}].dest");
            return Err(config::invalid(
                &key,
                "must name a file in the image, without `..`",
            ));
        }
        let mode = parse_mode(&file.mode)
            .ok_or_else(|| config::invalid(&format!("files[{position}].mode"), MODE_PROBLEM))?;
        modes.push(mode);
    }
    Ok(modes)
}

const MODE_PROBLEM: &str = "must be octal permission bits like \"0755\"";

/// Parses octal permission bits written as a string: `"0755"`, `"755"`.
fn parse_mode(text: &str) -> Option<u32> {
    let digits = text.strip_prefix("0o").unwrap_or(text);
    if !(3..=4).contains(&digits.len()) {
        return None;
    }
    u32::from_str_radix(digits, 8).ok()
}

/// True for a relative path with no `..`: the sandbox would refuse anything
/// else, but a config error says more than a missing file.
fn is_inside_workspace(path: &str) -> bool {
    let path = Path::new(path);
    !path.as_os_str().is_empty()
        && path
            .components()
            .all(|part| matches!(part, Component::Normal(_) | Component::CurDir))
}

/// True for a path in the image, absolute or not, with no `..`.
fn is_image_path(path: &str) -> bool {
    let parts = Path::new(path).components();
    let mut names = 0;
    for part in parts {
        match part {
            Component::Normal(_) => names += 1,
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => return false,
        }
    }
    names > 0
}

/// Reads each file from the workspace for the layer.
fn read_files(files: &[FileConfig], modes: &[u32]) -> Result<Vec<LayerFile>, StageError> {
    let workspace = Path::new(WORKSPACE);
    let mut layer = Vec::with_capacity(files.len());
    for (file, &mode) in files.iter().zip(modes) {
        let source = workspace.join(&file.src);
        let contents = std::fs::read(&source).or_missing_input(|| {
            format!(
                "failed to read `{}` for the image (did the build make it?)",
                file.src
            )
        })?;
        layer.push(LayerFile {
            path: file.dest.clone(),
            mode,
            contents,
        });
    }
    Ok(layer)
}

/// A failed build: the verdict quotes the end of standard error.
fn failed_command(command: &[String], output: &exec::Output) -> StageOutput {
    let headline = format!(
        "`{}` failed with {}",
        command.join(" "),
        output.describe_status()
    );
    let tail = output.stderr_tail(STDERR_TAIL_BYTES);
    let reason = if tail.trim().is_empty() {
        headline.clone()
    } else {
        format!("{headline}\n{tail}")
    };
    StageOutput::new(Verdict::Fail(reason), headline)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = r#"{"name": "contact-tracing", "version": "0.1.0",
        "files": [{"src": "target/release/contact-tracing", "dest": "app/contact-tracing",
                   "mode": "0755"}], "entrypoint": ["/app/contact-tracing"]}"#;

    fn checked(json: &str) -> Result<Vec<u32>, StageError> {
        check_config(&config::parse::<BuildConfig>(json)?)
    }

    fn invalid(json: &str) -> String {
        match checked(json) {
            Err(StageError::InvalidConfig(message)) => message,
            other => panic!("expected invalid-config, got {other:?}"),
        }
    }

    #[test]
    fn the_documented_config_is_accepted_with_cargo_build_as_default() {
        assert_eq!(checked(VALID).unwrap(), [0o755]);
        let config: BuildConfig = config::parse(VALID).unwrap();
        assert_eq!(config.command, ["cargo", "build", "--release", "--locked"]);
    }

    #[test]
    fn bad_values_name_their_key() {
        let with = |key: &str, value: &str| VALID.replacen(key, value, 1);
        let bad_mode = with(r#""mode": "0755""#, r#""mode": "rwx""#);
        assert!(invalid(&bad_mode).starts_with("`files[0].mode`"));
        let climbing = with(r#""src": "target"#, r#""src": "../target"#);
        assert!(invalid(&climbing).starts_with("`files[0].src`"));
        let escaping = with(r#""dest": "app/"#, r#""dest": "/../app/"#);
        assert!(invalid(&escaping).starts_with("`files[0].dest`"));
        let bad_name = with(
            r#""name": "contact-tracing""#,
            r#""name": "Contact Tracing""#,
        );
        assert!(invalid(&bad_name).starts_with("`name`"));
        let empty = with(
            r#""version": "0.1.0""#,
            r#""command": [], "version": "0.1.0""#,
        );
        assert!(invalid(&empty).starts_with("`command`"));
        assert!(invalid(&with(r#""name""#, r#""nmae""#)).contains("unknown field `nmae`"));
    }

    #[test]
    fn modes_are_octal() {
        assert_eq!(parse_mode("0755"), Some(0o755));
        assert_eq!(parse_mode("644"), Some(0o644));
        assert_eq!(parse_mode("0o4755"), Some(0o4755));
        assert_eq!(parse_mode("0999"), None);
        assert_eq!(parse_mode("7"), None);
    }

    #[test]
    fn failed_build_quotes_the_end_of_stderr() {
        let output = exec::Output {
            status: Some(101),
            stdout: vec![],
            stderr: b"   Compiling app\nerror[E0308]: mismatched types\n".to_vec(),
            timed_out: false,
        };
        let command = default_command();
        let failed = failed_command(&command, &output);
        let Verdict::Fail(reason) = failed.verdict else {
            panic!("expected fail")
        };
        assert!(reason.starts_with("`cargo build --release --locked` failed with exit status 101"));
        assert!(
            reason.ends_with("error[E0308]: mismatched types\n"),
            "{reason}"
        );
        assert!(!failed.summary.contains('\n'));
    }
}
