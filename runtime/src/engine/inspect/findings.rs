//! The rules of the permission audit: each compares what a stage is
//! granted with what its plugin imports, what it says it wants, what the
//! policy allows its kind, and what the other stages read.
//!
//! Every rule is a plain function from the stage's facts to findings, so
//! each is tested here without a plugin. A new rule (an unsigned plugin, a
//! program the kernel cannot confine) is one more function called from
//! [`stage_findings`] or [`pipeline_findings`], and one more [`FindingCode`].

use serde::Serialize;

use crate::host::{Capability, Import};
use crate::pipeline::{GrantPath, NetGrant, PluginKind, Policy, StageGrants, StageLimits};

use super::Wants;

/// What a finding is about; the codes are stable, for CI rules and
/// suppressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingCode {
    /// A grant the plugin cannot use: it does not import the interface.
    GrantNotImported,
    /// Something the plugin says it wants that the stage is not granted:
    /// the call will be refused.
    WantNotGranted,
    /// A grant or limit beyond the policy's ceiling for the stage's kind.
    BeyondCeiling,
    /// A write grant that overlaps another stage's read grant.
    WriteOverlapsRead,
    /// `describe` failed, so the plugin's wants are unknown.
    DescribeFailed,
    /// The policy's `[trust]` refuses the plugin: the run will not start.
    Untrusted,
    /// The kernel cannot confine the programs the stage may run.
    ExecUnconfined,
    /// The plugin imports `sign`, but its stage is not of kind `ato`: the
    /// host will refuse every request.
    SignNotAllowed,
}

impl FindingCode {
    /// The code as reports print it: `grant-not-imported`.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingCode::GrantNotImported => "grant-not-imported",
            FindingCode::WantNotGranted => "want-not-granted",
            FindingCode::BeyondCeiling => "beyond-ceiling",
            FindingCode::WriteOverlapsRead => "write-overlaps-read",
            FindingCode::DescribeFailed => "describe-failed",
            FindingCode::Untrusted => "untrusted",
            FindingCode::ExecUnconfined => "exec-unconfined",
            FindingCode::SignNotAllowed => "sign-not-allowed",
        }
    }
}

/// How much a finding matters. `--deny-warnings` makes any finding fail
/// a CI job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Worth a look; the run goes ahead.
    Warning,
    /// `gantry run` refuses the pipeline before any stage runs.
    Error,
}

impl Severity {
    /// The severity as reports print it.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One thing the audit found about a stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub code: FindingCode,
    pub severity: Severity,
    /// The stage the finding is about.
    pub stage: String,
    /// The grant or limit key concerned (`read`, `exec`, `memory`, …), if
    /// one is.
    pub key: Option<&'static str>,
    /// Another stage the finding names, e.g. the reader of an overlapping
    /// write grant.
    pub other_stage: Option<String>,
    /// What and why, in one line.
    pub message: String,
    /// What the user can do about it.
    pub hint: Option<String>,
}

impl Finding {
    fn new(code: FindingCode, stage: &str, key: Option<&'static str>, message: String) -> Self {
        Finding {
            code,
            severity: Severity::Warning,
            stage: stage.to_owned(),
            key,
            other_stage: None,
            message,
            hint: None,
        }
    }

    fn blocking(mut self) -> Self {
        self.severity = Severity::Error;
        self
    }

    fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// The facts about one plugin stage that the rules look at.
pub(super) struct StageFacts<'a> {
    pub id: &'a str,
    /// The ids of every stage this one depends on, directly or not: their
    /// outputs are at `/in/<id>`.
    pub upstream: Vec<String>,
    pub imports: &'a [Import],
    /// What `describe` said; `None` when it failed.
    pub wants: Option<&'a Wants>,
    /// The stage's kind, for the policy's ceilings, when known.
    pub kind: Option<PluginKind>,
    pub grants: &'a StageGrants,
    pub limits: &'a StageLimits,
}

/// Every finding about one stage on its own, in rule order.
pub(super) fn stage_findings(stage: &StageFacts<'_>, policy: Option<&Policy>) -> Vec<Finding> {
    let mut findings = grants_not_imported(stage);
    findings.extend(wants_not_granted(stage));
    findings.extend(sign_not_allowed(stage));
    if let Some(policy) = policy {
        findings.extend(beyond_ceiling(stage, policy));
    }
    findings
}

/// Findings that need every stage at once.
pub(super) fn pipeline_findings(stages: &[StageFacts<'_>]) -> Vec<Finding> {
    writes_overlapping_reads(stages)
}

/// `describe` failed: the plugin's wants cannot be compared with its grants.
pub(super) fn describe_failed(stage: &str, fault: &str) -> Finding {
    let message =
        format!("`describe` failed ({fault}), so what the plugin wants is unknown and unchecked");
    Finding::new(FindingCode::DescribeFailed, stage, None, message).hint(
        "a plugin that cannot describe itself cannot be audited; check it is the plugin you meant",
    )
}

/// The policy's `[trust]` refuses the plugin; `gantry run` will refuse
/// the pipeline.
pub(super) fn untrusted(stage: &str, reason: &str) -> Finding {
    let message = format!("the policy's `[trust]` refuses the plugin: {reason}");
    Finding::new(FindingCode::Untrusted, stage, None, message)
        .blocking()
        .hint("sign the plugin with a key the policy trusts for its kind, or use another plugin")
}

/// The kernel cannot confine the programs the stage may run.
pub(super) fn exec_unconfined(stage: &str, summary: &str, required: bool) -> Finding {
    let message = format!(
        "{summary}: programs the stage runs would have the host user's full rights{}",
        if required {
            "; the policy requires confinement, so the run will be refused"
        } else {
            ""
        }
    );
    let finding = Finding::new(FindingCode::ExecUnconfined, stage, Some("exec"), message)
        .hint("run on Linux with Landlock, unprivileged user namespaces and seccomp enabled");
    if required {
        finding.blocking()
    } else {
        finding
    }
}

fn imports(stage: &StageFacts<'_>, capability: Capability) -> bool {
    stage.imports.iter().any(|i| i.capability == capability)
}

/// A plugin that imports `sign` in a stage the host does not sign for.
fn sign_not_allowed(stage: &StageFacts<'_>) -> Option<Finding> {
    if !imports(stage, Capability::Sign) || stage.kind == Some(PluginKind::Ato) {
        return None;
    }
    let kind = stage.kind.map_or("unknown", PluginKind::as_str);
    let message = format!(
        "the plugin imports `gantry:stage/sign`, but the stage's kind is {kind}: the host signs \
         only for stages of kind `ato`, so every request will be refused (and audited)"
    );
    let finding = Finding::new(FindingCode::SignNotAllowed, stage.id, None, message);
    Some(finding.hint("use a plugin signed (or describing itself) as kind `ato`"))
}

/// Grants for an interface the plugin does not import.
fn grants_not_imported(stage: &StageFacts<'_>) -> Vec<Finding> {
    let grants = stage.grants;
    let files = imports(stage, Capability::Files);
    let exec = imports(stage, Capability::Exec);
    let environment = imports(stage, Capability::Environment);
    const FILES: &str = "does not import `wasi:filesystem`";
    let host_dirs = |dirs: &[std::path::PathBuf]| -> Vec<String> {
        dirs.iter().map(|d| d.display().to_string()).collect()
    };
    const NO_EXEC: &str = "does not import `gantry:stage/exec`";
    let cases: [(&'static str, Vec<String>, bool, &str); 7] = [
        ("read", written(&grants.read), files, FILES),
        ("write", written(&grants.write), files, FILES),
        (
            "exec",
            grants.exec.iter().map(|g| g.name.clone()).collect(),
            exec,
            "does not import `gantry:stage/exec`",
        ),
        ("exec-read", host_dirs(&grants.exec_read), exec, NO_EXEC),
        ("exec-write", host_dirs(&grants.exec_write), exec, NO_EXEC),
        (
            "env",
            grants.env.clone(),
            environment || exec,
            "imports neither `wasi:cli/environment` nor `gantry:stage/exec`",
        ),
        (
            "net",
            grants.net.iter().map(ToString::to_string).collect(),
            // Programs run through `exec` reach `net` through the proxy.
            imports(stage, Capability::Http) || exec,
            "imports neither `gantry:stage/http` nor `gantry:stage/exec`",
        ),
    ];
    let mut findings = Vec::new();
    for (key, granted, imported, missing) in cases {
        if granted.is_empty() || imported {
            continue;
        }
        let message = format!(
            "`{key}` grants {}, but the plugin {missing}, so it cannot use {}",
            quoted(&granted),
            if granted.len() == 1 { "it" } else { "them" }
        );
        findings.push(
            Finding::new(FindingCode::GrantNotImported, stage.id, Some(key), message).hint(
                format!("remove the `{key}` grant, or check the stage runs the plugin you meant"),
            ),
        );
    }
    findings
}

/// What the plugin says it wants that no grant gives it.
fn wants_not_granted(stage: &StageFacts<'_>) -> Vec<Finding> {
    let Some(wants) = stage.wants else {
        return Vec::new();
    };
    let grants = stage.grants;
    let mut found = Vec::new();
    for want in &wants.read {
        if !path_granted(stage, want, Access::Read) {
            let what = format!("to read `{want}`, which no grant covers");
            found.push(want_refused(
                stage,
                "read",
                what,
                "reads there will be refused",
                path_grant(want),
            ));
        }
    }
    for want in wants
        .write
        .iter()
        .filter(|w| !path_granted(stage, w, Access::Write))
    {
        let why = if path_granted(stage, want, Access::Read) {
            "is granted read-only"
        } else {
            "no grant covers"
        };
        let what = format!("to write `{want}`, which {why}");
        found.push(want_refused(
            stage,
            "write",
            what,
            "writes there will be refused",
            path_grant(want),
        ));
    }
    for want in wants
        .exec
        .iter()
        .filter(|w| !grants.exec.iter().any(|g| &&g.name == w))
    {
        let what = format!("to run `{want}`, which `exec` does not grant");
        found.push(want_refused(
            stage,
            "exec",
            what,
            "the call will be refused",
            Some(want.clone()),
        ));
    }
    for want in wants.env.iter().filter(|w| !grants.env.contains(w)) {
        let what = format!("environment variable `{want}`, which `env` does not grant");
        found.push(want_refused(
            stage,
            "env",
            what,
            "it will be unset",
            Some(want.clone()),
        ));
    }
    for want in &wants.net {
        let destination = parse_destination(want);
        if destination.as_ref().is_some_and(|d| grants.net.contains(d)) {
            continue;
        }
        let shown = destination.map_or_else(|| want.clone(), |d| d.to_string());
        let what = format!("to reach `{shown}`, which `net` does not grant");
        found.push(want_refused(
            stage,
            "net",
            what,
            "requests there will be refused",
            Some(shown),
        ));
    }
    found
}

/// A want the stage is not granted: "the plugin wants <what>:
/// <consequence>", with the grant that would give it, when one can.
fn want_refused(
    stage: &StageFacts<'_>,
    key: &'static str,
    what: String,
    consequence: &str,
    grant: Option<String>,
) -> Finding {
    let message = format!("the plugin wants {what}: {consequence}");
    let hint = match grant {
        Some(grant) => format!("grant it with `{key} = [\"{grant}\"]` if the stage needs it"),
        None => "plugins see only `/workspace`, `/mnt/<name>`, `/in/<stage>` and `/out`; \
                 this path is never granted"
            .to_owned(),
    };
    Finding::new(FindingCode::WantNotGranted, stage.id, Some(key), message).hint(hint)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
}

/// Whether a guest path the plugin wants is inside a directory it gets:
/// a grant (write grants can be read too), its own `/out`, `/in`, or an
/// upstream stage's `/in/<stage>`.
fn path_granted(stage: &StageFacts<'_>, want: &str, access: Access) -> bool {
    let Some(want) = normalise_guest(want) else {
        return false;
    };
    let grants = stage.grants;
    let mut dirs: Vec<String> = grants.write.iter().map(GrantPath::guest_path).collect();
    dirs.push("/out".to_owned());
    if access == Access::Read {
        dirs.extend(grants.read.iter().map(GrantPath::guest_path));
        dirs.extend(stage.upstream.iter().map(|id| format!("/in/{id}")));
        // `/in` itself holds only the upstream directories.
        if want == "/in" {
            return true;
        }
    }
    dirs.iter().any(|dir| within(&want, dir))
}

/// Whether guest path `path` is `dir` or below it.
fn within(path: &str, dir: &str) -> bool {
    path == dir
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// A guest path without `.`, `..`, doubled or trailing slashes; `None` for
/// a relative path, which names no directory the plugin is given.
fn normalise_guest(path: &str) -> Option<String> {
    let rest = path.strip_prefix('/')?;
    let mut parts: Vec<&str> = Vec::new();
    for part in rest.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    Some(format!("/{}", parts.join("/")))
}

/// How a pipeline grants the directory at a guest path: `src` for
/// `/workspace/src`, `mount:osv` for `/mnt/osv`; `None` for a path no
/// grant can give.
fn path_grant(want: &str) -> Option<String> {
    let normal = normalise_guest(want)?;
    if normal == "/workspace" {
        return Some(".".to_owned());
    }
    if let Some(rel) = normal.strip_prefix("/workspace/") {
        return Some(rel.to_owned());
    }
    normal
        .strip_prefix("/mnt/")
        .filter(|name| !name.contains('/'))
        .map(|name| format!("mount:{name}"))
}

/// A destination as a plugin wants it, with the scheme's default port
/// made explicit when the plugin left it out.
fn parse_destination(want: &str) -> Option<NetGrant> {
    if let Ok(destination) = want.parse::<NetGrant>() {
        return Some(destination);
    }
    let port = match want.split_once("://")?.0 {
        "https" => 443,
        "http" => 80,
        _ => return None,
    };
    format!("{}:{port}", want.trim_end_matches('/'))
        .parse()
        .ok()
}

/// Grants and limits beyond the policy's ceiling for the stage's kind.
fn beyond_ceiling(stage: &StageFacts<'_>, policy: &Policy) -> Vec<Finding> {
    let Some(kind) = stage.kind else {
        return Vec::new();
    };
    let Some(ceiling) = policy.ceiling(kind) else {
        return Vec::new();
    };
    ceiling
        .excess(stage.grants, stage.limits)
        .into_iter()
        .map(|excess| {
            let message = format!("{excess} for `{kind}` stages");
            Finding::new(
                FindingCode::BeyondCeiling,
                stage.id,
                Some(excess.key),
                message,
            )
            .blocking()
            .hint(format!(
                "narrow the stage's `{}`, or raise `[ceilings.{kind}]` in policy `{}`",
                excess.key, policy.id
            ))
        })
        .collect()
}

/// Write grants of one stage that overlap read or write grants of another:
/// the writer can change what the reader sees.
fn writes_overlapping_reads(stages: &[StageFacts<'_>]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for writer in stages {
        // What the plugin writes, and what the programs it runs write.
        let plugin_writes = writer.grants.write.iter().map(|w| {
            let host = w.host_path().map(std::path::Path::to_path_buf);
            ("write", w.as_written(), host, Some(w))
        });
        let program_writes = writer.grants.exec_write.iter().map(|dir| {
            let shown = dir.display().to_string();
            ("exec-write", shown, Some(dir.clone()), None)
        });
        for (key, shown, host, grant) in plugin_writes.chain(program_writes) {
            for reader in stages.iter().filter(|s| s.id != writer.id) {
                let overlapping = |read: &&GrantPath| match (&host, grant) {
                    (_, Some(grant)) => overlaps(grant, read),
                    (Some(dir), None) => read
                        .host_path()
                        .is_some_and(|r| r.starts_with(dir) || dir.starts_with(r)),
                    (None, None) => false,
                };
                // A directory a stage may write, it may read as well.
                let mut reads = reader.grants.read.iter().chain(&reader.grants.write);
                let Some(read) = reads.find(overlapping) else {
                    continue;
                };
                let message = format!(
                    "`{key}` grants `{shown}`, which stage `{}` reads through `{}`: `{}` can \
                     change what `{}` sees",
                    reader.id,
                    read.as_written(),
                    writer.id,
                    reader.id
                );
                let mut finding = Finding::new(
                    FindingCode::WriteOverlapsRead,
                    writer.id,
                    Some(key),
                    message,
                )
                .hint(
                    "give each stage a directory of its own, or pass files on as \
                             artifacts (`/out`, then `/in/<stage>`)",
                );
                finding.other_stage = Some(reader.id.to_owned());
                findings.push(finding);
            }
        }
    }
    findings
}

/// Whether two granted directories are the same or one holds the other,
/// compared as canonical host directories (so two names for one directory
/// are caught); the built-in `registry` mount, which has no host path in
/// the pipeline, by name.
fn overlaps(a: &GrantPath, b: &GrantPath) -> bool {
    match (a.host_path(), b.host_path()) {
        (Some(x), Some(y)) => x.starts_with(y) || y.starts_with(x),
        (None, None) => a.as_written() == b.as_written(),
        _ => false,
    }
}

fn written(paths: &[GrantPath]) -> Vec<String> {
    paths.iter().map(GrantPath::as_written).collect()
}

fn quoted(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("`{i}`")).collect();
    quoted.join(", ")
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;
    use crate::pipeline::{ExecGrant, MountName};

    fn dir(rel: &str) -> GrantPath {
        GrantPath::Workspace {
            rel: PathBuf::from(rel),
            host: PathBuf::from("/ws").join(rel),
        }
    }

    fn mount(name: &str, host: Option<&str>) -> GrantPath {
        GrantPath::Mount {
            name: MountName::new(name).expect("valid"),
            host: host.map(PathBuf::from),
        }
    }

    fn wants() -> Wants {
        Wants {
            read: Vec::new(),
            write: Vec::new(),
            exec: Vec::new(),
            env: Vec::new(),
            net: Vec::new(),
        }
    }

    static LIMITS: std::sync::LazyLock<StageLimits> = std::sync::LazyLock::new(|| StageLimits {
        memory: 1 << 30,
        timeout: Duration::from_secs(600),
        ..StageLimits::default()
    });

    fn facts<'a>(
        id: &'a str,
        imports: &'a [Import],
        wants: Option<&'a Wants>,
        grants: &'a StageGrants,
    ) -> StageFacts<'a> {
        StageFacts {
            id,
            upstream: vec!["build".to_owned()],
            imports,
            wants,
            kind: Some(PluginKind::Scan),
            grants,
            limits: &LIMITS,
        }
    }

    fn codes(findings: &[Finding]) -> Vec<(FindingCode, Option<&'static str>)> {
        findings.iter().map(|f| (f.code, f.key)).collect()
    }

    #[test]
    fn grants_for_interfaces_the_plugin_does_not_import_are_found() {
        let grants = StageGrants {
            read: vec![dir(".")],
            exec: vec![ExecGrant {
                name: "sh".into(),
                resolved: "/bin/sh".into(),
            }],
            env: vec!["HOME".into()],
            net: vec!["https://api.osv.dev:443".parse().expect("valid")],
            ..StageGrants::default()
        };
        let imports = [Import::new("gantry:stage/log@0.1.0")];
        let found = grants_not_imported(&facts("scan", &imports, None, &grants));
        let keys: Vec<_> = found.iter().map(|f| f.key.unwrap_or_default()).collect();
        assert_eq!(keys, ["read", "exec", "env", "net"]);
        assert!(
            found[3].message.contains("`gantry:stage/http`"),
            "{}",
            found[3].message
        );
        assert!(
            found[2].message.contains("imports neither"),
            "{}",
            found[2].message
        );

        // Environment variables reach programs through `exec` as well.
        let imports = [
            Import::new("wasi:filesystem/types@0.2.6"),
            Import::new("gantry:stage/exec@0.1.0"),
            Import::new("gantry:stage/http@0.1.0"),
        ];
        assert!(grants_not_imported(&facts("scan", &imports, None, &grants)).is_empty());
    }

    #[test]
    fn wants_inside_granted_directories_are_granted() {
        let grants = StageGrants {
            read: vec![dir("."), mount("osv", Some("/data/osv"))],
            write: vec![dir("target")],
            ..StageGrants::default()
        };
        let mut wanted = wants();
        wanted.read = [
            "/workspace",
            "/workspace/src/",
            "/mnt/osv/db",
            "/in",
            "/in/build",
            "/out",
        ]
        .map(String::from)
        .to_vec();
        wanted.write = ["/workspace/target/x", "/out", "/workspace/./target"]
            .map(String::from)
            .to_vec();
        let found = wants_not_granted(&facts("scan", &[], Some(&wanted), &grants));
        assert!(found.is_empty(), "{found:#?}");
    }

    #[test]
    fn wants_outside_the_grants_are_found() {
        let grants = StageGrants {
            read: vec![dir("src")],
            net: vec!["https://api.osv.dev:443".parse().expect("valid")],
            ..StageGrants::default()
        };
        let mut wanted = wants();
        wanted.read = [
            "/workspace",
            "/workspace/srcx",
            "/workspace/src/../..",
            "/mnt/osv",
            "/in/test",
            "/etc",
            "src",
        ]
        .map(String::from)
        .to_vec();
        wanted.write = vec!["/workspace/src".into()];
        wanted.exec = vec!["curl".into()];
        wanted.env = vec!["TOKEN".into()];
        wanted.net = ["https://api.osv.dev", "https://api.osv.dev:8443", "ftp://x"]
            .map(String::from)
            .to_vec();
        let found = wants_not_granted(&facts("scan", &[], Some(&wanted), &grants));
        let messages: Vec<&str> = found.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(found.len(), 12, "{messages:#?}");
        assert!(messages[7].contains("granted read-only"), "{}", messages[7]);
        assert_eq!(
            found[1].hint.as_deref(),
            Some("grant it with `read = [\"srcx\"]` if the stage needs it")
        );
        assert_eq!(
            found[3].hint.as_deref(),
            Some("grant it with `read = [\"mount:osv\"]` if the stage needs it")
        );
        assert!(
            messages[10].contains("`https://api.osv.dev:8443`"),
            "{}",
            messages[10]
        );
        // The default port is made explicit, so the first want is granted.
        assert!(
            !messages
                .iter()
                .any(|m| m.contains("`https://api.osv.dev:443`"))
        );
    }

    #[test]
    fn a_plugin_that_did_not_describe_itself_has_no_wants_to_check() {
        let grants = StageGrants::default();
        assert!(wants_not_granted(&facts("scan", &[], None, &grants)).is_empty());
    }

    #[test]
    fn grants_beyond_the_kinds_ceiling_are_found() {
        let mut policy = Policy::permissive("p", "1");
        policy.ceilings.insert(
            PluginKind::Scan,
            crate::pipeline::Ceiling {
                exec: Some(Vec::new()),
                memory: Some(256 << 20),
                ..Default::default()
            },
        );
        let grants = StageGrants {
            exec: vec![ExecGrant {
                name: "sh".into(),
                resolved: "/bin/sh".into(),
            }],
            ..StageGrants::default()
        };
        let stage = facts("scan", &[], None, &grants);
        let found = beyond_ceiling(&stage, &policy);
        assert_eq!(
            codes(&found),
            [
                (FindingCode::BeyondCeiling, Some("exec")),
                (FindingCode::BeyondCeiling, Some("memory"))
            ]
        );
        assert!(
            found[0].message.ends_with("for `scan` stages"),
            "{}",
            found[0].message
        );

        let build = StageFacts {
            kind: Some(PluginKind::Build),
            ..facts("build", &[], None, &grants)
        };
        assert!(beyond_ceiling(&build, &policy).is_empty());
    }

    #[test]
    fn importing_sign_outside_an_ato_stage_is_a_finding() {
        let grants = StageGrants::default();
        let imports = [Import::new("gantry:stage/sign@0.1.0")];
        let scan = facts("scan", &imports, None, &grants);
        let found = sign_not_allowed(&scan).expect("a scan stage may not sign");
        assert_eq!(found.code, FindingCode::SignNotAllowed);
        assert!(found.message.contains("kind is scan"), "{}", found.message);

        let ato = StageFacts {
            kind: Some(PluginKind::Ato),
            ..facts("ato", &imports, None, &grants)
        };
        assert_eq!(sign_not_allowed(&ato), None);
        let no_import = facts("scan", &[], None, &grants);
        assert_eq!(sign_not_allowed(&no_import), None);
    }

    #[test]
    fn write_grants_overlapping_other_stages_reads_name_both_stages() {
        let writer = StageGrants {
            write: vec![dir("src"), mount("registry", None)],
            read: vec![dir("src")],
            ..StageGrants::default()
        };
        let reader = StageGrants {
            read: vec![dir("."), mount("registry", None)],
            ..StageGrants::default()
        };
        let apart = StageGrants {
            read: vec![dir("docs"), dir("srcx"), mount("osv", Some("/data/osv"))],
            ..StageGrants::default()
        };
        let stages = [
            facts("build", &[], None, &writer),
            facts("scan", &[], None, &reader),
            facts("docs", &[], None, &apart),
        ];
        let found = writes_overlapping_reads(&stages);
        let pairs: Vec<_> = found
            .iter()
            .map(|f| (f.stage.as_str(), f.other_stage.as_deref()))
            .collect();
        assert_eq!(pairs, [("build", Some("scan")), ("build", Some("scan"))]);
        assert!(found[0].message.contains("`src`") && found[0].message.contains("`.`"));
        assert!(found[1].message.contains("`mount:registry`"));
    }

    #[test]
    fn two_stages_writing_one_directory_are_each_found() {
        // The scan keeps its index in a cache another stage also writes.
        let scan = StageGrants {
            read: vec![dir(".")],
            write: vec![mount("cache", Some("/data/cache"))],
            ..StageGrants::default()
        };
        let other = StageGrants {
            write: vec![mount("cache", Some("/data/cache"))],
            ..StageGrants::default()
        };
        let stages = [
            facts("scan", &[], None, &scan),
            facts("fetch", &[], None, &other),
        ];
        let found = writes_overlapping_reads(&stages);
        let pairs: Vec<_> = found
            .iter()
            .map(|f| (f.stage.as_str(), f.other_stage.as_deref()))
            .collect();
        assert_eq!(pairs, [("scan", Some("fetch")), ("fetch", Some("scan"))]);
        assert!(
            found[1].message.contains("`mount:cache`"),
            "{}",
            found[1].message
        );

        // Control: the scan alone writing its cache is no finding.
        assert!(writes_overlapping_reads(&stages[..1]).is_empty());
    }

    #[test]
    fn guest_paths_normalise_lexically() {
        assert_eq!(
            normalise_guest("/workspace/./src//").as_deref(),
            Some("/workspace/src")
        );
        assert_eq!(
            normalise_guest("/workspace/../etc").as_deref(),
            Some("/etc")
        );
        assert_eq!(normalise_guest("/..").as_deref(), Some("/"));
        assert_eq!(normalise_guest("workspace"), None);
        assert!(within("/workspace/src", "/workspace"));
        assert!(!within("/workspacex", "/workspace"));
    }
}
