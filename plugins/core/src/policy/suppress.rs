//! Suppressions: advisories the policy accepts for a package, for a while.
//!
//! A suppression covers a finding (or an informational warning) when all
//! of these hold:
//!
//! - its `id` is the advisory's id or one of its aliases (a CVE id
//!   suppresses the RUSTSEC advisory that lists it), compared without
//!   regard to ASCII case;
//! - its `package` is the package's name, compared as the ecosystem
//!   compares names (PyPI names after normalisation: case folded, runs of
//!   `-`, `_` and `.` as one `-`; every other ecosystem exactly);
//! - its `version`, when given, is the package's version exactly as the
//!   lockfile writes it;
//! - its `ecosystem`, when given, is the package's, and the package's is
//!   known (when it is not, the suppression does not apply: a rule that
//!   cannot be checked covers nothing);
//! - it has not expired: it applies through the whole of its `expires`
//!   day, in UTC, and not after.
//!
//! Covered findings leave the report's findings (so they no longer count
//! towards the verdict) and are listed in `suppressed` with the
//! suppression that covered them; warnings likewise in
//! `suppressed-warnings`. Every suppression is listed in `suppressions`
//! with its state: `applied`, `unused` (it covered nothing), or `expired`
//! (it covers nothing any more; `covers` still names what it would have
//! covered, so the report says which findings came back).

use serde::{Deserialize, Serialize};

use super::date_text;
use crate::osv::{Finding, FindingsReport, SeverityCounts, Warning};
use crate::package::Ecosystem;

/// The VEX statuses (OpenVEX's names) a suppression may state.
///
/// `affected` is not among them: an affected package is what a finding
/// already says, and accepting that risk needs no status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VexStatus {
    /// The package is not affected; `justification` says why.
    NotAffected,
    /// The vulnerable code was fixed in this build (a patched copy).
    Fixed,
    /// Still being looked into; the expiry bounds how long.
    UnderInvestigation,
}

/// The justifications OpenVEX defines for `not_affected`.
pub const JUSTIFICATIONS: [&str; 5] = [
    "component_not_present",
    "vulnerable_code_not_present",
    "vulnerable_code_not_in_execute_path",
    "vulnerable_code_cannot_be_controlled_by_adversary",
    "inline_mitigations_already_exist",
];

/// One `[[suppress]]` entry of the policy file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Suppression {
    /// The advisory id or any of its aliases.
    pub id: String,
    /// The OSV ecosystem name (`crates.io`, `npm`, `PyPI`, `Go`), when the
    /// suppression is limited to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecosystem: Option<String>,
    /// The package name.
    pub package: String,
    /// The one version covered; every version when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Why the finding is accepted, for the report and the reviewer.
    pub reason: String,
    /// The last day the suppression applies.
    #[serde(with = "date_text")]
    pub expires: time::Date,
    /// The VEX status, when the suppression states one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<VexStatus>,
    /// Why the package is not affected; required with `not_affected`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
}

impl Suppression {
    /// Checks what serde cannot: non-empty text, a known ecosystem, a
    /// justification exactly when the status is `not_affected`.
    ///
    /// # Errors
    ///
    /// A message naming the key.
    pub fn check(&self) -> Result<(), String> {
        for (key, value) in [
            ("id", &self.id),
            ("package", &self.package),
            ("reason", &self.reason),
        ] {
            if value.trim().is_empty() {
                return Err(format!("`{key}` is empty"));
            }
        }
        if let Some(name) = &self.ecosystem
            && Ecosystem::from_osv_name(name).is_none()
        {
            return Err(format!("`ecosystem`: unknown ecosystem `{name}`"));
        }
        check_justification(self.status, self.justification.as_deref())
    }

    /// The package as people write it: `name` or `name@version`.
    pub fn package_text(&self) -> String {
        match &self.version {
            Some(version) => format!("{}@{version}", self.package),
            None => self.package.clone(),
        }
    }

    /// Whether the suppression still applies on `today`.
    pub fn is_active(&self, today: time::Date) -> bool {
        today <= self.expires
    }

    /// Whether the suppression covers `subject`, expiry aside.
    pub fn covers(&self, subject: &Subject<'_>) -> bool {
        let id_matches = std::iter::once(subject.id)
            .chain(subject.aliases.iter().map(String::as_str))
            .any(|id| id.eq_ignore_ascii_case(&self.id));
        id_matches && self.covers_package(subject)
    }

    fn covers_package(&self, subject: &Subject<'_>) -> bool {
        let wanted = self.ecosystem.as_deref().map(Ecosystem::from_osv_name);
        if let Some(wanted) = wanted
            && (wanted.is_none() || wanted != subject.ecosystem)
        {
            return false;
        }
        let (name, version) = split_package(subject.package);
        let ecosystem = subject.ecosystem.or(wanted.flatten());
        same_name(ecosystem, name, &self.package)
            && self.version.as_deref().is_none_or(|v| Some(v) == version)
    }
}

fn check_justification(
    status: Option<VexStatus>,
    justification: Option<&str>,
) -> Result<(), String> {
    match (status, justification) {
        (Some(VexStatus::NotAffected), None) => Err(format!(
            "`justification` is required with status `not_affected`; one of {}",
            JUSTIFICATIONS.join(", ")
        )),
        (Some(VexStatus::NotAffected), Some(text)) if !JUSTIFICATIONS.contains(&text) => {
            Err(format!(
                "`justification`: unknown justification `{text}`; one of {}",
                JUSTIFICATIONS.join(", ")
            ))
        }
        (Some(VexStatus::NotAffected), Some(_)) | (_, None) => Ok(()),
        (_, Some(_)) => Err("`justification` goes only with status `not_affected`".to_owned()),
    }
}

/// What a suppression is checked against: one finding or warning.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The advisory id.
    pub id: &'a str,
    /// The advisory's other ids.
    pub aliases: &'a [String],
    /// The package's ecosystem, when known.
    pub ecosystem: Option<Ecosystem>,
    /// The package as `name@version`.
    pub package: &'a str,
}

/// Splits `name@version` at the `@` that starts the version, so that a
/// scoped npm name (`@types/node@20.1.0`) keeps its own `@`.
pub fn split_package(text: &str) -> (&str, Option<&str>) {
    let at = text
        .char_indices()
        .skip(1)
        .filter(|&(_, c)| c == '@')
        .map(|(index, _)| index)
        .last();
    match at {
        Some(index) => (&text[..index], Some(&text[index + 1..])),
        None => (text, None),
    }
}

/// Whether two package names are the same in `ecosystem`.
fn same_name(ecosystem: Option<Ecosystem>, a: &str, b: &str) -> bool {
    match ecosystem {
        Some(Ecosystem::PyPi) => normalise_pypi(a) == normalise_pypi(b),
        _ => a == b,
    }
}

/// A PyPI project name as PEP 503 compares it.
fn normalise_pypi(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_separator = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_separator {
                out.push('-');
            }
            in_separator = true;
        } else {
            out.push(c.to_ascii_lowercase());
            in_separator = false;
        }
    }
    out
}

/// What a suppression did in one scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SuppressionState {
    /// It covered at least one finding or warning.
    Applied,
    /// It is in force but covered nothing.
    Unused,
    /// Its expiry has passed; it covered nothing.
    Expired,
}

/// One suppression and what it did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct SuppressionOutcome {
    /// The suppression as the policy states it.
    #[serde(flatten)]
    pub suppression: Suppression,
    /// Applied, unused or expired.
    pub state: SuppressionState,
    /// What it covered (or, expired, would have covered), each as
    /// `<advisory id> in <name@version>`.
    pub covers: Vec<String>,
}

/// The suppression that took a finding or warning out, as the report
/// shows it beside the finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct SuppressedBy {
    /// The suppression's `id`.
    pub id: String,
    /// Its package as written: `name` or `name@version`.
    pub package: String,
    /// Its reason.
    pub reason: String,
    /// Its expiry, `YYYY-MM-DD`.
    pub expires: String,
}

impl From<&Suppression> for SuppressedBy {
    fn from(suppression: &Suppression) -> Self {
        Self {
            id: suppression.id.clone(),
            package: suppression.package_text(),
            reason: suppression.reason.clone(),
            expires: super::format_date(suppression.expires),
        }
    }
}

/// A finding a suppression took out of the verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct SuppressedFinding {
    /// The finding, as it would otherwise have been reported.
    #[serde(flatten)]
    pub finding: Finding,
    /// The suppression that covered it.
    pub suppressed_by: SuppressedBy,
}

/// An informational warning a suppression took out of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct SuppressedWarning {
    /// The warning, as it would otherwise have been reported.
    #[serde(flatten)]
    pub warning: Warning,
    /// The suppression that covered it.
    pub suppressed_by: SuppressedBy,
}

/// Everything suppressions did to one report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct SuppressionReport {
    /// Findings taken out of the verdict, in report order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suppressed: Vec<SuppressedFinding>,
    /// Warnings taken out, in report order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suppressed_warnings: Vec<SuppressedWarning>,
    /// Every suppression of the policy, in policy order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suppressions: Vec<SuppressionOutcome>,
}

impl SuppressionReport {
    /// The suppressions whose expiry has passed.
    pub fn expired(&self) -> impl Iterator<Item = &SuppressionOutcome> {
        self.suppressions
            .iter()
            .filter(|outcome| outcome.state == SuppressionState::Expired)
    }
}

/// Takes every finding and warning that an active suppression covers out
/// of `report` (recounting its severities), on the date `today`.
///
/// `ecosystem_of` names the ecosystem of a package written `name@version`,
/// when the caller knows it. The first active suppression, in policy order,
/// that covers a finding is the one recorded for it.
pub fn apply(
    suppressions: &[Suppression],
    report: &mut FindingsReport,
    ecosystem_of: &dyn Fn(&str) -> Option<Ecosystem>,
    today: time::Date,
) -> SuppressionReport {
    let mut outcomes: Vec<SuppressionOutcome> = suppressions
        .iter()
        .map(|suppression| SuppressionOutcome {
            suppression: suppression.clone(),
            state: if suppression.is_active(today) {
                SuppressionState::Unused
            } else {
                SuppressionState::Expired
            },
            covers: Vec::new(),
        })
        .collect();

    let subject_of = |finding: &Finding| {
        (
            finding.id.clone(),
            finding.aliases.clone(),
            finding.package.clone(),
        )
    };
    let suppressed = take_covered(
        &mut report.findings,
        &mut outcomes,
        ecosystem_of,
        subject_of,
    )
    .into_iter()
    .map(|(finding, suppressed_by)| SuppressedFinding {
        finding,
        suppressed_by,
    })
    .collect();
    report.counts = SeverityCounts::of(&report.findings);

    let subject_of = |warning: &Warning| (warning.id.clone(), Vec::new(), warning.package.clone());
    let suppressed_warnings = take_covered(
        &mut report.warnings,
        &mut outcomes,
        ecosystem_of,
        subject_of,
    )
    .into_iter()
    .map(|(warning, suppressed_by)| SuppressedWarning {
        warning,
        suppressed_by,
    })
    .collect();

    SuppressionReport {
        suppressed,
        suppressed_warnings,
        suppressions: outcomes,
    }
}

/// Takes the items an active suppression covers out of `items`, in order,
/// each with the suppression that took it; `parts` gives an item's
/// advisory id, aliases and `name@version`.
fn take_covered<T>(
    items: &mut Vec<T>,
    outcomes: &mut [SuppressionOutcome],
    ecosystem_of: &dyn Fn(&str) -> Option<Ecosystem>,
    parts: impl Fn(&T) -> (String, Vec<String>, String),
) -> Vec<(T, SuppressedBy)> {
    let mut taken = Vec::new();
    for item in std::mem::take(items) {
        let (id, aliases, package) = parts(&item);
        let subject = Subject {
            id: &id,
            aliases: &aliases,
            ecosystem: ecosystem_of(&package),
            package: &package,
        };
        match settle(outcomes, &subject) {
            Some(by) => taken.push((item, by)),
            None => items.push(item),
        }
    }
    taken
}

/// Records `subject` in every suppression that covers it; returns the
/// first active one, which takes it out.
fn settle(outcomes: &mut [SuppressionOutcome], subject: &Subject<'_>) -> Option<SuppressedBy> {
    let label = format!("{} in {}", subject.id, subject.package);
    let mut taken = None;
    for outcome in outcomes.iter_mut() {
        if !outcome.suppression.covers(subject) {
            continue;
        }
        if outcome.state == SuppressionState::Expired {
            outcome.covers.push(label.clone());
            continue;
        }
        if taken.is_none() {
            taken = Some(SuppressedBy::from(&outcome.suppression));
            outcome.state = SuppressionState::Applied;
            outcome.covers.push(label.clone());
        }
    }
    taken
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::osv::Severity;
    use crate::policy::parse_date;

    fn suppression(id: &str, package: &str, version: Option<&str>, expires: &str) -> Suppression {
        Suppression {
            id: id.into(),
            ecosystem: None,
            package: package.into(),
            version: version.map(Into::into),
            reason: "only trusted input reaches it".into(),
            expires: parse_date(expires).unwrap(),
            status: None,
            justification: None,
        }
    }

    fn finding(id: &str, aliases: &[&str], package: &str, severity: Severity) -> Finding {
        Finding {
            id: id.into(),
            aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
            severity,
            score: None,
            cvss: None,
            package: package.into(),
            title: String::new(),
            fixed_in: None,
            url: None,
        }
    }

    fn subject<'a>(id: &'a str, aliases: &'a [String], package: &'a str) -> Subject<'a> {
        Subject {
            id,
            aliases,
            ecosystem: Some(Ecosystem::CratesIo),
            package,
        }
    }

    fn day(text: &str) -> time::Date {
        parse_date(text).unwrap()
    }

    fn crates_io(_: &str) -> Option<Ecosystem> {
        Some(Ecosystem::CratesIo)
    }

    #[test]
    fn an_id_matches_the_advisory_or_any_alias() {
        let aliases = vec!["CVE-2020-26235".to_owned()];
        let by_alias = suppression("cve-2020-26235", "time", None, "2027-01-01");
        assert!(by_alias.covers(&subject("RUSTSEC-2020-0071", &aliases, "time@0.1.45")));
        let by_id = suppression("RUSTSEC-2020-0071", "time", None, "2027-01-01");
        assert!(by_id.covers(&subject("RUSTSEC-2020-0071", &[], "time@0.1.45")));
        let other = suppression("RUSTSEC-2020-0072", "time", None, "2027-01-01");
        assert!(!other.covers(&subject("RUSTSEC-2020-0071", &aliases, "time@0.1.45")));
    }

    #[test]
    fn a_package_matches_by_name_and_optionally_version() {
        let any = suppression("A", "time", None, "2027-01-01");
        let one = suppression("A", "time", Some("0.1.45"), "2027-01-01");
        assert!(any.covers(&subject("A", &[], "time@0.1.44")));
        assert!(one.covers(&subject("A", &[], "time@0.1.45")));
        assert!(!one.covers(&subject("A", &[], "time@0.1.44")));
        assert!(!any.covers(&subject("A", &[], "times@0.1.45")));
        assert!(!any.covers(&subject("A", &[], "Time@0.1.45")));
    }

    #[test]
    fn an_ecosystem_must_be_the_packages_and_known() {
        let mut npm = suppression("A", "left-pad", None, "2027-01-01");
        npm.ecosystem = Some("npm".into());
        let mut on_npm = subject("A", &[], "left-pad@1.3.0");
        on_npm.ecosystem = Some(Ecosystem::Npm);
        assert!(npm.covers(&on_npm));
        assert!(!npm.covers(&subject("A", &[], "left-pad@1.3.0")));
        on_npm.ecosystem = None;
        assert!(!npm.covers(&on_npm));
        let without = suppression("A", "left-pad", None, "2027-01-01");
        assert!(without.covers(&on_npm));
    }

    #[test]
    fn pypi_names_compare_normalised_and_npm_scopes_survive() {
        let mut pypi = suppression("A", "Jinja2", Some("2.10"), "2027-01-01");
        pypi.ecosystem = Some("PyPI".into());
        let mut subject = subject("A", &[], "jinja2@2.10");
        subject.ecosystem = Some(Ecosystem::PyPi);
        assert!(pypi.covers(&subject));
        assert_eq!(
            split_package("@types/node@20.1.0"),
            ("@types/node", Some("20.1.0"))
        );
        assert_eq!(split_package("@types/node"), ("@types/node", None));
        assert_eq!(normalise_pypi("Zope.Interface__x"), "zope-interface-x");
        let scoped = suppression("A", "@types/node", Some("20.1.0"), "2027-01-01");
        let mut npm = super::Subject {
            package: "@types/node@20.1.0",
            ..subject
        };
        npm.ecosystem = Some(Ecosystem::Npm);
        assert!(scoped.covers(&npm));
    }

    #[test]
    fn a_suppression_applies_through_its_expiry_day_and_not_after() {
        let rule = suppression("A", "time", None, "2026-12-31");
        assert!(rule.is_active(day("2026-12-31")));
        assert!(!rule.is_active(day("2027-01-01")));
    }

    #[test]
    fn applied_suppressions_move_findings_out_of_the_verdict() {
        let mut report = FindingsReport {
            findings: vec![
                finding("A", &["CVE-1"], "time@0.1.45", Severity::Critical),
                finding("B", &[], "smallvec@1.6.0", Severity::High),
            ],
            ..FindingsReport::default()
        };
        report.counts = SeverityCounts::of(&report.findings);
        let rules = [
            suppression("CVE-1", "time", Some("0.1.45"), "2027-01-01"),
            suppression("C", "time", None, "2027-01-01"),
        ];
        let result = apply(&rules, &mut report, &crates_io, day("2026-12-03"));

        assert_eq!(report.findings.len(), 1);
        assert_eq!(report.findings[0].id, "B");
        assert_eq!(report.counts.critical, 0);
        assert_eq!(report.counts.high, 1);
        assert_eq!(result.suppressed[0].finding.id, "A");
        assert_eq!(result.suppressed[0].suppressed_by.package, "time@0.1.45");
        assert_eq!(result.suppressions[0].state, SuppressionState::Applied);
        assert_eq!(result.suppressions[0].covers, ["A in time@0.1.45"]);
        assert_eq!(result.suppressions[1].state, SuppressionState::Unused);
    }

    #[test]
    fn expired_suppressions_leave_findings_in_and_say_what_came_back() {
        let mut report = FindingsReport {
            findings: vec![finding("A", &[], "time@0.1.45", Severity::Critical)],
            ..FindingsReport::default()
        };
        let rules = [suppression("A", "time", None, "2026-12-02")];
        let result = apply(&rules, &mut report, &crates_io, day("2026-12-03"));
        assert_eq!(report.findings.len(), 1);
        assert_eq!(report.counts.critical, 1);
        assert!(result.suppressed.is_empty());
        let expired: Vec<_> = result.expired().collect();
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].covers, ["A in time@0.1.45"]);
    }

    #[test]
    fn warnings_are_suppressed_too() {
        let warning = Warning {
            id: "RUSTSEC-2025-0057".into(),
            kind: "unmaintained".into(),
            package: "fxhash@0.2.1".into(),
            title: String::new(),
            url: None,
        };
        let mut report = FindingsReport {
            warnings: vec![
                warning.clone(),
                Warning {
                    package: "other@1.0.0".into(),
                    ..warning
                },
            ],
            ..FindingsReport::default()
        };
        let rules = [suppression(
            "RUSTSEC-2025-0057",
            "fxhash",
            None,
            "2027-01-01",
        )];
        let result = apply(&rules, &mut report, &crates_io, day("2026-12-03"));
        assert_eq!(report.warnings.len(), 1);
        assert_eq!(report.warnings[0].package, "other@1.0.0");
        assert_eq!(result.suppressed_warnings.len(), 1);
    }

    #[test]
    fn not_affected_needs_a_known_justification() {
        let mut rule = suppression("A", "time", None, "2027-01-01");
        rule.status = Some(VexStatus::NotAffected);
        assert!(rule.check().unwrap_err().contains("required"));
        rule.justification = Some("because".into());
        assert!(rule.check().unwrap_err().contains("unknown justification"));
        rule.justification = Some("vulnerable_code_not_in_execute_path".into());
        assert_eq!(rule.check(), Ok(()));
        rule.status = Some(VexStatus::Fixed);
        assert!(rule.check().unwrap_err().contains("only with status"));
        rule.justification = None;
        assert_eq!(rule.check(), Ok(()));
    }
}
