//! What `gantry inspect` prints: the permission audit, stage by stage, for
//! people (on stdout, within 80 columns where the values allow) or as one
//! JSON object.

use std::fmt::Write as _;

use crate::engine::{Finding, InspectReport, PluginReport, StageReport, StageReportKind, Wants};
use crate::host::{Capability, Import};
use crate::pipeline::{GrantPath, StageGrants};

use super::output::terminal_safe;

/// Where text wraps.
const WIDTH: usize = 80;
/// The width of the label column: `  findings `.
const LABEL: usize = 11;

/// Prints the report and returns the exit code: 1 when `deny_warnings` is
/// set and there is any finding, else 0.
pub fn inspect(report: &InspectReport, json: bool, deny_warnings: bool) -> anyhow::Result<i32> {
    let code = i32::from(deny_warnings && report.finding_count > 0);
    if json {
        let mut object = serde_json::to_value(report)?;
        object["exit_code"] = code.into();
        println!("{object}");
        return Ok(code);
    }
    print!("{}", terminal_safe(&human(report)));
    Ok(code)
}

/// The whole report as people read it.
pub fn human(report: &InspectReport) -> String {
    let mut out = String::new();
    header(
        &mut out,
        "pipeline",
        &format!("{} ({})", report.pipeline, report.file),
    );
    header(&mut out, "workspace", &report.workspace);
    if let Some(policy) = &report.policy {
        let ceilings = if policy.ceilings.is_empty() {
            "no grant ceilings".to_owned()
        } else {
            let kinds: Vec<&str> = policy.ceilings.keys().map(|k| k.as_str()).collect();
            format!("grant ceilings for {}", kinds.join(", "))
        };
        let text = format!("{} {}: {ceilings}", policy.id, policy.version);
        header(&mut out, "policy", &text);
    }
    for stage in &report.stages {
        out.push('\n');
        stage_section(&mut out, stage);
    }
    out.push('\n');
    out.push_str(&wrap("", "", &summary(report)));
    out
}

fn stage_section(out: &mut String, stage: &StageReport) {
    let needs = if stage.needs.is_empty() {
        String::new()
    } else {
        format!(" (needs {})", stage.needs.join(", "))
    };
    match &stage.kind {
        StageReportKind::Approval {
            role,
            min,
            forbid_self_approval,
        } => {
            let _ = writeln!(out, "stage {}{needs}: review gate", stage.id);
            let self_approval = if *forbid_self_approval {
                "forbidden"
            } else {
                "allowed"
            };
            let approvals = if *min == 1 { "approval" } else { "approvals" };
            let text = format!("{min} {approvals} by {role}; self-approval {self_approval}");
            line(out, "approval", &text);
        }
        StageReportKind::Plugin(plugin) => {
            let _ = writeln!(out, "stage {}{needs}", stage.id);
            plugin_section(out, plugin);
            findings_section(out, &stage.findings);
        }
    }
}

fn plugin_section(out: &mut String, plugin: &PluginReport) {
    let _ = writeln!(out, "  plugin   {}", plugin.plugin);
    // The hex alone, under a label naming the hash, fits 80 columns.
    let hex = plugin.digest.strip_prefix("sha256:");
    match hex {
        Some(hex) => line(out, "sha256", hex),
        None => line(out, "digest", &plugin.digest),
    }
    let signer = match (&plugin.signer, &plugin.untrusted) {
        (_, Some(reason)) => format!("UNTRUSTED: {reason}"),
        (Some(voucher), None) => voucher.to_string(),
        (None, None) => "not checked (the policy has no `[trust]`)".to_owned(),
    };
    line(out, "signer", &signer);
    if let Some(kind) = plugin.kind {
        line(out, "kind", kind.as_str());
    }
    let says = match (&plugin.describe, &plugin.describe_error) {
        (Some(d), _) => format!("{} {} (kind {})", d.name, d.version, d.kind),
        (None, Some(error)) => format!("nothing: describe failed ({error})"),
        (None, None) => "nothing".to_owned(),
    };
    line(out, "says", &says);
    line(out, "imports", &imports_text(&plugin.imports));
    if plugin
        .imports
        .iter()
        .any(|i| i.capability == Capability::Sign)
    {
        let signing = match plugin.may_sign {
            true => "allowed (kind ato): the host signs with the pipeline key",
            false => "refused: only stages of kind `ato` may sign",
        };
        line(out, "signing", signing);
    }
    match &plugin.describe {
        Some(d) => list_lines(out, "wants", wants_lines(&d.wants)),
        None => line(out, "wants", "unknown"),
    }
    for (i, text) in grant_lines(&plugin.grants).iter().enumerate() {
        let label = if i == 0 { "grants" } else { "" };
        let _ = writeln!(out, "  {label:<width$}{text}", width = LABEL - 2);
    }
    let limits = &plugin.limits;
    let lines = [
        format!(
            "memory {}, timeout {}, cpu {}",
            bytesize::ByteSize(limits.memory),
            humantime::format_duration(limits.timeout),
            humantime::format_duration(limits.cpu)
        ),
        format!(
            "output {}, out-bytes {}, handles {}",
            bytesize::ByteSize(limits.output),
            bytesize::ByteSize(limits.out_bytes),
            limits.handles
        ),
        format!(
            "log-lines {}, log-rate {}/s",
            limits.log_lines, limits.log_rate
        ),
    ];
    list_lines(out, "limits", lines.to_vec());
    if let Some(confinement) = &plugin.exec_confinement {
        line(out, "programs", &confinement.summary);
    }
}

/// The capabilities a component imports, for people: `files, exec, log`.
/// Interfaces that give no access are left out; unknown ones are named.
fn imports_text(imports: &[Import]) -> String {
    let mut shown: Vec<String> = Vec::new();
    for import in imports {
        let item = match import.capability {
            Capability::Support => continue,
            Capability::Other => format!("`{}`", import.interface),
            Capability::Sockets => "sockets (every use refused by the host)".to_owned(),
            capability => capability.as_str().to_owned(),
        };
        if !shown.contains(&item) {
            shown.push(item);
        }
    }
    if shown.is_empty() {
        return "nothing that gives access".to_owned();
    }
    shown.join(", ")
}

fn wants_lines(wants: &Wants) -> Vec<String> {
    let keys = [
        ("read", &wants.read),
        ("write", &wants.write),
        ("exec", &wants.exec),
        ("env", &wants.env),
        ("net", &wants.net),
    ];
    keys.iter()
        .filter(|(_, items)| !items.is_empty())
        .map(|(key, items)| format!("{key:<6}{}", items.join(", ")))
        .collect()
}

/// One line per granted directory or program, so that host paths (which
/// vary in length) never move where anything else wraps; the keys granted
/// nothing are named on one last line.
fn grant_lines(grants: &StageGrants) -> Vec<String> {
    let mut lines = Vec::new();
    let mut none = Vec::new();
    let mut group = |key: &'static str, entries: Vec<String>| {
        if entries.is_empty() {
            none.push(key);
        }
        for (i, entry) in entries.into_iter().enumerate() {
            let key = if i == 0 { key } else { "" };
            lines.push(format!("{key:<11}{entry}"));
        }
    };
    group("read", grants.read.iter().map(dir_entry).collect());
    group("write", grants.write.iter().map(dir_entry).collect());
    let programs = grants.exec.iter();
    group(
        "exec",
        programs
            .map(|p| format!("{}: {}", p.name, p.resolved.display()))
            .collect(),
    );
    let host_dirs = |dirs: &[std::path::PathBuf]| -> Vec<String> {
        dirs.iter().map(|d| d.display().to_string()).collect()
    };
    if !grants.exec.is_empty() || !grants.exec_read.is_empty() || !grants.exec_write.is_empty() {
        group("exec-read", host_dirs(&grants.exec_read));
        group("exec-write", host_dirs(&grants.exec_write));
    }
    group("env", joined(grants.env.iter()));
    group("net", joined(grants.net.iter()));
    if lines.is_empty() {
        return vec!["nothing".to_owned()];
    }
    if !none.is_empty() {
        lines.push(format!("none of {}", none.join(", ")));
    }
    lines
}

/// `mount:osv at /mnt/osv: /srv/osv`.
fn dir_entry(grant: &GrantPath) -> String {
    let host = grant.host_path().map_or_else(
        || "the state directory's registry".to_owned(),
        |p| p.display().to_string(),
    );
    format!("{} at {}: {host}", grant.as_written(), grant.guest_path())
}

/// The items on one line, or no line at all when there are none.
fn joined<T: ToString>(items: impl Iterator<Item = T>) -> Vec<String> {
    let items: Vec<String> = items.map(|i| i.to_string()).collect();
    if items.is_empty() {
        Vec::new()
    } else {
        vec![items.join(", ")]
    }
}

fn findings_section(out: &mut String, findings: &[Finding]) {
    if findings.is_empty() {
        line(out, "findings", "none");
        return;
    }
    for finding in findings {
        let key = finding.key.map(|k| format!(" ({k})")).unwrap_or_default();
        let label = finding.severity.as_str();
        line(out, label, &format!("{}{key}", finding.code.as_str()));
        let indent = " ".repeat(LABEL);
        out.push_str(&wrap(&indent, &indent, &finding.message));
        if let Some(hint) = &finding.hint {
            out.push_str(&wrap(&format!("{indent}hint: "), &indent, hint));
        }
    }
}

fn summary(report: &InspectReport) -> String {
    let count = report.finding_count;
    if count == 0 {
        return "no findings".to_owned();
    }
    let mut stages: Vec<&str> = report.findings().map(|f| f.stage.as_str()).collect();
    stages.dedup();
    let findings = if count == 1 { "finding" } else { "findings" };
    let in_stages = if stages.len() == 1 { "stage" } else { "stages" };
    format!(
        "{count} {findings} in {} {in_stages} ({}); `--deny-warnings` makes any finding exit 1",
        stages.len(),
        stages.join(", ")
    )
}

/// `label     text` at the top of the report.
fn header(out: &mut String, label: &str, text: &str) {
    let first = format!("{label:<width$}", width = LABEL - 1);
    out.push_str(&wrap(&first, &" ".repeat(LABEL - 1), text));
}

/// `  label    text`, the text wrapped under itself.
fn line(out: &mut String, label: &str, text: &str) {
    let first = format!("  {label:<width$}", width = LABEL - 2);
    out.push_str(&wrap(&first, &" ".repeat(LABEL), text));
}

/// A label followed by lines of its own, each wrapped under itself.
fn list_lines(out: &mut String, label: &str, lines: Vec<String>) {
    for (i, text) in lines.iter().enumerate() {
        line(out, if i == 0 { label } else { "" }, text);
    }
}

/// Word-wraps `text` at [`WIDTH`] columns: the first line starts with
/// `first`, the others with `rest`. A word longer than a line stays whole.
fn wrap(first: &str, rest: &str, text: &str) -> String {
    let mut out = String::new();
    let mut current = first.to_owned();
    let mut empty = true;
    for word in text.split(' ') {
        let fits = current.chars().count() + 1 + word.chars().count() <= WIDTH;
        if !empty && !fits {
            out.push_str(current.trim_end());
            out.push('\n');
            current = rest.to_owned();
            empty = true;
        }
        if !empty {
            current.push(' ');
        }
        current.push_str(word);
        empty = false;
    }
    out.push_str(current.trim_end());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_text_stays_within_eighty_columns_and_keeps_every_word() {
        let text = "the plugin wants to read `/mnt/secrets`, which no grant covers: reads there \
                    will be refused and the stage will fail at that call";
        let wrapped = wrap("  warning  ", "           ", text);
        assert!(wrapped.lines().count() > 1, "{wrapped}");
        for line in wrapped.lines() {
            assert!(line.chars().count() <= WIDTH, "{line}");
        }
        let words: Vec<&str> = wrapped.split_whitespace().skip(1).collect();
        assert_eq!(words.join(" "), text);
    }

    #[test]
    fn imports_are_named_by_capability_once_and_unknown_ones_in_full() {
        let imports = [
            Import::new("wasi:filesystem/preopens@0.2.6"),
            Import::new("wasi:filesystem/types@0.2.6"),
            Import::new("wasi:io/streams@0.2.6"),
            Import::new("wasi:sockets/tcp@0.2.6"),
            Import::new("acme:secrets/vault@1.0.0"),
        ];
        assert_eq!(
            imports_text(&imports),
            "files, sockets (every use refused by the host), `acme:secrets/vault@1.0.0`"
        );
    }
}
