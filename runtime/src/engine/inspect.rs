//! `gantry inspect`: what every stage of a pipeline may touch, before
//! anything runs.

use std::sync::Arc;

use serde::Serialize;

use super::{EngineError, Session, plugins, sandbox};
use crate::grants::{Denial, DenialSink};
use crate::host::bindings::types::{Capabilities, StageKind as PluginKind};
use crate::host::{ExecRecord, HttpRecord, LogLevel, StageEvents};
use crate::pipeline::{self, StageGrants, StageKind};

/// A pipeline's permissions, stage by stage.
#[derive(Debug, Serialize)]
pub struct InspectReport {
    pub pipeline: String,
    pub file: String,
    pub workspace: String,
    pub stages: Vec<StageReport>,
}

/// One stage's plugin, grants and limits.
#[derive(Debug, Serialize)]
pub struct StageReport {
    pub id: String,
    pub needs: Vec<String>,
    #[serde(flatten)]
    pub kind: StageReportKind,
}

/// What a stage is.
#[derive(Debug, Serialize)]
#[expect(
    clippy::large_enum_variant,
    reason = "one value per stage of a report, printed once"
)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum StageReportKind {
    Plugin {
        plugin: String,
        digest: String,
        /// What the plugin says about itself; `None` when `describe` failed.
        describe: Option<Described>,
        grants: StageGrants,
        memory_bytes: u64,
        timeout_ms: u64,
        cpu_ms: u64,
        output_bytes: u64,
        out_bytes: u64,
        log_lines: u64,
        log_rate: u64,
        handles: u64,
    },
    Approval {
        role: String,
        min: u32,
        forbid_self_approval: bool,
    },
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
    /// the plugin says it wants, and what the pipeline grants it.
    ///
    /// TODO(#3): findings comparing wants, imports, grants and policy.
    ///
    /// # Errors
    ///
    /// Fails on a bad pipeline or a plugin that cannot be loaded.
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
                    let (label, bytes) = plugins::plugin_bytes(&plugin_stage.plugin)?;
                    let plugin = self.host()?.load(&label, &bytes)?;
                    let describe = self.host()?.describe(&plugin, Arc::new(Unheard)).await;
                    let describe = describe
                        .inspect_err(|e| tracing::warn!(plugin = %label, "describe failed: {e}"))
                        .ok()
                        .map(described);
                    StageReportKind::Plugin {
                        plugin: label,
                        digest: plugin.digest,
                        describe,
                        grants: plugin_stage.grants.clone(),
                        memory_bytes: plugin_stage.limits.memory,
                        timeout_ms: plugin_stage.limits.timeout.as_millis() as u64,
                        cpu_ms: plugin_stage.limits.cpu.as_millis() as u64,
                        output_bytes: plugin_stage.limits.output,
                        out_bytes: plugin_stage.limits.out_bytes,
                        log_lines: plugin_stage.limits.log_lines,
                        log_rate: plugin_stage.limits.log_rate,
                        handles: plugin_stage.limits.handles,
                    }
                }
            };
            stages.push(StageReport {
                id: stage.id.to_string(),
                needs: stage.needs.iter().map(|n| n.to_string()).collect(),
                kind,
            });
        }
        Ok(InspectReport {
            pipeline: spec.name.clone(),
            file: spec.display_path.clone(),
            workspace: spec.workspace.display().to_string(),
            stages,
        })
    }
}

fn described(info: crate::host::bindings::types::PluginInfo) -> Described {
    let kind = match info.kind {
        PluginKind::Build => "build",
        PluginKind::Test => "test",
        PluginKind::Scan => "scan",
        PluginKind::Ato => "ato",
        PluginKind::Promote => "promote",
        PluginKind::Custom => "custom",
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
    Described {
        name: sandbox::printable(&info.name),
        version: sandbox::printable(&info.version),
        kind: kind.to_owned(),
        wants: Wants {
            read,
            write,
            exec,
            env,
            net,
        },
    }
}

/// Events of a `describe` call, which is granted nothing and so has
/// nothing worth recording; a denial there is still logged.
struct Unheard;

impl DenialSink for Unheard {
    fn denied(&self, denial: &Denial) {
        tracing::warn!(capability = denial.capability, asked = ?denial.asked, "denied in describe");
    }
}

impl StageEvents for Unheard {
    fn log(&self, _level: LogLevel, _message: &str, _fields: &[(String, String)]) {}
    fn exec(&self, _record: &ExecRecord) {}
    fn http(&self, _record: &HttpRecord) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_plugin_says_of_itself_cannot_write_terminal_escapes() {
        let info = crate::host::bindings::types::PluginInfo {
            name: "scan\u{1b}[8m".into(),
            version: "1.0\n  write    (none)".into(),
            kind: PluginKind::Custom,
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
