//! The `gantry:ato` stage: assembles the ATO packet a reviewer reads before
//! approving a release.
//!
//! ```toml
//! [stage.config]
//! system = "Contact Tracing"    # optional; defaults to the image's name
//! ```
//!
//! It reads the upstream artifacts by name (`image` from build,
//! `test-report` from test, `sbom` and `findings` from scan) and writes
//! `/out/assessment-results.json` (OSCAL 1.1.2 assessment results) and
//! `/out/summary.md`, and has the host sign the assessment results with
//! the pipeline key into `/out/assessment-results.dsse.json`. Its verdict is always `pass`: the approval gate after
//! it is where a person decides.
//!
//! TODO(#4): the POA&M (`poam.json`), an HTML summary, and validation of
//! the OSCAL output against its schema.

mod inputs;
mod summary;

use std::time::{SystemTime, UNIX_EPOCH};

use gantry_plugin_core::oscal;
use gantry_plugin_sdk::{
    Artifact, Capabilities, Guest, PluginInfo, StageError, StageInput, StageKind, StageOutput,
    config, log, out, sign,
};
use serde::Deserialize;

use crate::inputs::Packet;

const CONFIG_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "system": { "type": "string", "description": "the system's name; default: the image's" }
  }
}"#;

/// The stage's `[stage.config]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct AtoConfig {
    #[serde(default)]
    system: Option<String>,
}

struct Ato;

impl Guest for Ato {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "ato".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            kind: StageKind::Ato,
            config_schema: CONFIG_SCHEMA.to_owned(),
            wants: Capabilities {
                read: vec!["/in".to_owned()],
                ..Capabilities::none()
            },
        }
    }

    fn run(input: StageInput) -> Result<StageOutput, StageError> {
        let config: AtoConfig = config::parse(&input.config)?;
        let packet = inputs::read_packet(&input, config.system, now())?;
        for name in &packet.missing {
            log::warn(
                "input artifact is missing from the packet",
                &[("artifact", name)],
            );
        }
        let document = oscal::assessment_results(&packet.assessment);
        out::write_json("assessment-results.json", &document)?;
        let signed = sign_packet("assessment-results.json", "assessment-results.dsse.json")?;
        let uuid = document.assessment_results.uuid;
        out::write("summary.md", summary::render(&packet, &uuid).as_bytes())?;

        let line = one_line(&packet);
        log::info(
            "wrote the ATO packet",
            &[("assessment", &uuid), ("result", &line)],
        );
        let mut output = StageOutput::pass(line)
            .with_artifact(
                "assessment-results",
                "application/json",
                "assessment-results.json",
            )
            .with_artifact("summary", "text/markdown", "summary.md")
            .with_metadata("assessment-uuid", uuid);
        output.artifacts.extend(signed);
        Ok(output)
    }
}

/// Has the host sign `packet` (under `/out`) with the pipeline key into
/// `envelope`; returns the envelope's artifact, or none when the host
/// refuses (this stage is not of kind `ato`), which it audits.
fn sign_packet(packet: &str, envelope: &str) -> Result<Vec<Artifact>, StageError> {
    let bytes = std::fs::read(out::path(packet))
        .map_err(|e| StageError::Internal(format!("failed to read back `{packet}`: {e}")))?;
    match sign::sign("application/vnd.oscal.assessment-results+json", &bytes) {
        Ok(text) => {
            out::write(envelope, text.as_bytes())?;
            Ok(vec![Artifact {
                name: "assessment-results-signature".to_owned(),
                media_type: "application/vnd.dsse.envelope.v1+json".to_owned(),
                path: envelope.to_owned(),
            }])
        }
        Err(refused @ sign::SignError::NotGranted(_)) => {
            log::warn(
                "the packet is not signed",
                &[("reason", &refused.to_string())],
            );
            Ok(Vec::new())
        }
        Err(error) => Err(StageError::Internal(format!(
            "failed to sign `{packet}`: {error}"
        ))),
    }
}

gantry_plugin_sdk::export!(Ato);

/// The wall clock as RFC 3339, or the epoch when the host offers none.
fn now() -> String {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    oscal::format_timestamp(seconds)
}

/// "packet for contact-tracing:0.1.0: 1 open finding (1 medium), tests passed".
fn one_line(packet: &Packet) -> String {
    let subject = match &packet.assessment.image {
        Some(image) => format!("{}:{}", image.name, image.version),
        None if packet.assessment.system.is_empty() => "an unnamed release".to_owned(),
        None => packet.assessment.system.clone(),
    };
    format!("packet for {subject}: {}", summary::status_line(packet))
}
