//! Run ids and timestamps.
//!
//! A run id is `YYYYMMDD-HHMMSS-xxxxxx`: the UTC time the run started and six
//! random lowercase hex digits. It sorts by start time, a person can read it,
//! and it is a safe path component. Ids arrive from the command line and
//! become directory names, so [`RunId::parse`] accepts nothing else.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use super::StoreError;

/// Length of `YYYYMMDD-HHMMSS-xxxxxx`.
const RUN_ID_LEN: usize = 22;

/// The identifier of one run, validated on construction.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunId(String);

impl RunId {
    /// Generates an id for a run starting now.
    ///
    /// The random suffix comes from the operating system; if it cannot be
    /// read, the suffix is derived from the clock and the process id instead,
    /// which still keeps ids apart within one state dir (its lock admits one
    /// process at a time).
    pub fn generate() -> RunId {
        let now = SystemTime::now();
        let stamp = humantime::format_rfc3339_seconds(now).to_string();
        let digits: String = stamp.chars().filter(char::is_ascii_digit).collect();
        let (date, time) = digits.split_at(8);
        RunId(format!("{date}-{time}-{}", random_suffix(now)))
    }

    /// Parses and validates a run id.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidRunId`] unless `s` is exactly
    /// `YYYYMMDD-HHMMSS-xxxxxx` with a plausible date and time and six
    /// lowercase hex digits.
    pub fn parse(s: &str) -> Result<RunId, StoreError> {
        if is_valid_run_id(s) {
            Ok(RunId(s.to_owned()))
        } else {
            Err(StoreError::InvalidRunId {
                value: s.to_owned(),
            })
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for RunId {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RunId::parse(s)
    }
}

impl Serialize for RunId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RunId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        RunId::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The current time in RFC 3339, UTC, with milliseconds:
/// `2026-12-03T13:45:01.123Z`.
pub fn timestamp_now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

/// Checks the shape `YYYYMMDD-HHMMSS-xxxxxx` and the ranges of its fields.
fn is_valid_run_id(s: &str) -> bool {
    let bytes = s.as_bytes();
    if bytes.len() != RUN_ID_LEN || bytes[8] != b'-' || bytes[15] != b'-' {
        return false;
    }
    let digits_ok = bytes[..8]
        .iter()
        .chain(&bytes[9..15])
        .all(u8::is_ascii_digit);
    let hex_ok = bytes[16..]
        .iter()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b));
    digits_ok && hex_ok && fields_in_range(s)
}

/// Checks month, day, hour, minute and second; the digits are known to be
/// ASCII already.
fn fields_in_range(s: &str) -> bool {
    let field = |range: std::ops::Range<usize>| s[range].parse::<u32>().unwrap_or(u32::MAX);
    (1..=12).contains(&field(4..6))
        && (1..=31).contains(&field(6..8))
        && field(9..11) < 24
        && field(11..13) < 60
        && field(13..15) < 61
}

/// Six lowercase hex digits, random when the OS allows it.
fn random_suffix(now: SystemTime) -> String {
    let mut bytes = [0u8; 3];
    if let Err(error) = getrandom::fill(&mut bytes) {
        tracing::debug!(%error, "no OS randomness for the run id; deriving it from the clock");
        bytes = fallback_suffix(now);
    }
    hex::encode(bytes)
}

/// Three bytes from the clock, the pid and a per-process counter.
fn fallback_suffix(now: SystemTime) -> [u8; 3] {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mut hasher = Sha256::new();
    hasher.update(nanos.to_le_bytes());
    hasher.update(std::process::id().to_le_bytes());
    hasher.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    let digest = hasher.finalize();
    [digest[0], digest[1], digest[2]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_back_and_differ() {
        let first = RunId::generate();
        let second = RunId::generate();
        assert_eq!(RunId::parse(first.as_str()).unwrap(), first);
        assert_eq!(first.as_str().len(), RUN_ID_LEN);
        assert_ne!(first, second);
    }

    #[test]
    fn generated_id_carries_the_utc_start_time() {
        let digits = |time: SystemTime| -> String {
            let stamp = humantime::format_rfc3339_seconds(time).to_string();
            let digits: String = stamp.chars().filter(char::is_ascii_digit).collect();
            format!("{}-{}", &digits[..8], &digits[8..])
        };
        let before = digits(SystemTime::now());
        let id = RunId::generate();
        let after = digits(SystemTime::now());
        let stamp = &id.as_str()[..15];
        assert!(
            before.as_str() <= stamp && stamp <= after.as_str(),
            "{before} {id} {after}"
        );
    }

    #[test]
    fn parse_accepts_a_well_formed_id() {
        let id = RunId::parse("20261203-134501-0a9f3c").unwrap();
        assert_eq!(id.to_string(), "20261203-134501-0a9f3c");
        assert_eq!("20261203-134501-0a9f3c".parse::<RunId>().unwrap(), id);
    }

    #[test]
    fn parse_refuses_paths_and_malformed_ids() {
        for bad in [
            "",
            "../x",
            "x/y",
            "..",
            "20261203-134501-0a9f3",
            "20261203-134501-0a9f3c0",
            "20261203-134501-0A9F3C",
            "20261203-134501-0a9f3g",
            "20261203_134501-0a9f3c",
            "20261303-134501-0a9f3c",
            "20261200-134501-0a9f3c",
            "20261203-244501-0a9f3c",
            "2026120-3134501-0a9f3c",
            "../../etc/passwd-0a9f3c",
            "20261203-134501/0a9f3c",
        ] {
            let err = RunId::parse(bad).unwrap_err();
            assert!(matches!(err, StoreError::InvalidRunId { .. }), "{bad:?}");
        }
    }

    #[test]
    fn deserialize_validates_and_serialize_is_a_plain_string() {
        let id: RunId = serde_json::from_str("\"20261203-134501-0a9f3c\"").unwrap();
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            "\"20261203-134501-0a9f3c\""
        );
        let err = serde_json::from_str::<RunId>("\"../x\"").unwrap_err();
        assert!(err.to_string().contains("invalid run id `../x`"), "{err}");
    }

    #[test]
    fn ids_sort_by_start_time() {
        let older = RunId::parse("20261203-134501-ffffff").unwrap();
        let newer = RunId::parse("20261203-134502-000000").unwrap();
        assert!(older < newer);
    }

    #[test]
    fn timestamps_are_rfc3339_utc_with_milliseconds() {
        let stamp = timestamp_now();
        assert_eq!(stamp.len(), "2026-12-03T13:45:01.123Z".len(), "{stamp}");
        assert!(stamp.ends_with('Z'), "{stamp}");
        assert_eq!(&stamp[10..11], "T");
        assert_eq!(&stamp[19..20], ".");
    }

    #[test]
    fn fallback_suffixes_differ_between_calls() {
        let now = SystemTime::now();
        assert_ne!(fallback_suffix(now), fallback_suffix(now));
    }
}
