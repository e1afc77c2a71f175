//! Turning a scan report into the stage's findings, summary and verdict.

use gantry_plugin_core::osv::{self, FailOn, FindingsReport};
use gantry_plugin_sdk::{Finding, Severity, Verdict};

/// How many blocking findings the verdict names before "and N more".
const NAMED_BLOCKERS: usize = 5;

/// The report's findings as WIT records.
pub fn wit_findings(report: &FindingsReport) -> Vec<Finding> {
    report
        .findings
        .iter()
        .map(|finding| Finding {
            id: finding.id.clone(),
            severity: wit_severity(finding.severity),
            package: finding.package.clone(),
            title: finding.title.clone(),
            fixed_in: finding.fixed_in.clone(),
        })
        .collect()
}

fn wit_severity(severity: osv::Severity) -> Severity {
    match severity {
        osv::Severity::Unknown => Severity::Unknown,
        osv::Severity::Low => Severity::Low,
        osv::Severity::Medium => Severity::Medium,
        osv::Severity::High => Severity::High,
        osv::Severity::Critical => Severity::Critical,
    }
}

/// One line for people, e.g.
/// "42 components, 1 finding (1 medium), 1 warning; fail-on critical".
pub fn summary(components: usize, report: &FindingsReport, fail_on: FailOn) -> String {
    let mut findings = counted(report.findings.len(), "finding");
    if !report.findings.is_empty() {
        findings.push_str(&format!(" ({})", report.counts_text()));
    }
    format!(
        "{}, {findings}, {}; fail-on {fail_on}",
        counted(components, "component"),
        counted(report.warnings.len(), "warning"),
    )
}

/// `fail` naming the findings at or above `fail_on`, else `pass`.
pub fn verdict(report: &FindingsReport, fail_on: FailOn) -> Verdict {
    let blocking: Vec<String> = report
        .blocking(fail_on)
        .map(|finding| {
            format!(
                "{} in {} ({})",
                finding.id, finding.package, finding.severity
            )
        })
        .collect();
    if blocking.is_empty() {
        return Verdict::Pass;
    }
    let count = blocking.len();
    let mut named = blocking[..count.min(NAMED_BLOCKERS)].join(", ");
    if count > NAMED_BLOCKERS {
        named.push_str(&format!(" and {} more", count - NAMED_BLOCKERS));
    }
    let noun = if count == 1 { "finding" } else { "findings" };
    Verdict::Fail(format!(
        "{count} {noun} at or above fail-on {fail_on}: {named}"
    ))
}

/// "1 finding", "2 findings", "0 findings".
fn counted(count: usize, noun: &str) -> String {
    let plural = if count == 1 { "" } else { "s" };
    format!("{count} {noun}{plural}")
}

#[cfg(test)]
mod tests {
    use gantry_plugin_core::osv::{SeverityCounts, Warning};

    use super::*;

    fn finding(id: &str, severity: osv::Severity) -> osv::Finding {
        osv::Finding {
            id: id.into(),
            aliases: Vec::new(),
            severity,
            score: None,
            cvss: None,
            package: "smallvec@1.6.0".into(),
            title: "overflow".into(),
            fixed_in: Some("1.6.1".into()),
            url: None,
        }
    }

    fn report(findings: Vec<osv::Finding>, warnings: usize) -> FindingsReport {
        let warning = Warning {
            id: "RUSTSEC-2021-0139".into(),
            kind: "unmaintained".into(),
            package: "ansi_term@0.12.1".into(),
            title: String::new(),
            url: None,
        };
        FindingsReport {
            counts: SeverityCounts::of(&findings),
            findings,
            warnings: vec![warning; warnings],
            problems: Vec::new(),
            database: None,
        }
    }

    fn critical() -> FailOn {
        "critical".parse().unwrap()
    }

    #[test]
    fn the_summary_counts_components_findings_and_warnings() {
        let one = report(vec![finding("A", osv::Severity::Medium)], 1);
        assert_eq!(
            summary(42, &one, critical()),
            "42 components, 1 finding (1 medium), 1 warning; fail-on critical"
        );
        let none = report(Vec::new(), 0);
        assert_eq!(
            summary(1, &none, FailOn::Never),
            "1 component, 0 findings, 0 warnings; fail-on none"
        );
    }

    #[test]
    fn findings_below_the_threshold_pass() {
        let medium = report(vec![finding("A", osv::Severity::Medium)], 0);
        assert!(matches!(verdict(&medium, critical()), Verdict::Pass));
    }

    #[test]
    fn blocking_findings_are_named_in_the_failure() {
        let mixed = report(
            vec![
                finding("A", osv::Severity::Critical),
                finding("B", osv::Severity::Low),
            ],
            0,
        );
        let Verdict::Fail(reason) = verdict(&mixed, critical()) else {
            panic!("expected fail");
        };
        assert_eq!(
            reason,
            "1 finding at or above fail-on critical: A in smallvec@1.6.0 (critical)"
        );
    }

    #[test]
    fn long_lists_of_blockers_are_cut() {
        let many = report(
            (0..7)
                .map(|n| finding(&format!("X-{n}"), osv::Severity::High))
                .collect(),
            0,
        );
        let Verdict::Fail(reason) = verdict(&many, "high".parse().unwrap()) else {
            panic!("expected fail");
        };
        assert!(
            reason.starts_with("7 findings at or above fail-on high: X-0 in"),
            "{reason}"
        );
        assert!(reason.ends_with(" and 2 more"), "{reason}");
    }

    #[test]
    fn wit_findings_keep_the_fix_and_severity() {
        let findings = wit_findings(&report(vec![finding("A", osv::Severity::High)], 0));
        assert_eq!(findings[0].fixed_in.as_deref(), Some("1.6.1"));
        assert!(matches!(findings[0].severity, Severity::High));
    }
}
