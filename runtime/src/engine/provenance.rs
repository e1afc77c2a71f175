//! The run's provenance: an in-toto Statement v1 with a SLSA provenance v1
//! predicate, signed with the pipeline key in a DSSE envelope.
//!
//! It is written once per run, to `runs/<run>/provenance.dsse.json`: when
//! the run first reaches a review gate (so that approvers sign over it), or
//! when a run without a gate succeeds. A run that failed before then has
//! none. The `attestation` event records its digest; promotion after the
//! gate is not in it, but in the audit trail and its final checkpoint.
//!
//! What it holds:
//! - `subject`: the image the build stage made (`image-name`, with the
//!   `image-digest` it reported); without one, every artifact by its stage
//!   and path;
//! - `buildDefinition.externalParameters`: the pipeline file and the policy
//!   (id, version, digest);
//! - `buildDefinition.internalParameters`: each stage's plugin, digest,
//!   signer, kind, exact grants and limits;
//! - `buildDefinition.resolvedDependencies`: the workspace (with its git
//!   commit), each plugin by digest, and the vulnerability database a scan
//!   stage reported as `db-digest` (with the index it read the database
//!   through, `db-index-digest`, when it kept one);
//! - `runDetails`: the builder, the run id and times, and every artifact's
//!   digest as a byproduct.

use serde_json::{Value, json};

use super::record::RunRecord;
use crate::pipeline::PipelineSpec;
use crate::store::timestamp_now;

/// The in-toto statement type.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// The SLSA provenance predicate type.
pub const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";
/// The DSSE payload type of an in-toto statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// What kind of build this is: a Gantry pipeline run.
pub const BUILD_TYPE: &str = "urn:gantry:build-type:pipeline-run:v1";
/// The builder: this host.
pub const BUILDER_ID: &str = "urn:gantry:builder:host";
/// The file name of the signed provenance in the run directory.
pub const FILE_NAME: &str = "provenance.dsse.json";

/// The statement for `record` as it stands, run under `spec`.
pub fn statement(record: &RunRecord, spec: &PipelineSpec) -> Value {
    json!({
        "_type": STATEMENT_TYPE,
        "subject": subjects(record),
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": external_parameters(record),
                "internalParameters": { "stages": stage_parameters(record, spec) },
                "resolvedDependencies": dependencies(record),
            },
            "runDetails": {
                "builder": {
                    "id": BUILDER_ID,
                    "version": { "gantry": env!("CARGO_PKG_VERSION") },
                },
                "metadata": {
                    "invocationId": record.id.as_str(),
                    "startedOn": record.created,
                    "finishedOn": timestamp_now(),
                },
                "byproducts": byproducts(record),
            },
        },
    })
}

/// The image a stage built (`image-name`, `image-digest`), as the run
/// record holds it: `(name, sha256 hex)`.
pub fn image_of(record: &RunRecord) -> Option<(String, String)> {
    record.stages.iter().find_map(|stage| {
        let digest = stage.metadata.get("image-digest")?;
        let hex = digest.strip_prefix("sha256:")?;
        let name = stage
            .metadata
            .get("image-name")
            .cloned()
            .unwrap_or_default();
        Some((name, hex.to_owned()))
    })
}

/// `sha256:<hex>` as an in-toto digest set, `{"sha256": "<hex>"}`.
pub fn digest_set(digest: &str) -> Value {
    match digest.split_once(':') {
        Some((algorithm, hex)) => json!({ algorithm: hex }),
        None => json!({ "sha256": digest }),
    }
}

fn subjects(record: &RunRecord) -> Vec<Value> {
    if let Some((name, hex)) = image_of(record) {
        return vec![json!({ "name": name, "digest": { "sha256": hex } })];
    }
    artifacts(record)
}

/// Every artifact of every stage, named `<stage>/<path>`.
fn artifacts(record: &RunRecord) -> Vec<Value> {
    record
        .stages
        .iter()
        .flat_map(|stage| {
            stage.artifacts.iter().map(move |a| {
                json!({
                    "name": format!("{}/{}", stage.id, a.path),
                    "digest": digest_set(&a.digest),
                    "mediaType": a.media_type,
                })
            })
        })
        .collect()
}

fn external_parameters(record: &RunRecord) -> Value {
    let pins = &record.pins;
    json!({
        "pipeline": {
            "name": record.pipeline,
            "file": record.pipeline_file,
            "digest": digest_set(&pins.pipeline.digest),
        },
        "policy": pins.policy.as_ref().map(|p| json!({
            "id": p.id,
            "version": p.version,
            "digest": digest_set(&p.digest),
        })),
        "roles": pins.roles.as_ref().map(|r| json!({ "digest": digest_set(&r.digest) })),
        "initiator": record.initiator,
    })
}

fn stage_parameters(record: &RunRecord, spec: &PipelineSpec) -> Vec<Value> {
    record
        .stages
        .iter()
        .filter_map(|stage| {
            let plugin = spec.stage(&stage.id)?.plugin()?;
            let pin = record.pins.plugins.get(&stage.id)?;
            Some(json!({
                "id": stage.id,
                "plugin": pin.plugin,
                "digest": digest_set(&pin.digest),
                "kind": pin.provenance.kind,
                "signer": pin.provenance.signer,
                "grants": plugin.grants,
                "limits": plugin.limits,
                "status": stage.status,
                "outputDigest": stage.output_digest.as_deref().map(digest_set),
            }))
        })
        .collect()
}

fn dependencies(record: &RunRecord) -> Vec<Value> {
    let workspace = &record.pins.workspace;
    let mut deps = vec![json!({
        "name": "workspace",
        "uri": format!("file://{}", workspace.path),
        "digest": workspace.commit.as_ref().map_or(json!({}), |c| json!({ "gitCommit": c })),
    })];
    for (stage, pin) in &record.pins.plugins {
        deps.push(json!({
            "name": format!("plugin:{stage}"),
            "uri": pin.plugin,
            "digest": digest_set(&pin.digest),
        }));
    }
    for stage in &record.stages {
        if let Some(db) = stage.metadata.get("db-digest") {
            deps.push(json!({
                "name": "vulnerability-database",
                "digest": digest_set(db),
                "annotations": { "stage": stage.id },
            }));
        }
        if let Some(index) = stage.metadata.get("db-index-digest") {
            deps.push(json!({
                "name": "vulnerability-database-index",
                "digest": digest_set(index),
                "annotations": { "stage": stage.id },
            }));
        }
    }
    deps
}

fn byproducts(record: &RunRecord) -> Vec<Value> {
    artifacts(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_become_digest_sets() {
        assert_eq!(digest_set("sha256:ab"), json!({"sha256": "ab"}));
        assert_eq!(digest_set("ab"), json!({"sha256": "ab"}));
    }
}
