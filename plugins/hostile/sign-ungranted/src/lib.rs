//! A hostile stage that asks the host to sign, though its kind is `custom`.
//!
//! Only stages of kind `ato` may sign with the pipeline key; this one says
//! it is `custom`, so every request must come back `not-granted`, with a
//! `denied` event in the audit trail and no `signed` one. It asks twice: a
//! plain payload, and one whose type is an in-toto statement's, which would
//! let it forge a provenance the pipeline key vouches for.
//!
//! An `invalid` answer would mean the host looked at the request before
//! deciding whether the stage may sign at all; it is reported as escaped
//! only when a signature comes back.

use gantry_plugin_sdk::sign::{self, SignError};
use gantry_plugin_sdk::{Capabilities, Guest, PluginInfo, StageError, StageInput, StageOutput};
use hostile_probe::{Attempts, Outcome, plugin_info};

struct SignUngranted;

impl Guest for SignUngranted {
    fn describe() -> PluginInfo {
        plugin_info("sign-ungranted", Capabilities::none())
    }

    fn run(_input: StageInput) -> Result<StageOutput, StageError> {
        let mut attempts = Attempts::new();
        let requests: [(&str, &str, &[u8]); 2] = [
            ("sign.plain", "text/plain", b"hello"),
            (
                "sign.in-toto",
                "application/vnd.in-toto+json",
                br#"{"_type":"https://in-toto.io/Statement/v1"}"#,
            ),
        ];
        for (label, payload_type, payload) in requests {
            let outcome = match sign::sign(payload_type, payload) {
                Ok(envelope) => Outcome::Escaped(format!("signed: {} bytes", envelope.len())),
                Err(SignError::NotGranted(why)) => Outcome::Refused(format!("not-granted: {why}")),
                Err(SignError::Invalid(why)) => Outcome::Refused(format!("invalid: {why}")),
            };
            attempts.record(label, outcome);
        }
        Ok(attempts.into_output())
    }
}

gantry_plugin_sdk::export!(SignUngranted);
