//! Per-stage resource limits enforced inside wasmtime.

use std::time::Duration;

use wasmtime::ResourceLimiter;

/// The limits of one stage, from `[stage.limits]` or their defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of linear memory, summed over every memory of the component.
    pub memory: u64,
    /// Wall time from instantiation to the end of `run`.
    pub timeout: Duration,
}

/// The most table elements a stage may allocate; tables hold function
/// references, and no honest plugin needs more.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

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
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
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
}
