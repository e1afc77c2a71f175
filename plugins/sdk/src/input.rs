//! Finding the artifacts upstream stages produced.
//!
//! Besides its artifacts, a [`StageInput`] carries the policy's rules for
//! stages in `policy_rules`: JSON text, `{}` when there are none, as the
//! WIT describes it (`gantry_plugin_core::policy::PolicyRules::parse`
//! reads it). A plugin never reads the policy file itself.

use std::path::PathBuf;

use crate::{InputArtifact, StageError, StageInput};

/// Returns the first upstream artifact called `name`, if any.
pub fn find<'a>(input: &'a StageInput, name: &str) -> Option<&'a InputArtifact> {
    input
        .artifacts
        .iter()
        .find(|artifact| artifact.name == name)
}

/// Returns the upstream artifact called `name`.
///
/// # Errors
///
/// Returns [`StageError::MissingInput`] naming the artifact, and the stages
/// whose outputs were offered, when no upstream stage produced it.
pub fn require<'a>(input: &'a StageInput, name: &str) -> Result<&'a InputArtifact, StageError> {
    find(input, name).ok_or_else(|| {
        let mut stages: Vec<&str> = input.artifacts.iter().map(|a| a.stage.as_str()).collect();
        stages.sort_unstable();
        stages.dedup();
        let offered = if stages.is_empty() {
            "no upstream stage produced any".to_owned()
        } else {
            format!("upstream stages: {}", stages.join(", "))
        };
        StageError::MissingInput(format!(
            "no input artifact `{name}` ({offered}); does the stage need the stage that makes it?"
        ))
    })
}

/// The artifact's location in the sandbox, e.g. `/in/build/image`.
pub fn path(artifact: &InputArtifact) -> PathBuf {
    PathBuf::from(&artifact.path)
}
