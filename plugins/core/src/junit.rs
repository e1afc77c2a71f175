//! JUnit XML test reports: the results a test runner wrote, read into
//! totals and the list of tests that did not pass.
//!
//! There is no one JUnit schema; runners agree on the shape read here:
//! a `<testsuites>` root holding `<testsuite>` elements (which may nest),
//! or a lone `<testsuite>` root, each suite holding `<testcase>` elements.
//! A case with a `<failure>` child failed, one with an `<error>` child
//! errored, one with a `<skipped>` child was skipped, and any other passed.
//! The counts come from these elements, not from the `tests`, `failures`
//! or `errors` attributes, which some runners leave out and others fill
//! from their own view of the run (nextest, for one, leaves ignored tests
//! out of its counts).
//!
//! [`combine`] joins several reports into one document, the `junit.xml`
//! artifact of the test stage.

use std::fmt::Write;

use roxmltree::{Document, Node, ParsingOptions};
use serde::{Deserialize, Serialize};

/// How much of a failure's text (a stack trace, usually) is kept.
pub const DETAILS_BYTES: usize = 4 * 1024;

/// A JUnit file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}:{column}: {message}")]
pub struct JunitError {
    /// The file, as the caller named it.
    pub path: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
}

/// What one or more JUnit files say about a test run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct JunitReport {
    /// The files read, in order.
    pub files: Vec<String>,
    pub tests: u64,
    pub failures: u64,
    pub errors: u64,
    pub skipped: u64,
    /// Seconds, the sum of the cases' `time` attributes.
    pub time: f64,
    /// Every case that failed or errored, in file order.
    pub failed: Vec<CaseResult>,
    /// Every skipped case, in file order.
    #[serde(default)]
    pub skipped_cases: Vec<CaseResult>,
}

/// How a test case that did not pass ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// An assertion failed (`<failure>`).
    Failure,
    /// The test could not run to its assertions (`<error>`).
    Error,
    /// The runner did not run it (`<skipped>`).
    Skipped,
}

/// One test case that did not pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct CaseResult {
    pub outcome: Outcome,
    /// The innermost `<testsuite>`'s `name`.
    pub suite: String,
    pub name: String,
    pub classname: String,
    /// The `message` attribute, else the first line of the element's text.
    pub message: String,
    /// The element's text, cut to [`DETAILS_BYTES`].
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub details: String,
}

impl CaseResult {
    /// `classname::name`, or the name alone when there is no class.
    pub fn qualified_name(&self) -> String {
        if self.classname.is_empty() {
            self.name.clone()
        } else {
            format!("{}::{}", self.classname, self.name)
        }
    }
}

impl JunitReport {
    /// Cases that ran and neither failed nor errored.
    pub fn passed(&self) -> u64 {
        self.tests - self.failures - self.errors - self.skipped
    }

    /// Adds `other`'s files, counts and cases to these.
    pub fn merge(&mut self, other: JunitReport) {
        self.files.extend(other.files);
        self.tests += other.tests;
        self.failures += other.failures;
        self.errors += other.errors;
        self.skipped += other.skipped;
        self.time += other.time;
        self.failed.extend(other.failed);
        self.skipped_cases.extend(other.skipped_cases);
    }
}

/// Parses the JUnit document `text`, read from `path`.
///
/// # Errors
///
/// Returns a [`JunitError`] naming `path`, the line and the column when
/// the text is not well-formed XML (a DTD counts as malformed: JUnit needs
/// none, and entity expansion is a way to exhaust memory), when the root
/// is neither `<testsuites>` nor `<testsuite>`, or when a `time`
/// attribute is not a number.
pub fn parse(path: &str, text: &str) -> Result<JunitReport, JunitError> {
    let document = Document::parse_with_options(text, ParsingOptions::default())
        .map_err(|error| xml_error(path, &error))?;
    let root = document.root_element();
    let mut report = JunitReport {
        files: vec![path.to_owned()],
        ..JunitReport::default()
    };
    let reader = Reader {
        path,
        document: &document,
    };
    match root.tag_name().name() {
        "testsuites" => reader.read_children(root, "", &mut report)?,
        "testsuite" => reader.read_suite(root, &mut report)?,
        other => {
            let message = format!(
                "expected a `<testsuites>` or `<testsuite>` root element, found `<{other}>`"
            );
            return Err(reader.error_at(root, message));
        }
    }
    Ok(report)
}

/// Joins the documents `texts` (each already accepted by [`parse`]) under
/// one `<testsuites>` root whose attributes are `report`'s totals.
///
/// Each input's suites are copied as written, so nothing a runner recorded
/// is lost; a document that does not parse contributes nothing.
pub fn combine(texts: &[&str], report: &JunitReport) -> String {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
        report.tests, report.failures, report.errors, report.skipped, report.time
    );
    for text in texts {
        let Ok(document) = Document::parse(text) else {
            continue;
        };
        let root = document.root_element();
        let suites: Vec<Node> = if root.has_tag_name("testsuites") {
            root.children().filter(Node::is_element).collect()
        } else {
            vec![root]
        };
        for suite in suites {
            xml.push_str(&text[suite.range()]);
            xml.push('\n');
        }
    }
    xml.push_str("</testsuites>\n");
    xml
}

/// Walks one document, keeping its path for error messages.
struct Reader<'a, 'input> {
    path: &'a str,
    document: &'a Document<'input>,
}

impl Reader<'_, '_> {
    fn read_suite(&self, suite: Node, report: &mut JunitReport) -> Result<(), JunitError> {
        let name = suite.attribute("name").unwrap_or_default();
        self.read_children(suite, name, report)
    }

    /// Reads the suites and cases directly under `parent`, whose cases
    /// belong to the suite called `suite`.
    fn read_children(
        &self,
        parent: Node,
        suite: &str,
        report: &mut JunitReport,
    ) -> Result<(), JunitError> {
        for child in parent.children().filter(Node::is_element) {
            match child.tag_name().name() {
                "testsuite" => self.read_suite(child, report)?,
                "testcase" => self.read_case(child, suite, report)?,
                // `properties`, `system-out` and the like say nothing
                // about results.
                _ => {}
            }
        }
        Ok(())
    }

    fn read_case(
        &self,
        case: Node,
        suite: &str,
        report: &mut JunitReport,
    ) -> Result<(), JunitError> {
        report.tests += 1;
        report.time += self.seconds(case)?;
        let Some((outcome, element)) = case_outcome(case) else {
            return Ok(());
        };
        let result = CaseResult {
            outcome,
            suite: suite.to_owned(),
            name: case.attribute("name").unwrap_or_default().to_owned(),
            classname: case.attribute("classname").unwrap_or_default().to_owned(),
            message: message_of(element),
            details: details_of(element),
        };
        match outcome {
            Outcome::Failure => report.failures += 1,
            Outcome::Error => report.errors += 1,
            Outcome::Skipped => report.skipped += 1,
        }
        match outcome {
            Outcome::Skipped => report.skipped_cases.push(result),
            Outcome::Failure | Outcome::Error => report.failed.push(result),
        }
        Ok(())
    }

    /// The case's `time` in seconds; 0 when the runner wrote none.
    fn seconds(&self, case: Node) -> Result<f64, JunitError> {
        let Some(time) = case.attribute("time") else {
            return Ok(0.0);
        };
        // Some runners write thousands separators ("1,234.5").
        let cleaned = time.trim().replace(',', "");
        match cleaned.parse::<f64>() {
            Ok(seconds) if seconds.is_finite() && seconds >= 0.0 => Ok(seconds),
            _ => {
                let message =
                    format!("`<testcase>` has a `time` of `{time}`, not a number of seconds");
                Err(self.error_at(case, message))
            }
        }
    }

    fn error_at(&self, node: Node, message: String) -> JunitError {
        let position = self.document.text_pos_at(node.range().start);
        JunitError {
            path: self.path.to_owned(),
            line: position.row,
            column: position.col,
            message,
        }
    }
}

/// The first `failure`, `error` or `skipped` child decides; a failure
/// outranks an error, which outranks a skip, when a runner writes several.
fn case_outcome<'a, 'input>(case: Node<'a, 'input>) -> Option<(Outcome, Node<'a, 'input>)> {
    let find = |tag: &str| case.children().find(|child| child.has_tag_name(tag));
    find("failure")
        .map(|node| (Outcome::Failure, node))
        .or_else(|| find("error").map(|node| (Outcome::Error, node)))
        .or_else(|| find("skipped").map(|node| (Outcome::Skipped, node)))
}

fn message_of(element: Node) -> String {
    if let Some(message) = element.attribute("message") {
        return message.to_owned();
    }
    let text = element.text().unwrap_or_default();
    text.lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or_default()
        .to_owned()
}

fn details_of(element: Node) -> String {
    let text: String = element
        .descendants()
        .filter(Node::is_text)
        .filter_map(|node| node.text())
        .collect();
    let text = text.trim();
    if text.len() <= DETAILS_BYTES {
        return text.to_owned();
    }
    let mut end = DETAILS_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

fn xml_error(path: &str, error: &roxmltree::Error) -> JunitError {
    let position = error.pos();
    // roxmltree's message ends with its own " at line:column".
    let message = error.to_string();
    let suffix = format!(" at {}:{}", position.row, position.col);
    let message = message.strip_suffix(&suffix).unwrap_or(&message);
    JunitError {
        path: path.to_owned(),
        line: position.row,
        column: position.col,
        message: format!("not well-formed XML: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NESTED: &str = r#"<?xml version="1.0"?>
<testsuites tests="99">
  <testsuite name="outer">
    <testcase name="a" classname="pkg.A" time="0.5"/>
    <testsuite name="inner">
      <testcase name="b" classname="pkg.B" time="1,000.25">
        <failure>expected 1
got 2</failure>
      </testcase>
      <testcase name="c"><error message="boom" type="Panic"/></testcase>
    </testsuite>
    <testcase name="d"><skipped/></testcase>
  </testsuite>
</testsuites>"#;

    #[test]
    fn counts_come_from_the_elements_not_the_attributes() {
        let report = parse("nested.xml", NESTED).unwrap();
        assert_eq!(
            (report.tests, report.failures, report.errors, report.skipped),
            (4, 1, 1, 1)
        );
        assert_eq!(report.passed(), 1);
        assert!((report.time - 1000.75).abs() < 1e-9, "{}", report.time);
    }

    #[test]
    fn nested_cases_carry_their_innermost_suite() {
        let report = parse("nested.xml", NESTED).unwrap();
        let failed: Vec<(&str, &str, &str)> = report
            .failed
            .iter()
            .map(|case| {
                (
                    case.suite.as_str(),
                    case.name.as_str(),
                    case.message.as_str(),
                )
            })
            .collect();
        assert_eq!(
            failed,
            [("inner", "b", "expected 1"), ("inner", "c", "boom")]
        );
        assert_eq!(report.failed[0].details, "expected 1\ngot 2");
        assert_eq!(report.failed[0].qualified_name(), "pkg.B::b");
        assert_eq!(report.failed[1].qualified_name(), "c");
        assert_eq!(report.skipped_cases[0].suite, "outer");
    }

    #[test]
    fn a_lone_testsuite_root_is_read() {
        let text = r#"<testsuite name="s"><testcase name="x"/></testsuite>"#;
        let report = parse("one.xml", text).unwrap();
        assert_eq!((report.tests, report.failures), (1, 0));
    }

    #[test]
    fn malformed_xml_names_the_file_and_line() {
        let text =
            "<testsuites>\n  <testsuite name=\"s\">\n    <testcase name=\"x\">\n  </testsuite>";
        let error = parse("reports/bad.xml", text).unwrap_err();
        assert_eq!((error.path.as_str(), error.line), ("reports/bad.xml", 4));
        let shown = error.to_string();
        assert!(shown.starts_with("reports/bad.xml:4:"), "{shown}");
        assert!(shown.contains("not well-formed XML"), "{shown}");
    }

    #[test]
    fn a_dtd_is_refused() {
        let text = "<!DOCTYPE x [<!ENTITY a \"aaaa\">]>\n<testsuites/>";
        let error = parse("dtd.xml", text).unwrap_err();
        assert_eq!(error.line, 1, "{error}");
    }

    #[test]
    fn another_root_element_is_an_error() {
        let error = parse("r.xml", "<?xml version=\"1.0\"?>\n<report/>").unwrap_err();
        assert_eq!(
            error.to_string(),
            "r.xml:2:1: expected a `<testsuites>` or `<testsuite>` root element, found `<report>`"
        );
    }

    #[test]
    fn a_time_that_is_not_a_number_names_the_case() {
        let text = "<testsuite>\n<testcase name=\"x\" time=\"soon\"/>\n</testsuite>";
        let error = parse("t.xml", text).unwrap_err();
        assert_eq!(error.line, 2);
        assert!(error.message.contains("`soon`"), "{error}");
    }

    #[test]
    fn combined_document_keeps_every_suite_and_parses_to_the_same_totals() {
        let lone = r#"<testsuite name="s"><testcase name="x"><failure message="m"/></testcase></testsuite>"#;
        let mut report = parse("a.xml", NESTED).unwrap();
        report.merge(parse("b.xml", lone).unwrap());
        let combined = combine(&[NESTED, lone], &report);
        let again = parse("junit.xml", &combined).unwrap();
        assert_eq!(
            (again.tests, again.failures, again.errors, again.skipped),
            (5, 2, 1, 1)
        );
        assert!(combined.contains("<testsuites tests=\"5\" failures=\"2\""));
    }
}
