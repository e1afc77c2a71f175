//! The `gantry:ato` stage: assembles the ATO packet a reviewer reads before
//! approving a release.
//!
//! ```toml
//! [stage.config]
//! system = "Contact Tracing"    # optional; defaults to the image's name
//! registry = "/mnt/registry"    # optional; where to find earlier releases
//! blocking = "high"             # optional; the default
//! ```
//!
//! It reads the upstream artifacts by name (`image` from build,
//! `test-report` and `junit` from test, `sbom` and `findings` from scan)
//! and writes `/out/assessment-results.json` (OSCAL assessment results),
//! `/out/poam.json` (the OSCAL plan of action and milestones, when anything
//! is open), `/out/summary.md` and `/out/summary.html` (the same summary
//! for people; findings at `blocking` severity or worse are listed first
//! as blocking), and `/out/release-facts.json`, which the promote stage
//! keeps so that the next release's summary can say what changed (see
//! [`history`]). The host signs the assessment results with the pipeline
//! key into `/out/assessment-results.dsse.json`. Its verdict is always
//! `pass`: the approval gate after it is where a person decides.

mod history;
mod html;
mod inputs;
mod summary;

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use gantry_plugin_core::oscal;
use gantry_plugin_sdk::{
    Artifact, Capabilities, Guest, PluginInfo, StageError, StageInput, StageKind, StageOutput,
    config, log, out, sign,
};
use serde::Deserialize;

use crate::history::{History, ReleaseFacts};
use crate::inputs::Packet;
use crate::summary::{PacketFiles, Summary};

const CONFIG_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "system": { "type": "string", "description": "the system's name; default: the image's" },
    "registry": {
      "type": "string",
      "description": "the registry as the plugin sees it, to compare with the last promoted release"
    },
    "blocking": {
      "enum": ["critical", "high", "medium", "low", "unknown"],
      "default": "high",
      "description": "findings this severe or worse are listed as blocking"
    }
  }
}"#;

/// The stage's `[stage.config]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct AtoConfig {
    #[serde(default)]
    system: Option<String>,
    #[serde(default)]
    registry: Option<String>,
    #[serde(default = "default_blocking")]
    blocking: String,
}

fn default_blocking() -> String {
    "high".to_owned()
}

/// Checks what serde cannot.
fn check_config(config: &AtoConfig) -> Result<(), StageError> {
    if summary::severity_rank(&config.blocking) > summary::severity_rank("unknown") {
        let problem = format!(
            "`{}` is not a severity: critical, high, medium, low or unknown",
            config.blocking
        );
        return Err(config::invalid("blocking", problem));
    }
    if let Some(registry) = &config.registry
        && !registry.starts_with('/')
    {
        return Err(config::invalid(
            "registry",
            "must be an absolute path, e.g. /mnt/registry",
        ));
    }
    Ok(())
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
                read: vec!["/in".to_owned(), "/mnt/registry".to_owned()],
                ..Capabilities::none()
            },
        }
    }

    fn run(input: StageInput) -> Result<StageOutput, StageError> {
        let config: AtoConfig = config::parse(&input.config)?;
        check_config(&config)?;
        let packet = inputs::read_packet(&input, config.system.clone(), now())?;
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
        let mut output = StageOutput::pass(one_line(&packet)).with_artifact(
            "assessment-results",
            "application/json",
            "assessment-results.json",
        );
        let plan = oscal::poam(&packet.assessment);
        if let Some(plan) = &plan {
            out::write_json("poam.json", plan)?;
            output = output.with_artifact("poam", "application/json", "poam.json");
        }

        let facts = ReleaseFacts::of(&packet);
        out::write_json("release-facts.json", &facts)?;
        let history = match &config.registry {
            Some(registry) => history::compare(Path::new(registry), &facts)?,
            None => History::NotConfigured,
        };
        let files = PacketFiles {
            assessment_uuid: uuid.clone(),
            poam_uuid: plan.map(|plan| plan.poam.uuid),
        };
        let summary = Summary::of(&packet, &files, &history, &config.blocking);
        out::write("summary.md", summary.to_markdown().as_bytes())?;
        out::write("summary.html", html::render(&summary).as_bytes())?;

        log::info(
            "wrote the ATO packet",
            &[("assessment", &uuid), ("verdict", &summary.verdict)],
        );
        let mut output = output
            .with_artifact("summary", "text/markdown", "summary.md")
            .with_artifact("summary-html", "text/html", "summary.html")
            .with_artifact("release-facts", "application/json", "release-facts.json")
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
