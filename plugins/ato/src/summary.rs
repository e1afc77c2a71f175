//! The summary a reviewer reads before approving: `summary.md`, and the
//! same content as `summary.html`.
//!
//! It is laid out for a two-minute read: the verdict first, then the
//! findings that should stop an approval (most severe first), the test
//! totals, the scan's suppression and licence notes, what changed since
//! the version promoted last, and the facts (digests, policy) at the end
//! for whoever needs to check them. [`Summary`] holds that content once;
//! [`Summary::to_markdown`] and [`crate::html::render`] lay it out.

use std::fmt::Write;

use gantry_plugin_core::oscal::{OpenFinding, TestFacts};

use crate::history::{Changes, History};
use crate::inputs::Packet;

/// Severities from most to least severe, as findings spell them.
const SEVERITY_ORDER: [&str; 5] = ["critical", "high", "medium", "low", "unknown"];

/// The summary's content, independent of its format.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub title: String,
    pub verdict: String,
    pub sections: Vec<Section>,
}

/// A headed part of the summary.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub heading: String,
    pub blocks: Vec<Block>,
}

/// Plain text only: each format escapes it its own way.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Paragraph(String),
    List(Vec<String>),
    Table {
        head: Vec<String>,
        rows: Vec<Vec<String>>,
    },
}

/// What the packet's files are called, for the facts table.
#[derive(Debug, Clone, Default)]
pub struct PacketFiles {
    pub assessment_uuid: String,
    /// The POA&M's UUID, when there is a plan.
    pub poam_uuid: Option<String>,
}

impl Summary {
    /// Builds the summary of `packet`; findings at or above `blocking_at`
    /// are listed as blocking.
    pub fn of(packet: &Packet, files: &PacketFiles, history: &History, blocking_at: &str) -> Self {
        let mut findings = packet.assessment.findings.clone();
        findings.sort_by_key(|finding| (severity_rank(&finding.severity), finding.id.clone()));
        let threshold = severity_rank(blocking_at);
        let (blocking, other): (Vec<_>, Vec<_>) = findings
            .into_iter()
            .partition(|finding| severity_rank(&finding.severity) <= threshold);

        let mut sections = vec![findings_section(
            &format!("Blocking findings ({blocking_at} or worse)"),
            &blocking,
            packet.scan.is_some(),
        )];
        if !other.is_empty() {
            sections.push(findings_section("Other open findings", &other, true));
        }
        sections.push(tests_section(packet.assessment.tests.as_ref()));
        sections.extend(notes_section(packet));
        sections.push(history_section(history));
        sections.push(facts_section(packet, files));
        Summary {
            title: format!("ATO summary: {}", packet.assessment.system),
            verdict: verdict(packet, blocking.len(), blocking_at),
            sections,
        }
    }

    /// The summary as Markdown.
    pub fn to_markdown(&self) -> String {
        let mut text = format!(
            "# {}\n\n**Verdict:** {}\n",
            line(&self.title),
            line(&self.verdict)
        );
        for section in &self.sections {
            let _ = write!(text, "\n## {}\n", line(&section.heading));
            for block in &section.blocks {
                text.push('\n');
                write_markdown_block(&mut text, block);
            }
        }
        text
    }
}

fn write_markdown_block(text: &mut String, block: &Block) {
    match block {
        Block::Paragraph(paragraph) => {
            let _ = writeln!(text, "{}", line(paragraph));
        }
        Block::List(items) => {
            for item in items {
                let _ = writeln!(text, "- {}", line(item));
            }
        }
        Block::Table { head, rows } => {
            let cells = |row: &[String]| row.iter().map(|c| cell(c)).collect::<Vec<_>>();
            let _ = writeln!(text, "| {} |", cells(head).join(" | "));
            let _ = writeln!(text, "|{}", "---|".repeat(head.len()));
            for row in rows {
                let _ = writeln!(text, "| {} |", cells(row).join(" | "));
            }
        }
    }
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

/// One sentence: may this be approved as it stands, and if not, why not.
fn verdict(packet: &Packet, blocking: usize, blocking_at: &str) -> String {
    let tests_failed = packet
        .assessment
        .tests
        .as_ref()
        .is_some_and(|tests| !tests.succeeded());
    let mut reasons = Vec::new();
    if blocking > 0 {
        let noun = if blocking == 1 { "finding" } else { "findings" };
        reasons.push(format!(
            "{blocking} blocking {noun} ({blocking_at} or worse)"
        ));
    }
    if tests_failed {
        reasons.push("tests failed".to_owned());
    }
    if !packet.missing.is_empty() {
        reasons.push(format!("evidence missing: {}", packet.missing.join(", ")));
    }
    if reasons.is_empty() {
        format!("ready for approval: {}.", status_line(packet))
    } else {
        format!(
            "do not approve as is: {}. In all: {}.",
            reasons.join("; "),
            status_line(packet)
        )
    }
}

fn findings_section(heading: &str, findings: &[OpenFinding], scanned: bool) -> Section {
    let block = if !scanned {
        Block::Paragraph("No scan results were provided.".to_owned())
    } else if findings.is_empty() {
        Block::Paragraph("None.".to_owned())
    } else {
        let head = ["Severity", "ID", "Package", "Fixed in", "Title"];
        Block::Table {
            head: head.map(str::to_owned).to_vec(),
            rows: findings.iter().map(finding_row).collect(),
        }
    };
    Section {
        heading: heading.to_owned(),
        blocks: vec![block],
    }
}

fn finding_row(finding: &OpenFinding) -> Vec<String> {
    let id = match finding.aliases.as_slice() {
        [] => finding.id.clone(),
        aliases => format!("{} ({})", finding.id, aliases.join(", ")),
    };
    vec![
        finding.severity.clone(),
        id,
        finding.package.clone(),
        finding
            .fixed_in
            .clone()
            .unwrap_or_else(|| "no fix known".to_owned()),
        finding.title.clone(),
    ]
}

fn tests_section(tests: Option<&TestFacts>) -> Section {
    let Some(tests) = tests else {
        return Section {
            heading: "Tests".to_owned(),
            blocks: vec![Block::Paragraph("No test report was provided.".to_owned())],
        };
    };
    let mut totals = format!(
        "{}: {} passed, {} failed, {} skipped",
        test_outcome(tests),
        tests.passed,
        tests.failed,
        tests.ignored
    );
    if let Some(junit) = &tests.junit {
        let _ = write!(
            totals,
            " of {} in the JUnit reports ({} errored), {:.1} s",
            junit.tests, junit.errors, junit.time
        );
    }
    let _ = write!(totals, "; command `{}`.", tests.command);
    let mut blocks = vec![Block::Paragraph(totals)];
    let failures: Vec<String> = if tests.failures.is_empty() {
        tests.failed_tests.clone()
    } else {
        let shown = |message: &str| message.lines().next().unwrap_or_default().to_owned();
        tests
            .failures
            .iter()
            .map(|f| {
                format!(
                    "{} ({}): {}",
                    f.qualified_name(),
                    f.outcome,
                    shown(&f.message)
                )
            })
            .collect()
    };
    if !failures.is_empty() {
        blocks.push(Block::List(failures));
    }
    Section {
        heading: "Tests".to_owned(),
        blocks,
    }
}

/// Suppressions and licence results, then warnings and data problems.
fn notes_section(packet: &Packet) -> Option<Section> {
    let mut blocks = Vec::new();
    for (key, lines) in &packet.policy_notes {
        blocks.push(Block::Paragraph(format!("{} ({}):", key, lines.len())));
        blocks.push(Block::List(lines.clone()));
    }
    if let Some(scan) = &packet.scan {
        if !scan.warnings.is_empty() {
            blocks.push(Block::Paragraph(
                "Advisory warnings (not vulnerabilities):".to_owned(),
            ));
            let warnings = scan.warnings.iter().map(|warning| {
                format!(
                    "{} ({}) in {}: {}",
                    warning.id, warning.kind, warning.package, warning.title
                )
            });
            blocks.push(Block::List(warnings.collect()));
        }
        if !scan.problems.is_empty() {
            blocks.push(Block::Paragraph("Advisory data problems:".to_owned()));
            blocks.push(Block::List(scan.problems.clone()));
        }
    }
    (!blocks.is_empty()).then(|| Section {
        heading: "Suppressions, licences and warnings".to_owned(),
        blocks,
    })
}

fn history_section(history: &History) -> Section {
    let blocks = match history {
        History::NotConfigured => vec![Block::Paragraph(
            "Not compared: the stage has no `registry` to read earlier releases from.".to_owned(),
        )],
        History::FirstVersion => vec![Block::Paragraph(
            "No earlier promoted version: this is the first release of the service.".to_owned(),
        )],
        History::NoFacts { version } => vec![Block::Paragraph(format!(
            "Version {version} was promoted last, but the registry holds no record of its \
             packages and findings, so nothing could be compared."
        ))],
        History::Compared(changes) => changes_blocks(changes),
    };
    Section {
        heading: "What changed since the last promoted version".to_owned(),
        blocks,
    }
}

fn changes_blocks(changes: &Changes) -> Vec<Block> {
    let intro = format!(
        "Compared with {} (image {}, run {}):",
        changes.version, changes.image_digest, changes.run_id
    );
    if changes.is_empty() {
        return vec![Block::Paragraph(format!(
            "{} no package and no open finding changed.",
            intro.trim_end_matches(':')
        ))];
    }
    let mut items = Vec::new();
    let mut add = |label: &str, list: &[String]| {
        if !list.is_empty() {
            items.push(format!("{label} ({}): {}", list.len(), list.join(", ")));
        }
    };
    add("New findings", &changes.new_findings);
    add("Resolved findings", &changes.resolved_findings);
    add("Packages added", &changes.added_packages);
    add("Packages removed", &changes.removed_packages);
    add(
        "Packages upgraded or downgraded",
        &changes.upgraded_packages,
    );
    vec![Block::Paragraph(intro), Block::List(items)]
}

fn facts_section(packet: &Packet, files: &PacketFiles) -> Section {
    let assessment = &packet.assessment;
    let not_provided = || "not provided".to_owned();
    let mut rows = vec![
        row(
            "Policy",
            format!(
                "{} version {}",
                assessment.policy_id, assessment.policy_version
            ),
        ),
        row("Run", assessment.run_id.clone()),
        row("Assessed at", assessment.timestamp.clone()),
    ];
    match &assessment.image {
        Some(image) => {
            rows.push(row("Image", format!("{}:{}", image.name, image.version)));
            rows.push(row("Image digest", image.digest.clone()));
        }
        None => rows.push(row("Image", not_provided())),
    }
    let sbom = assessment.sbom_digest.clone().unwrap_or_else(not_provided);
    rows.push(row("SBOM digest", sbom));
    rows.push(row(
        "SBOM packages",
        assessment.components.len().to_string(),
    ));
    rows.extend(
        assessment
            .evidence
            .iter()
            .filter(|file| file.name == crate::inputs::PROVENANCE)
            .map(|file| row("Provenance digest", file.digest.clone())),
    );
    rows.push(row(
        "Assessment results",
        format!("assessment-results.json ({})", files.assessment_uuid),
    ));
    let poam = match &files.poam_uuid {
        Some(uuid) => format!("poam.json ({uuid})"),
        None => "none: nothing is open".to_owned(),
    };
    rows.push(row("Plan of action (POA&M)", poam));
    if !packet.missing.is_empty() {
        rows.push(row("Missing inputs", packet.missing.join(", ")));
    }
    Section {
        heading: "Facts".to_owned(),
        blocks: vec![Block::Table {
            head: vec!["".to_owned(), "".to_owned()],
            rows,
        }],
    }
}

fn row(label: &str, value: String) -> Vec<String> {
    vec![label.to_owned(), value]
}

fn test_outcome(tests: &TestFacts) -> &'static str {
    match (tests.succeeded(), tests.timed_out) {
        (true, _) => "passed",
        (false, true) => "timed out",
        (false, false) => "failed",
    }
}

/// 0 for critical up to 4 for unknown; anything else ranks last.
pub fn severity_rank(severity: &str) -> usize {
    SEVERITY_ORDER
        .iter()
        .position(|known| *known == severity)
        .unwrap_or(SEVERITY_ORDER.len())
}

/// Keeps text from outside (titles, names) on one line.
fn line(value: &str) -> String {
    value.replace(['\n', '\r'], " ")
}

/// Keeps text out of a Markdown table's structure.
fn cell(value: &str) -> String {
    line(value).replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use gantry_plugin_core::oscal::{Assessment, ImageFacts};
    use gantry_plugin_core::osv::{Finding, FindingsReport, Severity, SeverityCounts, Warning};

    use super::*;

    fn finding(id: &str, severity: Severity, title: &str) -> Finding {
        Finding {
            id: id.to_owned(),
            aliases: vec![],
            severity,
            score: None,
            cvss: None,
            package: "time@0.1.45".to_owned(),
            title: title.to_owned(),
            fixed_in: Some("0.2.23".to_owned()),
            url: None,
        }
    }

    fn packet(findings: Vec<Finding>) -> Packet {
        let scan = FindingsReport {
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
            unreadable: vec![],
        };
        let open = scan
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
                    junit: None,
                    failures: vec![],
                }),
                findings: open,
                ..Assessment::default()
            },
            scan: Some(scan),
            missing: vec![],
            policy_notes: vec![(
                "suppressed".to_owned(),
                vec!["id: RUSTSEC-9, reason: not reachable".to_owned()],
            )],
        }
    }

    fn files() -> PacketFiles {
        PacketFiles {
            assessment_uuid: "uuid-1".to_owned(),
            poam_uuid: Some("uuid-2".to_owned()),
        }
    }

    fn render(packet: &Packet, history: &History) -> String {
        Summary::of(packet, &files(), history, "high").to_markdown()
    }

    #[test]
    fn verdict_comes_first_and_says_why_not_to_approve() {
        let findings = vec![
            finding("RUSTSEC-2", Severity::Medium, "medium one"),
            finding("RUSTSEC-1", Severity::Critical, "critical | one"),
        ];
        let text = render(&packet(findings), &History::FirstVersion);
        let second = text.lines().nth(2).unwrap();
        assert_eq!(
            second,
            "**Verdict:** do not approve as is: 1 blocking finding (high or worse). \
             In all: 2 open findings (1 critical, 1 medium), tests passed."
        );
        let blocking = text.find("## Blocking findings (high or worse)").unwrap();
        let critical = text.find("| critical | RUSTSEC-1 |").unwrap();
        let other = text.find("## Other open findings").unwrap();
        let medium = text.find("| medium | RUSTSEC-2 |").unwrap();
        assert!(
            blocking < critical && critical < other && other < medium,
            "{text}"
        );
        assert!(
            text.contains("critical \\| one"),
            "table text is escaped: {text}"
        );
    }

    #[test]
    fn nothing_blocking_is_ready_for_approval() {
        let text = render(
            &packet(vec![finding("R-1", Severity::Low, "x")]),
            &History::NotConfigured,
        );
        assert!(
            text.contains("**Verdict:** ready for approval: 1 open finding (1 low), tests passed.")
        );
        assert!(text.contains("## Blocking findings (high or worse)\n\nNone.\n"));
    }

    #[test]
    fn sections_come_in_reading_order() {
        let text = render(&packet(vec![]), &History::FirstVersion);
        let order = [
            "**Verdict:**",
            "## Blocking findings",
            "## Tests",
            "## Suppressions, licences and warnings",
            "- id: RUSTSEC-9, reason: not reachable",
            "- RUSTSEC-2021-0139 (unmaintained) in ansi_term@0.12.1",
            "## What changed since the last promoted version",
            "No earlier promoted version",
            "## Facts",
            "| Image digest | sha256:abc |",
            "| Plan of action (POA&M) | poam.json (uuid-2) |",
        ];
        let positions: Vec<usize> = order.iter().map(|t| text.find(t).expect(t)).collect();
        assert!(positions.is_sorted(), "{text}");
    }

    #[test]
    fn changes_since_the_last_promotion_are_listed() {
        let changes = Changes {
            version: "0.1.0".to_owned(),
            image_digest: "sha256:old".to_owned(),
            run_id: "run-1".to_owned(),
            upgraded_packages: vec!["time: 0.1.44 → 0.1.45".to_owned()],
            new_findings: vec!["R-1 in time@0.1.45 (medium)".to_owned()],
            ..Changes::default()
        };
        let text = render(&packet(vec![]), &History::Compared(changes.clone()));
        assert!(text.contains("Compared with 0.1.0 (image sha256:old, run run-1):"));
        assert!(text.contains("- New findings (1): R-1 in time@0.1.45 (medium)"));
        assert!(text.contains("- Packages upgraded or downgraded (1): time: 0.1.44 → 0.1.45"));
        let same = Changes {
            upgraded_packages: vec![],
            new_findings: vec![],
            ..changes
        };
        let text = render(&packet(vec![]), &History::Compared(same));
        assert!(
            text.contains("run run-1) no package and no open finding changed."),
            "{text}"
        );
    }

    #[test]
    fn failing_tests_stop_the_approval_and_are_named() {
        let mut failing = packet(vec![]);
        let tests = failing.assessment.tests.as_mut().unwrap();
        tests.exit_status = Some(101);
        tests.failed = 1;
        tests.failed_tests = vec!["app::adds".to_owned()];
        let text = render(&failing, &History::FirstVersion);
        assert!(
            text.contains("**Verdict:** do not approve as is: tests failed."),
            "{text}"
        );
        assert!(
            text.contains("failed: 23 passed, 1 failed, 0 skipped; command `cargo test --locked`.")
        );
        assert!(text.contains("- app::adds\n"));
    }

    #[test]
    fn missing_inputs_are_called_out() {
        let mut bare = packet(vec![]);
        bare.scan = None;
        bare.assessment.sbom_digest = None;
        bare.missing = vec!["sbom", "findings"];
        let text = render(&bare, &History::FirstVersion);
        assert!(text.contains("| SBOM digest | not provided |"));
        assert!(text.contains("No scan results were provided."));
        assert!(text.contains("evidence missing: sbom, findings"));
        assert_eq!(
            status_line(&bare),
            "no scan results, tests passed, missing inputs: sbom, findings"
        );
    }
}
