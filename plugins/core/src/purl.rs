//! Package URLs (purls) for locked Cargo packages.
//!
//! A purl names a package independently of any one tool:
//! `pkg:cargo/<name>@<version>` for a crate on crates.io, the registry
//! the purl `cargo` type assumes. A crate from another registry carries a
//! `repository_url` qualifier with its index, and one from git a `vcs_url`
//! qualifier, `git+<url>@<commit>`, as the purl specification's standard
//! qualifiers define them.
//!
//! Workspace members and path dependencies are not published anywhere, so
//! they have no purl; the SBOM lists them as local components instead.
//!
//! Components are percent-encoded as the specification's "Character
//! encoding" section requires: everything except ASCII letters, digits,
//! `.-_~` and `:` is encoded, so a qualifier value
//! `git+https://host/repo@abc` becomes `git%2Bhttps:%2F%2Fhost%2Frepo%40abc`.

use std::fmt::Write as _;

use crate::lockfile::{LockedPackage, PackageSource};

/// The purl of a locked package, or `None` for a local one.
///
/// Qualifiers are sorted by key, as a canonical purl requires.
pub fn package_url(package: &LockedPackage) -> Option<String> {
    let mut purl = format!(
        "pkg:cargo/{}@{}",
        percent_encode(&package.name),
        percent_encode(&package.version.to_string())
    );
    match &package.source {
        PackageSource::CratesIo => {}
        PackageSource::Registry { index } => {
            push_qualifier(&mut purl, "repository_url", index);
        }
        PackageSource::Git { url, commit, .. } => {
            push_qualifier(&mut purl, "vcs_url", &format!("git+{url}@{commit}"));
        }
        PackageSource::Local => return None,
    }
    Some(purl)
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

    fn package(name: &str, version: &str, source: PackageSource) -> LockedPackage {
        LockedPackage {
            name: name.into(),
            version: semver::Version::parse(version).unwrap(),
            source,
            checksum: None,
            dependencies: Vec::new(),
        }
    }

    #[test]
    fn crates_io_packages_get_a_plain_cargo_purl() {
        let rand = package("rand", "0.7.2", PackageSource::CratesIo);
        assert_eq!(package_url(&rand).unwrap(), "pkg:cargo/rand@0.7.2");
    }

    #[test]
    fn pre_release_versions_stay_readable_and_build_metadata_is_encoded() {
        let beta = package("tokio", "1.0.0-beta.2+build.5", PackageSource::CratesIo);
        assert_eq!(
            package_url(&beta).unwrap(),
            "pkg:cargo/tokio@1.0.0-beta.2%2Bbuild.5"
        );
    }

    #[test]
    fn git_packages_carry_an_encoded_vcs_url_with_the_commit() {
        let source = PackageSource::Git {
            url: "https://github.com/example/forked".into(),
            reference: Some("branch=main".into()),
            commit: "0123abc".into(),
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
        let source = PackageSource::Registry {
            index: "sparse+https://crates.example.com/index/".into(),
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
        let app = package("app", "0.1.0", PackageSource::Local);
        assert_eq!(package_url(&app), None);
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
