//! The `plan-of-action-and-milestones` document: one item per open
//! vulnerability and one for failing tests, each tied to its finding, risk
//! and observations (the same UUIDs as in the assessment results).

use super::model::*;
use super::parts::{Parts, prop};
use super::results::{display_system, metadata};
use super::{Assessment, derive_uuid};

/// Builds the POA&M for `assessment`, or `None` when nothing is open: the
/// OSCAL model requires at least one item, and a plan with nothing to do
/// would only be noise.
pub fn poam(assessment: &Assessment) -> Option<PoamDocument> {
    let parts = Parts::of(assessment);
    if parts.items.is_empty() {
        return None;
    }
    let poam_items = parts
        .items
        .iter()
        .map(|item| PoamItem {
            uuid: derive_uuid(&[&parts.root, "poam-item", &item.key]),
            title: item.title.clone(),
            description: item.description.clone(),
            props: vec![prop("severity", &item.severity)],
            related_findings: vec![RelatedFinding {
                finding_uuid: item.finding.clone(),
            }],
            related_observations: item
                .observations
                .iter()
                .map(|uuid| RelatedObservation {
                    observation_uuid: uuid.clone(),
                })
                .collect(),
            related_risks: vec![RelatedRisk {
                risk_uuid: item.risk.clone(),
            }],
        })
        .collect();
    let title = format!(
        "Plan of action and milestones for {}",
        display_system(assessment)
    );
    Some(PoamDocument {
        poam: Poam {
            uuid: derive_uuid(&[&parts.root, "poam"]),
            metadata: metadata(assessment, title),
            system_id: SystemId {
                identifier_type: "https://ietf.org/rfc/rfc4122".to_owned(),
                id: derive_uuid(&["system", display_system(assessment)]),
            },
            local_definitions: (!parts.components.is_empty()).then(|| LocalDefinitions {
                components: parts.components.clone(),
            }),
            observations: parts.observations,
            risks: parts.risks,
            findings: parts.findings,
            poam_items,
            back_matter: parts.back_matter,
        },
    })
}
