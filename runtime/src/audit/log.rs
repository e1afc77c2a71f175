//! Appending to the audit log, and reading its events back.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::{AuditError, CHAIN_START, RESERVED_KEYS, canonical_json, check_line, entry_hash};
use crate::store::timestamp_now;

/// How much of the file's end is read at a time when looking for its last
/// line.
const TAIL_CHUNK: u64 = 8 * 1024;

/// The audit log, open for appending.
///
/// It knows the last `seq` and `hash` so that each new line can link to the
/// one before. Only one `AuditLog` may be open on a file at a time; the
/// state dir's lock sees to that.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: File,
    /// `seq` of the last line, 0 when the log is empty.
    seq: u64,
    /// `hash` of the last line, [`CHAIN_START`] when the log is empty.
    head: String,
    /// The file's length: where a failed append is cut back to.
    size: u64,
}

impl AuditLog {
    /// Opens the log at `path`, creating it if missing, and reads its last
    /// line to learn the current `seq` and head hash.
    ///
    /// Only the last line is checked here (that it is complete, parses, and
    /// its hash recomputes); [`verify`](super::verify) checks the whole
    /// chain.
    ///
    /// # Errors
    ///
    /// [`AuditError::Corrupt`] naming the file and line when the last line
    /// was torn (no trailing newline) or is not a valid entry;
    /// [`AuditError::Io`] when the file cannot be created or read.
    pub fn open(path: &Path) -> Result<AuditLog, AuditError> {
        let file = open_or_create(path)?;
        let size = file
            .metadata()
            .map_err(|e| AuditError::io("inspect", path, e))?
            .len();
        let (seq, head) = read_head(path, &file, size)?;
        tracing::debug!(log = %path.display(), seq, "opened audit log");
        Ok(AuditLog {
            path: path.to_path_buf(),
            file,
            seq,
            head,
            size,
        })
    }

    /// Appends one event and returns the new head hash.
    ///
    /// The line is written with a single append and fsynced before this
    /// returns. `fields` become top-level keys of the line, next to the
    /// ones the log writes itself.
    ///
    /// # Errors
    ///
    /// [`AuditError::FieldsNotObject`] when `fields` is not a JSON object;
    /// [`AuditError::ReservedField`] when it has a key named `seq`, `time`,
    /// `run`, `event`, `prev` or `hash`; [`AuditError::Io`] when the line
    /// cannot be written durably, in which case the file is cut back to
    /// where it was.
    pub fn append(&mut self, run: &str, event: &str, fields: Value) -> Result<String, AuditError> {
        let mut entry = event_fields(event, fields)?;
        let seq = self.seq + 1;
        entry.insert("seq".to_owned(), seq.into());
        entry.insert("time".to_owned(), timestamp_now().into());
        entry.insert("run".to_owned(), run.into());
        entry.insert("event".to_owned(), event.into());
        entry.insert("prev".to_owned(), self.head.clone().into());
        let hash = entry_hash(&entry);
        entry.insert("hash".to_owned(), hash.clone().into());

        let mut line = canonical_json(&Value::Object(entry));
        line.push('\n');
        self.write_line(line.as_bytes())?;
        self.seq = seq;
        self.head.clone_from(&hash);
        tracing::trace!(run, event, seq, "appended audit event");
        Ok(hash)
    }

    /// The hash of the last line: [`CHAIN_START`] for an empty log.
    pub fn head(&self) -> &str {
        &self.head
    }

    /// The number of lines, which is also the `seq` of the last one.
    pub fn len(&self) -> u64 {
        self.seq
    }

    /// Whether no event has been written yet.
    pub fn is_empty(&self) -> bool {
        self.seq == 0
    }

    /// Writes a whole line and fsyncs it; on failure cuts the file back so
    /// that no partial line is left for the next append to follow.
    fn write_line(&mut self, line: &[u8]) -> Result<(), AuditError> {
        let written = self
            .file
            .write_all(line)
            .map_err(|e| ("append to", e))
            .and_then(|()| self.file.sync_data().map_err(|e| ("sync", e)));
        let Err((action, source)) = written else {
            self.size += line.len() as u64;
            return Ok(());
        };
        if let Err(error) = self.file.set_len(self.size) {
            tracing::warn!(log = %self.path.display(), %error, "failed to cut back a failed append");
        }
        Err(AuditError::io(action, &self.path, source))
    }
}

/// The fields of `event` as a map, refusing anything but an object without
/// reserved keys.
fn event_fields(event: &str, fields: Value) -> Result<Map<String, Value>, AuditError> {
    let Value::Object(entry) = fields else {
        return Err(AuditError::FieldsNotObject {
            event: event.to_owned(),
        });
    };
    match RESERVED_KEYS
        .into_iter()
        .find(|key| entry.contains_key(*key))
    {
        Some(key) => Err(AuditError::ReservedField {
            event: event.to_owned(),
            key,
        }),
        None => Ok(entry),
    }
}

/// Reads the events of the log at `path`, in order, keeping only those of
/// `run` when it is given.
///
/// A log that does not exist yet has no events. Events are parsed, not
/// verified: use [`verify`](super::verify) for that.
///
/// # Errors
///
/// [`AuditError::Corrupt`] naming the line when one is torn or is not a
/// JSON object; [`AuditError::Io`] when the file cannot be read.
pub fn read_events(path: &Path, run: Option<&str>) -> Result<Vec<Value>, AuditError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(AuditError::io("open", path, e)),
    };
    let mut reader = BufReader::new(file);
    let mut events = Vec::new();
    let mut raw = Vec::new();
    for number in 1.. {
        raw.clear();
        if reader
            .read_until(b'\n', &mut raw)
            .map_err(|e| AuditError::io("read", path, e))?
            == 0
        {
            break;
        }
        let event = parse_event(&raw).map_err(|problem| corrupt(path, number, problem))?;
        if run.is_none_or(|run| event.get("run").and_then(Value::as_str) == Some(run)) {
            events.push(event);
        }
    }
    Ok(events)
}

/// One raw line, with its newline, as a JSON object.
fn parse_event(raw: &[u8]) -> Result<Value, String> {
    let line = raw.strip_suffix(b"\n").ok_or_else(torn_problem)?;
    match serde_json::from_slice(line) {
        Ok(event @ Value::Object(_)) => Ok(event),
        Ok(_) => Err("not a JSON object".to_owned()),
        Err(e) => Err(format!("not valid JSON: {e}")),
    }
}

/// Opens the log for reading and appending, creating it (durably) if
/// missing.
fn open_or_create(path: &Path) -> Result<File, AuditError> {
    let existed = fs::exists(path).map_err(|e| AuditError::io("inspect", path, e))?;
    // Never through a symlink: events would be appended to whatever file
    // it points at.
    let file = File::options()
        .read(true)
        .append(true)
        .create(true)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(path)
        .map_err(|e| AuditError::io("open", path, e))?;
    if !existed {
        let dir = path
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        File::open(dir)
            .and_then(|handle| handle.sync_all())
            .map_err(|e| AuditError::io("sync the directory of", path, e))?;
    }
    Ok(file)
}

/// The `seq` and `hash` of the last line of a log of `size` bytes, after
/// checking that line on its own.
fn read_head(path: &Path, file: &File, size: u64) -> Result<(u64, String), AuditError> {
    if size == 0 {
        return Ok((0, CHAIN_START.to_owned()));
    }
    let tail = read_last_line(file, size).map_err(|e| AuditError::io("read", path, e))?;
    let checked = tail
        .strip_suffix(b"\n")
        .ok_or_else(torn_problem)
        .and_then(check_line);
    match checked {
        Ok(link) => Ok((link.seq, link.hash)),
        Err(problem) => Err(corrupt(path, count_last_line(path)?, problem)),
    }
}

/// The last line of `file` (`size` bytes, at least one), with its newline
/// if it has one. Reads backwards from the end, so opening a long log costs
/// no more than opening a short one.
fn read_last_line(file: &File, size: u64) -> io::Result<Vec<u8>> {
    let mut tail = Vec::new();
    let mut end = size;
    loop {
        let start = end.saturating_sub(TAIL_CHUNK);
        let mut chunk = vec![0; (end - start) as usize];
        file.read_exact_at(&mut chunk, start)?;
        chunk.append(&mut tail);
        tail = chunk;
        // The file's final byte may be the last line's own newline.
        let searched = &tail[..tail.len() - 1];
        if let Some(newline) = searched.iter().rposition(|b| *b == b'\n') {
            return Ok(tail.split_off(newline + 1));
        }
        if start == 0 {
            return Ok(tail);
        }
        end = start;
    }
}

/// The number of the last line of the log, for error messages: the lines
/// that end in a newline, plus one if the file ends without one.
fn count_last_line(path: &Path) -> Result<u64, AuditError> {
    let file = File::open(path).map_err(|e| AuditError::io("open", path, e))?;
    let mut reader = BufReader::new(file);
    let mut raw = Vec::new();
    let mut lines = 0;
    while reader
        .read_until(b'\n', &mut raw)
        .map_err(|e| AuditError::io("read", path, e))?
        > 0
    {
        lines += 1;
        raw.clear();
    }
    Ok(lines)
}

/// The problem of a line cut short.
fn torn_problem() -> String {
    "ends without a newline (a torn or truncated write)".to_owned()
}

/// An [`AuditError::Corrupt`] for `line` of the log at `path`.
fn corrupt(path: &Path, line: u64, problem: String) -> AuditError {
    AuditError::Corrupt {
        path: path.to_path_buf(),
        line,
        problem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use sha2::{Digest, Sha256};

    fn log_with(dir: &Path, events: usize) -> PathBuf {
        let path = dir.join("audit.jsonl");
        let mut log = AuditLog::open(&path).unwrap();
        for index in 0..events {
            let run = if index % 2 == 0 { "run-a" } else { "run-b" };
            log.append(run, "stage-start", json!({"stage": format!("s{index}")}))
                .unwrap();
        }
        path
    }

    #[test]
    fn appended_events_survive_a_reopen_and_keep_chaining() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let mut log = AuditLog::open(&path).unwrap();
        assert!(log.is_empty());
        assert_eq!(log.head(), CHAIN_START);
        let first = log
            .append("r1", "run-start", json!({"pipeline": "sha256:aa"}))
            .unwrap();
        let second = log.append("r1", "stage-start", json!({})).unwrap();
        assert_eq!(log.head(), second);
        drop(log);

        let mut log = AuditLog::open(&path).unwrap();
        assert_eq!((log.len(), log.head()), (2, second.as_str()));
        log.append("r1", "run-end", json!({"ok": true})).unwrap();

        let events = read_events(&path, None).unwrap();
        assert_eq!(events.len(), 3);
        assert_eq!(events[1]["prev"], json!(first));
        assert_eq!(events[2]["prev"], json!(second));
        assert_eq!(events[2]["seq"], json!(3));
        assert_eq!(super::super::verify(&path).unwrap().lines, 3);
    }

    #[test]
    fn lines_are_written_canonical_one_per_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let mut log = AuditLog::open(&path).unwrap();
        log.append("r1", "grant", json!({"z": {"b": 1, "a": 2}, "a": [1]}))
            .unwrap();
        let text = fs::read_to_string(&path).unwrap();
        let line = text.strip_suffix('\n').unwrap();
        assert!(!line.contains('\n') && !line.contains(' '), "{line}");
        assert!(
            line.starts_with(r#"{"a":[1],"event":"grant","hash":""#),
            "{line}"
        );
        assert!(line.contains(r#""z":{"a":2,"b":1}"#), "{line}");
    }

    #[test]
    fn hash_can_be_recomputed_by_hand_from_the_spec() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let mut log = AuditLog::open(&path).unwrap();
        let fields = json!({"stage": "scan", "plugin": {"name": "scan", "digest": "sha256:ab"}});
        let hash = log.append("r1", "stage-start", fields).unwrap();
        let line: Value = serde_json::from_str(fs::read_to_string(&path).unwrap().trim()).unwrap();
        let time = line["time"].as_str().unwrap();

        // The line without `hash`, keys sorted at every depth, no whitespace.
        let preimage = format!(
            concat!(
                r#"{{"event":"stage-start","plugin":{{"digest":"sha256:ab","name":"scan"}},"#,
                r#""prev":"{zeros}","run":"r1","seq":1,"stage":"scan","time":"{time}"}}"#
            ),
            zeros = "0".repeat(64),
            time = time,
        );
        let expected = hex::encode(Sha256::digest(preimage.as_bytes()));
        assert_eq!(hash, expected);
        assert_eq!(line["hash"], json!(expected));
    }

    #[test]
    fn reserved_keys_and_non_objects_are_refused_without_writing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let mut log = AuditLog::open(&path).unwrap();
        for key in ["seq", "time", "run", "event", "prev", "hash"] {
            let err = log.append("r1", "x", json!({ key: 1 })).unwrap_err();
            assert!(
                matches!(err, AuditError::ReservedField { key: k, .. } if k == key),
                "{err}"
            );
            assert!(err.to_string().contains(&format!("`{key}`")), "{err}");
        }
        let err = log.append("r1", "x", json!([1])).unwrap_err();
        assert!(matches!(err, AuditError::FieldsNotObject { .. }), "{err}");
        assert!(log.is_empty());
        assert_eq!(fs::read(&path).unwrap(), b"");
    }

    #[test]
    fn open_refuses_a_torn_last_line_naming_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = log_with(dir.path(), 3);
        let text = fs::read_to_string(&path).unwrap();
        fs::write(&path, &text[..text.len() - 10]).unwrap();

        let err = AuditLog::open(&path).unwrap_err();
        let AuditError::Corrupt { line, problem, .. } = &err else {
            panic!("expected a corrupt log, got {err}");
        };
        assert_eq!(*line, 3);
        assert!(problem.contains("without a newline"), "{problem}");
        let message = err.to_string();
        assert!(
            message.contains("audit.jsonl") && message.contains("line 3"),
            "{message}"
        );
        assert!(message.contains("gantry audit verify"), "{message}");
    }

    #[test]
    fn open_refuses_a_last_line_that_does_not_parse() {
        let dir = tempfile::tempdir().unwrap();
        let path = log_with(dir.path(), 2);
        let mut text = fs::read_to_string(&path).unwrap();
        text.push_str("{\"seq\":3,\n");
        fs::write(&path, text).unwrap();
        let err = AuditLog::open(&path).unwrap_err();
        assert!(matches!(err, AuditError::Corrupt { line: 3, .. }), "{err}");
        assert!(err.to_string().contains("not valid JSON"), "{err}");
    }

    #[test]
    fn open_finds_the_last_line_of_a_log_longer_than_one_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let mut log = AuditLog::open(&path).unwrap();
        let big = "x".repeat(TAIL_CHUNK as usize * 2);
        log.append("r1", "big", json!({ "blob": big })).unwrap();
        log.append("r1", "big", json!({ "blob": big })).unwrap();
        let head = log.append("r1", "small", json!({})).unwrap();
        log.append("r1", "big", json!({ "blob": big })).unwrap();
        let last = log.head().to_owned();
        drop(log);
        let log = AuditLog::open(&path).unwrap();
        assert_eq!((log.len(), log.head()), (4, last.as_str()));
        assert_ne!(head, last);
    }

    #[test]
    fn read_events_filters_by_run_and_treats_a_missing_log_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            read_events(&dir.path().join("absent.jsonl"), None)
                .unwrap()
                .is_empty()
        );
        let path = log_with(dir.path(), 5);
        let only_b = read_events(&path, Some("run-b")).unwrap();
        let stages: Vec<_> = only_b
            .iter()
            .map(|e| e["stage"].as_str().unwrap())
            .collect();
        assert_eq!(stages, ["s1", "s3"]);
        assert_eq!(read_events(&path, None).unwrap().len(), 5);
        assert!(read_events(&path, Some("run-c")).unwrap().is_empty());
    }

    #[test]
    fn a_log_that_is_a_symlink_is_refused_not_appended_through() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "").unwrap();
        let path = dir.path().join("audit.jsonl");
        std::os::unix::fs::symlink(&victim, &path).unwrap();

        let err = AuditLog::open(&path).unwrap_err();
        assert!(matches!(err, AuditError::Io { .. }), "{err}");
        assert_eq!(fs::read(&victim).unwrap(), b"");
    }

    #[test]
    fn read_events_names_a_line_that_is_not_json() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        fs::write(&path, "{}\nnot json\n{}\n").unwrap();
        let err = read_events(&path, None).unwrap_err();
        assert!(matches!(err, AuditError::Corrupt { line: 2, .. }), "{err}");
    }
}
