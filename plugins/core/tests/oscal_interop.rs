//! The OSCAL documents, checked by tools Gantry did not write
//! (`tests/interop/check_oscal.py`: compliance-trestle, the NIST JSON
//! schema and oscal-validate), for a release with failing tests and an
//! open vulnerability, the case the demo pipeline never reaches: its test
//! stage stops the run first.
//!
//! Runs when `GANTRY_INTEROP_PYTHON` names the interpreter with the
//! checkers installed; with `GANTRY_INTEROP_REQUIRED` set, its absence is a
//! failure rather than a skip.

use std::path::{Path, PathBuf};
use std::process::Command;

use gantry_plugin_core::oscal::{
    self, Assessment, ComponentFacts, EvidenceFile, ImageFacts, JunitTotals, OpenFinding,
    TestFacts, TestFailure,
};

fn interop_python() -> Option<PathBuf> {
    match std::env::var_os("GANTRY_INTEROP_PYTHON") {
        Some(python) => Some(PathBuf::from(python)),
        None if std::env::var_os("GANTRY_INTEROP_REQUIRED").is_some() => {
            panic!("GANTRY_INTEROP_REQUIRED is set but GANTRY_INTEROP_PYTHON is not")
        }
        None => None,
    }
}

fn digest(fill: &str) -> String {
    format!("sha256:{}", fill.repeat(64))
}

fn failing_release() -> Assessment {
    let evidence = |name: &str, href: &str, fill: &str| EvidenceFile {
        name: name.to_owned(),
        title: format!("The {name} of this run"),
        href: href.to_owned(),
        media_type: "application/json".to_owned(),
        digest: digest(fill),
    };
    Assessment {
        system: "Contact Tracing".to_owned(),
        policy_id: "cdc-ato".to_owned(),
        policy_version: "2026.11".to_owned(),
        run_id: "run-7".to_owned(),
        timestamp: "2026-11-03T14:05:09Z".to_owned(),
        image: Some(ImageFacts {
            name: "contact-tracing".to_owned(),
            version: "0.2.0".to_owned(),
            digest: digest("a"),
        }),
        sbom_digest: Some(digest("b")),
        tests: Some(TestFacts {
            command: "cargo nextest run --profile ci".to_owned(),
            exit_status: Some(100),
            timed_out: false,
            passed: 2,
            failed: 1,
            ignored: 0,
            failed_tests: vec!["exposure::tests::window_is_ten_days".to_owned()],
            report_href: "/in/test/test-report.json".to_owned(),
            junit: Some(JunitTotals {
                tests: 3,
                failures: 1,
                errors: 0,
                skipped: 0,
                time: 0.392,
            }),
            failures: vec![TestFailure {
                outcome: "failure".to_owned(),
                suite: "exposure".to_owned(),
                name: "tests::window_is_ten_days".to_owned(),
                classname: "exposure".to_owned(),
                message: "thread 'tests::window_is_ten_days' panicked at src/lib.rs:16:9"
                    .to_owned(),
            }],
        }),
        findings: vec![OpenFinding {
            id: "RUSTSEC-2020-0071".to_owned(),
            aliases: vec!["CVE-2020-26235".to_owned()],
            severity: "medium".to_owned(),
            package: "time@0.1.45".to_owned(),
            title: "Potential segfault in the time crate".to_owned(),
            fixed_in: Some("0.2.23".to_owned()),
            url: Some("https://rustsec.org/advisories/RUSTSEC-2020-0071.html".to_owned()),
        }],
        components: vec![ComponentFacts {
            name: "time".to_owned(),
            version: "0.1.45".to_owned(),
            purl: Some("pkg:cargo/time@0.1.45".to_owned()),
        }],
        evidence: vec![
            evidence("sbom", "../../scan/out/sbom.cdx.json", "b"),
            evidence("findings", "../../scan/out/findings.json", "c"),
            evidence("test-report", "../../test/out/test-report.json", "d"),
            evidence("junit", "../../test/out/junit.xml", "e"),
        ],
    }
}

#[test]
fn packet_for_a_failing_release_passes_the_independent_checkers() {
    let Some(python) = interop_python() else {
        eprintln!("GANTRY_INTEROP_PYTHON is not set; skipping the independent check");
        return;
    };
    let dir = std::env::temp_dir().join(format!("gantry-oscal-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let release = failing_release();
    let results = dir.join("assessment-results.json");
    let poam = dir.join("poam.json");
    let write = |path: &Path, json: String| std::fs::write(path, json).unwrap();
    write(
        &results,
        serde_json::to_string_pretty(&oscal::assessment_results(&release)).unwrap(),
    );
    write(
        &poam,
        serde_json::to_string_pretty(&oscal::poam(&release).unwrap()).unwrap(),
    );

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop/check_oscal.py");
    let output = Command::new(python)
        .arg(script)
        .arg(&results)
        .arg(&poam)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "check_oscal.py failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("0 errors"), "{stdout}");
    std::fs::remove_dir_all(dir).unwrap();
}
