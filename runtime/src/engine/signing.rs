//! The pipeline's key, and the checkpoints it signs.
//!
//! Every run is signed with its pipeline's ed25519 key: the provenance
//! attestation, the payloads a stage asks the host to sign (`sign` import),
//! and checkpoints of the audit log. The key comes from `[pipeline]
//! signing-key` or, when the pipeline names none, from
//! `<state-dir>/keys/<pipeline>.pem`, made on first use; its public half
//! and key id are recorded in the run's `run-start` event and run record,
//! and `approve` and `resume` refuse a key that differs.
//!
//! A checkpoint is a `checkpoint` event whose `envelope` is a DSSE envelope
//! (type [`CHECKPOINT_PAYLOAD_TYPE`]) over `{"hash","run","seq"}`: the
//! `seq` and `hash` of the line just before it. One is written at the end
//! of every run and after every approval, so a log rewritten from a
//! checkpoint on cannot be passed off without the key.

use std::path::PathBuf;

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::DecodePrivateKey;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{EngineError, Session};
use crate::audit::canonical_json;
use crate::audit::dsse::Envelope;
use crate::audit::keys;
use crate::pipeline::{PipelineSpec, SigningKeySource};
use crate::store::RunId;

/// The DSSE payload type of a signed audit checkpoint.
pub const CHECKPOINT_PAYLOAD_TYPE: &str = "application/vnd.gantry.checkpoint+json";

/// The key a run is signed with; the private half never leaves the host.
pub struct PipelineKey {
    key: SigningKey,
    /// What the run record and audit trail say about it.
    pub signer: SignerRecord,
}

/// The public facts of a pipeline key, as recorded at run start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignerRecord {
    /// `ed25519:<base64>`.
    pub public_key: String,
    /// [`keys::key_id`] of it.
    pub keyid: String,
    /// Where it came from: `file:<path>`, `env:<NAME>` or
    /// `state-dir:<path>`.
    pub source: String,
}

impl PipelineKey {
    fn new(key: SigningKey, source: String) -> PipelineKey {
        let public = key.verifying_key();
        let signer = SignerRecord {
            public_key: keys::public_key_text(&public),
            keyid: keys::key_id(&public),
            source,
        };
        PipelineKey { key, signer }
    }

    /// `payload` of `payload_type` in a DSSE envelope signed with this key.
    pub fn sign(&self, payload_type: &str, payload: &[u8]) -> Envelope {
        Envelope::sign_as(payload_type, payload, &self.key, &self.signer.keyid)
    }
}

impl Session {
    /// The key runs of `spec` are signed with: the one it names, or the
    /// state directory's key for the pipeline, made when missing.
    ///
    /// # Errors
    ///
    /// [`EngineError::SigningKey`] when the key cannot be read or made.
    pub(super) fn pipeline_key(&self, spec: &PipelineSpec) -> Result<PipelineKey, EngineError> {
        let fail = |message: String| EngineError::SigningKey {
            pipeline: spec.display_path.clone(),
            message,
        };
        match &spec.signing_key {
            Some(SigningKeySource::File(path)) => {
                let key = keys::load_private_key(path).map_err(|e| fail(e.to_string()))?;
                Ok(PipelineKey::new(key, format!("file:{}", path.display())))
            }
            Some(SigningKeySource::Env(name)) => {
                let text = std::env::var(name).map_err(|_| {
                    fail(format!(
                        "`[pipeline] signing-key` names variable `{name}`, which is not set \
                         (or not UTF-8)\n  hint: set it to the PEM text of a `gantry keygen` key"
                    ))
                })?;
                let key = SigningKey::from_pkcs8_pem(&text).map_err(|e| {
                    fail(format!(
                        "variable `{name}` does not hold an ed25519 private key in PKCS#8 \
                         PEM form: {e}"
                    ))
                })?;
                Ok(PipelineKey::new(key, format!("env:{name}")))
            }
            None => self.state_dir_key(&spec.name).map_err(fail),
        }
    }

    /// The state directory's key for pipeline `name`, made on first use.
    fn state_dir_key(&self, name: &str) -> Result<PipelineKey, String> {
        let path = self.pipeline_key_path(name);
        if !path.exists() {
            let dir = path.parent().expect("a key path has a directory");
            crate::store::create_private_dir(dir).map_err(|e| e.to_string())?;
            let key = keys::generate().map_err(|e| e.to_string())?;
            keys::write_private_key(&path, &key).map_err(|e| e.to_string())?;
            tracing::info!(key = %path.display(), "made a signing key for pipeline `{name}`");
        }
        let key = keys::load_private_key(&path).map_err(|e| e.to_string())?;
        Ok(PipelineKey::new(
            key,
            format!("state-dir:{}", path.display()),
        ))
    }

    /// `<state-dir>/keys/<name>.pem`, the name reduced to characters safe
    /// in a file name and told apart by a short digest of the whole name.
    fn pipeline_key_path(&self, name: &str) -> PathBuf {
        let safe: String = name
            .chars()
            .map(|c| match c {
                'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' => c,
                _ => '_',
            })
            .take(64)
            .collect();
        let digest = crate::store::sha256_bytes(name.as_bytes());
        let short = &digest["sha256:".len().."sha256:".len() + 8];
        self.state
            .root()
            .join("keys")
            .join(format!("{safe}-{short}.pem"))
    }

    /// Refuses to go on signing run `run` with a key other than the one it
    /// started with.
    pub(super) fn check_same_key(
        &self,
        run: &RunId,
        recorded: Option<&SignerRecord>,
        key: &PipelineKey,
    ) -> Result<(), EngineError> {
        match recorded {
            Some(recorded) if recorded.public_key != key.signer.public_key => {
                Err(EngineError::SigningKeyChanged {
                    run: run.clone(),
                    recorded: recorded.public_key.clone(),
                    now: key.signer.public_key.clone(),
                })
            }
            _ => Ok(()),
        }
    }

    /// Appends a signed checkpoint of the log's current head for `run`;
    /// `after` says what it follows (`run-end`, `approval`).
    pub(super) fn checkpoint(
        &self,
        run: &RunId,
        key: &PipelineKey,
        after: &str,
    ) -> Result<(), EngineError> {
        let mut audit = self.audit.lock().map_err(|_| EngineError::Poisoned)?;
        let (seq, hash) = (audit.len(), audit.head().to_owned());
        let payload = canonical_json(&json!({ "hash": hash, "run": run.as_str(), "seq": seq }));
        let envelope = key.sign(CHECKPOINT_PAYLOAD_TYPE, payload.as_bytes());
        let fields = json!({
            "after": after,
            "checkpoint": { "seq": seq, "hash": hash },
            "keyid": key.signer.keyid,
            "envelope": envelope,
        });
        audit.append(run.as_str(), "checkpoint", fields)?;
        Ok(())
    }
}

/// The signed provenance of a run, as its record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestationRecord {
    /// The file, relative to the run directory.
    pub file: String,
    /// `sha256:<hex>` of the file.
    pub digest: String,
}

impl Session {
    /// Writes the run's signed provenance (once) and records its digest;
    /// a run started before pipeline keys gets none.
    pub(super) fn attest(
        &self,
        record: &mut super::RunRecord,
        spec: &PipelineSpec,
        key: &PipelineKey,
    ) -> Result<(), EngineError> {
        use super::provenance;

        if record.attestation.is_some() || record.signer.is_none() {
            return Ok(());
        }
        let statement = provenance::statement(record, spec);
        let payload = canonical_json(&statement);
        let envelope = key.sign(provenance::PAYLOAD_TYPE, payload.as_bytes());
        let text = envelope.to_json();
        let path = self.state.run_dir(&record.id).join(provenance::FILE_NAME);
        crate::store::write_atomic(&path, text.as_bytes())?;
        let digest = crate::store::sha256_bytes(text.as_bytes());
        self.audit(
            &record.id,
            "attestation",
            json!({
                "file": provenance::FILE_NAME,
                "digest": digest,
                "payload_type": provenance::PAYLOAD_TYPE,
                "predicate_type": provenance::PREDICATE_TYPE,
                "subject": statement["subject"],
                "keyid": key.signer.keyid,
            }),
        )?;
        record.attestation = Some(AttestationRecord {
            file: provenance::FILE_NAME.to_owned(),
            digest,
        });
        self.save(record)
    }
}
