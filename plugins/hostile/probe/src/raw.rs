//! Raw `wasi:filesystem` calls on the preopened descriptors.
//!
//! The C library under `std::fs` picks a preopen by the path's prefix and
//! passes the rest on; a plugin written against WASI directly can send the
//! host any path relative to any preopen, `..` and absolute paths included.
//! These helpers do that, so the sandbox is tested where it is enforced.

use wasip2::filesystem::preopens::get_directories;
use wasip2::filesystem::types::{Descriptor, DescriptorFlags, OpenFlags, PathFlags};

use crate::first_bytes;

/// The most bytes a raw read asks for.
const READ_BYTES: u64 = 4096;

/// The preopened directory the plugin sees at `guest`, e.g. `/workspace`.
///
/// # Errors
///
/// Says so when there is no such preopen.
pub fn preopen(guest: &str) -> Result<Descriptor, String> {
    get_directories()
        .into_iter()
        .find(|(_, name)| name == guest)
        .map(|(descriptor, _)| descriptor)
        .ok_or_else(|| format!("no preopen `{guest}`"))
}

/// Opens `path` relative to the preopen `dir`, following symlinks, and
/// reads its start, as evidence.
///
/// # Errors
///
/// The step that failed and the host's error code.
pub fn read_at(dir: &str, path: &str) -> Result<String, String> {
    let file = preopen(dir)?
        .open_at(
            PathFlags::SYMLINK_FOLLOW,
            path,
            OpenFlags::empty(),
            DescriptorFlags::READ,
        )
        .map_err(|e| format!("opening: {e}"))?;
    let (bytes, _end) = file
        .read(READ_BYTES, 0)
        .map_err(|e| format!("reading: {e}"))?;
    Ok(first_bytes(&bytes))
}

/// Makes the symlink `link` -> `target` in the preopen `dir`.
///
/// # Errors
///
/// The host's error code.
pub fn symlink_at(dir: &str, target: &str, link: &str) -> Result<String, String> {
    preopen(dir)?
        .symlink_at(target, link)
        .map(|()| format!("made `{link}` -> `{target}`"))
        .map_err(|e| format!("making the link: {e}"))
}

/// Hard-links `old` in the preopen `old_dir` as `new` in `new_dir`.
///
/// # Errors
///
/// The host's error code.
pub fn link_at(old_dir: &str, old: &str, new_dir: &str, new: &str) -> Result<String, String> {
    let target = preopen(new_dir)?;
    preopen(old_dir)?
        .link_at(PathFlags::empty(), old, &target, new)
        .map(|()| format!("hard-linked `{new_dir}/{new}` to `{old_dir}/{old}`"))
        .map_err(|e| format!("making the hard link: {e}"))
}

/// Moves `old` in the preopen `old_dir` to `new` in `new_dir`.
///
/// # Errors
///
/// The host's error code.
pub fn rename_at(old_dir: &str, old: &str, new_dir: &str, new: &str) -> Result<String, String> {
    let target = preopen(new_dir)?;
    preopen(old_dir)?
        .rename_at(old, &target, new)
        .map(|()| format!("moved `{old_dir}/{old}` to `{new_dir}/{new}`"))
        .map_err(|e| format!("moving: {e}"))
}
