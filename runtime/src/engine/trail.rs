//! `gantry audit verify`: the hash chain, and the chain heads runs recorded.
//!
//! The chain alone proves that no line was changed, removed from the middle
//! or reordered, but a log cut short is still a valid chain. Each run
//! records the chain's head at every stage boundary, so a head that is no
//! longer in the log shows that lines were cut from its end. Then every
//! signature in the trail is checked ([`super::signatures`]).

use std::collections::HashSet;
use std::path::Path;

use crate::audit::{self, VerifySummary};

use super::record::RunRecord;
use super::signatures::{SignatureSummary, verify_signatures};
use super::{EngineError, Session};

/// An intact trail.
#[derive(Debug, serde::Serialize)]
pub struct TrailSummary {
    #[serde(flatten)]
    pub chain: VerifySummary,
    /// Recorded heads found in the log.
    pub heads_checked: usize,
    /// Checkpoints, attestations and decisions whose signatures hold.
    pub signatures: SignatureSummary,
}

/// Verifies the audit log of `state_dir` and every head its runs recorded.
///
/// # Errors
///
/// A message naming the first bad line, or the run and stage whose recorded
/// head is missing from the log.
pub fn verify_trail(state_dir: &Path) -> Result<TrailSummary, String> {
    let log = state_dir.join("audit.jsonl");
    let chain = audit::verify(&log).map_err(|e| error_chain(&e))?;
    let events = audit::read_events(&log, None).map_err(|e| error_chain(&e))?;
    let hashes: HashSet<&str> = events.iter().filter_map(|e| e["hash"].as_str()).collect();

    let mut heads_checked = 0;
    let records = run_records(state_dir)?;
    for record in &records {
        for stage in &record.stages {
            let Some(head) = &stage.audit_head else {
                continue;
            };
            if !hashes.contains(head.as_str()) {
                return Err(format!(
                    "audit log `{}` is broken: run {} recorded chain head {head} after stage \
                     `{}`, but no line has that hash: lines were removed from the end",
                    log.display(),
                    record.id,
                    stage.id
                ));
            }
            heads_checked += 1;
        }
    }
    let signatures = verify_signatures(&log, &state_dir.join("runs"), &events, &records)?;
    Ok(TrailSummary {
        chain,
        heads_checked,
        signatures,
    })
}

/// An error and its causes on one line: "failed to read `x`: Is a
/// directory (os error 21)".
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(&format!(": {inner}"));
        cause = inner.source();
    }
    text
}

impl Session {
    /// Checks that the audit log still holds every chain head `record`
    /// recorded, so that a run never goes on over a trail cut short.
    ///
    /// # Errors
    ///
    /// [`EngineError::TrailCut`] naming the first head that is missing.
    pub(super) fn check_trail_holds(&self, record: &RunRecord) -> Result<(), EngineError> {
        let recorded: Vec<(&str, &str)> = record
            .stages
            .iter()
            .filter_map(|s| Some((s.id.as_str(), s.audit_head.as_deref()?)))
            .collect();
        if recorded.is_empty() {
            return Ok(());
        }
        let events = audit::read_events(&self.state().audit_path(), None)?;
        let hashes: HashSet<&str> = events.iter().filter_map(|e| e["hash"].as_str()).collect();
        match recorded.iter().find(|(_, head)| !hashes.contains(head)) {
            None => Ok(()),
            Some((stage, head)) => Err(EngineError::TrailCut {
                run: record.id.clone(),
                stage: (*stage).to_owned(),
                head: (*head).to_owned(),
            }),
        }
    }
}

fn run_records(state_dir: &Path) -> Result<Vec<RunRecord>, String> {
    let runs = state_dir.join("runs");
    let Ok(entries) = std::fs::read_dir(&runs) else {
        return Ok(Vec::new());
    };
    let mut records = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path().join("run.json");
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let record = serde_json::from_slice(&bytes)
            .map_err(|e| format!("failed to read run record `{}`: {e}", path.display()))?;
        records.push(record);
    }
    Ok(records)
}
