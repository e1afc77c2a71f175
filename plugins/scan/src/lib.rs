//! The `gantry:scan` stage: an SBOM of the workspace's lockfiles, checked
//! against an offline OSV database.
//!
//! ```toml
//! [stage.config]
//! db = "/mnt/osv"            # the OSV directory, as the stage sees it
//! fail-on = "high"           # none | low | medium | high | critical (default)
//! lockfiles = ["Cargo.lock"] # relative to the workspace (the default)
//! ```
//!
//! The stage reads each lockfile under `/workspace`, writes a CycloneDX 1.6
//! SBOM to `/out/sbom.cdx.json`, matches every crates.io package against
//! the advisories under `db`, and writes the result to
//! `/out/findings.json`. Vulnerabilities are findings; informational
//! advisories (unmaintained, unsound, notice) are logged as warnings and
//! never fail the stage. The verdict is `fail`, naming the blocking
//! findings, when any finding is at or above `fail-on`.
//!
//! TODO(#4): query the OSV API when the stage is granted network access,
//! apply a licence policy, and write `sbom.spdx.json` (SPDX 2.3) and
//! `findings.sarif` (SARIF 2.1) as well.

mod config;
mod outcome;

use std::collections::BTreeSet;
use std::path::Path;

use gantry_plugin_core::lockfile::Lockfile;
use gantry_plugin_core::osv::{self, AdvisoryIndex, FindingsReport};
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
        let index = load_index(&config.db)?;
        let lockfiles = read_lockfiles(&config.lockfiles)?;

        write_sbom(&lockfiles)?;
        let report = osv::scan_lockfiles(&index, &lockfiles);
        out::write(
            FINDINGS_FILE,
            report
                .to_json()
                .or_internal(|| encode_error(FINDINGS_FILE))?
                .as_bytes(),
        )?;
        log_report(&report);

        let components = count_components(&lockfiles);
        let summary = outcome::summary(components, &report, config.fail_on);
        log::info("scan finished", &[("summary", &summary)]);
        Ok(
            StageOutput::new(outcome::verdict(&report, config.fail_on), summary)
                .with_artifact("sbom", "application/vnd.cyclonedx+json", SBOM_FILE)
                .with_artifact("findings", "application/json", FINDINGS_FILE)
                .with_findings(outcome::wit_findings(&report))
                .with_metadata("components", components.to_string())
                .with_metadata("advisories-loaded", index.len().to_string())
                .with_metadata("findings", report.findings.len().to_string())
                .with_metadata("warnings", report.warnings.len().to_string())
                .with_metadata("fail-on", config.fail_on.to_string()),
        )
    }
}

gantry_plugin_sdk::export!(Scan);

/// Loads the advisories of every ecosystem under `db`; a database with none is an
/// error, since scanning against it would pass everything.
fn load_index(db: &str) -> Result<AdvisoryIndex, StageError> {
    let index = AdvisoryIndex::load_dir(Path::new(db))
        .map_err(|error| StageError::MissingInput(error_chain(&error)))?;
    if index.is_empty() {
        return Err(StageError::MissingInput(format!(
            "OSV directory `{db}` holds no advisories; is `db` the right folder?"
        )));
    }
    log::info(
        "loaded advisories",
        &[
            ("db", db),
            ("advisories", &index.len().to_string()),
            ("withdrawn-skipped", &index.withdrawn().to_string()),
        ],
    );
    Ok(index)
}

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

fn encode_error(file: &str) -> String {
    format!("failed to encode `{file}` as JSON")
}
