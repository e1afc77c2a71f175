//! The JUnit reports a test command wrote into the workspace.
//!
//! `junit` in the stage's config is a glob pattern, or a list of them,
//! relative to the workspace (`reports/*.xml`, `target/nextest/ci/junit.xml`).
//! Every pattern must match at least one file: a report that is not where
//! the pipeline says it is means the runner did not write it, or wrote it
//! elsewhere, and a packet without the results would look like a clean run.

use std::fmt;
use std::fs;
use std::path::{Component, Path};

use gantry_plugin_core::junit::{self, JunitReport};
use gantry_plugin_sdk::{ResultExt, StageError, config};
use serde::de::{self, Deserializer, SeqAccess, Visitor};

/// Where the plugin sees the workspace.
pub const WORKSPACE: &str = "/workspace";

/// The config's `junit` value: one pattern or several.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Patterns(pub Vec<String>);

/// What the reports said, and their texts for the combined artifact.
#[derive(Debug)]
pub struct Reports {
    pub report: JunitReport,
    pub texts: Vec<String>,
}

impl Reports {
    /// All reports as one JUnit document.
    pub fn combined(&self) -> String {
        let texts: Vec<&str> = self.texts.iter().map(String::as_str).collect();
        junit::combine(&texts, &self.report)
    }
}

/// Reads every file the patterns match under `workspace`, in pattern
/// order and, within a pattern, in path order; a file matched twice is
/// read once.
///
/// # Errors
///
/// [`StageError::InvalidConfig`] for a pattern that is absolute, climbs out
/// of the workspace or is not a glob; [`StageError::MissingInput`] for a
/// pattern that matches no file, or a file that cannot be read or is not
/// JUnit XML (naming the file and line).
pub fn read_reports(patterns: &Patterns, workspace: &Path) -> Result<Reports, StageError> {
    let mut files: Vec<String> = Vec::new();
    for pattern in &patterns.0 {
        for file in matching_files(pattern, workspace)? {
            if !files.contains(&file) {
                files.push(file);
            }
        }
    }
    let mut report = JunitReport::default();
    let mut texts = Vec::new();
    for file in files {
        let path = workspace.join(&file);
        let text = fs::read_to_string(&path)
            .or_missing_input(|| format!("failed to read the JUnit report `{file}`"))?;
        let parsed = junit::parse(&file, &text)
            .map_err(|error| StageError::MissingInput(format!("invalid JUnit report {error}")))?;
        report.merge(parsed);
        texts.push(text);
    }
    Ok(Reports { report, texts })
}

/// The workspace-relative paths of the files `pattern` matches, sorted.
fn matching_files(pattern: &str, workspace: &Path) -> Result<Vec<String>, StageError> {
    check_pattern(pattern)?;
    let full = format!("{}/{pattern}", workspace.display());
    let paths = glob::glob(&full).map_err(|error| {
        config::invalid(
            "junit",
            format!("`{pattern}` is not a glob pattern: {error}"),
        )
    })?;
    let mut files = Vec::new();
    for path in paths {
        let path = path.or_missing_input(|| format!("failed to search for `{pattern}`"))?;
        if !path.is_file() {
            continue;
        }
        let relative = path.strip_prefix(workspace).unwrap_or(&path);
        files.push(relative.display().to_string());
    }
    if files.is_empty() {
        return Err(StageError::MissingInput(format!(
            "no file in the workspace matches the JUnit pattern `{pattern}`\n\
             hint: check that the test command writes its report there, and that \
             the stage's `read` grant covers it"
        )));
    }
    files.sort();
    Ok(files)
}

fn check_pattern(pattern: &str) -> Result<(), StageError> {
    let path = Path::new(pattern);
    if pattern.is_empty() || path.is_absolute() {
        let problem = format!("`{pattern}` must be a path relative to the workspace");
        return Err(config::invalid("junit", problem));
    }
    if path.components().any(|part| part == Component::ParentDir) {
        let problem = format!("`{pattern}` climbs out of the workspace with `..`");
        return Err(config::invalid("junit", problem));
    }
    Ok(())
}

impl<'de> serde::Deserialize<'de> for Patterns {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(PatternsVisitor)
    }
}

struct PatternsVisitor;

impl<'de> Visitor<'de> for PatternsVisitor {
    type Value = Patterns;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a glob pattern, or a list of them")
    }

    fn visit_str<E: de::Error>(self, pattern: &str) -> Result<Patterns, E> {
        Ok(Patterns(vec![pattern.to_owned()]))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Patterns, A::Error> {
        let mut patterns = Vec::new();
        while let Some(pattern) = seq.next_element::<String>()? {
            patterns.push(pattern);
        }
        if patterns.is_empty() {
            return Err(de::Error::invalid_length(0, &self));
        }
        Ok(Patterns(patterns))
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    const PASSING: &str = r#"<testsuite name="s"><testcase name="a"/></testsuite>"#;
    const FAILING: &str =
        r#"<testsuite name="t"><testcase name="b"><failure message="no"/></testcase></testsuite>"#;

    fn workspace(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("gantry-test-junit-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("reports/nested")).unwrap();
        dir
    }

    fn patterns(list: &[&str]) -> Patterns {
        Patterns(list.iter().map(|p| (*p).to_owned()).collect())
    }

    #[test]
    fn every_matching_file_is_read_once_in_path_order() {
        let dir = workspace("many");
        fs::write(dir.join("reports/b.xml"), FAILING).unwrap();
        fs::write(dir.join("reports/a.xml"), PASSING).unwrap();
        fs::write(dir.join("reports/notes.txt"), "not xml").unwrap();
        let read = read_reports(&patterns(&["reports/*.xml", "reports/a.xml"]), &dir).unwrap();
        assert_eq!(read.report.files, ["reports/a.xml", "reports/b.xml"]);
        assert_eq!((read.report.tests, read.report.failures), (2, 1));
        assert!(read.combined().contains("<testcase name=\"b\">"));
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_pattern_matching_nothing_is_an_error_naming_it() {
        let dir = workspace("none");
        fs::write(dir.join("reports/a.xml"), PASSING).unwrap();
        let error = read_reports(&patterns(&["reports/a.xml", "out/*.xml"]), &dir).unwrap_err();
        let StageError::MissingInput(message) = error else {
            panic!("expected missing-input")
        };
        assert!(
            message.starts_with("no file in the workspace matches the JUnit pattern `out/*.xml`")
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn malformed_report_names_the_file_and_line() {
        let dir = workspace("bad");
        fs::write(
            dir.join("reports/nested/x.xml"),
            "<testsuite>\n<testcase>\n</testsuite>\n",
        )
        .unwrap();
        let error = read_reports(&patterns(&["reports/**/*.xml"]), &dir).unwrap_err();
        let StageError::MissingInput(message) = error else {
            panic!("expected missing-input")
        };
        assert!(
            message.starts_with("invalid JUnit report reports/nested/x.xml:3:"),
            "{message}"
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn patterns_may_not_leave_the_workspace() {
        let dir = workspace("escape");
        for pattern in ["/etc/*.xml", "../x.xml", "reports/../../x.xml"] {
            let error = read_reports(&patterns(&[pattern]), &dir).unwrap_err();
            assert!(
                matches!(error, StageError::InvalidConfig(_)),
                "{pattern}: {error:?}"
            );
        }
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn config_takes_one_pattern_or_a_list() {
        let one: Patterns = serde_json::from_str(r#""a.xml""#).unwrap();
        let two: Patterns = serde_json::from_str(r#"["a.xml", "b/*.xml"]"#).unwrap();
        assert_eq!(one, patterns(&["a.xml"]));
        assert_eq!(two, patterns(&["a.xml", "b/*.xml"]));
        let error = serde_json::from_str::<Patterns>("[]")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("a glob pattern, or a list of them"),
            "{error}"
        );
        assert!(serde_json::from_str::<Patterns>("3").is_err());
    }
}
