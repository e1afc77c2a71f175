//! SARIF 2.1.0 output of scan findings, for code-scanning dashboards.
//!
//! One run, whose `tool.driver.rules` holds one rule per advisory (its id,
//! title, link and `security-severity`, the CVSS base score code-scanning
//! services sort by), and whose `results` hold one result per finding:
//! the rule, a level from the severity, a message naming the package and
//! the fix, the lockfiles that lock the package as locations relative to
//! the source root (`%SRCROOT%`), the package as a logical location, and a
//! fingerprint of advisory and package, so that a dashboard recognises the
//! same finding in the next run.
//!
//! Informational advisories are not findings and are left out.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::osv::{Finding, FindingsReport, Severity};

/// The `$schema` written into the document.
pub const SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The media type of a SARIF document.
pub const MEDIA_TYPE: &str = "application/sarif+json";

/// The base id artifact locations are relative to.
pub const SOURCE_ROOT: &str = "%SRCROOT%";

/// The partial fingerprint's name; its value hashes advisory and package.
pub const FINGERPRINT: &str = "gantryAdvisoryPackage/v1";

/// The tool that made the findings.
#[derive(Debug, Clone)]
pub struct SarifTool<'a> {
    /// E.g. `gantry-scan`.
    pub name: &'a str,
    /// Its version.
    pub version: &'a str,
    /// Where to read about it, if anywhere.
    pub information_uri: Option<&'a str>,
}

/// The SARIF document of `report`'s findings; `lockfiles` maps each
/// finding's `package` (`name@version`) to the lockfiles, relative to the
/// source root, that lock it.
pub fn to_sarif(
    report: &FindingsReport,
    tool: &SarifTool<'_>,
    lockfiles: &BTreeMap<String, Vec<String>>,
) -> Value {
    let rules = rules(&report.findings);
    let positions: BTreeMap<&str, usize> = rules
        .keys()
        .enumerate()
        .map(|(position, id)| (*id, position))
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|finding| {
            let located = lockfiles.get(&finding.package).map(Vec::as_slice);
            result(
                finding,
                positions[finding.id.as_str()],
                located.unwrap_or_default(),
            )
        })
        .collect();
    let mut driver = json!({
        "name": tool.name,
        "version": tool.version,
        "rules": rules.into_values().collect::<Vec<_>>(),
    });
    if let Some(uri) = tool.information_uri {
        driver["informationUri"] = json!(uri);
    }
    json!({
        "version": "2.1.0",
        "$schema": SCHEMA,
        "runs": [{
            "tool": { "driver": driver },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    })
}

/// One rule per advisory id, in id order; an advisory matching several
/// packages is described by its first finding.
fn rules(findings: &[Finding]) -> BTreeMap<&str, Value> {
    let mut rules = BTreeMap::new();
    for finding in findings {
        rules
            .entry(finding.id.as_str())
            .or_insert_with(|| rule(finding));
    }
    rules
}

fn rule(finding: &Finding) -> Value {
    let mut properties = json!({ "tags": ["security", "vulnerability"] });
    if let Some(score) = finding.score {
        properties["security-severity"] = json!(format!("{score:.1}"));
    }
    if !finding.aliases.is_empty() {
        properties["aliases"] = json!(finding.aliases);
    }
    let title = if finding.title.is_empty() {
        finding.id.as_str()
    } else {
        finding.title.as_str()
    };
    let mut rule = json!({
        "id": finding.id,
        "shortDescription": { "text": title },
        "defaultConfiguration": { "level": level(finding.severity) },
        "properties": properties,
    });
    if let Some(url) = &finding.url {
        rule["helpUri"] = json!(url);
    }
    rule
}

fn result(finding: &Finding, rule_index: usize, lockfiles: &[String]) -> Value {
    let logical = json!([{ "fullyQualifiedName": finding.package, "kind": "package" }]);
    let mut locations: Vec<Value> = lockfiles
        .iter()
        .map(|path| {
            json!({
                "physicalLocation": {
                    "artifactLocation": { "uri": path, "uriBaseId": SOURCE_ROOT },
                },
                "logicalLocations": logical,
            })
        })
        .collect();
    if locations.is_empty() {
        locations.push(json!({ "logicalLocations": logical }));
    }
    json!({
        "ruleId": finding.id,
        "ruleIndex": rule_index,
        "level": level(finding.severity),
        "message": { "text": message(finding) },
        "locations": locations,
        "partialFingerprints": { FINGERPRINT: fingerprint(finding) },
        "properties": { "severity": finding.severity, "package": finding.package },
    })
}

/// "time@0.1.45 is affected by RUSTSEC-2020-0071 (medium, CVSS 6.2):
/// Potential segfault in the time crate; fixed in 0.2.23".
fn message(finding: &Finding) -> String {
    let rating = match finding.score {
        Some(score) => format!("{}, CVSS {score:.1}", finding.severity),
        None => finding.severity.to_string(),
    };
    let fix = match &finding.fixed_in {
        Some(version) => format!("fixed in {version}"),
        None => "no fixed version known".to_owned(),
    };
    format!(
        "{} is affected by {} ({rating}): {}; {fix}",
        finding.package, finding.id, finding.title
    )
}

/// `error` for critical and high, `warning` for medium and for unknown
/// (an unscored advisory is not known to be harmless), `note` for low.
fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium | Severity::Unknown => "warning",
        Severity::Low => "note",
    }
}

/// The hex SHA-256 of the advisory id and the package, NUL-separated.
fn fingerprint(finding: &Finding) -> String {
    let mut hasher = Sha256::new();
    hasher.update(finding.id.as_bytes());
    hasher.update([0]);
    hasher.update(finding.package.as_bytes());
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests;
