//! End-to-end tests of the `gantry` binary and library on real pipelines.

mod adversarial;
mod audit;
mod demo;
mod exec;
mod gate;
mod hostile_inputs;
mod inspect;
mod junit;
mod net;
mod osv_source;
mod pipeline_props;
mod plugin_crates;
mod plugins;
mod policy_rules;
mod sandbox;
mod scan_inputs;
mod signing;
mod support;
mod trust;
mod ui;
