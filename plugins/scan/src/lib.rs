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
//! lockfiles = ["Cargo.lock"] # relative to the workspace; default: all found
//! fail-on-unreadable = true  # default false: unreadable inputs are warnings
//! ```
//!
//! The stage reads the lockfiles named, or every lockfile it finds under
//! `/workspace` (see [`inputs`]), and writes a CycloneDX 1.6 SBOM to
//! `/out/sbom.cdx.json` and an SPDX 2.3 one to `/out/sbom.spdx.json`. It
//! matches every registry package (crates.io, npm, PyPI, Go) against the
//! advisories of its ecosystem from the source (see [`source`]), and
//! writes the result to `/out/findings.json` and, as SARIF 2.1.0, to
//! `/out/findings.sarif`. The advisory data's digest and snapshot date go
//! into `findings.json`, the stage's metadata (`db-digest`, `db-snapshot`)
//! and the summary. Vulnerabilities are findings; informational advisories
//! (unmaintained, unsound, notice) are logged as warnings and never fail
//! the stage. The verdict is `fail`, naming the blocking findings, when
//! any finding is at or above `fail-on`.
//!
//! Whatever could not be read (a lockfile that does not parse, a directory
//! that cannot be listed, an entry a reader could not use) is logged as a
//! warning and listed under `unreadable` in `findings.json`; with
//! `fail-on-unreadable`, it fails the stage, naming the file.
//!
//! The policy's suppressions and licence rules, handed over by the host,
//! are applied as `policy.rs` describes.

mod api;
mod config;
mod inputs;
mod outcome;
mod policy;
mod sarif;
mod sboms;
mod source;
mod stamps;

use std::collections::BTreeSet;
use std::path::Path;

use gantry_plugin_core::osv::{self, FindingsReport};
use gantry_plugin_core::package::Inventory;
use gantry_plugin_core::sbom;
use gantry_plugin_sdk::{
    Capabilities, Guest, PluginInfo, StageError, StageInput, StageKind, StageOutput, log, out,
};

use crate::config::{CONFIG_SCHEMA, ScanConfig, WORKSPACE};

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
        let inputs = inputs::read(Path::new(WORKSPACE), config.lockfiles.as_deref())?;
        log_inputs(&inputs);
        let database = source::load(&config, &inputs.inventories, &input.run_id)?;

        sboms::write(&inputs.inventories, &input.run_id)?;
        let mut report = osv::scan_inventories(&database.index, &inputs.inventories);
        report.problems.extend(database.problems);
        report.database = Some(database.info.clone());
        report.unreadable = inputs.unreadable;
        let today = policy::today();
        let rules = policy::apply(&input, &mut report, &inputs.inventories, today)?;
        policy::log_policy(&rules, today);
        out::write(
            FINDINGS_FILE,
            policy::findings_json(&report, &rules)?.as_bytes(),
        )?;
        sarif::write(&report, &inputs.inventories)?;
        log_report(&report);

        let components = count_components(&inputs.inventories);
        let mut summary = outcome::summary(components, &report, config.fail_on);
        let applied = policy::summary(&rules);
        if !applied.is_empty() {
            summary = format!("{summary}; {applied}");
        }
        let summary = format!("{summary}; {}", source::summary_line(&database.info));
        log::info("scan finished", &[("summary", &summary)]);
        let verdict = policy::verdict(
            outcome::verdict(&report, config.fail_on, config.fail_on_unreadable),
            &rules,
        );
        let mut output = StageOutput::new(verdict, summary)
            .with_artifact(
                "sbom",
                "application/vnd.cyclonedx+json",
                sboms::CYCLONEDX_FILE,
            )
            .with_artifact("sbom-spdx", "application/spdx+json", sboms::SPDX_FILE)
            .with_artifact("findings", "application/json", FINDINGS_FILE)
            .with_artifact("findings-sarif", sarif::MEDIA_TYPE, sarif::FILE)
            .with_findings(outcome::wit_findings(&report))
            .with_findings(policy::wit_findings(&rules))
            .with_metadata("components", components.to_string())
            .with_metadata("advisories-loaded", database.index.len().to_string())
            .with_metadata("db-source", config.source.as_str())
            .with_metadata("db-digest", database.info.digest.clone())
            .with_metadata("db-snapshot", snapshot_text(&database.info))
            .with_metadata("findings", report.findings.len().to_string())
            .with_metadata("warnings", report.warnings.len().to_string())
            .with_metadata("unreadable", report.unreadable.len().to_string())
            .with_metadata("fail-on", config.fail_on.to_string());
        if let Some(index) = &database.info.index {
            output = output.with_metadata("db-index-digest", index.digest.clone());
        }
        for (key, value) in policy::metadata(&rules) {
            output = output.with_metadata(key, value);
        }
        Ok(output)
    }
}

gantry_plugin_sdk::export!(Scan);

/// Logs each lockfile read at debug level and everything unreadable at
/// warn level.
fn log_inputs(inputs: &inputs::Inputs) {
    for inventory in &inputs.inventories {
        let count = inventory.packages.len().to_string();
        let fields = [
            ("lockfile", inventory.path.as_str()),
            ("format", &inventory.format),
            ("packages", &count),
        ];
        log::debug("read lockfile", &fields);
    }
    for skipped in &inputs.skipped {
        log::debug("directory not searched for lockfiles", &[("path", skipped)]);
    }
    for unreadable in &inputs.unreadable {
        let fields = [
            ("path", unreadable.path.as_str()),
            ("reason", &unreadable.reason),
        ];
        log::warn("unreadable scan input", &fields);
    }
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
fn count_components(inventories: &[Inventory]) -> usize {
    let refs: BTreeSet<String> = inventories
        .iter()
        .flat_map(|inventory| &inventory.packages)
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
