//! Structured log lines through the host's `log` import.
//!
//! ```ignore
//! gantry_plugin_sdk::log::info("copied blob", &[("digest", &digest)]);
//! ```
//!
//! The host shows each line with the run and stage and keeps it in the
//! stage's log; it may drop lines beyond its rate limit.

use crate::bindings::gantry::stage::log::{Level, emit};

/// Logs `message` at trace level with key/value `fields`.
pub fn trace(message: &str, fields: &[(&str, &str)]) {
    log(Level::Trace, message, fields);
}

/// Logs `message` at debug level with key/value `fields`.
pub fn debug(message: &str, fields: &[(&str, &str)]) {
    log(Level::Debug, message, fields);
}

/// Logs `message` at info level with key/value `fields`.
pub fn info(message: &str, fields: &[(&str, &str)]) {
    log(Level::Info, message, fields);
}

/// Logs `message` at warn level with key/value `fields`.
pub fn warn(message: &str, fields: &[(&str, &str)]) {
    log(Level::Warn, message, fields);
}

/// Logs `message` at error level with key/value `fields`.
pub fn error(message: &str, fields: &[(&str, &str)]) {
    log(Level::Error, message, fields);
}

fn log(level: Level, message: &str, fields: &[(&str, &str)]) {
    let fields: Vec<(String, String)> = fields
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect();
    emit(level, message, &fields);
}
