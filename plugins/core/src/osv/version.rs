//! Version ordering for each ecosystem's advisories.
//!
//! OSV ranges compare versions by one of three orderings:
//!
//! - [`Scheme::SemVer`]: SemVer 2.0 precedence, for crates.io and npm and
//!   for every `SEMVER` range. Pre-releases come before their release
//!   (`1.0.0-rc.1 < 1.0.0`) and build metadata is ignored
//!   (`1.0.0+build.7 == 1.0.0`).
//! - [`Scheme::Pep440`]: PEP 440, for PyPI: epochs (`1!0.5 > 2.0`), pre-,
//!   post- and dev-releases (`1.0.dev0 < 1.0a1 < 1.0 < 1.0.post1`), local
//!   versions after their public version (`1.0 < 1.0+ubuntu.1`), and the
//!   normal forms (`1.0 == 1.0.0`, `1.0RC1 == 1.0rc1`).
//! - [`Scheme::Go`]: Go module versions, which are SemVer with a leading
//!   `v` (`v1.2.3`). Go's own tools compare them by SemVer precedence, and
//!   so does this: a pseudo-version such as
//!   `v1.2.4-0.20191109021931-daa7c04131f5` is a pre-release of `v1.2.4`,
//!   so it sorts after `v1.2.3` and before `v1.2.4`, and pseudo-versions of
//!   the same base sort by their UTC timestamp; `+incompatible` is build
//!   metadata and does not change the order. The Go vulnerability database
//!   writes its versions without the `v`; both spellings are read.
//!
//! A version that does not parse under its scheme is an error, never a
//! silent non-match: the caller reports it.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use crate::package::Ecosystem;

/// How an ecosystem's versions are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scheme {
    /// SemVer 2.0 precedence.
    SemVer,
    /// PEP 440.
    Pep440,
    /// Go module versions: SemVer with an optional leading `v`.
    Go,
}

impl Scheme {
    /// The ordering of `ECOSYSTEM` ranges of `ecosystem`.
    pub fn of_ecosystem(ecosystem: Ecosystem) -> Self {
        match ecosystem {
            Ecosystem::CratesIo | Ecosystem::Npm => Self::SemVer,
            Ecosystem::PyPi => Self::Pep440,
            Ecosystem::Go => Self::Go,
        }
    }

    /// The ordering of `SEMVER` ranges about packages of `ecosystem`: SemVer,
    /// except that Go's leading `v` is accepted on Go packages.
    pub fn of_semver_range(ecosystem: Ecosystem) -> Self {
        match ecosystem {
            Ecosystem::Go => Self::Go,
            _ => Self::SemVer,
        }
    }

    /// The scheme's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::SemVer => "SemVer",
            Self::Pep440 => "PEP 440",
            Self::Go => "Go module",
        }
    }

    /// Parses `text` as a version of this scheme.
    ///
    /// # Errors
    ///
    /// A message saying why `text` is not a version of this scheme.
    pub fn parse(self, text: &str) -> Result<OrderedVersion, String> {
        let parsed = match self {
            Self::SemVer => parse_semver(text).map(OrderedVersion::SemVer),
            Self::Go => parse_go(text).map(OrderedVersion::SemVer),
            Self::Pep440 => pep440_rs::Version::from_str(text)
                .map(OrderedVersion::Pep440)
                .map_err(|error| error.to_string()),
        };
        parsed.map_err(|error| format!("`{text}` is not a {} version: {error}", self.name()))
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A parsed version, ordered by its scheme's precedence.
///
/// Versions of one [`Scheme`] are only ever compared with each other; Go
/// versions are SemVer ones once their `v` is gone.
#[derive(Debug, Clone)]
pub enum OrderedVersion {
    /// A SemVer or Go module version.
    SemVer(semver::Version),
    /// A PEP 440 version.
    Pep440(pep440_rs::Version),
}

impl Ord for OrderedVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Self::SemVer(a), Self::SemVer(b)) => a.cmp_precedence(b),
            (Self::Pep440(a), Self::Pep440(b)) => a.cmp(b),
            // Never compared in practice: each range has one scheme.
            (Self::SemVer(_), Self::Pep440(_)) => Ordering::Less,
            (Self::Pep440(_), Self::SemVer(_)) => Ordering::Greater,
        }
    }
}

impl PartialOrd for OrderedVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for OrderedVersion {
    /// Equal precedence: `1.0.0+a == 1.0.0+b`, and `1.0 == 1.0.0` in PEP 440.
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for OrderedVersion {}

fn parse_semver(text: &str) -> Result<semver::Version, String> {
    semver::Version::parse(text).map_err(|error| error.to_string())
}

/// A Go module version: `v` (optional here, since the Go vulnerability
/// database leaves it out), then a full SemVer version. Go accepts no
/// build metadata but `+incompatible`, and only on major versions from 2.
fn parse_go(text: &str) -> Result<semver::Version, String> {
    let bare = text.strip_prefix('v').unwrap_or(text);
    let version = parse_semver(bare)?;
    match version.build.as_str() {
        "" => Ok(version),
        "incompatible" if version.major >= 2 => Ok(version),
        "incompatible" => Err("`+incompatible` needs a major version of 2 or more".to_owned()),
        other => Err(format!("build metadata `+{other}` is not allowed")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(scheme: Scheme, a: &str, b: &str) -> Ordering {
        scheme.parse(a).unwrap().cmp(&scheme.parse(b).unwrap())
    }

    fn ascending(scheme: Scheme, versions: &[&str]) {
        for pair in versions.windows(2) {
            assert_eq!(
                order(scheme, pair[0], pair[1]),
                Ordering::Less,
                "{scheme}: expected {} < {}",
                pair[0],
                pair[1]
            );
        }
    }

    #[test]
    fn semver_orders_pre_releases_before_their_release() {
        ascending(
            Scheme::SemVer,
            &[
                "1.0.0-alpha",
                "1.0.0-alpha.1",
                "1.0.0-alpha.beta",
                "1.0.0-beta.2",
                "1.0.0-beta.11",
                "1.0.0-rc.1",
                "1.0.0",
                "1.0.1",
                "1.10.0",
            ],
        );
    }

    #[test]
    fn semver_ignores_build_metadata() {
        assert_eq!(
            order(Scheme::SemVer, "1.0.0+build.7", "1.0.0"),
            Ordering::Equal
        );
        assert_eq!(order(Scheme::SemVer, "1.0.0+a", "1.0.0+b"), Ordering::Equal);
    }

    #[test]
    fn semver_refuses_partial_and_prefixed_versions() {
        let err = Scheme::SemVer.parse("1.2").unwrap_err();
        assert!(err.contains("`1.2` is not a SemVer version"), "{err}");
        assert!(Scheme::SemVer.parse("v1.2.3").is_err());
        assert!(Scheme::SemVer.parse("1.2.3").is_ok());
    }

    #[test]
    fn pep440_orders_dev_pre_release_post_and_local() {
        ascending(
            Scheme::Pep440,
            &[
                "1.0.dev0",
                "1.0a1",
                "1.0a2.dev1",
                "1.0a2",
                "1.0b1",
                "1.0rc1",
                "1.0",
                "1.0+local.1",
                "1.0.post1.dev0",
                "1.0.post1",
                "1.1",
                "1!0.1",
            ],
        );
    }

    #[test]
    fn pep440_epochs_outrank_everything_else() {
        assert_eq!(order(Scheme::Pep440, "1!0.5", "2024.1"), Ordering::Greater);
        assert_eq!(order(Scheme::Pep440, "0!2.0", "2.0"), Ordering::Equal);
    }

    #[test]
    fn pep440_compares_normal_forms() {
        assert_eq!(order(Scheme::Pep440, "1.0", "1.0.0"), Ordering::Equal);
        assert_eq!(order(Scheme::Pep440, "1.0RC1", "1.0rc1"), Ordering::Equal);
        assert_eq!(
            order(Scheme::Pep440, "1.0-post1", "1.0.post1"),
            Ordering::Equal
        );
        assert_eq!(order(Scheme::Pep440, "v2.0", "2.0"), Ordering::Equal);
    }

    #[test]
    fn pep440_refuses_what_is_not_a_version() {
        let err = Scheme::Pep440.parse("1.0-foo-bar").unwrap_err();
        assert!(err.contains("is not a PEP 440 version"), "{err}");
    }

    #[test]
    fn go_reads_versions_with_and_without_v() {
        assert_eq!(order(Scheme::Go, "v1.2.3", "1.2.3"), Ordering::Equal);
        assert!(Scheme::Go.parse("v1.2").is_err());
        assert!(Scheme::Go.parse("vv1.2.3").is_err());
    }

    #[test]
    fn go_pseudo_versions_sort_between_releases_and_by_time() {
        ascending(
            Scheme::Go,
            &[
                "v0.0.0-20191109021931-daa7c04131f5",
                "v0.0.0-20200101000000-000000000000",
                "v0.1.0",
                "v1.2.3",
                "v1.2.4-0.20191109021931-daa7c04131f5",
                "v1.2.4-0.20210101000000-abcdefabcdef",
                "v1.2.4",
                "v1.3.0-pre",
                "v1.3.0-pre.0.20220101000000-abcdefabcdef",
                "v1.3.0",
            ],
        );
    }

    #[test]
    fn go_incompatible_is_build_metadata_on_major_two_and_up() {
        assert_eq!(
            order(Scheme::Go, "v2.0.0+incompatible", "v2.0.0"),
            Ordering::Equal
        );
        assert_eq!(
            order(Scheme::Go, "v2.1.0+incompatible", "v2.0.9"),
            Ordering::Greater
        );
        let err = Scheme::Go.parse("v1.0.0+incompatible").unwrap_err();
        assert!(err.contains("major version of 2"), "{err}");
        assert!(Scheme::Go.parse("v2.0.0+build").is_err());
    }

    #[test]
    fn ecosystems_pick_their_schemes() {
        assert_eq!(Scheme::of_ecosystem(Ecosystem::CratesIo), Scheme::SemVer);
        assert_eq!(Scheme::of_ecosystem(Ecosystem::Npm), Scheme::SemVer);
        assert_eq!(Scheme::of_ecosystem(Ecosystem::PyPi), Scheme::Pep440);
        assert_eq!(Scheme::of_ecosystem(Ecosystem::Go), Scheme::Go);
        assert_eq!(Scheme::of_semver_range(Ecosystem::PyPi), Scheme::SemVer);
        assert_eq!(Scheme::of_semver_range(Ecosystem::Go), Scheme::Go);
    }
}
