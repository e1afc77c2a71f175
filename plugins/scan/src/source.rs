//! Where the scan's advisories come from, and whether they may be used.
//!
//! With `source = "dir"` the stage reads the OSV directory `db` (granted
//! read-only) and refuses it when it is missing, holds no advisories, or
//! its newest advisory is older than `max-db-age`, measured against the
//! wall clock the host gives every plugin (`wasi:clocks/wall-clock`, which
//! needs no grant). With `source = "api"` it asks the OSV API at `api`
//! about the locked registry packages of every ecosystem, through the host's `http` import: only when
//! so configured, and only to a destination the stage's `net` grant names.
//! The API serves the live database, so no age applies; its answer is
//! named by the digest of the advisories fetched.
//!
//! With `index-cache`, a directory the stage may write, the directory's
//! parsed advisories are kept there between scans and read back while the
//! directory's files keep their names, sizes and times (see
//! `gantry_plugin_core::osv::cache`); the index file's digest is recorded
//! beside the database's.
//!
//! Either way the advisories go through the same index and matcher.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::SystemTime;

use gantry_plugin_core::osv::api::{ApiClient, PackageQuery};
use gantry_plugin_core::osv::{self, AdvisoryIndex, DatabaseInfo, LoadedDatabase};
use gantry_plugin_core::package::{Inventory, Origin};
use gantry_plugin_sdk::error::error_chain;
use gantry_plugin_sdk::{StageError, log};

use crate::api::HostTransport;
use crate::config::{ScanConfig, Source};
use crate::stamps;

/// The advisories to match against, and what names them.
pub struct Database {
    /// The advisories of every ecosystem, indexed.
    pub index: AdvisoryIndex,
    /// Source, digest and snapshot date.
    pub info: DatabaseInfo,
    /// Records whose date could not be read.
    pub problems: Vec<String>,
}

/// Loads the advisories from the configured source and checks them.
///
/// # Errors
///
/// [`StageError::MissingInput`] when the directory cannot be read, holds
/// no advisories or is stale, and when the API refuses, fails or answers
/// something that does not fit.
pub fn load(
    config: &ScanConfig,
    inventories: &[Inventory],
    run_id: &str,
) -> Result<Database, StageError> {
    let loaded = match config.source {
        Source::Dir => load_dir(config, run_id)?,
        Source::Api => load_api(config.api(), inventories)?,
    };
    let (index, info, problems) = loaded.into_index();
    if config.source == Source::Dir && index.is_empty() {
        return Err(StageError::MissingInput(format!(
            "OSV directory `{}` holds no advisories of an ecosystem Gantry matches \
             (crates.io, npm, PyPI, Go); is `db` the right folder?",
            config.db()
        )));
    }
    log_loaded(&info, &index);
    Ok(Database {
        index,
        info,
        problems,
    })
}

/// One line for the summary: "advisories dir sha256:0123456789ab, newest
/// 2026-02-06T09:12:16Z".
pub fn summary_line(info: &DatabaseInfo) -> String {
    let short = info.digest.get(..19).unwrap_or(&info.digest);
    let newest = info.snapshot.as_deref().unwrap_or("undated");
    let index = match &info.index {
        Some(index) if index.reused => ", from its index",
        Some(_) => ", index written",
        None => "",
    };
    format!(
        "advisories {} {short}, newest {newest}{index}",
        info.source.as_str()
    )
}

fn load_dir(config: &ScanConfig, run_id: &str) -> Result<LoadedDatabase, StageError> {
    let db = config.db();
    let unreadable = |error: osv::OsvError| StageError::MissingInput(error_chain(&error));
    let loaded = match &config.index_cache {
        None => osv::read_dir(Path::new(db)).map_err(unreadable)?,
        Some(cache) => {
            let cached = osv::cache::load_dir_cached_with(
                Path::new(db),
                Path::new(cache),
                run_id,
                stamps::list,
            )
            .map_err(unreadable)?;
            for problem in &cached.cache_problems {
                log::warn("advisory index not used", &[("problem", problem)]);
            }
            cached.loaded
        }
    };
    if loaded.info.advisories == 0 {
        return Err(StageError::MissingInput(format!(
            "OSV directory `{db}` holds no advisories; is `db` the right folder?"
        )));
    }
    let now = osv::OffsetDateTime::from(SystemTime::now());
    osv::check_freshness(&loaded.info, now, config.max_db_age())
        .map_err(|error| StageError::MissingInput(error.to_string()))?;
    Ok(loaded)
}

fn load_api(api: &str, inventories: &[Inventory]) -> Result<LoadedDatabase, StageError> {
    let queries = registry_queries(inventories);
    log::info(
        "asking the OSV API",
        &[("api", api), ("packages", &queries.len().to_string())],
    );
    let mut client = ApiClient::new(api, HostTransport);
    client
        .load(&queries)
        .map_err(|error| StageError::MissingInput(format!("failed to ask the OSV API: {error}")))
}

/// Each registry package once, as the matcher checks them; packages from
/// git, a URL, another registry or the workspace are in no advisory.
fn registry_queries(inventories: &[Inventory]) -> Vec<PackageQuery> {
    let packages: BTreeSet<_> = inventories
        .iter()
        .flat_map(|inventory| &inventory.packages)
        .filter(|package| package.origin == Origin::Registry)
        .map(|package| {
            let ecosystem = package.ecosystem.osv_name();
            (ecosystem, package.name.as_str(), package.version.as_str())
        })
        .collect();
    packages
        .into_iter()
        .map(|(ecosystem, name, version)| PackageQuery {
            ecosystem: ecosystem.to_owned(),
            name: name.to_owned(),
            version: version.to_owned(),
        })
        .collect()
}

fn log_loaded(info: &DatabaseInfo, index: &AdvisoryIndex) {
    log::info(
        "loaded advisories",
        &[
            ("db", &info.location),
            ("digest", &info.digest),
            ("snapshot", info.snapshot.as_deref().unwrap_or("undated")),
            (
                "index",
                info.index
                    .as_ref()
                    .map_or("none", |index| index.digest.as_str()),
            ),
            ("records", &info.advisories.to_string()),
            ("advisories", &index.len().to_string()),
            ("withdrawn-skipped", &index.withdrawn().to_string()),
        ],
    );
}
