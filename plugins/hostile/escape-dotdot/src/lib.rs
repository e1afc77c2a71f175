//! A hostile stage that climbs out of its preopened directories with `..`.
//!
//! The test grants `read = ["."]` on a workspace `ws/` that holds
//! `sub/inside.txt`, and puts `secret` beside `ws/`, so that
//! `/workspace/../secret` names it exactly should `..` ever leave the
//! preopen. Reading `/workspace/sub/inside.txt` must work: it shows that the
//! refusals come from the sandbox, not from a workspace that is not there.

use gantry_plugin_sdk::{Capabilities, Guest, PluginInfo, StageError, StageInput, StageOutput};
use hostile_probe::{Attempts, list, plugin_info, raw, read, stat};

/// Paths that name the secret beside the workspace, or the state directory
/// above `/out`, if `..` is not confined.
const CLIMBS: [(&str, &str); 7] = [
    ("read-workspace-dotdot", "/workspace/../secret"),
    ("read-sub-dotdot-dotdot", "/workspace/sub/../../secret"),
    ("read-dot-dotdot", "/workspace/./../secret"),
    ("read-deep-dotdot", "/workspace/sub/../sub/../../secret"),
    ("read-relative-dotdot", "../secret"),
    ("read-out-dotdot", "/out/../../../../secret"),
    ("read-root-dotdot", "/../secret"),
];

/// The same climbs, sent to the host as paths relative to a preopen.
const RAW_CLIMBS: [(&str, &str, &str); 4] = [
    ("raw-read-workspace-dotdot", "/workspace", "../secret"),
    (
        "raw-read-sub-dotdot-dotdot",
        "/workspace",
        "sub/../../secret",
    ),
    (
        "raw-read-dotdot-back-in",
        "/workspace",
        "../ws/sub/inside.txt",
    ),
    ("raw-read-out-dotdot", "/out", "../log.jsonl"),
];

struct EscapeDotdot;

impl Guest for EscapeDotdot {
    fn describe() -> PluginInfo {
        plugin_info(
            "escape-dotdot",
            Capabilities {
                read: vec![".".to_owned()],
                ..Capabilities::none()
            },
        )
    }

    fn run(_input: StageInput) -> Result<StageOutput, StageError> {
        let mut attempts = Attempts::new();
        attempts.must_allow("read-inside", read("/workspace/sub/inside.txt"));
        for (label, path) in CLIMBS {
            attempts.must_refuse(label, read(path));
        }
        attempts.must_refuse("stat-workspace-dotdot", stat("/workspace/../secret"));
        attempts.must_refuse("list-workspace-dotdot", list("/workspace/.."));
        attempts.must_refuse("list-sub-dotdot-dotdot", list("/workspace/sub/../.."));
        attempts.must_refuse("list-out-dotdot", list("/out/.."));
        // Straight to the host, past the C library's path handling.
        for (label, dir, path) in RAW_CLIMBS {
            attempts.must_refuse(label, raw::read_at(dir, path));
        }
        Ok(attempts.into_output())
    }
}

gantry_plugin_sdk::export!(EscapeDotdot);
