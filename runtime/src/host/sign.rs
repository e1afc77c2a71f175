//! The host side of the `sign` import.
//!
//! The WIT documents what `sign` does. The host holds no key: it checks the
//! request's shape and hands it to the stage's [`StageEvents`], which the
//! engine implements with the pipeline key and the stage's right to sign.
//!
//! [`StageEvents`]: super::StageEvents

use super::bindings::sign::{self, SignError};
use super::state::StageState;
use crate::grants::Denial;

/// The longest payload type accepted, in bytes.
const MAX_PAYLOAD_TYPE: usize = 256;
/// The largest payload accepted, in bytes.
const MAX_PAYLOAD: usize = 16 * 1024 * 1024;

/// Why the engine did not sign a payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignRefusal {
    /// The stage may not sign; `missing` says what would allow it.
    NotGranted { missing: String },
    /// Signing failed on the host's side.
    Failed(String),
}

impl sign::Host for StageState {
    async fn sign(
        &mut self,
        payload_type: String,
        payload: Vec<u8>,
    ) -> wasmtime::Result<Result<String, SignError>> {
        self.count_record()?;
        if let Some(problem) = invalid_request(&payload_type, payload.len()) {
            return Ok(Err(SignError::Invalid(problem)));
        }
        match self.events.sign(&payload_type, &payload) {
            Ok(envelope) => Ok(Ok(envelope)),
            Err(SignRefusal::NotGranted { missing }) => {
                let asked = format!("sign `{}`", super::state::truncate(payload_type, 256));
                self.events.denied(&Denial {
                    capability: "sign",
                    asked: asked.clone(),
                    missing_grant: missing.clone(),
                });
                Ok(Err(SignError::NotGranted(format!(
                    "this stage may not sign (needs {missing})"
                ))))
            }
            // The host could not do what it promised: end the stage.
            Err(SignRefusal::Failed(message)) => {
                Err(wasmtime::Error::msg(format!("failed to sign: {message}")))
            }
        }
    }
}

/// What is wrong with a request, before anything is signed.
fn invalid_request(payload_type: &str, payload_len: usize) -> Option<String> {
    if payload_type.is_empty() {
        return Some("the payload type is empty".to_owned());
    }
    if payload_type.len() > MAX_PAYLOAD_TYPE {
        return Some(format!(
            "the payload type is longer than {MAX_PAYLOAD_TYPE} bytes"
        ));
    }
    if !payload_type.bytes().all(|b| b.is_ascii_graphic()) {
        return Some("the payload type is not printable ASCII without spaces".to_owned());
    }
    if payload_len > MAX_PAYLOAD {
        return Some(format!("the payload is larger than {MAX_PAYLOAD} bytes"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::invalid_request;

    #[test]
    fn payload_types_must_be_short_printable_and_payloads_bounded() {
        assert_eq!(invalid_request("application/json", 10), None);
        assert!(invalid_request("", 1).unwrap().contains("empty"));
        assert!(invalid_request("a b", 1).unwrap().contains("printable"));
        assert!(invalid_request("t\u{1b}", 1).unwrap().contains("printable"));
        assert!(
            invalid_request(&"a".repeat(257), 1)
                .unwrap()
                .contains("256")
        );
        assert_eq!(invalid_request(&"a".repeat(256), 1), None);
        assert!(
            invalid_request("t", 16 * 1024 * 1024 + 1)
                .unwrap()
                .contains("larger")
        );
    }
}
