//! `gantry audit verify`: the hash chain, and the chain heads runs recorded.
//!
//! The chain alone proves that no line was changed, removed from the middle
//! or reordered, but a log cut short is still a valid chain. Each run
//! records the chain's head at every stage boundary, so a head that is no
//! longer in the log shows that lines were cut from its end.

use std::collections::HashSet;
use std::path::Path;

use crate::audit::{self, VerifySummary};

use super::record::RunRecord;

/// An intact trail.
#[derive(Debug, serde::Serialize)]
pub struct TrailSummary {
    #[serde(flatten)]
    pub chain: VerifySummary,
    /// Recorded heads found in the log.
    pub heads_checked: usize,
}

/// Verifies the audit log of `state_dir` and every head its runs recorded.
///
/// # Errors
///
/// A message naming the first bad line, or the run and stage whose recorded
/// head is missing from the log.
pub fn verify_trail(state_dir: &Path) -> Result<TrailSummary, String> {
    let log = state_dir.join("audit.jsonl");
    let chain = audit::verify(&log).map_err(|e| e.to_string())?;
    let events = audit::read_events(&log, None).map_err(|e| e.to_string())?;
    let hashes: HashSet<&str> = events.iter().filter_map(|e| e["hash"].as_str()).collect();

    let mut heads_checked = 0;
    for record in run_records(state_dir)? {
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
    Ok(TrailSummary {
        chain,
        heads_checked,
    })
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
