//! The wasmtime side of Gantry: one engine, the compiled-component cache,
//! the linker, and a fresh store per stage with its limits.
//!
//! A [`PluginHost`] is made once per process. [`PluginHost::load`] checks that
//! a plugin is a component implementing the `gantry:stage` world and prepares
//! it for instantiation; [`PluginHost::run_stage`] then runs it in a store
//! built only from the stage's [`Sandbox`], within its [`Limits`]. The host
//! knows nothing of pipeline files: the engine hands it plain values.

pub mod bindings;
mod cache;
mod fs;
mod http;
mod imports;
mod limits;
mod sign;
mod state;
mod wasi;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Config, Engine, Store, UpdateDeadline};

pub use self::cache::{CacheOutcome, ComponentCache};
pub use self::http::HttpRecord;
pub use self::imports::{Capability, Import};
pub use self::limits::Limits;
pub use self::sign::SignRefusal;
pub use self::state::{ExecRecord, LogLevel, StageEvents};

use self::bindings::types::{PluginInfo, StageError, StageInput, StageOutput};
use self::bindings::{Stage, StagePre};
use self::fs::FsTracker;
use self::limits::{CpuMeter, Crossed, LogMeter, OutBudget, StageLimiter, Tripwire};
use self::state::StageState;
use crate::grants::exec::ExecPolicy;
use crate::grants::http::HttpPolicy;
use crate::grants::{GrantError, Sandbox, StdioCapture};

/// How often the epoch advances; a plugin running wasm code yields to the
/// host's scheduler at each tick, which is what lets a wall-time limit stop
/// an endless loop.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The limits of `describe`, which should only return a few constants.
const DESCRIBE_LIMITS: Limits = Limits {
    memory: 64 << 20,
    timeout: Duration::from_secs(10),
    cpu: Duration::from_secs(10),
    output: 1 << 20,
    out_bytes: 0,
    log_lines: 100,
    log_rate: 100,
    handles: 16,
};

/// A deadline that never comes, for timeouts too long to add to the clock.
const FAR_FUTURE: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// The one wasmtime engine of a process, with its linker and cache.
pub struct PluginHost {
    engine: Engine,
    linker: Linker<StageState>,
    cache: ComponentCache,
    ticker: Option<EpochTicker>,
}

/// A plugin checked and ready to instantiate.
#[derive(Clone)]
pub struct LoadedPlugin {
    /// How the plugin is named to people: `gantry:scan` or its file path.
    pub label: String,
    /// `sha256:<hex>` of the component's bytes.
    pub digest: String,
    /// Whether loading it compiled it or took it from the cache.
    pub cache: CacheOutcome,
    /// The interfaces the component imports, read from its type.
    pub imports: Vec<Import>,
    pre: StagePre<StageState>,
}

/// What a stage ended with when it ran to completion inside wasmtime.
pub type StageResult = Result<StageOutput, StageError>;

/// What the plugin printed, kept for the stage log.
#[derive(Debug, Clone, Default)]
pub struct Stdio {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl PluginHost {
    /// Makes the engine and linker, with compiled components cached under
    /// `cache_dir`.
    ///
    /// # Errors
    ///
    /// Fails when wasmtime cannot be configured on this machine.
    pub fn new(cache_dir: &std::path::Path) -> Result<PluginHost, HostError> {
        let mut config = Config::new();
        config.wasm_component_model(true).epoch_interruption(true);
        let engine = Engine::new(&config).map_err(setup_error)?;

        let mut linker = Linker::new(&engine);
        wasi::add_wasi_to_linker(&mut linker).map_err(setup_error)?;
        Stage::add_to_linker::<_, wasmtime::component::HasSelf<_>>(&mut linker, |state| state)
            .map_err(setup_error)?;

        let cache = ComponentCache::new(cache_dir, &engine);
        let ticker = Some(EpochTicker::start(engine.clone()));
        Ok(PluginHost {
            engine,
            linker,
            cache,
            ticker,
        })
    }

    /// Checks and prepares a plugin from its bytes.
    ///
    /// # Errors
    ///
    /// [`PluginError`] naming `label` when the bytes are not a WebAssembly
    /// component, or the component does not implement `gantry:stage`, or it
    /// imports something the host does not offer.
    pub fn load(&self, label: &str, bytes: &[u8]) -> Result<LoadedPlugin, PluginError> {
        let refuse = |reason: String| PluginError {
            plugin: label.to_owned(),
            reason,
        };
        check_component_header(bytes).map_err(refuse)?;

        let digest = crate::store::sha256_bytes(bytes);
        let (component, cache) = self
            .cache
            .load_or_compile(&self.engine, &digest, bytes)
            .map_err(|e| refuse(e.to_string()))?;
        let imports = imports::component_imports(&component, &self.engine);
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| refuse(format!("it needs an import Gantry does not offer: {e:#}")))?;
        let pre = StagePre::new(pre).map_err(|e| {
            refuse(format!(
                "it does not implement the `gantry:stage` world: {e:#}"
            ))
        })?;
        Ok(LoadedPlugin {
            label: label.to_owned(),
            digest,
            cache,
            imports,
            pre,
        })
    }

    /// Asks a plugin to describe itself, in a sandbox that grants nothing.
    ///
    /// # Errors
    ///
    /// A [`StageFault`] when the plugin traps or runs out of time or memory.
    pub async fn describe(
        &self,
        plugin: &LoadedPlugin,
        events: Arc<dyn StageEvents>,
    ) -> Result<PluginInfo, StageFault> {
        let limits = DESCRIBE_LIMITS;
        let (mut store, _capture) = self.new_store(&Sandbox::default(), limits, events)?;
        let call = async {
            let stage = plugin.pre.instantiate_async(&mut store).await?;
            stage.call_describe(&mut store).await
        };
        let outcome = tokio::time::timeout(limits.timeout, call).await;
        settle(outcome, &store, limits)
    }

    /// Runs one stage: a fresh store with the sandbox's grants, the plugin
    /// instantiated in it, and `run` called with `input`.
    ///
    /// # Errors
    ///
    /// A [`StageFault`] when the plugin traps, exceeds a limit, or the
    /// sandbox cannot be built. A stage that returns its own error is not a
    /// fault: that is the inner `Err` of [`StageResult`].
    pub async fn run_stage(
        &self,
        plugin: &LoadedPlugin,
        sandbox: &Sandbox,
        limits: Limits,
        input: &StageInput,
        events: Arc<dyn StageEvents>,
    ) -> (Result<StageResult, StageFault>, Stdio) {
        let (mut store, capture) = match self.new_store(sandbox, limits, events) {
            Ok(store) => store,
            Err(fault) => return (Err(fault), Stdio::default()),
        };
        let call = async {
            let stage = plugin.pre.instantiate_async(&mut store).await?;
            stage.call_run(&mut store, input).await
        };
        let outcome = tokio::time::timeout(limits.timeout, call).await;
        let result =
            settle(outcome, &store, limits).and_then(|result| check_output(result, limits));
        let stdio = Stdio {
            stdout: capture.stdout.contents().to_vec(),
            stderr: capture.stderr.contents().to_vec(),
        };
        (result, stdio)
    }

    fn new_store(
        &self,
        sandbox: &Sandbox,
        limits: Limits,
        events: Arc<dyn StageEvents>,
    ) -> Result<(Store<StageState>, StdioCapture), StageFault> {
        let (wasi, capture) = sandbox.wasi_ctx().map_err(StageFault::Sandbox)?;
        // A timeout past the clock's end never comes: the far future is
        // the same deadline, without the overflow.
        let now = tokio::time::Instant::now();
        let deadline = now
            .checked_add(limits.timeout)
            .unwrap_or_else(|| now + FAR_FUTURE);
        let tripwire = Tripwire::default();
        let out = OutBudget::new(limits.out_bytes, tripwire.clone());
        let state = StageState {
            wasi,
            table: resource_table(limits.handles),
            limiter: StageLimiter::new(limits.memory),
            exec: ExecPolicy::new(sandbox, deadline, events.clone()),
            http: HttpPolicy::new(sandbox, deadline),
            events,
            fs: FsTracker::new(sandbox, limits.handles, out, tripwire.clone()),
            log: LogMeter::new(limits.log_lines, limits.log_rate),
            cpu: CpuMeter::new(limits.cpu, EPOCH_TICK),
            tripwire,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(1);
        // Each tick that passes while wasm runs is CPU time; yielding at
        // each also lets the wall-time limit stop an endless loop.
        store.epoch_deadline_callback(|mut store| {
            let state = store.data_mut();
            if !state.cpu.tick() {
                return Err(state.tripwire.trip(Crossed::Cpu));
            }
            Ok(UpdateDeadline::Yield(1))
        });
        Ok((store, capture))
    }
}

impl Drop for PluginHost {
    fn drop(&mut self) {
        if let Some(ticker) = self.ticker.take() {
            ticker.stop();
        }
    }
}

/// Every host resource a plugin may hold at once (streams, pollables,
/// directory listings, as well as files), per file it may hold: files are
/// counted exactly against `handles`; the rest are bounded through the
/// store's resource table.
const RESOURCES_PER_HANDLE: usize = 4;

/// Resources the host itself keeps in a stage's table (preopens, standard
/// streams), besides what the plugin opens.
const HOST_RESOURCES: usize = 64;

/// A resource table that refuses entries past what the stage's `handles`
/// limit allows.
fn resource_table(handles: u64) -> ResourceTable {
    let handles = usize::try_from(handles).unwrap_or(usize::MAX);
    let mut table = ResourceTable::new();
    table.set_max_capacity(
        handles
            .saturating_mul(RESOURCES_PER_HANDLE)
            .saturating_add(HOST_RESOURCES),
    );
    table
}

/// Whether a trap came from a full resource table.
fn table_full(trap: &wasmtime::Error) -> bool {
    trap.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<wasmtime::component::ResourceTableError>(),
            Some(wasmtime::component::ResourceTableError::Full)
        )
    })
}

/// Turns the end of a call into the host's view of it, naming the limit
/// when one was hit.
fn settle<T>(
    outcome: Result<wasmtime::Result<T>, tokio::time::error::Elapsed>,
    store: &Store<StageState>,
    limits: Limits,
) -> Result<T, StageFault> {
    let Ok(outcome) = outcome else {
        return Err(StageFault::Timeout {
            limit: limits.timeout,
        });
    };
    outcome.map_err(|trap| {
        if let Some(crossed) = store.data().tripwire.crossed() {
            return StageFault::crossed(crossed, limits);
        }
        if table_full(&trap) {
            return StageFault::crossed(Crossed::Handles, limits);
        }
        match store.data().limiter.memory_exceeded() {
            Some(asked) => StageFault::Memory {
                limit: limits.memory,
                asked,
            },
            None => StageFault::Trap {
                message: trap_message(&trap),
            },
        }
    })
}

/// Refuses a stage's output when its text is larger than the stage's
/// `output` limit.
fn check_output(result: StageResult, limits: Limits) -> Result<StageResult, StageFault> {
    if let Ok(output) = &result {
        let returned = limits::output_size(output);
        if returned > limits.output {
            return Err(StageFault::Output {
                limit: limits.output,
                returned,
            });
        }
    }
    Ok(result)
}

/// What the plugin did, from the innermost cause: "wasm trap: wasm
/// `unreachable` instruction executed". The outer layers are a wasm
/// backtrace and, when `RUST_BACKTRACE` is set, the host's own stack:
/// hundreds of lines naming host paths, which belong in a debug log, not in
/// the run record.
fn trap_message(trap: &wasmtime::Error) -> String {
    tracing::debug!("plugin trap: {trap:?}");
    trap.root_cause().to_string()
}

fn check_component_header(bytes: &[u8]) -> Result<(), String> {
    const COMPONENT: [u8; 4] = [0x0d, 0x00, 0x01, 0x00];
    const CORE_MODULE: [u8; 4] = [0x01, 0x00, 0x00, 0x00];
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err("it is not a WebAssembly file".into());
    }
    match bytes[4..8].try_into() {
        Ok(COMPONENT) => Ok(()),
        Ok(CORE_MODULE) => Err("it is a core WebAssembly module, not a component\n  \
             hint: build plugins with `--target wasm32-wasip2`, which emits components"
            .into()),
        _ => Err("it is a WebAssembly file of an unknown version".into()),
    }
}

fn setup_error(err: wasmtime::Error) -> HostError {
    HostError::Setup {
        message: format!("{err:#}"),
    }
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until stopped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl EpochTicker {
    fn start(engine: Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        });
        EpochTicker { stop, thread }
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}

/// Errors setting up the host itself.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("failed to set up wasmtime: {message}")]
    Setup { message: String },
    #[error("failed to compile the component: {message}")]
    Compile { message: String },
    #[error("failed to cache the compiled component at `{}`: {message}", path.display())]
    Cache { path: PathBuf, message: String },
}

/// A plugin refused before anything ran.
#[derive(Debug, thiserror::Error)]
#[error("plugin `{plugin}` cannot be used: {reason}")]
pub struct PluginError {
    pub plugin: String,
    pub reason: String,
}

/// A stage that did not end on its own terms.
#[derive(Debug, thiserror::Error)]
pub enum StageFault {
    #[error("the plugin trapped: {message}")]
    Trap { message: String },
    #[error(
        "the plugin exceeded its memory limit of {} (it asked for {})",
        bytesize::ByteSize(*limit),
        bytesize::ByteSize(*asked)
    )]
    Memory { limit: u64, asked: u64 },
    #[error("the stage exceeded its time limit of {}", humantime::format_duration(*limit))]
    Timeout { limit: Duration },
    #[error(
        "the stage exceeded its limit `cpu` of {} of CPU time",
        humantime::format_duration(*limit)
    )]
    Cpu { limit: Duration },
    #[error(
        "the plugin exceeded its limit `output` of {}: it returned {} of text",
        bytesize::ByteSize(*limit),
        bytesize::ByteSize(*returned)
    )]
    Output { limit: u64, returned: u64 },
    #[error(
        "the plugin exceeded its limit `out-bytes` of {} written under `/out`",
        bytesize::ByteSize(*limit)
    )]
    OutBytes { limit: u64 },
    #[error("the plugin exceeded its limit `log-lines` of {limit} log lines")]
    LogLines { limit: u64 },
    #[error("the plugin exceeded its limit `log-rate` of {limit} log lines per second")]
    LogRate { limit: u64 },
    #[error(
        "the plugin exceeded its limit `handles` of {limit} files and directories open at once \
         ({} host resources of any kind)",
        limit.saturating_mul(RESOURCES_PER_HANDLE as u64).saturating_add(HOST_RESOURCES as u64)
    )]
    Handles { limit: u64 },
    #[error("failed to build the stage's sandbox: {0}")]
    Sandbox(GrantError),
}

impl StageFault {
    fn crossed(crossed: Crossed, limits: Limits) -> StageFault {
        match crossed {
            Crossed::Cpu => StageFault::Cpu { limit: limits.cpu },
            Crossed::OutBytes => StageFault::OutBytes {
                limit: limits.out_bytes,
            },
            Crossed::LogLines => StageFault::LogLines {
                limit: limits.log_lines,
            },
            Crossed::LogRate => StageFault::LogRate {
                limit: limits.log_rate,
            },
            Crossed::Handles => StageFault::Handles {
                limit: limits.handles,
            },
        }
    }

    /// The `[stage.limits]` key of the limit the stage crossed, if it
    /// crossed one.
    pub fn limit(&self) -> Option<&'static str> {
        Some(match self {
            StageFault::Memory { .. } => "memory",
            StageFault::Timeout { .. } => "timeout",
            StageFault::Cpu { .. } => "cpu",
            StageFault::Output { .. } => "output",
            StageFault::OutBytes { .. } => "out-bytes",
            StageFault::LogLines { .. } => "log-lines",
            StageFault::LogRate { .. } => "log-rate",
            StageFault::Handles { .. } => "handles",
            StageFault::Trap { .. } | StageFault::Sandbox(_) => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grants::{Denial, DenialSink};

    /// Events nobody records.
    struct Deaf;

    impl DenialSink for Deaf {
        fn denied(&self, _denial: &Denial) {}
    }

    impl StageEvents for Deaf {
        fn log(&self, _level: LogLevel, _message: &str, _fields: &[(String, String)]) {}
        fn exec(&self, _record: &ExecRecord) {}
        fn http(&self, _record: &HttpRecord) {}
    }

    #[test]
    fn a_timeout_past_the_clocks_end_does_not_overflow_the_deadline() {
        let cache = tempfile::tempdir().unwrap();
        let host = PluginHost::new(cache.path()).unwrap();
        let limits = Limits {
            memory: 1 << 20,
            timeout: Duration::MAX,
            cpu: Duration::MAX,
            ..DESCRIBE_LIMITS
        };
        // It panicked adding the timeout to the clock.
        assert!(
            host.new_store(&Sandbox::default(), limits, Arc::new(Deaf))
                .is_ok()
        );
    }

    #[test]
    fn output_past_the_output_limit_is_a_fault_naming_it() {
        use self::bindings::types::Verdict;

        let output = |value: &str| StageOutput {
            verdict: Verdict::Fail("r".repeat(10)),
            artifacts: Vec::new(),
            findings: Vec::new(),
            metadata: vec![("key".into(), value.into())],
            summary: "s".repeat(5),
        };
        let limits = Limits {
            output: 100,
            ..DESCRIBE_LIMITS
        };
        // 10 + 5 + 3 + 82: exactly the limit.
        let within = output(&"v".repeat(82));
        assert_eq!(limits::output_size(&within), 100);
        assert!(check_output(Ok(within), limits).is_ok());

        let past = output(&"v".repeat(83));
        let Err(fault) = check_output(Ok(past), limits) else {
            panic!("output past the limit was kept");
        };
        assert_eq!(fault.limit(), Some("output"));
        assert_eq!(
            fault.to_string(),
            "the plugin exceeded its limit `output` of 100 B: it returned 101 B of text"
        );
        // A stage's own error is not output.
        let error = Err(StageError::Internal("e".repeat(1000)));
        assert!(check_output(error, limits).is_ok());
    }

    #[test]
    fn each_crossed_limit_names_its_key_and_value() {
        let limits = Limits {
            log_rate: 1000,
            ..DESCRIBE_LIMITS
        };
        let fault = StageFault::crossed(Crossed::LogRate, limits);
        assert_eq!(
            fault.to_string(),
            "the plugin exceeded its limit `log-rate` of 1000 log lines per second"
        );
        assert_eq!(fault.limit(), Some("log-rate"));
        let fault = StageFault::crossed(Crossed::Cpu, limits);
        assert_eq!(
            fault.to_string(),
            "the stage exceeded its limit `cpu` of 10s of CPU time"
        );
        let trap = StageFault::Trap {
            message: "x".into(),
        };
        assert_eq!(trap.limit(), None);
    }

    #[test]
    fn header_check_names_core_modules() {
        let core = b"\0asm\x01\0\0\0";
        let err = check_component_header(core).unwrap_err();
        assert!(err.contains("core WebAssembly module"), "{err}");
        assert!(check_component_header(b"\0asm\x0d\0\x01\0").is_ok());
        assert!(check_component_header(b"MZ not wasm").is_err());
    }
}
