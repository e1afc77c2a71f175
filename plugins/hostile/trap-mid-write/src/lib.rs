//! A hostile stage that traps halfway through writing a file to `/out`.
//!
//! It writes the first half of `/out/partial.bin` straight to its final
//! name (not beside it and renamed, as the SDK would), flushes it, then
//! panics. The run must stop as a plugin fault with no artifacts recorded,
//! and the half file must be the only thing written, inside `/out`.

use std::fs::File;
use std::io::Write;

use gantry_plugin_sdk::{
    Capabilities, Guest, PluginInfo, ResultExt, StageError, StageInput, StageOutput,
};
use hostile_probe::plugin_info;

/// The size the file would have had.
const FULL_SIZE: usize = 64 * 1024;

struct TrapMidWrite;

impl Guest for TrapMidWrite {
    fn describe() -> PluginInfo {
        plugin_info("trap-mid-write", Capabilities::none())
    }

    fn run(_input: StageInput) -> Result<StageOutput, StageError> {
        let mut file = File::create("/out/partial.bin")
            .or_internal(|| "failed to create `/out/partial.bin`".to_owned())?;
        file.write_all(&[b'x'; FULL_SIZE / 2])
            .and_then(|()| file.flush())
            .or_internal(|| "failed to write `/out/partial.bin`".to_owned())?;
        panic!("hostile trap after writing half of `/out/partial.bin`");
    }
}

gantry_plugin_sdk::export!(TrapMidWrite);
