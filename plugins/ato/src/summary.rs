//! `summary.md`: the packet as a reviewer reads it before approving.

use std::fmt::Write;

use gantry_plugin_core::oscal::{OpenFinding, TestFacts};

use crate::inputs::Packet;

/// Renders the Markdown summary of `packet`, whose OSCAL document has
/// `assessment_uuid`.
pub fn render(packet: &Packet, assessment_uuid: &str) -> String {
    let mut text = String::new();
    write_facts(&mut text, packet, assessment_uuid);
    write_findings(
        &mut text,
        &packet.assessment.findings,
        packet.scan.is_some(),
    );
    write_warnings(&mut text, packet);
    let _ = write!(
        text,
        "\n**Verdict:** pass, for review at the approval gate: "
    );
    let _ = writeln!(text, "{}.", status_line(packet));
    text
}

/// "1 open finding (1 medium), tests passed", with what is missing.
pub fn status_line(packet: &Packet) -> String {
    let findings = &packet.assessment.findings;
    let mut parts = vec![match (&packet.scan, findings.len()) {
        (None, _) => "no scan results".to_owned(),
        (Some(_), 0) => "no open findings".to_owned(),
        (Some(report), 1) => format!("1 open finding ({})", report.counts_text()),
        (Some(report), count) => format!("{count} open findings ({})", report.counts_text()),
    }];
    parts.push(match &packet.assessment.tests {
        None => "no test report".to_owned(),
        Some(tests) => format!("tests {}", test_outcome(tests)),
    });
    if !packet.missing.is_empty() {
        parts.push(format!("missing inputs: {}", packet.missing.join(", ")));
    }
    parts.join(", ")
}

fn write_facts(text: &mut String, packet: &Packet, assessment_uuid: &str) {
    let assessment = &packet.assessment;
    let _ = writeln!(text, "# ATO summary: {}\n", cell(&assessment.system));
    let _ = writeln!(text, "| | |\n|---|---|");
    let policy = format!(
        "{} version {}",
        assessment.policy_id, assessment.policy_version
    );
    row(text, "Policy", &policy);
    row(text, "Run", &assessment.run_id);
    row(text, "Assessed at", &assessment.timestamp);
    match &assessment.image {
        Some(image) => {
            row(text, "Image", &format!("{}:{}", image.name, image.version));
            row(text, "Image digest", &format!("`{}`", image.digest));
        }
        None => row(text, "Image", NOT_PROVIDED),
    }
    let sbom = assessment
        .sbom_digest
        .as_ref()
        .map(|digest| format!("`{digest}`"));
    row(text, "SBOM digest", sbom.as_deref().unwrap_or(NOT_PROVIDED));
    let tests = assessment.tests.as_ref().map(test_line);
    row(text, "Tests", tests.as_deref().unwrap_or(NOT_PROVIDED));
    row(
        text,
        "Assessment results",
        &format!("`assessment-results.json` ({assessment_uuid})"),
    );
}

const NOT_PROVIDED: &str = "**not provided**";

fn test_line(tests: &TestFacts) -> String {
    let mut line = format!(
        "{}: {} passed, {} failed, {} ignored (`{}`)",
        test_outcome(tests),
        tests.passed,
        tests.failed,
        tests.ignored,
        tests.command
    );
    if !tests.failed_tests.is_empty() {
        let _ = write!(line, "; failed: {}", tests.failed_tests.join(", "));
    }
    line
}

fn test_outcome(tests: &TestFacts) -> &'static str {
    match (tests.succeeded(), tests.timed_out) {
        (true, _) => "passed",
        (false, true) => "timed out",
        (false, false) => "failed",
    }
}

fn write_findings(text: &mut String, findings: &[OpenFinding], scanned: bool) {
    let _ = writeln!(text, "\n## Open findings\n");
    if !scanned {
        let _ = writeln!(text, "No scan results were provided.");
        return;
    }
    if findings.is_empty() {
        let _ = writeln!(text, "None.");
        return;
    }
    let _ = writeln!(
        text,
        "| ID | Severity | Package | Fixed in | Title |\n|---|---|---|---|---|"
    );
    for finding in findings {
        let id = match finding.aliases.as_slice() {
            [] => finding.id.clone(),
            aliases => format!("{} ({})", finding.id, aliases.join(", ")),
        };
        let fixed_in = finding.fixed_in.as_deref().unwrap_or("no fix known");
        let cells = [
            id.as_str(),
            &finding.severity,
            &finding.package,
            fixed_in,
            &finding.title,
        ];
        let cells: Vec<String> = cells.iter().map(|value| cell(value)).collect();
        let _ = writeln!(text, "| {} |", cells.join(" | "));
    }
}

fn write_warnings(text: &mut String, packet: &Packet) {
    let Some(scan) = &packet.scan else { return };
    if !scan.warnings.is_empty() {
        let _ = writeln!(text, "\n## Warnings\n");
        for warning in &scan.warnings {
            let _ = writeln!(
                text,
                "- {} ({}) in {}: {}",
                warning.id,
                warning.kind,
                warning.package,
                cell(&warning.title)
            );
        }
    }
    if !scan.problems.is_empty() {
        let _ = writeln!(text, "\n## Advisory data problems\n");
        for problem in &scan.problems {
            let _ = writeln!(text, "- {}", cell(problem));
        }
    }
}

fn row(text: &mut String, label: &str, value: &str) {
    let _ = writeln!(text, "| {label} | {value} |");
}

/// Keeps text from outside (titles, names) on one line and out of the
/// table's structure.
fn cell(value: &str) -> String {
    value.replace(['\n', '\r'], " ").replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use gantry_plugin_core::oscal::{Assessment, ImageFacts};
    use gantry_plugin_core::osv::{Finding, FindingsReport, Severity, SeverityCounts, Warning};

    use super::*;

    fn scan_report() -> FindingsReport {
        let findings = vec![Finding {
            id: "RUSTSEC-2020-0071".to_owned(),
            aliases: vec!["CVE-2020-26235".to_owned()],
            severity: Severity::Medium,
            score: Some(6.2),
            cvss: None,
            package: "time@0.1.45".to_owned(),
            title: "Potential segfault | in time".to_owned(),
            fixed_in: Some("0.2.23".to_owned()),
            url: None,
        }];
        FindingsReport {
            counts: SeverityCounts::of(&findings),
            findings,
            warnings: vec![Warning {
                id: "RUSTSEC-2021-0139".to_owned(),
                kind: "unmaintained".to_owned(),
                package: "ansi_term@0.12.1".to_owned(),
                title: "ansi_term is unmaintained".to_owned(),
                url: None,
            }],
            problems: vec![],
            database: None,
        }
    }

    fn packet() -> Packet {
        let scan = scan_report();
        let findings = scan
            .findings
            .iter()
            .map(crate::inputs::open_finding)
            .collect();
        Packet {
            assessment: Assessment {
                system: "Contact Tracing".to_owned(),
                policy_id: "cdc-ato".to_owned(),
                policy_version: "2026.11".to_owned(),
                run_id: "run-7".to_owned(),
                timestamp: "2026-11-03T14:05:09Z".to_owned(),
                image: Some(ImageFacts {
                    name: "contact-tracing".to_owned(),
                    version: "0.1.0".to_owned(),
                    digest: "sha256:abc".to_owned(),
                }),
                sbom_digest: Some("sha256:def".to_owned()),
                tests: Some(TestFacts {
                    command: "cargo test --locked".to_owned(),
                    exit_status: Some(0),
                    timed_out: false,
                    passed: 23,
                    failed: 0,
                    ignored: 0,
                    failed_tests: vec![],
                    report_href: "/in/test/test-report.json".to_owned(),
                }),
                findings,
            },
            scan: Some(scan),
            missing: vec![],
        }
    }

    #[test]
    fn summary_shows_policy_image_sbom_and_tests() {
        let text = render(&packet(), "uuid-1");
        assert!(
            text.contains("| Policy | cdc-ato version 2026.11 |"),
            "{text}"
        );
        assert!(text.contains("| Image | contact-tracing:0.1.0 |"));
        assert!(text.contains("| Image digest | `sha256:abc` |"));
        assert!(text.contains("| SBOM digest | `sha256:def` |"));
        assert!(text.contains("| Tests | passed: 23 passed, 0 failed, 0 ignored"));
    }

    #[test]
    fn every_finding_and_warning_is_listed_with_table_text_escaped() {
        let text = render(&packet(), "uuid-1");
        assert!(text.contains(
            "| RUSTSEC-2020-0071 (CVE-2020-26235) | medium | time@0.1.45 | 0.2.23 | \
             Potential segfault \\| in time |"
        ));
        assert!(text.contains("- RUSTSEC-2021-0139 (unmaintained) in ansi_term@0.12.1"));
    }

    #[test]
    fn verdict_line_counts_open_findings_and_test_outcome() {
        let text = render(&packet(), "uuid-1");
        let expected = "**Verdict:** pass, for review at the approval gate: \
                        1 open finding (1 medium), tests passed.";
        assert!(text.trim_end().ends_with(expected), "{text}");
    }

    #[test]
    fn missing_inputs_are_called_out() {
        let mut bare = packet();
        bare.scan = None;
        bare.assessment.findings.clear();
        bare.assessment.sbom_digest = None;
        bare.missing = vec!["sbom", "findings"];
        let text = render(&bare, "uuid-1");
        assert!(text.contains("| SBOM digest | **not provided** |"));
        assert!(text.contains("No scan results were provided."));
        assert_eq!(
            status_line(&bare),
            "no scan results, tests passed, missing inputs: sbom, findings"
        );
    }
}
