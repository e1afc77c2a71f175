//! A hostile stage that reads host files outside its grants by absolute
//! path.
//!
//! The test makes a secret file outside the workspace and passes its host
//! path as `secret` in `[stage.config]`. Nothing but the preopens exists for
//! a plugin, so the host path, `/etc/passwd`, `/proc` and a listing of `/`
//! must all be refused, while `/workspace/inside.txt` reads fine. The test
//! also puts a FIFO at `/workspace/fifo`, with no writer: opening it would
//! block forever, so the host must refuse it.

use gantry_plugin_sdk::{
    Capabilities, Guest, PluginInfo, StageError, StageInput, StageOutput, config,
};
use hostile_probe::{Attempts, list, plugin_info, raw, read, stat};
use serde::Deserialize;

/// The stage's `[stage.config]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct AbsoluteConfig {
    /// The secret's path on the host.
    secret: String,
}

/// Host files any Linux machine has.
const HOST_FILES: [(&str, &str); 4] = [
    ("read-etc-passwd", "/etc/passwd"),
    ("read-proc-environ", "/proc/self/environ"),
    ("read-proc-cmdline", "/proc/self/cmdline"),
    ("read-etc-hostname", "/etc/hostname"),
];

struct EscapeAbsolute;

impl Guest for EscapeAbsolute {
    fn describe() -> PluginInfo {
        plugin_info(
            "escape-absolute",
            Capabilities {
                read: vec![".".to_owned()],
                ..Capabilities::none()
            },
        )
    }

    fn run(input: StageInput) -> Result<StageOutput, StageError> {
        let config: AbsoluteConfig = config::parse(&input.config)?;
        let mut attempts = Attempts::new();
        attempts.must_allow("read-inside", read("/workspace/inside.txt"));

        attempts.must_refuse("read-host-path", read(&config.secret));
        attempts.must_refuse("stat-host-path", stat(&config.secret));
        // A host path glued under a preopen must stay a path inside it.
        let glued = format!("/workspace/{}", config.secret);
        attempts.must_refuse("read-host-path-under-workspace", read(&glued));
        let glued = format!("/out/{}", config.secret);
        attempts.must_refuse("read-host-path-under-out", read(&glued));

        // An absolute path sent straight to the host, relative to a preopen.
        let raw = raw::read_at("/workspace", &config.secret);
        attempts.must_refuse("raw-read-host-path", raw);
        attempts.must_refuse("raw-read-etc-passwd", raw::read_at("/out", "/etc/passwd"));

        for (label, path) in HOST_FILES {
            attempts.must_refuse(label, read(path));
        }
        attempts.must_refuse("read-fifo", read("/workspace/fifo"));
        attempts.must_refuse("list-root", list("/"));
        attempts.must_refuse("list-etc", list("/etc"));
        Ok(attempts.into_output())
    }
}

gantry_plugin_sdk::export!(EscapeAbsolute);
