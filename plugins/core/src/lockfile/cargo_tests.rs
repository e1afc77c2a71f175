//! Tests of reading Cargo lockfiles of every format version.

use super::*;

const V4: &str = r#"
version = 4

[[package]]
name = "app"
version = "0.1.0"
dependencies = [
 "helper",
 "serde 1.0.200",
 "serde 0.9.15",
 "forked",
]

[[package]]
name = "forked"
version = "0.3.0"
source = "git+https://github.com/example/forked?branch=main#0123456789abcdef0123456789abcdef01234567"

[[package]]
name = "helper"
version = "0.2.0"

[[package]]
name = "serde"
version = "0.9.15"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "aaaa"

[[package]]
name = "serde"
version = "1.0.200"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "bbbb"
dependencies = [
 "inhouse",
]

[[package]]
name = "inhouse"
version = "2.0.0-beta.1"
source = "sparse+https://crates.example.com/index/"
"#;

fn parse(text: &str) -> Result<Lockfile, LockfileError> {
    Lockfile::parse_cargo_lock("Cargo.lock", text)
}

fn find<'a>(lock: &'a Lockfile, name: &str, version: &str) -> &'a LockedPackage {
    lock.packages
        .iter()
        .find(|package| package.name == name && package.version.to_string() == version)
        .unwrap()
}

fn names(lock: &Lockfile, indices: &[usize]) -> Vec<String> {
    indices
        .iter()
        .map(|&index| lock.packages[index].to_string())
        .collect()
}

#[test]
fn version_4_packages_keep_their_sources() {
    let lock = parse(V4).unwrap();
    assert_eq!(lock.format_version, 4);
    assert_eq!(lock.packages.len(), 6);
    assert_eq!(find(&lock, "app", "0.1.0").source, PackageSource::Local);
    assert_eq!(
        find(&lock, "serde", "1.0.200").source,
        PackageSource::CratesIo
    );
    assert_eq!(
        find(&lock, "serde", "1.0.200").checksum.as_deref(),
        Some("bbbb")
    );
    assert_eq!(
        find(&lock, "inhouse", "2.0.0-beta.1").source,
        PackageSource::Registry {
            index: "sparse+https://crates.example.com/index/".into()
        }
    );
    assert_eq!(
        find(&lock, "forked", "0.3.0").source,
        PackageSource::Git {
            url: "https://github.com/example/forked".into(),
            reference: Some("branch=main".into()),
            commit: "0123456789abcdef0123456789abcdef01234567".into(),
        }
    );
}

#[test]
fn short_dependency_names_resolve_to_the_one_package_they_mean() {
    let lock = parse(V4).unwrap();
    let app = find(&lock, "app", "0.1.0");
    assert_eq!(
        names(&lock, &app.dependencies),
        [
            "forked@0.3.0",
            "helper@0.2.0",
            "serde@0.9.15",
            "serde@1.0.200"
        ]
    );
    let serde = find(&lock, "serde", "1.0.200");
    assert_eq!(names(&lock, &serde.dependencies), ["inhouse@2.0.0-beta.1"]);
}

#[test]
fn roots_are_the_local_packages_nothing_depends_on() {
    let lock = parse(V4).unwrap();
    assert_eq!(names(&lock, &lock.roots()), ["app@0.1.0"]);
}

#[test]
fn version_1_full_dependency_ids_and_metadata_checksums_are_read() {
    let text = r#"
[root]
name = "app"
version = "0.1.0"
dependencies = [
 "libc 0.2.10 (registry+https://github.com/rust-lang/crates.io-index)",
]

[[package]]
name = "libc"
version = "0.2.10"
source = "registry+https://github.com/rust-lang/crates.io-index"

[metadata]
"checksum libc 0.2.10 (registry+https://github.com/rust-lang/crates.io-index)" = "cccc"
"#;
    let lock = parse(text).unwrap();
    assert_eq!(lock.format_version, 1);
    assert_eq!(
        names(&lock, &lock.packages[0].dependencies),
        ["libc@0.2.10"]
    );
    assert_eq!(lock.packages[1].checksum.as_deref(), Some("cccc"));
}

#[test]
fn lockfiles_without_a_version_key_or_metadata_are_version_2() {
    let text = "[[package]]\nname = \"app\"\nversion = \"1.0.0\"\n";
    assert_eq!(parse(text).unwrap().format_version, 2);
    let v3 = "version = 3\n[[package]]\nname = \"app\"\nversion = \"1.0.0\"\n";
    assert_eq!(parse(v3).unwrap().format_version, 3);
}

#[test]
fn the_digest_is_the_sha256_of_the_text() {
    let lock = parse("version = 4\n").unwrap();
    assert_eq!(
        hex::encode(lock.digest),
        "083791b01c1a67ae66aca99070c9ee48082d04307473d494376e6de7cf9a654a"
    );
}

#[test]
fn newer_formats_are_refused() {
    let err = parse("version = 5\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "lockfile `Cargo.lock` has format version 5; versions 1 to 4 are supported"
    );
}

#[test]
fn invalid_toml_names_the_file_and_line() {
    let err = parse("version = 4\n[[package]\n").unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("failed to parse lockfile `Cargo.lock`"),
        "{message}"
    );
    assert!(message.contains("line 2"), "{message}");
}

#[test]
fn a_package_without_a_version_is_a_syntax_error() {
    let err = parse("[[package]]\nname = \"app\"\n").unwrap_err();
    assert!(matches!(err, LockfileError::Syntax { .. }));
    assert!(err.to_string().contains("version"), "{err}");
}

#[test]
fn invalid_versions_name_the_package() {
    let err = parse("[[package]]\nname = \"app\"\nversion = \"1.0\"\n").unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("lockfile `Cargo.lock`: package `app` has invalid version `1.0`"),
        "{message}"
    );
}

#[test]
fn unknown_source_kinds_are_refused() {
    let text = "[[package]]\nname = \"a\"\nversion = \"1.0.0\"\nsource = \"path+file:///x\"\n";
    let err = parse(text).unwrap_err();
    assert!(
        err.to_string()
            .contains("package `a 1.0.0` has unsupported source `path+file:///x`"),
        "{err}"
    );
}

#[test]
fn git_sources_without_a_commit_are_refused() {
    let text = "[[package]]\nname = \"a\"\nversion = \"1.0.0\"\n\
                source = \"git+https://example.com/a?branch=main\"\n";
    let err = parse(text).unwrap_err();
    assert!(
        err.to_string().contains("must end with `#<commit>`"),
        "{err}"
    );
}

#[test]
fn dependencies_on_unlisted_packages_are_refused() {
    let text = "[[package]]\nname = \"a\"\nversion = \"1.0.0\"\ndependencies = [\"b\"]\n";
    let err = parse(text).unwrap_err();
    assert_eq!(
        err.to_string(),
        "lockfile `Cargo.lock`: package `a 1.0.0` depends on `b`, which is not listed"
    );
}

#[test]
fn ambiguous_dependencies_are_refused() {
    let text = "[[package]]\nname = \"a\"\nversion = \"1.0.0\"\ndependencies = [\"b\"]\n\
                [[package]]\nname = \"b\"\nversion = \"1.0.0\"\n\
                [[package]]\nname = \"b\"\nversion = \"2.0.0\"\n";
    let err = parse(text).unwrap_err();
    assert!(
        matches!(err, LockfileError::AmbiguousDependency { .. }),
        "{err}"
    );
}

#[test]
fn duplicate_packages_are_refused() {
    let text = "[[package]]\nname = \"a\"\nversion = \"1.0.0\"\n\
                [[package]]\nname = \"a\"\nversion = \"1.0.0\"\n";
    let err = parse(text).unwrap_err();
    assert!(
        err.to_string()
            .contains("`a 1.0.0` is listed more than once"),
        "{err}"
    );
}

#[test]
fn reading_a_missing_file_names_it() {
    let err = Lockfile::read_cargo_lock(Path::new("no/such/Cargo.lock")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to read lockfile `no/such/Cargo.lock`"
    );
}
