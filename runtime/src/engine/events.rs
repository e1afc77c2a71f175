//! What a running stage reports: its log file, tracing, and the audit trail.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::json;

use super::signing::PipelineKey;
use crate::audit::AuditLog;
use crate::grants::{Denial, DenialSink};
use crate::host::{ExecRecord, HttpRecord, LogLevel, SignRefusal, StageEvents};
use crate::pipeline::escape_deceptive;
use crate::store::timestamp_now;

/// Receives one stage's events and records them.
///
/// A failure to append to the audit log cannot be returned from inside a
/// host call, so it is kept and checked by the engine when the stage ends:
/// a run whose trail lost an event does not go on.
pub(super) struct StageRecorder {
    run: String,
    stage: String,
    plugin: String,
    audit: Arc<Mutex<AuditLog>>,
    log: Mutex<Option<File>>,
    audit_failure: Mutex<Option<String>>,
    /// The pipeline key, when the stage may sign (kind `ato`).
    signer: Option<Arc<PipelineKey>>,
}

impl StageRecorder {
    /// Records into the audit log and `log_path` (JSON lines, created now).
    pub fn new(
        run: &str,
        stage: &str,
        plugin: &str,
        audit: Arc<Mutex<AuditLog>>,
        log_path: &Path,
    ) -> Self {
        let log = File::create(log_path)
            .inspect_err(|e| tracing::warn!(path = %log_path.display(), "no stage log: {e}"))
            .ok();
        StageRecorder {
            run: run.to_owned(),
            stage: stage.to_owned(),
            plugin: plugin.to_owned(),
            audit,
            log: Mutex::new(log),
            audit_failure: Mutex::new(None),
            signer: None,
        }
    }

    /// Lets the stage sign payloads with `key`.
    pub fn allow_signing(mut self, key: Arc<PipelineKey>) -> Self {
        self.signer = Some(key);
        self
    }

    /// The first audit write that failed during the stage, if any.
    pub fn audit_failure(&self) -> Option<String> {
        self.audit_failure.lock().ok()?.clone()
    }

    /// A line from the host about the stage, for its log: a warning when
    /// `fine` is false.
    pub fn host_note(&self, fine: bool, message: &str) {
        let (run, stage, plugin) = (&self.run, &self.stage, &self.plugin);
        let level = match fine {
            true => {
                tracing::info!(%run, %stage, %plugin, "{message}");
                LogLevel::Info
            }
            false => {
                tracing::warn!(%run, %stage, %plugin, "{message}");
                LogLevel::Warn
            }
        };
        self.write_log(level, message, json!({ "source": "host" }));
    }

    fn audit(&self, event: &str, fields: serde_json::Value) {
        let result = match self.audit.lock() {
            Ok(mut audit) => audit.append(&self.run, event, fields).map(drop),
            Err(_) => return,
        };
        if let Err(err) = result {
            tracing::error!(run = %self.run, stage = %self.stage, "failed to audit {event}: {err}");
            if let Ok(mut failure) = self.audit_failure.lock() {
                failure.get_or_insert_with(|| err.to_string());
            }
        }
    }

    fn write_log(&self, level: LogLevel, message: &str, fields: serde_json::Value) {
        let line = json!({
            "time": timestamp_now(),
            "level": level,
            "message": message,
            "fields": fields,
        });
        // One write per line: the file is unbuffered, and a line written in
        // pieces would cost a system call per JSON token.
        let mut text = line.to_string();
        text.push('\n');
        if let Ok(mut guard) = self.log.lock()
            && let Some(file) = guard.as_mut()
            && let Err(err) = file.write_all(text.as_bytes())
        {
            tracing::warn!(run = %self.run, stage = %self.stage, "failed to write the stage log: {err}");
        }
    }
}

impl DenialSink for StageRecorder {
    fn denied(&self, denial: &Denial) {
        // `asked` is whatever the plugin sent: quoted and escaped, so that
        // it cannot write terminal escapes or fake lines to stderr.
        tracing::warn!(
            run = %self.run, stage = %self.stage, plugin = %self.plugin,
            capability = denial.capability, asked = ?denial.asked,
            missing_grant = ?denial.missing_grant,
            "request denied"
        );
        let fields = json!({
            "stage": self.stage,
            "plugin": self.plugin,
            "capability": denial.capability,
            "asked": denial.asked,
            "missing_grant": denial.missing_grant,
        });
        self.write_log(LogLevel::Warn, "request denied", fields.clone());
        self.audit("denied", fields);
    }
}

impl StageEvents for StageRecorder {
    fn log(&self, level: LogLevel, message: &str, fields: &[(String, String)]) {
        let fields_text = fields
            .iter()
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect::<Vec<_>>()
            .join(" ");
        // The message and keys are the plugin's: a line break or escape in
        // them must not forge a line on, or rewrite, the operator's terminal.
        let text = escape_deceptive(&format!("{message} {fields_text}"), false);
        let (run, stage, plugin) = (&self.run, &self.stage, &self.plugin);
        match level {
            LogLevel::Trace => tracing::trace!(%run, %stage, %plugin, "{text}"),
            LogLevel::Debug => tracing::debug!(%run, %stage, %plugin, "{text}"),
            LogLevel::Info => tracing::info!(%run, %stage, %plugin, "{text}"),
            LogLevel::Warn => tracing::warn!(%run, %stage, %plugin, "{text}"),
            LogLevel::Error => tracing::error!(%run, %stage, %plugin, "{text}"),
        }
        let fields: serde_json::Map<_, _> = fields
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        self.write_log(level, message, fields.into());
    }

    fn exec(&self, record: &ExecRecord) {
        tracing::info!(
            run = %self.run, stage = %self.stage, plugin = %self.plugin,
            program = %record.path, status = ?record.status, "ran a program"
        );
        let mut fields = json!({ "stage": self.stage, "plugin": self.plugin });
        if let (Some(map), Ok(serde_json::Value::Object(exec))) =
            (fields.as_object_mut(), serde_json::to_value(record))
        {
            map.extend(exec);
        }
        self.write_log(LogLevel::Info, "ran a program", fields.clone());
        self.audit("exec", fields);
    }

    fn sign(&self, payload_type: &str, payload: &[u8]) -> Result<String, SignRefusal> {
        let Some(key) = &self.signer else {
            return Err(SignRefusal::NotGranted {
                missing: "a stage of kind `ato`".to_owned(),
            });
        };
        let envelope = key.sign(payload_type, payload);
        let fields = json!({
            "stage": self.stage,
            "plugin": self.plugin,
            "payload_type": payload_type,
            "payload_digest": crate::store::sha256_bytes(payload),
            "payload_bytes": payload.len(),
            "keyid": key.signer.keyid,
        });
        tracing::info!(
            run = %self.run, stage = %self.stage, plugin = %self.plugin,
            payload_type = ?payload_type, "signed a payload"
        );
        self.write_log(LogLevel::Info, "signed a payload", fields.clone());
        self.audit("signed", fields);
        if let Some(failure) = self.audit_failure() {
            return Err(SignRefusal::Failed(format!(
                "the signature was not audited: {failure}"
            )));
        }
        Ok(envelope.to_json())
    }

    fn http(&self, record: &HttpRecord) {
        tracing::info!(
            run = %self.run, stage = %self.stage, plugin = %self.plugin,
            method = %record.method, destination = %record.destination,
            status = ?record.status, "sent an HTTP request"
        );
        let mut fields = json!({ "stage": self.stage, "plugin": self.plugin });
        if let (Some(map), Ok(serde_json::Value::Object(http))) =
            (fields.as_object_mut(), serde_json::to_value(record))
        {
            map.extend(http);
        }
        self.write_log(LogLevel::Info, "sent an HTTP request", fields.clone());
        self.audit("http", fields);
    }
}

/// The events of a `describe` call, which is granted nothing and so has
/// nothing worth recording; a denial there is still logged.
pub(super) struct DescribeEvents;

impl DenialSink for DescribeEvents {
    fn denied(&self, denial: &Denial) {
        tracing::warn!(capability = denial.capability, asked = ?denial.asked, "denied in describe");
    }
}

impl StageEvents for DescribeEvents {
    fn log(&self, _level: LogLevel, _message: &str, _fields: &[(String, String)]) {}
    fn exec(&self, _record: &ExecRecord) {}
    fn http(&self, _record: &HttpRecord) {}
}
