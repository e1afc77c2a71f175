//! The documents' structure: required fields, links between their parts,
//! and UUIDs that follow the content.

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
            junit: None,
            failures: vec![],
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
        components: vec![
            ComponentFacts {
                name: "time".to_owned(),
                version: "0.1.45".to_owned(),
                purl: Some("pkg:cargo/time@0.1.45".to_owned()),
            },
            ComponentFacts {
                name: "libc".to_owned(),
                version: "0.2.150".to_owned(),
                purl: Some("pkg:cargo/libc@0.2.150".to_owned()),
            },
        ],
        evidence: vec![EvidenceFile {
            name: "sbom".to_owned(),
            title: "CycloneDX SBOM from stage `scan`".to_owned(),
            href: "../../scan/out/sbom.cdx.json".to_owned(),
            media_type: "application/vnd.cyclonedx+json".to_owned(),
            digest: format!("sha256:{}", "b".repeat(64)),
        }],
    }
}

fn failing(mut assessment: Assessment) -> Assessment {
    let tests = assessment.tests.as_mut().unwrap();
    tests.exit_status = Some(101);
    tests.failed = 1;
    tests.failed_tests = vec!["app::adds".to_owned()];
    tests.failures = vec![TestFailure {
        outcome: "failure".to_owned(),
        suite: "app".to_owned(),
        name: "adds".to_owned(),
        classname: "app".to_owned(),
        message: "assertion failed: 1 + 1 == 3".to_owned(),
    }];
    assessment
}

fn results(assessment: &Assessment) -> Value {
    serde_json::to_value(assessment_results(assessment)).unwrap()
}

fn plan(assessment: &Assessment) -> Value {
    serde_json::to_value(poam(assessment).unwrap()).unwrap()
}

fn is_oscal_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    let lengths: Vec<usize> = groups.iter().map(|group| group.len()).collect();
    lengths == [8, 4, 4, 4, 12]
        && groups[2].starts_with('4')
        && groups[3].starts_with(['8', '9', 'a', 'b'])
        && text.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
}

fn titles(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|item| item["title"].as_str().unwrap())
        .collect()
}

#[test]
fn results_have_the_required_fields_and_the_policy_in_metadata() {
    let doc = results(&assessment());
    let root = &doc["assessment-results"];
    assert!(is_oscal_uuid(root["uuid"].as_str().unwrap()));
    assert_eq!(root["metadata"]["oscal-version"], OSCAL_VERSION);
    assert_eq!(root["metadata"]["props"][0]["value"], "cdc-ato");
    assert_eq!(root["metadata"]["props"][1]["name"], "policy-version");
    assert_eq!(root["metadata"]["props"][1]["value"], "2026.11");
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
fn tests_scan_and_each_vulnerability_are_observations() {
    let doc = results(&assessment());
    let observations = &doc["assessment-results"]["results"][0]["observations"];
    assert_eq!(
        titles(observations),
        [
            "Test run passed",
            "Dependency scan",
            "RUSTSEC-2020-0071 in time@0.1.45"
        ]
    );
}

#[test]
fn a_vulnerability_is_about_its_sbom_component_and_links_risk_and_observation() {
    let doc = results(&assessment());
    let result = &doc["assessment-results"]["results"][0];
    let components = result["local-definitions"]["components"]
        .as_array()
        .unwrap();
    let time = components
        .iter()
        .find(|c| c["title"] == "time@0.1.45")
        .unwrap();
    let libc = components
        .iter()
        .find(|c| c["title"] == "libc@0.2.150")
        .unwrap();
    assert_eq!(components[0]["type"], "this-system");

    let observation = &result["observations"][2];
    assert_eq!(observation["subjects"][0]["subject-uuid"], time["uuid"]);
    assert_eq!(observation["subjects"].as_array().unwrap().len(), 1);
    assert_ne!(observation["subjects"][0]["subject-uuid"], libc["uuid"]);

    let finding = &result["findings"][0];
    assert_eq!(finding["target"]["status"]["state"], "not-satisfied");
    assert_eq!(finding["target"]["target-id"], "si-2");
    assert_eq!(
        finding["related-risks"][0]["risk-uuid"],
        result["risks"][0]["uuid"]
    );
    assert_eq!(
        finding["related-observations"][0]["observation-uuid"],
        observation["uuid"]
    );
    assert_eq!(
        result["risks"][0]["statement"],
        "Upgrade time to 0.2.23 or later."
    );
}

#[test]
fn evidence_is_back_matter_with_its_sha256_and_observations_point_at_it() {
    let doc = results(&assessment());
    let root = &doc["assessment-results"];
    let resource = &root["back-matter"]["resources"][0];
    let hash = &resource["rlinks"][0]["hashes"][0];
    assert_eq!(hash["algorithm"], "SHA-256");
    assert_eq!(hash["value"], "b".repeat(64));
    assert_eq!(
        resource["rlinks"][0]["href"],
        "../../scan/out/sbom.cdx.json"
    );
    let scan = &root["results"][0]["observations"][1];
    let href = format!("#{}", resource["uuid"].as_str().unwrap());
    assert_eq!(scan["relevant-evidence"][0]["href"], Value::String(href));
}

#[test]
fn poam_items_name_their_finding_risk_and_observation_by_the_results_uuids() {
    let assessment = assessment();
    let results = results(&assessment);
    let result = &results["assessment-results"]["results"][0];
    let plan = plan(&assessment);
    let poam = &plan["plan-of-action-and-milestones"];
    assert_eq!(
        titles(&poam["poam-items"]),
        ["Remediate RUSTSEC-2020-0071 in time@0.1.45"]
    );
    let item = &poam["poam-items"][0];
    assert_eq!(
        item["related-findings"][0]["finding-uuid"],
        result["findings"][0]["uuid"]
    );
    assert_eq!(
        item["related-risks"][0]["risk-uuid"],
        result["risks"][0]["uuid"]
    );
    assert_eq!(
        item["related-observations"][0]["observation-uuid"],
        result["observations"][2]["uuid"]
    );
    assert_eq!(poam["risks"], result["risks"]);
    assert_ne!(poam["uuid"], results["assessment-results"]["uuid"]);
}

#[test]
fn nothing_open_means_no_risks_no_findings_and_no_poam() {
    let mut clean = assessment();
    clean.findings.clear();
    let doc = results(&clean);
    let result = &doc["assessment-results"]["results"][0];
    assert!(result.get("risks").is_none() && result.get("findings").is_none());
    assert!(poam(&clean).is_none());
}

#[test]
fn failing_tests_are_observations_a_finding_on_sa_11_and_a_poam_item() {
    let failing = failing(assessment());
    let doc = results(&failing);
    let result = &doc["assessment-results"]["results"][0];
    let observations = &result["observations"];
    assert_eq!(
        titles(observations)[..2],
        ["Test run failed", "Test app::adds failed"]
    );
    assert_eq!(
        observations[1]["description"],
        "assertion failed: 1 + 1 == 3"
    );
    let finding = &result["findings"][0];
    assert_eq!(finding["target"]["target-id"], "sa-11");
    assert_eq!(finding["related-observations"].as_array().unwrap().len(), 2);
    let plan = plan(&failing);
    let items = titles(&plan["plan-of-action-and-milestones"]["poam-items"]);
    assert_eq!(items[0], "Fix the failing tests");
}

#[test]
fn uuids_follow_the_content_not_the_run_or_the_time() {
    let first = results(&assessment());
    let mut later = assessment();
    later.timestamp = "2026-11-04T00:00:00Z".to_owned();
    later.run_id = "run-2".to_owned();
    let mut other_image = assessment();
    other_image.image.as_mut().unwrap().digest = format!("sha256:{}", "c".repeat(64));
    let uuid = |doc: &Value| doc["assessment-results"]["uuid"].clone();
    assert_eq!(uuid(&first), uuid(&results(&later)));
    assert_ne!(uuid(&first), uuid(&results(&other_image)));

    // A package keeps its component UUID from one release to the next.
    let component = |doc: &Value| {
        doc["assessment-results"]["results"][0]["local-definitions"]["components"][1]["uuid"]
            .clone()
    };
    assert_eq!(component(&first), component(&results(&other_image)));
}

#[test]
fn timestamps_are_rfc3339_in_utc() {
    assert_eq!(format_timestamp(0), "1970-01-01T00:00:00Z");
    assert_eq!(format_timestamp(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(format_timestamp(1_793_714_709), "2026-11-03T14:05:09Z");
}
