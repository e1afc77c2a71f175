//! A hostile stage whose every action and every returned field comes from
//! its config, so that one plugin can forge any output the host must check.
//!
//! In order, it removes the directories in `remove`, makes the symlinks in
//! `symlinks` (raw `wasi:filesystem` calls, so relative targets that climb
//! out are sent to the host as written), creates `dirs` and the `nest` of
//! directories, writes `files`, and reads `read`, recording what each read
//! returned as metadata `read.<path>`. Then it returns `output` as it is:
//! artifacts, findings, metadata and verdict, however malformed.

use std::fs;

use gantry_plugin_sdk::{
    Artifact, Capabilities, Finding, Guest, PluginInfo, Severity, StageError, StageInput,
    StageOutput, Verdict, config,
};
use hostile_probe::{plugin_info, raw};
use serde::Deserialize;
use wasip2::filesystem::types::{DescriptorFlags, OpenFlags, PathFlags};

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ForgeConfig {
    #[serde(default)]
    remove: Vec<String>,
    /// `[preopen, target, link]` triples.
    #[serde(default)]
    symlinks: Vec<(String, String, String)>,
    #[serde(default)]
    dirs: Vec<String>,
    /// `[preopen, depth]`: directories `a/a/a/…` nested `depth` deep,
    /// each made relative to the one above, so no path is ever long.
    #[serde(default)]
    nest: Option<(String, usize)>,
    /// `[path, contents]` pairs.
    #[serde(default)]
    files: Vec<(String, String)>,
    #[serde(default)]
    read: Vec<String>,
    #[serde(default)]
    output: ForgedOutput,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ForgedOutput {
    /// `pass`, `fail` or `needs-review`; `pass` when absent.
    #[serde(default)]
    verdict: Option<String>,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    summary: String,
    /// `[name, media type, path]` triples.
    #[serde(default)]
    artifacts: Vec<(String, String, String)>,
    /// `[key, value]` pairs.
    #[serde(default)]
    metadata: Vec<(String, String)>,
    /// When set, `metadata` is returned this many times over, each copy's
    /// keys suffixed `.<copy>` so that they stay distinct.
    #[serde(default)]
    metadata_copies: Option<usize>,
    /// `[id, package, title]` triples, all of severity `low`.
    #[serde(default)]
    findings: Vec<(String, String, String)>,
    /// When set, adds a metadata value whose bytes are not UTF-8, which no
    /// honest plugin can build.
    #[serde(default)]
    invalid_utf8_metadata: bool,
}

struct ForgedOutputPlugin;

impl Guest for ForgedOutputPlugin {
    fn describe() -> PluginInfo {
        plugin_info("forged-output", Capabilities::none())
    }

    fn run(input: StageInput) -> Result<StageOutput, StageError> {
        let config: ForgeConfig = config::parse(&input.config)?;
        let mut read = Vec::new();
        act_on_files(&config, &mut read)?;
        Ok(forge(config.output, read))
    }
}

fn act_on_files(config: &ForgeConfig, read: &mut Vec<(String, String)>) -> Result<(), StageError> {
    let fail = |what: &str, path: &str, e: &dyn std::fmt::Display| {
        StageError::Internal(format!("failed to {what} `{path}`: {e}"))
    };
    for path in &config.remove {
        fs::remove_dir_all(path).map_err(|e| fail("remove", path, &e))?;
    }
    for (dir, target, link) in &config.symlinks {
        raw::symlink_at(dir, target, link).map_err(|e| fail("link", link, &e))?;
    }
    for path in &config.dirs {
        fs::create_dir_all(path).map_err(|e| fail("create", path, &e))?;
    }
    if let Some((dir, depth)) = &config.nest {
        nest(dir, *depth).map_err(|e| fail("nest in", dir, &e))?;
    }
    for (path, contents) in &config.files {
        fs::write(path, contents).map_err(|e| fail("write", path, &e))?;
    }
    for path in &config.read {
        let outcome = match fs::read_to_string(path) {
            Ok(text) => format!("read: {text}"),
            Err(e) => format!("refused: {e}"),
        };
        read.push((format!("read.{path}"), outcome));
    }
    Ok(())
}

fn nest(dir: &str, depth: usize) -> Result<(), String> {
    let mut parent = raw::preopen(dir)?;
    for _ in 0..depth {
        parent.create_directory_at("a").map_err(|e| e.to_string())?;
        parent = parent
            .open_at(
                PathFlags::empty(),
                "a",
                OpenFlags::DIRECTORY,
                DescriptorFlags::READ | DescriptorFlags::MUTATE_DIRECTORY,
            )
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn forge(output: ForgedOutput, read: Vec<(String, String)>) -> StageOutput {
    let mut metadata = read;
    match output.metadata_copies {
        None => metadata.extend(output.metadata),
        Some(copies) => {
            for copy in 0..copies {
                let suffixed = output
                    .metadata
                    .iter()
                    .map(|(k, v)| (format!("{k}.{copy}"), v.clone()));
                metadata.extend(suffixed);
            }
        }
    }
    if output.invalid_utf8_metadata {
        metadata.push(("broken".to_owned(), not_utf8()));
    }
    let verdict = match output.verdict.as_deref() {
        Some("fail") => Verdict::Fail(output.reason),
        Some("needs-review") => Verdict::NeedsReview(output.reason),
        _ => Verdict::Pass,
    };
    StageOutput {
        verdict,
        artifacts: output
            .artifacts
            .into_iter()
            .map(|(name, media_type, path)| Artifact {
                name,
                media_type,
                path,
            })
            .collect(),
        findings: output
            .findings
            .into_iter()
            .map(|(id, package, title)| Finding {
                id,
                severity: Severity::Low,
                package,
                title,
                fixed_in: None,
            })
            .collect(),
        metadata,
        summary: output.summary,
    }
}

/// A `String` holding bytes that are not UTF-8, for the host to refuse.
#[expect(
    unsafe_code,
    reason = "the attack is a string that breaks the type's promise"
)]
fn not_utf8() -> String {
    let bytes = vec![b'o', b'k', 0xff, 0xfe, b'"', b'}'];
    // SAFETY: not safe in general: the bytes are deliberately not UTF-8.
    // The string is never read as text here; it is only copied out to the
    // host, which must refuse it.
    unsafe { String::from_utf8_unchecked(bytes) }
}

gantry_plugin_sdk::export!(ForgedOutputPlugin);
