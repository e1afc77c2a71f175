//! Review gates: stopping a run for a person, and recording their decision.
//!
//! A gate needs `min` approvals from distinct identities holding its role;
//! when self-approval is forbidden, the run's initiator does not count. One
//! rejection ends the run. Identities come from the pipeline's roles file;
//! one the file binds a key to must sign its decision (see [`approval`]).
//!
//! Before a run first stops at a gate, its provenance is signed (so
//! approvers sign over its digest); after every approval the log's head is
//! checkpointed with the pipeline key.
//!
//! [`approval`]: super::approval

use ed25519_dalek::SigningKey;
use serde_json::json;

use super::approval::Ballot;
use super::signing::PipelineKey;

use super::record::{Decision, Failure, FailureKind, RunRecord, RunStatus, StageStatus};
use super::run::{PreparedRun, status_word};
use super::{EngineError, Session};
use crate::pipeline::{self, ApprovalGate, PipelineSpec, StageKind, StageSpec};
use crate::store::{RunId, timestamp_now};

impl Session {
    /// Passes a gate that has its approvals, or stops the run there.
    /// Returns whether the run goes on.
    pub(super) fn reach_gate(
        &self,
        run: &mut PreparedRun,
        stage: &StageSpec,
        gate: &ApprovalGate,
    ) -> Result<bool, EngineError> {
        let id = stage.id.to_string();
        let record = run.record.stage_mut(&id).expect("every stage has a record");
        if approvals(&record.decisions) >= gate.min {
            record.status = StageStatus::Approved;
            self.save(&run.record)?;
            return Ok(true);
        }
        self.attest(&mut run.record, &run.spec, &run.key)?;
        let record = run.record.stage_mut(&id).expect("every stage has a record");
        record.status = StageStatus::AwaitingApproval;
        if record.started.is_none() {
            record.started = Some(timestamp_now());
        }
        run.record.status = RunStatus::AwaitingApproval;
        run.record.updated = timestamp_now();
        self.audit(
            &run.record.id,
            "awaiting-approval",
            json!({ "stage": id, "role": gate.role, "min": gate.min }),
        )?;
        self.save(&run.record)?;
        Ok(false)
    }

    /// Records `identity`'s approval at the gate `run` waits at. The run
    /// does not continue by itself: `resume` continues it.
    ///
    /// # Errors
    ///
    /// Refuses when the run is not waiting, an input changed, the identity
    /// lacks the gate's role, or it started the run and the gate forbids
    /// self-approval.
    /// `key` is the approver's private key: required when the roles file
    /// binds a key to `identity`, refused when it binds none.
    pub fn approve(
        &self,
        run: &RunId,
        identity: &str,
        key: Option<&SigningKey>,
    ) -> Result<RunRecord, EngineError> {
        self.decide(run, identity, None, key)
    }

    /// Records `identity`'s rejection; the run ends `failed`.
    ///
    /// # Errors
    ///
    /// As [`Session::approve`], except that initiators may reject their own
    /// runs.
    pub fn reject(
        &self,
        run: &RunId,
        identity: &str,
        reason: &str,
        key: Option<&SigningKey>,
    ) -> Result<RunRecord, EngineError> {
        self.decide(run, identity, Some(reason), key)
    }

    fn decide(
        &self,
        run: &RunId,
        identity: &str,
        rejection: Option<&str>,
        key: Option<&SigningKey>,
    ) -> Result<RunRecord, EngineError> {
        let mut record = self.load_run(run)?;
        let Some(stage_id) = waiting_stage(&record) else {
            return Err(EngineError::NotAwaiting {
                run: run.clone(),
                status: not_waiting_status(&record),
            });
        };
        // The pipeline as it is now, which the pin check proves is the one
        // the run started with.
        let command = if rejection.is_some() {
            "reject"
        } else {
            "approve"
        };
        let spec = self.check_unchanged(&record, command)?;
        self.check_trail_holds(&record)?;
        let Some(StageKind::Approval(gate)) = spec.stage(&stage_id).map(|s| &s.kind) else {
            return Err(EngineError::NotAwaiting {
                run: run.clone(),
                status: format!("stage `{stage_id}` is not a gate"),
            });
        };
        let pipeline_key = self.pipeline_key(&spec)?;
        self.check_same_key(run, record.signer.as_ref(), &pipeline_key)?;
        let (role, roles) =
            self.check_reviewer(&spec, &record, &stage_id, gate, identity, rejection)?;
        let time = timestamp_now();
        let ballot = Ballot {
            record: &record,
            stage: &stage_id,
            identity,
            role: &role,
            rejection,
            time: &time,
        };
        let envelope = self.sign_ballot(&roles, &ballot, key)?;

        let decision = Decision {
            identity: identity.to_owned(),
            role: role.clone(),
            approved: rejection.is_none(),
            reason: rejection.map(str::to_owned),
            time,
            signed_by: envelope.as_ref().map(|e| e.signatures[0].keyid.clone()),
        };
        let stage = record
            .stage_mut(&stage_id)
            .expect("the waiting stage exists");
        stage.decisions.push(decision);
        let event = if rejection.is_some() {
            "rejection"
        } else {
            "approval"
        };
        self.audit(
            run,
            event,
            json!({
                "stage": stage_id, "identity": identity, "role": role, "reason": rejection,
                "policy": record.pins.policy.as_ref().map(|p| json!({"id": p.id, "version": p.version})),
                "outputs": reviewed_outputs(&record),
                "attestation": record.attestation.as_ref().map(|a| &a.digest),
                "envelope": envelope,
            }),
        )?;
        record.updated = timestamp_now();
        match rejection {
            Some(reason) => {
                self.end_rejected(&mut record, &stage_id, identity, reason, &pipeline_key)?;
            }
            None => {
                // A run started before pipeline keys has none to sign with.
                if record.signer.is_some() {
                    self.checkpoint(run, &pipeline_key, "approval")?;
                }
                self.count_approval(&mut record, &stage_id, gate)?;
            }
        }
        Ok(record)
    }

    fn check_reviewer(
        &self,
        spec: &PipelineSpec,
        record: &RunRecord,
        stage: &str,
        gate: &ApprovalGate,
        identity: &str,
        rejection: Option<&str>,
    ) -> Result<(String, pipeline::Roles), EngineError> {
        let roles_path = spec.roles.as_deref().ok_or_else(|| EngineError::NoRoles {
            stage: stage.to_owned(),
        })?;
        let roles = pipeline::load_roles(roles_path)?;
        if !roles.has_role(identity, &gate.role) {
            return Err(EngineError::MissingRole {
                identity: identity.to_owned(),
                stage: stage.to_owned(),
                role: gate.role.clone(),
                held: roles
                    .roles_of(identity)
                    .map(<[String]>::to_vec)
                    .unwrap_or_default(),
            });
        }
        if rejection.is_none() && gate.forbid_self_approval && identity == record.initiator {
            return Err(EngineError::SelfApproval {
                identity: identity.to_owned(),
                run: record.id.clone(),
                stage: stage.to_owned(),
            });
        }
        let decided = record
            .stage(stage)
            .is_some_and(|s| s.decisions.iter().any(|d| d.identity == identity));
        if decided {
            return Err(EngineError::AlreadyDecided {
                identity: identity.to_owned(),
                run: record.id.clone(),
                stage: stage.to_owned(),
            });
        }
        Ok((gate.role.clone(), roles))
    }

    fn count_approval(
        &self,
        record: &mut RunRecord,
        stage_id: &str,
        gate: &ApprovalGate,
    ) -> Result<(), EngineError> {
        let stage = record
            .stage_mut(stage_id)
            .expect("the waiting stage exists");
        if approvals(&stage.decisions) >= gate.min {
            stage.status = StageStatus::Approved;
            stage.finished = Some(timestamp_now());
        }
        self.save(record)
    }

    fn end_rejected(
        &self,
        record: &mut RunRecord,
        stage_id: &str,
        identity: &str,
        reason: &str,
        key: &PipelineKey,
    ) -> Result<(), EngineError> {
        let stage = record
            .stage_mut(stage_id)
            .expect("the waiting stage exists");
        stage.status = StageStatus::Rejected;
        stage.finished = Some(timestamp_now());
        stage.reason = Some(reason.to_owned());
        record.status = RunStatus::Failed;
        record.failure = Some(Failure {
            kind: FailureKind::Rejected,
            stage: stage_id.to_owned(),
            message: format!("rejected by `{identity}`: {reason}"),
        });
        self.end_run(record, key)
    }
}

/// The gate the run waits at: the first stage awaiting approval.
fn waiting_stage(record: &RunRecord) -> Option<String> {
    if record.status != RunStatus::AwaitingApproval {
        return None;
    }
    record
        .stages
        .iter()
        .find(|s| s.status == StageStatus::AwaitingApproval)
        .map(|s| s.id.clone())
}

/// What a run not waiting at a gate is doing, for the refusal. A run whose
/// gate has all its approvals still says `awaiting-approval` until resumed.
fn not_waiting_status(record: &RunRecord) -> String {
    match record.status {
        RunStatus::AwaitingApproval => {
            "approved at its gate; `gantry resume` continues it".to_owned()
        }
        status => status_word(status),
    }
}

/// The output digest of every stage that ran before the gate: what the
/// reviewer's decision is about.
fn reviewed_outputs(record: &RunRecord) -> serde_json::Map<String, serde_json::Value> {
    record
        .stages
        .iter()
        .filter_map(|s| Some((s.id.clone(), s.output_digest.clone()?.into())))
        .collect()
}

fn approvals(decisions: &[Decision]) -> u32 {
    decisions.iter().filter(|d| d.approved).count() as u32
}
