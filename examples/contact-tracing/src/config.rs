//! Runtime settings, read from the environment at start-up.
//!
//! The service takes no flags: a container platform sets environment
//! variables, and every setting has a default that works on a laptop.

use std::fmt;
use std::time::Duration;

/// Environment variable naming the address to listen on.
pub const ADDR_VAR: &str = "CONTACT_TRACING_ADDR";

/// Environment variable naming how long exposures are kept, such as `14days`.
pub const RETENTION_VAR: &str = "CONTACT_TRACING_RETENTION";

const DEFAULT_ADDR: &str = "127.0.0.1:8080";

/// Public-health guidance keeps exposure data for two incubation windows at
/// most; fourteen days is the common choice.
const DEFAULT_RETENTION: Duration = Duration::from_secs(14 * 24 * 60 * 60);

/// How the service listens and how long it keeps what it is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Socket address to bind, `127.0.0.1:8080` by default.
    pub addr: String,
    /// How long after the contact an exposure is kept, 14 days by default.
    pub retention: Duration,
}

/// A setting that is present but unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    var: &'static str,
    reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid `{}`: {}", self.var, self.reason)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads the settings through `lookup`, which returns a variable's value.
    ///
    /// Taking the lookup as a function keeps tests away from the process
    /// environment, which is shared between test threads.
    ///
    /// # Errors
    ///
    /// Returns an error when the retention is not a duration humans write
    /// (`14days`, `36h`) or is zero.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let addr = lookup(ADDR_VAR).unwrap_or_else(|| DEFAULT_ADDR.to_owned());
        let retention = match lookup(RETENTION_VAR) {
            Some(text) => parse_retention(&text)?,
            None => DEFAULT_RETENTION,
        };
        Ok(Self { addr, retention })
    }
}

fn parse_retention(text: &str) -> Result<Duration, ConfigError> {
    let invalid = |reason: String| ConfigError {
        var: RETENTION_VAR,
        reason,
    };
    let retention = humantime::parse_duration(text.trim())
        .map_err(|err| invalid(format!("`{text}` is not a duration ({err})")))?;
    if retention.is_zero() {
        return Err(invalid("retention must be longer than zero".to_owned()));
    }
    Ok(retention)
}

/// Formats a retention window the way an operator would write it.
pub fn describe_retention(retention: Duration) -> String {
    humantime::format_duration(retention).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup_from(
        pairs: &'static [(&'static str, &'static str)],
    ) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let config = Config::from_lookup(lookup_from(&[])).unwrap();
        assert_eq!(config.addr, "127.0.0.1:8080");
        assert_eq!(config.retention, Duration::from_secs(1_209_600));
    }

    #[test]
    fn retention_is_read_as_a_human_duration() {
        let vars = &[(ADDR_VAR, "0.0.0.0:9000"), (RETENTION_VAR, "36h")];
        let config = Config::from_lookup(lookup_from(vars)).unwrap();
        assert_eq!(config.addr, "0.0.0.0:9000");
        assert_eq!(config.retention, Duration::from_secs(36 * 3600));
        assert_eq!(describe_retention(config.retention), "1day 12h");
    }

    #[test]
    fn unreadable_or_zero_retention_is_refused_naming_the_variable() {
        let err = Config::from_lookup(lookup_from(&[(RETENTION_VAR, "two weeks")])).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid `CONTACT_TRACING_RETENTION`"),
            "{err}"
        );

        let err = Config::from_lookup(lookup_from(&[(RETENTION_VAR, "0s")])).unwrap_err();
        assert!(err.to_string().contains("longer than zero"), "{err}");
    }
}
