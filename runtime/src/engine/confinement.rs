//! Whether the programs a pipeline runs through `exec` can be confined,
//! and what a run does when they cannot.
//!
//! Under a policy with `[exec] confinement = "require"`, a run whose stages
//! may run programs is refused before anything runs when the kernel cannot
//! confine them; the refusal is audited. Under `best-effort` the run goes
//! on, and every such stage's start event and log say it is unconfined.

use serde_json::json;

use super::{EngineError, Session};
use crate::grants::confine::{ConfinementSupport, confinement_support};
use crate::pipeline::{Confinement, PipelineSpec, PluginStage};
use crate::store::RunId;

impl Session {
    /// Refuses a run that the policy requires confined when the kernel
    /// cannot confine its programs, recording the refusal under `run`.
    ///
    /// # Errors
    ///
    /// [`EngineError::Unconfinable`] naming the stages and the reason.
    pub(super) fn check_confinement(
        &self,
        spec: &PipelineSpec,
        run: &RunId,
    ) -> Result<(), EngineError> {
        let required = spec
            .policy
            .as_ref()
            .is_some_and(|p| p.rules.exec.confinement == Confinement::Require);
        let support = confinement_support();
        let Some(reason) = support.missing.clone().filter(|_| required) else {
            return Ok(());
        };
        let stages: Vec<String> = spec
            .stages
            .iter()
            .filter(|s| s.plugin().is_some_and(|p| !p.grants.exec.is_empty()))
            .map(|s| s.id.to_string())
            .collect();
        if stages.is_empty() {
            return Ok(());
        }
        self.audit(
            run,
            "run-refused",
            json!({
                "pipeline": spec.name,
                "reason": "exec-unconfinable",
                "stages": stages,
                "exec_confinement": support,
            }),
        )?;
        Err(EngineError::Unconfinable { stages, reason })
    }
}

/// What the stage-start event records of a stage's programs: `None` when
/// it may run none.
pub(super) fn stage_confinement(
    stage: &PluginStage,
) -> Option<(&'static ConfinementSupport, String)> {
    if stage.grants.exec.is_empty() {
        return None;
    }
    let support = confinement_support();
    Some((support, support.stage_line(!stage.grants.net.is_empty())))
}
