//! The `gantry:scan` stage: an SBOM of the workspace's lockfiles, checked
//! against an offline OSV database.
//!
//! ```toml
//! [stage.config]
//! source = "dir"             # dir (the default) | api
//! db = "/mnt/osv"            # the OSV directory, as the stage sees it
//! max-db-age = "7d"          # the oldest the directory's data may be
//! # source = "api"           # instead: ask the OSV API, which the stage's
//! # api = "https://api.osv.dev" # `net` grant must name
//! fail-on = "high"           # none | low | medium | high | critical (default)
//! lockfiles = ["Cargo.lock"] # relative to the workspace (the default)
//! ```
//!
//! The stage reads each lockfile under `/workspace`, writes a CycloneDX 1.6
//! SBOM to `/out/sbom.cdx.json`, matches every crates.io package against
//! the crates.io advisories of the source (see [`source`]), and writes the
//! result to `/out/findings.json` and, as SARIF 2.1.0, to
//! `/out/findings.sarif`. The advisory data's digest and snapshot date go
//! into `findings.json`, the stage's metadata (`db-digest`, `db-snapshot`)
//! and the summary. Vulnerabilities are findings; informational
//! advisories (unmaintained, unsound, notice) are logged as warnings and
//! never fail the stage. The verdict is `fail`, naming the blocking
//! findings, when any finding is at or above `fail-on`.
//!
//! TODO(#4): apply a licence policy, and write `sbom.spdx.json` (SPDX 2.3)
//! as well.

mod api;
mod config;
mod outcome;
mod sarif;
mod source;

use std::collections::BTreeSet;
use std::path::Path;

use gantry_plugin_core::lockfile::Lockfile;
use gantry_plugin_core::osv::{self, FindingsReport};
use gantry_plugin_core::sbom::{self, BomOptions};
use gantry_plugin_sdk::error::error_chain;
use gantry_plugin_sdk::{
    Capabilities, Guest, PluginInfo, ResultExt, StageError, StageInput, StageKind, StageOutput,
    log, out,
};

use crate::config::{CONFIG_SCHEMA, ScanConfig, WORKSPACE};

const SBOM_FILE: &str = "sbom.cdx.json";
const FINDINGS_FILE: &str = "findings.json";

struct Scan;

impl Guest for Scan {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "scan".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            kind: StageKind::Scan,
            config_schema: CONFIG_SCHEMA.to_owned(),
            wants: Capabilities {
                read: vec![WORKSPACE.to_owned(), "/mnt/osv".to_owned()],
                ..Capabilities::none()
            },
        }
    }

    fn run(input: StageInput) -> Result<StageOutput, StageError> {
        let config = ScanConfig::parse(&input.config)?;
        let lockfiles = read_lockfiles(&config.lockfiles)?;
        let database = source::load(&config, &lockfiles)?;

        write_sbom(&lockfiles)?;
        let mut report = osv::scan_lockfiles(&database.index, &lockfiles);
        report.problems.extend(database.problems);
        report.database = Some(database.info.clone());
        out::write(
            FINDINGS_FILE,
            report
                .to_json()
                .or_internal(|| encode_error(FINDINGS_FILE))?
                .as_bytes(),
        )?;
        sarif::write(&report, &lockfiles)?;
        log_report(&report);

        let components = count_components(&lockfiles);
        let summary = outcome::summary(components, &report, config.fail_on);
        let summary = format!("{summary}; {}", source::summary_line(&database.info));
        log::info("scan finished", &[("summary", &summary)]);
        Ok(
            StageOutput::new(outcome::verdict(&report, config.fail_on), summary)
                .with_artifact("sbom", "application/vnd.cyclonedx+json", SBOM_FILE)
                .with_artifact("findings", "application/json", FINDINGS_FILE)
                .with_artifact("findings-sarif", sarif::MEDIA_TYPE, sarif::FILE)
                .with_findings(outcome::wit_findings(&report))
                .with_metadata("components", components.to_string())
                .with_metadata("advisories-loaded", database.index.len().to_string())
                .with_metadata("db-source", config.source.as_str())
                .with_metadata("db-digest", database.info.digest.clone())
                .with_metadata("db-snapshot", snapshot_text(&database.info))
                .with_metadata("findings", report.findings.len().to_string())
                .with_metadata("warnings", report.warnings.len().to_string())
                .with_metadata("fail-on", config.fail_on.to_string()),
        )
    }
}

gantry_plugin_sdk::export!(Scan);

/// Reads each lockfile under the workspace; each keeps its relative path,
/// so messages and the SBOM do not depend on where the workspace is mounted.
fn read_lockfiles(paths: &[String]) -> Result<Vec<Lockfile>, StageError> {
    paths
        .iter()
        .map(|relative| {
            let full = Path::new(WORKSPACE).join(relative);
            let text = std::fs::read_to_string(&full)
                .or_missing_input(|| format!("failed to read lockfile `{relative}`"))?;
            Lockfile::parse_cargo_lock(relative, &text)
                .map_err(|error| StageError::MissingInput(error_chain(&error)))
        })
        .collect()
}

fn write_sbom(lockfiles: &[Lockfile]) -> Result<(), StageError> {
    let options = BomOptions {
        tool_name: "gantry-scan",
        tool_version: env!("CARGO_PKG_VERSION"),
        application_name: "workspace",
        timestamp: None,
    };
    let bom = sbom::build_bom(lockfiles, &options);
    let json = bom.to_json().or_internal(|| encode_error(SBOM_FILE))?;
    out::write(SBOM_FILE, json.as_bytes())
}

/// Logs each warning and data problem at warn level.
fn log_report(report: &FindingsReport) {
    for warning in &report.warnings {
        log::warn(
            "informational advisory",
            &[
                ("id", &warning.id),
                ("kind", &warning.kind),
                ("package", &warning.package),
                ("title", &warning.title),
            ],
        );
    }
    for problem in &report.problems {
        log::warn("advisory data not used", &[("problem", problem)]);
    }
}

/// The number of distinct packages across the lockfiles.
fn count_components(lockfiles: &[Lockfile]) -> usize {
    let refs: BTreeSet<String> = lockfiles
        .iter()
        .flat_map(|lockfile| &lockfile.packages)
        .map(sbom::component_ref)
        .collect();
    refs.len()
}

/// The snapshot date, or `undated` when no advisory says (possible only
/// with the API, whose answer may be empty).
fn snapshot_text(info: &osv::DatabaseInfo) -> String {
    info.snapshot
        .clone()
        .unwrap_or_else(|| "undated".to_owned())
}

fn encode_error(file: &str) -> String {
    format!("failed to encode `{file}` as JSON")
}
