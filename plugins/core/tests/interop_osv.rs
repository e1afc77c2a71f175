//! Gantry's PEP 440 ordering and CVSS scores, checked by independent
//! libraries: PyPA's `packaging` and the `cvss` calculators, through
//! `tests/interop/osv_ordering.py`.
//!
//! Runs when `GANTRY_INTEROP_PYTHON` names a Python with the packages of
//! `tests/interop/requirements.txt`; skipped otherwise, unless
//! `GANTRY_INTEROP_REQUIRED` is set, as in CI.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use gantry_plugin_core::cvss;
use gantry_plugin_core::osv::Scheme;

/// Versions that exercise every part of PEP 440: epochs, pre-, post- and
/// dev-releases, local versions, and spellings that normalise.
const PEP440_VERSIONS: &[&str] = &[
    "0",
    "0.1",
    "1.0.dev0",
    "1.0a1",
    "1.0a2.dev1",
    "1.0A2",
    "1.0b1",
    "1.0rc1",
    "1.0c2",
    "1.0",
    "1.0.0",
    "1.0+local.1",
    "1.0+local.2",
    "1.0+1",
    "1.0.post1.dev0",
    "1.0.post1",
    "1.0-1",
    "1.0.post2",
    "1.1",
    "1.10",
    "1.2",
    "2.0.0rc1",
    "2024.10",
    "1!0.1",
    "1!1.0",
    "0!3.0",
    "v2.1",
    "2.1.0.0.1",
    "1.0-alpha.1",
    "1.0.0-rc.2",
    "3.2a1",
    "3.2",
    "3.2.19",
];

const CVSS_VECTORS: &[&str] = &[
    "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
    "CVSS:4.0/AV:N/AC:H/AT:N/PR:L/UI:A/VC:N/VI:N/VA:H/SC:N/SI:N/SA:H",
    "CVSS:4.0/AV:L/AC:L/AT:P/PR:L/UI:N/VC:H/VI:L/VA:N/SC:L/SI:N/SA:N",
    "CVSS:4.0/AV:P/AC:H/AT:P/PR:H/UI:A/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N",
    "CVSS:4.0/AV:A/AC:L/AT:P/PR:L/UI:P/VC:L/VI:L/VA:L/SC:L/SI:L/SA:L/E:P/CR:H/MAV:N",
    "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/E:U",
    "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:P/VC:N/VI:N/VA:N/SC:L/SI:L/SA:N",
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
    "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:C/C:H/I:N/A:N",
    "CVSS:3.1/AV:L/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:H",
    "CVSS:3.0/AV:N/AC:L/PR:L/UI:R/S:C/C:L/I:L/A:N",
    "CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N",
];

fn interop_python() -> Option<PathBuf> {
    match std::env::var_os("GANTRY_INTEROP_PYTHON") {
        Some(python) => Some(PathBuf::from(python)),
        None if std::env::var_os("GANTRY_INTEROP_REQUIRED").is_some() => {
            panic!("GANTRY_INTEROP_REQUIRED is set but GANTRY_INTEROP_PYTHON is not")
        }
        None => {
            eprintln!("GANTRY_INTEROP_PYTHON is not set; skipping the independent check");
            None
        }
    }
}

fn claims() -> serde_json::Value {
    let mut pep440 = Vec::new();
    for a in PEP440_VERSIONS {
        for b in PEP440_VERSIONS {
            let left = Scheme::Pep440.parse(a).unwrap();
            let right = Scheme::Pep440.parse(b).unwrap();
            pep440.push(serde_json::json!([a, b, left.cmp(&right) as i8]));
        }
    }
    let cvss: Vec<_> = CVSS_VECTORS
        .iter()
        .map(|vector| {
            let score = match vector.starts_with("CVSS:4.0/") {
                true => cvss::score_v4(vector),
                false => cvss::base_score(vector),
            };
            serde_json::json!([vector, score.unwrap().value()])
        })
        .collect();
    serde_json::json!({ "pep440": pep440, "cvss": cvss })
}

#[test]
fn pep440_ordering_and_cvss_scores_agree_with_independent_libraries() {
    let Some(python) = interop_python() else {
        return;
    };
    let file = std::env::temp_dir().join(format!("gantry-osv-claims-{}.json", std::process::id()));
    std::fs::write(&file, claims().to_string()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop/osv_ordering.py");
    let output = Command::new(&python)
        .arg(script)
        .arg(&file)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    std::fs::remove_file(&file).unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    eprint!("{stdout}");
}
