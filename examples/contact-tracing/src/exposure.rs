//! Exposure reports: what a phone sends, how it is checked, how risky it is.
//!
//! A report says that a device (`reporter`) was near another (`contact`) at
//! some time, for some minutes, at some estimated distance. Devices are named
//! by rotating proximity identifiers, never by anything that identifies a
//! person, so the service stores identifiers and measurements only.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::Timespec;

/// Length of a proximity identifier: 16 bytes, written as lowercase hex.
const IDENTIFIER_HEX_LEN: usize = 32;

/// A contact reported up to this far in the future is accepted, because
/// phone clocks drift.
const CLOCK_SKEW_SECS: i64 = 5 * 60;

/// Longest contact one report may describe: a day.
const MAX_DURATION_MINUTES: u32 = 24 * 60;

/// Farther than this, Bluetooth attenuation no longer means proximity.
const MAX_DISTANCE_METERS: f64 = 50.0;

/// The close-contact rule: within about six feet (2 m) for 15 minutes or more.
const CLOSE_CONTACT_METERS: f64 = 2.0;
const CLOSE_CONTACT_MINUTES: u32 = 15;

/// The JSON body of `POST /exposures`, as sent by a device.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExposureReport {
    /// Proximity identifier of the reporting device.
    pub reporter: String,
    /// Proximity identifier of the device it was near.
    pub contact: String,
    /// When the contact began, RFC 3339 in UTC (`2026-11-02T14:30:00Z`).
    pub contact_at: String,
    /// How long the devices stayed near each other.
    pub duration_minutes: u32,
    /// Estimated distance between the devices.
    pub distance_meters: f64,
}

/// How much an exposure matters to a contact tracer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Risk {
    /// Close enough for long enough to warrant notification.
    CloseContact,
    /// Recorded, but below the close-contact rule.
    Proximity,
}

/// A checked report, as kept by the store.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Exposure {
    /// Server-assigned identifier, unique for the life of the process.
    pub id: u64,
    /// Proximity identifier of the reporting device.
    pub reporter: String,
    /// Proximity identifier of the device it was near.
    pub contact: String,
    /// When the contact began, RFC 3339 in UTC.
    pub contact_at: String,
    /// How long the devices stayed near each other.
    pub duration_minutes: u32,
    /// Estimated distance between the devices.
    pub distance_meters: f64,
    /// The close-contact rule applied to this exposure.
    pub risk: Risk,
    /// When the service received the report, RFC 3339 in UTC.
    pub recorded_at: String,
    /// When the service forgets the exposure, RFC 3339 in UTC.
    pub expires_at: String,
    /// `expires_at` as seconds since the epoch, for the store's clock checks.
    #[serde(skip)]
    pub expires_at_secs: i64,
}

/// Why a report was refused; the message goes back to the device.
#[derive(Debug, Clone, PartialEq)]
pub enum ReportError {
    /// An identifier is not 32 lowercase hex digits.
    BadIdentifier { field: &'static str },
    /// A device reported contact with itself.
    SelfContact,
    /// `contact_at` is not an RFC 3339 UTC timestamp.
    BadTimestamp { text: String },
    /// The contact starts after the service's clock, beyond the skew allowance.
    InFuture { contact_at: String },
    /// The contact is older than the retention window.
    Expired { contact_at: String },
    /// Duration is zero or longer than a day.
    BadDuration { minutes: u32 },
    /// Distance is negative, not a number, or too far to be proximity.
    BadDistance { meters: f64 },
}

impl fmt::Display for ReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadIdentifier { field } => {
                write!(
                    f,
                    "`{field}` must be {IDENTIFIER_HEX_LEN} lowercase hex digits"
                )
            }
            Self::SelfContact => f.write_str("`reporter` and `contact` must differ"),
            Self::BadTimestamp { text } => {
                write!(
                    f,
                    "`contact_at` `{text}` is not a UTC time like 2026-11-02T14:30:00Z"
                )
            }
            Self::InFuture { contact_at } => {
                write!(f, "`contact_at` {contact_at} is in the future")
            }
            Self::Expired { contact_at } => {
                write!(
                    f,
                    "`contact_at` {contact_at} is older than the retention window"
                )
            }
            Self::BadDuration { minutes } => write!(
                f,
                "`duration_minutes` {minutes} must be between 1 and {MAX_DURATION_MINUTES}"
            ),
            Self::BadDistance { meters } => write!(
                f,
                "`distance_meters` {meters} must be between 0 and {MAX_DISTANCE_METERS}"
            ),
        }
    }
}

impl std::error::Error for ReportError {}

/// Checks a report against the service's clock and retention window.
///
/// `id` is the identifier the store will use if the report is accepted.
///
/// # Errors
///
/// Returns the first problem found, in field order.
pub fn accept_report(
    report: ExposureReport,
    id: u64,
    now: Timespec,
    retention: Duration,
) -> Result<Exposure, ReportError> {
    check_identifier("reporter", &report.reporter)?;
    check_identifier("contact", &report.contact)?;
    if report.reporter == report.contact {
        return Err(ReportError::SelfContact);
    }

    let contact_at = parse_utc(&report.contact_at)?;
    let expires_at_secs = contact_at.sec.saturating_add(retention_secs(retention));
    check_contact_time(&report.contact_at, contact_at, expires_at_secs, now)?;
    check_measurements(report.duration_minutes, report.distance_meters)?;

    Ok(Exposure {
        id,
        risk: classify(report.duration_minutes, report.distance_meters),
        contact_at: format_utc(contact_at),
        recorded_at: format_utc(now),
        expires_at: format_utc(Timespec::new(expires_at_secs, 0)),
        expires_at_secs,
        reporter: report.reporter,
        contact: report.contact,
        duration_minutes: report.duration_minutes,
        distance_meters: report.distance_meters,
    })
}

/// Applies the close-contact rule.
pub fn classify(duration_minutes: u32, distance_meters: f64) -> Risk {
    if duration_minutes >= CLOSE_CONTACT_MINUTES && distance_meters <= CLOSE_CONTACT_METERS {
        Risk::CloseContact
    } else {
        Risk::Proximity
    }
}

/// Parses `YYYY-MM-DDTHH:MM:SSZ`, refusing dates that do not exist.
///
/// # Errors
///
/// Returns [`ReportError::BadTimestamp`] for anything else, including
/// offsets other than `Z`, fractional seconds, and dates such as 31 February.
pub fn parse_utc(text: &str) -> Result<Timespec, ReportError> {
    let bad = || ReportError::BadTimestamp {
        text: text.to_owned(),
    };
    // `strptime` stops at the end of the format and ignores what follows, so
    // the exact length is checked first.
    if text.len() != "2026-11-02T14:30:00Z".len() {
        return Err(bad());
    }
    let parsed = time::strptime(text, "%Y-%m-%dT%H:%M:%SZ").map_err(|_| bad())?;
    let instant = parsed.to_timespec();

    // Converting back catches days the calendar does not have: the C library
    // silently rolls 31 February over into March.
    let round_trip = time::at_utc(instant);
    if (round_trip.tm_mday, round_trip.tm_mon) != (parsed.tm_mday, parsed.tm_mon) {
        return Err(bad());
    }
    Ok(instant)
}

/// Formats an instant as RFC 3339 in UTC, to the second.
pub fn format_utc(instant: Timespec) -> String {
    time::at_utc(Timespec::new(instant.sec, 0))
        .rfc3339()
        .to_string()
}

fn check_identifier(field: &'static str, value: &str) -> Result<(), ReportError> {
    let is_hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
    if value.len() == IDENTIFIER_HEX_LEN && value.chars().all(is_hex) {
        Ok(())
    } else {
        Err(ReportError::BadIdentifier { field })
    }
}

fn check_contact_time(
    text: &str,
    contact_at: Timespec,
    expires_at_secs: i64,
    now: Timespec,
) -> Result<(), ReportError> {
    if contact_at.sec > now.sec.saturating_add(CLOCK_SKEW_SECS) {
        return Err(ReportError::InFuture {
            contact_at: text.to_owned(),
        });
    }
    if expires_at_secs <= now.sec {
        return Err(ReportError::Expired {
            contact_at: text.to_owned(),
        });
    }
    Ok(())
}

fn check_measurements(minutes: u32, meters: f64) -> Result<(), ReportError> {
    if minutes == 0 || minutes > MAX_DURATION_MINUTES {
        return Err(ReportError::BadDuration { minutes });
    }
    // Written so that NaN fails too: every comparison with NaN is false.
    if !(0.0..=MAX_DISTANCE_METERS).contains(&meters) {
        return Err(ReportError::BadDistance { meters });
    }
    Ok(())
}

fn retention_secs(retention: Duration) -> i64 {
    i64::try_from(retention.as_secs()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FOURTEEN_DAYS: Duration = Duration::from_secs(14 * 24 * 3600);

    fn at(text: &str) -> Timespec {
        parse_utc(text).unwrap()
    }

    fn report(contact_at: &str, minutes: u32, meters: f64) -> ExposureReport {
        ExposureReport {
            reporter: "0123456789abcdef0123456789abcdef".to_owned(),
            contact: "fedcba9876543210fedcba9876543210".to_owned(),
            contact_at: contact_at.to_owned(),
            duration_minutes: minutes,
            distance_meters: meters,
        }
    }

    #[test]
    fn utc_timestamps_round_trip_through_parse_and_format() {
        let instant = at("2026-11-02T14:30:00Z");
        assert_eq!(instant.sec, 1_793_629_800);
        assert_eq!(format_utc(instant), "2026-11-02T14:30:00Z");
        assert_eq!(at("2028-02-29T00:00:00Z").sec, 1_835_395_200);
    }

    #[test]
    fn timestamps_that_are_not_plain_utc_or_not_real_dates_are_refused() {
        for text in [
            "2026-11-02T14:30:00+02:00",
            "2026-11-02T14:30:00.5Z",
            "2026-11-02 14:30:00Z",
            "2026-02-31T10:00:00Z",
            "2027-02-29T10:00:00Z",
            "2026-13-01T10:00:00Z",
            "yesterday",
        ] {
            assert!(
                matches!(parse_utc(text), Err(ReportError::BadTimestamp { .. })),
                "{text} was accepted"
            );
        }
    }

    #[test]
    fn close_contact_needs_both_fifteen_minutes_and_two_meters() {
        assert_eq!(classify(15, 2.0), Risk::CloseContact);
        assert_eq!(classify(90, 0.5), Risk::CloseContact);
        assert_eq!(classify(14, 1.0), Risk::Proximity);
        assert_eq!(classify(60, 2.5), Risk::Proximity);
    }

    #[test]
    fn accepted_report_is_stamped_and_expires_after_the_retention_window() {
        let now = at("2026-11-03T09:00:00Z");
        let exposure = accept_report(
            report("2026-11-02T14:30:00Z", 20, 1.5),
            7,
            now,
            FOURTEEN_DAYS,
        )
        .unwrap();
        assert_eq!(exposure.id, 7);
        assert_eq!(exposure.risk, Risk::CloseContact);
        assert_eq!(exposure.recorded_at, "2026-11-03T09:00:00Z");
        assert_eq!(exposure.expires_at, "2026-11-16T14:30:00Z");
        assert_eq!(exposure.expires_at_secs, at("2026-11-16T14:30:00Z").sec);
    }

    #[test]
    fn contacts_older_than_retention_or_from_the_future_are_refused() {
        let now = at("2026-11-20T00:00:00Z");
        let old = accept_report(
            report("2026-11-05T23:59:59Z", 20, 1.0),
            1,
            now,
            FOURTEEN_DAYS,
        );
        assert!(matches!(old, Err(ReportError::Expired { .. })), "{old:?}");

        let skewed = accept_report(
            report("2026-11-20T00:04:00Z", 20, 1.0),
            1,
            now,
            FOURTEEN_DAYS,
        );
        assert!(
            skewed.is_ok(),
            "a small clock skew is tolerated: {skewed:?}"
        );

        let future = accept_report(
            report("2026-11-20T01:00:00Z", 20, 1.0),
            1,
            now,
            FOURTEEN_DAYS,
        );
        assert!(
            matches!(future, Err(ReportError::InFuture { .. })),
            "{future:?}"
        );
    }

    #[test]
    fn malformed_identifiers_and_self_contact_are_refused() {
        let now = at("2026-11-03T09:00:00Z");
        let mut upper = report("2026-11-02T14:30:00Z", 20, 1.0);
        upper.contact = upper.contact.to_uppercase();
        let err = accept_report(upper, 1, now, FOURTEEN_DAYS).unwrap_err();
        assert_eq!(err, ReportError::BadIdentifier { field: "contact" });

        let mut same = report("2026-11-02T14:30:00Z", 20, 1.0);
        same.contact = same.reporter.clone();
        let err = accept_report(same, 1, now, FOURTEEN_DAYS).unwrap_err();
        assert_eq!(err.to_string(), "`reporter` and `contact` must differ");
    }

    #[test]
    fn impossible_measurements_are_refused() {
        let now = at("2026-11-03T09:00:00Z");
        for (minutes, meters) in [
            (0, 1.0),
            (1441, 1.0),
            (20, -0.1),
            (20, 51.0),
            (20, f64::NAN),
        ] {
            let result = accept_report(
                report("2026-11-02T14:30:00Z", minutes, meters),
                1,
                now,
                FOURTEEN_DAYS,
            );
            assert!(result.is_err(), "{minutes} min at {meters} m was accepted");
        }
    }
}
