//! The hash-chained audit log.
//!
//! Every event of every run in a state dir is one line of
//! `<state-dir>/audit.jsonl`. A line is a JSON object holding:
//!
//! - `seq`: its position in the file, counting from 1;
//! - `time`: when it was written, RFC 3339 UTC with milliseconds;
//! - `run` and `event`: the run id and the kind of event;
//! - the event's own fields, at the top level;
//! - `prev`: the `hash` of the line before, or 64 zeros on the first line;
//! - `hash`: the sha256, in lowercase hex, of the line's canonical JSON
//!   without `hash` itself.
//!
//! Canonical JSON here means: object keys sorted by their UTF-8 bytes at
//! every depth, no whitespace, strings and numbers as `serde_json` writes
//! them compactly. Lines are stored in that same form, so anyone can
//! recompute a hash with standard tools: parse the line, drop `hash`, print
//! it with sorted keys and no spaces, and take the sha256.
//!
//! Changing, inserting, deleting or reordering lines breaks the chain, and
//! [`verify`] says at which line. Removing whole lines from the end leaves a
//! shorter chain that is still intact; that is caught by comparing the head
//! with one recorded elsewhere (the engine records the head in run state at
//! each stage boundary).
//!
//! Only one writer may append at a time: the state dir's lock guarantees it.
//!
//! Signing lives here too: [`keys`] makes and loads ed25519 keys, [`dsse`]
//! wraps signed payloads in DSSE envelopes.

pub mod dsse;
pub mod keys;
mod log;
mod verify;

use std::io;
use std::path::PathBuf;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

pub use log::{AuditLog, read_events};
pub use verify::{VerifySummary, verify};

/// The `prev` of the first line: 64 zeros.
pub const CHAIN_START: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Keys the log writes itself; an event's fields may not use them.
const RESERVED_KEYS: [&str; 6] = ["seq", "time", "run", "event", "prev", "hash"];

/// Everything that can go wrong reading, writing or verifying the log.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// A filesystem operation on the log failed.
    #[error("failed to {action} audit log `{path}`")]
    Io {
        /// What was being done, as a verb phrase.
        action: &'static str,
        /// The log file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// The log cannot be read or appended to because a line is damaged.
    #[error(
        "audit log `{path}`, line {line}: {problem}\n\
         hint: run `gantry audit verify` to check the whole trail"
    )]
    Corrupt {
        /// The log file.
        path: PathBuf,
        /// The damaged line, counting from 1.
        line: u64,
        /// What is wrong with it.
        problem: String,
    },

    /// [`verify`] found the chain broken; `line` is the first bad one.
    #[error("audit log `{path}` is broken: line {line}: {problem}")]
    Broken {
        /// The log file.
        path: PathBuf,
        /// The first bad line, counting from 1.
        line: u64,
        /// What is wrong with it, e.g. "hash does not match its contents".
        problem: String,
    },

    /// An event's fields were not a JSON object.
    #[error("the fields of audit event `{event}` must be a JSON object")]
    FieldsNotObject {
        /// The event being appended.
        event: String,
    },

    /// An event's fields used a key the log writes itself.
    #[error("audit event `{event}` uses the reserved field `{key}`")]
    ReservedField {
        /// The event being appended.
        event: String,
        /// The reserved key.
        key: &'static str,
    },
}

impl AuditError {
    /// Builds an [`AuditError::Io`] for `action` on the log at `path`.
    fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        AuditError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// `value` as canonical JSON: object keys sorted bytewise at every depth, no
/// whitespace.
///
/// This is not RFC 8785 (JCS), which sorts keys by UTF-16 code units; the
/// two orders differ only for keys beyond the Basic Multilingual Plane.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

/// Appends the canonical form of `value` to `out`.
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (index, (key, item)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                // A `Value`'s `Display` is its compact JSON, escapes included.
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The `hash` a line must carry: sha256 hex of its canonical JSON without
/// `hash`. `entry` must not contain `hash`.
fn entry_hash(entry: &Map<String, Value>) -> String {
    let canonical = canonical_json(&Value::Object(entry.clone()));
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

/// The chain fields of one line that passed [`check_line`].
struct Link {
    seq: u64,
    prev: String,
    hash: String,
}

/// Checks what one line (without its newline) can show on its own: that it
/// is a canonical JSON object with the chain fields, whose hash recomputes.
///
/// The error is the problem, worded to follow "line N: ".
fn check_line(line: &[u8]) -> Result<Link, String> {
    let value: Value = serde_json::from_slice(line).map_err(|e| format!("not valid JSON: {e}"))?;
    let Value::Object(mut entry) = value else {
        return Err("not a JSON object".to_owned());
    };
    let seq = entry
        .get("seq")
        .and_then(Value::as_u64)
        .ok_or("`seq` is missing or not an unsigned integer")?;
    for key in ["time", "run", "event"] {
        string_field(&entry, key)?;
    }
    let prev = string_field(&entry, "prev")?.to_owned();
    let hash = string_field(&entry, "hash")?.to_owned();

    let as_written = canonical_json(&Value::Object(entry.clone()));
    entry.remove("hash");
    if entry_hash(&entry) != hash {
        return Err("hash does not match its contents".to_owned());
    }
    if as_written.as_bytes() != line {
        return Err("not in canonical form (sorted keys, no whitespace)".to_owned());
    }
    Ok(Link { seq, prev, hash })
}

/// The string at `key`, or the problem when it is missing or not a string.
fn string_field<'a>(entry: &'a Map<String, Value>, key: &str) -> Result<&'a str, String> {
    entry
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("`{key}` is missing or not a string"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_json_sorts_keys_at_every_depth_without_whitespace() {
        let value = json!({
            "b": 1,
            "a": {"z": [{"y": true, "x": null}], "m": "text"},
            "c": [3, 2, 1],
        });
        assert_eq!(
            canonical_json(&value),
            r#"{"a":{"m":"text","z":[{"x":null,"y":true}]},"b":1,"c":[3,2,1]}"#
        );
    }

    #[test]
    fn canonical_json_escapes_keys_and_strings() {
        let value = json!({"quote\"key": "line\nbreak", "é": "\u{1}"});
        assert_eq!(
            canonical_json(&value),
            "{\"quote\\\"key\":\"line\\nbreak\",\"é\":\"\\u0001\"}"
        );
    }

    #[test]
    fn canonical_json_sorts_keys_bytewise() {
        let value = json!({"b": 0, "B": 0, "a": 0, "_": 0, "aa": 0});
        assert_eq!(
            canonical_json(&value),
            r#"{"B":0,"_":0,"a":0,"aa":0,"b":0}"#
        );
    }

    #[test]
    fn canonical_json_of_scalars_is_their_compact_form() {
        assert_eq!(canonical_json(&json!(1.5)), "1.5");
        assert_eq!(canonical_json(&json!("s")), "\"s\"");
        assert_eq!(canonical_json(&json!([])), "[]");
        assert_eq!(canonical_json(&json!({})), "{}");
    }

    #[test]
    fn check_line_names_missing_chain_fields() {
        let problem = check_line(br#"{"seq":1}"#).err().unwrap();
        assert_eq!(problem, "`time` is missing or not a string");
        let problem = check_line(b"[1]").err().unwrap();
        assert_eq!(problem, "not a JSON object");
        let problem = check_line(br#"{"seq":-1}"#).err().unwrap();
        assert_eq!(problem, "`seq` is missing or not an unsigned integer");
    }
}
