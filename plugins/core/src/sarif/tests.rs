use super::*;
use crate::osv::SeverityCounts;

fn finding(id: &str, package: &str, severity: Severity, score: Option<f64>) -> Finding {
    Finding {
        id: id.to_owned(),
        aliases: vec![format!("CVE-{id}")],
        severity,
        score,
        cvss: None,
        package: package.to_owned(),
        title: format!("problem {id}"),
        fixed_in: Some("9.9.9".to_owned()),
        url: Some(format!("https://rustsec.org/advisories/{id}.html")),
    }
}

fn report(findings: Vec<Finding>) -> FindingsReport {
    FindingsReport {
        counts: SeverityCounts::of(&findings),
        findings,
        ..FindingsReport::default()
    }
}

const TOOL: SarifTool<'static> = SarifTool {
    name: "gantry-scan",
    version: "1.2.3",
    information_uri: None,
};

fn lockfiles(entries: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
    entries
        .iter()
        .map(|(package, paths)| {
            (
                package.to_string(),
                paths.iter().map(|p| p.to_string()).collect(),
            )
        })
        .collect()
}

#[test]
fn one_rule_per_advisory_and_one_result_per_finding() {
    let findings = vec![
        finding("B-2", "time@0.1.45", Severity::Critical, Some(9.8)),
        finding("A-1", "smallvec@1.6.0", Severity::Medium, Some(6.2)),
        finding("B-2", "time@0.2.0", Severity::Critical, Some(9.8)),
    ];
    let located = lockfiles(&[("time@0.1.45", &["Cargo.lock", "sub/Cargo.lock"])]);
    let sarif = to_sarif(&report(findings), &TOOL, &located);

    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(sarif["$schema"], SCHEMA);
    let run = &sarif["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let ids: Vec<_> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["A-1", "B-2"]);
    assert_eq!(rules[1]["properties"]["security-severity"], "9.8");
    assert_eq!(
        rules[1]["helpUri"],
        "https://rustsec.org/advisories/B-2.html"
    );
    assert_eq!(rules[1]["shortDescription"]["text"], "problem B-2");

    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0]["ruleId"], "B-2");
    assert_eq!(results[0]["ruleIndex"], 1);
    assert_eq!(results[0]["level"], "error");
    assert_eq!(results[1]["ruleIndex"], 0);
    assert_eq!(results[1]["level"], "warning");
    let locations = results[0]["locations"].as_array().unwrap();
    assert_eq!(locations.len(), 2);
    let artifact = &locations[1]["physicalLocation"]["artifactLocation"];
    assert_eq!(artifact["uri"], "sub/Cargo.lock");
    assert_eq!(artifact["uriBaseId"], "%SRCROOT%");
    assert_eq!(
        locations[0]["logicalLocations"][0]["fullyQualifiedName"],
        "time@0.1.45"
    );
    assert_eq!(
        results[0]["message"]["text"],
        "time@0.1.45 is affected by B-2 (critical, CVSS 9.8): problem B-2; fixed in 9.9.9"
    );
}

#[test]
fn a_package_without_a_known_lockfile_keeps_a_logical_location() {
    let findings = vec![finding("A-1", "x@1.0.0", Severity::Unknown, None)];
    let sarif = to_sarif(&report(findings), &TOOL, &BTreeMap::new());
    let result = &sarif["runs"][0]["results"][0];
    assert!(result["locations"][0].get("physicalLocation").is_none());
    assert_eq!(
        result["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
        "x@1.0.0"
    );
    assert_eq!(result["level"], "warning");
    let rule = &sarif["runs"][0]["tool"]["driver"]["rules"][0];
    assert!(rule["properties"].get("security-severity").is_none());
}

#[test]
fn levels_follow_severity() {
    assert_eq!(level(Severity::Critical), "error");
    assert_eq!(level(Severity::High), "error");
    assert_eq!(level(Severity::Medium), "warning");
    assert_eq!(level(Severity::Unknown), "warning");
    assert_eq!(level(Severity::Low), "note");
}

#[test]
fn fingerprints_are_stable_and_differ_by_package_and_advisory() {
    let a = finding("A-1", "x@1.0.0", Severity::High, Some(7.5));
    let same = finding("A-1", "x@1.0.0", Severity::Low, Some(1.0));
    let other_package = finding("A-1", "x@1.0.1", Severity::High, Some(7.5));
    let other_id = finding("A-2", "x@1.0.0", Severity::High, Some(7.5));
    assert_eq!(fingerprint(&a), fingerprint(&same));
    assert_ne!(fingerprint(&a), fingerprint(&other_package));
    assert_ne!(fingerprint(&a), fingerprint(&other_id));
    assert_eq!(fingerprint(&a).len(), 64);
}

#[test]
fn no_findings_is_a_run_with_no_results() {
    let tool = SarifTool {
        information_uri: Some("https://example.org/gantry"),
        ..TOOL
    };
    let sarif = to_sarif(&FindingsReport::default(), &tool, &BTreeMap::new());
    assert_eq!(sarif["runs"][0]["results"], json!([]));
    assert_eq!(sarif["runs"][0]["tool"]["driver"]["rules"], json!([]));
    assert_eq!(
        sarif["runs"][0]["tool"]["driver"]["informationUri"],
        "https://example.org/gantry"
    );
}
