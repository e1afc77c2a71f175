//! A hostile stage that tries every way WASI offers to change a workspace
//! it may only read.
//!
//! The test grants `read = ["."]` on a workspace holding `keep.txt` and
//! `dir/inner.txt`, and checks afterwards that not a byte, name or time of
//! it changed. Reading `keep.txt` must work: it shows the refusals come from
//! the grant's access, not from a missing workspace. `/out` is writable, so
//! moving or linking a workspace file into it is tried as well.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::time::SystemTime;

use gantry_plugin_sdk::{Capabilities, Guest, PluginInfo, StageError, StageInput, StageOutput};
use hostile_probe::{Attempts, plugin_info, raw, read};

const KEEP: &str = "/workspace/keep.txt";
const PAYLOAD: &[u8] = b"changed by a hostile plugin\n";

struct WriteReadonly;

impl Guest for WriteReadonly {
    fn describe() -> PluginInfo {
        plugin_info(
            "write-readonly",
            Capabilities {
                read: vec![".".to_owned()],
                ..Capabilities::none()
            },
        )
    }

    fn run(_input: StageInput) -> Result<StageOutput, StageError> {
        let mut attempts = Attempts::new();
        attempts.must_allow("read-keep", read(KEEP));
        try_writes(&mut attempts);
        try_metadata_changes(&mut attempts);
        try_namespace_changes(&mut attempts);
        Ok(attempts.into_output())
    }
}

gantry_plugin_sdk::export!(WriteReadonly);

/// Changing a file's contents, by every way of opening it.
fn try_writes(attempts: &mut Attempts) {
    attempts.must_refuse("truncate-and-write", did(fs::write(KEEP, PAYLOAD)));
    let append = OpenOptions::new().append(true).open(KEEP);
    attempts.must_refuse("append", did(append.and_then(write_payload)));
    let in_place = OpenOptions::new().write(true).open(KEEP);
    attempts.must_refuse("write-in-place", did(in_place.and_then(write_payload)));
    // A descriptor opened for reading must not write either.
    attempts.must_refuse(
        "write-to-read-descriptor",
        did(File::open(KEEP).and_then(write_payload)),
    );
    let create = fs::write("/workspace/new.txt", PAYLOAD);
    attempts.must_refuse("create-file", did(create));
    let inner = fs::write("/workspace/dir/new.txt", PAYLOAD);
    attempts.must_refuse("create-file-in-subdirectory", did(inner));
}

/// Adding, moving and removing names; removals last, so that every other
/// attempt finds the file still there even when the sandbox fails.
fn try_namespace_changes(attempts: &mut Attempts) {
    attempts.must_refuse("create-dir", did(fs::create_dir("/workspace/newdir")));
    let rename = fs::rename(KEEP, "/workspace/moved.txt");
    attempts.must_refuse("rename", did(rename));
    // `/out` is writable: moving a workspace file there would delete it from
    // the workspace, and a hard link there would make it writable.
    let to_out = fs::rename(KEEP, "/out/stolen.txt");
    attempts.must_refuse("rename-into-out", did(to_out));
    let linked = fs::hard_link(KEEP, "/out/keep-link")
        .and_then(|()| OpenOptions::new().append(true).open("/out/keep-link"))
        .and_then(write_payload);
    attempts.must_refuse("hard-link-into-out-then-write", did(linked));
    let raw_move = raw::rename_at("/workspace", "keep.txt", "/out", "stolen-raw.txt");
    attempts.must_refuse("raw-rename-into-out", raw_move);
    let raw_link = raw::link_at("/workspace", "keep.txt", "/out", "keep-raw");
    attempts.must_refuse("raw-hard-link-into-out", raw_link);
    let symlink = raw::symlink_at("/workspace", "keep.txt", "link");
    attempts.must_refuse("make-symlink", symlink);

    attempts.must_refuse("remove-file", did(fs::remove_file(KEEP)));
    let remove_dir = fs::remove_dir_all("/workspace/dir");
    attempts.must_refuse("remove-dir", did(remove_dir));
}

/// Changing a file's size or times through a read-only descriptor.
fn try_metadata_changes(attempts: &mut Attempts) {
    let truncate = File::open(KEEP).and_then(|file| file.set_len(0));
    attempts.must_refuse("set-length", did(truncate));
    let times = File::open(KEEP).and_then(|file| file.set_modified(SystemTime::UNIX_EPOCH));
    attempts.must_refuse("set-modified-time", did(times));
}

fn write_payload(mut file: File) -> io::Result<()> {
    file.write_all(PAYLOAD)?;
    file.flush()
}

/// Evidence for a change that returned nothing: that it happened.
fn did(result: io::Result<()>) -> io::Result<String> {
    result.map(|()| "the change was made".to_owned())
}
