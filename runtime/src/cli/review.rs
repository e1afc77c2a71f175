//! Reviewing a run at its gate from the terminal that started it.
//!
//! The ATO summary is shown, then the reviewer names themselves and
//! decides. The same checks as `gantry approve` apply: the identity must
//! hold the gate's role and, where self-approval is forbidden, must not be
//! the initiator. An empty answer leaves the run waiting.

use std::io::{BufRead, Read, Write};
use std::path::Path;

use super::output;
use crate::engine::{Progress, RunRecord, RunStatus, Session, StageStatus};

/// Asks for a review of `record` and, when approved, drives the run on.
///
/// # Errors
///
/// Fails when the terminal cannot be read or the run cannot go on.
pub async fn at_terminal(
    session: &Session,
    mut record: RunRecord,
    progress: &dyn Progress,
) -> anyhow::Result<RunRecord> {
    show_summary(session, &record);
    while record.status == RunStatus::AwaitingApproval {
        let gate = waiting_gate(&record);
        let Some(identity) = ask(&format!(
            "Who reviews stage `{gate}`? (identity; empty to stop here) "
        ))?
        else {
            return Ok(record);
        };
        let Some(choice) = ask(&format!("{identity}: [a]pprove or [r]eject? "))? else {
            continue;
        };
        // An identity the roles file binds a key to signs with it.
        let key = match session.must_sign(&record.id, &identity)? {
            false => None,
            true => match ask(&format!("{identity}'s private key file: "))? {
                Some(path) => match crate::audit::keys::load_private_key(Path::new(path.trim())) {
                    Ok(key) => Some(key),
                    Err(err) => {
                        eprintln!("  refused: {err}");
                        continue;
                    }
                },
                None => continue,
            },
        };
        let decided = if choice.starts_with('r') {
            let reason =
                ask("Reason for the record: ")?.unwrap_or_else(|| "no reason given".into());
            session.reject(&record.id, &identity, &reason, key.as_ref())
        } else if choice.starts_with('a') {
            session.approve(&record.id, &identity, key.as_ref())
        } else {
            eprintln!("  answer `a` or `r`");
            continue;
        };
        match decided {
            Ok(updated) => record = updated,
            Err(err) => {
                eprintln!("  refused: {err}");
                continue;
            }
        }
        if gate_passed(&record) {
            let mut prepared = session.reopen(&record.id).await?;
            record = session.drive(&mut prepared, progress).await?;
        }
    }
    Ok(record)
}

fn waiting_gate(record: &RunRecord) -> String {
    record
        .stages
        .iter()
        .find(|s| s.status == StageStatus::AwaitingApproval)
        .map(|s| s.id.clone())
        .unwrap_or_default()
}

fn gate_passed(record: &RunRecord) -> bool {
    record.status == RunStatus::AwaitingApproval
        && !record
            .stages
            .iter()
            .any(|s| s.status == StageStatus::AwaitingApproval)
}

/// Prints the reviewer's summary (the artifact named `summary`) of the
/// latest stage that wrote one.
fn show_summary(session: &Session, record: &RunRecord) {
    let found = record.stages.iter().rev().find_map(|stage| {
        let artifact = stage.artifacts.iter().find(|a| a.name == "summary")?;
        let dir = session.state().stage_dir(&record.id, &stage.id);
        Some(dir.join("out").join(&artifact.path))
    });
    let Some(path) = found else {
        eprintln!("(no stage wrote a `summary` artifact to review)");
        return;
    };
    // The plugin wrote this file: it may hold escapes that would hide or
    // fake what the reviewer is about to approve, and may be huge.
    match read_start(&path, MAX_SUMMARY) {
        Ok(text) => eprintln!("\n{}", output::terminal_safe(&text)),
        Err(err) => eprintln!("(failed to read `{}`: {err})", path.display()),
    }
}

/// The most of a summary shown at the gate.
const MAX_SUMMARY: u64 = 256 * 1024;

/// The first `max` bytes of a file, as text.
fn read_start(path: &std::path::Path, max: u64) -> std::io::Result<String> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(max)
        .read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Prompts on stderr and reads one trimmed line; `None` for an empty line
/// or the end of input.
fn ask(prompt: &str) -> anyhow::Result<Option<String>> {
    eprint!("{prompt}");
    std::io::stderr().flush()?;
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line)?;
    let answer = line.trim().to_owned();
    Ok((read > 0 && !answer.is_empty()).then_some(answer))
}
