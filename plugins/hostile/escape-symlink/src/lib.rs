//! A hostile stage that makes symlinks and hard links to leave its grants,
//! and, in another mode, the legitimate links that must keep working.
//!
//! The test grants `read = ["."]` and `write = ["sub"]` on a workspace
//! `ws/` that holds `keep.txt` (outside the write grant), with `secret`
//! beside `ws/`; its host path is `secret` in `[stage.config]`. `mode`
//! picks what the stage does:
//!
//! - `escape`: links inside `/workspace/sub` that point out of it, read and
//!   written through; every read or write through them must be refused.
//! - `inside`: links that stay inside the grant; each must work. The test
//!   makes `sub/data.txt`, `sub/nested/deep.txt` and `alias -> sub/data.txt`.
//! - `out-link`: a link in `/out` that climbs to the secret's host path,
//!   declared as an artifact; the host must refuse the output.

use std::fs;

use gantry_plugin_sdk::{
    Capabilities, Guest, PluginInfo, StageError, StageInput, StageOutput, config,
};
use hostile_probe::{Attempts, list, plugin_info, raw, read};
use serde::Deserialize;

/// More `..` than any host path is deep: past `/` they stay at `/`, so the
/// target names the host path that follows them, from wherever it is read.
const TO_HOST_ROOT: &str = "../../../../../../../../../../../../../../../..";

/// The stage's `[stage.config]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct SymlinkConfig {
    mode: Mode,
    /// The secret's path on the host.
    #[serde(default)]
    secret: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Mode {
    Escape,
    Inside,
    OutLink,
}

struct EscapeSymlink;

impl Guest for EscapeSymlink {
    fn describe() -> PluginInfo {
        plugin_info(
            "escape-symlink",
            Capabilities {
                read: vec![".".to_owned()],
                write: vec!["sub".to_owned()],
                ..Capabilities::none()
            },
        )
    }

    fn run(input: StageInput) -> Result<StageOutput, StageError> {
        let config: SymlinkConfig = config::parse(&input.config)?;
        let mut attempts = Attempts::new();
        match config.mode {
            Mode::Escape => {
                try_symlinks_out(&mut attempts, &config.secret);
                try_hard_links_out(&mut attempts, &config.secret);
            }
            Mode::Inside => try_symlinks_inside(&mut attempts),
            Mode::OutLink => return link_from_out(&config.secret),
        }
        Ok(attempts.into_output())
    }
}

gantry_plugin_sdk::export!(EscapeSymlink);

/// Symlinks in the writable `sub` that point out of it: made (relative
/// ones may be), then read and written through (never).
fn try_symlinks_out(attempts: &mut Attempts, secret: &str) {
    let relative = link_then_read("../../secret", "up", "/workspace/sub/up");
    attempts.must_refuse("read-via-relative-link", relative);

    let host_root = format!("{TO_HOST_ROOT}{secret}");
    let deep = link_then_read(&host_root, "deep", "/workspace/sub/deep");
    attempts.must_refuse("read-via-link-past-the-root", deep);

    attempts.must_refuse("make-absolute-link", make_link(secret, "abs"));
    attempts.must_refuse("read-via-absolute-link", read("/workspace/sub/abs"));

    let dir = link_then_read("../..", "updir", "/workspace/sub/updir/secret");
    attempts.must_refuse("read-via-directory-link", dir);
    attempts.must_refuse("list-via-directory-link", list("/workspace/sub/updir"));

    // A chain: only the second hop leaves the grant.
    let _ = make_link("../../secret", "hop2");
    let chain = link_then_read("hop2", "hop1", "/workspace/sub/hop1");
    attempts.must_refuse("read-via-link-chain", chain);

    // Out of the writable grant into the read-only rest of the workspace.
    let write = make_link("../keep.txt", "keep")
        .and_then(|_| write("/workspace/sub/keep").map_err(|e| format!("writing: {e}")));
    attempts.must_refuse("write-via-link-to-read-only-file", write);
}

/// Hard links to files outside the write grant, and to an escaping link.
fn try_hard_links_out(attempts: &mut Attempts, secret: &str) {
    let dotdot = hard_link("/workspace/../secret", "/workspace/sub/hard");
    attempts.must_refuse("hard-link-dotdot", dotdot);
    attempts.must_refuse(
        "hard-link-host-path",
        hard_link(secret, "/workspace/sub/hard-abs"),
    );

    // Linking a read-only file into the writable grant would make it
    // writable there.
    let read_only = hard_link("/workspace/keep.txt", "/workspace/sub/keep-hard")
        .and_then(|_| write("/workspace/sub/keep-hard").map_err(|e| format!("writing: {e}")));
    attempts.must_refuse("hard-link-read-only-file-then-write", read_only);
    let raw = raw::link_at("/workspace", "keep.txt", "/workspace/sub", "keep-raw");
    attempts.must_refuse("raw-hard-link-read-only-file", raw);

    let to_link = hard_link("/workspace/sub/up", "/workspace/sub/up-hard")
        .and_then(|_| read("/workspace/sub/up-hard").map_err(|e| format!("reading: {e}")));
    attempts.must_refuse("read-via-hard-link-to-escaping-link", to_link);
}

/// Links that stay inside the grant; each must resolve.
fn try_symlinks_inside(attempts: &mut Attempts) {
    let sibling = link_then_read("data.txt", "link", "/workspace/sub/link");
    attempts.must_allow("read-via-sibling-link", sibling);

    let _ = fs::create_dir_all("/workspace/sub/made");
    let up = link_then_read("../data.txt", "made/up", "/workspace/sub/made/up");
    attempts.must_allow("read-via-link-up-one-level", up);

    let dir = link_then_read("nested", "dir", "/workspace/sub/dir/deep.txt");
    attempts.must_allow("read-via-directory-link", dir);

    // Made by the test on the host, read through the read-only preopen.
    attempts.must_allow("read-via-existing-link", read("/workspace/alias"));
}

/// Tries to leave a link to the secret in `/out` (the host refuses to make
/// it), then leaves a link inside `/out` and declares it as an artifact.
fn link_from_out(secret: &str) -> Result<StageOutput, StageError> {
    let target = format!("{TO_HOST_ROOT}{secret}");
    if raw::symlink_at("/out", &target, "escape").is_ok() {
        return Err(StageError::Internal("a link out of /out was made".into()));
    }
    fs::write("/out/inside.txt", "inside").map_err(|e| StageError::Internal(e.to_string()))?;
    raw::symlink_at("/out", "inside.txt", "leak").map_err(StageError::Internal)?;
    Ok(StageOutput::pass("left a link in /out").with_artifact("leak", "text/plain", "leak"))
}

/// Makes the symlink `link` -> `target` inside `/workspace/sub`.
fn make_link(target: &str, link: &str) -> Result<String, String> {
    raw::symlink_at("/workspace/sub", target, link)
}

fn link_then_read(target: &str, link: &str, path: &str) -> Result<String, String> {
    make_link(target, link)?;
    read(path).map_err(|e| format!("reading through it: {e}"))
}

fn hard_link(original: &str, link: &str) -> Result<String, String> {
    fs::hard_link(original, link)
        .map(|()| format!("hard-linked `{link}` to `{original}`"))
        .map_err(|e| format!("making the hard link: {e}"))
}

fn write(path: &str) -> std::io::Result<String> {
    fs::write(path, b"overwritten by a hostile plugin\n").map(|()| format!("wrote `{path}`"))
}
