//! The `gantry:promote` stage: copies the built image into the registry and
//! records the release in the service catalogue.
//!
//! ```toml
//! [stage.config]
//! registry = "/mnt/registry"   # as the plugin sees it; the default
//! canary-weight = 10           # percent of traffic for the new version
//! ttl = "720h"
//! # name and version default to the image's own annotations
//! ```
//!
//! The registry holds one OCI layout per image name, `<registry>/<name>/`,
//! with the version as the manifest's tag, and `<registry>/catalogue.json`
//! (see [`catalogue`] for how traffic is split). When the ato stage wrote
//! `release-facts.json`, it is kept at
//! `<registry>/_releases/<name>/<version>.json`, where the next release's
//! packet finds it to say what changed. Every file is written beside its
//! final name and renamed into place.

mod catalogue;

use std::fs;
use std::path::Path;

use gantry_plugin_core::oci::{self, ANNOTATION_TITLE};
use gantry_plugin_sdk::{
    Capabilities, Guest, PluginInfo, ResultExt, StageError, StageInput, StageKind, StageOutput,
    config, input, log, out,
};
use serde::{Deserialize, Serialize};

use crate::catalogue::{Catalogue, Promotion, Route, VersionRecord};

const CONFIG_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "registry": { "type": "string", "default": "/mnt/registry" },
    "canary-weight": { "type": "integer", "minimum": 0, "maximum": 100, "default": 10 },
    "ttl": { "type": "string", "pattern": "^[1-9][0-9]*[smhd]$", "default": "720h" },
    "name": { "type": "string", "pattern": "^[a-z0-9]+([._-][a-z0-9]+)*$" },
    "version": { "type": "string", "pattern": "^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$" }
  }
}"#;

/// The stage's `[stage.config]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct PromoteConfig {
    #[serde(default = "default_registry")]
    registry: String,
    #[serde(default = "default_canary_weight")]
    canary_weight: u8,
    #[serde(default = "default_ttl")]
    ttl: String,
    name: Option<String>,
    version: Option<String>,
}

fn default_registry() -> String {
    "/mnt/registry".to_owned()
}

fn default_canary_weight() -> u8 {
    10
}

fn default_ttl() -> String {
    "720h".to_owned()
}

/// `/out/promotion.json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
struct PromotionReport {
    service: String,
    /// The layout the image was copied into, as the plugin saw it.
    layout: String,
    /// The digest the same tag pointed at before, when it was replaced.
    replaced_digest: Option<String>,
    #[serde(flatten)]
    record: VersionRecord,
    stable: Option<Route>,
    canary: Option<Route>,
}

struct Promote;

impl Guest for Promote {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "promote".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            kind: StageKind::Promote,
            config_schema: CONFIG_SCHEMA.to_owned(),
            wants: Capabilities {
                read: vec!["/in".to_owned()],
                write: vec![default_registry()],
                ..Capabilities::none()
            },
        }
    }

    fn run(input: StageInput) -> Result<StageOutput, StageError> {
        let config: PromoteConfig = config::parse(&input.config)?;
        check_config(&config)?;
        let image = input::require(&input, "image")?;
        let (service, version) = image_identity(&config, Path::new(&image.path))?;

        let registry = Path::new(&config.registry);
        let layout = registry.join(&service);
        let copied = oci::copy_image(Path::new(&image.path), &layout, &version)
            .or_internal(|| format!("failed to copy the image into `{}`", layout.display()))?;
        let digest = copied.descriptor.digest.to_string();
        log::info(
            "copied image",
            &[("layout", &layout.to_string_lossy()), ("digest", &digest)],
        );

        let promotion = Promotion {
            service: service.clone(),
            version,
            image_digest: digest.clone(),
            run_id: input.run_id.clone(),
            ttl: config.ttl.clone(),
            canary_weight: config.canary_weight,
        };
        let (record, routes) = record_promotion(registry, &promotion)?;
        if let Some(facts) = input::find(&input, "release-facts") {
            keep_release_facts(registry, &service, &record.version, Path::new(&facts.path))?;
        }
        let summary = format!("promoted {service}:{}: {}", record.version, record.note);
        let report = PromotionReport {
            service,
            layout: layout.to_string_lossy().into_owned(),
            replaced_digest: copied.replaced.map(|earlier| earlier.digest.to_string()),
            record,
            stable: routes.stable,
            canary: routes.canary,
        };
        out::write_json("promotion.json", &report)?;
        Ok(StageOutput::pass(summary)
            .with_artifact("promotion", "application/json", "promotion.json")
            .with_metadata("image-digest", digest)
            .with_metadata("service", report.service)
            .with_metadata("version", report.record.version)
            .with_metadata("canary-weight", config.canary_weight.to_string()))
    }
}

gantry_plugin_sdk::export!(Promote);

fn check_config(config: &PromoteConfig) -> Result<(), StageError> {
    if !Path::new(&config.registry).is_absolute() {
        return Err(config::invalid(
            "registry",
            "must be an absolute path, e.g. /mnt/registry",
        ));
    }
    if config.canary_weight > 100 {
        return Err(config::invalid(
            "canary-weight",
            "must be a percentage from 0 to 100",
        ));
    }
    if !is_duration(&config.ttl) {
        return Err(config::invalid(
            "ttl",
            "must be a whole number and a unit: s, m, h or d",
        ));
    }
    Ok(())
}

/// `720h`, `30d`, `90s`: a positive whole number and one unit.
fn is_duration(text: &str) -> bool {
    let Some(number) = text.strip_suffix(['s', 'm', 'h', 'd']) else {
        return false;
    };
    number.parse::<u64>().is_ok_and(|value| value > 0) && !number.starts_with('+')
}

/// The service name and version: from the config when given, else from the
/// image's title and tag. Both become paths and tags, so both are checked.
fn image_identity(config: &PromoteConfig, image: &Path) -> Result<(String, String), StageError> {
    let (name, version) = match (&config.name, &config.version) {
        (Some(name), Some(version)) => (name.clone(), version.clone()),
        (name, version) => {
            let index = oci::read_index(image).or_missing_input(|| {
                format!("failed to read the image at `{}`", image.display())
            })?;
            let annotations = index.manifests.first().map(|entry| &entry.annotations);
            let annotation = |key: &str| annotations.and_then(|all| all.get(key)).cloned();
            let name = name.clone().or_else(|| annotation(ANNOTATION_TITLE));
            let version = version
                .clone()
                .or_else(|| annotation(oci::ANNOTATION_REF_NAME));
            let missing = |key| config::invalid(key, "is not set and the image does not say");
            (
                name.ok_or_else(|| missing("name"))?,
                version.ok_or_else(|| missing("version"))?,
            )
        }
    };
    oci::check_image_name(&name).map_err(|problem| config::invalid("name", problem))?;
    oci::check_tag(&version).map_err(|problem| config::invalid("version", problem))?;
    Ok((name, version))
}

/// Copies the ato stage's release facts to where the next packet looks.
fn keep_release_facts(
    registry: &Path,
    service: &str,
    version: &str,
    facts: &Path,
) -> Result<(), StageError> {
    let bytes = fs::read(facts)
        .or_missing_input(|| format!("failed to read the release facts `{}`", facts.display()))?;
    let target = registry
        .join("_releases")
        .join(service)
        .join(format!("{version}.json"));
    out::write_atomic(&target, &bytes)
}

/// Reads the catalogue, records the promotion, and writes it back.
fn record_promotion(
    registry: &Path,
    promotion: &Promotion,
) -> Result<(VersionRecord, catalogue::Service), StageError> {
    let path = registry.join("catalogue.json");
    let mut catalogue = read_catalogue(&path)?;
    let promoted = catalogue.promote(promotion);
    let mut json = serde_json::to_vec_pretty(&catalogue)
        .or_internal(|| "failed to encode the catalogue".to_owned())?;
    json.push(b'\n');
    out::write_atomic(&path, &json)?;
    Ok(promoted)
}

/// The catalogue at `path`, or an empty one when there is none yet.
fn read_catalogue(path: &Path) -> Result<Catalogue, StageError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Catalogue::default());
        }
        Err(error) => {
            return Err(error).or_internal(|| format!("failed to read `{}`", path.display()));
        }
    };
    serde_json::from_slice(&bytes).or_internal(|| format!("failed to parse `{}`", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> Result<PromoteConfig, StageError> {
        let config: PromoteConfig = config::parse(json)?;
        check_config(&config)?;
        Ok(config)
    }

    fn invalid_key(json: &str) -> String {
        match config(json) {
            Err(StageError::InvalidConfig(message)) => message,
            other => panic!("expected invalid-config, got {other:?}"),
        }
    }

    #[test]
    fn defaults_match_the_built_in_registry() {
        let config = config("{}").unwrap();
        assert_eq!(config.registry, "/mnt/registry");
        assert_eq!((config.canary_weight, config.ttl.as_str()), (10, "720h"));
    }

    #[test]
    fn bad_values_name_their_key() {
        assert!(invalid_key(r#"{"canary-weight": 101}"#).starts_with("`canary-weight`"));
        assert!(invalid_key(r#"{"canary-weight": -1}"#).starts_with("`canary-weight`"));
        assert!(invalid_key(r#"{"ttl": "30 days"}"#).starts_with("`ttl`"));
        assert!(invalid_key(r#"{"registry": "registry"}"#).starts_with("`registry`"));
        assert!(invalid_key(r#"{"canary": 5}"#).contains("unknown field `canary`"));
    }

    #[test]
    fn durations_are_a_number_and_a_unit() {
        assert!(is_duration("720h") && is_duration("30d") && is_duration("90s"));
        assert!(!is_duration("0h") && !is_duration("h") && !is_duration("+5m"));
        assert!(!is_duration("1.5h") && !is_duration("5w"));
    }

    #[test]
    fn name_and_version_come_from_the_image_when_not_configured() {
        let dir = std::env::temp_dir().join(format!("gantry-promote-{}", std::process::id()));
        let spec = oci::ImageSpec {
            name: "contact-tracing".to_owned(),
            version: "0.1.0".to_owned(),
            entrypoint: vec![],
            files: vec![oci::LayerFile {
                path: "a".to_owned(),
                mode: 0o644,
                contents: vec![],
            }],
        };
        oci::write_layout(&dir, &spec).unwrap();
        let identity = image_identity(&config("{}").unwrap(), &dir).unwrap();
        assert_eq!(identity, ("contact-tracing".to_owned(), "0.1.0".to_owned()));

        let renamed = config(r#"{"name": "../escape"}"#).unwrap();
        let error = image_identity(&renamed, &dir).unwrap_err();
        assert!(
            matches!(error, StageError::InvalidConfig(message) if message.starts_with("`name`"))
        );
        fs::remove_dir_all(dir).unwrap();
    }
}
