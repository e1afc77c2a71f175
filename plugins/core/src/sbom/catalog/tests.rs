//! Merging inventories: references, scopes, graphs and the application.

use super::*;

fn inventory(path: &str, packages: Vec<Package>, roots: Vec<usize>, has_graph: bool) -> Inventory {
    Inventory {
        packages,
        roots,
        has_graph,
        ..Inventory::new(path, "test", path.as_bytes())
    }
}

fn local(ecosystem: Ecosystem, name: &str, version: &str) -> Package {
    Package {
        origin: Origin::Local { path: None },
        ..Package::new(ecosystem, name, version)
    }
}

fn with_deps(mut package: Package, dependencies: Vec<usize>) -> Package {
    package.dependencies = dependencies;
    package
}

fn scoped(mut package: Package, scope: Option<Scope>) -> Package {
    package.scope = scope;
    package
}

#[test]
fn the_same_name_and_version_from_two_ecosystems_are_two_entries() {
    let cargo = Package::new(Ecosystem::CratesIo, "left-pad", "1.0.0");
    let npm = Package::new(Ecosystem::Npm, "left-pad", "1.0.0");
    let catalog = Catalog::build(
        &[inventory("a", vec![cargo, npm], Vec::new(), false)],
        "workspace",
    );
    let refs: Vec<&str> = catalog.entries.keys().map(String::as_str).collect();
    assert_eq!(refs, ["pkg:cargo/left-pad@1.0.0", "pkg:npm/left-pad@1.0.0"]);
}

#[test]
fn local_and_published_packages_of_one_name_are_two_entries() {
    let published = Package::new(Ecosystem::Npm, "@acme/web", "1.0.0");
    let project = local(Ecosystem::Npm, "@acme/web", "1.0.0");
    let git = Package {
        origin: Origin::Vcs {
            url: "https://example.com/acme/web".into(),
            commit: Some("abc".into()),
        },
        ..Package::new(Ecosystem::Npm, "@acme/web", "1.0.0")
    };
    let catalog = Catalog::build(
        &[inventory(
            "a",
            vec![published, project, git],
            Vec::new(),
            false,
        )],
        "workspace",
    );
    let refs: BTreeSet<&str> = catalog.references().collect();
    assert_eq!(refs.len(), 4, "{refs:?}");
    assert!(refs.contains("local:npm/%40acme/web@1.0.0"), "{refs:?}");
    assert!(refs.contains("local:workspace"), "{refs:?}");
}

#[test]
fn one_package_from_two_lockfiles_is_one_entry_with_both_paths() {
    let first = inventory(
        "b/requirements.txt",
        vec![Package::new(Ecosystem::PyPi, "PyYAML", "6.0.1")],
        Vec::new(),
        false,
    );
    let second = inventory(
        "a/poetry.lock",
        vec![Package::new(Ecosystem::PyPi, "pyyaml", "6.0.1")],
        Vec::new(),
        true,
    );
    let catalog = Catalog::build(&[first, second], "workspace");
    assert_eq!(catalog.entries.len(), 1);
    let entry = &catalog.entries["pkg:pypi/pyyaml@6.0.1"];
    assert_eq!(entry.name, "pyyaml", "the first lockfile by path names it");
    let paths: Vec<&str> = entry.lockfiles.iter().map(String::as_str).collect();
    assert_eq!(paths, ["a/poetry.lock", "b/requirements.txt"]);
    assert_eq!(
        entry.depends_on,
        Some(BTreeSet::new()),
        "poetry.lock has a graph"
    );
}

#[test]
fn merged_scopes_keep_the_most_needed() {
    let cases = [
        (Some(Scope::Dev), Some(Scope::Runtime), Some(Scope::Runtime)),
        (Some(Scope::Dev), None, None),
        (
            Some(Scope::Dev),
            Some(Scope::Optional),
            Some(Scope::Optional),
        ),
        (Some(Scope::Dev), Some(Scope::Dev), Some(Scope::Dev)),
    ];
    for (a, b, merged) in cases {
        let inventories = [
            inventory(
                "a",
                vec![scoped(Package::new(Ecosystem::Npm, "x", "1.0.0"), a)],
                Vec::new(),
                false,
            ),
            inventory(
                "b",
                vec![scoped(Package::new(Ecosystem::Npm, "x", "1.0.0"), b)],
                Vec::new(),
                false,
            ),
        ];
        let catalog = Catalog::build(&inventories, "workspace");
        assert_eq!(
            catalog.entries["pkg:npm/x@1.0.0"].scope, merged,
            "{a:?} + {b:?}"
        );
    }
}

#[test]
fn packages_of_lockfiles_without_a_graph_have_unknown_dependencies() {
    let flat = inventory(
        "requirements.txt",
        vec![
            Package::new(Ecosystem::PyPi, "flask", "3.0.3"),
            Package::new(Ecosystem::PyPi, "jinja2", "3.1.4"),
        ],
        Vec::new(),
        false,
    );
    let catalog = Catalog::build(&[flat], "service");
    assert!(
        catalog
            .entries
            .values()
            .all(|entry| entry.depends_on.is_none())
    );
    let Application::Named { depends_on, .. } = &catalog.application else {
        panic!("expected a named application");
    };
    assert_eq!(
        depends_on.len(),
        2,
        "every package is a top: {depends_on:?}"
    );
}

#[test]
fn a_root_without_a_graph_depends_on_everything_its_lockfile_installs() {
    let flat = inventory(
        "requirements.txt",
        vec![
            local(Ecosystem::PyPi, "service", "0.1.0"),
            Package::new(Ecosystem::PyPi, "flask", "3.0.3"),
        ],
        vec![0],
        false,
    );
    let catalog = Catalog::build(&[flat], "workspace");
    let Application::Package(app) = &catalog.application else {
        panic!("the local root is the application");
    };
    assert_eq!(app.name, "service");
    let deps: Vec<&str> = app
        .depends_on
        .iter()
        .flatten()
        .map(String::as_str)
        .collect();
    assert_eq!(deps, ["pkg:pypi/flask@3.0.3"]);
    assert_eq!(catalog.entries["pkg:pypi/flask@3.0.3"].depends_on, None);
}

#[test]
fn a_single_published_top_is_not_taken_for_the_application() {
    let graph = inventory(
        "pnpm-lock.yaml",
        vec![
            with_deps(Package::new(Ecosystem::Npm, "a", "1.0.0"), vec![1]),
            Package::new(Ecosystem::Npm, "b", "1.0.0"),
        ],
        Vec::new(),
        true,
    );
    let catalog = Catalog::build(&[graph], "workspace");
    assert_eq!(catalog.application.name(), "workspace");
    let tops: Vec<String> = catalog.application.depends_on().into_iter().collect();
    assert_eq!(tops, ["pkg:npm/a@1.0.0"]);
    assert_eq!(catalog.entries.len(), 2);
}

#[test]
fn two_lockfiles_with_a_root_each_hang_under_the_named_application() {
    let cargo = inventory(
        "Cargo.lock",
        vec![
            with_deps(local(Ecosystem::CratesIo, "api", "0.1.0"), vec![1]),
            Package::new(Ecosystem::CratesIo, "serde", "1.0.0"),
        ],
        vec![0],
        true,
    );
    let npm = inventory(
        "web/package-lock.json",
        vec![local(Ecosystem::Npm, "web", "0.1.0")],
        vec![0],
        true,
    );
    let catalog = Catalog::build(&[npm.clone(), cargo.clone()], "my app");
    assert_eq!(catalog.application.reference(), "local:my%20app");
    let tops: Vec<String> = catalog.application.depends_on().into_iter().collect();
    assert_eq!(tops, ["local:cargo/api@0.1.0", "local:npm/web@0.1.0"]);
    assert_eq!(Catalog::build(&[cargo, npm], "my app"), catalog);
}

#[test]
fn self_edges_from_merged_duplicates_are_dropped() {
    let nested = inventory(
        "package-lock.json",
        vec![
            with_deps(Package::new(Ecosystem::Npm, "a", "1.0.0"), vec![1]),
            Package::new(Ecosystem::Npm, "a", "1.0.0"),
        ],
        Vec::new(),
        true,
    );
    let catalog = Catalog::build(&[nested], "workspace");
    assert_eq!(
        catalog.entries["pkg:npm/a@1.0.0"].depends_on,
        Some(BTreeSet::new())
    );
}

#[test]
fn the_digest_follows_paths_and_contents_not_order() {
    let a = inventory("a", Vec::new(), Vec::new(), false);
    let b = inventory("b", Vec::new(), Vec::new(), false);
    let one = Catalog::build(&[a.clone(), b.clone()], "w").digest;
    assert_eq!(one, Catalog::build(&[b.clone(), a.clone()], "w").digest);
    let renamed = inventory("c", Vec::new(), Vec::new(), false);
    assert_ne!(one, Catalog::build(&[a, renamed], "w").digest);
}
