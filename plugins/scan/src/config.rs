//! The stage's `[stage.config]` table.

use gantry_plugin_core::lockfile::Format;
use gantry_plugin_core::osv::FailOn;
use gantry_plugin_sdk::{StageError, config};
use serde::{Deserialize, Deserializer};

/// The JSON Schema `describe` reports for the config.
pub const CONFIG_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "required": ["db"],
  "properties": {
    "db": {
      "type": "string",
      "description": "The OSV database directory as the stage sees it, e.g. /mnt/osv"
    },
    "fail-on": {
      "enum": ["none", "low", "medium", "high", "critical"],
      "default": "critical",
      "description": "Fail on findings at or above this severity; low also fails on unscored findings"
    },
    "lockfiles": {
      "type": "array", "items": { "type": "string" }, "minItems": 1,
      "description": "Lockfiles to scan, relative to the workspace; when absent, every lockfile under the workspace is scanned"
    },
    "fail-on-unreadable": {
      "type": "boolean",
      "default": false,
      "description": "Fail the stage when a lockfile, directory or lockfile entry cannot be read; otherwise each is a warning in the report"
    }
  }
}"#;

/// Where the workspace is mounted in the sandbox.
pub const WORKSPACE: &str = "/workspace";

/// The scan's settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ScanConfig {
    /// The OSV directory.
    pub db: String,
    /// The threshold from which findings fail the stage.
    #[serde(default = "default_fail_on", deserialize_with = "fail_on")]
    pub fail_on: FailOn,
    /// Lockfile paths relative to the workspace; `None` to find every
    /// lockfile under it.
    #[serde(default)]
    pub lockfiles: Option<Vec<String>>,
    /// Whether anything unreadable fails the stage rather than being
    /// reported as a warning; false by default.
    #[serde(default)]
    pub fail_on_unreadable: bool,
}

impl ScanConfig {
    /// Parses and checks the stage's config JSON.
    ///
    /// # Errors
    ///
    /// [`StageError::InvalidConfig`] naming the key: an unknown key, a
    /// missing `db`, an unknown `fail-on`, or a `lockfiles` list that is
    /// empty or has a path that is absolute, climbs out of the workspace
    /// or is not a lockfile Gantry reads.
    pub fn parse(json: &str) -> Result<Self, StageError> {
        let parsed: Self = config::parse(json)?;
        if parsed.db.is_empty() {
            return Err(config::invalid("db", "must name the OSV directory"));
        }
        let Some(lockfiles) = &parsed.lockfiles else {
            return Ok(parsed);
        };
        if lockfiles.is_empty() {
            return Err(config::invalid(
                "lockfiles",
                "must name at least one lockfile; leave it out to scan every lockfile",
            ));
        }
        for (position, path) in lockfiles.iter().enumerate() {
            check_lockfile_path(path)
                .map_err(|problem| config::invalid(&format!("lockfiles[{position}]"), problem))?;
        }
        Ok(parsed)
    }
}

fn default_fail_on() -> FailOn {
    FailOn::AtLeast(gantry_plugin_core::osv::Severity::Critical)
}

/// A lockfile path must stay inside the workspace and name a known format.
fn check_lockfile_path(path: &str) -> Result<(), String> {
    check_relative(path)?;
    let name = path.rsplit('/').next().unwrap_or(path);
    match Format::detect(name) {
        Some(_) => Ok(()),
        None => Err(format!(
            "`{path}` is not a lockfile Gantry reads; {}",
            Format::NAMES_HINT
        )),
    }
}

fn fail_on<'de, D: Deserializer<'de>>(deserializer: D) -> Result<FailOn, D::Error> {
    let text = String::deserialize(deserializer)?;
    text.parse().map_err(serde::de::Error::custom)
}

/// A lockfile path must stay inside the workspace.
fn check_relative(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("is empty".to_owned());
    }
    if path.starts_with('/') {
        return Err(format!("`{path}` must be relative to the workspace"));
    }
    if path.split('/').any(|part| part == "..") {
        return Err(format!("`{path}` climbs out of the workspace"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use gantry_plugin_core::osv::Severity;

    use super::*;

    fn message(json: &str) -> String {
        match ScanConfig::parse(json).unwrap_err() {
            StageError::InvalidConfig(message) => message,
            other => panic!("expected invalid-config, got {other:?}"),
        }
    }

    #[test]
    fn defaults_are_critical_every_lockfile_and_unreadable_as_warnings() {
        let config = ScanConfig::parse(r#"{"db": "/mnt/osv"}"#).unwrap();
        assert_eq!(config.fail_on, FailOn::AtLeast(Severity::Critical));
        assert_eq!(config.lockfiles, None);
        assert!(!config.fail_on_unreadable);
    }

    #[test]
    fn every_key_is_read() {
        let json = r#"{"db": "/mnt/osv", "fail-on": "none", "lockfiles": ["a/Cargo.lock"],
                       "fail-on-unreadable": true}"#;
        let config = ScanConfig::parse(json).unwrap();
        assert_eq!(config.fail_on, FailOn::Never);
        assert_eq!(config.lockfiles.unwrap(), ["a/Cargo.lock"]);
        assert!(config.fail_on_unreadable);
    }

    #[test]
    fn fail_on_unreadable_must_be_a_boolean() {
        let text = message(r#"{"db": "/mnt/osv", "fail-on-unreadable": "yes"}"#);
        assert!(
            text.starts_with("`fail-on-unreadable`: invalid type"),
            "{text}"
        );
    }

    #[test]
    fn lockfiles_must_be_of_a_known_format() {
        let text = message(r#"{"db": "/d", "lockfiles": ["Cargo.lock", "deps/packages.lock"]}"#);
        assert!(
            text.starts_with("`lockfiles[1]`: `deps/packages.lock` is not a lockfile Gantry reads; known lockfiles are:"),
            "{text}"
        );
    }

    #[test]
    fn the_schema_is_json_with_every_key() {
        let schema: serde_json::Value = serde_json::from_str(CONFIG_SCHEMA).unwrap();
        let keys: Vec<&str> = schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        for key in ["db", "fail-on", "lockfiles", "fail-on-unreadable"] {
            assert!(keys.contains(&key), "{key} missing from {keys:?}");
        }
    }

    #[test]
    fn unknown_keys_are_named() {
        let text = message(r#"{"db": "/mnt/osv", "fail_on": "high"}"#);
        assert!(text.contains("unknown field `fail_on`"), "{text}");
    }

    #[test]
    fn db_is_required() {
        assert!(message("{}").contains("missing field `db`"));
    }

    #[test]
    fn unknown_thresholds_are_named() {
        let text = message(r#"{"db": "/mnt/osv", "fail-on": "severe"}"#);
        assert!(
            text.starts_with("`fail-on`: unknown severity `severe`"),
            "{text}"
        );
    }

    #[test]
    fn lockfiles_must_stay_in_the_workspace() {
        let climbing = message(r#"{"db": "/d", "lockfiles": ["Cargo.lock", "../x/Cargo.lock"]}"#);
        assert!(
            climbing.starts_with("`lockfiles[1]`: `../x/Cargo.lock` climbs out"),
            "{climbing}"
        );
        let absolute = message(r#"{"db": "/d", "lockfiles": ["/etc/Cargo.lock"]}"#);
        assert!(absolute.contains("must be relative"), "{absolute}");
        let empty = message(r#"{"db": "/d", "lockfiles": []}"#);
        assert!(empty.contains("at least one"), "{empty}");
    }
}
