//! The pieces both OSCAL documents are made of: components, observations,
//! risks, findings and back matter, with the same UUIDs in both so that a
//! tool reading the two can join them.

use std::collections::BTreeMap;

use super::model::*;
use super::{
    Assessment, DEVELOPER_TESTING_CONTROL, EvidenceFile, FLAW_REMEDIATION_CONTROL, GANTRY_NS,
    OpenFinding, TestFacts, derive_uuid, fingerprint,
};

/// Everything the two documents report, built once.
#[derive(Debug, Clone)]
pub struct Parts {
    /// The release's fingerprint, the seed of every UUID.
    pub root: String,
    pub components: Vec<Component>,
    pub observations: Vec<Observation>,
    pub risks: Vec<Risk>,
    pub findings: Vec<Finding>,
    /// One per open item: a vulnerability, or the failing tests.
    pub items: Vec<OpenItem>,
    pub back_matter: Option<BackMatter>,
}

/// What the POA&M plans for: a finding, its risk and its observations.
#[derive(Debug, Clone)]
pub struct OpenItem {
    pub key: String,
    pub title: String,
    pub description: String,
    pub severity: String,
    pub finding: String,
    pub risk: String,
    pub observations: Vec<String>,
}

impl Parts {
    pub fn of(assessment: &Assessment) -> Parts {
        let root = fingerprint(assessment);
        let mut parts = Parts {
            components: components(assessment),
            back_matter: back_matter(&assessment.evidence),
            root,
            observations: Vec::new(),
            risks: Vec::new(),
            findings: Vec::new(),
            items: Vec::new(),
        };
        if let Some(tests) = &assessment.tests {
            parts.add_tests(assessment, tests);
        }
        parts.add_scan_summary(assessment);
        for open in &assessment.findings {
            parts.add_vulnerability(assessment, open);
        }
        parts
    }

    /// The controls the observations speak to.
    pub fn reviewed_controls(&self, assessment: &Assessment) -> ReviewedControls {
        let mut controls = vec![FLAW_REMEDIATION_CONTROL];
        if assessment.tests.is_some() {
            controls.push(DEVELOPER_TESTING_CONTROL);
        }
        let include_controls = controls
            .into_iter()
            .map(|id| ControlRef {
                control_id: id.to_owned(),
            })
            .collect();
        ReviewedControls {
            control_selections: vec![ControlSelection { include_controls }],
        }
    }

    fn uuid(&self, parts: &[&str]) -> String {
        let mut all = vec![self.root.as_str()];
        all.extend_from_slice(parts);
        derive_uuid(&all)
    }

    /// The image's component, the subject of test observations.
    fn image_subject(&self, assessment: &Assessment) -> Vec<Subject> {
        let Some(image) = &assessment.image else {
            return Vec::new();
        };
        vec![Subject {
            subject_uuid: image_component_uuid(&image.digest),
            kind: "component".to_owned(),
        }]
    }

    fn add_tests(&mut self, assessment: &Assessment, tests: &TestFacts) {
        let totals = self.test_observation(assessment, tests);
        let mut failed = vec![totals.uuid.clone()];
        self.observations.push(totals);
        for failure in &tests.failures {
            let name = failure.qualified_name();
            let mut props = vec![prop("test-outcome", &failure.outcome)];
            props.extend(optional_prop("test-suite", &failure.suite));
            let observation = Observation {
                uuid: self.uuid(&["test", &failure.suite, &name]),
                title: format!("Test {name} {}", outcome_verb(&failure.outcome)),
                description: text_or(&failure.message, "The report gives no message."),
                props,
                methods: vec!["TEST".to_owned()],
                types: vec!["finding".to_owned()],
                subjects: self.image_subject(assessment),
                relevant_evidence: self.evidence_links(assessment, &["junit", "test-report"]),
                collected: assessment.timestamp.clone(),
            };
            failed.push(observation.uuid.clone());
            self.observations.push(observation);
        }
        if !tests.succeeded() {
            self.add_failing_tests(tests, failed);
        }
    }

    fn test_observation(&self, assessment: &Assessment, tests: &TestFacts) -> Observation {
        let outcome = if tests.succeeded() {
            "passed"
        } else {
            "failed"
        };
        let mut description = format!(
            "`{}` {outcome}: {} passed, {} failed, {} skipped.",
            tests.command, tests.passed, tests.failed, tests.ignored
        );
        if !tests.failed_tests.is_empty() {
            description.push_str(&format!(" Failed: {}.", tests.failed_tests.join(", ")));
        }
        let exit_status = tests
            .exit_status
            .map_or_else(|| "none".to_owned(), |code| code.to_string());
        let mut props = vec![
            prop("test-outcome", outcome),
            prop("tests-passed", &tests.passed.to_string()),
            prop("tests-failed", &tests.failed.to_string()),
            prop("tests-skipped", &tests.ignored.to_string()),
            prop("exit-status", &exit_status),
        ];
        if let Some(junit) = &tests.junit {
            props.push(prop("tests-total", &junit.tests.to_string()));
            props.push(prop("tests-errored", &junit.errors.to_string()));
            props.push(prop("tests-seconds", &format!("{:.3}", junit.time)));
        }
        Observation {
            uuid: self.uuid(&["tests"]),
            title: format!("Test run {outcome}"),
            description,
            props,
            methods: vec!["TEST".to_owned()],
            types: vec!["control-objective".to_owned()],
            subjects: self.image_subject(assessment),
            relevant_evidence: self.evidence_links(assessment, &["test-report", "junit"]),
            collected: assessment.timestamp.clone(),
        }
    }

    /// A finding against SA-11 for a failed test run, with its risk.
    fn add_failing_tests(&mut self, tests: &TestFacts, observations: Vec<String>) {
        let related = related(&observations);
        let title = format!("{} failing test(s)", tests.failed.max(1));
        let statement = "Fix the failing tests, or the code they test, and run them again.";
        let risk = Risk {
            uuid: self.uuid(&["risk", "tests"]),
            title: title.clone(),
            description: format!("`{}` did not pass.", tests.command),
            statement: statement.to_owned(),
            props: vec![prop("severity", "high")],
            status: "open".to_owned(),
            related_observations: related.clone(),
        };
        let finding = Finding {
            uuid: self.uuid(&["finding", "tests"]),
            title: format!("Tests failed: {title}"),
            description: format!("`{}` did not pass.", tests.command),
            target: not_satisfied(DEVELOPER_TESTING_CONTROL),
            related_observations: related,
            related_risks: vec![RelatedRisk {
                risk_uuid: risk.uuid.clone(),
            }],
        };
        self.items.push(OpenItem {
            key: "tests".to_owned(),
            title: "Fix the failing tests".to_owned(),
            description: statement.to_owned(),
            severity: "high".to_owned(),
            finding: finding.uuid.clone(),
            risk: risk.uuid.clone(),
            observations,
        });
        self.risks.push(risk);
        self.findings.push(finding);
    }

    fn add_scan_summary(&mut self, assessment: &Assessment) {
        if assessment.sbom_digest.is_none() && assessment.findings.is_empty() {
            return;
        }
        let open = assessment.findings.len();
        let description = format!(
            "The SBOM lists {} packages; the scan left {open} vulnerabilit{} open.",
            assessment.components.len(),
            if open == 1 { "y" } else { "ies" }
        );
        self.observations.push(Observation {
            uuid: self.uuid(&["scan"]),
            title: "Dependency scan".to_owned(),
            description,
            props: vec![
                prop("packages", &assessment.components.len().to_string()),
                prop("open-findings", &open.to_string()),
            ],
            methods: vec!["TEST".to_owned()],
            types: vec!["control-objective".to_owned()],
            subjects: self.image_subject(assessment),
            relevant_evidence: self.evidence_links(assessment, &["sbom", "findings"]),
            collected: assessment.timestamp.clone(),
        });
    }

    fn add_vulnerability(&mut self, assessment: &Assessment, open: &OpenFinding) {
        let observation = self.vulnerability_observation(assessment, open);
        let related = related(std::slice::from_ref(&observation.uuid));
        let statement = match &open.fixed_in {
            Some(version) => format!("Upgrade {} to {version} or later.", package_name(open)),
            None => "No fixed version is known; assess exposure or replace the package.".to_owned(),
        };
        let risk = Risk {
            uuid: self.uuid(&["risk", &open.id, &open.package]),
            title: format!("{} ({}) in {}", open.id, open.severity, open.package),
            description: text_or(&open.title, &open.id),
            statement: statement.clone(),
            props: vec![prop("severity", &open.severity)],
            status: "open".to_owned(),
            related_observations: related.clone(),
        };
        let finding = Finding {
            uuid: self.uuid(&["finding", &open.id, &open.package]),
            title: format!("Open vulnerability {} in {}", open.id, open.package),
            description: text_or(&open.title, &open.id),
            target: not_satisfied(FLAW_REMEDIATION_CONTROL),
            related_observations: related,
            related_risks: vec![RelatedRisk {
                risk_uuid: risk.uuid.clone(),
            }],
        };
        self.items.push(OpenItem {
            key: format!("{} {}", open.id, open.package),
            title: format!("Remediate {} in {}", open.id, open.package),
            description: statement,
            severity: open.severity.clone(),
            finding: finding.uuid.clone(),
            risk: risk.uuid.clone(),
            observations: vec![observation.uuid.clone()],
        });
        self.observations.push(observation);
        self.risks.push(risk);
        self.findings.push(finding);
    }

    fn vulnerability_observation(
        &self,
        assessment: &Assessment,
        open: &OpenFinding,
    ) -> Observation {
        let mut props = vec![
            prop("advisory-id", &open.id),
            prop("severity", &open.severity),
            prop("package", &open.package),
        ];
        props.extend(open.aliases.iter().map(|alias| prop("alias", alias)));
        props.extend(
            open.fixed_in
                .iter()
                .map(|version| prop("fixed-in", version)),
        );
        let mut evidence = self.evidence_links(assessment, &["findings"]);
        evidence.extend(open.url.iter().map(|url| Evidence {
            href: url.clone(),
            description: format!("Advisory {}", open.id),
        }));
        let subjects = assessment
            .components
            .iter()
            .filter(|component| component.key() == open.package)
            .map(|component| Subject {
                subject_uuid: package_component_uuid(component),
                kind: "component".to_owned(),
            })
            .collect();
        Observation {
            uuid: self.uuid(&["observation", &open.id, &open.package]),
            title: format!("{} in {}", open.id, open.package),
            description: text_or(&open.title, &open.id),
            props,
            methods: vec!["TEST".to_owned()],
            types: vec!["finding".to_owned()],
            subjects,
            relevant_evidence: evidence,
            collected: assessment.timestamp.clone(),
        }
    }

    /// Links to the back-matter resources of the named artifacts.
    fn evidence_links(&self, assessment: &Assessment, names: &[&str]) -> Vec<Evidence> {
        names
            .iter()
            .filter_map(|name| assessment.evidence.iter().find(|file| file.name == *name))
            .map(|file| Evidence {
                href: format!("#{}", resource_uuid(file)),
                description: file.title.clone(),
            })
            .collect()
    }
}

/// The image and every SBOM package, as `software` components. A package
/// keeps its UUID from one release to the next, so two packets can be
/// compared by UUID.
fn components(assessment: &Assessment) -> Vec<Component> {
    let mut components = Vec::new();
    if let Some(image) = &assessment.image {
        components.push(Component {
            uuid: image_component_uuid(&image.digest),
            kind: "this-system".to_owned(),
            title: format!("{}:{}", image.name, image.version),
            description: format!("The OCI image being released, {}.", image.digest),
            props: vec![prop("image-digest", &image.digest)],
            status: operational(),
        });
    }
    // Sorted and without repeats, whatever order the SBOM had.
    let packages: BTreeMap<String, &super::ComponentFacts> = assessment
        .components
        .iter()
        .map(|component| (package_component_uuid(component), component))
        .collect();
    for (uuid, package) in packages {
        let mut props = vec![prop("package-version", &package.version)];
        props.extend(package.purl.iter().map(|purl| prop("purl", purl)));
        components.push(Component {
            uuid,
            kind: "software".to_owned(),
            title: package.key(),
            description: format!("Package {} from the SBOM.", package.key()),
            props,
            status: operational(),
        });
    }
    components
}

fn back_matter(evidence: &[EvidenceFile]) -> Option<BackMatter> {
    let resources: Vec<Resource> = evidence
        .iter()
        .filter_map(|file| {
            let hex = file.digest.strip_prefix("sha256:")?;
            Some(Resource {
                uuid: resource_uuid(file),
                title: file.title.clone(),
                description: format!("The `{}` artifact of this run.", file.name),
                props: vec![prop("artifact", &file.name), prop("digest", &file.digest)],
                rlinks: vec![Rlink {
                    href: file.href.clone(),
                    media_type: file.media_type.clone(),
                    hashes: vec![Hash {
                        algorithm: "SHA-256".to_owned(),
                        value: hex.to_owned(),
                    }],
                }],
            })
        })
        .collect();
    (!resources.is_empty()).then_some(BackMatter { resources })
}

pub fn image_component_uuid(digest: &str) -> String {
    derive_uuid(&["component", "image", digest])
}

pub fn package_component_uuid(component: &super::ComponentFacts) -> String {
    let identity = component.purl.clone().unwrap_or_else(|| component.key());
    derive_uuid(&["component", &identity])
}

fn resource_uuid(file: &EvidenceFile) -> String {
    derive_uuid(&["resource", &file.name, &file.digest])
}

fn operational() -> ComponentStatus {
    ComponentStatus {
        state: "operational".to_owned(),
    }
}

fn not_satisfied(control: &str) -> FindingTarget {
    FindingTarget {
        kind: "objective-id".to_owned(),
        target_id: control.to_owned(),
        status: ObjectiveStatus {
            state: "not-satisfied".to_owned(),
        },
    }
}

fn related(observations: &[String]) -> Vec<RelatedObservation> {
    observations
        .iter()
        .map(|uuid| RelatedObservation {
            observation_uuid: uuid.clone(),
        })
        .collect()
}

fn outcome_verb(outcome: &str) -> &'static str {
    match outcome {
        "error" => "errored",
        _ => "failed",
    }
}

/// `name` of a `name@version` package.
fn package_name(open: &OpenFinding) -> &str {
    open.package
        .split_once('@')
        .map_or(&open.package, |(name, _)| name)
}

/// `text` trimmed, or `fallback` when nothing is left: OSCAL strings may
/// not be empty or start or end with white space.
pub fn text_or(text: &str, fallback: &str) -> String {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        fallback.to_owned()
    } else {
        trimmed.to_owned()
    }
}

pub fn prop(name: &str, value: &str) -> Property {
    Property {
        name: name.to_owned(),
        value: text_or(value, "none"),
        ns: GANTRY_NS.to_owned(),
    }
}

fn optional_prop(name: &str, value: &str) -> Option<Property> {
    (!value.trim().is_empty()).then(|| prop(name, value))
}
