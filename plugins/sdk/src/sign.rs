//! Signing payloads with the pipeline's key, through the `sign` import.
//!
//! The host holds the key and signs only for stages of kind `ato`; every
//! signature, and every refusal, is in the audit trail. What comes back is
//! a DSSE envelope as JSON text, ready to be written next to what it signs:
//!
//! ```ignore
//! let bytes = std::fs::read(gantry_plugin_sdk::out::path("packet.json"))?;
//! let envelope = gantry_plugin_sdk::sign::sign("application/json", &bytes)?;
//! gantry_plugin_sdk::out::write("packet.dsse.json", envelope.as_bytes())?;
//! ```

use crate::bindings::gantry::stage::sign as wit;

pub use wit::SignError;

/// Signs `payload`, of media type `payload_type`, and returns the DSSE
/// envelope (JSON text).
///
/// # Errors
///
/// [`SignError::NotGranted`] when the stage may not sign;
/// [`SignError::Invalid`] for an empty or unprintable payload type or a
/// payload over 16 MiB.
pub fn sign(payload_type: &str, payload: &[u8]) -> Result<String, SignError> {
    wit::sign(payload_type, payload)
}
