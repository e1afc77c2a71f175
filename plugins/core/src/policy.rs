//! The policy rules a scan applies: suppressions and a licence policy.
//!
//! The host reads them from the pipeline's policy file (whose digest it
//! pins) and hands them to the stage as JSON in `stage-input.policy-rules`;
//! the stage never reads the policy file itself. The JSON is:
//!
//! ```json
//! {
//!   "suppress": [{"id": "RUSTSEC-2020-0071", "ecosystem": "crates.io",
//!                 "package": "time", "version": "0.1.45",
//!                 "reason": "…", "expires": "2027-03-31",
//!                 "status": "not_affected",
//!                 "justification": "vulnerable_code_not_in_execute_path"}],
//!   "licences": {"allow": ["MIT", "Apache-2.0"], "deny": ["GPL-3.0-only"],
//!                "unknown": "warn"}
//! }
//! ```
//!
//! Every key but `suppress[].id`, `package`, `reason` and `expires` may be
//! left out; `{}` means no rules. [`suppress`] applies suppressions to a
//! scan's report and [`licence`] checks packages' licences; both only
//! record what they did in a [`PolicyReport`], which the scan writes
//! beside its findings.

pub mod cargo_metadata;
pub mod licence;
pub mod suppress;

use serde::{Deserialize, Serialize};

/// A calendar date, as suppressions expire on.
pub use time::Date;

pub use licence::{LicenceReport, LicenceRules, LicenceStatus, UnknownLicences};
pub use suppress::{Suppression, SuppressionReport, SuppressionState};

/// The rules as the host hands them over.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRules {
    /// Findings the policy accepts for a while, in policy file order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suppress: Vec<Suppression>,
    /// The licence policy, when the policy file has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licences: Option<LicenceRules>,
}

impl PolicyRules {
    /// Parses and checks the JSON of `stage-input.policy-rules`; an empty
    /// string counts as `{}`.
    ///
    /// # Errors
    ///
    /// A message naming the first key that is missing, unknown or invalid
    /// (an unknown SPDX licence id, a malformed date, an empty reason).
    pub fn parse(json: &str) -> Result<Self, String> {
        if json.trim().is_empty() {
            return Ok(Self::default());
        }
        let rules: Self = serde_json::from_str(json).map_err(|error| error.to_string())?;
        for (position, suppression) in rules.suppress.iter().enumerate() {
            suppression
                .check()
                .map_err(|problem| format!("`suppress[{position}]`: {problem}"))?;
        }
        if let Some(licences) = &rules.licences {
            licences
                .check()
                .map_err(|problem| format!("`licences`: {problem}"))?;
        }
        Ok(rules)
    }

    /// Whether there is nothing to apply.
    pub fn is_empty(&self) -> bool {
        self.suppress.is_empty() && self.licences.is_none()
    }
}

/// What applying the rules did, written into `findings.json` beside the
/// scan's own report (see [`suppress`] and [`licence`] for the keys).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct PolicyReport {
    /// The findings and warnings suppressions took out, and each
    /// suppression's state.
    #[serde(flatten)]
    pub suppressions: SuppressionReport,
    /// Every package's licence, checked; absent without a licence policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub licences: Option<LicenceReport>,
}

/// Reads a calendar date written `YYYY-MM-DD`.
///
/// # Errors
///
/// Says what is wrong: the form, or a month or day that does not exist.
pub fn parse_date(text: &str) -> Result<time::Date, String> {
    let invalid = || format!("`{text}` is not a date written YYYY-MM-DD");
    let parts: Vec<&str> = text.split('-').collect();
    let [year, month, day] = parts[..] else {
        return Err(invalid());
    };
    let digits =
        |part: &str, len: usize| part.len() == len && part.bytes().all(|b| b.is_ascii_digit());
    if !(digits(year, 4) && digits(month, 2) && digits(day, 2)) {
        return Err(invalid());
    }
    let number = |part: &str| part.parse::<u8>().map_err(|_| invalid());
    let month = time::Month::try_from(number(month)?)
        .map_err(|_| format!("`{text}` has no month {month}"))?;
    let year: i32 = year.parse().map_err(|_| invalid())?;
    time::Date::from_calendar_date(year, month, number(day)?)
        .map_err(|_| format!("`{text}` is not a day of the calendar"))
}

/// Writes a date as `YYYY-MM-DD`.
pub fn format_date(date: time::Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// Today's date in UTC, from the system clock.
pub fn today_utc() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

/// Serde for dates written `YYYY-MM-DD`.
mod date_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(date: &time::Date, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&super::format_date(*date))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<time::Date, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_date(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_read_and_written_as_iso_calendar_dates() {
        let date = parse_date("2028-02-29").unwrap();
        assert_eq!(format_date(date), "2028-02-29");
        assert!(parse_date("2027-02-29").unwrap_err().contains("not a day"));
        assert!(
            parse_date("2027-13-01")
                .unwrap_err()
                .contains("no month 13")
        );
        for bad in [
            "2027-3-31",
            "27-03-31",
            "2027/03/31",
            "2027-03-31T00:00:00",
            "",
        ] {
            assert!(parse_date(bad).unwrap_err().contains("YYYY-MM-DD"), "{bad}");
        }
    }

    #[test]
    fn empty_rules_are_no_rules() {
        assert!(PolicyRules::parse("").unwrap().is_empty());
        assert!(PolicyRules::parse("{}").unwrap().is_empty());
    }

    #[test]
    fn the_documented_rules_are_read() {
        let json = r#"{
          "suppress": [{"id": "RUSTSEC-2020-0071", "ecosystem": "crates.io",
                        "package": "time", "version": "0.1.45",
                        "reason": "not reachable", "expires": "2027-03-31",
                        "status": "not_affected",
                        "justification": "vulnerable_code_not_in_execute_path"}],
          "licences": {"allow": ["MIT", "Apache-2.0"], "deny": ["GPL-3.0-only"],
                       "unknown": "fail"}
        }"#;
        let rules = PolicyRules::parse(json).unwrap();
        assert_eq!(rules.suppress[0].expires, parse_date("2027-03-31").unwrap());
        let licences = rules.licences.unwrap();
        assert_eq!(licences.unknown, UnknownLicences::Fail);
        assert_eq!(licences.allow.as_deref().map(<[_]>::len), Some(2));
    }

    #[test]
    fn bad_rules_name_their_key() {
        let cases = [
            (r#"{"suppres": []}"#, "unknown field `suppres`"),
            (
                r#"{"suppress": [{"id": "A", "package": "p", "reason": " ",
                    "expires": "2027-01-01"}]}"#,
                "`suppress[0]`: `reason` is empty",
            ),
            (
                r#"{"suppress": [{"id": "A", "package": "p", "reason": "r",
                    "expires": "2027-01-32"}]}"#,
                "not a day",
            ),
            (
                r#"{"licences": {"allow": ["MIT", "Apache 2"]}}"#,
                "`licences`: `allow`: `Apache 2` is not an SPDX licence id",
            ),
        ];
        for (json, expected) in cases {
            let err = PolicyRules::parse(json).unwrap_err();
            assert!(err.contains(expected), "{json}: {err}");
        }
    }
}
