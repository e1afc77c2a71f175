//! Whether a version falls in an `affected` entry's ranges or list.
//!
//! An entry is compiled once, when the index loads it: each range's event
//! versions are parsed by the range's [`Scheme`] and sorted, so matching a
//! package is a walk over a few sorted events. A range whose versions do
//! not parse is kept out of matching and reported as a problem instead.
//!
//! The rules are the OSV schema's: within one range, sorted by version, an
//! `introduced` event at or below the version opens an affected interval,
//! a `fixed` event at or below it closes it (so `fixed` is exclusive), and
//! a `last_affected` event below it closes it (so `last_affected` is
//! inclusive); an interval with no closing event stays open. `limit`
//! events cap the whole range: a version is in the range only if it is
//! below at least one limit, each limit widening the scope as the schema's
//! `BeforeLimits` says, and `limit: "*"` (or no limit at all) caps
//! nothing. `SEMVER` ranges use SemVer,
//! `ECOSYSTEM` ranges the ecosystem's own ordering, and `GIT` ranges, whose
//! events are commits, are ignored for version matching: OSV databases
//! that publish them also publish the versions they resolve to, in a
//! `versions` list or an `ECOSYSTEM` range. A listed version matches when
//! it is the package's version exactly, or the same version once both are
//! parsed (PEP 440's `1.0 == 1.0.0`).

use std::cmp::Ordering;

use super::schema::{Affected, EventKind, Range};
use super::version::{OrderedVersion, Scheme};
use crate::package::Ecosystem;

/// An event's version: `introduced: "0"` is below every version.
#[derive(Debug, Clone)]
enum Bound {
    Zero,
    Version(OrderedVersion, String),
}

impl Bound {
    fn cmp_version(&self, version: &OrderedVersion) -> Ordering {
        match self {
            Self::Zero => Ordering::Less,
            Self::Version(bound, _) => bound.cmp(version),
        }
    }

    fn cmp_bound(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Self::Zero, Self::Zero) => Ordering::Equal,
            (Self::Zero, Self::Version(..)) => Ordering::Less,
            (Self::Version(..), Self::Zero) => Ordering::Greater,
            (Self::Version(a, _), Self::Version(b, _)) => a.cmp(b),
        }
    }
}

/// One usable range: its scheme, its events sorted by version, and its
/// limits.
#[derive(Debug, Clone)]
struct CompiledRange {
    scheme: Scheme,
    events: Vec<(EventKind, Bound)>,
    limits: Vec<OrderedVersion>,
    /// Whether a `limit: "*"` lifts every limit.
    unlimited: bool,
}

/// The version ranges and listed versions of one `affected` entry.
#[derive(Debug, Clone)]
pub(super) struct CompiledAffected {
    /// The ecosystem's scheme, for the `versions` list.
    scheme: Scheme,
    ranges: Vec<CompiledRange>,
    versions: Vec<String>,
    /// What could not be compiled, one message each.
    pub problems: Vec<String>,
}

/// A version the entry affects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Match {
    /// The first `fixed` version after the matched one in its range, as the
    /// advisory writes it.
    pub fixed_in: Option<String>,
}

/// A package version, parsed by each scheme only when a range asks.
#[derive(Debug)]
pub(super) struct VersionProbe<'a> {
    text: &'a str,
    parsed: Vec<(Scheme, Result<OrderedVersion, String>)>,
}

impl<'a> VersionProbe<'a> {
    /// A probe of the version written `text`.
    pub fn new(text: &'a str) -> Self {
        Self {
            text,
            parsed: Vec::new(),
        }
    }

    fn get(&mut self, scheme: Scheme) -> Result<&OrderedVersion, &str> {
        let position = match self.parsed.iter().position(|(s, _)| *s == scheme) {
            Some(position) => position,
            None => {
                self.parsed.push((scheme, scheme.parse(self.text)));
                self.parsed.len() - 1
            }
        };
        self.parsed[position].1.as_ref().map_err(String::as_str)
    }
}

impl CompiledAffected {
    /// Compiles `affected`, an entry about a package of `ecosystem`.
    pub fn compile(affected: &Affected, ecosystem: Ecosystem) -> Self {
        let mut compiled = Self {
            scheme: Scheme::of_ecosystem(ecosystem),
            ranges: Vec::new(),
            versions: affected.versions.clone(),
            problems: Vec::new(),
        };
        for range in &affected.ranges {
            let scheme = match range.kind.as_str() {
                "SEMVER" => Scheme::of_semver_range(ecosystem),
                "ECOSYSTEM" => Scheme::of_ecosystem(ecosystem),
                // Commits are not versions; see the module docs.
                "GIT" => continue,
                other => {
                    compiled
                        .problems
                        .push(format!("unknown range type `{other}`"));
                    continue;
                }
            };
            match compile_range(range, scheme) {
                Ok(range) => compiled.ranges.push(range),
                Err(problem) => compiled.problems.push(problem),
            }
        }
        compiled
    }

    /// Whether the probed version is affected, and where it is fixed.
    ///
    /// # Errors
    ///
    /// When a range needs the version parsed and it does not parse, with
    /// the parser's message; a listed version that is the same text still
    /// matches first.
    pub fn matches(&self, probe: &mut VersionProbe<'_>) -> Result<Option<Match>, String> {
        if self.versions.iter().any(|listed| listed == probe.text) {
            return Ok(Some(Match { fixed_in: None }));
        }
        let mut error = None;
        for range in &self.ranges {
            match probe.get(range.scheme) {
                Ok(version) => {
                    if let Some(found) = range.matches(version) {
                        return Ok(Some(found));
                    }
                }
                Err(message) => error = error.or_else(|| Some(message.to_owned())),
            }
        }
        if let Some(error) = error {
            return Err(error);
        }
        Ok(self.matches_listed(probe))
    }

    /// A listed version equal to the probed one once both are parsed; a
    /// listed version that does not parse can only match exactly.
    fn matches_listed(&self, probe: &mut VersionProbe<'_>) -> Option<Match> {
        if self.versions.is_empty() {
            return None;
        }
        let version = probe.get(self.scheme).ok()?;
        self.versions
            .iter()
            .filter_map(|listed| self.scheme.parse(listed).ok())
            .any(|listed| listed == *version)
            .then_some(Match { fixed_in: None })
    }
}

impl CompiledRange {
    fn matches(&self, version: &OrderedVersion) -> Option<Match> {
        let below_a_limit = self.limits.iter().any(|limit| version < limit);
        if !(self.unlimited || self.limits.is_empty() || below_a_limit) {
            return None;
        }
        match_events(&self.events, version)
    }
}

fn compile_range(range: &Range, scheme: Scheme) -> Result<CompiledRange, String> {
    let mut compiled = CompiledRange {
        scheme,
        events: Vec::with_capacity(range.events.len()),
        limits: Vec::new(),
        unlimited: false,
    };
    for event in &range.events {
        let Some((kind, text)) = event.kind_and_version() else {
            return Err(format!(
                "{} range has an event without exactly one field",
                range.kind
            ));
        };
        let in_range = |error| format!("{} range, `{}` event: {error}", range.kind, kind.field());
        match (kind, text) {
            (EventKind::Introduced, "0") => compiled.events.push((kind, Bound::Zero)),
            (EventKind::Limit, "*") => compiled.unlimited = true,
            (EventKind::Limit, _) => compiled.limits.push(scheme.parse(text).map_err(in_range)?),
            _ => {
                let version = scheme.parse(text).map_err(in_range)?;
                compiled
                    .events
                    .push((kind, Bound::Version(version, text.to_owned())));
            }
        }
    }
    if !compiled
        .events
        .iter()
        .any(|(kind, _)| *kind == EventKind::Introduced)
    {
        return Err(format!("{} range has no `introduced` event", range.kind));
    }
    // A stable sort keeps the data's order for events at the same version.
    compiled.events.sort_by(|(_, a), (_, b)| a.cmp_bound(b));
    Ok(compiled)
}

/// Walks sorted events: the last one at or below `version` decides.
fn match_events(events: &[(EventKind, Bound)], version: &OrderedVersion) -> Option<Match> {
    let mut affected = false;
    for (kind, bound) in events {
        let order = bound.cmp_version(version);
        match kind {
            EventKind::Introduced if order.is_le() => affected = true,
            EventKind::Fixed if order.is_le() => affected = false,
            EventKind::LastAffected if order.is_lt() => affected = false,
            _ => {}
        }
    }
    if !affected {
        return None;
    }
    let fixed_in = events.iter().find_map(|(kind, bound)| match (kind, bound) {
        (EventKind::Fixed, Bound::Version(fixed, text)) if fixed > version => Some(text.clone()),
        _ => None,
    });
    Some(Match { fixed_in })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile_for(json: &str, ecosystem: Ecosystem) -> CompiledAffected {
        let affected: Affected = serde_json::from_str(json).unwrap();
        CompiledAffected::compile(&affected, ecosystem)
    }

    fn compile(json: &str) -> CompiledAffected {
        compile_for(json, Ecosystem::CratesIo)
    }

    fn semver(events: &str) -> CompiledAffected {
        compile(&format!(
            r#"{{"ranges": [{{"type": "SEMVER", "events": {events}}}]}}"#
        ))
    }

    /// `None` when not affected, else the fix (empty when there is none).
    fn check(compiled: &CompiledAffected, version: &str) -> Option<String> {
        let found = compiled.matches(&mut VersionProbe::new(version)).unwrap()?;
        Some(found.fixed_in.unwrap_or_default())
    }

    #[test]
    fn introduced_zero_affects_everything_before_the_fix() {
        let range = semver(r#"[{"introduced": "0"}, {"fixed": "1.6.1"}]"#);
        assert_eq!(check(&range, "0.0.1").as_deref(), Some("1.6.1"));
        assert_eq!(check(&range, "1.6.0").as_deref(), Some("1.6.1"));
        assert_eq!(check(&range, "1.6.1"), None);
        assert_eq!(check(&range, "2.0.0"), None);
    }

    #[test]
    fn fixed_is_exclusive_and_introduced_inclusive() {
        let range = semver(r#"[{"introduced": "1.0.0"}, {"fixed": "1.2.0"}]"#);
        assert_eq!(check(&range, "0.9.9"), None);
        assert_eq!(check(&range, "1.0.0").as_deref(), Some("1.2.0"));
        assert_eq!(check(&range, "1.2.0"), None);
    }

    #[test]
    fn last_affected_is_inclusive_and_has_no_fix() {
        let range = semver(r#"[{"introduced": "0"}, {"last_affected": "1.4.2"}]"#);
        assert_eq!(check(&range, "1.4.2").as_deref(), Some(""));
        assert_eq!(check(&range, "1.4.3"), None);
    }

    #[test]
    fn a_range_without_a_closing_event_stays_open() {
        let range = semver(r#"[{"introduced": "2.0.0"}]"#);
        assert_eq!(check(&range, "1.9.0"), None);
        assert_eq!(check(&range, "99.0.0").as_deref(), Some(""));
    }

    #[test]
    fn several_intervals_are_evaluated_in_version_order() {
        // The smallvec advisory RUSTSEC-2021-0003, with its events shuffled.
        let range = semver(
            r#"[{"fixed": "1.6.1"}, {"introduced": "0.6.3"},
                {"introduced": "1.0.0"}, {"fixed": "0.6.14"}]"#,
        );
        assert_eq!(check(&range, "0.6.2"), None);
        assert_eq!(check(&range, "0.6.10").as_deref(), Some("0.6.14"));
        assert_eq!(check(&range, "0.6.14"), None);
        assert_eq!(check(&range, "0.7.0"), None);
        assert_eq!(check(&range, "1.6.0").as_deref(), Some("1.6.1"));
        assert_eq!(check(&range, "1.6.1"), None);
    }

    #[test]
    fn pre_releases_order_before_their_release() {
        let range = semver(r#"[{"introduced": "0.2.1-0"}, {"fixed": "0.2.1"}]"#);
        assert_eq!(check(&range, "0.2.1-beta.1").as_deref(), Some("0.2.1"));
        assert_eq!(check(&range, "0.2.1"), None);
        assert_eq!(check(&range, "0.2.0"), None);

        let release_only = semver(r#"[{"introduced": "1.0.0"}, {"fixed": "2.0.0"}]"#);
        assert_eq!(check(&release_only, "1.0.0-rc.1"), None);
        assert_eq!(
            check(&release_only, "2.0.0-alpha").as_deref(),
            Some("2.0.0")
        );
    }

    #[test]
    fn build_metadata_does_not_change_precedence() {
        let range = semver(r#"[{"introduced": "0"}, {"fixed": "1.0.0"}]"#);
        assert_eq!(check(&range, "1.0.0+build.7"), None);
    }

    #[test]
    fn listed_versions_match_exactly() {
        let listed = compile(r#"{"versions": ["0.3.0", "0.3.2"]}"#);
        assert_eq!(check(&listed, "0.3.2").as_deref(), Some(""));
        assert_eq!(check(&listed, "0.3.1"), None);
    }

    #[test]
    fn ecosystem_ranges_use_the_ecosystem_ordering() {
        let json = r#"{"ranges": [{"type": "ECOSYSTEM",
                       "events": [{"introduced": "0"}, {"fixed": "1.0"}]}]}"#;
        let pypi = compile_for(json, Ecosystem::PyPi);
        assert!(pypi.problems.is_empty(), "{:?}", pypi.problems);
        assert_eq!(check(&pypi, "1.0rc1").as_deref(), Some("1.0"));
        assert_eq!(check(&pypi, "1.0.0"), None);

        // `1.0` is not SemVer: the crates.io range is reported instead.
        let crates = compile_for(json, Ecosystem::CratesIo);
        assert!(crates.problems[0].contains("`1.0` is not a SemVer version"));
    }

    #[test]
    fn limit_caps_the_range_exclusively() {
        let range = semver(r#"[{"introduced": "1.0.0"}, {"limit": "1.5.0"}]"#);
        assert_eq!(check(&range, "1.4.9").as_deref(), Some(""));
        assert_eq!(check(&range, "1.5.0"), None);
        let star = semver(r#"[{"introduced": "1.0.0"}, {"limit": "1.5.0"}, {"limit": "*"}]"#);
        assert_eq!(check(&star, "9.0.0").as_deref(), Some(""));
        let two = semver(r#"[{"introduced": "1.0.0"}, {"limit": "1.5.0"}, {"limit": "3.0.0"}]"#);
        assert_eq!(check(&two, "2.0.0").as_deref(), Some(""));
        assert_eq!(check(&two, "3.0.0"), None);
    }

    #[test]
    fn git_ranges_are_not_matched_against_versions() {
        let git = compile(
            r#"{"ranges": [{"type": "GIT", "repo": "https://example.com/x",
                "events": [{"introduced": "0"}, {"fixed": "abc123"}]}]}"#,
        );
        assert!(git.problems.is_empty());
        assert_eq!(check(&git, "0.1.0"), None);
    }

    #[test]
    fn unparsable_range_versions_are_reported_and_never_match() {
        let bad = semver(r#"[{"introduced": "0"}, {"fixed": "1.2"}]"#);
        assert_eq!(check(&bad, "0.1.0"), None);
        assert_eq!(bad.problems.len(), 1);
        assert!(
            bad.problems[0].contains("`fixed` event: `1.2` is not a SemVer version"),
            "{:?}",
            bad.problems
        );
    }

    #[test]
    fn an_unparsable_package_version_is_an_error_not_a_miss() {
        let range = semver(r#"[{"introduced": "0"}, {"fixed": "1.0.0"}]"#);
        let err = range.matches(&mut VersionProbe::new("1.0")).unwrap_err();
        assert!(err.contains("`1.0` is not a SemVer version"), "{err}");
        assert!(range.matches(&mut VersionProbe::new("1.0.0")).is_ok());
    }

    #[test]
    fn listed_versions_that_do_not_parse_match_only_exactly() {
        let listed = compile_for(r#"{"versions": ["0.3-legacy-x"]}"#, Ecosystem::PyPi);
        assert!(listed.problems.is_empty());
        assert_eq!(check(&listed, "0.3-legacy-x").as_deref(), Some(""));
        assert_eq!(check(&listed, "0.3"), None);
    }

    #[test]
    fn listed_versions_match_by_normal_form() {
        let listed = compile_for(r#"{"versions": ["2.0.0", "2.1rc1"]}"#, Ecosystem::PyPi);
        assert_eq!(check(&listed, "2.0").as_deref(), Some(""));
        assert_eq!(check(&listed, "2.1.0RC1").as_deref(), Some(""));
        assert_eq!(check(&listed, "2.1"), None);
    }

    #[test]
    fn malformed_events_are_reported() {
        let both = semver(r#"[{"introduced": "0", "fixed": "1.0.0"}]"#);
        assert!(both.problems[0].contains("without exactly one field"));
        let no_start = semver(r#"[{"fixed": "1.0.0"}]"#);
        assert!(no_start.problems[0].contains("no `introduced` event"));
    }
}
