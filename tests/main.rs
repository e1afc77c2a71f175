//! End-to-end tests of the `gantry` binary and library on real pipelines.

mod ui;
