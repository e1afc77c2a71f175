//! A hostile stage that moves and hard-links files between its grants, and
//! reads `/proc` and `/etc` through every preopen.
//!
//! The test grants the workspace read-only and `sub/` writable, and puts
//! `keep.txt`, `sub/moved.txt` and `sub/a.txt` there. Each grant is a tree of its own:
//! a rename or hard link from `/workspace/sub` into `/out` (both writable)
//! or back must be refused, as must every way to `/proc/self/environ`,
//! while renames, hard links and symlinks inside one grant work.
//!
//! With `[stage.config]` `mode = "out-hard-link"` it instead hard-links one
//! file of `/out` to another and declares it as an artifact, which the host
//! must refuse when it checks the output.

use std::fs;

use gantry_plugin_sdk::{
    Capabilities, Guest, PluginInfo, StageError, StageInput, StageOutput, config,
};
use hostile_probe::{Attempts, plugin_info, raw, read};
use serde::Deserialize;

/// Enough `..` to reach `/` from any preopen.
const CLIMB: &str = "../../../../../../../../../../../../../../../..";

/// The stage's `[stage.config]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct CrossConfig {
    #[serde(default)]
    mode: Option<String>,
}

struct CrossGrant;

impl Guest for CrossGrant {
    fn describe() -> PluginInfo {
        plugin_info(
            "cross-grant",
            Capabilities {
                read: vec![".".to_owned()],
                write: vec!["sub".to_owned()],
                ..Capabilities::none()
            },
        )
    }

    fn run(input: StageInput) -> Result<StageOutput, StageError> {
        let config: CrossConfig = config::parse(&input.config)?;
        if config.mode.as_deref() == Some("out-hard-link") {
            return out_hard_link();
        }
        let mut attempts = Attempts::new();
        across(&mut attempts);
        proc_files(&mut attempts);
        within(&mut attempts);
        Ok(attempts.into_output())
    }
}

/// Renames and hard links between two writable grants.
fn across(attempts: &mut Attempts) {
    let made = fs::write("/out/made.txt", "made in out").map(|()| "wrote".to_owned());
    attempts.must_allow("write-out", made);

    let moved = fs::rename("/workspace/sub/moved.txt", "/out/moved.txt");
    attempts.must_refuse(
        "rename-workspace-into-out",
        moved.map(|()| "moved".to_owned()),
    );
    let back = fs::rename("/out/made.txt", "/workspace/sub/made.txt");
    attempts.must_refuse(
        "rename-out-into-workspace",
        back.map(|()| "moved".to_owned()),
    );
    let raw_moved = raw::rename_at("/workspace/sub", "moved.txt", "/out", "raw-moved.txt");
    attempts.must_refuse("raw-rename-workspace-into-out", raw_moved);

    let linked = fs::hard_link("/workspace/sub/moved.txt", "/out/linked.txt");
    attempts.must_refuse(
        "hard-link-workspace-into-out",
        linked.map(|()| "linked".to_owned()),
    );
    let raw_linked = raw::link_at("/workspace/sub", "moved.txt", "/out", "raw-linked.txt");
    attempts.must_refuse("raw-hard-link-workspace-into-out", raw_linked);
    let raw_back = raw::link_at("/out", "made.txt", "/workspace/sub", "made-link.txt");
    attempts.must_refuse("raw-hard-link-out-into-workspace", raw_back);

    // Inside one grant, but a read-only one: a link is a change too.
    let read_only = fs::hard_link("/workspace/keep.txt", "/workspace/keep-link.txt");
    attempts.must_refuse(
        "hard-link-in-read-only-grant",
        read_only.map(|()| "linked".to_owned()),
    );
}

/// `/proc` and `/etc`, by name and through every preopen.
fn proc_files(attempts: &mut Attempts) {
    attempts.must_refuse("read-proc-environ", read("/proc/self/environ"));
    attempts.must_refuse("read-proc-mounts", read("/proc/self/mounts"));
    let environ = format!("{CLIMB}/proc/self/environ");
    let via_sub = raw::read_at("/workspace/sub", &environ);
    attempts.must_refuse("raw-read-proc-environ-via-sub", via_sub);
    attempts.must_refuse(
        "raw-read-proc-environ-via-out",
        raw::read_at("/out", &environ),
    );
    let passwd = format!("{CLIMB}/etc/passwd");
    attempts.must_refuse("raw-read-etc-passwd", raw::read_at("/workspace", &passwd));

    // A link to it is refused when it is made, and could never be followed.
    let through_link = raw::symlink_at("/workspace/sub", &environ, "proc-link")
        .and_then(|_| read("/workspace/sub/proc-link").map_err(|e| e.to_string()));
    attempts.must_refuse("read-via-link-to-proc", through_link);
}

/// What a writable grant lawfully does inside itself.
fn within(attempts: &mut Attempts) {
    let renamed = fs::rename("/workspace/sub/a.txt", "/workspace/sub/b.txt")
        .and_then(|()| fs::read_to_string("/workspace/sub/b.txt"));
    attempts.must_allow("rename-within-grant", renamed);
    let linked = fs::hard_link("/workspace/sub/b.txt", "/workspace/sub/c.txt")
        .and_then(|()| fs::read_to_string("/workspace/sub/c.txt"));
    attempts.must_allow("hard-link-within-grant", linked);
    let aliased = raw::symlink_at("/workspace/sub", "b.txt", "alias")
        .and_then(|_| fs::read_to_string("/workspace/sub/alias").map_err(|e| e.to_string()));
    attempts.must_allow("symlink-within-grant", aliased);
}

/// Leaves `/out/a.txt` and `/out/b.txt` as one file with two names.
fn out_hard_link() -> Result<StageOutput, StageError> {
    let failed = |e: std::io::Error| StageError::Internal(e.to_string());
    fs::write("/out/a.txt", "shared").map_err(failed)?;
    fs::hard_link("/out/a.txt", "/out/b.txt").map_err(failed)?;
    Ok(StageOutput::pass("two names for one file").with_artifact("a", "text/plain", "a.txt"))
}

gantry_plugin_sdk::export!(CrossGrant);
