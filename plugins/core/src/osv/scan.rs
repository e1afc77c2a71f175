//! Matching inventories against an advisory index.
//!
//! One finding is one vulnerability in one package: advisories from
//! several databases about the same vulnerability (a `GHSA-…` and a
//! `PYSEC-…` that both alias one CVE) are merged into one finding. Two
//! matching advisories are the same vulnerability when their ids and
//! aliases share any id, directly or through a third. The merged
//! finding's `id` is the advisory of the package's own database when one
//! matched (`RUSTSEC-` for crates.io, `PYSEC-` for PyPI, `GO-` for Go),
//! else a `GHSA-` one, else the smallest id; its `aliases` are every other
//! id of the group and their aliases. Its severity is the best-sourced one
//! of the group (see [`super::score`]), and its `fixed-in` the latest fix
//! any of them names, since upgrading to an earlier one would leave the
//! package vulnerable by some database's account.

use std::collections::{BTreeMap, BTreeSet};

use super::index::{AdvisoryIndex, Hit, package_key};
use super::report::{Finding, FindingsReport, SeverityCounts, Warning};
use super::schema::Advisory;
use super::score::{self, Scored};
use super::version::Scheme;
use crate::lockfile::Lockfile;
use crate::package::{Ecosystem, Inventory, Origin};

/// Checks every registry package of `inventories` against `index`.
///
/// Only packages from their ecosystem's public registry
/// ([`Origin::Registry`]) are checked: advisories are written about those,
/// and a git, URL or other-registry package that shares a name is a
/// different package. A package listed by several inventories is checked
/// once.
///
/// Each vulnerability becomes one [`Finding`], or a [`Warning`] when the
/// advisory is informational. Data problems of the checked packages'
/// advisories, package versions that do not parse by the ordering an
/// advisory needs, and severities that could not be read are listed in
/// the report's `problems`.
pub fn scan_inventories(index: &AdvisoryIndex, inventories: &[Inventory]) -> FindingsReport {
    let mut report = FindingsReport::default();
    let mut problems = BTreeSet::new();
    for ((ecosystem, _, version), name) in registry_packages(inventories) {
        problems.extend(
            index
                .problems_for(ecosystem, name)
                .iter()
                .map(ToString::to_string),
        );
        let matches = index.matching(ecosystem, name, version);
        problems.extend(matches.problems);
        let package = format!("{name}@{version}");
        let mut vulnerabilities = Vec::new();
        for hit in matches.hits {
            match hit.advisory.informational() {
                Some(kind) => report.warnings.push(warning(hit.advisory, kind, &package)),
                None => vulnerabilities.push(hit),
            }
        }
        for group in group_by_alias(&vulnerabilities) {
            let finding = merge(ecosystem, name, &package, &group, &mut problems);
            report.findings.push(finding);
        }
    }
    sort_report(&mut report);
    report.counts = SeverityCounts::of(&report.findings);
    report.problems = problems.into_iter().collect();
    report
}

/// Checks the packages of Cargo `lockfiles` against `index`, as
/// [`scan_inventories`] does with their inventories.
pub fn scan_lockfiles(index: &AdvisoryIndex, lockfiles: &[Lockfile]) -> FindingsReport {
    let inventories: Vec<Inventory> = lockfiles.iter().map(Lockfile::to_inventory).collect();
    scan_inventories(index, &inventories)
}

/// The registry packages, each once by (ecosystem, name key, version),
/// with the name as the first inventory spells it.
fn registry_packages(inventories: &[Inventory]) -> BTreeMap<(Ecosystem, String, &str), &str> {
    let mut packages = BTreeMap::new();
    let registry = inventories
        .iter()
        .flat_map(|inventory| &inventory.packages)
        .filter(|package| package.origin == Origin::Registry);
    for package in registry {
        let key = package_key(package.ecosystem, &package.name);
        packages
            .entry((package.ecosystem, key, package.version.as_str()))
            .or_insert(package.name.as_str());
    }
    packages
}

fn warning(advisory: &Advisory, kind: &str, package: &str) -> Warning {
    Warning {
        id: advisory.id.clone(),
        kind: kind.to_owned(),
        package: package.to_owned(),
        title: advisory.title().to_owned(),
        url: advisory.url().map(str::to_owned),
    }
}

/// Splits hits into groups that share an id or alias, transitively; each
/// group keeps the hits' load order.
fn group_by_alias<'h, 'a>(hits: &'h [Hit<'a>]) -> Vec<Vec<&'h Hit<'a>>> {
    let ids_of = |hit: &Hit<'_>| -> BTreeSet<String> {
        let advisory = hit.advisory;
        std::iter::once(&advisory.id)
            .chain(&advisory.aliases)
            .cloned()
            .collect()
    };
    let mut groups: Vec<(BTreeSet<String>, Vec<&'h Hit<'a>>)> = Vec::new();
    for hit in hits {
        let mut ids = ids_of(hit);
        let mut members = vec![hit];
        // Fold in every group this hit connects, which may join several.
        let mut position = 0;
        while position < groups.len() {
            if groups[position].0.is_disjoint(&ids) {
                position += 1;
                continue;
            }
            let (other_ids, other_members) = groups.remove(position);
            ids.extend(other_ids);
            members.extend(other_members);
        }
        groups.push((ids, members));
    }
    groups.into_iter().map(|(_, members)| members).collect()
}

/// One finding from a group of advisories about one vulnerability.
fn merge(
    ecosystem: Ecosystem,
    name: &str,
    package: &str,
    group: &[&Hit<'_>],
    problems: &mut BTreeSet<String>,
) -> Finding {
    let primary = primary_of(ecosystem, group);
    let scores: Vec<Scored> = group
        .iter()
        .map(|hit| score::score(hit.advisory, hit.affected))
        .collect();
    for (hit, scored) in group.iter().zip(&scores) {
        problems.extend(scored.problems.iter().map(|problem| {
            format!(
                "advisory `{}`, package `{name}`: {problem}",
                hit.advisory.id
            )
        }));
    }
    let best = scores
        .iter()
        .max_by_key(|scored| scored.rank())
        .expect("a group has at least one hit");
    Finding {
        id: primary.advisory.id.clone(),
        aliases: aliases_of(&primary.advisory.id, group),
        severity: best.severity,
        score: best.score,
        cvss: best.vector.clone(),
        package: package.to_owned(),
        title: title_of(primary, group),
        fixed_in: latest_fix(ecosystem, group),
        url: primary
            .advisory
            .url()
            .or_else(|| group.iter().find_map(|hit| hit.advisory.url()))
            .map(str::to_owned),
    }
}

/// The hit whose id names the finding; see the module docs.
fn primary_of<'h, 'a>(ecosystem: Ecosystem, group: &[&'h Hit<'a>]) -> &'h Hit<'a> {
    let native = match ecosystem {
        Ecosystem::CratesIo => "RUSTSEC-",
        Ecosystem::PyPi => "PYSEC-",
        Ecosystem::Go => "GO-",
        Ecosystem::Npm => "GHSA-",
    };
    let rank = |id: &str| {
        if id.starts_with(native) {
            0
        } else if id.starts_with("GHSA-") {
            1
        } else {
            2
        }
    };
    group
        .iter()
        .min_by(|a, b| {
            let (a, b) = (&a.advisory.id, &b.advisory.id);
            rank(a).cmp(&rank(b)).then_with(|| a.cmp(b))
        })
        .expect("a group has at least one hit")
}

/// Every id of the group and its aliases, but `primary`, sorted.
fn aliases_of(primary: &str, group: &[&Hit<'_>]) -> Vec<String> {
    let ids: BTreeSet<&String> = group
        .iter()
        .flat_map(|hit| std::iter::once(&hit.advisory.id).chain(&hit.advisory.aliases))
        .filter(|id| *id != primary)
        .collect();
    ids.into_iter().cloned().collect()
}

/// The primary's summary, else the first other one the group has.
fn title_of(primary: &Hit<'_>, group: &[&Hit<'_>]) -> String {
    let summarised = |hit: &&&Hit<'_>| hit.advisory.title() != hit.advisory.id;
    let source = std::iter::once(&primary)
        .chain(group.iter())
        .find(summarised)
        .unwrap_or(&primary);
    source.advisory.title().to_owned()
}

/// The latest fix the group names, by the ecosystem's ordering; a fix that
/// does not parse is used only when none does.
fn latest_fix(ecosystem: Ecosystem, group: &[&Hit<'_>]) -> Option<String> {
    let scheme = Scheme::of_ecosystem(ecosystem);
    let fixes: Vec<&String> = group
        .iter()
        .filter_map(|hit| hit.fixed_in.as_ref())
        .collect();
    let parsed = fixes
        .iter()
        .filter_map(|fix| Some((scheme.parse(fix).ok()?, *fix)))
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, fix)| fix);
    parsed.or(fixes.first().copied()).cloned()
}

fn sort_report(report: &mut FindingsReport) {
    report.findings.sort_by(|a, b| {
        let by_name = || (&a.id, &a.package).cmp(&(&b.id, &b.package));
        b.severity.cmp(&a.severity).then_with(by_name)
    });
    report
        .warnings
        .sort_by(|a, b| (&a.id, &a.package).cmp(&(&b.id, &b.package)));
}

#[cfg(test)]
mod tests;
