//! The scan's two SBOMs: CycloneDX 1.6 and SPDX 2.3, of the same
//! inventories.
//!
//! SPDX requires a creation time. The scan takes the time its run started,
//! which the run id carries (`YYYYMMDD-HHMMSS-xxxxxx`, UTC), so that every
//! stage of a run, and a rerun of the same stage, states the same time;
//! only a run id of another shape falls back to the wall clock. The
//! CycloneDX BOM has no timestamp, so its digest follows the lockfiles
//! alone.

use std::time::{SystemTime, UNIX_EPOCH};

use gantry_plugin_core::oscal;
use gantry_plugin_core::package::Inventory;
use gantry_plugin_core::sbom::{self, BomOptions};
use gantry_plugin_core::spdx::{self, SpdxOptions};
use gantry_plugin_sdk::{ResultExt, StageError, out};

/// The CycloneDX BOM's file name under `/out`.
pub const CYCLONEDX_FILE: &str = "sbom.cdx.json";
/// The SPDX document's file name under `/out`.
pub const SPDX_FILE: &str = "sbom.spdx.json";

const TOOL: &str = "gantry-scan";
const APPLICATION: &str = "workspace";

/// Writes both SBOMs of `inventories` to `/out`.
///
/// # Errors
///
/// [`StageError::Internal`] when a file cannot be written.
pub fn write(inventories: &[Inventory], run_id: &str) -> Result<(), StageError> {
    let options = BomOptions {
        tool_name: TOOL,
        tool_version: env!("CARGO_PKG_VERSION"),
        application_name: APPLICATION,
        timestamp: None,
    };
    let bom = sbom::build_bom(inventories, &options);
    let json = bom.to_json().or_internal(|| encode_error(CYCLONEDX_FILE))?;
    out::write(CYCLONEDX_FILE, json.as_bytes())?;

    let created = creation_time(run_id).unwrap_or_else(now);
    let options = SpdxOptions {
        tool_name: TOOL,
        tool_version: env!("CARGO_PKG_VERSION"),
        application_name: APPLICATION,
        created: &created,
    };
    let document = spdx::build_spdx(inventories, &options)
        .or_internal(|| format!("failed to build `{SPDX_FILE}`"))?;
    let json = document.to_json().or_internal(|| encode_error(SPDX_FILE))?;
    out::write(SPDX_FILE, json.as_bytes())
}

/// The start of the run `run_id` names, as `YYYY-MM-DDThh:mm:ssZ`, or
/// `None` when the id is not `YYYYMMDD-HHMMSS-…`.
pub fn creation_time(run_id: &str) -> Option<String> {
    let bytes = run_id.as_bytes();
    let shaped = bytes.len() > 16
        && bytes[8] == b'-'
        && bytes[15] == b'-'
        && bytes[..8]
            .iter()
            .chain(&bytes[9..15])
            .all(u8::is_ascii_digit);
    if !shaped {
        return None;
    }
    let part = |range: std::ops::Range<usize>| &run_id[range];
    Some(format!(
        "{}-{}-{}T{}:{}:{}Z",
        part(0..4),
        part(4..6),
        part(6..8),
        part(9..11),
        part(11..13),
        part(13..15)
    ))
}

/// The wall clock, or the epoch when the host offers none.
fn now() -> String {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    oscal::format_timestamp(seconds)
}

fn encode_error(file: &str) -> String {
    format!("failed to encode `{file}` as JSON")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_id_gives_the_creation_time() {
        assert_eq!(
            creation_time("20261203-191245-a1b2c3").as_deref(),
            Some("2026-12-03T19:12:45Z")
        );
    }

    #[test]
    fn run_ids_of_another_shape_give_none() {
        for id in [
            "run-1",
            "2026120-191245-a1b2c3",
            "20261203_191245-a1b2c3",
            "20261203-1912x5-a",
        ] {
            assert_eq!(creation_time(id), None, "{id}");
        }
    }
}
