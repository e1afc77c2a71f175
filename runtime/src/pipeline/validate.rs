//! Turning the raw model into a [`PipelineSpec`]: names checked, paths
//! resolved against the file system, grants resolved, and the stage graph
//! checked for unknown `needs` and cycles.
//!
//! Problems are reported one at a time, the first in file order, except
//! that the stage graph is checked once every stage is read.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::error::{Location, PathProblem, PipelineError, Scope, Source};
use super::grants::{GrantRoots, resolve_grants};
use super::graph;
use super::limits::{
    MAX_HANDLES, MAX_LOG_LINES, MAX_LOG_RATE, MAX_MEMORY, MAX_OUT_BYTES, MAX_OUTPUT, StageLimits,
    check_count, parse_size, parse_timeout,
};
use super::model::{
    RawApproval, RawDocument, RawLimits, RawPipeline, RawPlugin, RawPolicy, RawStage,
    config_to_json,
};
use super::names::{MountName, StageId, is_deceptive_char};
use super::policy::{Expected, read_policy};
use super::roles::{Roles, read_roles};
use super::signing_key::{SigningKeySource, resolve_signing_key};
use super::spec::{
    ApprovalGate, BuiltinPlugin, PipelineSpec, PluginSource, PluginStage, PolicyRef, StageKind,
    StageSpec,
};

/// Validates a parsed pipeline file whose canonical path is `file`.
pub(super) fn validate_pipeline(
    source: &Source,
    raw: RawDocument,
    file: PathBuf,
    display_path: String,
) -> Result<PipelineSpec, PipelineError> {
    let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let top = Scope::file(source);
    let pipeline = raw.pipeline.into_inner();
    let header = PipelineHeader::resolve(&dir, pipeline, &top)?;

    let search_path = std::env::var_os("PATH");
    let context = StageContext {
        source,
        dir: &dir,
        roots: GrantRoots {
            workspace: &header.workspace,
            mounts: &header.mounts,
            search_path: search_path.as_deref(),
        },
        roles: header.roles.as_ref().map(|(_, roles)| roles),
    };
    let stages = read_stages(&context, raw.stage)?;

    Ok(PipelineSpec {
        file,
        display_path,
        dir,
        name: header.name,
        policy: header.policy,
        roles: header.roles.map(|(path, _)| path),
        signing_key: header.signing_key,
        stages,
        workspace: header.workspace,
        mounts: header.mounts,
    })
}

/// `[pipeline]`, resolved.
struct PipelineHeader {
    name: String,
    workspace: PathBuf,
    policy: Option<PolicyRef>,
    roles: Option<(PathBuf, Roles)>,
    mounts: BTreeMap<MountName, PathBuf>,
    signing_key: Option<SigningKeySource>,
}

impl PipelineHeader {
    fn resolve(dir: &Path, raw: RawPipeline, top: &Scope<'_>) -> Result<Self, PipelineError> {
        let name = plain_text(raw.name, top, "pipeline.name", "the pipeline name")?;
        let at = top.at(raw.workspace.span(), "pipeline.workspace");
        let workspace = resolve_existing(
            dir,
            raw.workspace.get_ref(),
            Expect::Directory,
            "workspace",
            at,
        )?;
        let policy = raw
            .policy
            .map(|p| resolve_policy(dir, p, top))
            .transpose()?;
        let roles = raw.roles.map(|r| resolve_roles(dir, &r, top)).transpose()?;
        let mounts = resolve_mounts(dir, raw.mounts, top)?;
        let signing_key = raw
            .signing_key
            .map(|k| resolve_signing_key(dir, k, top))
            .transpose()?;
        Ok(Self {
            name,
            workspace,
            policy,
            roles,
            mounts,
            signing_key,
        })
    }
}

/// A required string that people read: not blank, and free of characters
/// that could disguise it on a terminal.
fn plain_text(
    value: Spanned<String>,
    scope: &Scope<'_>,
    key: &str,
    what: &'static str,
) -> Result<String, PipelineError> {
    let at = || scope.at(value.span(), key);
    if value.get_ref().trim().is_empty() {
        return Err(PipelineError::Empty { at: at(), what });
    }
    if value.get_ref().chars().any(is_deceptive_char) {
        let text = value.get_ref().clone();
        return Err(PipelineError::DeceptiveText {
            at: at(),
            what,
            text,
        });
    }
    Ok(value.into_inner())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Directory,
    File,
}

/// Resolves `written` against the pipeline file's directory and checks that
/// it is there and of the expected kind; returns the canonical path.
fn resolve_existing(
    dir: &Path,
    written: &str,
    expect: Expect,
    what: impl Into<String>,
    at: Location,
) -> Result<PathBuf, PipelineError> {
    let what = what.into();
    let problem = |problem| PipelineError::BadPath {
        at: at.clone(),
        what: what.clone(),
        path: written.to_owned(),
        problem,
    };
    if written.is_empty() {
        return Err(problem(PathProblem::Missing));
    }
    let path = std::fs::canonicalize(dir.join(written)).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => problem(PathProblem::Missing),
        kind => problem(PathProblem::Unresolvable(kind)),
    })?;
    match expect {
        Expect::Directory if !path.is_dir() => Err(problem(PathProblem::NotADirectory)),
        Expect::File if !path.is_file() => Err(problem(PathProblem::NotAFile)),
        _ => Ok(path),
    }
}

/// Resolves a private key file the pipeline names; returns its canonical
/// path.
pub(super) fn resolve_key_file(
    dir: &Path,
    written: &str,
    at: Location,
) -> Result<PathBuf, PipelineError> {
    resolve_existing(dir, written, Expect::File, "signing key", at)
}

fn resolve_policy(
    dir: &Path,
    raw: Spanned<RawPolicy>,
    top: &Scope<'_>,
) -> Result<PolicyRef, PipelineError> {
    let raw = raw.into_inner();
    let at = top.at(raw.file.span(), "pipeline.policy.file");
    let file = resolve_existing(dir, raw.file.get_ref(), Expect::File, "policy file", at)?;
    let id = plain_text(raw.id, top, "pipeline.policy.id", "the policy id")?;
    let version = plain_text(
        raw.version,
        top,
        "pipeline.policy.version",
        "the policy version",
    )?;
    let rules = read_policy(
        &file,
        shown_beside(top, raw.file.get_ref()),
        &Expected {
            id: &id,
            version: &version,
        },
    )?;
    Ok(PolicyRef {
        id,
        version,
        file,
        rules,
    })
}

/// A file the pipeline names, as the user would find it: beside the
/// pipeline file as they named it, not by its canonical path.
fn shown_beside(top: &Scope<'_>, written: &str) -> String {
    let pipeline_dir = Path::new(top.source().display()).parent();
    pipeline_dir
        .unwrap_or(Path::new(""))
        .join(written)
        .display()
        .to_string()
}

/// Resolves the roles file and reads it, so that a broken roles file stops
/// the pipeline from loading rather than a later approval.
fn resolve_roles(
    dir: &Path,
    written: &Spanned<String>,
    top: &Scope<'_>,
) -> Result<(PathBuf, Roles), PipelineError> {
    let at = top.at(written.span(), "pipeline.roles");
    let path = resolve_existing(dir, written.get_ref(), Expect::File, "roles file", at)?;
    let roles = read_roles(&path, shown_beside(top, written.get_ref()))?;
    Ok((path, roles))
}

fn resolve_mounts(
    dir: &Path,
    raw: BTreeMap<Spanned<String>, Spanned<String>>,
    top: &Scope<'_>,
) -> Result<BTreeMap<MountName, PathBuf>, PipelineError> {
    // Checked in file order, so the first problem reported is the first one
    // a reader meets.
    let mut entries: Vec<_> = raw.into_iter().collect();
    entries.sort_by_key(|(name, _)| name.span().start);

    let mut mounts = BTreeMap::new();
    for (name, path) in entries {
        let at = top.at(name.span(), "pipeline.mounts");
        let name = MountName::new(name.get_ref().as_str()).map_err(|reason| {
            PipelineError::InvalidName {
                at: at.clone(),
                kind: "mount name",
                value: name.get_ref().clone(),
                reason,
            }
        })?;
        if name.is_registry() {
            return Err(PipelineError::ReservedMount { at });
        }
        let at = top.at(path.span(), &format!("pipeline.mounts.{name}"));
        let what = format!("mount `{name}` directory");
        let host = resolve_existing(dir, path.get_ref(), Expect::Directory, what, at)?;
        mounts.insert(name, host);
    }
    Ok(mounts)
}

/// What every stage is resolved against.
struct StageContext<'a> {
    source: &'a Source,
    dir: &'a Path,
    roots: GrantRoots<'a>,
    roles: Option<&'a Roles>,
}

/// Where a stage's id and `needs` entries are written, for graph errors.
struct StageSpans {
    id: Range<usize>,
    needs: Vec<Range<usize>>,
}

/// The most stages a pipeline may have. Ordering them is quadratic, so a
/// generated file with a hundred thousand stages would hang the loader.
pub(super) const MAX_STAGES: usize = 1000;

fn read_stages(
    context: &StageContext<'_>,
    raw: Vec<Spanned<RawStage>>,
) -> Result<Vec<StageSpec>, PipelineError> {
    if let Some(extra) = raw.get(MAX_STAGES) {
        let at = context.source.at(extra.span(), "");
        return Err(PipelineError::TooManyStages {
            at,
            max: MAX_STAGES,
        });
    }
    let mut stages = Vec::with_capacity(raw.len());
    let mut spans = Vec::with_capacity(raw.len());
    for (index, stage) in raw.into_iter().enumerate() {
        let (stage, stage_spans) = read_stage(context, index, stage)?;
        stages.push(stage);
        spans.push(stage_spans);
    }
    check_graph(context.source, &stages, &spans)?;
    Ok(stages)
}

fn read_stage(
    context: &StageContext<'_>,
    index: usize,
    raw: Spanned<RawStage>,
) -> Result<(StageSpec, StageSpans), PipelineError> {
    let header = raw.span();
    let raw = raw.into_inner();
    let unnamed = Scope::stage(context.source, None, index);
    let id = parse_stage_id(&raw.id, &unnamed, "id")?;
    let scope = Scope::stage(context.source, Some(id.as_str()), index);
    let needs = raw
        .needs
        .iter()
        .map(|need| parse_stage_id(need, &scope, "needs"))
        .collect::<Result<Vec<_>, _>>()?;
    let spans = StageSpans {
        id: raw.id.span(),
        needs: raw.needs.iter().map(Spanned::span).collect(),
    };

    let line = context.source.line_of(header.start);
    let kind = read_stage_kind(context, &scope, header, raw)?;
    let stage = StageSpec {
        id,
        needs,
        kind,
        line,
    };
    Ok((stage, spans))
}

fn parse_stage_id(
    value: &Spanned<String>,
    scope: &Scope<'_>,
    key: &str,
) -> Result<StageId, PipelineError> {
    StageId::new(value.get_ref().as_str()).map_err(|reason| PipelineError::InvalidName {
        at: scope.at(value.span(), key),
        kind: "stage id",
        value: value.get_ref().clone(),
        reason,
    })
}

fn read_stage_kind(
    context: &StageContext<'_>,
    scope: &Scope<'_>,
    header: Range<usize>,
    mut raw: RawStage,
) -> Result<StageKind, PipelineError> {
    match (raw.plugin.take(), raw.approval.take()) {
        (Some(_), Some(approval)) => Err(PipelineError::PluginAndApproval {
            at: scope.at(approval.span(), "approval"),
        }),
        (None, None) => Err(PipelineError::NoPluginOrApproval {
            at: scope.at(header, ""),
        }),
        (Some(plugin), None) => {
            read_plugin_stage(context, scope, plugin, raw).map(StageKind::Plugin)
        }
        (None, Some(approval)) => {
            refuse_plugin_keys(&raw, scope)?;
            read_approval(context, scope, approval).map(StageKind::Approval)
        }
    }
}

fn read_plugin_stage(
    context: &StageContext<'_>,
    scope: &Scope<'_>,
    plugin: Spanned<RawPlugin>,
    raw: RawStage,
) -> Result<PluginStage, PipelineError> {
    let plugin = read_plugin_source(context, scope, plugin)?;
    let config = read_config(raw.config, scope)?;
    let grants = raw.grants.map(Spanned::into_inner).unwrap_or_default();
    let grants = resolve_grants(grants, &context.roots, scope)?;
    let limits = read_limits(raw.limits, scope)?;
    Ok(PluginStage {
        plugin,
        config,
        grants,
        limits,
    })
}

/// Refuses `config`, `grants` and `limits` on an approval stage, which runs
/// no plugin they could apply to.
fn refuse_plugin_keys(raw: &RawStage, scope: &Scope<'_>) -> Result<(), PipelineError> {
    let plugin_keys = [
        ("config", raw.config.as_ref().map(Spanned::span)),
        ("grants", raw.grants.as_ref().map(Spanned::span)),
        ("limits", raw.limits.as_ref().map(Spanned::span)),
    ];
    for (key, span) in plugin_keys {
        if let Some(span) = span {
            let at = scope.at(span, key);
            return Err(PipelineError::ApprovalWithPluginKey { at, key });
        }
    }
    Ok(())
}

fn read_plugin_source(
    context: &StageContext<'_>,
    scope: &Scope<'_>,
    raw: Spanned<RawPlugin>,
) -> Result<PluginSource, PipelineError> {
    let at = scope.at(raw.span(), "plugin");
    let (path, sha256, signature) = match raw.into_inner() {
        RawPlugin::Named(name) if name.starts_with("gantry:") => {
            return BuiltinPlugin::from_reference(&name)
                .map(PluginSource::Builtin)
                .ok_or(PipelineError::UnknownBuiltin { at, name });
        }
        RawPlugin::Named(path) => (path, None, None),
        RawPlugin::Pinned(pinned) => (pinned.path, pinned.sha256, pinned.signature),
    };
    if let Some(value) = sha256.as_ref().filter(|digest| !is_sha256_hex(digest)) {
        let value = value.clone();
        return Err(PipelineError::InvalidSha256 { at, value });
    }
    let resolved = resolve_existing(context.dir, &path, Expect::File, "plugin", at.clone())?;
    let signature = match signature {
        Some(named) => resolve_existing(context.dir, &named, Expect::File, "signature file", at)?,
        // Beside the plugin as written, not as resolved: a symlinked plugin
        // is signed where the pipeline names it.
        None => context.dir.join(format!("{path}.sig")),
    };
    let path = resolved;
    Ok(PluginSource::Path {
        path,
        sha256,
        signature,
    })
}

/// Whether `digest` is written as 64 lowercase hex digits.
fn is_sha256_hex(digest: &str) -> bool {
    digest.len() == 64
        && digest
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn read_config(
    raw: Option<Spanned<toml::Table>>,
    scope: &Scope<'_>,
) -> Result<serde_json::Value, PipelineError> {
    let Some(raw) = raw else {
        return Ok(serde_json::Value::Object(serde_json::Map::new()));
    };
    let span = raw.span();
    config_to_json(raw.into_inner()).map_err(|key| PipelineError::InvalidValue {
        at: scope.at(span, "config"),
        message: format!("`{key}` is not a finite number, which JSON cannot hold"),
    })
}

fn read_limits(
    raw: Option<Spanned<RawLimits>>,
    scope: &Scope<'_>,
) -> Result<StageLimits, PipelineError> {
    let mut limits = StageLimits::default();
    let Some(raw) = raw.map(Spanned::into_inner) else {
        return Ok(limits);
    };
    let size = |value: Option<Spanned<String>>, key: &str, max: u64, default: u64| {
        let Some(value) = value else {
            return Ok(default);
        };
        parse_size(value.get_ref(), max).map_err(|reason| PipelineError::InvalidSize {
            at: scope.at(value.span(), &format!("limits.{key}")),
            value: value.get_ref().clone(),
            reason,
        })
    };
    let duration = |value: Option<Spanned<String>>, key: &str, default: Duration| {
        let Some(value) = value else {
            return Ok(default);
        };
        parse_timeout(value.get_ref()).map_err(|reason| PipelineError::InvalidDuration {
            at: scope.at(value.span(), &format!("limits.{key}")),
            value: value.get_ref().clone(),
            reason,
        })
    };
    let count = |value: Option<Spanned<i64>>, key: &str, max: u64, default: u64| {
        let Some(value) = value else {
            return Ok(default);
        };
        check_count(*value.get_ref(), max).map_err(|reason| PipelineError::InvalidCount {
            at: scope.at(value.span(), &format!("limits.{key}")),
            value: *value.get_ref(),
            reason,
            max,
        })
    };
    limits.memory = size(raw.memory, "memory", MAX_MEMORY, limits.memory)?;
    limits.timeout = duration(raw.timeout, "timeout", limits.timeout)?;
    // Unset, CPU time is bounded by the wall time.
    limits.cpu = duration(raw.cpu, "cpu", limits.timeout)?;
    limits.output = size(raw.output, "output", MAX_OUTPUT, limits.output)?;
    limits.out_bytes = size(raw.out_bytes, "out-bytes", MAX_OUT_BYTES, limits.out_bytes)?;
    limits.log_lines = count(raw.log_lines, "log-lines", MAX_LOG_LINES, limits.log_lines)?;
    limits.log_rate = count(raw.log_rate, "log-rate", MAX_LOG_RATE, limits.log_rate)?;
    limits.handles = count(raw.handles, "handles", MAX_HANDLES, limits.handles)?;
    Ok(limits)
}

fn read_approval(
    context: &StageContext<'_>,
    scope: &Scope<'_>,
    raw: Spanned<RawApproval>,
) -> Result<ApprovalGate, PipelineError> {
    let span = raw.span();
    let raw = raw.into_inner();
    let role = plain_text(raw.role, scope, "approval.role", "the role")?;
    let min = raw.min.map_or(Ok(1), |min| match *min.get_ref() {
        0 => Err(PipelineError::InvalidValue {
            at: scope.at(min.span(), "approval.min"),
            message: "at least one approver is needed, not 0".to_owned(),
        }),
        min => Ok(min),
    })?;

    let Some(roles) = context.roles else {
        let at = scope.at(span, "approval");
        return Err(PipelineError::ApprovalWithoutRoles { at, role });
    };
    if roles.holders(&role).next().is_none() {
        tracing::warn!(role = %role, "no identity in the roles file holds the approval role");
    }
    Ok(ApprovalGate {
        role,
        min,
        forbid_self_approval: raw.forbid_self_approval.unwrap_or(true),
    })
}

/// Checks the stage graph: ids unique, every `needs` entry an existing
/// other stage, no cycles.
fn check_graph(
    source: &Source,
    stages: &[StageSpec],
    spans: &[StageSpans],
) -> Result<(), PipelineError> {
    let scope = |index: usize| Scope::stage(source, Some(stages[index].id.as_str()), index);
    check_unique_ids(stages, spans, &scope)?;
    check_needs(stages, spans, &scope)?;

    let Some(cycle) = graph::find_cycle(stages) else {
        return Ok(());
    };
    // Reported at the `needs` entry that closes the cycle, the one the hint
    // suggests removing.
    let (from, to) = (cycle.from, cycle.to);
    let entry = stages[from]
        .needs
        .iter()
        .position(|need| need == &stages[to].id);
    let span = match entry {
        Some(entry) => spans[from].needs[entry].clone(),
        None => spans[from].id.clone(),
    };
    Err(PipelineError::Cycle {
        at: scope(from).at(span, "needs"),
        cycle: cycle
            .path
            .iter()
            .map(|&i| stages[i].id.to_string())
            .collect(),
    })
}

fn check_unique_ids<'a>(
    stages: &[StageSpec],
    spans: &[StageSpans],
    scope: &impl Fn(usize) -> Scope<'a>,
) -> Result<(), PipelineError> {
    let mut first_of: BTreeMap<&StageId, usize> = BTreeMap::new();
    for (index, stage) in stages.iter().enumerate() {
        if let Some(&first) = first_of.get(&stage.id) {
            return Err(PipelineError::DuplicateStage {
                at: scope(index).at(spans[index].id.clone(), ""),
                first_line: stages[first].line,
            });
        }
        first_of.insert(&stage.id, index);
    }
    Ok(())
}

fn check_needs<'a>(
    stages: &[StageSpec],
    spans: &[StageSpans],
    scope: &impl Fn(usize) -> Scope<'a>,
) -> Result<(), PipelineError> {
    for (index, stage) in stages.iter().enumerate() {
        for (need, span) in stage.needs.iter().zip(&spans[index].needs) {
            let at = || scope(index).at(span.clone(), "needs");
            if need == &stage.id {
                let id = need.to_string();
                return Err(PipelineError::SelfNeed { at: at(), id });
            }
            if !stages.iter().any(|other| &other.id == need) {
                return Err(PipelineError::UnknownNeed {
                    at: at(),
                    need: need.to_string(),
                    known: stages.iter().map(|s| s.id.to_string()).collect(),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_pins_are_64_lowercase_hex_digits() {
        assert!(is_sha256_hex(&"ab12".repeat(16)));
        assert!(!is_sha256_hex(&"AB12".repeat(16)));
        assert!(!is_sha256_hex(&"ab12".repeat(15)));
        assert!(!is_sha256_hex(&"xy12".repeat(16)));
    }
}
