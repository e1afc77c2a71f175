//! `gantry audit verify`, signatures: checkpoints, provenance and
//! approvals, checked offline against the keys the trail itself records.
//!
//! - A run's pipeline key is the `signing_key.public_key` of its
//!   `run-start` event (and its record must say the same).
//! - Every `checkpoint` must be signed by its run's key and name the `seq`
//!   and `hash` of an earlier line exactly; every run that ended must be
//!   followed by one.
//! - Every `attestation` must name a file in the run directory whose digest
//!   it records, signed by the run's key, an in-toto statement whose
//!   subject, plugin digests and output digests are the run record's.
//! - Every signed `approval` or `rejection` must be signed by the key the
//!   run's pinned roles file binds to the identity, and name this run, gate,
//!   identity, image and provenance; an unsigned one is accepted only for
//!   an identity the roles file binds no key to, and counted.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use super::approval::{APPROVAL_PAYLOAD_TYPE, bound_key};
use super::provenance::{self, image_of};
use super::record::RunRecord;
use super::signing::CHECKPOINT_PAYLOAD_TYPE;
use crate::audit::dsse::Envelope;
use crate::pipeline::{self, PublicKey, Roles};

/// What the signature checks covered.
#[derive(Debug, Default, Serialize)]
pub struct SignatureSummary {
    pub checkpoints: usize,
    pub attestations: usize,
    pub signed_decisions: usize,
    pub unsigned_decisions: usize,
    /// Runs that started without a pipeline key (before keys existed).
    pub unsigned_runs: usize,
    /// Runs whose record is missing or names another run: their provenance
    /// was checked against its signature and recorded digest only, and
    /// their decisions not at all (the record pins the roles file).
    pub unrecorded_runs: usize,
}

/// One line of the log being checked, for messages.
struct Line<'a> {
    number: usize,
    run: &'a str,
    event: &'a Value,
}

impl Line<'_> {
    fn problem(&self, log: &Path, what: impl std::fmt::Display) -> String {
        format!(
            "audit log `{}`, line {} (`{}` of run {}): {what}",
            log.display(),
            self.number,
            self.event["event"].as_str().unwrap_or("?"),
            self.run
        )
    }
}

/// Checks every signature in `events` (the whole log at `log`, in order)
/// against the run records in `records`.
///
/// # Errors
///
/// The first problem, naming the line, the run and any file involved.
pub fn verify_signatures(
    log: &Path,
    runs_dir: &Path,
    events: &[Value],
    records: &[RunRecord],
) -> Result<SignatureSummary, String> {
    let records: BTreeMap<&str, &RunRecord> = records.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut keys: BTreeMap<&str, PublicKey> = BTreeMap::new();
    let mut ended: BTreeMap<&str, usize> = BTreeMap::new();
    let mut summary = SignatureSummary::default();
    let mut unrecorded = std::collections::BTreeSet::new();
    for (index, event) in events.iter().enumerate() {
        let line = Line {
            number: index + 1,
            run: event["run"].as_str().unwrap_or_default(),
            event,
        };
        let fail = |what: String| line.problem(log, what);
        match event["event"].as_str().unwrap_or_default() {
            "run-start" => match run_key(event, records.get(line.run).copied()) {
                Ok(Some(key)) => {
                    keys.insert(line.run, key);
                }
                Ok(None) => summary.unsigned_runs += 1,
                Err(problem) => return Err(fail(problem)),
            },
            "run-end" if keys.contains_key(line.run) => {
                ended.insert(line.run, line.number);
            }
            "checkpoint" => {
                let key = keys.get(line.run).ok_or_else(|| fail(no_key()))?;
                check_checkpoint(event, events, index, key).map_err(fail)?;
                if event["after"] == "run-end" {
                    ended.remove(line.run);
                }
                summary.checkpoints += 1;
            }
            "attestation" => {
                let key = keys.get(line.run).ok_or_else(|| fail(no_key()))?;
                let record = records.get(line.run).copied();
                if record.is_none() {
                    unrecorded.insert(line.run);
                }
                check_attestation(event, runs_dir, line.run, record, key).map_err(fail)?;
                summary.attestations += 1;
            }
            "approval" | "rejection" => {
                let Some(record) = records.get(line.run).copied() else {
                    unrecorded.insert(line.run);
                    continue;
                };
                match check_decision(event, record).map_err(fail)? {
                    true => summary.signed_decisions += 1,
                    false => summary.unsigned_decisions += 1,
                }
            }
            _ => {}
        }
    }
    summary.unrecorded_runs = unrecorded.len();
    if let Some((run, number)) = ended.into_iter().next() {
        return Err(format!(
            "audit log `{}`, line {number}: run {run} ended without a signed checkpoint after it",
            log.display()
        ));
    }
    Ok(summary)
}

fn no_key() -> String {
    "its run has no pipeline key recorded at run start".to_owned()
}

/// The pipeline key a `run-start` event records, checked against the run's
/// record; `None` for a run from before keys.
fn run_key(event: &Value, record: Option<&RunRecord>) -> Result<Option<PublicKey>, String> {
    let Some(text) = event["signing_key"]["public_key"].as_str() else {
        return Ok(None);
    };
    let key = PublicKey::parse(text).map_err(|p| format!("its pipeline key `{text}`: {p}"))?;
    let recorded = record.and_then(|r| r.signer.as_ref());
    if let Some(signer) = recorded.filter(|s| s.public_key != text) {
        return Err(format!(
            "it records pipeline key {text}, but the run record says {}",
            signer.public_key
        ));
    }
    Ok(Some(key))
}

/// The envelope in an event's `envelope` field.
fn envelope_of(event: &Value) -> Result<Envelope, String> {
    let text = serde_json::to_vec(&event["envelope"]).unwrap_or_default();
    Envelope::parse(&text).map_err(|e| format!("its `envelope`: {e}"))
}

/// The JSON payload of `envelope`, which must be of `payload_type` and
/// signed by `key` (`whose` names the key in messages).
fn signed_payload(
    envelope: &Envelope,
    payload_type: &str,
    key: &PublicKey,
    whose: &str,
) -> Result<Value, String> {
    if envelope.payload_type != payload_type {
        return Err(format!(
            "its payload type is `{}`, expected `{payload_type}`",
            envelope.payload_type
        ));
    }
    if !envelope.signed_by(key.verifying_key()) {
        return Err(format!("its signature does not verify against {whose}"));
    }
    let bytes = envelope.payload_bytes().map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| format!("its payload is not JSON: {e}"))
}

fn check_checkpoint(
    event: &Value,
    events: &[Value],
    index: usize,
    key: &PublicKey,
) -> Result<(), String> {
    let envelope = envelope_of(event)?;
    let payload = signed_payload(
        &envelope,
        CHECKPOINT_PAYLOAD_TYPE,
        key,
        "the run's pipeline key",
    )?;
    if payload["run"] != event["run"] || payload != add_run(&event["checkpoint"], &event["run"]) {
        return Err("its signed payload does not match its `run` and `checkpoint` fields".into());
    }
    let seq = payload["seq"].as_u64().unwrap_or(0) as usize;
    let Some(earlier) = seq
        .checked_sub(1)
        .filter(|i| *i < index)
        .map(|i| &events[i])
    else {
        return Err(format!("it signs seq {seq}, which is not an earlier line"));
    };
    if earlier["hash"] != payload["hash"] {
        return Err(format!(
            "it signs hash {} for seq {seq}, but line {seq}'s hash is {}",
            payload["hash"], earlier["hash"]
        ));
    }
    Ok(())
}

/// `checkpoint` with `run` added: the payload a checkpoint signs.
fn add_run(checkpoint: &Value, run: &Value) -> Value {
    let mut value = checkpoint.clone();
    if let Some(object) = value.as_object_mut() {
        object.insert("run".to_owned(), run.clone());
    }
    value
}

fn check_attestation(
    event: &Value,
    runs_dir: &Path,
    run: &str,
    record: Option<&RunRecord>,
    key: &PublicKey,
) -> Result<(), String> {
    let name = event["file"].as_str().unwrap_or_default();
    if name.contains('/') || name.is_empty() {
        return Err(format!(
            "it names file `{name}`, not a file in the run directory"
        ));
    }
    let path = runs_dir.join(run).join(name);
    let shown = path.display();
    let bytes = std::fs::read(&path).map_err(|e| format!("failed to read `{shown}`: {e}"))?;
    let digest = crate::store::sha256_bytes(&bytes);
    if event["digest"].as_str() != Some(digest.as_str()) {
        return Err(format!(
            "`{shown}` has digest {digest}, but the trail records {}",
            event["digest"]
        ));
    }
    let envelope = Envelope::parse(&bytes).map_err(|e| format!("`{shown}`: {e}"))?;
    let statement = signed_payload(
        &envelope,
        provenance::PAYLOAD_TYPE,
        key,
        "the run's pipeline key",
    )
    .map_err(|e| format!("`{shown}`: {e}"))?;
    let Some(record) = record else {
        return Ok(());
    };
    if record.attestation.as_ref().map(|a| a.digest.as_str()) != Some(digest.as_str()) {
        return Err(format!(
            "the record of run {run} does not name `{shown}` by its digest"
        ));
    }
    check_statement(&statement, record).map_err(|e| format!("`{shown}`: {e}"))
}

/// Checks an in-toto provenance statement against the run it is about.
fn check_statement(statement: &Value, record: &RunRecord) -> Result<(), String> {
    if statement["_type"] != provenance::STATEMENT_TYPE
        || statement["predicateType"] != provenance::PREDICATE_TYPE
    {
        return Err("it is not an in-toto statement with a SLSA provenance v1 predicate".into());
    }
    let predicate = &statement["predicate"];
    if predicate["runDetails"]["metadata"]["invocationId"] != record.id.as_str() {
        return Err(format!("its invocationId is not run {}", record.id));
    }
    if let Some((_, hex)) = image_of(record)
        && statement["subject"][0]["digest"]["sha256"] != hex.as_str()
    {
        return Err(format!(
            "its subject's digest is {}, but the run built sha256:{hex}",
            statement["subject"][0]["digest"]["sha256"]
        ));
    }
    let stages = predicate["buildDefinition"]["internalParameters"]["stages"]
        .as_array()
        .ok_or("it lists no stages")?;
    for stage in stages {
        let id = stage["id"].as_str().unwrap_or_default();
        let recorded = record
            .stage(id)
            .ok_or(format!("it names stage `{id}`, not in the run"))?;
        let plugin = recorded
            .plugin_digest
            .as_deref()
            .map(provenance::digest_set);
        let output = recorded
            .output_digest
            .as_deref()
            .map(provenance::digest_set);
        if Some(&stage["digest"]) != plugin.as_ref() {
            return Err(format!(
                "its plugin digest for stage `{id}` is not the run's"
            ));
        }
        // A stage after the gate had not run when the statement was made.
        if !stage["outputDigest"].is_null()
            && stage["outputDigest"] != output.unwrap_or(Value::Null)
        {
            return Err(format!(
                "its output digest for stage `{id}` is not the run's"
            ));
        }
    }
    Ok(())
}

/// Checks a decision; `true` when it is signed.
fn check_decision(event: &Value, record: &RunRecord) -> Result<bool, String> {
    let identity = event["identity"].as_str().unwrap_or_default();
    let roles = match &record.pins.roles {
        Some(pin) => pinned_roles(&pin.path, &pin.digest)?,
        None => Roles::default(),
    };
    let bound = bound_key(&roles, identity);
    if event["envelope"].is_null() {
        return match bound {
            Some(_) => Err(format!(
                "it is unsigned, but the roles file binds a key to `{identity}`"
            )),
            None => Ok(false),
        };
    }
    let Some(key) = bound else {
        return Err(format!(
            "it is signed, but the roles file binds no key to `{identity}`"
        ));
    };
    let envelope = envelope_of(event)?;
    let whose = format!("the key the roles file binds to `{identity}`");
    let statement = signed_payload(&envelope, APPROVAL_PAYLOAD_TYPE, &key, &whose)?;
    for field in ["stage", "identity", "role", "run"] {
        if statement[field] != event[field] {
            return Err(format!(
                "its signed `{field}` is {}, not {}",
                statement[field], event[field]
            ));
        }
    }
    if let Some((_, hex)) = image_of(record)
        && statement["image"]["digest"]["sha256"] != hex.as_str()
    {
        return Err(format!(
            "it signs image {}, not the run's sha256:{hex}",
            statement["image"]["digest"]
        ));
    }
    let attestation = record
        .attestation
        .as_ref()
        .map(|a| provenance::digest_set(&a.digest));
    if statement["attestation"]["digest"] != attestation.unwrap_or(Value::Null) {
        return Err("it does not sign the run's provenance digest".into());
    }
    Ok(true)
}

/// The roles file a run pinned, refused when it changed since.
fn pinned_roles(path: &str, digest: &str) -> Result<Roles, String> {
    let now = crate::store::sha256_file(Path::new(path))
        .map_err(|e| format!("failed to read the pinned roles file `{path}`: {e}"))?;
    if now != digest {
        return Err(format!(
            "roles file `{path}` changed since the run pinned it ({digest} -> {now}): the \
             approver keys it binds now cannot vouch for the run's decisions"
        ));
    }
    pipeline::load_roles(Path::new(path)).map_err(|e| e.to_string())
}
