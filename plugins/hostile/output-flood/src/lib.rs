//! A hostile stage that returns more text, or writes more under `/out`,
//! than its limits allow.
//!
//! `[stage.config]` `how` picks the way:
//!
//! - `returned`: returns `bytes` of metadata;
//! - `fs`: writes `/out/flood.bin` through `std::fs`, without end;
//! - `stream`, `append`: the same through a raw output stream from
//!   `write-via-stream` or `append-via-stream`;
//! - `pwrite`: the same through raw positional `write` calls;
//! - `sparse`: makes `/out/flood.bin` 1 TiB long with `set-size`;
//! - `hole`: writes one byte 1 TiB into `/out/flood.bin`;
//! - `within`: writes `bytes` through `std::fs` and passes, the lawful case.
//!
//! The host must stop every flood as it crosses the limit, so the file it
//! leaves is never larger than the limit.

use std::fs::File;
use std::io::Write;

use gantry_plugin_sdk::{
    Capabilities, Guest, PluginInfo, StageError, StageInput, StageOutput, config,
};
use hostile_probe::{plugin_info, raw};
use serde::Deserialize;
use wasip2::filesystem::types::{Descriptor, DescriptorFlags, OpenFlags, PathFlags};

/// One mebibyte, and a tebibyte past it.
const MIB: usize = 1 << 20;
const TIB: u64 = 1 << 40;
/// The most bytes one stream write may carry.
const STREAM_CHUNK: usize = 4096;
/// The longest metadata value the host accepts.
const VALUE_BYTES: usize = 8000;

/// The stage's `[stage.config]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FloodConfig {
    how: How,
    #[serde(default)]
    bytes: usize,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum How {
    Returned,
    Fs,
    Stream,
    Append,
    Pwrite,
    Sparse,
    Hole,
    Within,
}

struct OutputFlood;

impl Guest for OutputFlood {
    fn describe() -> PluginInfo {
        plugin_info("output-flood", Capabilities::none())
    }

    fn run(input: StageInput) -> Result<StageOutput, StageError> {
        let config: FloodConfig = config::parse(&input.config)?;
        let failed = |e: &dyn std::fmt::Display| StageError::Internal(e.to_string());
        match config.how {
            How::Returned => return Ok(returned(config.bytes)),
            How::Within => {
                File::create("/out/flood.bin")
                    .and_then(|mut f| f.write_all(&vec![b'x'; config.bytes]))
                    .map_err(|e| failed(&e))?;
                let output = StageOutput::pass(format!("wrote {} bytes", config.bytes));
                return Ok(output.with_artifact("flood", "application/octet-stream", "flood.bin"));
            }
            How::Fs => {
                let mut file = File::create("/out/flood.bin").map_err(|e| failed(&e))?;
                loop {
                    file.write_all(&[b'x'; MIB]).map_err(|e| failed(&e))?;
                }
            }
            How::Stream | How::Append => stream(&config.how).map_err(|e| failed(&e))?,
            How::Pwrite => {
                let file = open_flood().map_err(|e| failed(&e))?;
                let chunk = vec![b'x'; MIB];
                let mut offset = 0;
                loop {
                    let written = file.write(&chunk, offset).map_err(|e| failed(&e))?;
                    offset += written;
                }
            }
            How::Sparse => {
                let file = open_flood().map_err(|e| failed(&e))?;
                file.set_size(TIB).map_err(|e| failed(&e))?;
            }
            How::Hole => {
                let file = open_flood().map_err(|e| failed(&e))?;
                file.write(b"x", TIB).map_err(|e| failed(&e))?;
            }
        }
        Ok(StageOutput::pass("the flood was not stopped"))
    }
}

/// Metadata of `bytes` in all, in values the host accepts one by one.
fn returned(bytes: usize) -> StageOutput {
    let mut output = StageOutput::pass("a flood of metadata");
    let value = "v".repeat(VALUE_BYTES);
    for entry in 0..bytes.div_ceil(VALUE_BYTES) {
        output = output.with_metadata(&format!("k{entry}"), value.clone());
    }
    output
}

fn open_flood() -> Result<Descriptor, String> {
    raw::preopen("/out")?
        .open_at(
            PathFlags::empty(),
            "flood.bin",
            OpenFlags::CREATE,
            DescriptorFlags::WRITE,
        )
        .map_err(|e| e.to_string())
}

/// Writes through a raw output stream until the host stops it.
fn stream(how: &How) -> Result<(), String> {
    let file = open_flood()?;
    let stream = match how {
        How::Append => file.append_via_stream(),
        _ => file.write_via_stream(0),
    }
    .map_err(|e| e.to_string())?;
    let chunk = [b'x'; STREAM_CHUNK];
    loop {
        stream
            .blocking_write_and_flush(&chunk)
            .map_err(|e| e.to_string())?;
    }
}

gantry_plugin_sdk::export!(OutputFlood);
