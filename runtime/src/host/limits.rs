//! Per-stage resource limits enforced inside wasmtime, and the counters
//! behind them.
//!
//! Memory is refused by the store's [`ResourceLimiter`]; CPU time by the
//! epoch callback, which only fires while wasm code runs; wall time by the
//! caller's timeout. The rest are counted where the plugin spends them: log
//! lines in the `log` import, bytes under `/out` and open descriptors in the
//! filesystem import ([`super::fs`]). A limit that is crossed trips the
//! stage's [`Tripwire`] and traps the plugin, so the host can name the limit
//! rather than report a bare trap.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wasmtime::ResourceLimiter;

use super::bindings::types::{StageOutput, Verdict};

/// The limits of one stage, from `[stage.limits]` or their defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of linear memory, summed over every memory of the component.
    pub memory: u64,
    /// Wall time from instantiation to the end of `run`.
    pub timeout: Duration,
    /// Time spent running wasm code, counted in epoch ticks.
    pub cpu: Duration,
    /// Bytes of text the plugin may return: summary, reasons, findings,
    /// metadata and the artifact list.
    pub output: u64,
    /// Bytes the plugin may write under `/out`, holes included.
    pub out_bytes: u64,
    /// Log lines over the whole stage.
    pub log_lines: u64,
    /// Log lines in any one second.
    pub log_rate: u64,
    /// Files and directories open at once.
    pub handles: u64,
}

/// The most table elements a stage may allocate; tables hold function
/// references, and no honest plugin needs more.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

/// A limit the plugin crossed, other than memory and wall time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Crossed {
    Cpu,
    OutBytes,
    LogLines,
    LogRate,
    Handles,
}

/// Remembers the first limit a stage crossed; shared with the streams the
/// plugin writes `/out` through, which live in the resource table.
#[derive(Debug, Clone, Default)]
pub(super) struct Tripwire(Arc<Mutex<Option<Crossed>>>);

impl Tripwire {
    /// Records `limit` (unless another came first) and returns the error
    /// that traps the plugin.
    pub fn trip(&self, limit: Crossed) -> wasmtime::Error {
        if let Ok(mut first) = self.0.lock() {
            first.get_or_insert(limit);
        }
        wasmtime::format_err!("stage limit crossed: {limit:?}")
    }

    /// The first limit crossed, if any.
    pub fn crossed(&self) -> Option<Crossed> {
        *self.0.lock().ok()?
    }
}

/// Refuses memory growth past the stage's limit and remembers that it did,
/// so the host can name the limit instead of reporting a bare trap.
#[derive(Debug)]
pub struct StageLimiter {
    memory_limit: u64,
    memory_in_use: u64,
    exceeded: Option<u64>,
}

impl StageLimiter {
    pub fn new(memory_limit: u64) -> Self {
        StageLimiter {
            memory_limit,
            memory_in_use: 0,
            exceeded: None,
        }
    }

    /// The total the plugin asked for when it crossed the limit, if it did.
    pub fn memory_exceeded(&self) -> Option<u64> {
        self.exceeded
    }
}

impl ResourceLimiter for StageLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let growth = desired.saturating_sub(current) as u64;
        let total = self.memory_in_use.saturating_add(growth);
        if total > self.memory_limit {
            self.exceeded = Some(total);
            // An error, not `Ok(false)`: the plugin traps at once rather than
            // seeing a failed allocation it might mishandle.
            wasmtime::bail!("memory limit of {} bytes exceeded", self.memory_limit);
        }
        self.memory_in_use = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            return Ok(false);
        }
        // Table elements are host memory too: a pointer each, counted
        // against the same limit as linear memory.
        let growth = desired.saturating_sub(current) as u64 * TABLE_ELEMENT_BYTES;
        let total = self.memory_in_use.saturating_add(growth);
        if total > self.memory_limit {
            self.exceeded = Some(total);
            wasmtime::bail!("memory limit of {} bytes exceeded", self.memory_limit);
        }
        self.memory_in_use = total;
        Ok(true)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_INSTANCES
    }

    fn memories(&self) -> usize {
        MAX_INSTANCES
    }
}

/// What one table element costs the host, as counted against `memory`.
const TABLE_ELEMENT_BYTES: u64 = std::mem::size_of::<usize>() as u64;

/// The most core instances, tables or memories a stage's component may
/// make; a component built by the usual toolchains makes a handful.
const MAX_INSTANCES: usize = 100;

/// Counts the epoch ticks a stage spends in wasm code.
///
/// The epoch deadline is one tick ahead, so the callback runs once per tick
/// that passes while wasm runs; time in host calls (a sleep, a program run
/// through `exec`) does not reach it, except for the one tick in which the
/// call returns.
#[derive(Debug)]
pub(super) struct CpuMeter {
    ticks: u64,
    limit: u64,
}

impl CpuMeter {
    pub fn new(limit: Duration, tick: Duration) -> Self {
        let limit = limit.as_nanos().div_ceil(tick.as_nanos().max(1));
        CpuMeter {
            ticks: 0,
            limit: u64::try_from(limit).unwrap_or(u64::MAX),
        }
    }

    /// Counts one tick; `false` once the limit is passed.
    pub fn tick(&mut self) -> bool {
        self.ticks += 1;
        self.ticks <= self.limit
    }
}

/// Counts a stage's log lines, in total and per second.
#[derive(Debug)]
pub(super) struct LogMeter {
    total: u64,
    max_total: u64,
    window_start: Option<Instant>,
    in_window: u64,
    max_rate: u64,
}

impl LogMeter {
    pub fn new(max_total: u64, max_rate: u64) -> Self {
        LogMeter {
            total: 0,
            max_total,
            window_start: None,
            in_window: 0,
            max_rate,
        }
    }

    /// Counts one line written at `now`.
    ///
    /// # Errors
    ///
    /// The limit the line crosses: the total, or the lines in the second
    /// that started with the first line of the current window.
    pub fn line(&mut self, now: Instant) -> Result<(), Crossed> {
        self.total += 1;
        if self.total > self.max_total {
            return Err(Crossed::LogLines);
        }
        let second_over = self
            .window_start
            .is_none_or(|start| now.duration_since(start) >= Duration::from_secs(1));
        if second_over {
            self.window_start = Some(now);
            self.in_window = 0;
        }
        self.in_window += 1;
        if self.in_window > self.max_rate {
            return Err(Crossed::LogRate);
        }
        Ok(())
    }
}

/// The bytes a stage may still write under `/out`, shared by every
/// descriptor and stream that writes there.
#[derive(Debug)]
pub(super) struct OutBudget {
    used: AtomicU64,
    limit: u64,
    tripwire: Tripwire,
}

impl OutBudget {
    pub fn new(limit: u64, tripwire: Tripwire) -> Arc<Self> {
        Arc::new(OutBudget {
            used: AtomicU64::new(0),
            limit,
            tripwire,
        })
    }

    /// Charges `bytes` about to be written.
    ///
    /// # Errors
    ///
    /// The trap that stops the plugin, when the charge would pass the limit;
    /// nothing is charged then, and the write must not happen.
    pub fn charge(&self, bytes: u64) -> wasmtime::Result<()> {
        let charged = self
            .used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                used.checked_add(bytes).filter(|total| *total <= self.limit)
            });
        match charged {
            Ok(_) => Ok(()),
            Err(_) => Err(self.tripwire.trip(Crossed::OutBytes)),
        }
    }
}

/// The bytes of text in a stage's output, every string counted: what the
/// `output` limit bounds.
pub fn output_size(output: &StageOutput) -> u64 {
    let artifacts = output
        .artifacts
        .iter()
        .map(|a| a.name.len() + a.media_type.len() + a.path.len());
    let findings = output.findings.iter().map(|f| {
        let fixed_in = f.fixed_in.as_ref().map_or(0, String::len);
        f.id.len() + f.package.len() + f.title.len() + fixed_in
    });
    let metadata = output.metadata.iter().map(|(k, v)| k.len() + v.len());
    let reason = match &output.verdict {
        Verdict::Fail(reason) | Verdict::NeedsReview(reason) => reason.len(),
        Verdict::Pass => 0,
    };
    let strings = artifacts.chain(findings).chain(metadata);
    let total = strings.fold(reason + output.summary.len(), usize::saturating_add);
    total as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_within_the_limit_is_allowed_and_counted() {
        let mut limiter = StageLimiter::new(1000);
        assert!(limiter.memory_growing(0, 600, None).unwrap());
        assert!(limiter.memory_growing(0, 400, None).unwrap());
        assert_eq!(limiter.memory_exceeded(), None);
    }

    #[test]
    fn growth_past_the_limit_traps_and_is_remembered() {
        let mut limiter = StageLimiter::new(1000);
        assert!(limiter.memory_growing(0, 600, None).unwrap());
        assert!(limiter.memory_growing(600, 1200, None).is_err());
        assert_eq!(limiter.memory_exceeded(), Some(1200));
    }

    #[test]
    fn the_cpu_meter_allows_exactly_its_ticks() {
        let mut meter = CpuMeter::new(Duration::from_millis(25), Duration::from_millis(10));
        assert!((0..3).all(|_| meter.tick()));
        assert!(!meter.tick());
        // A limit too long to count in ticks is as good as none.
        let mut endless = CpuMeter::new(Duration::MAX, Duration::from_nanos(1));
        assert!(endless.tick());
    }

    #[test]
    fn log_lines_are_limited_per_second_and_in_total() {
        let start = Instant::now();
        let mut meter = LogMeter::new(5, 2);
        assert_eq!(meter.line(start), Ok(()));
        assert_eq!(meter.line(start), Ok(()));
        assert_eq!(meter.line(start), Err(Crossed::LogRate));

        // A new second starts a new window, but the total goes on.
        let later = start + Duration::from_secs(1);
        assert_eq!(meter.line(later), Ok(()));
        assert_eq!(meter.line(later), Ok(()));
        assert_eq!(
            meter.line(later + Duration::from_secs(5)),
            Err(Crossed::LogLines)
        );
    }

    #[test]
    fn the_out_budget_refuses_the_write_that_would_cross_it() {
        let tripwire = Tripwire::default();
        let budget = OutBudget::new(100, tripwire.clone());
        budget.charge(60).unwrap();
        assert!(budget.charge(41).is_err());
        assert_eq!(tripwire.crossed(), Some(Crossed::OutBytes));
        // The refused write was not charged.
        budget.charge(40).unwrap();
        assert!(budget.charge(u64::MAX).is_err());
    }

    #[test]
    fn the_first_limit_crossed_is_the_one_named() {
        let tripwire = Tripwire::default();
        let _ = tripwire.trip(Crossed::LogRate);
        let _ = tripwire.trip(Crossed::Cpu);
        assert_eq!(tripwire.crossed(), Some(Crossed::LogRate));
    }
}
