//! OSCAL 1.1.2 assessment results for the ATO packet.
//!
//! [`assessment_results`] turns what the pipeline learnt about a release
//! (the image, its SBOM, the tests, the open vulnerabilities) into an
//! `assessment-results` document a GRC tool can import: one result whose
//! observations record each test run and each finding, with a risk and an
//! OSCAL finding for every open vulnerability.
//!
//! Every UUID is derived from the inputs, so the same inputs give the same
//! document apart from the timestamps the caller passes.
//!
//! TODO(#4): validate the output against the OSCAL 1.1.2 JSON schema, take
//! the assessed controls and the assessment plan from the policy, and
//! write the POA&M.

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

/// The OSCAL version the documents follow.
pub const OSCAL_VERSION: &str = "1.1.2";
/// Namespace of the properties Gantry adds.
pub const GANTRY_NS: &str = "urn:gantry:oscal";
/// The control an open vulnerability leaves unsatisfied: NIST SP 800-53
/// SI-2, flaw remediation.
pub const FLAW_REMEDIATION_CONTROL: &str = "si-2";

/// What the packet is about: everything the ATO stage read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Assessment {
    /// The system under assessment, e.g. `Contact Tracing`.
    pub system: String,
    pub policy_id: String,
    pub policy_version: String,
    pub run_id: String,
    /// When the assessment was made, RFC 3339 with a time zone.
    pub timestamp: String,
    pub image: Option<ImageFacts>,
    /// `sha256:…` of the SBOM the scan wrote.
    pub sbom_digest: Option<String>,
    pub tests: Option<TestFacts>,
    /// Open vulnerabilities.
    pub findings: Vec<OpenFinding>,
}

/// The image being released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFacts {
    pub name: String,
    pub version: String,
    /// The manifest digest, `sha256:…`.
    pub digest: String,
}

/// What the test stage reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestFacts {
    /// The command line, as one string.
    pub command: String,
    pub exit_status: Option<i32>,
    pub timed_out: bool,
    pub passed: u64,
    pub failed: u64,
    pub ignored: u64,
    pub failed_tests: Vec<String>,
    /// Where the report is, e.g. `/in/test/test-report.json`.
    pub report_href: String,
}

impl TestFacts {
    /// True when the command exited 0 within its time limit.
    pub fn succeeded(&self) -> bool {
        self.exit_status == Some(0) && !self.timed_out
    }
}

/// A vulnerability the scan found and nobody suppressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenFinding {
    /// The advisory id, e.g. `RUSTSEC-2020-0071`.
    pub id: String,
    pub aliases: Vec<String>,
    /// `low`, `medium`, `high`, `critical` or `unknown`.
    pub severity: String,
    /// `name@version`.
    pub package: String,
    pub title: String,
    pub fixed_in: Option<String>,
    pub url: Option<String>,
}

/// The document's root: `{"assessment-results": …}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Document {
    #[serde(rename = "assessment-results")]
    pub assessment_results: AssessmentResults,
}

/// `assessment-results`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct AssessmentResults {
    pub uuid: String,
    pub metadata: Metadata,
    pub import_ap: ImportAp,
    pub results: Vec<AssessmentResult>,
}

/// `metadata`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Metadata {
    pub title: String,
    pub last_modified: String,
    pub version: String,
    pub oscal_version: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub props: Vec<Property>,
}

/// `import-ap`: the assessment plan the results answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportAp {
    pub href: String,
}

/// One entry of `results`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct AssessmentResult {
    pub uuid: String,
    pub title: String,
    pub description: String,
    pub start: String,
    pub props: Vec<Property>,
    pub reviewed_controls: ReviewedControls,
    pub observations: Vec<Observation>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub risks: Vec<Risk>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
}

/// `reviewed-controls`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ReviewedControls {
    pub control_selections: Vec<ControlSelection>,
}

/// One `control-selections` entry: here, the controls named by id.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ControlSelection {
    pub include_controls: Vec<ControlRef>,
}

/// `{"control-id": …}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ControlRef {
    pub control_id: String,
}

/// A `prop`: a name/value pair in Gantry's namespace.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Property {
    pub name: String,
    pub value: String,
    pub ns: String,
}

/// An `observation`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Observation {
    pub uuid: String,
    pub title: String,
    pub description: String,
    pub props: Vec<Property>,
    pub methods: Vec<String>,
    pub types: Vec<String>,
    pub collected: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub relevant_evidence: Vec<Evidence>,
}

/// A `relevant-evidence` entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    pub href: String,
    pub description: String,
}

/// A `risk`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Risk {
    pub uuid: String,
    pub title: String,
    pub description: String,
    pub statement: String,
    pub props: Vec<Property>,
    pub status: String,
}

/// A `finding`: a control objective the results show as not satisfied.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Finding {
    pub uuid: String,
    pub title: String,
    pub description: String,
    pub target: FindingTarget,
    pub related_observations: Vec<RelatedObservation>,
    pub related_risks: Vec<RelatedRisk>,
}

/// A finding's `target`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct FindingTarget {
    #[serde(rename = "type")]
    pub kind: String,
    pub target_id: String,
    pub status: ObjectiveStatus,
}

/// `{"state": "satisfied" | "not-satisfied"}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObjectiveStatus {
    pub state: String,
}

/// `{"observation-uuid": …}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct RelatedObservation {
    pub observation_uuid: String,
}

/// `{"risk-uuid": …}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct RelatedRisk {
    pub risk_uuid: String,
}

/// Builds the assessment-results document for `assessment`.
pub fn assessment_results(assessment: &Assessment) -> Document {
    let root = derive_uuid(&[&fingerprint(assessment)]);
    let result = build_result(assessment, &root);
    let title = format!("Assessment results for {}", display_system(assessment));
    Document {
        assessment_results: AssessmentResults {
            uuid: root,
            metadata: Metadata {
                title,
                last_modified: assessment.timestamp.clone(),
                version: assessment.run_id.clone(),
                oscal_version: OSCAL_VERSION.to_owned(),
                props: vec![prop("policy-id", &assessment.policy_id)],
            },
            import_ap: ImportAp {
                href: plan_href(assessment),
            },
            results: vec![result],
        },
    }
}

/// A name for the system: the configured one, else the image's name.
fn display_system(assessment: &Assessment) -> &str {
    match (&assessment.system, &assessment.image) {
        (system, _) if !system.is_empty() => system,
        (_, Some(image)) => &image.name,
        _ => "the system",
    }
}

/// The policy stands in for the assessment plan until there is one.
fn plan_href(assessment: &Assessment) -> String {
    format!(
        "urn:gantry:policy:{}:{}",
        assessment.policy_id, assessment.policy_version
    )
}

fn build_result(assessment: &Assessment, root: &str) -> AssessmentResult {
    let mut observations = Vec::new();
    observations.extend(
        assessment
            .tests
            .as_ref()
            .map(|tests| test_observation(assessment, tests)),
    );
    let mut risks = Vec::new();
    let mut findings = Vec::new();
    for open in &assessment.findings {
        let observation = finding_observation(assessment, open);
        let risk = finding_risk(open, root);
        findings.push(control_finding(open, root, &observation.uuid, &risk.uuid));
        observations.push(observation);
        risks.push(risk);
    }
    AssessmentResult {
        uuid: derive_uuid(&[root, "result"]),
        title: format!("Release assessment, run {}", assessment.run_id),
        description: result_description(assessment),
        start: assessment.timestamp.clone(),
        props: result_props(assessment),
        reviewed_controls: ReviewedControls {
            control_selections: vec![ControlSelection {
                include_controls: vec![ControlRef {
                    control_id: FLAW_REMEDIATION_CONTROL.to_owned(),
                }],
            }],
        },
        observations,
        risks,
        findings,
    }
}

fn result_description(assessment: &Assessment) -> String {
    let subject = match &assessment.image {
        Some(image) => format!("image {}:{} ({})", image.name, image.version, image.digest),
        None => "a release with no image".to_owned(),
    };
    format!(
        "Automated assessment of {subject} under policy {} version {}.",
        assessment.policy_id, assessment.policy_version
    )
}

/// The facts a reviewer looks up first, as properties of the result.
fn result_props(assessment: &Assessment) -> Vec<Property> {
    let mut props = vec![
        prop("policy-id", &assessment.policy_id),
        prop("policy-version", &assessment.policy_version),
        prop("run-id", &assessment.run_id),
    ];
    if let Some(image) = &assessment.image {
        props.push(prop("image-name", &image.name));
        props.push(prop("image-version", &image.version));
        props.push(prop("image-digest", &image.digest));
    }
    if let Some(digest) = &assessment.sbom_digest {
        props.push(prop("sbom-digest", digest));
    }
    props
}

fn test_observation(assessment: &Assessment, tests: &TestFacts) -> Observation {
    let outcome = if tests.succeeded() {
        "passed"
    } else {
        "failed"
    };
    let mut description = format!(
        "`{}` {outcome}: {} passed, {} failed, {} ignored.",
        tests.command, tests.passed, tests.failed, tests.ignored
    );
    if !tests.failed_tests.is_empty() {
        description.push_str(&format!(" Failed: {}.", tests.failed_tests.join(", ")));
    }
    let exit_status = tests
        .exit_status
        .map_or_else(|| "none".to_owned(), |code| code.to_string());
    Observation {
        uuid: derive_uuid(&[&fingerprint(assessment), "test", &tests.report_href]),
        title: format!("Test run {outcome}"),
        description,
        props: vec![
            prop("test-outcome", outcome),
            prop("tests-passed", &tests.passed.to_string()),
            prop("tests-failed", &tests.failed.to_string()),
            prop("tests-ignored", &tests.ignored.to_string()),
            prop("exit-status", &exit_status),
        ],
        methods: vec!["TEST".to_owned()],
        types: vec!["control-objective".to_owned()],
        collected: assessment.timestamp.clone(),
        relevant_evidence: vec![Evidence {
            href: tests.report_href.clone(),
            description: "The test stage's report".to_owned(),
        }],
    }
}

fn finding_observation(assessment: &Assessment, open: &OpenFinding) -> Observation {
    let mut props = vec![
        prop("advisory-id", &open.id),
        prop("severity", &open.severity),
        prop("package", &open.package),
    ];
    props.extend(open.aliases.iter().map(|alias| prop("alias", alias)));
    props.extend(
        open.fixed_in
            .iter()
            .map(|version| prop("fixed-in", version)),
    );
    let evidence = open.url.iter().map(|url| Evidence {
        href: url.clone(),
        description: format!("Advisory {}", open.id),
    });
    Observation {
        uuid: derive_uuid(&[
            &fingerprint(assessment),
            "observation",
            &open.id,
            &open.package,
        ]),
        title: format!("{} in {}", open.id, open.package),
        description: open.title.clone(),
        props,
        methods: vec!["TEST".to_owned()],
        types: vec!["finding".to_owned()],
        collected: assessment.timestamp.clone(),
        relevant_evidence: evidence.collect(),
    }
}

fn finding_risk(open: &OpenFinding, root: &str) -> Risk {
    let statement = match &open.fixed_in {
        Some(version) => format!("Upgrade {} to {version} or later.", package_name(open)),
        None => "No fixed version is known; assess exposure or replace the package.".to_owned(),
    };
    Risk {
        uuid: derive_uuid(&[root, "risk", &open.id, &open.package]),
        title: format!("{} ({}) in {}", open.id, open.severity, open.package),
        description: open.title.clone(),
        statement,
        props: vec![prop("severity", &open.severity)],
        status: "open".to_owned(),
    }
}

fn control_finding(open: &OpenFinding, root: &str, observation: &str, risk: &str) -> Finding {
    Finding {
        uuid: derive_uuid(&[root, "finding", &open.id, &open.package]),
        title: format!("Open vulnerability {} in {}", open.id, open.package),
        description: open.title.clone(),
        target: FindingTarget {
            kind: "objective-id".to_owned(),
            target_id: FLAW_REMEDIATION_CONTROL.to_owned(),
            status: ObjectiveStatus {
                state: "not-satisfied".to_owned(),
            },
        },
        related_observations: vec![RelatedObservation {
            observation_uuid: observation.to_owned(),
        }],
        related_risks: vec![RelatedRisk {
            risk_uuid: risk.to_owned(),
        }],
    }
}

/// `name` of a `name@version` package.
fn package_name(open: &OpenFinding) -> &str {
    open.package
        .split_once('@')
        .map_or(&open.package, |(name, _)| name)
}

fn prop(name: &str, value: &str) -> Property {
    Property {
        name: name.to_owned(),
        value: value.to_owned(),
        ns: GANTRY_NS.to_owned(),
    }
}

/// A digest of the inputs that identify the assessment; the timestamp is
/// left out so the same release keeps the same UUIDs.
fn fingerprint(assessment: &Assessment) -> String {
    let mut facts: BTreeMap<&str, String> = BTreeMap::new();
    facts.insert("system", assessment.system.clone());
    facts.insert(
        "policy",
        format!("{}@{}", assessment.policy_id, assessment.policy_version),
    );
    facts.insert("run", assessment.run_id.clone());
    if let Some(image) = &assessment.image {
        facts.insert("image", image.digest.clone());
    }
    facts.insert("sbom", assessment.sbom_digest.clone().unwrap_or_default());
    let lines: Vec<String> = facts
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    hex::encode(Sha256::digest(lines.join("\n")))
}

/// A UUID made from the sha256 of `parts`, with the version and variant
/// bits of a version 4 UUID so that it matches OSCAL's UUID pattern.
///
/// Version 5 would be the name-based kind, but it is defined on SHA-1; a
/// hash-derived value is as unique as a random one for this use.
pub fn derive_uuid(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    let mut bytes: [u8; 16] = hasher.finalize()[..16].try_into().unwrap_or_default();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Formats seconds since the Unix epoch as RFC 3339 in UTC,
/// `2026-11-03T14:05:09Z`.
pub fn format_timestamp(unix_seconds: u64) -> String {
    let days = unix_seconds / 86_400;
    let seconds = unix_seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    let (hour, minute, second) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
}

/// The proleptic Gregorian date `days` after 1970-01-01, by counting
/// 400-year eras from 0000-03-01 so that leap days fall at the end.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let shifted = days + 719_468;
    let era = shifted / 146_097;
    let day_of_era = shifted % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn assessment() -> Assessment {
        Assessment {
            system: "Contact Tracing".to_owned(),
            policy_id: "cdc-ato".to_owned(),
            policy_version: "2026.11".to_owned(),
            run_id: "run-1".to_owned(),
            timestamp: "2026-11-03T14:05:09Z".to_owned(),
            image: Some(ImageFacts {
                name: "contact-tracing".to_owned(),
                version: "0.1.0".to_owned(),
                digest: format!("sha256:{}", "a".repeat(64)),
            }),
            sbom_digest: Some(format!("sha256:{}", "b".repeat(64))),
            tests: Some(TestFacts {
                command: "cargo test --locked".to_owned(),
                exit_status: Some(0),
                timed_out: false,
                passed: 23,
                failed: 0,
                ignored: 1,
                failed_tests: vec![],
                report_href: "/in/test/test-report.json".to_owned(),
            }),
            findings: vec![OpenFinding {
                id: "RUSTSEC-2020-0071".to_owned(),
                aliases: vec!["CVE-2020-26235".to_owned()],
                severity: "medium".to_owned(),
                package: "time@0.1.45".to_owned(),
                title: "Potential segfault in the time crate".to_owned(),
                fixed_in: Some("0.2.23".to_owned()),
                url: Some("https://rustsec.org/advisories/RUSTSEC-2020-0071".to_owned()),
            }],
        }
    }

    fn json(assessment: &Assessment) -> Value {
        serde_json::to_value(assessment_results(assessment)).unwrap()
    }

    fn is_oscal_uuid(text: &str) -> bool {
        let groups: Vec<&str> = text.split('-').collect();
        let lengths: Vec<usize> = groups.iter().map(|group| group.len()).collect();
        lengths == [8, 4, 4, 4, 12]
            && groups[2].starts_with('4')
            && groups[3].starts_with(['8', '9', 'a', 'b'])
            && text.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
    }

    #[test]
    fn document_has_the_required_oscal_fields() {
        let doc = json(&assessment());
        let root = &doc["assessment-results"];
        assert!(is_oscal_uuid(root["uuid"].as_str().unwrap()));
        assert_eq!(root["metadata"]["oscal-version"], "1.1.2");
        assert_eq!(root["metadata"]["last-modified"], "2026-11-03T14:05:09Z");
        assert_eq!(
            root["metadata"]["title"],
            "Assessment results for Contact Tracing"
        );
        assert_eq!(
            root["import-ap"]["href"],
            "urn:gantry:policy:cdc-ato:2026.11"
        );
        let result = &root["results"][0];
        for key in ["uuid", "title", "description", "start", "reviewed-controls"] {
            assert!(!result[key].is_null(), "result lacks `{key}`");
        }
    }

    #[test]
    fn each_test_run_and_finding_is_an_observation() {
        let doc = json(&assessment());
        let observations = doc["assessment-results"]["results"][0]["observations"].as_array();
        let titles: Vec<&str> = observations
            .unwrap()
            .iter()
            .map(|o| o["title"].as_str().unwrap())
            .collect();
        assert_eq!(
            titles,
            ["Test run passed", "RUSTSEC-2020-0071 in time@0.1.45"]
        );
    }

    #[test]
    fn open_finding_links_a_risk_and_an_observation() {
        let doc = json(&assessment());
        let result = &doc["assessment-results"]["results"][0];
        let finding = &result["findings"][0];
        assert_eq!(finding["target"]["status"]["state"], "not-satisfied");
        assert_eq!(
            finding["related-risks"][0]["risk-uuid"],
            result["risks"][0]["uuid"]
        );
        assert_eq!(
            finding["related-observations"][0]["observation-uuid"],
            result["observations"][1]["uuid"]
        );
        assert_eq!(result["risks"][0]["status"], "open");
        assert_eq!(
            result["risks"][0]["statement"],
            "Upgrade time to 0.2.23 or later."
        );
    }

    #[test]
    fn no_open_findings_means_no_risks_or_findings() {
        let mut clean = assessment();
        clean.findings.clear();
        let doc = json(&clean);
        let result = &doc["assessment-results"]["results"][0];
        assert!(result.get("risks").is_none() && result.get("findings").is_none());
    }

    #[test]
    fn uuids_depend_on_the_inputs_but_not_the_time() {
        let first = json(&assessment());
        let mut later = assessment();
        later.timestamp = "2026-11-04T00:00:00Z".to_owned();
        let mut other_image = assessment();
        other_image.image.as_mut().unwrap().digest = format!("sha256:{}", "c".repeat(64));
        let uuid = |doc: &Value| doc["assessment-results"]["uuid"].clone();
        assert_eq!(uuid(&first), uuid(&json(&later)));
        assert_ne!(uuid(&first), uuid(&json(&other_image)));
    }

    #[test]
    fn failed_tests_are_named_in_the_observation() {
        let mut failing = assessment();
        let tests = failing.tests.as_mut().unwrap();
        tests.exit_status = Some(101);
        tests.failed = 1;
        tests.failed_tests = vec!["tests::adds".to_owned()];
        let doc = json(&failing);
        let observation = &doc["assessment-results"]["results"][0]["observations"][0];
        assert_eq!(observation["title"], "Test run failed");
        let description = observation["description"].as_str().unwrap();
        assert!(
            description.ends_with("Failed: tests::adds."),
            "{description}"
        );
    }

    #[test]
    fn timestamps_are_rfc3339_in_utc() {
        assert_eq!(format_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_timestamp(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_timestamp(1_793_714_709), "2026-11-03T14:05:09Z");
    }
}
