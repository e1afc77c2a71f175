//! From a stage's pipeline grants to the plain [`Sandbox`] the host applies,
//! and from a plugin's returned output to checked, hashed records.
//!
//! Everything a plugin returns is treated as hostile: artifact paths must
//! stay inside its `/out`, names must be printable and short, and the whole
//! output directory must hash (no symlinks or special files in it).

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

use crate::grants::net::Destination;
use crate::grants::{Access, Preopen, Program, Sandbox};
use crate::host::bindings::types::{Artifact, Finding, Severity, StageOutput};
use crate::pipeline::{
    GrantPath, NetGrant, PipelineSpec, PluginStage, StageSpec, escape_deceptive, is_deceptive_char,
};
use crate::store;

use super::record::{ArtifactRecord, FindingRecord};

/// The longest artifact name, media type, finding field or metadata key.
const MAX_NAME: usize = 256;
/// The longest metadata value or finding title.
const MAX_TEXT: usize = 8 * 1024;
/// The most findings, artifacts or metadata entries one stage may return.
const MAX_ENTRIES: usize = 100_000;
/// The longest artifact path, in bytes.
const MAX_PATH: usize = 4096;

/// Where a stage's directories are on the host.
pub(super) struct StageDirs {
    /// The stage's own `out/`.
    pub out: PathBuf,
    /// `stages/<id>/out` of every upstream stage, by id.
    pub upstream: Vec<(String, PathBuf)>,
    /// The embedded registry, for the built-in `registry` mount.
    pub registry: PathBuf,
    /// The stage's fresh, empty temporary directory for the programs it
    /// runs (their `TMPDIR`).
    pub tmp: PathBuf,
}

/// Builds the sandbox of one plugin stage: its grants, its upstream
/// outputs read-only at `/in/<stage>`, and its own `/out`.
pub(super) fn sandbox_for(spec: &PipelineSpec, stage: &PluginStage, dirs: &StageDirs) -> Sandbox {
    let mut preopens = Vec::new();
    for grant in &stage.grants.write {
        preopens.push(preopen(grant, Access::ReadWrite, &dirs.registry));
    }
    for grant in &stage.grants.read {
        let guest = grant.guest_path();
        // A directory granted both ways is preopened once, writable.
        if !preopens.iter().any(|p: &Preopen| p.guest == guest) {
            preopens.push(preopen(grant, Access::ReadOnly, &dirs.registry));
        }
    }
    for (id, host) in &dirs.upstream {
        preopens.push(Preopen {
            host: host.clone(),
            guest: format!("/in/{id}"),
            access: Access::ReadOnly,
        });
    }
    preopens.push(Preopen {
        host: dirs.out.clone(),
        guest: "/out".into(),
        access: Access::ReadWrite,
    });
    let (exec_read, exec_write) = exec_dirs(spec, stage, &preopens);
    Sandbox {
        preopens,
        env: stage.grants.env.clone(),
        exec: stage
            .grants
            .exec
            .iter()
            .map(|g| Program {
                name: g.name.clone(),
                path: g.resolved.clone(),
            })
            .collect(),
        workdir: spec.workspace.clone(),
        commands: config_commands(&stage.config),
        exec_read,
        exec_write,
        exec_tmp: Some(dirs.tmp.clone()),
        net: stage
            .grants
            .net
            .iter()
            .filter_map(net_destination)
            .collect(),
    }
}

/// The destination a `net` grant names. Pipeline validation refuses a
/// grant the URL parser would read as another host; should one get here,
/// it is left out, so it grants nothing.
fn net_destination(grant: &NetGrant) -> Option<Destination> {
    Destination::from_grant(&grant.scheme, &grant.host, grant.port)
        .inspect_err(|e| tracing::warn!(%grant, "`net` grant left out: {e}"))
        .ok()
}

/// What programs the stage runs may read and write on the host: its
/// workspace and mount grants (not its `/in` or `/out`, which are the
/// plugin's), its `exec-read` and `exec-write`, and the policy's system
/// directories.
fn exec_dirs(
    spec: &PipelineSpec,
    stage: &PluginStage,
    preopens: &[Preopen],
) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let granted = |access| {
        preopens
            .iter()
            .filter(move |p| {
                p.access == access && !p.guest.starts_with("/in/") && p.guest != "/out"
            })
            .map(|p| p.host.clone())
    };
    let system = match spec.policy.as_ref() {
        Some(policy) => policy.rules.exec.read.clone(),
        None => crate::pipeline::ExecRules::default().read,
    };
    let mut read: Vec<PathBuf> = granted(Access::ReadOnly).collect();
    read.extend(stage.grants.exec_read.iter().cloned());
    read.extend(system);
    let mut write: Vec<PathBuf> = granted(Access::ReadWrite).collect();
    write.extend(stage.grants.exec_write.iter().cloned());
    (read, write)
}

/// The commands a stage's plugin may run: every array of strings under a
/// key named `command`, and every such array in a list under `commands`,
/// at any depth of the stage's config. The standard build and test
/// plugins pass their `command` exactly as written. Other arrays of
/// strings (file lists, names) are not commands.
pub(super) fn config_commands(config: &serde_json::Value) -> Vec<Vec<String>> {
    fn strings(value: &serde_json::Value) -> Option<Vec<String>> {
        let items = value.as_array()?;
        let command: Option<Vec<String>> = items
            .iter()
            .map(|i| i.as_str().map(str::to_owned))
            .collect();
        command.filter(|c| !c.is_empty())
    }
    let mut commands = Vec::new();
    let mut pending = vec![config];
    while let Some(value) = pending.pop() {
        match value {
            serde_json::Value::Object(map) => {
                for (key, value) in map {
                    match key.as_str() {
                        "command" => commands.extend(strings(value)),
                        "commands" => {
                            let listed = value.as_array().into_iter().flatten();
                            commands.extend(listed.filter_map(strings));
                        }
                        _ => pending.push(value),
                    }
                }
            }
            serde_json::Value::Array(items) => pending.extend(items),
            _ => {}
        }
    }
    commands
}

fn preopen(grant: &GrantPath, access: Access, registry: &Path) -> Preopen {
    let host = match grant {
        GrantPath::Workspace { host, .. } => host.clone(),
        GrantPath::Mount {
            host: Some(host), ..
        } => host.clone(),
        GrantPath::Mount { host: None, .. } => registry.to_owned(),
    };
    Preopen {
        host,
        guest: grant.guest_path(),
        access,
    }
}

/// The ids of the plugin stages `stage` depends on, directly or not.
pub(super) fn upstream_plugin_stages<'a>(
    spec: &'a PipelineSpec,
    stage: &StageSpec,
) -> Vec<&'a StageSpec> {
    spec.upstream(&stage.id)
        .into_iter()
        .filter_map(|id| spec.stage(id.as_str()))
        .filter(|s| matches!(s.kind, crate::pipeline::StageKind::Plugin(_)))
        .collect()
}

/// Checks what a plugin returned and hashes its artifacts.
///
/// # Errors
///
/// A message saying what is malformed; the stage is then a plugin fault.
pub(super) fn check_output(
    out_dir: &Path,
    output: &StageOutput,
) -> Result<(Vec<ArtifactRecord>, String), String> {
    if output.artifacts.len() > MAX_ENTRIES || output.findings.len() > MAX_ENTRIES {
        return Err(format!("more than {MAX_ENTRIES} artifacts or findings"));
    }
    // The total size of the text was checked against the stage's `output`
    // limit by the host, as the stage ended.
    // Downstream stages and reviewers find artifacts by name, and the run
    // record keeps metadata by key: a repeat would be silently shadowed.
    let names = output.artifacts.iter().map(|a| a.name.as_str());
    check_unique("artifact name", names)?;
    check_unique(
        "metadata key",
        output.metadata.iter().map(|(k, _)| k.as_str()),
    )?;
    check_metadata(&output.metadata)?;
    for finding in &output.findings {
        check_finding(finding)?;
    }
    check_out_entries(out_dir, Path::new(""))?;
    let output_digest =
        store::sha256_dir(out_dir).map_err(|e| format!("its output directory is unusable: {e}"))?;
    let artifacts = output
        .artifacts
        .iter()
        .map(|a| check_artifact(out_dir, a))
        .collect::<Result<_, _>>()?;
    Ok((artifacts, output_digest))
}

fn check_artifact(out_dir: &Path, artifact: &Artifact) -> Result<ArtifactRecord, String> {
    check_name("artifact name", &artifact.name, MAX_NAME)?;
    check_name("media type", &artifact.media_type, MAX_NAME)?;
    let relative = Path::new(&artifact.path);
    let plain = relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    if artifact.path.is_empty() || !plain {
        return Err(format!(
            "artifact `{}` has path `{}`, which is not a plain path inside `/out`",
            artifact.name, artifact.path
        ));
    }
    check_name("artifact path", &artifact.path, MAX_PATH)?;
    let host = out_dir.join(relative);
    // `sha256_dir` above refused any symlink under `out/`, so a path made of
    // normal components cannot leave it; it must exist, though.
    let digest = store::sha256_path(&host).map_err(|e| {
        format!(
            "artifact `{}` at `/out/{}` cannot be read: {e}",
            artifact.name, artifact.path
        )
    })?;
    Ok(ArtifactRecord {
        name: artifact.name.clone(),
        media_type: artifact.media_type.clone(),
        path: artifact.path.clone(),
        digest,
    })
}

fn check_metadata(metadata: &[(String, String)]) -> Result<(), String> {
    if metadata.len() > MAX_ENTRIES {
        return Err(format!("more than {MAX_ENTRIES} metadata entries"));
    }
    for (key, value) in metadata {
        check_name("metadata key", key, MAX_NAME)?;
        if value.len() > MAX_TEXT {
            return Err(format!("metadata `{key}` is longer than {MAX_TEXT} bytes"));
        }
    }
    Ok(())
}

fn check_finding(finding: &Finding) -> Result<(), String> {
    check_name("finding id", &finding.id, MAX_NAME)?;
    if finding.package.len() > MAX_NAME || finding.title.len() > MAX_TEXT {
        return Err(format!("finding `{}` has oversized fields", finding.id));
    }
    Ok(())
}

fn check_name(what: &str, value: &str, max: usize) -> Result<(), String> {
    if value.is_empty() || value.len() > max || value.chars().any(is_deceptive_char) {
        let shown: String = value.chars().take(40).collect();
        return Err(format!(
            "{what} {shown:?} is empty, longer than {max} bytes, or has control characters \
             or invisible formatting ones"
        ));
    }
    Ok(())
}

/// Refuses the first value seen twice.
fn check_unique<'a>(what: &str, values: impl Iterator<Item = &'a str>) -> Result<(), String> {
    let mut seen = HashSet::new();
    for value in values {
        if !seen.insert(value) {
            let shown: String = value.chars().take(40).collect();
            return Err(format!("{what} {shown:?} appears more than once"));
        }
    }
    Ok(())
}

/// Refuses an entry under `dir` whose name is not printable text, or a
/// file with more than one link.
///
/// The directory's digest lists one name per line, so a name with a line
/// break could pass for two entries. A hard link shares its contents with
/// a file elsewhere: the host would record a digest that a write to the
/// other name changes afterwards, and downstream stages would read it as
/// this stage's output. The sandbox refuses to make such links (see
/// `host::fs`); this check holds even if one got there another way.
/// Symlinks are not followed; `sha256_dir` refuses them after this.
fn check_out_entries(dir: &Path, relative: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;

    let unusable = |e: std::io::Error| format!("its output directory is unusable: {e}");
    for entry in std::fs::read_dir(dir).map_err(unusable)? {
        let entry = entry.map_err(unusable)?;
        let meta = entry.metadata().map_err(unusable)?;
        let name = relative.join(entry.file_name());
        // The directory's digest lists one name per line: a name holding a
        // line break could pass for two entries.
        let shown = name.to_string_lossy();
        if entry.file_name().to_str().is_none() || shown.chars().any(is_deceptive_char) {
            return Err(format!(
                "`/out/{}` has a name with control or invisible characters, or not UTF-8",
                escape_deceptive(&shown, false)
            ));
        }
        if meta.is_dir() {
            check_out_entries(&entry.path(), &name)?;
        } else if meta.nlink() > 1 {
            return Err(format!(
                "`/out/{}` is a hard link shared with another file ({} links)",
                escape_deceptive(&name.to_string_lossy(), false),
                meta.nlink()
            ));
        }
    }
    Ok(())
}

/// The record of a finding, with its severity as a word.
pub(super) fn finding_record(finding: &Finding) -> FindingRecord {
    FindingRecord {
        id: finding.id.clone(),
        severity: severity_name(finding.severity).to_owned(),
        package: printable(&finding.package),
        title: printable(&finding.title),
        fixed_in: finding.fixed_in.as_deref().map(printable),
    }
}

/// Plugin text made safe to print: control characters (terminal escapes,
/// line breaks that would forge log lines) and invisible reordering ones
/// are shown escaped, and the text is cut at [`MAX_TEXT`] bytes.
pub(super) fn printable(text: &str) -> String {
    let mut cut = text.len().min(MAX_TEXT);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut shown = escape_deceptive(&text[..cut], false);
    if cut < text.len() {
        shown.push('…');
    }
    shown
}

pub(super) fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Unknown => "unknown",
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
    }
}

/// One summary line: the first line of `text`, at most 200 characters.
pub(super) fn one_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    let shown = line.chars().filter(|&c| !is_deceptive_char(c));
    let mut line: String = shown.take(200).collect();
    if text.lines().count() > 1 || text.chars().count() > 200 {
        line.push('…');
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::bindings::types::Verdict;

    fn output_with(artifacts: Vec<Artifact>) -> StageOutput {
        StageOutput {
            verdict: Verdict::Pass,
            artifacts,
            findings: Vec::new(),
            metadata: Vec::new(),
            summary: String::new(),
        }
    }

    fn artifact(path: &str) -> Artifact {
        Artifact {
            name: "a".into(),
            media_type: "text/plain".into(),
            path: path.into(),
        }
    }

    #[test]
    fn a_name_in_out_that_could_pass_for_two_entries_is_refused() {
        let out = tempfile::tempdir().unwrap();
        let forged = format!("a\n{}  b", "0".repeat(64));
        std::fs::write(out.path().join(&forged), b"x").unwrap();
        let err = check_output(out.path(), &output_with(Vec::new())).unwrap_err();
        assert!(err.contains("control or invisible characters"), "{err}");
        assert!(err.contains("a\\n"), "{err}");
    }

    #[test]
    fn a_file_in_out_with_a_second_name_is_refused() {
        let out = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir(out.path().join("dir")).unwrap();
        std::fs::write(outside.path().join("secret"), b"s").unwrap();
        let linked = out.path().join("dir/linked");
        std::fs::hard_link(outside.path().join("secret"), &linked).unwrap();
        let err = check_output(out.path(), &output_with(Vec::new())).unwrap_err();
        assert_eq!(
            err,
            "`/out/dir/linked` is a hard link shared with another file (2 links)"
        );
        // Once the other name is gone, the file is the stage's own.
        std::fs::remove_file(outside.path().join("secret")).unwrap();
        assert!(check_output(out.path(), &output_with(Vec::new())).is_ok());
    }

    #[test]
    fn metadata_that_looks_like_json_stays_a_string_in_the_record() {
        let out = tempfile::tempdir().unwrap();
        let forged = r#"x","status":"passed","metadata":{"a":"b"}}"#;
        let mut output = output_with(Vec::new());
        output.metadata = vec![
            ("forged".into(), forged.into()),
            ("nul".into(), "a\0b\u{1b}[2J".into()),
        ];
        check_output(out.path(), &output).unwrap();

        let mut record = super::super::record::StageRecord::pending("s", "p".into(), None);
        record.metadata = output.metadata.into_iter().collect();
        let text = serde_json::to_string(&record).unwrap();
        let back: super::super::record::StageRecord = serde_json::from_str(&text).unwrap();
        assert_eq!(back.metadata, record.metadata);
        assert_eq!(back.status, record.status);
        assert_eq!(back.metadata["forged"], forged);
    }

    #[test]
    fn gigantic_names_and_values_are_refused_naming_what() {
        let out = tempfile::tempdir().unwrap();
        let mut output = output_with(Vec::new());
        output.metadata = vec![("k".repeat(MAX_NAME + 1), "v".into())];
        let err = check_output(out.path(), &output).unwrap_err();
        assert!(err.starts_with("metadata key \"kkk"), "{err}");
        output.metadata = vec![("k".into(), "v".repeat(MAX_TEXT + 1))];
        let err = check_output(out.path(), &output).unwrap_err();
        assert_eq!(err, format!("metadata `k` is longer than {MAX_TEXT} bytes"));

        let finding = |id: &str, title: String| Finding {
            id: id.into(),
            severity: Severity::Unknown,
            package: "p".into(),
            title,
            fixed_in: None,
        };
        output.metadata.clear();
        output.findings = vec![finding("F-1", "t".repeat(MAX_TEXT + 1))];
        let err = check_output(out.path(), &output).unwrap_err();
        assert_eq!(err, "finding `F-1` has oversized fields");
        output.findings = vec![finding("F\n2", "t".into())];
        let err = check_output(out.path(), &output).unwrap_err();
        assert!(err.contains("control characters"), "{err}");
    }

    #[test]
    fn a_finding_of_unknown_severity_is_kept_as_unknown() {
        // The WIT's `severity` is an enum: a value outside it traps as the
        // output is read, and `unknown` is one of its cases.
        let finding = Finding {
            id: "F-1".into(),
            severity: Severity::Unknown,
            package: "p".into(),
            title: "t".into(),
            fixed_in: None,
        };
        assert_eq!(finding_record(&finding).severity, "unknown");
    }

    #[test]
    fn commands_are_the_arrays_under_command_and_commands() {
        let config = serde_json::json!({
            "command": ["cargo", "build"],
            "files": [{ "src": "a", "args": ["x", "y"] }],
            "tools": ["cargo", "publish"],
            "run": [{ "command": ["sh", "-c", "true"] }, { "command": ["sh", 1] }],
            "commands": [["make", "all"], "loose", []],
            "empty": [],
            "name": "cargo",
        });
        let mut commands = config_commands(&config);
        commands.sort();
        assert_eq!(
            commands,
            [
                vec!["cargo", "build"],
                vec!["make", "all"],
                vec!["sh", "-c", "true"]
            ]
        );
    }

    #[test]
    fn artifacts_are_hashed_inside_out() {
        let out = tempfile::tempdir().unwrap();
        std::fs::write(out.path().join("report.json"), b"{}").unwrap();
        let (records, _) =
            check_output(out.path(), &output_with(vec![artifact("report.json")])).unwrap();
        assert_eq!(records[0].digest, store::sha256_bytes(b"{}"));
    }

    #[test]
    fn artifact_paths_that_climb_out_are_refused() {
        let out = tempfile::tempdir().unwrap();
        for path in ["../etc/passwd", "/etc/passwd", "", "a/../../b"] {
            let err = check_output(out.path(), &output_with(vec![artifact(path)])).unwrap_err();
            assert!(err.contains("not a plain path"), "{path}: {err}");
        }
    }

    #[test]
    fn a_symlink_in_out_is_refused() {
        let out = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc/passwd", out.path().join("leak")).unwrap();
        let err = check_output(out.path(), &output_with(vec![artifact("leak")])).unwrap_err();
        assert!(err.contains("output directory is unusable"), "{err}");
    }

    #[test]
    fn missing_artifacts_and_control_characters_are_refused() {
        let out = tempfile::tempdir().unwrap();
        let err = check_output(out.path(), &output_with(vec![artifact("nope")])).unwrap_err();
        assert!(err.contains("cannot be read"), "{err}");
        let mut bad = artifact("x");
        bad.name = "evil\x1b[2J".into();
        std::fs::write(out.path().join("x"), b"").unwrap();
        let err = check_output(out.path(), &output_with(vec![bad])).unwrap_err();
        assert!(err.contains("control characters"), "{err}");
    }

    #[test]
    fn repeated_artifact_names_and_metadata_keys_are_refused() {
        let out = tempfile::tempdir().unwrap();
        std::fs::write(out.path().join("a"), b"1").unwrap();
        std::fs::write(out.path().join("b"), b"2").unwrap();
        let mut first = artifact("a");
        first.name = "summary".into();
        let mut second = artifact("b");
        second.name = "summary".into();
        let err = check_output(out.path(), &output_with(vec![first, second])).unwrap_err();
        assert_eq!(err, "artifact name \"summary\" appears more than once");

        let mut output = output_with(Vec::new());
        output.metadata = vec![("image".into(), "a".into()), ("image".into(), "b".into())];
        let err = check_output(out.path(), &output).unwrap_err();
        assert_eq!(err, "metadata key \"image\" appears more than once");
    }

    #[test]
    fn names_and_paths_that_disguise_themselves_are_refused() {
        let out = tempfile::tempdir().unwrap();
        let reversed = "report\u{202e}nosj.exe";
        let mut bad = artifact("x");
        bad.name = reversed.into();
        std::fs::write(out.path().join("x"), b"").unwrap();
        let err = check_output(out.path(), &output_with(vec![bad])).unwrap_err();
        assert!(err.starts_with("artifact name"), "{err}");
        let err = check_output(out.path(), &output_with(vec![artifact(reversed)])).unwrap_err();
        assert!(err.starts_with("artifact path"), "{err}");
        assert!(err.contains("invisible formatting ones"), "{err}");
        // A file so named under `/out` is refused whether declared or not.
        std::fs::write(out.path().join(reversed), b"").unwrap();
        let err = check_output(out.path(), &output_with(Vec::new())).unwrap_err();
        assert!(err.contains("control or invisible characters"), "{err}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(64)
        ))]

        /// Whatever path a plugin declares, an accepted artifact is a file
        /// inside `out/`, and nothing panics.
        #[test]
        fn no_declared_path_leaves_out(
            path in "(\\.\\.|\\.|/|a|b|c|secret|out|[a-z]{1,3}|\\x00|\\\\|\\x{202e}|%2e| ){0,8}",
            name in "\\PC{0,12}",
            size in 0usize..64,
        ) {
            let root = tempfile::tempdir().unwrap();
            let out = root.path().join("out");
            std::fs::create_dir_all(out.join("a/b")).unwrap();
            std::fs::write(out.join("a/b/c"), vec![b'x'; size]).unwrap();
            std::fs::write(root.path().join("secret"), b"outside").unwrap();
            let declared = Artifact {
                name: if name.is_empty() { "n".into() } else { name },
                media_type: "text/plain".into(),
                path,
            };
            if let Ok((records, _)) = check_output(&out, &output_with(vec![declared])) {
                let host = std::fs::canonicalize(out.join(&records[0].path)).unwrap();
                let out = std::fs::canonicalize(&out).unwrap();
                proptest::prop_assert!(host.starts_with(&out), "{} left out/", host.display());
                proptest::prop_assert!(!records[0].path.split('/').any(|c| c == ".."));
            }
        }
    }

    #[test]
    fn printable_escapes_control_characters_and_cuts() {
        assert_eq!(printable("fine"), "fine");
        assert_eq!(
            printable("a\x1b[2J\nWARN forged"),
            "a\\u{1b}[2J\\nWARN forged"
        );
        assert!(printable(&"x".repeat(MAX_TEXT * 2)).len() <= MAX_TEXT + '…'.len_utf8());
        assert_eq!(printable("ok\u{202e}lave"), "ok\\u{202e}lave");
        assert_eq!(one_line("ok\u{202e}lave"), "oklave");
    }

    #[test]
    fn one_line_cuts_long_and_multiline_text() {
        assert_eq!(one_line("ok"), "ok");
        assert_eq!(one_line("first\nsecond"), "first…");
    }
}
