//! Reading the results out of `cargo test`'s output.
//!
//! libtest prints one `test result:` line per test binary, and, for each
//! failed test, a `---- <name> stdout ----` header before its captured output
//! and a `test <name> ... FAILED` line while running. Other runners print
//! none of these; their counts stay zero and the exit status decides alone.

use std::collections::BTreeSet;

/// Tests counted over every `test result:` line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TestCounts {
    pub passed: u64,
    pub failed: u64,
    pub ignored: u64,
}

/// Sums the counts of every `test result:` line in `outputs`.
pub fn sum_results(outputs: &[&str]) -> TestCounts {
    let lines = outputs.iter().flat_map(|output| output.lines());
    lines
        .filter_map(parse_result_line)
        .fold(TestCounts::default(), |total, counts| TestCounts {
            passed: total.passed + counts.passed,
            failed: total.failed + counts.failed,
            ignored: total.ignored + counts.ignored,
        })
}

/// Parses `test result: ok. 3 passed; 0 failed; 1 ignored; …`.
fn parse_result_line(line: &str) -> Option<TestCounts> {
    let rest = line.trim().strip_prefix("test result: ")?;
    let (_outcome, counts) = rest.split_once(". ")?;
    let mut result = TestCounts::default();
    for part in counts.split(';') {
        let mut words = part.split_whitespace();
        let (Some(number), Some(label)) = (words.next(), words.next()) else {
            continue;
        };
        let Ok(number) = number.parse::<u64>() else {
            continue;
        };
        match label {
            "passed" => result.passed = number,
            "failed" => result.failed = number,
            "ignored" => result.ignored = number,
            _ => {}
        }
    }
    Some(result)
}

/// The names of failed tests, sorted and without repeats.
pub fn failed_tests(outputs: &[&str]) -> Vec<String> {
    let lines = outputs.iter().flat_map(|output| output.lines());
    let names: BTreeSet<String> = lines
        .filter_map(failed_test_name)
        .map(str::to_owned)
        .collect();
    names.into_iter().collect()
}

/// The name in `---- <name> stdout ----` or `test <name> ... FAILED`.
fn failed_test_name(line: &str) -> Option<&str> {
    let line = line.trim();
    if let Some(header) = line.strip_prefix("---- ") {
        return header
            .strip_suffix(" stdout ----")
            .filter(|name| !name.is_empty());
    }
    let running = line.strip_prefix("test ")?.strip_suffix(" ... FAILED")?;
    Some(running).filter(|name| !name.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CARGO_OUTPUT: &str = "\
running 3 tests
test tests::adds ... ok
test tests::divides ... FAILED
test tests::slow ... ignored

failures:

---- tests::divides stdout ----
thread 'tests::divides' panicked at src/lib.rs:10:5:
attempt to divide by zero

failures:
    tests::divides

test result: FAILED. 1 passed; 1 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s

running 2 tests
test it_works ... ok
test it_still_works ... ok

test result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s
";

    #[test]
    fn counts_are_summed_over_every_result_line() {
        let counts = sum_results(&[CARGO_OUTPUT]);
        assert_eq!(
            counts,
            TestCounts {
                passed: 3,
                failed: 1,
                ignored: 1
            }
        );
    }

    #[test]
    fn failed_tests_are_named_once() {
        assert_eq!(failed_tests(&[CARGO_OUTPUT]), ["tests::divides"]);
    }

    #[test]
    fn output_without_result_lines_counts_nothing() {
        let counts = sum_results(&["error[E0425]: cannot find value `x`", ""]);
        assert_eq!(counts, TestCounts::default());
        assert!(failed_tests(&["test result: garbled"]).is_empty());
    }

    #[test]
    fn doc_test_names_with_spaces_are_kept_whole() {
        let line = "test src/lib.rs - add (line 3) ... FAILED";
        assert_eq!(failed_tests(&[line]), ["src/lib.rs - add (line 3)"]);
    }
}
