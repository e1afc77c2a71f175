//! End-to-end tests of the `gantry` binary and library on real pipelines.

mod audit;
mod demo;
mod exec;
mod gate;
mod hostile_inputs;
mod plugin_crates;
mod plugins;
mod sandbox;
mod support;
mod ui;
