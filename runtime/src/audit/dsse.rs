//! DSSE envelopes: a payload, its type, and signatures over both.
//!
//! The format is the Dead Simple Signing Envelope (DSSE, used by in-toto
//! and Sigstore), JSON form:
//!
//! ```json
//! {"payloadType": "<type>", "payload": "<base64>",
//!  "signatures": [{"keyid": "<hint>", "sig": "<base64>"}]}
//! ```
//!
//! Each signature is over the pre-authentication encoding ([`pae`]) of the
//! type and the payload bytes, never over the JSON, so re-encoding the
//! envelope cannot change what was signed and a payload of one type cannot
//! pass for another. `keyid` is a hint only: gantry writes the signer's
//! public key as policy files write it (`ed25519:<base64>`), and a verifier
//! must check the signature with a key it trusts, never with the hint.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::keys;

/// One signed payload and its signatures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Envelope {
    /// What the payload is, as a media type.
    pub payload_type: String,
    /// The payload, base64.
    pub payload: String,
    /// At least one, when the envelope came from [`Envelope::parse`].
    pub signatures: Vec<EnvelopeSignature>,
}

/// One signature of an [`Envelope`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeSignature {
    /// Which key signed, as a hint; may be empty.
    #[serde(default)]
    pub keyid: String,
    /// The signature, base64.
    pub sig: String,
}

/// Why bytes are not a usable envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// Not JSON, or not the envelope's shape.
    #[error("it is not a DSSE envelope: {0}")]
    NotJson(String),
    /// `payload` or a `sig` is not base64.
    #[error("its `{0}` is not valid base64")]
    NotBase64(&'static str),
    /// No signature at all.
    #[error("it holds no signatures")]
    Unsigned,
}

/// The pre-authentication encoding of DSSE v1: what is actually signed.
///
/// `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, where `LEN` is the
/// length in bytes written as ASCII decimal with no leading zeros and `SP`
/// a single space.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

impl Envelope {
    /// Signs `payload` of type `payload_type` with `key`; the signature's
    /// `keyid` is the public key as policy files write it.
    pub fn sign(payload_type: &str, payload: &[u8], key: &SigningKey) -> Envelope {
        let signature = keys::sign(key, &pae(payload_type, payload));
        Envelope {
            payload_type: payload_type.to_owned(),
            payload: STANDARD.encode(payload),
            signatures: vec![EnvelopeSignature {
                keyid: keys::public_key_text(&key.verifying_key()),
                sig: STANDARD.encode(signature),
            }],
        }
    }

    /// Signs like [`Envelope::sign`], with `keyid` as the signature's key
    /// id hint (gantry writes [`keys::key_id`] there for pipeline and
    /// approver keys, the form in-toto tools match keys by).
    pub fn sign_as(payload_type: &str, payload: &[u8], key: &SigningKey, keyid: &str) -> Envelope {
        let mut envelope = Envelope::sign(payload_type, payload, key);
        envelope.signatures[0].keyid = keyid.to_owned();
        envelope
    }

    /// Whether some signature of the envelope is `key`'s (key id hints are
    /// ignored: only the key decides).
    pub fn signed_by(&self, key: &VerifyingKey) -> bool {
        self.signatures.iter().any(|s| self.verifies(s, key))
    }

    /// Reads an envelope from its JSON, checking that its payload and
    /// signatures decode.
    ///
    /// # Errors
    ///
    /// [`EnvelopeError`] saying what is wrong.
    pub fn parse(bytes: &[u8]) -> Result<Envelope, EnvelopeError> {
        let envelope: Envelope =
            serde_json::from_slice(bytes).map_err(|e| EnvelopeError::NotJson(e.to_string()))?;
        envelope.payload_bytes()?;
        if envelope.signatures.is_empty() {
            return Err(EnvelopeError::Unsigned);
        }
        for signature in &envelope.signatures {
            decode(&signature.sig).ok_or(EnvelopeError::NotBase64("sig"))?;
        }
        Ok(envelope)
    }

    /// The payload's bytes.
    ///
    /// # Errors
    ///
    /// [`EnvelopeError::NotBase64`] when `payload` does not decode.
    pub fn payload_bytes(&self) -> Result<Vec<u8>, EnvelopeError> {
        decode(&self.payload).ok_or(EnvelopeError::NotBase64("payload"))
    }

    /// Whether `signature` is `key`'s signature of this envelope's type and
    /// payload.
    pub fn verifies(&self, signature: &EnvelopeSignature, key: &VerifyingKey) -> bool {
        let (Ok(payload), Some(sig)) = (self.payload_bytes(), decode(&signature.sig)) else {
            return false;
        };
        keys::verify(key, &pae(&self.payload_type, &payload), &sig)
    }

    /// The envelope as JSON text, with a final newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("an envelope is plain JSON");
        text.push('\n');
        text
    }
}

/// Base64, as DSSE allows it: standard or URL-safe alphabet.
fn decode(text: &str) -> Option<Vec<u8>> {
    STANDARD
        .decode(text)
        .or_else(|_| URL_SAFE.decode(text))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Worked by hand from the DSSE v1 protocol text: "DSSEv1", a space, the
    // type's length in bytes (`application/vnd.gantry.plugin+json` is
    // 11 + 1 + 22 = 34 bytes), a space, the type, a space, the body's
    // length (`{"a":1}` is 7 bytes), a space, the body.
    #[test]
    fn pae_matches_a_vector_worked_by_hand() {
        let encoded = pae("application/vnd.gantry.plugin+json", br#"{"a":1}"#);
        assert_eq!(
            encoded,
            br#"DSSEv1 34 application/vnd.gantry.plugin+json 7 {"a":1}"#
        );
    }

    // The spec's own example type, counted by hand: `http://example.com/`
    // is 19 bytes and `HelloWorld` 10; `hello world` is 11.
    #[test]
    fn pae_counts_bytes_of_type_and_body() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ");
        // Lengths are of bytes, not characters: `é` is two.
        assert_eq!(pae("t", "é".as_bytes()), "DSSEv1 1 t 2 é".as_bytes());
    }

    #[test]
    fn a_signed_envelope_verifies_and_survives_reencoding() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let envelope = Envelope::sign("text/plain", b"hello", &key);
        let parsed = Envelope::parse(envelope.to_json().as_bytes()).unwrap();
        assert_eq!(parsed, envelope);
        let signature = &parsed.signatures[0].clone();
        assert_eq!(signature.keyid, keys::public_key_text(&key.verifying_key()));
        assert!(parsed.verifies(signature, &key.verifying_key()));

        let other = SigningKey::from_bytes(&[4; 32]).verifying_key();
        assert!(!parsed.verifies(signature, &other));
        let mut retyped = parsed.clone();
        retyped.payload_type = "text/html".into();
        assert!(!retyped.verifies(signature, &key.verifying_key()));
        let mut changed = parsed;
        changed.payload = STANDARD.encode(b"hellO");
        assert!(!changed.verifies(signature, &key.verifying_key()));
    }

    #[test]
    fn malformed_envelopes_say_what_is_wrong() {
        let cases: [(&[u8], &str); 5] = [
            (b"", "not a DSSE envelope"),
            (b"{\"payloadType\":\"t\"}", "missing field `payload`"),
            (
                b"{\"payloadType\":\"t\",\"payload\":\"*\",\"signatures\":[]}",
                "`payload` is not valid base64",
            ),
            (
                b"{\"payloadType\":\"t\",\"payload\":\"\",\"signatures\":[]}",
                "no signatures",
            ),
            (
                b"{\"payloadType\":\"t\",\"payload\":\"\",\"signatures\":[{\"sig\":\"!\"}]}",
                "`sig` is not valid base64",
            ),
        ];
        for (bytes, expected) in cases {
            let err = Envelope::parse(bytes).unwrap_err().to_string();
            assert!(err.contains(expected), "{expected}: {err}");
        }
    }
}
