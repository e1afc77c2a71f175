//! The in-memory exposure store and its retention rule.
//!
//! Exposures live only as long as the process and never past their
//! `expires_at`: forgetting on time is a privacy promise of the service, so
//! expired entries are dropped on every write and hidden on every read.

use std::time::Duration;

use fxhash::FxHashMap;
use time::Timespec;

use crate::exposure::{self, Exposure, ExposureReport, ReportError};

/// Exposures by id, with the retention window they are accepted under.
#[derive(Debug)]
pub struct ExposureStore {
    retention: Duration,
    next_id: u64,
    // Keys are ids this store hands out, never client input, so a fast hash
    // without flooding resistance is safe here.
    by_id: FxHashMap<u64, Exposure>,
}

impl ExposureStore {
    /// Creates an empty store keeping exposures for `retention` after contact.
    pub fn new(retention: Duration) -> Self {
        Self {
            retention,
            next_id: 1,
            by_id: FxHashMap::default(),
        }
    }

    /// The retention window exposures are accepted under.
    pub fn retention(&self) -> Duration {
        self.retention
    }

    /// Checks and records a report, returning the stored exposure.
    ///
    /// Ids start at 1 and are never reused, even after a refusal.
    ///
    /// # Errors
    ///
    /// Returns the reason the report was refused; nothing is stored then.
    pub fn record(
        &mut self,
        report: ExposureReport,
        now: Timespec,
    ) -> Result<&Exposure, ReportError> {
        self.forget_expired(now);
        let id = self.next_id;
        self.next_id += 1;
        let exposure = exposure::accept_report(report, id, now, self.retention)?;
        Ok(self.by_id.entry(id).or_insert(exposure))
    }

    /// Returns the exposure with `id`, unless it is unknown or has expired.
    pub fn get(&self, id: u64, now: Timespec) -> Option<&Exposure> {
        self.by_id
            .get(&id)
            .filter(|exposure| exposure.expires_at_secs > now.sec)
    }

    /// Counts the exposures still within retention at `now`.
    pub fn live_count(&self, now: Timespec) -> usize {
        self.by_id
            .values()
            .filter(|exposure| exposure.expires_at_secs > now.sec)
            .count()
    }

    fn forget_expired(&mut self, now: Timespec) {
        self.by_id
            .retain(|_, exposure| exposure.expires_at_secs > now.sec);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposure::parse_utc;

    fn report(contact: &str, contact_at: &str) -> ExposureReport {
        ExposureReport {
            reporter: "0123456789abcdef0123456789abcdef".to_owned(),
            contact: contact.to_owned(),
            contact_at: contact_at.to_owned(),
            duration_minutes: 30,
            distance_meters: 1.0,
        }
    }

    #[test]
    fn ids_are_sequential_and_not_reused_after_a_refusal() {
        let mut store = ExposureStore::new(Duration::from_secs(86_400));
        let now = parse_utc("2026-11-02T15:00:00Z").unwrap();
        let first = store
            .record(report(&"a".repeat(32), "2026-11-02T14:00:00Z"), now)
            .unwrap()
            .id;
        assert!(store
            .record(report("not-hex", "2026-11-02T14:00:00Z"), now)
            .is_err());
        let third = store
            .record(report(&"b".repeat(32), "2026-11-02T14:00:00Z"), now)
            .unwrap()
            .id;
        assert_eq!((first, third), (1, 3));
        assert_eq!(store.live_count(now), 2);
        assert_eq!(
            store.get(3, now).map(|e| e.contact.as_str()),
            Some("b".repeat(32).as_str())
        );
        assert!(store.get(2, now).is_none());
    }

    #[test]
    fn expired_exposures_are_hidden_then_forgotten() {
        let mut store = ExposureStore::new(Duration::from_secs(3_600));
        let noon = parse_utc("2026-11-02T12:00:00Z").unwrap();
        let id = store
            .record(report(&"a".repeat(32), "2026-11-02T11:30:00Z"), noon)
            .unwrap()
            .id;
        assert!(store.get(id, noon).is_some());

        let later = parse_utc("2026-11-02T12:30:00Z").unwrap();
        assert!(store.get(id, later).is_none(), "visible at its expiry time");
        assert_eq!(store.live_count(later), 0);

        store
            .record(report(&"b".repeat(32), "2026-11-02T12:20:00Z"), later)
            .unwrap();
        assert_eq!(
            store.by_id.len(),
            1,
            "the expired exposure was kept after a write"
        );
    }
}
