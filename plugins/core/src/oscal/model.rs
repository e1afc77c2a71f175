//! The parts of the OSCAL JSON models the ATO packet writes: assessment
//! results, the plan of action and milestones, and what they share
//! (metadata, components, observations, risks, findings, back matter).
//!
//! Field names follow the OSCAL JSON schema; optional lists are left out
//! when empty because the schema requires every list it allows to hold at
//! least one item.

use serde::Serialize;

/// `{"assessment-results": …}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Document {
    #[serde(rename = "assessment-results")]
    pub assessment_results: AssessmentResults,
}

/// `assessment-results`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct AssessmentResults {
    pub uuid: String,
    pub metadata: Metadata,
    pub import_ap: ImportAp,
    pub results: Vec<AssessmentResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub back_matter: Option<BackMatter>,
}

/// `{"plan-of-action-and-milestones": …}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoamDocument {
    #[serde(rename = "plan-of-action-and-milestones")]
    pub poam: Poam,
}

/// `plan-of-action-and-milestones`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Poam {
    pub uuid: String,
    pub metadata: Metadata,
    pub system_id: SystemId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_definitions: Option<LocalDefinitions>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub observations: Vec<Observation>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub risks: Vec<Risk>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
    pub poam_items: Vec<PoamItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub back_matter: Option<BackMatter>,
}

/// `system-id`: which system the plan is for.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct SystemId {
    pub identifier_type: String,
    pub id: String,
}

/// One `poam-items` entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct PoamItem {
    pub uuid: String,
    pub title: String,
    pub description: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub props: Vec<Property>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related_findings: Vec<RelatedFinding>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related_observations: Vec<RelatedObservation>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related_risks: Vec<RelatedRisk>,
}

/// `metadata`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Metadata {
    pub title: String,
    pub last_modified: String,
    pub version: String,
    pub oscal_version: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub props: Vec<Property>,
}

/// `import-ap`: the assessment plan the results answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportAp {
    pub href: String,
}

/// One entry of `results`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct AssessmentResult {
    pub uuid: String,
    pub title: String,
    pub description: String,
    pub start: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub props: Vec<Property>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_definitions: Option<LocalDefinitions>,
    pub reviewed_controls: ReviewedControls,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub observations: Vec<Observation>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub risks: Vec<Risk>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
}

/// `local-definitions`: the components the observations are about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LocalDefinitions {
    pub components: Vec<Component>,
}

/// A `system-component`: the image, or a package from the SBOM.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Component {
    pub uuid: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub description: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub props: Vec<Property>,
    pub status: ComponentStatus,
}

/// `{"state": "operational"}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentStatus {
    pub state: String,
}

/// `reviewed-controls`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ReviewedControls {
    pub control_selections: Vec<ControlSelection>,
}

/// One `control-selections` entry: here, the controls named by id.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ControlSelection {
    pub include_controls: Vec<ControlRef>,
}

/// `{"control-id": …}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ControlRef {
    pub control_id: String,
}

/// A `prop`: a name/value pair in Gantry's namespace.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Property {
    pub name: String,
    pub value: String,
    pub ns: String,
}

/// An `observation`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Observation {
    pub uuid: String,
    pub title: String,
    pub description: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub props: Vec<Property>,
    pub methods: Vec<String>,
    pub types: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subjects: Vec<Subject>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub relevant_evidence: Vec<Evidence>,
    pub collected: String,
}

/// A `subjects` entry: what an observation is about.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Subject {
    pub subject_uuid: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// A `relevant-evidence` entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    pub href: String,
    pub description: String,
}

/// A `risk`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Risk {
    pub uuid: String,
    pub title: String,
    pub description: String,
    pub statement: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub props: Vec<Property>,
    pub status: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related_observations: Vec<RelatedObservation>,
}

/// A `finding`: a control objective the results show as not satisfied.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Finding {
    pub uuid: String,
    pub title: String,
    pub description: String,
    pub target: FindingTarget,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related_observations: Vec<RelatedObservation>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related_risks: Vec<RelatedRisk>,
}

/// A finding's `target`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct FindingTarget {
    #[serde(rename = "type")]
    pub kind: String,
    pub target_id: String,
    pub status: ObjectiveStatus,
}

/// `{"state": "satisfied" | "not-satisfied"}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObjectiveStatus {
    pub state: String,
}

/// `{"observation-uuid": …}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct RelatedObservation {
    pub observation_uuid: String,
}

/// `{"risk-uuid": …}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct RelatedRisk {
    pub risk_uuid: String,
}

/// `{"finding-uuid": …}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct RelatedFinding {
    pub finding_uuid: String,
}

/// `back-matter`: the files the packet is evidence of, by digest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackMatter {
    pub resources: Vec<Resource>,
}

/// One back-matter `resource`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resource {
    pub uuid: String,
    pub title: String,
    pub description: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub props: Vec<Property>,
    pub rlinks: Vec<Rlink>,
}

/// An `rlink`: where the resource is, and its digest.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Rlink {
    pub href: String,
    pub media_type: String,
    pub hashes: Vec<Hash>,
}

/// `{"algorithm": "SHA-256", "value": …}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hash {
    pub algorithm: String,
    pub value: String,
}
