//! Stage limits (`[stage.limits]`): memory, wall time, CPU time, the size
//! of what a plugin returns and writes, its log lines and its open files;
//! their defaults and ceilings, and the parsers for how they are written
//! (`"256 MiB"`, `"2m"`, `1000`).
//!
//! | key | default | at most |
//! |---|---|---|
//! | `memory` | 512 MiB | 16 GiB |
//! | `timeout` | 10m | 1 day |
//! | `cpu` | the timeout | 1 day |
//! | `output` | 16 MiB | 256 MiB |
//! | `out-bytes` | 4 GiB | 1 TiB |
//! | `log-lines` | 100000 | 10000000 |
//! | `log-rate` | 1000 | 100000 |
//! | `handles` | 1024 | 65536 |

use std::time::Duration;

use serde::{Serialize, Serializer};

/// The memory a stage gets when its pipeline sets none: 512 MiB.
pub const DEFAULT_MEMORY: u64 = 512 * 1024 * 1024;

/// How long a stage may run when its pipeline sets no timeout: 10 minutes.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// The most memory a pipeline may give a stage: 16 GiB. A 32-bit linear
/// memory holds at most 4 GiB, so more is a typo, not a plan.
pub const MAX_MEMORY: u64 = 16 * 1024 * 1024 * 1024;

/// The longest a pipeline may let a stage run: one day. Deadlines are
/// computed from it, and a limit that never ends is no limit.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

/// The most text a stage returns when its pipeline sets no `output`
/// limit: 16 MiB. The run record holding it is rewritten at every stage
/// boundary and read by every command.
pub const DEFAULT_OUTPUT: u64 = 16 * 1024 * 1024;

/// The most an `output` limit may be: 256 MiB.
pub const MAX_OUTPUT: u64 = 256 * 1024 * 1024;

/// The bytes a stage may write under `/out` when its pipeline sets no
/// `out-bytes` limit: 4 GiB.
pub const DEFAULT_OUT_BYTES: u64 = 4 * 1024 * 1024 * 1024;

/// The most an `out-bytes` limit may be: 1 TiB.
pub const MAX_OUT_BYTES: u64 = 1024 * 1024 * 1024 * 1024;

/// Log lines over a stage when its pipeline sets no `log-lines` limit.
pub const DEFAULT_LOG_LINES: u64 = 100_000;

/// The most a `log-lines` limit may be.
pub const MAX_LOG_LINES: u64 = 10_000_000;

/// Log lines per second when the pipeline sets no `log-rate` limit.
pub const DEFAULT_LOG_RATE: u64 = 1000;

/// The most a `log-rate` limit may be.
pub const MAX_LOG_RATE: u64 = 100_000;

/// Files and directories open at once when the pipeline sets no `handles`
/// limit.
pub const DEFAULT_HANDLES: u64 = 1024;

/// The most a `handles` limit may be.
pub const MAX_HANDLES: u64 = 65_536;

/// The resources one stage may use.
///
/// The default has every limit at its `DEFAULT_*` value, and `cpu` equal
/// to the timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct StageLimits {
    /// The most linear memory the stage may hold, in bytes; never 0.
    pub memory: u64,
    /// How long the stage may run before it is stopped; never 0.
    #[serde(serialize_with = "serialize_duration")]
    pub timeout: Duration,
    /// How long the stage may run wasm code; never 0. Time spent waiting in
    /// host calls (programs run through `exec`, sleeps) does not count.
    #[serde(serialize_with = "serialize_duration")]
    pub cpu: Duration,
    /// The most text the plugin may return, in bytes; never 0.
    pub output: u64,
    /// The most bytes the plugin may write under `/out`; never 0.
    pub out_bytes: u64,
    /// The most log lines over the stage; never 0.
    pub log_lines: u64,
    /// The most log lines in any one second; never 0.
    pub log_rate: u64,
    /// The most files and directories open at once; never 0.
    pub handles: u64,
}

impl Default for StageLimits {
    fn default() -> Self {
        Self {
            memory: DEFAULT_MEMORY,
            timeout: DEFAULT_TIMEOUT,
            cpu: DEFAULT_TIMEOUT,
            output: DEFAULT_OUTPUT,
            out_bytes: DEFAULT_OUT_BYTES,
            log_lines: DEFAULT_LOG_LINES,
            log_rate: DEFAULT_LOG_RATE,
            handles: DEFAULT_HANDLES,
        }
    }
}

/// Writes a duration the way a pipeline file does (`"2m"`).
fn serialize_duration<S: Serializer>(duration: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_duration(*duration))
}

/// Parses a memory size such as `"256 MiB"`, `"64MB"` or `"1 GiB"` into
/// bytes.
///
/// Binary (`KiB`, `MiB`, `GiB`) and decimal (`KB`, `MB`, `GB`) units are both
/// accepted, in any case; a unit is required, since a bare number is almost
/// always a mistake for megabytes.
///
/// # Errors
///
/// Returns why the text is not a positive size of at most `max`.
pub(super) fn parse_size(text: &str, max: u64) -> Result<u64, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("it is empty".to_owned());
    }
    if text.chars().all(|c| c.is_ascii_digit()) {
        return Err("it has no unit".to_owned());
    }
    if !text.starts_with(|c: char| c.is_ascii_digit()) {
        return Err("it does not start with a number".to_owned());
    }
    let bytes = text
        .parse::<bytesize::ByteSize>()
        .map_err(|_| "it is not a number followed by a unit".to_owned())?
        .as_u64();
    match bytes {
        0 => Err("it is zero".to_owned()),
        u64::MAX => Err("it is too large".to_owned()),
        bytes if bytes > max => Err(format!(
            "it is more than {}, the most this limit may be",
            bytesize::ByteSize(max)
        )),
        bytes => Ok(bytes),
    }
}

/// Checks a count such as `log-rate = 1000`.
///
/// # Errors
///
/// Returns why `value` is not a whole number from 1 to `max`.
pub(super) fn check_count(value: i64, max: u64) -> Result<u64, String> {
    match u64::try_from(value) {
        Ok(0) => Err("it is zero".to_owned()),
        Ok(count) if count <= max => Ok(count),
        Ok(_) => Err(format!("it is more than {max}, the most this limit may be")),
        Err(_) => Err("it is negative".to_owned()),
    }
}

/// Parses a duration such as `"90s"`, `"2m"` or `"1h 30m"`.
///
/// # Errors
///
/// Returns why the text is not a positive duration of at most
/// [`MAX_TIMEOUT`].
pub(super) fn parse_timeout(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text.trim()).map_err(|e| e.to_string())?;
    if duration.is_zero() {
        return Err("it is zero".to_owned());
    }
    if duration > MAX_TIMEOUT {
        return Err("it is longer than 1 day, the most a stage may run".to_owned());
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    fn parse_memory(text: &str) -> Result<u64, String> {
        parse_size(text, MAX_MEMORY)
    }

    #[test]
    fn memory_sizes_accept_binary_and_decimal_units() {
        assert_eq!(parse_memory("256 MiB"), Ok(256 * MIB));
        assert_eq!(parse_memory("64MB"), Ok(64_000_000));
        assert_eq!(parse_memory("1 GiB"), Ok(1024 * MIB));
        assert_eq!(parse_memory("1.5 gib"), Ok(1536 * MIB));
        assert_eq!(parse_memory(" 512 KiB "), Ok(512 * 1024));
    }

    #[test]
    fn memory_sizes_reject_zero_garbage_and_bare_numbers() {
        assert_eq!(parse_memory("0 MiB"), Err("it is zero".to_owned()));
        assert_eq!(parse_memory("512"), Err("it has no unit".to_owned()));
        assert_eq!(parse_memory(""), Err("it is empty".to_owned()));
        let not_a_number = Err("it does not start with a number".to_owned());
        assert_eq!(parse_memory("lots"), not_a_number);
        assert_eq!(parse_memory("-1 MiB"), not_a_number);
        let bad_unit = Err("it is not a number followed by a unit".to_owned());
        assert_eq!(parse_memory("12 parsecs"), bad_unit);
        assert_eq!(parse_memory("1e9 B"), bad_unit);
        assert_eq!(
            parse_memory("99999999999 EiB"),
            Err("it is too large".to_owned())
        );
    }

    #[test]
    fn memory_sizes_above_the_ceiling_are_refused() {
        assert_eq!(parse_memory("16 GiB"), Ok(MAX_MEMORY));
        let too_much = Err("it is more than 16.0 GiB, the most this limit may be".to_owned());
        assert_eq!(parse_memory("16.5 GiB"), too_much);
        assert_eq!(parse_memory("999999 TiB"), too_much);
    }

    #[test]
    fn timeouts_above_a_day_are_refused() {
        assert_eq!(parse_timeout("24h"), Ok(MAX_TIMEOUT));
        let too_long = Err("it is longer than 1 day, the most a stage may run".to_owned());
        assert_eq!(parse_timeout("25h"), too_long);
        // Once panicked: the deadline overflowed the clock.
        assert_eq!(parse_timeout("18446744073709551615s"), too_long);
    }

    #[test]
    fn timeouts_use_humantime_syntax() {
        assert_eq!(parse_timeout("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_timeout("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_timeout("250ms"), Ok(Duration::from_millis(250)));
    }

    #[test]
    fn timeouts_reject_zero_and_garbage() {
        assert_eq!(parse_timeout("0s"), Err("it is zero".to_owned()));
        assert_eq!(parse_timeout("0"), Err("it is zero".to_owned()));
        assert!(parse_timeout("2 fortnights").is_err());
        assert!(parse_timeout("soon").is_err());
        assert!(parse_timeout("10").is_err());
    }

    #[test]
    fn counts_are_whole_numbers_from_one_to_the_ceiling() {
        assert_eq!(check_count(1000, MAX_LOG_RATE), Ok(1000));
        assert_eq!(check_count(0, 10), Err("it is zero".to_owned()));
        assert_eq!(check_count(-5, 10), Err("it is negative".to_owned()));
        let too_many = Err("it is more than 10, the most this limit may be".to_owned());
        assert_eq!(check_count(11, 10), too_many);
    }

    #[test]
    fn sizes_other_than_memory_have_their_own_ceilings() {
        assert_eq!(parse_size("1 TiB", MAX_OUT_BYTES), Ok(MAX_OUT_BYTES));
        assert!(parse_size("257 MiB", MAX_OUTPUT).is_err());
    }

    #[test]
    fn limits_default_to_512_mib_and_ten_minutes() {
        let limits = StageLimits::default();
        assert_eq!(limits.memory, 512 * MIB);
        assert_eq!(limits.timeout, Duration::from_secs(600));
    }

    #[test]
    fn limits_serialize_the_timeout_as_written() {
        let limits = StageLimits {
            memory: 64 * MIB,
            timeout: Duration::from_secs(120),
            cpu: Duration::from_secs(30),
            ..StageLimits::default()
        };
        let json = serde_json::to_value(limits).expect("serializes");
        assert_eq!(json["memory"], 67108864);
        assert_eq!(json["timeout"], "2m");
        assert_eq!(json["cpu"], "30s");
        assert_eq!(json["out-bytes"], DEFAULT_OUT_BYTES);
        assert_eq!(json["log-rate"], DEFAULT_LOG_RATE);
    }
}
