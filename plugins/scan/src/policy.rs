//! The policy's rules, applied to the scan: suppressions and the licence
//! policy.
//!
//! The host hands the rules over in `stage-input.policy-rules` (the stage
//! never reads the policy file). Suppressions in force take the findings
//! and warnings they cover out of the verdict; each stays in
//! `findings.json` under `suppressed` (or `suppressed-warnings`) with the
//! suppression that covered it, and every suppression is listed under
//! `suppressions` as applied, unused or expired. Expiry is checked against
//! today's date in UTC, from the sandbox's wall clock.
//!
//! With a licence policy, every non-local package's licence is checked:
//! from the lockfile when it records one, else, for crates, from the
//! `cargo-metadata` artifact an upstream build stage wrote. The results go
//! to `findings.json` under `licences`; denied packages (and, under
//! `unknown = "fail"`, packages of unknown licence) fail the stage whatever
//! `fail-on` says, and become stage findings `licence-denied:<package>` and
//! `licence-unknown:<package>`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use gantry_plugin_core::osv::FindingsReport;
use gantry_plugin_core::package::{Ecosystem, Inventory};
use gantry_plugin_core::policy::cargo_metadata::CargoLicences;
use gantry_plugin_core::policy::licence::{self, PackageLicence};
use gantry_plugin_core::policy::{
    Date, LicenceStatus, PolicyReport, PolicyRules, SuppressionState, format_date, suppress,
    today_utc,
};
use gantry_plugin_sdk::error::error_chain;
use gantry_plugin_sdk::{
    Finding, ResultExt, Severity, StageError, StageInput, Verdict, input, log,
};
use serde::Serialize;

/// The artifact name under which a build stage leaves `cargo metadata`.
pub const CARGO_METADATA: &str = "cargo-metadata";

/// How many failing packages the verdict names before "and N more".
const NAMED_PACKAGES: usize = 5;

/// Applies the rules in `input` to `report` (taking suppressed findings
/// out of it) and checks the licences of `inventories`, on the date
/// `today`.
///
/// # Errors
///
/// [`StageError::InvalidConfig`] when the host's rules do not parse, and
/// [`StageError::MissingInput`] when a `cargo-metadata` artifact is there
/// but unreadable.
pub fn apply(
    input: &StageInput,
    report: &mut FindingsReport,
    inventories: &[Inventory],
    today: Date,
) -> Result<PolicyReport, StageError> {
    let rules = PolicyRules::parse(&input.policy_rules)
        .map_err(|problem| StageError::InvalidConfig(format!("policy rules: {problem}")))?;
    let ecosystems = ecosystems_by_package(inventories);
    let ecosystem_of = |package: &str| ecosystems.get(package).copied().flatten();
    let suppressions = suppress::apply(&rules.suppress, report, &ecosystem_of, today);
    let licences = match &rules.licences {
        None => None,
        Some(licence_rules) => {
            let cargo = read_cargo_metadata(input)?;
            let facts = licence::gather_facts(inventories, cargo.as_ref());
            Some(licence::check(licence_rules, facts))
        }
    };
    Ok(PolicyReport {
        suppressions,
        licences,
    })
}

/// Today's date for [`apply`]: the wall clock's, in UTC.
pub fn today() -> Date {
    today_utc()
}

/// Each `name@version` with its ecosystem, or `None` when two ecosystems
/// lock a package of that name and version.
fn ecosystems_by_package(inventories: &[Inventory]) -> BTreeMap<String, Option<Ecosystem>> {
    let mut found: BTreeMap<String, BTreeSet<Ecosystem>> = BTreeMap::new();
    for package in inventories.iter().flat_map(|i| &i.packages) {
        found
            .entry(package.to_string())
            .or_default()
            .insert(package.ecosystem);
    }
    found
        .into_iter()
        .map(|(package, set)| {
            let one = (set.len() == 1).then(|| set.first().copied()).flatten();
            (package, one)
        })
        .collect()
}

/// The upstream `cargo-metadata` artifact, parsed, when there is one.
fn read_cargo_metadata(input: &StageInput) -> Result<Option<CargoLicences>, StageError> {
    let Some(artifact) = input::find(input, CARGO_METADATA) else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(Path::new(&artifact.path))
        .or_missing_input(|| format!("failed to read `{}`", artifact.path))?;
    let licences = CargoLicences::parse(&text).map_err(|error| {
        StageError::MissingInput(format!("`{}`: {}", artifact.path, error_chain(&error)))
    })?;
    Ok(Some(licences))
}

/// Logs what the policy did: each suppression (expired ones as warnings)
/// and each package whose licence fails or is unknown.
pub fn log_policy(policy: &PolicyReport, today: Date) {
    let today = format_date(today);
    for outcome in &policy.suppressions.suppressions {
        let rule = &outcome.suppression;
        let fields = [
            ("id", rule.id.as_str()),
            ("package", &rule.package_text()),
            ("expires", &format_date(rule.expires)),
            ("covers", &outcome.covers.join(", ")),
            ("today", &today),
        ];
        match outcome.state {
            SuppressionState::Applied => log::info("suppression applied", &fields),
            SuppressionState::Unused => log::info("suppression matched nothing", &fields),
            SuppressionState::Expired => log::warn("suppression expired", &fields),
        }
    }
    let Some(licences) = &policy.licences else {
        return;
    };
    for package in licences.failing() {
        log::warn("licence fails the policy", &licence_fields(package));
    }
    for package in licences.warnings() {
        log::warn("licence unknown", &licence_fields(package));
    }
}

fn licence_fields(package: &PackageLicence) -> [(&'static str, &str); 3] {
    [
        ("package", &package.package),
        ("licence", package.licence.as_deref().unwrap_or("")),
        ("reason", package.reason.as_deref().unwrap_or("")),
    ]
}

/// `findings.json`: the scan's report with the policy's results beside it.
///
/// # Errors
///
/// Only if serialization fails, which these types never cause.
pub fn findings_json(report: &FindingsReport, policy: &PolicyReport) -> Result<String, StageError> {
    #[derive(Serialize)]
    struct Document<'a> {
        #[serde(flatten)]
        report: &'a FindingsReport,
        #[serde(flatten)]
        policy: &'a PolicyReport,
    }
    let mut json = serde_json::to_string_pretty(&Document { report, policy })
        .or_internal(|| "failed to encode `findings.json` as JSON".to_owned())?;
    json.push('\n');
    Ok(json)
}

/// The packages failing the licence policy, as stage findings.
pub fn wit_findings(policy: &PolicyReport) -> Vec<Finding> {
    let Some(licences) = &policy.licences else {
        return Vec::new();
    };
    licences
        .failing()
        .map(|package| {
            let denied = package.status == LicenceStatus::Denied;
            let (kind, severity) = if denied {
                ("licence-denied", Severity::High)
            } else {
                ("licence-unknown", Severity::Unknown)
            };
            let licence = package.licence.as_deref().unwrap_or("no licence stated");
            Finding {
                id: format!("{kind}:{}", package.package),
                severity,
                package: package.package.clone(),
                title: format!(
                    "licence `{licence}`: {}",
                    package.reason.as_deref().unwrap_or("")
                ),
                fixed_in: None,
            }
        })
        .collect()
}

/// `verdict`, failed as well when packages fail the licence policy.
pub fn verdict(verdict: Verdict, policy: &PolicyReport) -> Verdict {
    let Some(licences) = &policy.licences else {
        return verdict;
    };
    let failing: Vec<String> = licences
        .failing()
        .map(|package| {
            let what = match package.status {
                LicenceStatus::Denied => "denied",
                _ => "unknown licence",
            };
            format!("{} ({what})", package.package)
        })
        .collect();
    if failing.is_empty() {
        return verdict;
    }
    let count = failing.len();
    let mut named = failing[..count.min(NAMED_PACKAGES)].join(", ");
    if count > NAMED_PACKAGES {
        named.push_str(&format!(" and {} more", count - NAMED_PACKAGES));
    }
    let noun = if count == 1 {
        "package fails"
    } else {
        "packages fail"
    };
    let reason = format!("{count} {noun} the licence policy: {named}");
    match verdict {
        Verdict::Fail(first) => Verdict::Fail(format!("{first}; {reason}")),
        Verdict::Pass | Verdict::NeedsReview(_) => Verdict::Fail(reason),
    }
}

/// What the policy did, for the summary line; empty when it did nothing.
pub fn summary(policy: &PolicyReport) -> String {
    let suppressions = &policy.suppressions;
    let mut parts = Vec::new();
    let suppressed = suppressions.suppressed.len() + suppressions.suppressed_warnings.len();
    if suppressed > 0 {
        parts.push(format!("{suppressed} suppressed"));
    }
    let expired = suppressions.expired().count();
    if expired > 0 {
        let noun = if expired == 1 {
            "suppression"
        } else {
            "suppressions"
        };
        parts.push(format!("{expired} {noun} expired"));
    }
    if let Some(licences) = &policy.licences {
        let counts = licences.counts;
        parts.push(format!(
            "licences: {} allowed, {} denied, {} unknown",
            counts.allowed, counts.denied, counts.unknown
        ));
    }
    parts.join("; ")
}

/// Key/value facts for the run record.
pub fn metadata(policy: &PolicyReport) -> Vec<(&'static str, String)> {
    let suppressions = &policy.suppressions;
    let mut facts = vec![
        (
            "suppressed",
            (suppressions.suppressed.len() + suppressions.suppressed_warnings.len()).to_string(),
        ),
        (
            "suppressions-expired",
            suppressions.expired().count().to_string(),
        ),
    ];
    if let Some(licences) = &policy.licences {
        facts.push(("licences-denied", licences.counts.denied.to_string()));
        facts.push(("licences-unknown", licences.counts.unknown.to_string()));
    }
    facts
}

#[cfg(test)]
mod tests {
    use gantry_plugin_core::osv::{self, SeverityCounts};
    use gantry_plugin_core::package::Package;
    use gantry_plugin_core::policy::parse_date;

    use super::*;

    fn stage_input(rules: &str) -> StageInput {
        StageInput {
            run_id: "r".into(),
            stage_id: "scan".into(),
            config: "{}".into(),
            policy_id: String::new(),
            policy_version: String::new(),
            policy_rules: rules.into(),
            artifacts: Vec::new(),
        }
    }

    fn report() -> FindingsReport {
        let findings = vec![osv::Finding {
            id: "RUSTSEC-2020-0071".into(),
            aliases: vec!["CVE-2020-26235".into()],
            severity: osv::Severity::Critical,
            score: None,
            cvss: None,
            package: "time@0.1.45".into(),
            title: "segfault".into(),
            fixed_in: None,
            url: None,
        }];
        FindingsReport {
            counts: SeverityCounts::of(&findings),
            findings,
            ..FindingsReport::default()
        }
    }

    fn inventories() -> Vec<Inventory> {
        let mut inventory = Inventory::new("package-lock.json", "package-lock.json v3", b"");
        let mut gpl = Package::new(Ecosystem::Npm, "gpl", "1.0.0");
        gpl.licence = Some("GPL-3.0-only".into());
        let mut mit = Package::new(Ecosystem::Npm, "mit", "1.0.0");
        mit.licence = Some("MIT".into());
        inventory.packages = vec![
            gpl,
            mit,
            Package::new(Ecosystem::CratesIo, "time", "0.1.45"),
        ];
        vec![inventory]
    }

    const RULES: &str = r#"{
      "suppress": [{"id": "CVE-2020-26235", "package": "time", "ecosystem": "crates.io",
                    "reason": "UTC only", "expires": "2026-12-31"}],
      "licences": {"deny": ["GPL-3.0-only"]}
    }"#;

    #[test]
    fn a_suppressed_finding_no_longer_fails_but_a_denied_licence_does() {
        let mut report = report();
        let day = parse_date("2026-12-03").unwrap();
        let policy = apply(&stage_input(RULES), &mut report, &inventories(), day).unwrap();
        assert!(report.findings.is_empty());
        assert_eq!(policy.suppressions.suppressed.len(), 1);

        let Verdict::Fail(reason) = verdict(Verdict::Pass, &policy) else {
            panic!("expected fail");
        };
        assert_eq!(
            reason,
            "1 package fails the licence policy: gpl@1.0.0 (denied)"
        );
        let findings = wit_findings(&policy);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].id, "licence-denied:gpl@1.0.0");
        assert_eq!(
            summary(&policy),
            "1 suppressed; licences: 1 allowed, 1 denied, 1 unknown"
        );

        let json: serde_json::Value =
            serde_json::from_str(&findings_json(&report, &policy).unwrap()).unwrap();
        assert_eq!(json["suppressed"][0]["id"], "RUSTSEC-2020-0071");
        assert_eq!(json["suppressed"][0]["suppressed-by"]["reason"], "UTC only");
        assert_eq!(json["suppressions"][0]["state"], "applied");
        assert_eq!(json["licences"]["counts"]["denied"], 1);
        assert_eq!(json["counts"]["critical"], 0);
    }

    #[test]
    fn after_its_expiry_the_finding_is_back() {
        let mut report = report();
        let day = parse_date("2027-01-01").unwrap();
        let policy = apply(&stage_input(RULES), &mut report, &inventories(), day).unwrap();
        assert_eq!(report.findings.len(), 1);
        assert!(summary(&policy).starts_with("1 suppression expired; "));
    }

    #[test]
    fn no_rules_change_nothing() {
        let mut report = report();
        let day = parse_date("2026-12-03").unwrap();
        let policy = apply(&stage_input("{}"), &mut report, &inventories(), day).unwrap();
        assert_eq!(report.findings.len(), 1);
        assert_eq!(summary(&policy), "");
        assert!(matches!(verdict(Verdict::Pass, &policy), Verdict::Pass));
        let json = findings_json(&report, &policy).unwrap();
        assert!(
            !json.contains("suppress") && !json.contains("licences"),
            "{json}"
        );
    }

    #[test]
    fn bad_rules_are_a_configuration_error() {
        let err = apply(&stage_input("{\"x\": 1}"), &mut report(), &[], today()).unwrap_err();
        assert!(matches!(err, StageError::InvalidConfig(m) if m.starts_with("policy rules:")));
    }
}
