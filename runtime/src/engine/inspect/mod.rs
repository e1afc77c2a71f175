//! `gantry inspect`: what every stage of a pipeline may touch, before
//! anything runs, and what looks wrong about it.
//!
//! Gathering happens here: the pipeline is loaded, every plugin is loaded
//! (its imports read from the component's type) and asked to `describe`
//! itself in a sandbox that grants nothing. The rules in [`findings`] then
//! compare imports, wants, grants, the policy's ceilings and the other
//! stages' grants. Printing is the CLI's.

mod findings;

use std::sync::Arc;

use serde::Serialize;

pub use self::findings::{Finding, FindingCode, Severity};

use self::findings::StageFacts;
use super::events::DescribeEvents;
use super::{EngineError, Session, plugins, sandbox};
use crate::host::Import;
use crate::host::bindings::types::{Capabilities, StageKind as WitKind};
use crate::pipeline::{
    self, Ceiling, PipelineSpec, PluginKind, PluginSource, PluginStage, StageGrants, StageKind,
    StageLimits, StageSpec,
};

/// A pipeline's permissions, stage by stage, and the findings about them.
#[derive(Debug, Serialize)]
pub struct InspectReport {
    pub pipeline: String,
    /// The pipeline file as the user named it.
    pub file: String,
    /// The canonical workspace directory.
    pub workspace: String,
    /// The policy the pipeline names, if any.
    pub policy: Option<PolicyReport>,
    pub stages: Vec<StageReport>,
    /// How many findings the stages hold in all.
    pub finding_count: usize,
}

impl InspectReport {
    /// Every finding, stage by stage.
    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.stages.iter().flat_map(|s| s.findings.iter())
    }
}

/// The policy a pipeline runs under, as far as the audit uses it.
#[derive(Debug, Serialize)]
pub struct PolicyReport {
    pub id: String,
    pub version: String,
    /// The canonical policy file.
    pub file: String,
    /// `[ceilings.<kind>]`: the most a stage of each kind may be granted.
    pub ceilings: std::collections::BTreeMap<PluginKind, Ceiling>,
}

/// One stage: its plugin, grants and limits (or its review gate), and the
/// findings about it.
#[derive(Debug, Serialize)]
pub struct StageReport {
    pub id: String,
    pub needs: Vec<String>,
    #[serde(flatten)]
    pub kind: StageReportKind,
    /// What the audit found about this stage; empty for a review gate.
    pub findings: Vec<Finding>,
}

/// What a stage is.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum StageReportKind {
    Plugin(Box<PluginReport>),
    Approval {
        role: String,
        min: u32,
        forbid_self_approval: bool,
    },
}

/// A plugin stage as the audit sees it.
#[derive(Debug, Serialize)]
pub struct PluginReport {
    /// How the plugin is named to people: `gantry:scan` or its file path.
    pub plugin: String,
    /// Where it comes from, as the pipeline says.
    pub source: PluginSource,
    /// `sha256:<hex>` of the component.
    pub digest: String,
    /// Who signed the component, if anyone.
    ///
    /// TODO(#3): filled in once plugin signatures are verified at load.
    pub signer: Option<String>,
    /// The stage's kind, for the policy's ceilings: a standard plugin's
    /// own, else what `describe` says; `None` when `describe` failed.
    pub kind: Option<PluginKind>,
    /// The interfaces the component imports, with what each gives it.
    pub imports: Vec<Import>,
    /// What the plugin says about itself; `None` when `describe` failed.
    pub describe: Option<Described>,
    /// Why `describe` failed, when it did.
    pub describe_error: Option<String>,
    pub grants: StageGrants,
    pub limits: StageLimits,
}

/// The plugin's own account of itself.
#[derive(Debug, Serialize)]
pub struct Described {
    pub name: String,
    pub version: String,
    pub kind: String,
    pub wants: Wants,
}

/// The capabilities a plugin says it wants.
#[derive(Debug, Serialize)]
pub struct Wants {
    pub read: Vec<String>,
    pub write: Vec<String>,
    pub exec: Vec<String>,
    pub env: Vec<String>,
    pub net: Vec<String>,
}

impl Session {
    /// Loads a pipeline and reports every stage's plugin (by digest), what
    /// the component imports, what the plugin says it wants and what the
    /// pipeline grants it, with the findings of the permission audit.
    ///
    /// # Errors
    ///
    /// Fails on a bad pipeline or a plugin that cannot be loaded. A plugin
    /// whose `describe` fails is a finding, not an error.
    pub async fn inspect(&self, pipeline: &std::path::Path) -> Result<InspectReport, EngineError> {
        let spec = pipeline::load(pipeline)?;
        let mut stages = Vec::new();
        for stage in &spec.stages {
            let kind = match &stage.kind {
                StageKind::Approval(gate) => StageReportKind::Approval {
                    role: gate.role.clone(),
                    min: gate.min,
                    forbid_self_approval: gate.forbid_self_approval,
                },
                StageKind::Plugin(plugin_stage) => {
                    let report = self.inspect_plugin(plugin_stage).await?;
                    StageReportKind::Plugin(Box::new(report))
                }
            };
            stages.push(StageReport {
                id: stage.id.to_string(),
                needs: stage.needs.iter().map(|n| n.to_string()).collect(),
                kind,
                findings: Vec::new(),
            });
        }
        add_findings(&spec, &mut stages);
        Ok(InspectReport {
            pipeline: spec.name.clone(),
            file: spec.display_path.clone(),
            workspace: spec.workspace.display().to_string(),
            policy: spec.policy.as_ref().map(|p| PolicyReport {
                id: p.id.clone(),
                version: p.version.clone(),
                file: p.file.display().to_string(),
                ceilings: p.rules.ceilings.clone(),
            }),
            finding_count: stages.iter().map(|s| s.findings.len()).sum(),
            stages,
        })
    }

    /// Loads one stage's plugin and asks it to describe itself.
    async fn inspect_plugin(&self, stage: &PluginStage) -> Result<PluginReport, EngineError> {
        let (label, bytes) = plugins::plugin_bytes(&stage.plugin)?;
        let plugin = self.host()?.load(&label, &bytes)?;
        let (describe, describe_error) = match self
            .host()?
            .describe(&plugin, Arc::new(DescribeEvents))
            .await
        {
            Ok(info) => (Some(described(info)), None),
            Err(fault) => {
                tracing::warn!(plugin = %label, "describe failed: {fault}");
                (None, Some(sandbox::printable(&fault.to_string())))
            }
        };
        // TODO(#3): a path plugin's kind is only what it says of itself;
        // under a trust policy, the kinds its signer may vouch for bound it.
        let kind = match &stage.plugin {
            PluginSource::Builtin(builtin) => PluginKind::from_name(builtin.name()),
            PluginSource::Path { .. } => describe
                .as_ref()
                .and_then(|d| PluginKind::from_name(&d.kind)),
        };
        Ok(PluginReport {
            plugin: label,
            source: stage.plugin.clone(),
            digest: plugin.digest,
            signer: None,
            kind,
            imports: plugin.imports,
            describe,
            describe_error,
            grants: stage.grants.clone(),
            limits: stage.limits,
        })
    }
}

/// Runs the audit's rules and files each finding under its stage.
fn add_findings(spec: &PipelineSpec, stages: &mut [StageReport]) {
    let facts: Vec<StageFacts<'_>> = spec
        .stages
        .iter()
        .zip(stages.iter())
        .filter_map(|(stage, report)| stage_facts(spec, stage, report))
        .collect();
    let policy = spec.policy.as_ref().map(|p| &p.rules);
    let mut found: Vec<Finding> = Vec::new();
    for (stage, report) in spec.stages.iter().zip(stages.iter()) {
        if let StageReportKind::Plugin(plugin) = &report.kind
            && let Some(error) = &plugin.describe_error
        {
            found.push(findings::describe_failed(stage.id.as_str(), error));
        }
        if let Some(stage_facts) = facts.iter().find(|f| f.id == stage.id.as_str()) {
            found.extend(findings::stage_findings(stage_facts, policy));
        }
    }
    found.extend(findings::pipeline_findings(&facts));
    for finding in found {
        if let Some(report) = stages.iter_mut().find(|s| s.id == finding.stage) {
            report.findings.push(finding);
        }
    }
}

/// What the rules need to know of a plugin stage; `None` for a gate.
fn stage_facts<'a>(
    spec: &'a PipelineSpec,
    stage: &'a StageSpec,
    report: &'a StageReport,
) -> Option<StageFacts<'a>> {
    let (StageKind::Plugin(plugin_stage), StageReportKind::Plugin(plugin)) =
        (&stage.kind, &report.kind)
    else {
        return None;
    };
    Some(StageFacts {
        id: stage.id.as_str(),
        upstream: spec
            .upstream(&stage.id)
            .iter()
            .map(|id| id.to_string())
            .collect(),
        imports: &plugin.imports,
        wants: plugin.describe.as_ref().map(|d| &d.wants),
        kind: plugin.kind,
        grants: &plugin_stage.grants,
        limits: &plugin_stage.limits,
    })
}

fn described(info: crate::host::bindings::types::PluginInfo) -> Described {
    let kind = match info.kind {
        WitKind::Build => PluginKind::Build,
        WitKind::Test => PluginKind::Test,
        WitKind::Scan => PluginKind::Scan,
        WitKind::Ato => PluginKind::Ato,
        WitKind::Promote => PluginKind::Promote,
        WitKind::Custom => PluginKind::Custom,
    };
    let Capabilities {
        read,
        write,
        exec,
        env,
        net,
    } = info.wants;
    // What a plugin says of itself is printed for the people deciding
    // whether to trust it: it must not be able to hide what follows.
    let printable = |items: Vec<String>| -> Vec<String> {
        items.iter().map(|i| sandbox::printable(i)).collect()
    };
    Described {
        name: sandbox::printable(&info.name),
        version: sandbox::printable(&info.version),
        kind: kind.as_str().to_owned(),
        wants: Wants {
            read: printable(read),
            write: printable(write),
            exec: printable(exec),
            env: printable(env),
            net: printable(net),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_plugin_says_of_itself_cannot_write_terminal_escapes() {
        let info = crate::host::bindings::types::PluginInfo {
            name: "scan\u{1b}[8m".into(),
            version: "1.0\n  write    (none)".into(),
            kind: WitKind::Custom,
            config_schema: "{}".into(),
            wants: Capabilities {
                read: Vec::new(),
                write: Vec::new(),
                exec: Vec::new(),
                env: Vec::new(),
                net: Vec::new(),
            },
        };
        let described = described(info);
        assert_eq!(described.name, "scan\\u{1b}[8m");
        assert_eq!(described.version, "1.0\\n  write    (none)");
    }
}
