//! `[[suppress]]` and `[licences]`: the rules the scan stage applies.
//!
//! ```toml
//! [[suppress]]
//! id = "RUSTSEC-2020-0071"         # the advisory id, or any of its aliases
//! package = "time@0.1.45"          # `name` (every version) or `name@version`
//! ecosystem = "crates.io"          # optional: crates.io, npm, PyPI or Go
//! reason = "…"                     # required: why the finding is accepted
//! expires = 2027-03-31             # required: the last day it applies (UTC)
//! status = "not_affected"          # optional VEX status: not_affected,
//!                                  #   fixed or under_investigation
//! justification = "vulnerable_code_not_in_execute_path"  # with not_affected
//!
//! [licences]
//! allow = ["MIT", "Apache-2.0"]    # optional: only these may be taken
//! deny = ["GPL-3.0-only"]          # no package may require these
//! unknown = "warn"                 # or "fail": packages of unknown licence
//! ```
//!
//! The host checks them here, names the line of any problem, and hands them
//! to every stage as JSON in `stage-input.policy-rules` (the shape of
//! `gantry_plugin_core::policy::PolicyRules`, which the scan plugin reads
//! back); how they are applied is documented there.

use gantry_plugin_core::package::Ecosystem;
use gantry_plugin_core::policy::licence::check_licence_id;
use gantry_plugin_core::policy::suppress::VexStatus;
use gantry_plugin_core::policy::{LicenceRules, Suppression, UnknownLicences};
use serde::Deserialize;
use toml::Spanned;

use super::text;
use crate::pipeline::error::{PipelineError, Scope};

/// One `[[suppress]]` as serde reads it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSuppression {
    id: Spanned<String>,
    package: Spanned<String>,
    ecosystem: Option<Spanned<String>>,
    reason: Spanned<String>,
    expires: Spanned<toml::Value>,
    status: Option<Spanned<String>>,
    justification: Option<Spanned<String>>,
}

/// `[licences]` as serde reads it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLicences {
    allow: Option<Spanned<Vec<Spanned<String>>>>,
    deny: Option<Vec<Spanned<String>>>,
    unknown: Option<Spanned<String>>,
}

/// Checks every `[[suppress]]`, in file order.
pub(super) fn check_suppressions(
    top: &Scope<'_>,
    raw: Vec<Spanned<RawSuppression>>,
) -> Result<Vec<Suppression>, PipelineError> {
    raw.into_iter()
        .enumerate()
        .map(|(index, entry)| check_suppression(top, index, entry.into_inner()))
        .collect()
}

fn check_suppression(
    top: &Scope<'_>,
    index: usize,
    raw: RawSuppression,
) -> Result<Suppression, PipelineError> {
    let key = |name: &str| format!("suppress[{index}].{name}");
    let id = text(top, raw.id, &key("id"), "the advisory id")?.into_inner();
    let (package, version) = package_and_version(top, &raw.package, &key("package"))?;
    let ecosystem = raw
        .ecosystem
        .map(|e| check_ecosystem(top, e, &key("ecosystem")))
        .transpose()?;
    if raw.reason.get_ref().trim().is_empty() {
        return Err(PipelineError::InvalidValue {
            at: top.at(raw.reason.span(), &key("reason")),
            message: "the reason is empty\n  hint: say why the finding is accepted; the \
                      reason is shown in the scan's report and to reviewers"
                .to_owned(),
        });
    }
    let reason = text(top, raw.reason, &key("reason"), "the reason")?.into_inner();
    let expires = check_expiry(top, &raw.expires, &key("expires"))?;
    let status = raw
        .status
        .as_ref()
        .map(|s| check_status(top, s, &key("status")))
        .transpose()?;
    let checked_span = raw
        .justification
        .as_ref()
        .or(raw.status.as_ref())
        .map_or(0..0, Spanned::span);
    let justification = raw.justification.map(Spanned::into_inner);
    let suppression = Suppression {
        id,
        ecosystem,
        package,
        version,
        reason,
        expires,
        status,
        justification,
    };
    suppression
        .check()
        .map_err(|problem| justification_error(top, checked_span, index, problem))?;
    Ok(suppression)
}

/// Splits `name@version`, keeping a scoped npm name's leading `@`.
fn package_and_version(
    top: &Scope<'_>,
    raw: &Spanned<String>,
    key: &str,
) -> Result<(String, Option<String>), PipelineError> {
    let written = raw.get_ref().trim();
    let (name, version) = gantry_plugin_core::policy::suppress::split_package(written);
    if name.is_empty()
        || version.is_some_and(str::is_empty)
        || written.contains(char::is_whitespace)
    {
        return Err(PipelineError::InvalidValue {
            at: top.at(raw.span(), key),
            message: format!(
                "`{written}` does not name a package\n  hint: write `name` for every version, \
                 or `name@version` for one, e.g. `time@0.1.45`"
            ),
        });
    }
    Ok((name.to_owned(), version.map(str::to_owned)))
}

fn check_ecosystem(
    top: &Scope<'_>,
    raw: Spanned<String>,
    key: &str,
) -> Result<String, PipelineError> {
    if Ecosystem::from_osv_name(raw.get_ref()).is_some() {
        return Ok(raw.into_inner());
    }
    let names: Vec<String> = Ecosystem::ALL
        .iter()
        .map(|e| format!("`{}`", e.osv_name()))
        .collect();
    Err(PipelineError::InvalidValue {
        at: top.at(raw.span(), key),
        message: format!(
            "unknown ecosystem `{}`\n  hint: the ecosystems are {}, as OSV names them",
            raw.get_ref(),
            names.join(", ")
        ),
    })
}

/// A TOML date (`2027-03-31`), or the same written as a string.
fn check_expiry(
    top: &Scope<'_>,
    raw: &Spanned<toml::Value>,
    key: &str,
) -> Result<time::Date, PipelineError> {
    let written = match raw.get_ref() {
        toml::Value::Datetime(datetime) => datetime.to_string(),
        toml::Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    gantry_plugin_core::policy::parse_date(&written).map_err(|problem| {
        PipelineError::InvalidValue {
            at: top.at(raw.span(), key),
            message: format!(
                "{problem}\n  hint: write the last day the suppression applies, e.g. \
                 `expires = 2027-03-31`; it applies through that day (UTC), not after"
            ),
        }
    })
}

fn check_status(
    top: &Scope<'_>,
    raw: &Spanned<String>,
    key: &str,
) -> Result<VexStatus, PipelineError> {
    let problem = match raw.get_ref().as_str() {
        "not_affected" => return Ok(VexStatus::NotAffected),
        "fixed" => return Ok(VexStatus::Fixed),
        "under_investigation" => return Ok(VexStatus::UnderInvestigation),
        "affected" => "status `affected` does not suppress anything\n  hint: an affected \
                       package is what the finding says; leave `status` out to accept the \
                       risk until `expires`"
            .to_owned(),
        other => format!(
            "unknown VEX status `{other}`\n  hint: the statuses are `not_affected`, `fixed` \
             and `under_investigation`"
        ),
    };
    Err(PipelineError::InvalidValue {
        at: top.at(raw.span(), key),
        message: problem,
    })
}

/// The error for a justification that does not go with the status.
fn justification_error(
    top: &Scope<'_>,
    span: std::ops::Range<usize>,
    index: usize,
    problem: String,
) -> PipelineError {
    let problem = problem.trim_start_matches("`justification`: ").replacen(
        "; one of ",
        "\n  hint: the justifications are ",
        1,
    );
    let message = if problem.contains("hint:") {
        problem
    } else {
        format!("{problem}\n  hint: remove it, or set `status = \"not_affected\"`")
    };
    PipelineError::InvalidValue {
        at: top.at(span, &format!("suppress[{index}].justification")),
        message,
    }
}

/// Checks `[licences]`: every id on the SPDX licence list, written as the
/// list writes it, and none both allowed and denied.
pub(super) fn check_licences(
    top: &Scope<'_>,
    raw: RawLicences,
) -> Result<LicenceRules, PipelineError> {
    let allow = match raw.allow {
        None => None,
        Some(list) if list.get_ref().is_empty() => {
            return Err(PipelineError::InvalidValue {
                at: top.at(list.span(), "licences.allow"),
                message: "the allow list is empty, which would fail every package\n  hint: \
                          leave `allow` out to accept every licence the deny list does not \
                          name"
                    .to_owned(),
            });
        }
        Some(list) => Some(licence_ids(top, list.into_inner(), "licences.allow")?),
    };
    let deny_raw = raw.deny.unwrap_or_default();
    if let Some(allowed) = &allow
        && let Some(both) = deny_raw.iter().find(|id| allowed.contains(id.get_ref()))
    {
        return Err(PipelineError::InvalidValue {
            at: top.at(both.span(), "licences.deny"),
            message: format!(
                "`{}` is both allowed and denied\n  hint: keep it in one of the two lists",
                both.get_ref()
            ),
        });
    }
    let deny = licence_ids(top, deny_raw, "licences.deny")?;
    let unknown = match raw.unknown {
        None => UnknownLicences::default(),
        Some(value) => match value.get_ref().as_str() {
            "warn" => UnknownLicences::Warn,
            "fail" => UnknownLicences::Fail,
            other => {
                return Err(PipelineError::InvalidValue {
                    at: top.at(value.span(), "licences.unknown"),
                    message: format!(
                        "unknown choice `{other}`\n  hint: write `warn` to report packages \
                         whose licence is unknown, or `fail` to fail the scan on them"
                    ),
                });
            }
        },
    };
    Ok(LicenceRules {
        allow,
        deny,
        unknown,
    })
}

fn licence_ids(
    top: &Scope<'_>,
    entries: Vec<Spanned<String>>,
    key: &str,
) -> Result<Vec<String>, PipelineError> {
    let mut ids: Vec<String> = Vec::with_capacity(entries.len());
    for entry in entries {
        if let Err(problem) = check_licence_id(entry.get_ref()) {
            let problem = problem.replacen("; ", "\n  hint: ", 1);
            let message = if problem.contains("hint:") {
                problem
            } else {
                format!(
                    "{problem}\n  hint: write ids as the SPDX licence list does, e.g. `MIT` \
                     or `Apache-2.0` (they are case-sensitive)"
                )
            };
            return Err(PipelineError::InvalidValue {
                at: top.at(entry.span(), key),
                message,
            });
        }
        if !ids.contains(entry.get_ref()) {
            ids.push(entry.into_inner());
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::super::tests::policy;
    use super::*;

    const HEAD: &str = "[policy]\nid = \"p\"\nversion = \"1\"\n";

    #[test]
    fn suppressions_and_licences_are_read() {
        let policy = policy(&format!(
            "{HEAD}[[suppress]]\nid = \"RUSTSEC-2020-0071\"\npackage = \"time@0.1.45\"\n\
             reason = \"only UTC is used\"\nexpires = 2027-03-31\n\
             status = \"not_affected\"\njustification = \"vulnerable_code_not_in_execute_path\"\n\
             [[suppress]]\nid = \"CVE-1\"\npackage = \"@types/node\"\necosystem = \"npm\"\n\
             reason = \"r\"\nexpires = \"2027-01-01\"\n\
             [licences]\nallow = [\"MIT\", \"Apache-2.0\", \"MIT\"]\ndeny = [\"GPL-3.0-only\"]\n\
             unknown = \"fail\"\n"
        ))
        .unwrap();
        let time = &policy.suppressions[0];
        assert_eq!(
            (time.package.as_str(), time.version.as_deref()),
            ("time", Some("0.1.45"))
        );
        assert_eq!(time.status, Some(VexStatus::NotAffected));
        let node = &policy.suppressions[1];
        assert_eq!(
            (node.package.as_str(), node.version.as_deref()),
            ("@types/node", None)
        );
        let licences = policy.licences.as_ref().unwrap();
        assert_eq!(
            licences.allow.as_deref(),
            Some(&["MIT".into(), "Apache-2.0".into()][..])
        );
        assert_eq!(licences.unknown, UnknownLicences::Fail);

        let json: serde_json::Value = serde_json::from_str(&policy.rules_json()).unwrap();
        assert_eq!(json["suppress"][0]["expires"], "2027-03-31");
        assert_eq!(json["suppress"][0]["version"], "0.1.45");
        assert_eq!(json["licences"]["deny"][0], "GPL-3.0-only");
        let back = gantry_plugin_core::policy::PolicyRules::parse(&policy.rules_json()).unwrap();
        assert_eq!(back.suppress, policy.suppressions);
    }

    #[test]
    fn a_policy_without_rules_hands_over_an_empty_object() {
        assert_eq!(policy(HEAD).unwrap().rules_json(), "{}");
    }

    #[test]
    fn bad_rules_name_their_key_and_line() {
        let entry = |body: &str| format!("{HEAD}[[suppress]]\n{body}");
        let ok = "id = \"A\"\npackage = \"p\"\nreason = \"r\"\nexpires = 2027-01-01\n";
        let cases = [
            (
                entry(&ok.replace("reason = \"r\"", "reason = \" \"")),
                "policy.toml:7: `suppress[0].reason`: the reason is empty",
            ),
            (
                entry(&ok.replace("2027-01-01", "\"2027-02-30\"")),
                "policy.toml:8: `suppress[0].expires`: `2027-02-30` is not a day",
            ),
            (
                entry(&ok.replace("2027-01-01", "2027-02-30")),
                "policy.toml:8: invalid date",
            ),
            (
                entry(&ok.replace("2027-01-01", "3")),
                "`suppress[0].expires`: `3` is not a date written YYYY-MM-DD",
            ),
            (
                entry(&ok.replace("2027-01-01", "2027-01-01T10:00:00")),
                "`suppress[0].expires`: `2027-01-01T10:00:00` is not a date",
            ),
            (
                entry(&ok.replace("package = \"p\"", "package = \"p@\"")),
                "`suppress[0].package`: `p@` does not name a package",
            ),
            (
                entry(&ok.replace("reason = \"r\"\n", "")),
                "missing key `reason`",
            ),
            (
                entry(&format!("{ok}status = \"affected\"\n")),
                "status `affected` does not suppress",
            ),
            (
                entry(&format!("{ok}status = \"not_affected\"\n")),
                "`justification` is required",
            ),
            (
                entry(&format!("{ok}ecosystem = \"cargo\"\n")),
                "unknown ecosystem `cargo`",
            ),
            (
                entry(&format!("{ok}expiry = 2027-01-01\n")),
                "unknown key `expiry`",
            ),
            (
                format!("{HEAD}[licences]\nallow = [\"MIT\", \"Apache 2.0\"]\n"),
                "policy.toml:5: `licences.allow`: `Apache 2.0` is not an SPDX licence id\n  hint: did you mean `Apache-2.0`?",
            ),
            (
                format!("{HEAD}[licences]\nallow = []\n"),
                "the allow list is empty",
            ),
            (
                format!("{HEAD}[licences]\nallow = [\"MIT\"]\ndeny = [\"MIT\"]\n"),
                "policy.toml:6: `licences.deny`: `MIT` is both allowed and denied",
            ),
            (
                format!("{HEAD}[licences]\ndeny = [\"GPL-3.0\"]\n"),
                "deprecated on the SPDX licence list\n  hint: write `GPL-3.0-only` or `GPL-3.0-or-later`",
            ),
            (
                format!("{HEAD}[licences]\nunknown = \"ignore\"\n"),
                "unknown choice `ignore`",
            ),
        ];
        for (text, expected) in cases {
            let err = policy(&text).unwrap_err().to_string();
            assert!(err.contains(expected), "{text}\n---\n{err}");
        }
    }
}
