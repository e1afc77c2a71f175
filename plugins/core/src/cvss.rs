//! CVSS v3.0, v3.1 and v4.0 scores computed from vector strings.
//!
//! OSV advisories carry severity as a CVSS vector, not as a number, so the
//! scan stage scores each vector itself. [`CvssV3::parse`] reads a vector
//! such as `CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H`,
//! [`CvssV3::base_score`] applies the base equations of the CVSS v3.1
//! specification (section 7.1), and [`Rating::from_score`] maps the score to
//! the qualitative scale of section 5.
//!
//! Both versions are scored with the v3.1 `Roundup` function (appendix A).
//! The base equations did not change between 3.0 and 3.1; the new `Roundup`
//! only removes floating-point artefacts that made the 3.0 function round
//! some exact scores up by a tenth.
//!
//! Temporal and environmental metrics are accepted and validated but do not
//! change the base score.
//!
//! CVSS v4.0 replaced the equations with a table of macro-vectors and an
//! interpolation between them; [`score_v4`] leaves that to the RustSec
//! `cvss` crate, which implements the specification's reference
//! calculator, and checks its results against the specification's
//! published examples in the tests below.

use std::collections::BTreeMap;
use std::fmt;

/// Why a vector string could not be scored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CvssError {
    /// The vector does not start with `CVSS:3.0/` or `CVSS:3.1/`.
    #[error("CVSS vector `{vector}` is not version 3.0 or 3.1")]
    UnsupportedVersion {
        /// The whole vector.
        vector: String,
    },
    /// A part between slashes is not `METRIC:VALUE`.
    #[error("CVSS vector `{vector}`: malformed part `{part}`, expected `METRIC:VALUE`")]
    MalformedPart {
        /// The whole vector.
        vector: String,
        /// The offending part.
        part: String,
    },
    /// A metric that CVSS v3 does not define.
    #[error("CVSS vector `{vector}`: unknown metric `{metric}`")]
    UnknownMetric {
        /// The whole vector.
        vector: String,
        /// The metric's abbreviation as written.
        metric: String,
    },
    /// A metric given more than once.
    #[error("CVSS vector `{vector}`: metric `{metric}` appears more than once")]
    DuplicateMetric {
        /// The whole vector.
        vector: String,
        /// The metric's abbreviation.
        metric: String,
    },
    /// A value the metric does not allow.
    #[error("CVSS vector `{vector}`: invalid value `{value}` for metric `{metric}`")]
    InvalidValue {
        /// The whole vector.
        vector: String,
        /// The metric's abbreviation.
        metric: String,
        /// The value as written.
        value: String,
    },
    /// A CVSS v4.0 vector that does not parse.
    #[error("CVSS vector `{vector}`: {message}")]
    InvalidV4 {
        /// The whole vector.
        vector: String,
        /// What the parser said.
        message: String,
    },
    /// A base metric the vector leaves out.
    #[error("CVSS vector `{vector}`: missing base metric `{metric}`")]
    MissingMetric {
        /// The whole vector.
        vector: String,
        /// The metric's abbreviation.
        metric: &'static str,
    },
}

/// The minor version a vector declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `CVSS:3.0/`.
    V3_0,
    /// `CVSS:3.1/`.
    V3_1,
}

/// A base score in tenths, from 0.0 to 10.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Score(u8);

impl Score {
    /// The score in tenths (98 for 9.8).
    pub fn tenths(self) -> u8 {
        self.0
    }

    /// The score as a number (9.8).
    pub fn value(self) -> f64 {
        f64::from(self.0) / 10.0
    }
}

impl fmt::Display for Score {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0 / 10, self.0 % 10)
    }
}

/// The qualitative severity of a score (CVSS v3.1, section 5).
///
/// `None` is the rating of 0.0, a vulnerability with no impact on
/// confidentiality, integrity or availability. The scan stage reports such
/// advisories as `low`: an advisory was still published, and a rating below
/// `low` would let it pass every threshold unnoticed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rating {
    /// 0.0.
    None,
    /// 0.1 to 3.9.
    Low,
    /// 4.0 to 6.9.
    Medium,
    /// 7.0 to 8.9.
    High,
    /// 9.0 to 10.0.
    Critical,
}

impl Rating {
    /// The rating of `score`.
    pub fn from_score(score: Score) -> Self {
        match score.tenths() {
            0 => Self::None,
            1..=39 => Self::Low,
            40..=69 => Self::Medium,
            70..=89 => Self::High,
            _ => Self::Critical,
        }
    }
}

/// The eight base metrics of a parsed v3 vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CvssV3 {
    /// The declared version.
    pub version: Version,
    attack_vector: char,
    attack_complexity: char,
    privileges_required: char,
    user_interaction: char,
    scope_changed: bool,
    confidentiality: char,
    integrity: char,
    availability: char,
}

/// Each metric v3 defines, with the values it allows: the eight base
/// metrics, then the temporal and environmental ones.
const METRICS: &[(&str, &str)] = &[
    ("AV", "NALP"),
    ("AC", "LH"),
    ("PR", "NLH"),
    ("UI", "NR"),
    ("S", "UC"),
    ("C", "HLN"),
    ("I", "HLN"),
    ("A", "HLN"),
    ("E", "XUPFH"),
    ("RL", "XOTWU"),
    ("RC", "XURC"),
    ("CR", "XLMH"),
    ("IR", "XLMH"),
    ("AR", "XLMH"),
    ("MAV", "XNALP"),
    ("MAC", "XLH"),
    ("MPR", "XNLH"),
    ("MUI", "XNR"),
    ("MS", "XUC"),
    ("MC", "XNLH"),
    ("MI", "XNLH"),
    ("MA", "XNLH"),
];

impl CvssV3 {
    /// Parses a `CVSS:3.0/…` or `CVSS:3.1/…` vector.
    ///
    /// Metrics may come in any order; temporal and environmental metrics are
    /// checked and then ignored.
    ///
    /// # Errors
    ///
    /// [`CvssError`] for another version prefix, a malformed part, an unknown
    /// or repeated metric, a value the metric does not allow, or a missing
    /// base metric.
    pub fn parse(vector: &str) -> Result<Self, CvssError> {
        let (version, rest) = split_version(vector)?;
        let values = parse_metrics(vector, rest)?;
        let base = |metric: &'static str| {
            values
                .get(metric)
                .copied()
                .ok_or_else(|| CvssError::MissingMetric {
                    vector: vector.to_owned(),
                    metric,
                })
        };
        Ok(Self {
            version,
            attack_vector: base("AV")?,
            attack_complexity: base("AC")?,
            privileges_required: base("PR")?,
            user_interaction: base("UI")?,
            scope_changed: base("S")? == 'C',
            confidentiality: base("C")?,
            integrity: base("I")?,
            availability: base("A")?,
        })
    }

    /// The base score (CVSS v3.1, section 7.1).
    pub fn base_score(&self) -> Score {
        let impact = self.impact();
        if impact <= 0.0 {
            return Score(0);
        }
        let total = impact + self.exploitability();
        let total = if self.scope_changed {
            1.08 * total
        } else {
            total
        };
        Score(roundup(total.min(10.0)))
    }

    fn impact(&self) -> f64 {
        let iss = 1.0
            - (1.0 - impact_weight(self.confidentiality))
                * (1.0 - impact_weight(self.integrity))
                * (1.0 - impact_weight(self.availability));
        if self.scope_changed {
            7.52 * (iss - 0.029) - 3.25 * (iss - 0.02).powi(15)
        } else {
            6.42 * iss
        }
    }

    fn exploitability(&self) -> f64 {
        let attack_vector = match self.attack_vector {
            'N' => 0.85,
            'A' => 0.62,
            'L' => 0.55,
            _ => 0.2,
        };
        let attack_complexity = if self.attack_complexity == 'L' {
            0.77
        } else {
            0.44
        };
        let privileges = match (self.privileges_required, self.scope_changed) {
            ('N', _) => 0.85,
            ('L', false) => 0.62,
            ('L', true) => 0.68,
            (_, false) => 0.27,
            (_, true) => 0.5,
        };
        let user_interaction = if self.user_interaction == 'N' {
            0.85
        } else {
            0.62
        };
        8.22 * attack_vector * attack_complexity * privileges * user_interaction
    }
}

/// Scores a vector in one step: [`CvssV3::parse`] then
/// [`CvssV3::base_score`].
///
/// # Errors
///
/// As [`CvssV3::parse`].
pub fn base_score(vector: &str) -> Result<Score, CvssError> {
    Ok(CvssV3::parse(vector)?.base_score())
}

/// Scores a CVSS v4.0 vector (`CVSS:4.0/AV:N/…`): CVSS-B for base metrics
/// only, CVSS-BT, -BE or -BTE when threat or environmental metrics are
/// given, rounded to one decimal as the specification rounds it.
///
/// # Errors
///
/// [`CvssError::UnsupportedVersion`] when the vector is not v4.0, and
/// [`CvssError::InvalidV4`] when it does not parse.
pub fn score_v4(vector: &str) -> Result<Score, CvssError> {
    if !vector.starts_with("CVSS:4.0/") {
        return Err(CvssError::UnsupportedVersion {
            vector: vector.to_owned(),
        });
    }
    let parsed: cvss_scoring::v4::Vector =
        vector
            .parse()
            .map_err(|error: cvss_scoring::Error| CvssError::InvalidV4 {
                vector: vector.to_owned(),
                message: error.to_string(),
            })?;
    let tenths = (parsed.score().value() * 10.0).round().clamp(0.0, 100.0);
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "clamped to 0..=100 just above"
    )]
    Ok(Score(tenths as u8))
}

fn split_version(vector: &str) -> Result<(Version, &str), CvssError> {
    if let Some(rest) = vector.strip_prefix("CVSS:3.1/") {
        Ok((Version::V3_1, rest))
    } else if let Some(rest) = vector.strip_prefix("CVSS:3.0/") {
        Ok((Version::V3_0, rest))
    } else {
        Err(CvssError::UnsupportedVersion {
            vector: vector.to_owned(),
        })
    }
}

/// Reads `METRIC:VALUE` parts into a map keyed by the metric's
/// abbreviation, checking each against [`METRICS`].
fn parse_metrics(vector: &str, rest: &str) -> Result<BTreeMap<&'static str, char>, CvssError> {
    let mut values = BTreeMap::new();
    for part in rest.split('/') {
        let (metric, value) = parse_part(vector, part)?;
        if values.insert(metric, value).is_some() {
            return Err(CvssError::DuplicateMetric {
                vector: vector.to_owned(),
                metric: metric.to_owned(),
            });
        }
    }
    Ok(values)
}

fn parse_part(vector: &str, part: &str) -> Result<(&'static str, char), CvssError> {
    let Some((metric, value)) = part.split_once(':') else {
        return Err(CvssError::MalformedPart {
            vector: vector.to_owned(),
            part: part.to_owned(),
        });
    };
    let Some(&(name, allowed)) = METRICS.iter().find(|(name, _)| *name == metric) else {
        return Err(CvssError::UnknownMetric {
            vector: vector.to_owned(),
            metric: metric.to_owned(),
        });
    };
    let mut chars = value.chars();
    match (chars.next(), chars.next()) {
        (Some(letter), None) if allowed.contains(letter) => Ok((name, letter)),
        _ => Err(CvssError::InvalidValue {
            vector: vector.to_owned(),
            metric: name.to_owned(),
            value: value.to_owned(),
        }),
    }
}

fn impact_weight(value: char) -> f64 {
    match value {
        'H' => 0.56,
        'L' => 0.22,
        _ => 0.0,
    }
}

/// The v3.1 `Roundup`: the smallest number of tenths at or above `value`,
/// computed on integers so that 4.000000000000001 is 4.0, not 4.1.
fn roundup(value: f64) -> u8 {
    // The score is at most 10, so a hundred-thousandth count fits easily.
    let hundred_thousandths = (value * 100_000.0).round() as u32;
    let tenths = hundred_thousandths.div_ceil(10_000);
    u8::try_from(tenths).unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vectors and base scores published in FIRST's "CVSS v3.1: Examples"
    /// document; each agrees with an independent implementation of the
    /// equations as well.
    const PUBLISHED: &[(&str, &str, &str)] = &[
        (
            "CVE-2013-1937",
            "AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N",
            "6.1",
        ),
        (
            "CVE-2013-0375",
            "AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N",
            "6.4",
        ),
        (
            "CVE-2014-3566",
            "AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N",
            "3.1",
        ),
        (
            "CVE-2012-1516",
            "AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H",
            "9.9",
        ),
        (
            "CVE-2009-0783",
            "AV:L/AC:L/PR:H/UI:N/S:U/C:L/I:L/A:L",
            "4.2",
        ),
        (
            "CVE-2014-0160",
            "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
            "7.5",
        ),
        (
            "CVE-2014-6271",
            "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "9.8",
        ),
        (
            "CVE-2008-1447",
            "AV:N/AC:H/PR:N/UI:N/S:C/C:N/I:H/A:N",
            "6.8",
        ),
        (
            "CVE-2014-2005",
            "AV:P/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "6.8",
        ),
        (
            "CVE-2010-0467",
            "AV:N/AC:L/PR:N/UI:N/S:C/C:L/I:N/A:N",
            "5.8",
        ),
        (
            "CVE-2013-6014",
            "AV:A/AC:L/PR:N/UI:N/S:C/C:N/I:H/A:H",
            "9.3",
        ),
        (
            "CVE-2015-1098",
            "AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H",
            "7.8",
        ),
        (
            "CVE-2014-2019",
            "AV:P/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:N",
            "4.6",
        ),
        (
            "CVE-2014-0224",
            "AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:N",
            "7.4",
        ),
        (
            "CVE-2012-5376",
            "AV:N/AC:L/PR:N/UI:R/S:C/C:H/I:H/A:H",
            "9.6",
        ),
    ];

    #[test]
    fn published_v3_1_examples_score_as_published() {
        for (cve, metrics, expected) in PUBLISHED {
            let score = base_score(&format!("CVSS:3.1/{metrics}")).unwrap();
            assert_eq!(score.to_string(), *expected, "{cve}");
        }
    }

    #[test]
    fn v3_0_vectors_score_with_the_same_equations() {
        // RUSTSEC-2016-0001 (CVE-2016-10931), scored 8.1 by NVD.
        let vector = "CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H";
        let cvss = CvssV3::parse(vector).unwrap();
        assert_eq!(cvss.version, Version::V3_0);
        assert_eq!(cvss.base_score().to_string(), "8.1");
    }

    #[test]
    fn local_high_complexity_availability_loss_scores_5_1() {
        let score = base_score("CVSS:3.1/AV:L/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:H").unwrap();
        assert_eq!(score.tenths(), 51);
    }

    #[test]
    fn no_impact_scores_zero_and_rates_none() {
        let score = base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:N/I:N/A:N").unwrap();
        assert_eq!(score, Score(0));
        assert_eq!(Rating::from_score(score), Rating::None);
    }

    #[test]
    fn changed_scope_caps_at_ten() {
        let score = base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H").unwrap();
        assert_eq!(score.value(), 10.0);
    }

    #[test]
    fn metric_order_and_temporal_metrics_do_not_change_the_base_score() {
        let reordered = "CVSS:3.1/S:U/A:H/I:H/C:H/UI:N/PR:N/AC:L/AV:N/E:P/RL:O/RC:C/MAV:L";
        assert_eq!(base_score(reordered).unwrap().to_string(), "9.8");
    }

    #[test]
    fn ratings_follow_the_qualitative_scale_boundaries() {
        let rate = |tenths| Rating::from_score(Score(tenths));
        assert_eq!(rate(1), Rating::Low);
        assert_eq!(rate(39), Rating::Low);
        assert_eq!(rate(40), Rating::Medium);
        assert_eq!(rate(69), Rating::Medium);
        assert_eq!(rate(70), Rating::High);
        assert_eq!(rate(89), Rating::High);
        assert_eq!(rate(90), Rating::Critical);
        assert_eq!(rate(100), Rating::Critical);
    }

    #[test]
    fn roundup_ignores_floating_point_noise() {
        assert_eq!(roundup(4.000_000_000_000_001), 40);
        assert_eq!(roundup(4.02), 41);
        assert_eq!(roundup(0.000_001), 0);
    }

    #[test]
    fn missing_base_metric_is_named() {
        let err = base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H").unwrap_err();
        assert!(matches!(err, CvssError::MissingMetric { metric: "A", .. }));
        assert!(err.to_string().contains("missing base metric `A`"), "{err}");
    }

    #[test]
    fn duplicate_metric_is_rejected() {
        let err = base_score("CVSS:3.1/AV:N/AV:L/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").unwrap_err();
        assert!(matches!(err, CvssError::DuplicateMetric { ref metric, .. } if metric == "AV"));
    }

    #[test]
    fn unknown_metric_is_rejected() {
        let err = base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/XX:Y").unwrap_err();
        assert!(matches!(err, CvssError::UnknownMetric { ref metric, .. } if metric == "XX"));
    }

    #[test]
    fn invalid_value_is_rejected() {
        let err = base_score("CVSS:3.1/AV:Q/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").unwrap_err();
        assert!(
            err.to_string()
                .contains("invalid value `Q` for metric `AV`"),
            "{err}"
        );
        assert!(base_score("CVSS:3.1/AV:NN/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").is_err());
    }

    #[test]
    fn malformed_part_is_rejected() {
        let err = base_score("CVSS:3.1/AV:N/AC:L//PR:N/UI:N/S:U/C:H/I:H/A:H").unwrap_err();
        assert!(matches!(err, CvssError::MalformedPart { ref part, .. } if part.is_empty()));
    }

    #[test]
    fn other_versions_are_rejected() {
        for vector in [
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
            "AV:N/AC:L/Au:N/C:P/I:P/A:P",
            "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        ] {
            let err = base_score(vector).unwrap_err();
            assert!(
                matches!(err, CvssError::UnsupportedVersion { .. }),
                "{vector}"
            );
        }
    }

    /// CVSS v4.0 scores as the specification's calculator gives them,
    /// covering CVSS-B, -BT (`E:U`, `E:P`) and -BE (`CR`, `MAV`).
    #[test]
    fn v4_vectors_score_as_the_reference_calculator() {
        for (vector, expected) in [
            ("AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 93),
            (
                "AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H",
                100,
            ),
            ("AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N", 0),
            ("AV:L/AC:L/AT:N/PR:N/UI:P/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 85),
            ("AV:N/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 87),
            ("AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N", 69),
            ("AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:N", 87),
            (
                "AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U",
                81,
            ),
            ("AV:P/AC:H/AT:P/PR:H/UI:A/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N", 10),
            (
                "AV:A/AC:L/AT:P/PR:L/UI:P/VC:L/VI:L/VA:L/SC:L/SI:L/SA:L/E:P/CR:H/MAV:N",
                12,
            ),
        ] {
            let vector = format!("CVSS:4.0/{vector}");
            assert_eq!(score_v4(&vector).unwrap().tenths(), expected, "{vector}");
        }
    }

    #[test]
    fn v4_rating_uses_the_same_scale() {
        let critical = score_v4("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N");
        assert_eq!(Rating::from_score(critical.unwrap()), Rating::Critical);
        let medium = score_v4("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N");
        assert_eq!(Rating::from_score(medium.unwrap()), Rating::Medium);
    }

    #[test]
    fn v4_vectors_that_do_not_parse_are_refused() {
        let missing = score_v4("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H");
        assert!(
            matches!(missing, Err(CvssError::InvalidV4 { .. })),
            "{missing:?}"
        );
        let bad_value = score_v4("CVSS:4.0/AV:Q/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N");
        assert!(bad_value.is_err());
        let v3 = score_v4("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H");
        assert!(matches!(v3, Err(CvssError::UnsupportedVersion { .. })));
    }
}
