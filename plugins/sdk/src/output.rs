//! Constructors that keep plugins' `describe` and `run` short.

use crate::{Artifact, Capabilities, Finding, StageOutput, Verdict};

impl Capabilities {
    /// Asks for nothing; add what the plugin needs with struct update syntax.
    pub fn none() -> Self {
        Capabilities {
            read: vec![],
            write: vec![],
            exec: vec![],
            env: vec![],
            net: vec![],
        }
    }
}

impl StageOutput {
    /// An output with `verdict`, a one-line `summary`, and nothing else yet.
    pub fn new(verdict: Verdict, summary: impl Into<String>) -> Self {
        StageOutput {
            verdict,
            artifacts: vec![],
            findings: vec![],
            metadata: vec![],
            summary: summary.into(),
        }
    }

    /// A passing output with a one-line `summary`.
    pub fn pass(summary: impl Into<String>) -> Self {
        Self::new(Verdict::Pass, summary)
    }

    /// A failing output: `reason` is both the verdict's reason and the summary.
    pub fn fail(reason: impl Into<String>) -> Self {
        let reason = reason.into();
        Self::new(Verdict::Fail(reason.clone()), reason)
    }

    /// Declares an artifact written at `path`, relative to `/out`.
    pub fn with_artifact(mut self, name: &str, media_type: &str, path: &str) -> Self {
        self.artifacts.push(Artifact {
            name: name.to_owned(),
            media_type: media_type.to_owned(),
            path: path.to_owned(),
        });
        self
    }

    /// Adds one key/value fact for the run record.
    pub fn with_metadata(mut self, key: &str, value: impl Into<String>) -> Self {
        self.metadata.push((key.to_owned(), value.into()));
        self
    }

    /// Adds findings to report.
    pub fn with_findings(mut self, findings: impl IntoIterator<Item = Finding>) -> Self {
        self.findings.extend(findings);
        self
    }
}
