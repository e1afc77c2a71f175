//! Which plugins a policy lets run: signatures checked against `[trust]`,
//! and grants checked against `[ceilings.<kind>]`.
//!
//! A plugin signature is a DSSE envelope (see [`crate::audit::dsse`]) kept
//! beside the plugin as `<plugin>.wasm.sig`, or wherever the stage's
//! `signature` names. Its payload type is [`PLUGIN_PAYLOAD_TYPE`] and its
//! payload the canonical JSON (keys sorted, no whitespace) of a
//! [`PluginStatement`]:
//!
//! ```json
//! {"digest":"sha256:<hex of the component's bytes>","kind":"scan"}
//! ```
//!
//! Each signature's `keyid` is the signer's public key as the policy file
//! writes it (`ed25519:<base64>`): a hint for finding the key, never trusted
//! itself; the signature is checked with the key from the policy.
//!
//! When the policy has `[trust]`, checks fail closed, in this order:
//!
//! 1. before the plugin is even compiled, [`vouch_for`]: a standard plugin
//!    needs `builtin = true`; any other needs a signature file holding a
//!    well-formed envelope of the right type, a signature that verifies
//!    with the key of a `[[trust.signer]]`, over the plugin's exact digest,
//!    by a signer whose `kinds` hold the signed kind;
//! 2. after loading it, [`settle_kind`]: what the plugin's `describe` says
//!    it is must be the signed kind;
//! 3. [`excess_for`]: the stage's grants and limits must stay within the
//!    ceiling the policy sets for that kind.
//!
//! A stage's kind is its signed kind; else the standard plugin's kind; else
//! what its `describe` says (without `[trust]`, the plugin's word: a policy
//! that relies on ceilings should also require signatures).
//! [`assess_plugin`] runs all three for `inspect`; the engine runs them at
//! run start and again before `approve` and `resume`.

use std::fmt;
use std::path::Path;

use ed25519_dalek::SigningKey;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::audit::canonical_json;
use crate::audit::dsse::{Envelope, EnvelopeError};
use crate::host::bindings::types::StageKind as WitKind;
use crate::pipeline::{
    Excess, PluginKind, PluginSource, PluginStage, Policy, PublicKey, Signer, TrustPolicy,
};

/// The DSSE payload type of a plugin signature.
pub const PLUGIN_PAYLOAD_TYPE: &str = "application/vnd.gantry.plugin+json";

/// What a plugin signature vouches for: these exact bytes are a plugin of
/// this kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginStatement {
    /// `sha256:<hex>` of the component file.
    pub digest: String,
    /// The kind of stage it may run as.
    pub kind: PluginKind,
}

impl PluginStatement {
    /// The payload a signature covers: canonical JSON, keys sorted.
    pub fn to_payload(&self) -> Vec<u8> {
        let value = serde_json::to_value(self).expect("a statement is plain JSON");
        canonical_json(&value).into_bytes()
    }
}

/// Signs the component whose digest is `digest` as a plugin of `kind`.
pub fn sign_plugin(digest: &str, kind: PluginKind, key: &SigningKey) -> Envelope {
    let statement = PluginStatement {
        digest: digest.to_owned(),
        kind,
    };
    Envelope::sign(PLUGIN_PAYLOAD_TYPE, &statement.to_payload(), key)
}

/// Who vouches for a plugin: recorded as `"builtin"`, or the signer's
/// `{"name", "key"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Voucher {
    /// A standard plugin, built into this gantry.
    Builtin,
    /// A `[[trust.signer]]` of the policy.
    Signer { name: String, key: String },
}

impl fmt::Display for Voucher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Voucher::Builtin => f.write_str("builtin"),
            Voucher::Signer { name, key } => write!(f, "`{name}` ({key})"),
        }
    }
}

impl Serialize for Voucher {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Key<'a> {
            name: &'a str,
            key: &'a str,
        }
        match self {
            Voucher::Builtin => s.serialize_str("builtin"),
            Voucher::Signer { name, key } => Key { name, key }.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Voucher {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Word(String),
            Key { name: String, key: String },
        }
        match Raw::deserialize(d)? {
            Raw::Word(word) if word == "builtin" => Ok(Voucher::Builtin),
            Raw::Word(word) => Err(serde::de::Error::custom(format!("unknown signer `{word}`"))),
            Raw::Key { name, key } => Ok(Voucher::Signer { name, key }),
        }
    }
}

/// Where a plugin comes from and what it is, as the run record and the
/// audit trail keep it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Provenance {
    /// Who vouches for it; `None` for a plugin file when the policy has no
    /// `[trust]` (signatures are then not checked).
    pub signer: Option<Voucher>,
    /// What kind of stage it is; `None` when nothing says (no signature
    /// and `describe` failed).
    pub kind: Option<PluginKind>,
    /// The digest of the signature file relied on.
    pub signature: Option<String>,
}

/// Why a policy's `[trust]` refuses a plugin. Each message says what is
/// wrong, then, on its own line, what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustRefusal {
    #[error(
        "no signature file `{path}`\n  hint: sign the plugin with `gantry plugin sign <PLUGIN> \
         --key <KEY> --kind <KIND>`, or name its envelope with `signature = \"…\"` in the \
         stage's `plugin` table"
    )]
    NoSignature { path: String },
    #[error("failed to read signature file `{path}`: {message}")]
    UnreadableSignature { path: String, message: String },
    #[error(
        "signature file `{path}` is malformed: {problem}\n  hint: sign the plugin again with \
         `gantry plugin sign`"
    )]
    Malformed { path: String, problem: String },
    #[error(
        "signature file `{path}` holds a `{found}`, not a plugin signature \
         (`{PLUGIN_PAYLOAD_TYPE}`)\n  hint: sign the plugin with `gantry plugin sign`"
    )]
    WrongPayloadType { path: String, found: String },
    #[error(
        "the signature does not verify with the key of signer `{signer}` ({key}): the \
         signature file was altered, or made with another key under that key's name\n  \
         hint: sign the plugin again with the signer's key"
    )]
    BadSignature { signer: String, key: String },
    #[error(
        "it is signed by {}, which no `[[trust.signer]]` of the policy names\n  hint: if \
         you trust that key, add it to the policy's `[trust]` with the kinds it may sign",
        keys_list(keys)
    )]
    UnknownKey { keys: Vec<String> },
    #[error(
        "the signature is for {signed}, but the plugin is {actual}: the plugin changed after \
         it was signed\n  hint: have the new plugin signed, or restore the signed one"
    )]
    DigestMismatch { signed: String, actual: String },
    #[error(
        "signer `{signer}` signed it as a `{kind}` plugin, but the policy trusts `{signer}` \
         only for {}\n  hint: add `{kind}` to the signer's `kinds` in the policy, or have a \
         signer trusted for `{kind}` sign it",
        kinds_list(allowed)
    )]
    KindNotTrusted {
        signer: String,
        kind: PluginKind,
        allowed: Vec<PluginKind>,
    },
    #[error(
        "it is a standard plugin, and the policy does not trust them (`[trust] builtin = \
         false`)\n  hint: set `builtin = true` under `[trust]`, or use a signed plugin file"
    )]
    BuiltinNotTrusted,
    #[error(
        "it is signed as a `{signed}` plugin, but its `describe` says it is a `{described}` \
         plugin\n  hint: sign it with `--kind {described}` if that is what it is"
    )]
    KindDisagrees {
        signed: PluginKind,
        described: PluginKind,
    },
    #[error(
        "its kind cannot be checked: `describe` failed: {message}\n  hint: a plugin must \
         describe itself for the policy's trust and ceilings to apply"
    )]
    DescribeFailed { message: String },
}

fn keys_list(keys: &[String]) -> String {
    let quoted: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
    match quoted.as_slice() {
        [] => "a key it does not name".to_owned(),
        [one] => format!("key {one}"),
        _ => format!("keys {}", quoted.join(", ")),
    }
}

fn kinds_list(kinds: &[PluginKind]) -> String {
    if kinds.is_empty() {
        return "no kinds (its `kinds` is empty)".to_owned();
    }
    let quoted: Vec<String> = kinds.iter().map(|k| format!("`{k}`")).collect();
    quoted.join(", ")
}

/// A signature that verified, by a signer the policy trusts for its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub signer: Signer,
    pub kind: PluginKind,
}

/// Reads the envelope at `path`.
///
/// # Errors
///
/// [`TrustRefusal::NoSignature`] when there is no file there.
pub fn read_signature(path: &Path) -> Result<Vec<u8>, TrustRefusal> {
    let shown = path.display().to_string();
    std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => TrustRefusal::NoSignature { path: shown },
        _ => TrustRefusal::UnreadableSignature {
            path: shown,
            message: e.to_string(),
        },
    })
}

/// Checks the envelope `envelope` (read from `path`) against `trust`, for
/// the plugin whose digest is `digest`.
///
/// # Errors
///
/// The first [`TrustRefusal`] that applies, in the order the module doc
/// lists them.
pub fn verify_plugin_signature(
    trust: &TrustPolicy,
    path: &Path,
    envelope: &[u8],
    digest: &str,
) -> Result<Verified, TrustRefusal> {
    let shown = path.display().to_string();
    let malformed = |problem: String| TrustRefusal::Malformed {
        path: shown.clone(),
        problem,
    };
    let envelope =
        Envelope::parse(envelope).map_err(|e: EnvelopeError| malformed(e.to_string()))?;
    if envelope.payload_type != PLUGIN_PAYLOAD_TYPE {
        return Err(TrustRefusal::WrongPayloadType {
            path: shown,
            found: envelope.payload_type,
        });
    }
    let signers = verified_signers(trust, &envelope)?;
    // Only a verified payload is read: until then it is anyone's text.
    let payload = envelope
        .payload_bytes()
        .map_err(|e| malformed(e.to_string()))?;
    let statement: PluginStatement = serde_json::from_slice(&payload)
        .map_err(|e| malformed(format!("its payload is not a plugin statement: {e}")))?;
    if statement.digest != digest {
        return Err(TrustRefusal::DigestMismatch {
            signed: statement.digest,
            actual: digest.to_owned(),
        });
    }
    let kind = statement.kind;
    match signers.iter().find(|s| s.kinds.contains(&kind)) {
        Some(signer) => Ok(Verified {
            signer: (*signer).clone(),
            kind,
        }),
        None => Err(TrustRefusal::KindNotTrusted {
            signer: signers[0].name.clone(),
            kind,
            allowed: signers[0].kinds.clone(),
        }),
    }
}

/// The policy's signers with a signature in `envelope` that verifies; at
/// least one.
fn verified_signers<'a>(
    trust: &'a TrustPolicy,
    envelope: &Envelope,
) -> Result<Vec<&'a Signer>, TrustRefusal> {
    let mut verified = Vec::new();
    let mut failed = None;
    let mut unknown = Vec::new();
    for signature in &envelope.signatures {
        // An empty or unreadable hint: try every signer.
        let hinted = PublicKey::parse(&signature.keyid).ok();
        let candidates: Vec<&Signer> = match &hinted {
            Some(key) => trust.signer_with_key(key).into_iter().collect(),
            None => trust.signers.iter().collect(),
        };
        if candidates.is_empty() {
            unknown.push(signature.keyid.clone());
        }
        for signer in candidates {
            if envelope.verifies(signature, signer.public_key.verifying_key()) {
                verified.push(signer);
            } else if hinted.is_some() {
                failed.get_or_insert(signer);
            }
        }
    }
    if !verified.is_empty() {
        return Ok(verified);
    }
    match failed {
        Some(signer) => Err(TrustRefusal::BadSignature {
            signer: signer.name.clone(),
            key: signer.public_key.to_string(),
        }),
        None => Err(TrustRefusal::UnknownKey { keys: unknown }),
    }
}

/// The first check, before the plugin is compiled: who vouches for the
/// plugin whose bytes have `digest`, under `policy`.
///
/// # Errors
///
/// A [`TrustRefusal`] when the policy has `[trust]` and does not trust the
/// plugin.
pub fn vouch_for(
    policy: Option<&Policy>,
    source: &PluginSource,
    digest: &str,
) -> Result<Provenance, TrustRefusal> {
    let trust = policy.and_then(|p| p.trust.as_ref());
    match source {
        PluginSource::Builtin(builtin) => {
            if trust.is_some_and(|t| !t.builtin) {
                return Err(TrustRefusal::BuiltinNotTrusted);
            }
            Ok(Provenance {
                signer: Some(Voucher::Builtin),
                kind: Some(builtin.kind()),
                signature: None,
            })
        }
        PluginSource::Path { signature, .. } => {
            let Some(trust) = trust else {
                return Ok(Provenance::default());
            };
            let envelope = read_signature(signature)?;
            let verified = verify_plugin_signature(trust, signature, &envelope, digest)?;
            Ok(Provenance {
                signer: Some(Voucher::Signer {
                    name: verified.signer.name,
                    key: verified.signer.public_key.to_string(),
                }),
                kind: Some(verified.kind),
                signature: Some(crate::store::sha256_bytes(&envelope)),
            })
        }
    }
}

/// The second check, once the plugin is loaded: what its `describe` says
/// it is (`Err` holding why `describe` failed) against its signed kind.
/// Fills in the kind when nothing else gave one.
///
/// # Errors
///
/// [`TrustRefusal::KindDisagrees`] when a signed plugin says it is another
/// kind; [`TrustRefusal::DescribeFailed`] when the kind is needed (it is
/// signed, or the policy has ceilings) and `describe` failed.
pub fn settle_kind(
    provenance: &mut Provenance,
    described: Result<PluginKind, String>,
    policy: Option<&Policy>,
) -> Result<(), TrustRefusal> {
    let signed = matches!(provenance.signer, Some(Voucher::Signer { .. }));
    match (provenance.kind, described) {
        (Some(signed_kind), Ok(described)) if signed && signed_kind != described => {
            Err(TrustRefusal::KindDisagrees {
                signed: signed_kind,
                described,
            })
        }
        (Some(_), Ok(_)) => Ok(()),
        (None, Ok(described)) => {
            provenance.kind = Some(described);
            Ok(())
        }
        (kind, Err(message)) => {
            let has_ceilings = policy.is_some_and(|p| !p.ceilings.is_empty());
            if signed || (kind.is_none() && has_ceilings) {
                return Err(TrustRefusal::DescribeFailed { message });
            }
            tracing::warn!("plugin `describe` failed; its kind is unknown: {message}");
            Ok(())
        }
    }
}

/// The third check: every grant and limit of `stage` beyond the ceiling
/// `policy` sets for `kind`; empty when there is none to apply.
pub fn excess_for(
    policy: Option<&Policy>,
    kind: Option<PluginKind>,
    stage: &PluginStage,
) -> Vec<Excess> {
    let ceiling = policy.zip(kind).and_then(|(p, k)| p.ceiling(k));
    ceiling.map_or_else(Vec::new, |c| c.excess(&stage.grants, &stage.limits))
}

/// A plugin stage judged against its policy.
#[derive(Debug, Clone, Serialize)]
pub struct Assessment {
    /// Who vouches for the plugin and what kind it is, as far as known.
    pub provenance: Provenance,
    /// Why `[trust]` refuses the plugin, if it does.
    #[serde(serialize_with = "serialize_display")]
    pub refusal: Option<TrustRefusal>,
    /// Grants and limits beyond the ceiling for the plugin's kind.
    pub excess: Vec<Excess>,
}

fn serialize_display<S: Serializer>(value: &Option<TrustRefusal>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(refusal) => s.collect_str(refusal),
        None => s.serialize_none(),
    }
}

impl Assessment {
    /// Whether the stage may run.
    pub fn allowed(&self) -> bool {
        self.refusal.is_none() && self.excess.is_empty()
    }
}

/// All three checks at once, for a plugin already loaded and described
/// (`described` as for [`settle_kind`]): what `inspect` shows and what a
/// run would refuse. A refused signature leaves the kind to `describe` so
/// that the ceiling can still be shown.
pub fn assess_plugin(
    policy: Option<&Policy>,
    stage: &PluginStage,
    digest: &str,
    described: Result<PluginKind, String>,
) -> Assessment {
    let (mut provenance, mut refusal) = match vouch_for(policy, &stage.plugin, digest) {
        Ok(provenance) => (provenance, None),
        Err(refusal) => (Provenance::default(), Some(refusal)),
    };
    if let Err(disagrees) = settle_kind(&mut provenance, described, policy) {
        refusal.get_or_insert(disagrees);
    }
    let excess = excess_for(policy, provenance.kind, stage);
    Assessment {
        provenance,
        refusal,
        excess,
    }
}

/// The kind a plugin's `describe` gives, as policies name kinds.
pub fn described_kind(kind: WitKind) -> PluginKind {
    match kind {
        WitKind::Build => PluginKind::Build,
        WitKind::Test => PluginKind::Test,
        WitKind::Scan => PluginKind::Scan,
        WitKind::Ato => PluginKind::Ato,
        WitKind::Promote => PluginKind::Promote,
        WitKind::Custom => PluginKind::Custom,
    }
}

/// One plugin stage a policy refuses, as the error and the audit trail
/// give it.
#[derive(Debug, Clone, Serialize)]
pub struct Refusal {
    pub stage: String,
    pub plugin: String,
    pub digest: String,
    /// The stage's kind, when known.
    pub kind: Option<PluginKind>,
    /// Which check refused it: `trust` or `ceiling`.
    pub check: &'static str,
    /// What is wrong, with a hint.
    pub reason: String,
    /// For `ceiling`: each grant or limit beyond it.
    pub excess: Vec<Excess>,
}

impl Refusal {
    /// A plugin `[trust]` refuses.
    pub fn untrusted(stage: &str, plugin: &str, digest: &str, reason: &TrustRefusal) -> Refusal {
        Refusal {
            stage: stage.to_owned(),
            plugin: plugin.to_owned(),
            digest: digest.to_owned(),
            kind: None,
            check: "trust",
            reason: reason.to_string(),
            excess: Vec::new(),
        }
    }

    /// A stage granted more than the ceiling for its kind.
    pub fn beyond_ceiling(
        stage: &str,
        plugin: &str,
        digest: &str,
        kind: PluginKind,
        excess: Vec<Excess>,
    ) -> Refusal {
        Refusal {
            stage: stage.to_owned(),
            plugin: plugin.to_owned(),
            digest: digest.to_owned(),
            kind: Some(kind),
            check: "ceiling",
            reason: format!(
                "it is granted more than the policy's `[ceilings.{kind}]` allows a stage of \
                 kind `{kind}`:{}\n  hint: narrow the stage's grants, or widen the ceiling in \
                 the policy",
                excess
                    .iter()
                    .map(|e| format!("\n  - {e}"))
                    .collect::<String>()
            ),
            excess,
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "stage `{}`, plugin `{}` ({}): {}",
            self.stage, self.plugin, self.digest, self.reason
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::keys;
    use crate::pipeline::BuiltinPlugin;

    const DIGEST: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn trust(kinds: Vec<PluginKind>) -> TrustPolicy {
        TrustPolicy {
            builtin: true,
            signers: vec![Signer {
                name: "team".into(),
                public_key: key(1).verifying_key().into(),
                kinds,
            }],
        }
    }

    fn check(trust: &TrustPolicy, envelope: &Envelope) -> Result<Verified, TrustRefusal> {
        let json = envelope.to_json();
        verify_plugin_signature(trust, Path::new("p.wasm.sig"), json.as_bytes(), DIGEST)
    }

    #[test]
    fn the_payload_is_canonical_json_of_digest_and_kind() {
        let statement = PluginStatement {
            digest: "sha256:ab".into(),
            kind: PluginKind::Scan,
        };
        assert_eq!(
            statement.to_payload(),
            br#"{"digest":"sha256:ab","kind":"scan"}"#
        );
    }

    #[test]
    fn a_trusted_signer_for_the_kind_is_verified() {
        let envelope = sign_plugin(DIGEST, PluginKind::Scan, &key(1));
        let verified = check(&trust(vec![PluginKind::Scan]), &envelope).unwrap();
        assert_eq!(
            (verified.signer.name.as_str(), verified.kind),
            ("team", PluginKind::Scan)
        );
    }

    #[test]
    fn each_failure_has_its_own_reason() {
        let trusted = trust(vec![PluginKind::Scan]);
        let unknown = check(&trusted, &sign_plugin(DIGEST, PluginKind::Scan, &key(2)));
        assert!(
            matches!(unknown, Err(TrustRefusal::UnknownKey { .. })),
            "{unknown:?}"
        );

        let for_build = check(&trusted, &sign_plugin(DIGEST, PluginKind::Build, &key(1)));
        assert!(
            matches!(
                for_build,
                Err(TrustRefusal::KindNotTrusted {
                    kind: PluginKind::Build,
                    ..
                })
            ),
            "{for_build:?}"
        );

        let other = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
        let mismatch = check(&trusted, &sign_plugin(other, PluginKind::Scan, &key(1)));
        assert!(
            matches!(mismatch, Err(TrustRefusal::DigestMismatch { .. })),
            "{mismatch:?}"
        );

        // Signed by another key, but claiming the trusted one.
        let mut forged = sign_plugin(DIGEST, PluginKind::Scan, &key(2));
        forged.signatures[0].keyid = keys::public_key_text(&key(1).verifying_key());
        let bad = check(&trusted, &forged);
        assert!(
            matches!(bad, Err(TrustRefusal::BadSignature { .. })),
            "{bad:?}"
        );

        let mut retyped = sign_plugin(DIGEST, PluginKind::Scan, &key(1));
        retyped.payload_type = "application/vnd.in-toto+json".into();
        let wrong = check(&trusted, &retyped);
        assert!(
            matches!(wrong, Err(TrustRefusal::WrongPayloadType { .. })),
            "{wrong:?}"
        );

        let garbage = verify_plugin_signature(&trusted, Path::new("p.sig"), b"\x00garbage", DIGEST);
        assert!(
            matches!(garbage, Err(TrustRefusal::Malformed { .. })),
            "{garbage:?}"
        );
    }

    #[test]
    fn standard_plugins_need_builtin_trust() {
        let mut policy = Policy::permissive("p", "1");
        let source = PluginSource::Builtin(BuiltinPlugin::Scan);
        let provenance = vouch_for(Some(&policy), &source, DIGEST).unwrap();
        assert_eq!(provenance.signer, Some(Voucher::Builtin));
        assert_eq!(provenance.kind, Some(PluginKind::Scan));

        policy.trust = Some(TrustPolicy {
            builtin: false,
            signers: Vec::new(),
        });
        let refused = vouch_for(Some(&policy), &source, DIGEST);
        assert_eq!(refused, Err(TrustRefusal::BuiltinNotTrusted));
    }

    #[test]
    fn a_signed_kind_must_agree_with_describe() {
        let mut provenance = Provenance {
            signer: Some(Voucher::Signer {
                name: "team".into(),
                key: "k".into(),
            }),
            kind: Some(PluginKind::Scan),
            signature: None,
        };
        assert!(settle_kind(&mut provenance, Ok(PluginKind::Scan), None).is_ok());
        let disagrees = settle_kind(&mut provenance, Ok(PluginKind::Custom), None);
        assert!(matches!(disagrees, Err(TrustRefusal::KindDisagrees { .. })));
        let failed = settle_kind(&mut provenance, Err("trap".into()), None);
        assert!(matches!(failed, Err(TrustRefusal::DescribeFailed { .. })));

        let mut unsigned = Provenance::default();
        settle_kind(&mut unsigned, Err("trap".into()), None).unwrap();
        assert_eq!(unsigned.kind, None);
        settle_kind(&mut unsigned, Ok(PluginKind::Test), None).unwrap();
        assert_eq!(unsigned.kind, Some(PluginKind::Test));
    }

    #[test]
    fn vouchers_are_recorded_as_builtin_or_name_and_key() {
        let builtin = serde_json::to_value(Voucher::Builtin).unwrap();
        assert_eq!(builtin, "builtin");
        let signer = Voucher::Signer {
            name: "team".into(),
            key: "ed25519:x".into(),
        };
        let json = serde_json::to_value(&signer).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"name": "team", "key": "ed25519:x"})
        );
        assert_eq!(serde_json::from_value::<Voucher>(json).unwrap(), signer);
        assert_eq!(
            serde_json::from_value::<Voucher>(builtin).unwrap(),
            Voucher::Builtin
        );
    }
}
