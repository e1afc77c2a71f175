//! Checking the whole chain of an audit log.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use serde::Serialize;

use super::{AuditError, CHAIN_START, check_line};

/// What [`verify`] found in an intact log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VerifySummary {
    /// The number of lines (events) in the log.
    pub lines: u64,
    /// The hash of the last line, [`CHAIN_START`] for an empty log. Compare
    /// it with a head recorded elsewhere to detect lines cut from the end.
    pub head: String,
}

/// Checks the whole chain of the log at `path`: every line is a complete,
/// canonical JSON object, `seq` runs 1, 2, 3…, each `prev` is the hash of
/// the line before, and each `hash` recomputes from its line.
///
/// The file is read as a stream, one line at a time.
///
/// # Errors
///
/// [`AuditError::Broken`] naming the first bad line (counting from 1) and
/// what is wrong with it, for example "hash does not match its contents",
/// "prev does not match line 2's hash" or "seq is 9, expected 4";
/// [`AuditError::Io`] when the file cannot be opened or read.
pub fn verify(path: &Path) -> Result<VerifySummary, AuditError> {
    let file = File::open(path).map_err(|e| AuditError::io("open", path, e))?;
    let mut reader = BufReader::new(file);
    let mut summary = VerifySummary {
        lines: 0,
        head: CHAIN_START.to_owned(),
    };
    let mut raw = Vec::new();
    loop {
        raw.clear();
        let read = reader
            .read_until(b'\n', &mut raw)
            .map_err(|e| AuditError::io("read", path, e))?;
        if read == 0 {
            return Ok(summary);
        }
        let number = summary.lines + 1;
        let hash =
            check_link(&raw, number, &summary.head).map_err(|problem| AuditError::Broken {
                path: path.to_path_buf(),
                line: number,
                problem,
            })?;
        summary.lines = number;
        summary.head = hash;
    }
}

/// Checks line `number` (`raw`, with its newline) on its own and against
/// the hash of the line before; returns its hash.
fn check_link(raw: &[u8], number: u64, prev_hash: &str) -> Result<String, String> {
    let Some(line) = raw.strip_suffix(b"\n") else {
        return Err("ends without a newline (a torn or truncated write)".to_owned());
    };
    let link = check_line(line)?;
    if link.seq != number {
        return Err(format!("seq is {}, expected {number}", link.seq));
    }
    if link.prev != prev_hash {
        return Err(match number {
            1 => "prev is not 64 zeros, as the first line's must be".to_owned(),
            _ => format!("prev does not match line {}'s hash", number - 1),
        });
    }
    Ok(link.hash)
}

#[cfg(test)]
mod tests {
    use super::super::{AuditLog, canonical_json};
    use super::*;
    use serde_json::{Value, json};
    use sha2::{Digest, Sha256};
    use std::fs;
    use std::path::PathBuf;

    /// A log of `events` events in a fresh directory.
    fn sample_log(events: usize) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let mut log = AuditLog::open(&path).unwrap();
        for index in 0..events {
            let fields = json!({"stage": format!("s{index}"), "grants": {"read": ["."]}});
            log.append("20261203-134501-0a9f3c", "stage-start", fields)
                .unwrap();
        }
        (dir, path)
    }

    fn lines_of(path: &Path) -> Vec<String> {
        fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn write_lines(path: &Path, lines: &[String]) {
        let text: String = lines.iter().map(|line| format!("{line}\n")).collect();
        fs::write(path, text).unwrap();
    }

    /// Rewrites line `index` (0-based) with `edit` applied, re-hashing it as
    /// a forger who knows the format would.
    fn forge_line(path: &Path, index: usize, edit: impl FnOnce(&mut Value)) {
        let mut lines = lines_of(path);
        let mut entry: Value = serde_json::from_str(&lines[index]).unwrap();
        edit(&mut entry);
        let object = entry.as_object_mut().unwrap();
        object.remove("hash");
        let hash = hex::encode(Sha256::digest(canonical_json(&entry).as_bytes()));
        entry["hash"] = json!(hash);
        lines[index] = canonical_json(&entry);
        write_lines(path, &lines);
    }

    fn broken_at(path: &Path) -> (u64, String) {
        match verify(path) {
            Err(AuditError::Broken { line, problem, .. }) => (line, problem),
            other => panic!("expected a broken chain, got {other:?}"),
        }
    }

    #[test]
    fn an_intact_log_verifies_with_its_length_and_head() {
        let (_dir, path) = sample_log(4);
        let head = AuditLog::open(&path).unwrap().head().to_owned();
        let summary = verify(&path).unwrap();
        assert_eq!(summary, VerifySummary { lines: 4, head });
    }

    #[test]
    fn an_empty_log_verifies_with_the_chain_start_as_head() {
        let (_dir, path) = sample_log(0);
        let summary = verify(&path).unwrap();
        assert_eq!((summary.lines, summary.head.as_str()), (0, CHAIN_START));
    }

    #[test]
    fn a_missing_log_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = verify(&dir.path().join("absent.jsonl")).unwrap_err();
        assert!(matches!(err, AuditError::Io { .. }), "{err}");
    }

    #[test]
    fn every_single_changed_byte_is_detected() {
        let (_dir, path) = sample_log(3);
        let original = fs::read(&path).unwrap();
        for index in 0..original.len() {
            let mut tampered = original.clone();
            tampered[index] ^= 0x01;
            fs::write(&path, &tampered).unwrap();
            assert!(
                verify(&path).is_err(),
                "flipping byte {index} went unnoticed"
            );
        }
    }

    #[test]
    fn a_changed_value_in_any_field_names_the_line_and_the_hash() {
        let (_dir, path) = sample_log(3);
        let pristine = lines_of(&path);
        let entry: Value = serde_json::from_str(&pristine[1]).unwrap();
        for key in entry.as_object().unwrap().keys() {
            let mut tampered: Value = entry.clone();
            tampered[key] = match &entry[key] {
                Value::Number(n) => json!(n.as_u64().unwrap() + 10),
                Value::String(s) => json!(format!("{s}x")),
                _ => json!({"read": ["/"]}),
            };
            let mut lines = pristine.clone();
            lines[1] = canonical_json(&tampered);
            write_lines(&path, &lines);
            let (line, problem) = broken_at(&path);
            assert_eq!(line, 2, "field `{key}`");
            assert_eq!(problem, "hash does not match its contents", "field `{key}`");
        }
    }

    #[test]
    fn a_deleted_line_is_detected() {
        let (_dir, path) = sample_log(4);
        let mut lines = lines_of(&path);
        lines.remove(1);
        write_lines(&path, &lines);
        assert_eq!(broken_at(&path), (2, "seq is 3, expected 2".to_owned()));
    }

    #[test]
    fn swapped_lines_are_detected() {
        let (_dir, path) = sample_log(4);
        let mut lines = lines_of(&path);
        lines.swap(1, 2);
        write_lines(&path, &lines);
        assert_eq!(broken_at(&path), (2, "seq is 3, expected 2".to_owned()));
    }

    #[test]
    fn a_truncated_file_is_detected() {
        let (_dir, path) = sample_log(3);
        let bytes = fs::read(&path).unwrap();
        fs::write(&path, &bytes[..bytes.len() - 20]).unwrap();
        let (line, problem) = broken_at(&path);
        assert_eq!(line, 3);
        assert!(problem.contains("without a newline"), "{problem}");
    }

    #[test]
    fn a_rehashed_forgery_breaks_the_next_lines_prev() {
        let (_dir, path) = sample_log(4);
        forge_line(&path, 1, |entry| entry["stage"] = json!("innocent"));
        let expected = "prev does not match line 2's hash".to_owned();
        assert_eq!(broken_at(&path), (3, expected));
    }

    #[test]
    fn a_forged_first_line_must_start_from_zeros() {
        let (_dir, path) = sample_log(2);
        forge_line(&path, 0, |entry| entry["prev"] = json!("1".repeat(64)));
        let (line, problem) = broken_at(&path);
        assert_eq!(line, 1);
        assert!(problem.contains("64 zeros"), "{problem}");
    }

    #[test]
    fn a_renumbered_line_reports_its_seq() {
        let (_dir, path) = sample_log(5);
        forge_line(&path, 3, |entry| entry["seq"] = json!(9));
        assert_eq!(broken_at(&path), (4, "seq is 9, expected 4".to_owned()));
    }

    #[test]
    fn a_line_that_is_not_json_is_named() {
        let (_dir, path) = sample_log(5);
        let mut lines = lines_of(&path);
        lines[4] = "{\"seq\":5,".to_owned();
        write_lines(&path, &lines);
        let (line, problem) = broken_at(&path);
        assert_eq!(line, 5);
        assert!(problem.starts_with("not valid JSON: "), "{problem}");
    }

    #[test]
    fn a_non_canonical_line_is_refused_even_if_its_hash_recomputes() {
        let (_dir, path) = sample_log(2);
        let mut lines = lines_of(&path);
        // A duplicate key that parsers resolve differently, hash unchanged.
        lines[0] = lines[0].replacen('{', "{\"event\":\"hidden\",", 1);
        write_lines(&path, &lines);
        let (line, problem) = broken_at(&path);
        assert_eq!(line, 1);
        assert!(problem.contains("canonical"), "{problem}");
    }

    #[test]
    fn the_error_message_names_file_line_and_problem() {
        let (_dir, path) = sample_log(2);
        let mut lines = lines_of(&path);
        lines.swap(0, 1);
        write_lines(&path, &lines);
        let message = verify(&path).unwrap_err().to_string();
        assert!(message.contains("audit.jsonl"), "{message}");
        assert!(
            message.ends_with("line 1: seq is 2, expected 1"),
            "{message}"
        );
    }
}
