//! The licence policy: SPDX expressions checked against allow and deny
//! lists.
//!
//! A package's licence is an SPDX licence expression (`MIT OR Apache-2.0`,
//! `(MIT OR Apache-2.0) AND Unicode-3.0`, `GPL-2.0-only WITH
//! Classpath-exception-2.0`), parsed by the `spdx` crate in its lax mode,
//! which also reads the forms crates.io still holds (`MIT/Apache-2.0`).
//! One expression can usually be met in several ways: `A OR B` by taking
//! either licence, `A AND B` only by taking both. The rules are:
//!
//! - **denied** when every way to meet the expression takes a licence on
//!   the `deny` list (`GPL-3.0-only`, or `MIT AND GPL-3.0-only`; not
//!   `MIT OR GPL-3.0-only`, which can be taken as MIT alone);
//! - otherwise, with an `allow` list, **allowed** when some way takes only
//!   allowed licences, and **denied** ("not allowed") when none does;
//! - without an `allow` list, **allowed**;
//! - **unknown** when no source states a licence, or the text is not an
//!   SPDX expression. `unknown = "fail"` makes these fail the scan;
//!   `"warn"`, the default, reports them.
//!
//! Licences compare by SPDX id. A `WITH` exception only adds permissions,
//! so it neither allows nor denies anything by itself: `Apache-2.0 WITH
//! LLVM-exception` counts as `Apache-2.0`. A `+` (or-later) counts as the
//! version it names. The deprecated bare GNU ids mean what the SPDX list
//! says they mean: `GPL-2.0` is `GPL-2.0-only`, `GPL-2.0+` is
//! `GPL-2.0-or-later`. A `LicenseRef-` names no listed licence, so it can
//! never be allowed by an `allow` list, nor denied.
//!
//! Packages that are part of the project itself (workspace members, path
//! dependencies) are not checked: their licence is the project's own.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use spdx::{Expression, LicenseItem, LicenseReq, ParseMode};

use super::cargo_metadata::CargoLicences;
use crate::package::{Ecosystem, Inventory};

/// What to do with a package whose licence is unknown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownLicences {
    /// Report it; the scan goes on.
    #[default]
    Warn,
    /// Fail the scan.
    Fail,
}

/// `[licences]` of the policy file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenceRules {
    /// SPDX ids a package may be taken under; every licence not denied
    /// when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow: Option<Vec<String>>,
    /// SPDX ids no package may require.
    #[serde(default)]
    pub deny: Vec<String>,
    /// What an unknown licence does.
    #[serde(default)]
    pub unknown: UnknownLicences,
}

impl LicenceRules {
    /// Checks every id against the SPDX licence list, and that no id is
    /// both allowed and denied.
    ///
    /// # Errors
    ///
    /// A message naming the list and the id.
    pub fn check(&self) -> Result<(), String> {
        let allow = self.allow.as_deref().unwrap_or_default();
        if self.allow.as_ref().is_some_and(Vec::is_empty) {
            return Err("`allow` is empty, which would fail every package".to_owned());
        }
        for (key, ids) in [("allow", allow), ("deny", &self.deny[..])] {
            for id in ids {
                check_licence_id(id).map_err(|problem| format!("`{key}`: {problem}"))?;
            }
        }
        if let Some(both) = allow.iter().find(|id| self.deny.contains(id)) {
            return Err(format!("`{both}` is both allowed and denied"));
        }
        Ok(())
    }

    /// Checks one licence expression.
    pub fn evaluate(&self, expression: &str) -> Evaluation {
        let parsed = match Expression::parse_mode(expression, ParseMode::LAX) {
            Ok(parsed) => parsed,
            Err(error) => {
                let at = expression.get(error.span.clone()).unwrap_or(expression);
                return Evaluation::Unknown(format!(
                    "`{expression}` is not an SPDX expression: {} `{at}`",
                    error.reason
                ));
            }
        };
        let denied = |req: &LicenseReq| {
            canonical_id(req).is_some_and(|id| self.deny.iter().any(|d| d == id))
        };
        if !parsed.evaluate(|req| !denied(req)) {
            let named = named_ids(&parsed, |id| self.deny.iter().any(|d| d == id));
            return Evaluation::Denied(format!("requires {named}, which the policy denies"));
        }
        let Some(allow) = &self.allow else {
            return Evaluation::Allowed;
        };
        let allowed =
            |req: &LicenseReq| canonical_id(req).is_some_and(|id| allow.iter().any(|a| a == id));
        if parsed.evaluate(allowed) {
            return Evaluation::Allowed;
        }
        let others = named_ids(&parsed, |id| !allow.iter().any(|a| a == id));
        Evaluation::Denied(format!(
            "cannot be met with the allowed licences alone (it needs {others})"
        ))
    }
}

/// An id the policy may name: on the SPDX licence list, written exactly.
///
/// # Errors
///
/// Says what is wrong, suggesting the listed id when the text is close to
/// one.
pub fn check_licence_id(id: &str) -> Result<(), String> {
    match spdx::license_id(id) {
        Some(found) if found.name == id && found.is_deprecated() => {
            return Err(deprecated(found.name));
        }
        Some(found) if found.name == id => return Ok(()),
        _ => {}
    }
    let hint = suggest_licence_id(id)
        .map(|name| format!("; did you mean `{name}`?"))
        .unwrap_or_default();
    Err(format!("`{id}` is not an SPDX licence id{hint}"))
}

/// Why a deprecated id cannot be named, with its current forms for the
/// GNU licences.
fn deprecated(name: &str) -> String {
    let current: Vec<String> = [false, true]
        .into_iter()
        .filter_map(|or_later| spdx::gnu_license_id(name, or_later))
        .filter(|found| found.name != name)
        .map(|found| format!("`{}`", found.name))
        .collect();
    let instead = if current.is_empty() {
        String::new()
    } else {
        format!("; write {}", current.join(" or "))
    };
    format!("`{name}` is deprecated on the SPDX licence list{instead}")
}

/// The listed id closest to `text`: the same id in other case, or the one
/// a common misspelling stands for (`Apache 2` for `Apache-2.0`).
pub fn suggest_licence_id(text: &str) -> Option<&'static str> {
    let trimmed = text.trim().trim_end_matches('+');
    if let Some(found) = spdx::license_id(trimmed) {
        return Some(found.name);
    }
    let folded = spdx::identifiers::LICENSES
        .iter()
        .find(|licence| licence.name.eq_ignore_ascii_case(trimmed));
    if let Some(licence) = folded {
        return Some(licence.name);
    }
    spdx::imprecise_license_id(trimmed)
        .filter(|(_, len)| *len == trimmed.len())
        .map(|(found, _)| found.name)
}

/// The SPDX id a requirement takes, with deprecated bare GNU ids read as
/// the list defines them; `None` for a `LicenseRef-`.
fn canonical_id(req: &LicenseReq) -> Option<&'static str> {
    let LicenseItem::Spdx { id, or_later } = &req.license else {
        return None;
    };
    if id.is_gnu() && id.is_deprecated() {
        let base = id.name.trim_end_matches('+');
        let or_later = *or_later || id.name.ends_with('+');
        if let Some(current) = spdx::gnu_license_id(base, or_later) {
            return Some(current.name);
        }
    }
    Some(id.name)
}

/// The distinct ids of `expression` that `pick` selects, as "`A`, `B`".
fn named_ids(expression: &Expression, pick: impl Fn(&str) -> bool) -> String {
    let ids: BTreeSet<String> = expression
        .requirements()
        .map(|req| match canonical_id(&req.req) {
            Some(id) => id.to_owned(),
            None => req.req.license.to_string(),
        })
        .filter(|id| pick(id))
        .collect();
    ids.iter()
        .map(|id| format!("`{id}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The outcome for one expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evaluation {
    /// Some way to meet it takes only licences the policy accepts.
    Allowed,
    /// Every way takes a denied licence, or none takes only allowed ones.
    Denied(String),
    /// It could not be read.
    Unknown(String),
}

/// What is known of one package's licence, before the policy is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LicenceFact {
    /// A source states an expression.
    Stated {
        /// The expression as written.
        expression: String,
        /// Where it came from: `lockfile` or `cargo-metadata`.
        source: &'static str,
    },
    /// No source states one; the text says why.
    Missing(String),
    /// The package is locked but not part of the build (cargo metadata,
    /// filtered to the build's platform, leaves it out); not checked.
    NotBuilt(String),
}

/// A package and what is known of its licence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageFacts {
    /// The package's ecosystem.
    pub ecosystem: Ecosystem,
    /// `name@version`.
    pub package: String,
    /// Its licence.
    pub fact: LicenceFact,
}

/// The licence facts of every non-local package of `inventories`, once
/// each, sorted by ecosystem and package.
///
/// A licence the lockfile states comes first; crates without one are looked
/// up in `cargo` (the build's `cargo metadata`), when there is one.
pub fn gather_facts(inventories: &[Inventory], cargo: Option<&CargoLicences>) -> Vec<PackageFacts> {
    let mut seen = BTreeSet::new();
    let mut facts = Vec::new();
    for inventory in inventories {
        for package in inventory.dependencies() {
            let key = (
                package.ecosystem,
                package.name.clone(),
                package.version.clone(),
            );
            if !seen.insert(key) {
                continue;
            }
            let fact = match &package.licence {
                Some(expression) => LicenceFact::Stated {
                    expression: expression.clone(),
                    source: "lockfile",
                },
                None => unstated(
                    package.ecosystem,
                    &package.name,
                    &package.version,
                    inventory,
                    cargo,
                ),
            };
            facts.push(PackageFacts {
                ecosystem: package.ecosystem,
                package: package.to_string(),
                fact,
            });
        }
    }
    facts.sort_by(|a, b| (a.ecosystem, &a.package).cmp(&(b.ecosystem, &b.package)));
    facts
}

/// The fact for a package its lockfile states no licence for.
fn unstated(
    ecosystem: Ecosystem,
    name: &str,
    version: &str,
    inventory: &Inventory,
    cargo: Option<&CargoLicences>,
) -> LicenceFact {
    let from_lockfile = || {
        format!(
            "`{}` ({}) records no licence",
            inventory.path, inventory.format
        )
    };
    if ecosystem != Ecosystem::CratesIo {
        return LicenceFact::Missing(from_lockfile());
    }
    let Some(cargo) = cargo else {
        return LicenceFact::Missing(format!(
            "{}, and no upstream stage wrote `cargo-metadata.json`",
            from_lockfile()
        ));
    };
    match cargo.get(name, version) {
        None => LicenceFact::NotBuilt(
            "not in the build's cargo metadata: not built for the build's platform".to_owned(),
        ),
        Some(found) => match (&found.expression, &found.file) {
            (Some(expression), _) => LicenceFact::Stated {
                expression: expression.clone(),
                source: "cargo-metadata",
            },
            (None, Some(file)) => LicenceFact::Missing(format!(
                "the crate names a licence file (`{file}`), not an SPDX expression"
            )),
            (None, None) => LicenceFact::Missing("the crate states no licence".to_owned()),
        },
    }
}

/// Where one package stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LicenceStatus {
    /// Its licence meets the policy.
    Allowed,
    /// Its licence does not; the scan fails.
    Denied,
    /// No licence could be read; fails the scan under `unknown = "fail"`.
    Unknown,
    /// Locked but not part of the build; not checked.
    NotBuilt,
}

/// One package's line in the licence report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct PackageLicence {
    /// `name@version`.
    pub package: String,
    /// The OSV ecosystem name.
    pub ecosystem: String,
    /// The expression as its source writes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub licence: Option<String>,
    /// `lockfile` or `cargo-metadata`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<&'static str>,
    /// Where it stands.
    pub status: LicenceStatus,
    /// Why, for every status but `allowed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// How many packages stand where.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct LicenceCounts {
    /// Allowed packages.
    pub allowed: usize,
    /// Denied packages.
    pub denied: usize,
    /// Packages of unknown licence.
    pub unknown: usize,
    /// Packages not part of the build.
    pub not_built: usize,
}

/// The `licences` section of `findings.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct LicenceReport {
    /// The rules applied.
    pub policy: LicenceRules,
    /// The packages per status.
    pub counts: LicenceCounts,
    /// Every package, by ecosystem and name.
    pub packages: Vec<PackageLicence>,
}

impl LicenceReport {
    /// The packages that fail the scan: denied ones, and unknown ones under
    /// `unknown = "fail"`.
    pub fn failing(&self) -> impl Iterator<Item = &PackageLicence> {
        let fail_unknown = self.policy.unknown == UnknownLicences::Fail;
        self.packages
            .iter()
            .filter(move |package| match package.status {
                LicenceStatus::Denied => true,
                LicenceStatus::Unknown => fail_unknown,
                LicenceStatus::Allowed | LicenceStatus::NotBuilt => false,
            })
    }

    /// The packages of unknown licence that only warn.
    pub fn warnings(&self) -> impl Iterator<Item = &PackageLicence> {
        let warn_unknown = self.policy.unknown == UnknownLicences::Warn;
        self.packages
            .iter()
            .filter(move |package| warn_unknown && package.status == LicenceStatus::Unknown)
    }
}

/// Applies `rules` to every package of `facts`.
pub fn check(rules: &LicenceRules, facts: Vec<PackageFacts>) -> LicenceReport {
    let mut counts = LicenceCounts::default();
    let packages = facts
        .into_iter()
        .map(|facts| {
            let line = judge(rules, facts);
            *match line.status {
                LicenceStatus::Allowed => &mut counts.allowed,
                LicenceStatus::Denied => &mut counts.denied,
                LicenceStatus::Unknown => &mut counts.unknown,
                LicenceStatus::NotBuilt => &mut counts.not_built,
            } += 1;
            line
        })
        .collect();
    LicenceReport {
        policy: rules.clone(),
        counts,
        packages,
    }
}

fn judge(rules: &LicenceRules, facts: PackageFacts) -> PackageLicence {
    let (licence, source, status, reason) = match facts.fact {
        LicenceFact::Stated { expression, source } => {
            let (status, reason) = match rules.evaluate(&expression) {
                Evaluation::Allowed => (LicenceStatus::Allowed, None),
                Evaluation::Denied(why) => (LicenceStatus::Denied, Some(why)),
                Evaluation::Unknown(why) => (LicenceStatus::Unknown, Some(why)),
            };
            (Some(expression), Some(source), status, reason)
        }
        LicenceFact::Missing(why) => (None, None, LicenceStatus::Unknown, Some(why)),
        LicenceFact::NotBuilt(why) => (None, None, LicenceStatus::NotBuilt, Some(why)),
    };
    PackageLicence {
        package: facts.package,
        ecosystem: facts.ecosystem.osv_name().to_owned(),
        licence,
        source,
        status,
        reason,
    }
}

#[cfg(test)]
mod tests;
