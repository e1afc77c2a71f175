//! JUnit reports written by real runners (see `fixtures/junit/README.md`),
//! read with the test stage's parser: every count and every failure.

use std::path::Path;

use gantry_plugin_core::junit::{self, JunitReport, Outcome};

fn read(name: &str) -> JunitReport {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/junit")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    junit::parse(name, &text).unwrap()
}

#[test]
fn pytest_report_counts_failures_errors_and_skips() {
    let report = read("pytest.xml");
    assert_eq!(
        (report.tests, report.failures, report.errors, report.skipped),
        (6, 1, 1, 1)
    );
    assert_eq!(report.passed(), 3);

    let failure = &report.failed[0];
    assert_eq!(failure.outcome, Outcome::Failure);
    assert_eq!(failure.suite, "pytest");
    assert_eq!(failure.classname, "test_contacts");
    assert_eq!(failure.name, "test_normalise_keeps_country_code");
    assert!(
        failure
            .message
            .starts_with("AssertionError: country code must be dropped\n"),
        "{:?}",
        failure.message
    );
    assert!(
        failure
            .details
            .contains("test_contacts.py:13: AssertionError")
    );

    let error = &report.failed[1];
    assert_eq!(error.outcome, Outcome::Error);
    assert_eq!(error.name, "test_lookup_uses_store");
    assert_eq!(
        error.message,
        "failed on setup with \"RuntimeError: store unavailable\""
    );
    assert_eq!(
        report.skipped_cases[0].message,
        "needs the exposure service"
    );
}

#[test]
fn nextest_report_names_the_failed_test_and_its_panic() {
    let report = read("nextest.xml");
    assert_eq!(
        (report.tests, report.failures, report.errors, report.skipped),
        (3, 1, 0, 0)
    );
    let names: Vec<String> = report.failed.iter().map(|c| c.qualified_name()).collect();
    assert_eq!(names, ["exposure::tests::window_is_ten_days"]);
    assert_eq!(report.failed[0].suite, "exposure");
    assert!(
        report.failed[0]
            .message
            .starts_with("thread 'tests::window_is_ten_days'"),
        "{}",
        report.failed[0].message
    );
    assert!(
        report.failed[0]
            .details
            .contains("the window shrank to ten days")
    );
}

#[test]
fn two_runners_combine_into_one_report_with_the_sum_of_their_counts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/junit");
    let texts: Vec<String> = ["pytest.xml", "nextest.xml"]
        .iter()
        .map(|name| std::fs::read_to_string(dir.join(name)).unwrap())
        .collect();
    let mut report = read("pytest.xml");
    report.merge(read("nextest.xml"));
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let combined = junit::parse("junit.xml", &junit::combine(&refs, &report)).unwrap();
    assert_eq!(
        (combined.tests, combined.failures, combined.errors),
        (9, 2, 1)
    );
    assert_eq!(combined.failed.len(), 3);
}
