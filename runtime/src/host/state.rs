//! The data a stage's store holds, and the host side of its imports.
//!
//! The WIT (`wit/stage.wit`) documents what each import does; the
//! implementations here only connect it to the stage's grants and events.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::{exec, log};
use super::fs::FsTracker;
use super::http::HttpRecord;
use super::limits::{CpuMeter, LogMeter, StageLimiter, Tripwire};
use super::sign::SignRefusal;
use crate::grants::exec::ExecPolicy;
use crate::grants::http::HttpPolicy;
use crate::grants::{Denial, DenialSink};

/// The longest log message kept; longer ones are cut.
pub(super) const MAX_LOG_MESSAGE: usize = 4096;
/// The most fields kept per log line.
const MAX_LOG_FIELDS: usize = 32;

/// How a plugin's log line is filed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// One program a stage ran through `exec`, for the audit trail.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExecRecord {
    pub program: String,
    pub path: String,
    pub args: Vec<String>,
    pub status: Option<i32>,
    pub timed_out: bool,
    pub duration_ms: u64,
}

/// Where a running stage reports what happens in it.
///
/// The engine implements it to write the stage log, the progress output and
/// the audit trail; denials arrive through the [`DenialSink`] supertrait.
pub trait StageEvents: DenialSink {
    /// A log line from the plugin.
    fn log(&self, level: LogLevel, message: &str, fields: &[(String, String)]);
    /// A program the plugin ran, after it ended.
    fn exec(&self, record: &ExecRecord);
    /// An HTTP request the host sent for the plugin, after it ended.
    fn http(&self, record: &HttpRecord);
    /// Signs a payload for the plugin, returning the DSSE envelope as JSON
    /// text, and records it; refuses a stage that may not sign.
    ///
    /// By default every stage is refused.
    fn sign(&self, _payload_type: &str, _payload: &[u8]) -> Result<String, SignRefusal> {
        Err(SignRefusal::NotGranted {
            missing: "a stage of kind `ato`".to_owned(),
        })
    }
}

/// Everything one stage's store owns.
pub struct StageState {
    pub(super) wasi: WasiCtx,
    pub(super) table: ResourceTable,
    pub(super) limiter: StageLimiter,
    pub(super) exec: ExecPolicy,
    pub(super) http: HttpPolicy,
    pub(super) events: Arc<dyn StageEvents>,
    pub(super) fs: FsTracker,
    pub(super) log: LogMeter,
    pub(super) cpu: CpuMeter,
    pub(super) tripwire: Tripwire,
}

impl WasiView for StageState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl log::Host for StageState {
    async fn emit(
        &mut self,
        level: log::Level,
        message: String,
        mut fields: Vec<(String, String)>,
    ) -> wasmtime::Result<()> {
        if let Err(limit) = self.log.line(std::time::Instant::now()) {
            return Err(self.tripwire.trip(limit));
        }
        let message = truncate(message, MAX_LOG_MESSAGE);
        fields.truncate(MAX_LOG_FIELDS);
        let level = match level {
            log::Level::Trace => LogLevel::Trace,
            log::Level::Debug => LogLevel::Debug,
            log::Level::Info => LogLevel::Info,
            log::Level::Warn => LogLevel::Warn,
            log::Level::Error => LogLevel::Error,
        };
        self.events.log(level, &message, &fields);
        Ok(())
    }
}

impl exec::Host for StageState {
    async fn run(
        &mut self,
        command: exec::Command,
    ) -> wasmtime::Result<Result<exec::ExecOutput, exec::ExecError>> {
        let program = match self.exec.authorize(&command.program, &command.args) {
            Ok(program) => program.clone(),
            Err(denial) => return Ok(Err(self.deny(denial)?)),
        };
        let timeout = command.timeout_ms.map(Duration::from_millis);
        let outcome = match self.exec.run(&program, &command.args, timeout).await {
            Ok(outcome) => outcome,
            Err(reason) => return Ok(Err(exec::ExecError::SpawnFailed(reason))),
        };
        self.count_record()?;
        self.events.exec(&ExecRecord {
            program: program.name,
            path: program.path.display().to_string(),
            args: command.args,
            status: outcome.status,
            timed_out: outcome.timed_out,
            duration_ms: outcome.duration.as_millis() as u64,
        });
        Ok(Ok(exec::ExecOutput {
            status: outcome.status,
            stdout: outcome.stdout,
            stderr: outcome.stderr,
            timed_out: outcome.timed_out,
        }))
    }
}

impl StageState {
    fn deny(&mut self, mut denial: Denial) -> wasmtime::Result<exec::ExecError> {
        self.count_record()?;
        denial.asked = truncate(denial.asked, MAX_LOG_MESSAGE);
        self.events.denied(&denial);
        Ok(exec::ExecError::NotGranted(format!(
            "`{}` is not granted to this stage (missing `{}`)",
            denial.asked, denial.missing_grant
        )))
    }

    /// Counts a record the plugin's call leaves in the stage log and the
    /// audit trail (a denial, a program run, a request) as a log line, so
    /// that calls in a loop meet the `log-lines` and `log-rate` limits.
    pub(super) fn count_record(&mut self) -> wasmtime::Result<()> {
        match self.log.line(std::time::Instant::now()) {
            Ok(()) => Ok(()),
            Err(limit) => Err(self.tripwire.trip(limit)),
        }
    }
}

impl super::bindings::types::Host for StageState {}

pub(super) fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::truncate;

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("héllo".into(), 2), "h…");
        assert_eq!(truncate("short".into(), 10), "short");
    }
}
