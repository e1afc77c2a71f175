//! Signed approvals: what an approver's key signs, and who may sign.
//!
//! A roles file may bind a key to an identity (`public-key = "ed25519:…"`).
//! For such an identity, `gantry approve --key <file>` (or `reject`) is
//! required: the decision is a DSSE envelope (type
//! [`APPROVAL_PAYLOAD_TYPE`]) over a small JSON statement naming the run,
//! the gate, the identity and role, the image digest, the ATO packet's
//! digest, the provenance's digest and the policy, signed with that key and
//! kept in the `approval` (or `rejection`) event. A key that is not the one
//! bound to the identity is refused, and the refusal audited. An identity
//! with no bound key may still decide unsigned, and `audit verify` counts
//! such decisions as unsigned.

use ed25519_dalek::SigningKey;
use serde_json::{Value, json};

use super::provenance::{digest_set, image_of};
use super::record::RunRecord;
use super::{EngineError, Session};
use crate::audit::canonical_json;
use crate::audit::dsse::Envelope;
use crate::audit::keys;
use crate::pipeline::{PluginKind, PublicKey, Roles};
use crate::store::RunId;

/// The DSSE payload type of a signed approval or rejection.
pub const APPROVAL_PAYLOAD_TYPE: &str = "application/vnd.gantry.approval+json";
/// The statement's `_type`.
pub const APPROVAL_STATEMENT_TYPE: &str = "urn:gantry:approval:v1";

/// What a reviewer decides on, as their key signs it.
pub struct Ballot<'a> {
    pub record: &'a RunRecord,
    pub stage: &'a str,
    pub identity: &'a str,
    pub role: &'a str,
    /// `None` to approve; the reason to reject.
    pub rejection: Option<&'a str>,
    pub time: &'a str,
}

/// The statement an approver signs for `ballot`.
pub fn approval_statement(ballot: &Ballot<'_>) -> Value {
    let record = ballot.record;
    json!({
        "_type": APPROVAL_STATEMENT_TYPE,
        "run": record.id.as_str(),
        "stage": ballot.stage,
        "identity": ballot.identity,
        "role": ballot.role,
        "decision": if ballot.rejection.is_some() { "reject" } else { "approve" },
        "reason": ballot.rejection,
        "image": image_of(record).map(|(name, hex)| json!({"name": name, "digest": {"sha256": hex}})),
        "atoPacket": ato_packet(record),
        "attestation": record.attestation.as_ref().map(|a| json!({"digest": digest_set(&a.digest)})),
        "policy": record.pins.policy.as_ref().map(|p| json!({
            "id": p.id, "version": p.version, "digest": digest_set(&p.digest),
        })),
        "time": ballot.time,
    })
}

/// The output digest of the run's `ato` stage: the packet reviewers read.
pub fn ato_packet(record: &RunRecord) -> Option<Value> {
    record.stages.iter().find_map(|stage| {
        let pin = record.pins.plugins.get(&stage.id)?;
        if pin.provenance.kind != Some(PluginKind::Ato) {
            return None;
        }
        let digest = stage.output_digest.as_deref()?;
        Some(json!({ "stage": stage.id, "digest": digest_set(digest) }))
    })
}

/// The key `roles` binds to `identity`, if any.
pub fn bound_key(roles: &Roles, identity: &str) -> Option<PublicKey> {
    roles
        .public_key(identity)
        .and_then(|text| PublicKey::parse(text).ok())
}

impl Session {
    /// Whether the roles file run `run` pinned binds a key to `identity`,
    /// so that its decisions must be signed.
    ///
    /// # Errors
    ///
    /// Fails when the run or its roles file cannot be read.
    pub fn must_sign(&self, run: &RunId, identity: &str) -> Result<bool, EngineError> {
        let record = self.load_run(run)?;
        let Some(pin) = &record.pins.roles else {
            return Ok(false);
        };
        let roles = crate::pipeline::load_roles(std::path::Path::new(&pin.path))?;
        Ok(roles.public_key(identity).is_some())
    }

    /// Signs `ballot` with `key` when the roles file binds a key to the
    /// identity (refusing, and auditing, any other key), or passes it
    /// unsigned when it binds none and no key is given.
    ///
    /// # Errors
    ///
    /// [`EngineError::ApprovalKey`] for a missing, unbound or wrong key.
    pub(super) fn sign_ballot(
        &self,
        roles: &Roles,
        ballot: &Ballot<'_>,
        key: Option<&SigningKey>,
    ) -> Result<Option<Envelope>, EngineError> {
        let bound = bound_key(roles, ballot.identity);
        let problem = match (&bound, key) {
            (None, None) => return Ok(None),
            (Some(bound), Some(key)) if bound.verifying_key() == &key.verifying_key() => {
                let payload = canonical_json(&approval_statement(ballot));
                let keyid = keys::key_id(&key.verifying_key());
                let envelope =
                    Envelope::sign_as(APPROVAL_PAYLOAD_TYPE, payload.as_bytes(), key, &keyid);
                return Ok(Some(envelope));
            }
            (Some(_), None) => format!(
                "the roles file binds a key to `{}`, so its decisions must be signed\n  hint: \
                 pass `--key <FILE>` with `{}`'s private key",
                ballot.identity, ballot.identity
            ),
            (None, Some(_)) => format!(
                "the roles file binds no key to `{}`, so a signature by it could not be \
                 checked\n  hint: add `public-key = \"ed25519:…\"` to `[identity.{}]`, or \
                 decide without `--key`",
                ballot.identity, ballot.identity
            ),
            (Some(_), Some(key)) => wrong_key_problem(roles, ballot, key),
        };
        self.refuse_ballot(ballot, key, &problem)?;
        Err(EngineError::ApprovalKey {
            message: format!(
                "refused the decision of `{}` on run {}: {problem}",
                ballot.identity, ballot.record.id
            ),
        })
    }

    /// Audits a decision refused for its key.
    fn refuse_ballot(
        &self,
        ballot: &Ballot<'_>,
        key: Option<&SigningKey>,
        problem: &str,
    ) -> Result<(), EngineError> {
        let run: &RunId = &ballot.record.id;
        let keyid = key.map(|k| keys::key_id(&k.verifying_key()));
        let fields = json!({
            "stage": ballot.stage,
            "identity": ballot.identity,
            "role": ballot.role,
            "keyid": keyid,
            "problem": problem,
        });
        self.audit(run, "approval-refused", fields)?;
        Ok(())
    }
}

/// Why `key` may not sign for the ballot's identity, naming whose key it is
/// when the roles file binds it to someone else.
fn wrong_key_problem(roles: &Roles, ballot: &Ballot<'_>, key: &SigningKey) -> String {
    let public = keys::public_key_text(&key.verifying_key());
    let owner = roles
        .identities_with_key(&public)
        .find(|owner| *owner != ballot.identity);
    match owner {
        Some(owner) => format!(
            "the key given is bound to `{owner}` (roles: {}), not to `{}`, who must hold role \
             `{}`",
            roles.roles_of(owner).unwrap_or_default().join(", "),
            ballot.identity,
            ballot.role
        ),
        None => format!(
            "the key given ({public}) is not the key the roles file binds to `{}`",
            ballot.identity
        ),
    }
}
