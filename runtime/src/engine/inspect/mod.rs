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
use super::trust::{self, Voucher};
use super::{EngineError, Session, plugins, sandbox};
use crate::host::Import;
use crate::host::bindings::types::Capabilities;
use crate::pipeline::{
    self, Ceiling, Confinement, PipelineSpec, PluginKind, PluginSource, PluginStage, Policy,
    StageGrants, StageKind, StageLimits, StageSpec,
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
    /// Who vouches for the component: `builtin` or a policy signer; `None`
    /// for a plugin file when the policy has no `[trust]` (signatures are
    /// then not checked).
    pub signer: Option<Voucher>,
    /// Why the policy's `[trust]` refuses the plugin, when it does; such a
    /// plugin is neither compiled nor described.
    pub untrusted: Option<String>,
    /// The stage's kind, for the policy's ceilings: its signed kind, a
    /// standard plugin's own, else what `describe` says; `None` when
    /// nothing says.
    pub kind: Option<PluginKind>,
    /// The interfaces the component imports, with what each gives it.
    pub imports: Vec<Import>,
    /// Whether the host signs for the stage through the `sign` import: only
    /// for a stage of kind `ato`.
    pub may_sign: bool,
    /// What the plugin says about itself; `None` when `describe` failed.
    pub describe: Option<Described>,
    /// Why `describe` failed, when it did.
    pub describe_error: Option<String>,
    pub grants: StageGrants,
    pub limits: StageLimits,
    /// How the programs the stage may run would be confined; `None` when
    /// it may run none.
    pub exec_confinement: Option<ExecConfinement>,
}

/// How the kernel would confine a stage's programs.
#[derive(Debug, Serialize)]
pub struct ExecConfinement {
    pub confined: bool,
    /// The Landlock ABI in use, 0 without Landlock.
    pub landlock_abi: u32,
    /// One line for people, as the stage log shows it.
    pub summary: String,
    /// Whether the policy requires confinement (`[exec] confinement =
    /// "require"`): an unconfined stage then refuses the run.
    pub required: bool,
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
                    let policy = spec.policy.as_ref().map(|p| &p.rules);
                    let report = self.inspect_plugin(policy, plugin_stage).await?;
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

    /// Checks one stage's plugin against the policy's trust, then loads it
    /// and asks it to describe itself. A plugin the trust policy refuses is
    /// reported, never compiled or run.
    async fn inspect_plugin(
        &self,
        policy: Option<&Policy>,
        stage: &PluginStage,
    ) -> Result<PluginReport, EngineError> {
        let (label, bytes) = plugins::plugin_bytes(&stage.plugin)?;
        let digest = crate::store::sha256_bytes(&bytes);
        let mut report = PluginReport {
            plugin: label,
            source: stage.plugin.clone(),
            digest,
            signer: None,
            untrusted: None,
            kind: None,
            imports: Vec::new(),
            may_sign: false,
            describe: None,
            describe_error: None,
            grants: stage.grants.clone(),
            limits: stage.limits,
            exec_confinement: exec_confinement(policy, stage),
        };
        let mut provenance = match trust::vouch_for(policy, &stage.plugin, &report.digest) {
            Ok(provenance) => provenance,
            Err(refusal) => {
                report.untrusted = Some(sandbox::printable(&refusal.to_string()));
                return Ok(report);
            }
        };
        let plugin = self.host()?.load(&report.plugin, &bytes)?;
        report.imports = plugin.imports.clone();
        let described = match self
            .host()?
            .describe(&plugin, Arc::new(DescribeEvents))
            .await
        {
            Ok(info) => {
                let kind = trust::described_kind(info.kind);
                report.describe = Some(described(info));
                Ok(kind)
            }
            Err(fault) => {
                tracing::warn!(plugin = %report.plugin, "describe failed: {fault}");
                let error = sandbox::printable(&fault.to_string());
                report.describe_error = Some(error.clone());
                Err(error)
            }
        };
        if let Err(refusal) = trust::settle_kind(&mut provenance, described, policy) {
            report.untrusted = Some(sandbox::printable(&refusal.to_string()));
        }
        report.signer = provenance.signer;
        report.kind = provenance.kind;
        report.may_sign = provenance.kind == Some(PluginKind::Ato);
        Ok(report)
    }
}

/// How a stage's programs would be confined, if it may run any.
fn exec_confinement(policy: Option<&Policy>, stage: &PluginStage) -> Option<ExecConfinement> {
    let (support, summary) = super::confinement::stage_confinement(stage)?;
    Some(ExecConfinement {
        confined: support.confined(),
        landlock_abi: support.landlock_abi,
        summary,
        required: policy.is_some_and(|p| p.exec.confinement == Confinement::Require),
    })
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
        if let StageReportKind::Plugin(plugin) = &report.kind {
            let id = stage.id.as_str();
            if let Some(reason) = &plugin.untrusted {
                found.push(findings::untrusted(id, reason));
            }
            if let Some(error) = &plugin.describe_error {
                found.push(findings::describe_failed(id, error));
            }
            if let Some(confinement) = plugin.exec_confinement.as_ref().filter(|c| !c.confined) {
                found.push(findings::exec_unconfined(
                    id,
                    &confinement.summary,
                    confinement.required,
                ));
            }
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
    let kind = trust::described_kind(info.kind);
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
            kind: crate::host::bindings::types::StageKind::Custom,
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
