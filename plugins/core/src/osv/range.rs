//! Whether a version falls in an `affected` entry's ranges or list.
//!
//! An entry is compiled once, when the index loads it: its versions are
//! parsed and each range's events sorted, so matching a package is a walk
//! over a few sorted events. What cannot be compiled is kept as a problem
//! message instead of being matched.

use std::cmp::Ordering;

use semver::Version;

use super::schema::{Affected, EventKind, Range};

/// An event's version: `introduced: "0"` is below every version.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Bound {
    Zero,
    Version(Version),
}

impl Bound {
    /// Orders by SemVer precedence, ignoring build metadata.
    fn cmp_version(&self, version: &Version) -> Ordering {
        match self {
            Self::Zero => Ordering::Less,
            Self::Version(bound) => bound.cmp_precedence(version),
        }
    }

    fn cmp_bound(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Self::Zero, Self::Zero) => Ordering::Equal,
            (Self::Zero, Self::Version(_)) => Ordering::Less,
            (Self::Version(_), Self::Zero) => Ordering::Greater,
            (Self::Version(a), Self::Version(b)) => a.cmp_precedence(b),
        }
    }
}

/// The version ranges and listed versions of one `affected` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct CompiledAffected {
    /// Each usable range's events, sorted by version.
    ranges: Vec<Vec<(EventKind, Bound)>>,
    versions: Vec<Version>,
    /// What could not be compiled, one message each.
    pub problems: Vec<String>,
}

/// A version the entry affects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Match {
    /// The first `fixed` version after the matched one in its range.
    pub fixed_in: Option<Version>,
}

impl CompiledAffected {
    /// Compiles `affected`; `semver_ecosystem` says whether its
    /// `ECOSYSTEM` ranges use SemVer (true for crates.io).
    pub fn compile(affected: &Affected, semver_ecosystem: bool) -> Self {
        let mut compiled = Self::default();
        for range in &affected.ranges {
            match range.kind.as_str() {
                "SEMVER" => compiled.add_range(range),
                "ECOSYSTEM" if semver_ecosystem => compiled.add_range(range),
                // Commits are not versions; an ecosystem whose ordering is not
                // SemVer is never scanned here.
                "GIT" | "ECOSYSTEM" => {}
                other => compiled
                    .problems
                    .push(format!("unknown range type `{other}`")),
            }
        }
        for listed in &affected.versions {
            match Version::parse(listed) {
                Ok(version) => compiled.versions.push(version),
                Err(error) => compiled
                    .problems
                    .push(format!("invalid listed version `{listed}`: {error}")),
            }
        }
        compiled
    }

    fn add_range(&mut self, range: &Range) {
        match compile_events(range) {
            Ok(events) => self.ranges.push(events),
            Err(problem) => self.problems.push(problem),
        }
    }

    /// Whether `version` is affected, and where it is fixed.
    pub fn matches(&self, version: &Version) -> Option<Match> {
        if self
            .versions
            .iter()
            .any(|listed| listed.cmp_precedence(version).is_eq())
        {
            return Some(Match { fixed_in: None });
        }
        self.ranges
            .iter()
            .find_map(|events| match_events(events, version))
    }
}

fn compile_events(range: &Range) -> Result<Vec<(EventKind, Bound)>, String> {
    let mut events = Vec::with_capacity(range.events.len());
    for event in &range.events {
        let Some((kind, text)) = event.kind_and_version() else {
            return Err(format!(
                "{} range has an event without exactly one field",
                range.kind
            ));
        };
        events.push((kind, parse_bound(kind, text, &range.kind)?));
    }
    if !events
        .iter()
        .any(|(kind, _)| *kind == EventKind::Introduced)
    {
        return Err(format!("{} range has no `introduced` event", range.kind));
    }
    // A stable sort keeps the data's order for events at the same version.
    events.sort_by(|(_, a), (_, b)| a.cmp_bound(b));
    Ok(events)
}

fn parse_bound(kind: EventKind, text: &str, range_kind: &str) -> Result<Bound, String> {
    if kind == EventKind::Introduced && text == "0" {
        return Ok(Bound::Zero);
    }
    Version::parse(text)
        .map(Bound::Version)
        .map_err(|error| format!("invalid version `{text}` in {range_kind} range: {error}"))
}

/// Walks sorted events: the last one at or below `version` decides.
fn match_events(events: &[(EventKind, Bound)], version: &Version) -> Option<Match> {
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
        (EventKind::Fixed, Bound::Version(fixed)) if fixed.cmp_precedence(version).is_gt() => {
            Some(fixed.clone())
        }
        _ => None,
    });
    Some(Match { fixed_in })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(json: &str) -> CompiledAffected {
        let affected: Affected = serde_json::from_str(json).unwrap();
        CompiledAffected::compile(&affected, true)
    }

    fn semver(events: &str) -> CompiledAffected {
        compile(&format!(
            r#"{{"ranges": [{{"type": "SEMVER", "events": {events}}}]}}"#
        ))
    }

    fn check(compiled: &CompiledAffected, version: &str) -> Option<String> {
        let version = Version::parse(version).unwrap();
        let found = compiled.matches(&version)?;
        Some(found.fixed_in.map(|v| v.to_string()).unwrap_or_default())
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
    fn ecosystem_ranges_use_semver_only_when_the_ecosystem_does() {
        let json = r#"{"ranges": [{"type": "ECOSYSTEM",
                       "events": [{"introduced": "0"}, {"fixed": "1.0.0"}]}]}"#;
        let affected: Affected = serde_json::from_str(json).unwrap();
        let crates = CompiledAffected::compile(&affected, true);
        assert!(check(&crates, "0.5.0").is_some());
        let other = CompiledAffected::compile(&affected, false);
        assert!(check(&other, "0.5.0").is_none());
        assert!(other.problems.is_empty());
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
    fn unparsable_versions_are_reported_and_never_match() {
        let bad = semver(r#"[{"introduced": "0"}, {"fixed": "1.2"}]"#);
        assert_eq!(check(&bad, "0.1.0"), None);
        assert_eq!(bad.problems.len(), 1);
        assert!(
            bad.problems[0].contains("invalid version `1.2`"),
            "{:?}",
            bad.problems
        );

        let listed = compile(r#"{"versions": ["v1"]}"#);
        assert!(listed.problems[0].contains("invalid listed version `v1`"));
    }

    #[test]
    fn malformed_events_are_reported() {
        let both = semver(r#"[{"introduced": "0", "fixed": "1.0.0"}]"#);
        assert!(both.problems[0].contains("without exactly one field"));
        let no_start = semver(r#"[{"fixed": "1.0.0"}]"#);
        assert!(no_start.problems[0].contains("no `introduced` event"));
    }
}
