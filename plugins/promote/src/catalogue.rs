//! The service catalogue: which versions of each service were promoted and
//! how traffic is split between them.
//!
//! `catalogue.json` sits at the registry's root:
//!
//! ```json
//! {"services": {"contact-tracing": {
//!   "stable": {"version": "0.1.0", "weight": 90},
//!   "canary": {"version": "0.2.0", "weight": 10},
//!   "versions": [{"version": "0.1.0", "image-digest": "sha256:…", …}, …]}}}
//! ```
//!
//! The routing rule: a new version becomes the canary with `canary-weight`
//! percent and the current stable keeps the rest, replacing any earlier
//! canary. The first version of a service has no stable to split with, so
//! it becomes the stable with all traffic; a weight of 100 is a full
//! rollout that makes the new version the stable. Promoting the stable
//! version again changes no traffic.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The whole catalogue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalogue {
    #[serde(default)]
    pub services: BTreeMap<String, Service>,
}

/// One service: its traffic split and every promotion of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    pub stable: Option<Route>,
    pub canary: Option<Route>,
    #[serde(default)]
    pub versions: Vec<VersionRecord>,
}

/// A version and its share of traffic, in percent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    pub version: String,
    pub weight: u8,
}

/// One promotion, as recorded in the catalogue and in `promotion.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct VersionRecord {
    pub version: String,
    pub image_digest: String,
    /// The run that promoted it; the catalogue keeps no clock time.
    pub promoted_by_run: String,
    pub ttl: String,
    pub canary_weight: u8,
    /// How the version was routed when promoted: `stable` or `canary`.
    pub role: String,
    /// Why the traffic split is what it is, for people.
    pub note: String,
}

/// What is being promoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Promotion {
    pub service: String,
    pub version: String,
    pub image_digest: String,
    pub run_id: String,
    pub ttl: String,
    pub canary_weight: u8,
}

impl Catalogue {
    /// Records `promotion`, routes traffic by the module's rule, and
    /// returns the record and the service as they now stand.
    ///
    /// A version promoted again replaces its earlier record.
    pub fn promote(&mut self, promotion: &Promotion) -> (VersionRecord, Service) {
        let service = self.services.entry(promotion.service.clone()).or_default();
        let (role, note) = route(service, &promotion.version, promotion.canary_weight);
        let record = VersionRecord {
            version: promotion.version.clone(),
            image_digest: promotion.image_digest.clone(),
            promoted_by_run: promotion.run_id.clone(),
            ttl: promotion.ttl.clone(),
            canary_weight: promotion.canary_weight,
            role: role.to_owned(),
            note,
        };
        service
            .versions
            .retain(|earlier| earlier.version != promotion.version);
        service.versions.push(record.clone());
        (record, service.clone())
    }
}

/// Updates `service`'s routes for `version`; returns its role and a note.
fn route(service: &mut Service, version: &str, weight: u8) -> (&'static str, String) {
    let Some(stable) = service.stable.clone() else {
        service.stable = Some(Route {
            version: version.to_owned(),
            weight: 100,
        });
        service.canary = None;
        let note = "first version of the service: there is no stable version to split \
                    traffic with, so it takes all traffic";
        return ("stable", note.to_owned());
    };
    if stable.version == version {
        return (
            "stable",
            "the stable version promoted again: traffic is unchanged".to_owned(),
        );
    }
    if weight == 100 {
        service.stable = Some(Route {
            version: version.to_owned(),
            weight: 100,
        });
        service.canary = None;
        return (
            "stable",
            format!("full rollout: replaces stable {}", stable.version),
        );
    }

    let mut note = format!(
        "canary: {weight}% to {version}, {}% stays on stable {}",
        100 - weight,
        stable.version
    );
    if let Some(earlier) = service
        .canary
        .as_ref()
        .filter(|canary| canary.version != version)
    {
        note.push_str(&format!("; replaces canary {}", earlier.version));
    }
    service.stable = Some(Route {
        weight: 100 - weight,
        ..stable
    });
    service.canary = Some(Route {
        version: version.to_owned(),
        weight,
    });
    ("canary", note)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn promotion(version: &str, weight: u8) -> Promotion {
        Promotion {
            service: "contact-tracing".to_owned(),
            version: version.to_owned(),
            image_digest: format!("sha256:{version}"),
            run_id: format!("run-{version}"),
            ttl: "720h".to_owned(),
            canary_weight: weight,
        }
    }

    fn route_of(version: &str, weight: u8) -> Option<Route> {
        Some(Route {
            version: version.to_owned(),
            weight,
        })
    }

    #[test]
    fn first_version_takes_all_traffic_and_says_why() {
        let mut catalogue = Catalogue::default();
        let (record, service) = catalogue.promote(&promotion("0.1.0", 10));
        assert_eq!(service.stable, route_of("0.1.0", 100));
        assert_eq!(service.canary, None);
        assert_eq!(record.role, "stable");
        assert!(
            record.note.contains("no stable version to split"),
            "{}",
            record.note
        );
    }

    #[test]
    fn next_version_is_a_canary_beside_the_stable() {
        let mut catalogue = Catalogue::default();
        catalogue.promote(&promotion("0.1.0", 10));
        let (record, service) = catalogue.promote(&promotion("0.2.0", 10));
        assert_eq!(service.stable, route_of("0.1.0", 90));
        assert_eq!(service.canary, route_of("0.2.0", 10));
        assert_eq!(
            record.note,
            "canary: 10% to 0.2.0, 90% stays on stable 0.1.0"
        );
        assert_eq!(service.versions.len(), 2);
    }

    #[test]
    fn a_newer_canary_replaces_the_older_one() {
        let mut catalogue = Catalogue::default();
        catalogue.promote(&promotion("0.1.0", 10));
        catalogue.promote(&promotion("0.2.0", 10));
        let (record, service) = catalogue.promote(&promotion("0.3.0", 25));
        assert_eq!(service.stable, route_of("0.1.0", 75));
        assert_eq!(service.canary, route_of("0.3.0", 25));
        assert!(
            record.note.ends_with("; replaces canary 0.2.0"),
            "{}",
            record.note
        );
    }

    #[test]
    fn full_weight_rolls_the_version_out_as_stable() {
        let mut catalogue = Catalogue::default();
        catalogue.promote(&promotion("0.1.0", 10));
        catalogue.promote(&promotion("0.2.0", 10));
        let (_, service) = catalogue.promote(&promotion("0.2.0", 100));
        assert_eq!(service.stable, route_of("0.2.0", 100));
        assert_eq!(service.canary, None);
        assert_eq!(
            service.versions.len(),
            2,
            "the re-promoted version is recorded once"
        );
    }

    #[test]
    fn promoting_the_stable_again_keeps_the_split() {
        let mut catalogue = Catalogue::default();
        catalogue.promote(&promotion("0.1.0", 10));
        catalogue.promote(&promotion("0.2.0", 10));
        let (record, service) = catalogue.promote(&promotion("0.1.0", 10));
        assert_eq!(service.stable, route_of("0.1.0", 90));
        assert_eq!(service.canary, route_of("0.2.0", 10));
        assert_eq!(record.role, "stable");
    }

    #[test]
    fn catalogue_round_trips_through_json() {
        let mut catalogue = Catalogue::default();
        catalogue.promote(&promotion("0.1.0", 10));
        let json = serde_json::to_string(&catalogue).unwrap();
        assert!(json.contains(r#""image-digest":"sha256:0.1.0""#), "{json}");
        assert_eq!(serde_json::from_str::<Catalogue>(&json).unwrap(), catalogue);
    }
}
