//! Gantry runs compliance pipelines whose stages are sandboxed WebAssembly
//! components.
//!
//! The modules depend on each other one way only:
//!
//! - [`cli`] parses the command line and prints; it calls the engine.
//! - [`engine`] owns a run: it orders stages, pins inputs, records state and
//!   the audit trail, and stops at review gates.
//! - [`pipeline`] is the TOML model and its validation; it knows nothing of
//!   wasmtime.
//! - [`host`] is wasmtime: the engine, the compiled-component cache, the
//!   linker, and one store per stage with its limits.
//! - [`grants`] applies each capability a stage is granted, in one place.
//! - [`audit`] is the hash-chained audit log.
//! - [`store`] is the state directory: its lock, run records, digests and
//!   atomic writes.

pub mod audit;
pub mod cli;
pub mod engine;
pub mod grants;
pub mod host;
pub mod pipeline;
pub mod store;
