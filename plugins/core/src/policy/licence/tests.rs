use super::*;
use crate::package::{Origin, Package};

fn rules(allow: Option<&[&str]>, deny: &[&str]) -> LicenceRules {
    LicenceRules {
        allow: allow.map(|ids| ids.iter().map(|id| (*id).to_owned()).collect()),
        deny: deny.iter().map(|id| (*id).to_owned()).collect(),
        unknown: UnknownLicences::Warn,
    }
}

fn is_denied(evaluation: &Evaluation) -> bool {
    matches!(evaluation, Evaluation::Denied(_))
}

#[test]
fn an_or_is_allowed_when_either_side_is() {
    let policy = rules(Some(&["MIT"]), &["GPL-3.0-only"]);
    assert_eq!(policy.evaluate("MIT OR GPL-3.0-only"), Evaluation::Allowed);
    assert_eq!(policy.evaluate("Apache-2.0/MIT"), Evaluation::Allowed);
    assert!(is_denied(&policy.evaluate("Apache-2.0 OR BSD-3-Clause")));
}

#[test]
fn an_and_needs_every_licence_allowed() {
    let policy = rules(Some(&["MIT", "Apache-2.0"]), &[]);
    let unicode = "(MIT OR Apache-2.0) AND Unicode-3.0";
    let Evaluation::Denied(why) = policy.evaluate(unicode) else {
        panic!("expected denied");
    };
    assert!(why.contains("`Unicode-3.0`"), "{why}");
    assert!(!why.contains("`MIT`"), "{why}");
    let with_unicode = rules(Some(&["MIT", "Apache-2.0", "Unicode-3.0"]), &[]);
    assert_eq!(with_unicode.evaluate(unicode), Evaluation::Allowed);
}

#[test]
fn denied_only_when_every_way_takes_a_denied_licence() {
    let policy = rules(None, &["GPL-3.0-only"]);
    let Evaluation::Denied(why) = policy.evaluate("MIT AND GPL-3.0-only") else {
        panic!("expected denied");
    };
    assert_eq!(why, "requires `GPL-3.0-only`, which the policy denies");
    assert!(is_denied(&policy.evaluate("GPL-3.0-only")));
    assert_eq!(policy.evaluate("MIT OR GPL-3.0-only"), Evaluation::Allowed);
    assert_eq!(policy.evaluate("GPL-2.0-only"), Evaluation::Allowed);
}

#[test]
fn deprecated_gnu_ids_and_exceptions_count_as_their_licence() {
    let policy = rules(None, &["GPL-2.0-only"]);
    assert!(is_denied(&policy.evaluate("GPL-2.0")));
    assert!(is_denied(
        &policy.evaluate("GPL-2.0-only WITH Classpath-exception-2.0")
    ));
    assert_eq!(policy.evaluate("GPL-2.0+"), Evaluation::Allowed);
    let llvm = rules(Some(&["Apache-2.0"]), &[]);
    assert_eq!(
        llvm.evaluate("Apache-2.0 WITH LLVM-exception"),
        Evaluation::Allowed
    );
}

#[test]
fn a_licence_ref_is_never_allowed_by_a_list() {
    let policy = rules(Some(&["MIT"]), &["GPL-3.0-only"]);
    assert!(is_denied(&policy.evaluate("LicenseRef-Proprietary")));
    assert_eq!(
        policy.evaluate("MIT OR LicenseRef-Proprietary"),
        Evaluation::Allowed
    );
    let deny_only = rules(None, &["GPL-3.0-only"]);
    assert_eq!(
        deny_only.evaluate("LicenseRef-Proprietary"),
        Evaluation::Allowed
    );
}

#[test]
fn text_that_is_not_spdx_is_unknown() {
    let policy = rules(None, &[]);
    let Evaluation::Unknown(why) = policy.evaluate("Some Custom License") else {
        panic!("expected unknown");
    };
    assert!(
        why.starts_with("`Some Custom License` is not an SPDX expression"),
        "{why}"
    );
    assert!(matches!(policy.evaluate("MIT OR"), Evaluation::Unknown(_)));
}

#[test]
fn policy_ids_must_be_listed_and_exact() {
    assert_eq!(
        rules(Some(&["MIT", "Unicode-3.0"]), &["AGPL-3.0-only"]).check(),
        Ok(())
    );
    let err = rules(Some(&["mit"]), &[]).check().unwrap_err();
    assert_eq!(
        err,
        "`allow`: `mit` is not an SPDX licence id; did you mean `MIT`?"
    );
    let err = rules(None, &["Apache 2"]).check().unwrap_err();
    assert!(err.starts_with("`deny`: `Apache 2` is not"), "{err}");
    let err = rules(None, &["MIT+"]).check().unwrap_err();
    assert!(err.contains("did you mean `MIT`"), "{err}");
    let err = rules(Some(&["MIT"]), &["MIT"]).check().unwrap_err();
    assert!(err.contains("both allowed and denied"), "{err}");
    assert!(rules(Some(&[]), &[]).check().unwrap_err().contains("empty"));
    let err = rules(None, &["GPL-2.0"]).check().unwrap_err();
    assert!(
        err.contains("write `GPL-2.0-only` or `GPL-2.0-or-later`"),
        "{err}"
    );
}

fn inventory(packages: Vec<Package>) -> Inventory {
    let mut inventory = Inventory::new("Cargo.lock", "Cargo.lock v4", b"");
    inventory.packages = packages;
    inventory
}

#[test]
fn facts_come_from_the_lockfile_then_cargo_metadata() {
    let metadata = r#"{"version": 1, "packages": [
        {"name": "time", "version": "0.1.45", "license": "MIT/Apache-2.0",
         "license_file": null, "source": "registry+x"},
        {"name": "odd", "version": "1.0.0", "license": null,
         "license_file": "COPYING", "source": "registry+x"}]}"#;
    let cargo = CargoLicences::parse(metadata).unwrap();
    let mut stated = Package::new(Ecosystem::CratesIo, "stated", "1.0.0");
    stated.licence = Some("MIT".into());
    let mut app = Package::new(Ecosystem::CratesIo, "app", "0.1.0");
    app.origin = Origin::Local { path: None };
    let packages = vec![
        Package::new(Ecosystem::CratesIo, "time", "0.1.45"),
        Package::new(Ecosystem::CratesIo, "odd", "1.0.0"),
        Package::new(Ecosystem::CratesIo, "winapi", "0.3.9"),
        stated,
        app,
    ];
    let facts = gather_facts(
        &[inventory(packages.clone()), inventory(packages)],
        Some(&cargo),
    );
    let names: Vec<&str> = facts.iter().map(|f| f.package.as_str()).collect();
    assert_eq!(
        names,
        ["odd@1.0.0", "stated@1.0.0", "time@0.1.45", "winapi@0.3.9"]
    );
    assert!(matches!(&facts[0].fact, LicenceFact::Missing(why) if why.contains("`COPYING`")));
    assert!(matches!(
        &facts[1].fact,
        LicenceFact::Stated {
            source: "lockfile",
            ..
        }
    ));
    assert!(matches!(
        &facts[2].fact,
        LicenceFact::Stated {
            source: "cargo-metadata",
            ..
        }
    ));
    assert!(matches!(&facts[3].fact, LicenceFact::NotBuilt(_)));

    let without = gather_facts(
        &[inventory(vec![Package::new(
            Ecosystem::CratesIo,
            "time",
            "0.1.45",
        )])],
        None,
    );
    assert!(
        matches!(&without[0].fact, LicenceFact::Missing(why) if why.contains("cargo-metadata.json"))
    );
}

#[test]
fn the_report_fails_denied_packages_and_unknown_ones_only_when_asked() {
    let fact = |package: &str, fact: LicenceFact| PackageFacts {
        ecosystem: Ecosystem::Npm,
        package: package.into(),
        fact,
    };
    let stated = |expression: &str| LicenceFact::Stated {
        expression: expression.into(),
        source: "lockfile",
    };
    let facts = vec![
        fact("ok@1.0.0", stated("MIT")),
        fact("gpl@1.0.0", stated("GPL-3.0-only")),
        fact("none@1.0.0", LicenceFact::Missing("no licence".into())),
        fact("junk@1.0.0", stated("see LICENSE")),
    ];
    let mut policy = rules(Some(&["MIT"]), &["GPL-3.0-only"]);
    let report = check(&policy, facts.clone());
    assert_eq!(report.counts.allowed, 1);
    assert_eq!(report.counts.denied, 1);
    assert_eq!(report.counts.unknown, 2);
    let failing: Vec<&str> = report.failing().map(|p| p.package.as_str()).collect();
    assert_eq!(failing, ["gpl@1.0.0"]);
    assert_eq!(report.warnings().count(), 2);

    policy.unknown = UnknownLicences::Fail;
    let strict = check(&policy, facts);
    assert_eq!(strict.failing().count(), 3);
    assert_eq!(strict.warnings().count(), 0);
    let json = serde_json::to_value(&strict.packages[1]).unwrap();
    assert_eq!(json["status"], "denied");
    assert_eq!(json["source"], "lockfile");
}
