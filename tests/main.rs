//! End-to-end tests of the `gantry` binary and library on real pipelines.

mod plugin_crates;
mod support;
mod ui;
