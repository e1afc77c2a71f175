//! Reading the upstream artifacts the packet is made of.
//!
//! Each artifact is found by name; one that no upstream stage produced is
//! recorded as missing and shown as such to the reviewer, while one that
//! is present but unreadable stops the stage: a packet must not quietly
//! leave out evidence it was given.

use std::fs;
use std::path::Path;

use gantry_plugin_core::junit::{JunitReport, Outcome};
use gantry_plugin_core::oci::{self, ANNOTATION_TITLE};
use gantry_plugin_core::oscal::{
    Assessment, ComponentFacts, EvidenceFile, ImageFacts, JunitTotals, OpenFinding, TestFacts,
    TestFailure,
};
use gantry_plugin_core::osv::FindingsReport;
use gantry_plugin_sdk::{InputArtifact, ResultExt, StageError, StageInput, input};
use serde::Deserialize;
use serde_json::Value;

/// Artifact names, as the build, test and scan stages write them.
pub const IMAGE: &str = "image";
pub const TEST_REPORT: &str = "test-report";
pub const SBOM: &str = "sbom";
pub const FINDINGS: &str = "findings";
/// Optional inputs: recorded as evidence when present, never missed.
pub const JUNIT: &str = "junit";
pub const PROVENANCE: &str = "provenance";

/// Everything the packet reports.
#[derive(Debug, Clone)]
pub struct Packet {
    pub assessment: Assessment,
    /// The scan's report, for its warnings and data problems.
    pub scan: Option<FindingsReport>,
    /// Names of the artifacts no upstream stage produced.
    pub missing: Vec<&'static str>,
    /// Suppressions and licence results the scan reported, as headed lists
    /// of lines for the summary.
    pub policy_notes: Vec<(String, Vec<String>)>,
}

/// The parts of `test-report.json` (written by the test stage) the packet uses.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct TestReport {
    command: Vec<String>,
    exit_status: Option<i32>,
    timed_out: bool,
    passed: u64,
    failed: u64,
    ignored: u64,
    #[serde(default)]
    failed_tests: Vec<String>,
    #[serde(default)]
    junit: Option<JunitReport>,
}

/// The parts of a CycloneDX SBOM the packet uses.
#[derive(Debug, Deserialize)]
struct Sbom {
    #[serde(default)]
    components: Vec<SbomComponent>,
}

#[derive(Debug, Deserialize)]
struct SbomComponent {
    name: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    purl: Option<String>,
}

/// Reads every input artifact of the packet.
///
/// # Errors
///
/// Returns [`StageError::MissingInput`] when an artifact is present but
/// cannot be read or parsed, or the image does not verify.
pub fn read_packet(
    stage: &StageInput,
    system: Option<String>,
    timestamp: String,
) -> Result<Packet, StageError> {
    let mut missing = Vec::new();
    let mut present = |name: &'static str| {
        let artifact = input::find(stage, name);
        if artifact.is_none() {
            missing.push(name);
        }
        artifact
    };
    let image = present(IMAGE).map(read_image).transpose()?;
    let tests = present(TEST_REPORT).map(read_tests).transpose()?;
    let sbom = present(SBOM);
    let sbom_digest = sbom.map(|sbom| sbom.digest.clone());
    let components = sbom.map(read_components).transpose()?.unwrap_or_default();
    let findings_artifact = present(FINDINGS);
    let scan = findings_artifact.map(read_findings).transpose()?;
    let policy_notes = findings_artifact
        .map(read_policy_notes)
        .transpose()?
        .unwrap_or_default();

    let system = system.or_else(|| image.as_ref().map(|image| image.name.clone()));
    let findings = scan
        .iter()
        .flat_map(|report| &report.findings)
        .map(open_finding)
        .collect();
    let assessment = Assessment {
        system: system.unwrap_or_default(),
        policy_id: stage.policy_id.clone(),
        policy_version: stage.policy_version.clone(),
        run_id: stage.run_id.clone(),
        timestamp,
        image,
        sbom_digest,
        tests,
        findings,
        components,
        evidence: evidence(stage),
    };
    Ok(Packet {
        assessment,
        scan,
        missing,
        policy_notes,
    })
}

/// Every input the packet stands on, with its digest, in a fixed order.
fn evidence(stage: &StageInput) -> Vec<EvidenceFile> {
    let described = [
        (IMAGE, "OCI image layout"),
        (TEST_REPORT, "Test report"),
        (JUNIT, "JUnit XML test results"),
        (SBOM, "CycloneDX SBOM"),
        (FINDINGS, "Vulnerability findings"),
        (PROVENANCE, "Provenance attestation"),
    ];
    described
        .iter()
        .filter_map(|(name, title)| {
            let artifact = input::find(stage, name)?;
            Some(EvidenceFile {
                name: (*name).to_owned(),
                title: format!("{title} from stage `{}`", artifact.stage),
                href: packet_relative(&artifact.path),
                media_type: artifact.media_type.clone(),
                digest: artifact.digest.clone(),
            })
        })
        .collect()
}

/// `/in/<stage>/<file>` as seen from the packet's own output directory in
/// the run's state: `../../<stage>/out/<file>`.
fn packet_relative(path: &str) -> String {
    match path
        .strip_prefix("/in/")
        .and_then(|rest| rest.split_once('/'))
    {
        Some((stage, file)) => format!("../../{stage}/out/{file}"),
        None => path.to_owned(),
    }
}

fn read_components(artifact: &InputArtifact) -> Result<Vec<ComponentFacts>, StageError> {
    let sbom: Sbom = read_json(artifact)?;
    let mut components: Vec<ComponentFacts> = sbom
        .components
        .into_iter()
        .map(|component| ComponentFacts {
            name: component.name,
            version: component.version,
            purl: component.purl,
        })
        .collect();
    components.sort();
    components.dedup();
    Ok(components)
}

/// Lists under keys about suppressions or licences in `findings.json`,
/// each entry shown as its text fields.
///
/// The packet shows these lists as the scan wrote them, without a typed
/// model of their entries, so that a scan that adds a field does not make
/// an older packet reader drop the note.
fn read_policy_notes(artifact: &InputArtifact) -> Result<Vec<(String, Vec<String>)>, StageError> {
    let report: Value = read_json(artifact)?;
    let Some(object) = report.as_object() else {
        return Ok(Vec::new());
    };
    let notes = object
        .iter()
        .filter(|(key, _)| ["suppress", "licen"].iter().any(|word| key.contains(word)))
        .filter_map(|(key, value)| Some((key.clone(), value.as_array()?)))
        .filter(|(_, entries)| !entries.is_empty())
        .map(|(key, entries)| (key, entries.iter().map(describe_entry).collect()))
        .collect();
    Ok(notes)
}

/// `id: RUSTSEC-1, package: a@1, reason: …` for an object; the text
/// itself for anything else.
fn describe_entry(entry: &Value) -> String {
    let Some(object) = entry.as_object() else {
        return entry
            .as_str()
            .map_or_else(|| entry.to_string(), str::to_owned);
    };
    object
        .iter()
        .filter_map(|(key, value)| match value {
            Value::String(text) => Some(format!("{key}: {text}")),
            Value::Number(number) => Some(format!("{key}: {number}")),
            Value::Array(items) if items.iter().all(Value::is_string) => {
                let items: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
                Some(format!("{key}: {}", items.join(", ")))
            }
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads and verifies the image layout, and names it from its index.
fn read_image(artifact: &InputArtifact) -> Result<ImageFacts, StageError> {
    let layout = oci::read_layout(Path::new(&artifact.path))
        .or_missing_input(|| format!("failed to read the image at `{}`", artifact.path))?;
    let descriptor = layout.image.descriptor;
    Ok(ImageFacts {
        name: descriptor
            .annotations
            .get(ANNOTATION_TITLE)
            .cloned()
            .unwrap_or_default(),
        version: descriptor.ref_name().unwrap_or_default().to_owned(),
        digest: descriptor.digest.to_string(),
    })
}

fn read_tests(artifact: &InputArtifact) -> Result<TestFacts, StageError> {
    let report: TestReport = read_json(artifact)?;
    Ok(TestFacts {
        command: report.command.join(" "),
        exit_status: report.exit_status,
        timed_out: report.timed_out,
        passed: report.passed,
        failed: report.failed,
        ignored: report.ignored,
        failed_tests: report.failed_tests,
        report_href: artifact.path.clone(),
        junit: report.junit.as_ref().map(|junit| JunitTotals {
            tests: junit.tests,
            failures: junit.failures,
            errors: junit.errors,
            skipped: junit.skipped,
            time: junit.time,
        }),
        failures: report
            .junit
            .iter()
            .flat_map(|junit| &junit.failed)
            .map(|case| TestFailure {
                outcome: match case.outcome {
                    Outcome::Error => "error",
                    Outcome::Failure | Outcome::Skipped => "failure",
                }
                .to_owned(),
                suite: case.suite.clone(),
                name: case.name.clone(),
                classname: case.classname.clone(),
                message: case.message.clone(),
            })
            .collect(),
    })
}

fn read_findings(artifact: &InputArtifact) -> Result<FindingsReport, StageError> {
    read_json(artifact)
}

/// The packet's view of a scan finding.
pub fn open_finding(finding: &gantry_plugin_core::osv::Finding) -> OpenFinding {
    OpenFinding {
        id: finding.id.clone(),
        aliases: finding.aliases.clone(),
        severity: finding.severity.to_string(),
        package: finding.package.clone(),
        title: finding.title.clone(),
        fixed_in: finding.fixed_in.clone(),
        url: finding.url.clone(),
    }
}

fn read_json<T: serde::de::DeserializeOwned>(artifact: &InputArtifact) -> Result<T, StageError> {
    let path = &artifact.path;
    let bytes = fs::read(path).or_missing_input(|| format!("failed to read `{path}`"))?;
    serde_json::from_slice(&bytes)
        .or_missing_input(|| format!("failed to parse `{path}` ({} artifact)", artifact.name))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use gantry_plugin_core::oci::{ImageSpec, LayerFile};

    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("gantry-ato-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn artifact(name: &str, path: &Path) -> InputArtifact {
        InputArtifact {
            stage: "upstream".to_owned(),
            name: name.to_owned(),
            media_type: "application/json".to_owned(),
            path: path.to_string_lossy().into_owned(),
            digest: format!("sha256:{}", "d".repeat(64)),
        }
    }

    fn stage_input(artifacts: Vec<InputArtifact>) -> StageInput {
        StageInput {
            run_id: "run-1".to_owned(),
            stage_id: "ato".to_owned(),
            config: "{}".to_owned(),
            policy_id: "cdc-ato".to_owned(),
            policy_version: "2026.11".to_owned(),
            policy_rules: "{}".to_owned(),
            artifacts,
        }
    }

    fn write_image(dir: &Path) -> String {
        let spec = ImageSpec {
            name: "contact-tracing".to_owned(),
            version: "0.1.0".to_owned(),
            entrypoint: vec![],
            files: vec![LayerFile {
                path: "app/x".to_owned(),
                mode: 0o755,
                contents: vec![1],
            }],
        };
        oci::write_layout(dir, &spec).unwrap().digest.to_string()
    }

    #[test]
    fn packet_reads_what_build_test_and_scan_wrote() {
        let dir = scratch("full");
        let digest = write_image(&dir.join("image"));
        let report = r#"{"command":["cargo","test"],"exit-status":0,"timed-out":false,
            "passed":4,"failed":0,"ignored":1,"failed-tests":[],"duration-ms":9,
            "stdout":"","stderr":""}"#;
        fs::write(dir.join("test-report.json"), report).unwrap();
        let findings = r#"{"findings":[{"id":"RUSTSEC-1","aliases":[],"severity":"high",
            "package":"a@1.0.0","title":"bad"}],"counts":{"critical":0,"high":1,"medium":0,
            "low":0,"unknown":0},"warnings":[],"problems":[]}"#;
        fs::write(dir.join("findings.json"), findings).unwrap();
        let sbom = r#"{"bomFormat":"CycloneDX","components":[
            {"name":"time","version":"0.1.45","purl":"pkg:cargo/time@0.1.45"},
            {"name":"app","version":"0.1.0"}]}"#;
        fs::write(dir.join("sbom.cdx.json"), sbom).unwrap();
        let input = stage_input(vec![
            artifact(IMAGE, &dir.join("image")),
            artifact(TEST_REPORT, &dir.join("test-report.json")),
            artifact(SBOM, &dir.join("sbom.cdx.json")),
            artifact(FINDINGS, &dir.join("findings.json")),
        ]);

        let packet = read_packet(&input, None, "2026-11-03T00:00:00Z".to_owned()).unwrap();
        let assessment = &packet.assessment;
        assert_eq!(assessment.system, "contact-tracing");
        assert_eq!(assessment.image.as_ref().unwrap().digest, digest);
        assert_eq!(assessment.image.as_ref().unwrap().version, "0.1.0");
        assert_eq!(assessment.tests.as_ref().unwrap().passed, 4);
        assert_eq!(assessment.findings[0].severity, "high");
        assert_eq!(
            assessment.sbom_digest.as_deref(),
            Some(input.artifacts[2].digest.as_str())
        );
        assert!(packet.missing.is_empty());
        let keys: Vec<String> = assessment.components.iter().map(|c| c.key()).collect();
        assert_eq!(keys, ["app@0.1.0", "time@0.1.45"]);
        let evidence: Vec<&str> = assessment
            .evidence
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        assert_eq!(evidence, [IMAGE, TEST_REPORT, SBOM, FINDINGS]);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn evidence_links_point_from_the_packet_to_the_upstream_outputs() {
        assert_eq!(
            packet_relative("/in/scan/sbom.cdx.json"),
            "../../scan/out/sbom.cdx.json"
        );
        assert_eq!(packet_relative("/in/build/image"), "../../build/out/image");
    }

    #[test]
    fn suppressions_and_licences_in_the_findings_become_notes() {
        let dir = scratch("notes");
        let findings = r#"{"findings":[],"counts":{"critical":0,"high":0,"medium":0,"low":0,
            "unknown":0},"warnings":[],"problems":[],
            "suppressed":[{"id":"RUSTSEC-9","package":"a@1.0.0","reason":"not reachable"}],
            "licenses":[]}"#;
        fs::write(dir.join("findings.json"), findings).unwrap();
        let input = stage_input(vec![artifact(FINDINGS, &dir.join("findings.json"))]);
        let packet = read_packet(&input, None, String::new()).unwrap();
        assert_eq!(
            packet.policy_notes,
            [(
                "suppressed".to_owned(),
                vec!["id: RUSTSEC-9, package: a@1.0.0, reason: not reachable".to_owned()]
            )]
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn absent_artifacts_are_listed_as_missing() {
        let packet = read_packet(&stage_input(vec![]), Some("X".to_owned()), String::new());
        let packet = packet.unwrap();
        assert_eq!(packet.missing, [IMAGE, TEST_REPORT, SBOM, FINDINGS]);
        assert_eq!(packet.assessment.system, "X");
    }

    #[test]
    fn a_tampered_image_stops_the_packet() {
        let dir = scratch("tampered");
        write_image(&dir);
        fs::write(dir.join("blobs/sha256").join("0".repeat(64)), b"stray").unwrap();
        let input = stage_input(vec![artifact(IMAGE, &dir)]);
        let error = read_packet(&input, None, String::new()).unwrap_err();
        let StageError::MissingInput(message) = error else {
            panic!("expected missing-input")
        };
        assert!(
            message.starts_with("failed to read the image at"),
            "{message}"
        );
        assert!(message.contains("has digest"), "{message}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn malformed_findings_name_the_file() {
        let dir = scratch("malformed");
        fs::write(dir.join("findings.json"), b"{\"findings\": 3}").unwrap();
        let input = stage_input(vec![artifact(FINDINGS, &dir.join("findings.json"))]);
        let error = read_packet(&input, None, String::new()).unwrap_err();
        let StageError::MissingInput(message) = error else {
            panic!("expected missing-input")
        };
        assert!(
            message.contains("findings.json` (findings artifact)"),
            "{message}"
        );
        fs::remove_dir_all(dir).unwrap();
    }
}
