//! The stage's `[stage.config]` table.

use std::time::Duration;

use gantry_plugin_core::lockfile::Format;
use gantry_plugin_core::osv::{self, FailOn};
use gantry_plugin_sdk::{StageError, config};
use serde::{Deserialize, Deserializer};

/// The JSON Schema `describe` reports for the config.
pub const CONFIG_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "source": {
      "enum": ["dir", "api"],
      "default": "dir",
      "description": "Where advisories come from: the `db` directory, or the OSV API at `api` (needs a `net` grant)"
    },
    "db": {
      "type": "string",
      "description": "The OSV database directory as the stage sees it, e.g. /mnt/osv; required with source dir"
    },
    "api": {
      "type": "string",
      "default": "https://api.osv.dev",
      "description": "The OSV API's base URL, with source api"
    },
    "index-cache": {
      "type": "string",
      "description": "A directory the stage may write, e.g. /mnt/osv-cache, where the db directory's parsed index is kept between scans; with source dir"
    },
    "max-db-age": {
      "type": "string",
      "default": "7d",
      "description": "Fail when the db directory's newest advisory is older than this, e.g. 7d, 36h"
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

/// Where the scan's advisories come from: `source` in the config.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The OSV directory `db`, read offline (the default).
    #[default]
    Dir,
    /// The OSV API at `api`, which the stage's `net` grant must allow.
    Api,
}

impl Source {
    /// `dir` or `api`, as in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dir => "dir",
            Self::Api => "api",
        }
    }
}

/// The scan's settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ScanConfig {
    /// Where advisories come from.
    #[serde(default)]
    pub source: Source,
    /// The OSV directory, with [`Source::Dir`].
    #[serde(default)]
    pub db: Option<String>,
    /// The API's base URL, with [`Source::Api`].
    #[serde(default)]
    pub api: Option<String>,
    /// Where to keep the directory's index between scans, with
    /// [`Source::Dir`]; no index is kept when absent.
    #[serde(default)]
    pub index_cache: Option<String>,
    /// How old the directory's newest advisory may be, with
    /// [`Source::Dir`].
    #[serde(default, deserialize_with = "max_age")]
    pub max_db_age: Option<Duration>,
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
    /// `db` or `api` that does not fit `source`, an unknown `fail-on`, a
    /// `max-db-age` that is not a duration, or a `lockfiles` list that is
    /// empty or has a path that is absolute, climbs out of the workspace or
    /// is not a lockfile Gantry reads.
    pub fn parse(json: &str) -> Result<Self, StageError> {
        let parsed: Self = config::parse(json)?;
        parsed.check_source()?;
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

impl ScanConfig {
    /// The directory with [`Source::Dir`], checked by [`ScanConfig::parse`].
    pub fn db(&self) -> &str {
        self.db.as_deref().unwrap_or_default()
    }

    /// The allowed age of the directory's data: `max-db-age`, or
    /// [`osv::DEFAULT_MAX_AGE`].
    pub fn max_db_age(&self) -> Duration {
        self.max_db_age.unwrap_or(osv::DEFAULT_MAX_AGE)
    }

    /// The API's base URL with [`Source::Api`].
    pub fn api(&self) -> &str {
        self.api.as_deref().unwrap_or(osv::api::DEFAULT_API)
    }

    /// `db` goes with the directory and `api` with the API, never both,
    /// so that no setting is silently ignored.
    fn check_source(&self) -> Result<(), StageError> {
        match self.source {
            Source::Dir if self.api.is_some() => Err(config::invalid(
                "api",
                "is used only with `source = \"api\"`",
            )),
            Source::Dir if self.db().is_empty() => Err(config::invalid(
                "db",
                "must name the OSV directory (or set `source = \"api\"`)",
            )),
            Source::Api if self.db.is_some() => Err(config::invalid(
                "db",
                "is used only with `source = \"dir\"`",
            )),
            Source::Api if self.index_cache.is_some() => Err(config::invalid(
                "index-cache",
                "is used only with `source = \"dir\"`",
            )),
            Source::Api if self.max_db_age.is_some() => Err(config::invalid(
                "max-db-age",
                "is used only with `source = \"dir\"`; the API serves the live database",
            )),
            Source::Api
                if !self.api().starts_with("https://") && !self.api().starts_with("http://") =>
            {
                Err(config::invalid(
                    "api",
                    format!("`{}` is not an http or https URL", self.api()),
                ))
            }
            _ => Ok(()),
        }
    }
}

fn max_age<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
    let text = String::deserialize(deserializer)?;
    osv::parse_max_age(&text)
        .map(Some)
        .map_err(serde::de::Error::custom)
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
    fn db_is_required_with_the_directory_source() {
        let text = message("{}");
        assert!(
            text.starts_with("`db`: must name the OSV directory"),
            "{text}"
        );
        let config = ScanConfig::parse(r#"{"db": "/mnt/osv"}"#).unwrap();
        assert_eq!(config.source, Source::Dir);
        assert_eq!(config.max_db_age(), osv::DEFAULT_MAX_AGE);
    }

    #[test]
    fn the_api_source_defaults_to_the_public_api_and_refuses_db() {
        let config = ScanConfig::parse(r#"{"source": "api"}"#).unwrap();
        assert_eq!(config.api(), "https://api.osv.dev");
        let local = r#"{"source": "api", "api": "http://127.0.0.1:8080"}"#;
        assert_eq!(
            ScanConfig::parse(local).unwrap().api(),
            "http://127.0.0.1:8080"
        );

        let both = message(r#"{"source": "api", "db": "/mnt/osv"}"#);
        assert!(
            both.starts_with("`db`: is used only with `source = \"dir\"`"),
            "{both}"
        );
        let stray = message(r#"{"db": "/mnt/osv", "api": "https://api.osv.dev"}"#);
        assert!(stray.starts_with("`api`: is used only with"), "{stray}");
        let cache = message(r#"{"source": "api", "index-cache": "/mnt/cache"}"#);
        assert!(
            cache.starts_with("`index-cache`: is used only with `source = \"dir\"`"),
            "{cache}"
        );
        let scheme = message(r#"{"source": "api", "api": "ftp://x"}"#);
        assert!(
            scheme.contains("`ftp://x` is not an http or https URL"),
            "{scheme}"
        );
        let unknown = message(r#"{"source": "web"}"#);
        assert!(
            unknown.starts_with("`source`: unknown variant `web`"),
            "{unknown}"
        );
    }

    #[test]
    fn max_db_age_is_a_duration() {
        let config = ScanConfig::parse(r#"{"db": "/d", "max-db-age": "36h"}"#).unwrap();
        assert_eq!(config.max_db_age(), Duration::from_secs(36 * 3600));
        let text = message(r#"{"db": "/d", "max-db-age": "soon"}"#);
        assert!(
            text.starts_with("`max-db-age`: `soon` is not a duration"),
            "{text}"
        );
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
