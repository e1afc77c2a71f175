//! The `assessment-results` document.

use super::model::*;
use super::parts::{Parts, prop};
use super::{Assessment, OSCAL_VERSION, derive_uuid};

/// Builds the assessment-results document for `assessment`.
pub fn assessment_results(assessment: &Assessment) -> Document {
    let parts = Parts::of(assessment);
    let title = format!("Assessment results for {}", display_system(assessment));
    let result = AssessmentResult {
        uuid: derive_uuid(&[&parts.root, "result"]),
        title: format!("Release assessment, run {}", assessment.run_id),
        description: result_description(assessment),
        start: assessment.timestamp.clone(),
        props: result_props(assessment),
        local_definitions: (!parts.components.is_empty()).then(|| LocalDefinitions {
            components: parts.components.clone(),
        }),
        reviewed_controls: parts.reviewed_controls(assessment),
        observations: parts.observations,
        risks: parts.risks,
        findings: parts.findings,
    };
    Document {
        assessment_results: AssessmentResults {
            uuid: derive_uuid(&[&parts.root, "assessment-results"]),
            metadata: metadata(assessment, title),
            import_ap: ImportAp {
                href: plan_href(assessment),
            },
            results: vec![result],
            back_matter: parts.back_matter,
        },
    }
}

/// The metadata both documents carry: the policy by id and version.
pub fn metadata(assessment: &Assessment, title: String) -> Metadata {
    Metadata {
        title,
        last_modified: assessment.timestamp.clone(),
        version: assessment.run_id.clone(),
        oscal_version: OSCAL_VERSION.to_owned(),
        props: vec![
            prop("policy-id", &assessment.policy_id),
            prop("policy-version", &assessment.policy_version),
            prop("run-id", &assessment.run_id),
        ],
    }
}

/// A name for the system: the configured one, else the image's name.
pub fn display_system(assessment: &Assessment) -> &str {
    match (&assessment.system, &assessment.image) {
        (system, _) if !system.is_empty() => system,
        (_, Some(image)) => &image.name,
        _ => "the system",
    }
}

/// The policy stands in for the assessment plan until there is one.
fn plan_href(assessment: &Assessment) -> String {
    format!(
        "urn:gantry:policy:{}:{}",
        assessment.policy_id, assessment.policy_version
    )
}

fn result_description(assessment: &Assessment) -> String {
    let subject = match &assessment.image {
        Some(image) => format!("image {}:{} ({})", image.name, image.version, image.digest),
        None => "a release with no image".to_owned(),
    };
    format!(
        "Automated assessment of {subject} under policy {} version {}.",
        assessment.policy_id, assessment.policy_version
    )
}

/// The facts a reviewer looks up first, as properties of the result.
fn result_props(assessment: &Assessment) -> Vec<Property> {
    let mut props = vec![
        prop("policy-id", &assessment.policy_id),
        prop("policy-version", &assessment.policy_version),
        prop("run-id", &assessment.run_id),
    ];
    if let Some(image) = &assessment.image {
        props.push(prop("image-name", &image.name));
        props.push(prop("image-version", &image.version));
        props.push(prop("image-digest", &image.digest));
    }
    if let Some(digest) = &assessment.sbom_digest {
        props.push(prop("sbom-digest", digest));
    }
    props.extend(
        assessment
            .evidence
            .iter()
            .filter(|file| file.name == "provenance")
            .map(|file| prop("provenance-digest", &file.digest)),
    );
    props
}
