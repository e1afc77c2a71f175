//! What the hostile test plugins share: a record of what happened to each
//! attack, and the stage output that reports it.
//!
//! A hostile plugin tries things its sandbox must refuse, and a few things
//! it must allow, so that a refusal is known to come from the sandbox and
//! not from a missing file. Each attempt becomes one metadata entry,
//! `attempt.<label>`, whose value starts with what happened:
//!
//! - `refused: <error>`: the sandbox said no, as it must;
//! - `ESCAPED: <evidence>`: an attack got through, with what it got;
//! - `allowed: <evidence>`: a legitimate request worked, as it must;
//! - `BLOCKED: <error>`: a legitimate request was refused.
//!
//! The verdict is `pass` when every attempt went the way it must, and `fail`
//! naming the ones that did not, so an end-to-end test can assert on the
//! plugin's view as well as on the facts it checks on the host.

pub mod raw;

use std::fmt::Display;
use std::fs;
use std::io;

use gantry_plugin_sdk::{Capabilities, PluginInfo, StageKind, StageOutput, log};

/// How many bytes of what an attack read are kept as evidence.
const EVIDENCE_BYTES: usize = 64;
/// How many characters of an error message are kept.
const ERROR_CHARS: usize = 300;

/// What one attempt ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// An attack the sandbox refused, with the error the plugin saw.
    Refused(String),
    /// An attack that got through, with what it got.
    Escaped(String),
    /// A legitimate request that worked, with what it returned.
    Allowed(String),
    /// A legitimate request the sandbox refused, with the error.
    Blocked(String),
}

impl Outcome {
    fn describe(&self) -> String {
        match self {
            Outcome::Refused(error) => format!("refused: {error}"),
            Outcome::Escaped(evidence) => format!("ESCAPED: {evidence}"),
            Outcome::Allowed(evidence) => format!("allowed: {evidence}"),
            Outcome::Blocked(error) => format!("BLOCKED: {error}"),
        }
    }
}

/// The attempts of one stage, in the order they were made.
#[derive(Debug, Default)]
pub struct Attempts {
    entries: Vec<(String, Outcome)>,
}

impl Attempts {
    /// An empty record.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records an attack the sandbox must refuse: `Ok(evidence)` means it
    /// got through, an error that it was refused.
    pub fn must_refuse<E: Display>(&mut self, label: &str, result: Result<String, E>) {
        let outcome = match result {
            Ok(evidence) => Outcome::Escaped(evidence),
            Err(error) => Outcome::Refused(shorten(&error.to_string())),
        };
        self.record(label, outcome);
    }

    /// Records a legitimate request the sandbox must allow.
    pub fn must_allow<E: Display>(&mut self, label: &str, result: Result<String, E>) {
        let outcome = match result {
            Ok(evidence) => Outcome::Allowed(evidence),
            Err(error) => Outcome::Blocked(shorten(&error.to_string())),
        };
        self.record(label, outcome);
    }

    /// Records an outcome decided by the plugin itself, and logs it.
    pub fn record(&mut self, label: &str, outcome: Outcome) {
        let text = outcome.describe();
        log::info("attempt", &[("label", label), ("outcome", &text)]);
        self.entries.push((label.to_owned(), outcome));
    }

    /// The stage's output: one metadata entry per attempt, and `pass`
    /// only when every attempt went the way it must.
    pub fn into_output(self) -> StageOutput {
        let escaped = self.labels(|outcome| matches!(outcome, Outcome::Escaped(_)));
        let blocked = self.labels(|outcome| matches!(outcome, Outcome::Blocked(_)));
        let mut wrong = Vec::new();
        if !escaped.is_empty() {
            wrong.push(format!("escaped the sandbox: {escaped}"));
        }
        if !blocked.is_empty() {
            wrong.push(format!("refused though legitimate: {blocked}"));
        }
        let mut output = if wrong.is_empty() {
            StageOutput::pass(format!(
                "{} attempts, each refused or allowed as it must be",
                self.entries.len()
            ))
        } else {
            StageOutput::fail(wrong.join("; "))
        };
        for (label, outcome) in &self.entries {
            output = output.with_metadata(&format!("attempt.{label}"), outcome.describe());
        }
        output
    }

    /// The labels of the attempts whose outcome matches, joined by commas.
    fn labels(&self, matches: impl Fn(&Outcome) -> bool) -> String {
        let labels: Vec<&str> = self
            .entries
            .iter()
            .filter(|(_, outcome)| matches(outcome))
            .map(|(label, _)| label.as_str())
            .collect();
        labels.join(", ")
    }
}

/// The first bytes of `bytes` as printable text: evidence of what a read
/// returned.
pub fn first_bytes(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(EVIDENCE_BYTES)];
    let text: String = String::from_utf8_lossy(head).escape_debug().collect();
    format!("{} bytes: {text}", bytes.len())
}

/// Reads the file at `path`, as evidence: its size and first bytes.
///
/// # Errors
///
/// The error the sandbox gave.
pub fn read(path: &str) -> io::Result<String> {
    fs::read(path).map(|bytes| first_bytes(&bytes))
}

/// Looks the file at `path` up, as evidence: even the size of a file
/// outside the grants is a leak.
///
/// # Errors
///
/// The error the sandbox gave.
pub fn stat(path: &str) -> io::Result<String> {
    fs::metadata(path).map(|meta| format!("exists, {} bytes", meta.len()))
}

/// Lists the directory at `path`, as evidence: its sorted names.
///
/// # Errors
///
/// The error the sandbox gave, for the directory or any entry.
pub fn list(path: &str) -> io::Result<String> {
    let mut names = fs::read_dir(path)?
        .map(|entry| entry.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<io::Result<Vec<_>>>()?;
    names.sort();
    Ok(format!("lists [{}]", names.join(", ")))
}

/// What a hostile plugin says about itself: a custom stage that wants
/// `wants` and takes any config object.
pub fn plugin_info(name: &str, wants: Capabilities) -> PluginInfo {
    PluginInfo {
        name: name.to_owned(),
        version: "0.1.0".to_owned(),
        kind: StageKind::Custom,
        config_schema: r#"{"type":"object"}"#.to_owned(),
        wants,
    }
}

/// Keeps error messages short and on one line.
fn shorten(message: &str) -> String {
    message
        .chars()
        .filter(|c| !c.is_control())
        .take(ERROR_CHARS)
        .collect()
}

#[cfg(test)]
mod tests {
    use gantry_plugin_sdk::Verdict;

    use super::*;

    /// Attempts made without logging, which needs the host.
    fn attempts(entries: &[(&str, Outcome)]) -> Attempts {
        Attempts {
            entries: entries
                .iter()
                .map(|(label, outcome)| ((*label).to_owned(), outcome.clone()))
                .collect(),
        }
    }

    #[test]
    fn refusals_and_allowed_requests_pass() {
        let output = attempts(&[
            ("a", Outcome::Refused("not-permitted".into())),
            ("b", Outcome::Allowed("4 bytes: data".into())),
        ])
        .into_output();
        assert_eq!(output.verdict, Verdict::Pass);
        assert_eq!(
            output.metadata,
            [
                ("attempt.a".to_owned(), "refused: not-permitted".to_owned()),
                ("attempt.b".to_owned(), "allowed: 4 bytes: data".to_owned()),
            ]
        );
    }

    #[test]
    fn an_escape_or_a_blocked_request_fails_naming_it() {
        let output = attempts(&[
            ("a", Outcome::Refused("no".into())),
            ("b", Outcome::Escaped("6 bytes: secret".into())),
            ("c", Outcome::Blocked("no".into())),
            ("d", Outcome::Escaped("lists [secret]".into())),
        ])
        .into_output();
        assert_eq!(
            output.verdict,
            Verdict::Fail("escaped the sandbox: b, d; refused though legitimate: c".into())
        );
        assert_eq!(output.metadata[1].1, "ESCAPED: 6 bytes: secret");
    }

    #[test]
    fn evidence_keeps_the_first_bytes_printable() {
        let bytes = [b"root:x:0\n\x1b".as_slice(), &[b'a'; 100]].concat();
        let evidence = first_bytes(&bytes);
        assert!(
            evidence.starts_with("110 bytes: root:x:0\\n\\u{1b}aaa"),
            "{evidence}"
        );
        assert!(!evidence.contains('\x1b'));
    }

    #[test]
    fn errors_are_cut_to_one_short_line() {
        let long = format!("line one\nline two {}", "x".repeat(1000));
        let short = shorten(&long);
        assert_eq!(short.chars().count(), ERROR_CHARS);
        assert!(short.starts_with("line oneline two"));
    }
}
