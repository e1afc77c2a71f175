//! Package URLs (purls) for locked packages of every ecosystem.
//!
//! A purl names a package independently of any one tool:
//! `pkg:<type>/<namespace>/<name>@<version>`, the type given by the
//! ecosystem (`cargo`, `npm`, `pypi`, `golang`) and the registry being the
//! one the type assumes. A package from another registry carries a
//! `repository_url` qualifier, one from version control a `vcs_url`
//! qualifier (`git+<url>@<commit>`), and one fetched from a plain URL a
//! `download_url` qualifier, as the purl specification's standard
//! qualifiers define them.
//!
//! Each type's own rules are applied: an npm scope is the namespace, its
//! `@` encoded once (`pkg:npm/%40types/node@20.1.0`), and scope and name
//! are lowercased, as the npm type requires; a PyPI name is normalised as
//! PEP 503 says (lowercased, each run of `-`, `_` and `.` written as one
//! `-`); a Go module path is split at its last `/` into namespace and name,
//! each segment encoded on its own. Go paths keep their case, although the
//! `golang` type definition asks for lowercase: module paths are
//! case-sensitive (the module proxy escapes capitals rather than folding
//! them), so a lowercased path would name another module. A package with no
//! version (an unpinned requirement) gets a purl without `@`.
//!
//! Project packages (workspace members, path dependencies, links) are not
//! published anywhere, so they have no purl; the SBOM lists them as local
//! components instead.
//!
//! Components are percent-encoded as the specification's "Character
//! encoding" section requires: everything except ASCII letters, digits,
//! `.-_~` and `:` is encoded, so a qualifier value
//! `git+https://host/repo@abc` becomes `git%2Bhttps:%2F%2Fhost%2Frepo%40abc`.

use std::fmt::Write as _;

use crate::package::{Ecosystem, Origin, Package};

/// The purl of a locked package, or `None` for a local one.
///
/// At most one qualifier is written, so they are sorted as a canonical
/// purl requires.
pub fn package_url(package: &Package) -> Option<String> {
    let mut purl = format!("pkg:{}/", package.ecosystem.purl_type());
    push_name_and_version(&mut purl, package);
    match &package.origin {
        Origin::Registry => {}
        Origin::OtherRegistry { url } => push_qualifier(&mut purl, "repository_url", url),
        Origin::Vcs { url, commit } => {
            let vcs = match commit {
                Some(commit) => format!("{}@{commit}", vcs_url(url)),
                None => vcs_url(url),
            };
            push_qualifier(&mut purl, "vcs_url", &vcs);
        }
        Origin::Url { url } => push_qualifier(&mut purl, "download_url", url),
        Origin::Local { .. } => return None,
    }
    Some(purl)
}

/// The part of a purl after `pkg:<type>/`, without qualifiers:
/// `%40types/node@20.1.0`. Local packages are named the same way in SBOMs,
/// so that two of them differ exactly when two purls would.
pub fn name_and_version(package: &Package) -> String {
    let mut text = String::new();
    push_name_and_version(&mut text, package);
    text
}

/// Writes the namespace, name and `@version` (when there is a version).
fn push_name_and_version(purl: &mut String, package: &Package) {
    push_name(purl, package.ecosystem, &package.name);
    if !package.version.is_empty() {
        purl.push('@');
        purl.push_str(&percent_encode(&package.version));
    }
}

/// Writes the namespace (if any) and name of `name` by `ecosystem`'s rules.
fn push_name(purl: &mut String, ecosystem: Ecosystem, name: &str) {
    match ecosystem {
        Ecosystem::CratesIo => purl.push_str(&percent_encode(name)),
        Ecosystem::Npm => {
            let name = name.to_ascii_lowercase();
            match name.split_once('/') {
                Some((scope, rest)) if scope.starts_with('@') => {
                    purl.push_str(&percent_encode(scope));
                    purl.push('/');
                    purl.push_str(&percent_encode(rest));
                }
                _ => purl.push_str(&percent_encode(&name)),
            }
        }
        Ecosystem::PyPi => purl.push_str(&percent_encode(&pypi_name(name))),
        Ecosystem::Go => {
            let segments: Vec<String> = name.split('/').map(percent_encode).collect();
            purl.push_str(&segments.join("/"));
        }
    }
}

/// A PyPI name as a purl writes it: PEP 503's normal form, lowercased with
/// every run of `-`, `_` and `.` written as one `-`.
pub fn pypi_name(name: &str) -> String {
    let mut normal = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_run {
                normal.push('-');
            }
            in_run = true;
        } else {
            normal.push(c.to_ascii_lowercase());
            in_run = false;
        }
    }
    normal
}

/// A repository URL with the `git+` prefix a `vcs_url` needs, unless it
/// already names its tool (`git+https://…`, `hg+…`).
fn vcs_url(url: &str) -> String {
    let tool_prefixed = url
        .split_once("+")
        .is_some_and(|(tool, _)| !tool.contains(['/', ':']));
    if tool_prefixed {
        url.to_owned()
    } else {
        format!("git+{url}")
    }
}

/// Appends `?key=value`, the value percent-encoded; only one qualifier is
/// ever added, so the separator is always `?`.
fn push_qualifier(purl: &mut String, key: &str, value: &str) {
    purl.push('?');
    purl.push_str(key);
    purl.push('=');
    purl.push_str(&percent_encode(value));
}

/// Percent-encodes `text` as a purl component.
///
/// ASCII letters and digits, `.`, `-`, `_`, `~` and `:` stay as they are;
/// every other byte of the UTF-8 text becomes `%XX` with upper-case hex.
pub fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b".-_~:".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(encoded, "%{byte:02X}");
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(name: &str, version: &str, origin: Origin) -> Package {
        Package {
            origin,
            ..Package::new(Ecosystem::CratesIo, name, version)
        }
    }

    #[test]
    fn crates_io_packages_get_a_plain_cargo_purl() {
        let rand = package("rand", "0.7.2", Origin::Registry);
        assert_eq!(package_url(&rand).unwrap(), "pkg:cargo/rand@0.7.2");
    }

    #[test]
    fn pre_release_versions_stay_readable_and_build_metadata_is_encoded() {
        let beta = package("tokio", "1.0.0-beta.2+build.5", Origin::Registry);
        assert_eq!(
            package_url(&beta).unwrap(),
            "pkg:cargo/tokio@1.0.0-beta.2%2Bbuild.5"
        );
    }

    #[test]
    fn git_packages_carry_an_encoded_vcs_url_with_the_commit() {
        let source = Origin::Vcs {
            url: "https://github.com/example/forked".into(),
            commit: Some("0123abc".into()),
        };
        let forked = package("forked", "0.3.0", source);
        assert_eq!(
            package_url(&forked).unwrap(),
            "pkg:cargo/forked@0.3.0?vcs_url=\
             git%2Bhttps:%2F%2Fgithub.com%2Fexample%2Fforked%400123abc"
        );
    }

    #[test]
    fn other_registries_carry_their_index_as_repository_url() {
        let source = Origin::OtherRegistry {
            url: "sparse+https://crates.example.com/index/".into(),
        };
        let inhouse = package("inhouse", "2.0.0", source);
        assert_eq!(
            package_url(&inhouse).unwrap(),
            "pkg:cargo/inhouse@2.0.0?repository_url=\
             sparse%2Bhttps:%2F%2Fcrates.example.com%2Findex%2F"
        );
    }

    #[test]
    fn local_packages_have_no_purl() {
        let app = package("app", "0.1.0", Origin::Local { path: None });
        assert_eq!(package_url(&app), None);
    }

    #[test]
    fn npm_scopes_are_the_namespace_with_the_at_sign_encoded_once() {
        let types = Package::new(Ecosystem::Npm, "@types/node", "20.1.0");
        assert_eq!(package_url(&types).unwrap(), "pkg:npm/%40types/node@20.1.0");
        let plain = Package::new(Ecosystem::Npm, "lodash", "4.17.21");
        assert_eq!(package_url(&plain).unwrap(), "pkg:npm/lodash@4.17.21");
    }

    #[test]
    fn pypi_names_are_lowercased_with_dashes() {
        let yaml = Package::new(Ecosystem::PyPi, "PyYAML", "6.0.1");
        assert_eq!(package_url(&yaml).unwrap(), "pkg:pypi/pyyaml@6.0.1");
        let typing = Package::new(Ecosystem::PyPi, "typing_extensions", "4.12.2");
        assert_eq!(
            package_url(&typing).unwrap(),
            "pkg:pypi/typing-extensions@4.12.2"
        );
        let local = Package::new(Ecosystem::PyPi, "torch", "2.3.0+cpu");
        assert_eq!(package_url(&local).unwrap(), "pkg:pypi/torch@2.3.0%2Bcpu");
    }

    /// Regression (#4): only `_` was folded, so `zope.interface` and
    /// `zope-interface`, one project on PyPI, got two purls; the pypi type
    /// normalises names as PEP 503 does.
    #[test]
    fn pypi_names_fold_runs_of_dots_dashes_and_underscores() {
        for spelling in ["zope.interface", "Zope_Interface", "zope-._interface"] {
            let package = Package::new(Ecosystem::PyPi, spelling, "6.4");
            assert_eq!(
                package_url(&package).unwrap(),
                "pkg:pypi/zope-interface@6.4",
                "{spelling}"
            );
        }
        let plain = Package::new(Ecosystem::PyPi, "requests", "2.32.3");
        assert_eq!(package_url(&plain).unwrap(), "pkg:pypi/requests@2.32.3");
    }

    /// Regression (#4): the npm type is case-insensitive and its purls are
    /// lowercase; old packages such as `JSONStream` kept their capitals.
    #[test]
    fn npm_names_and_scopes_are_lowercased() {
        let old = Package::new(Ecosystem::Npm, "JSONStream", "1.3.5");
        assert_eq!(package_url(&old).unwrap(), "pkg:npm/jsonstream@1.3.5");
        let scoped = Package::new(Ecosystem::Npm, "@Babel/Core", "7.24.0");
        assert_eq!(
            package_url(&scoped).unwrap(),
            "pkg:npm/%40babel/core@7.24.0"
        );
    }

    /// Regression (#4): an unpinned requirement has no version, and
    /// `pkg:pypi/flask@` is not a purl; the `@` goes with the version.
    #[test]
    fn a_package_without_a_version_has_no_version_separator() {
        let unpinned = Package::new(Ecosystem::PyPi, "Flask", "");
        assert_eq!(package_url(&unpinned).unwrap(), "pkg:pypi/flask");
        let pinned = Package::new(Ecosystem::PyPi, "Flask", "3.0.3");
        assert_eq!(package_url(&pinned).unwrap(), "pkg:pypi/flask@3.0.3");
    }

    #[test]
    fn go_module_paths_keep_their_case() {
        let module = Package::new(
            Ecosystem::Go,
            "github.com/Azure/go-autorest",
            "v14.2.0+incompatible",
        );
        assert_eq!(
            package_url(&module).unwrap(),
            "pkg:golang/github.com/Azure/go-autorest@v14.2.0%2Bincompatible"
        );
    }

    #[test]
    fn go_module_paths_keep_their_slashes_and_versions_their_v() {
        let module = Package::new(Ecosystem::Go, "github.com/gorilla/mux", "v1.8.1");
        assert_eq!(
            package_url(&module).unwrap(),
            "pkg:golang/github.com/gorilla/mux@v1.8.1"
        );
        let incompatible = Package::new(
            Ecosystem::Go,
            "github.com/docker/docker",
            "v20.10.7+incompatible",
        );
        assert_eq!(
            package_url(&incompatible).unwrap(),
            "pkg:golang/github.com/docker/docker@v20.10.7%2Bincompatible"
        );
    }

    #[test]
    fn archives_from_urls_carry_their_download_url() {
        let tarball = Package {
            origin: Origin::Url {
                url: "https://example.com/pkg-1.0.tgz".into(),
            },
            ..Package::new(Ecosystem::Npm, "pkg", "1.0.0")
        };
        assert_eq!(
            package_url(&tarball).unwrap(),
            "pkg:npm/pkg@1.0.0?download_url=https:%2F%2Fexample.com%2Fpkg-1.0.tgz"
        );
    }

    #[test]
    fn percent_encoding_keeps_only_unreserved_characters_and_colons() {
        assert_eq!(percent_encode("a-Z_0.9~:"), "a-Z_0.9~:");
        assert_eq!(
            percent_encode("a b/c?d#e@f&g=h+i%"),
            "a%20b%2Fc%3Fd%23e%40f%26g%3Dh%2Bi%25"
        );
        assert_eq!(percent_encode("é"), "%C3%A9");
    }
}
