//! Listing an OSV directory's files for the index cache's key, through
//! `wasi:filesystem` itself.
//!
//! `std::fs` reaches the host through the WASI preview 1 adapter, which
//! asks for an inode number beside every directory entry and every
//! metadata call: for 8,000 advisory files, tens of thousands of host calls
//! and system calls, most of the time a cached scan takes. Here each
//! directory is read once and each file is looked at once, by name within
//! its directory. The result is what [`osv::cache::stamps`] gives (the same
//! files in the same order, with the same sizes and times), which the
//! end-to-end tests check against a native listing of the same directory.

use std::io;
use std::path::{Component, Path, PathBuf};

use gantry_plugin_core::osv::{self, OsvError, cache::Stamp};
use wasip2::filesystem::preopens::get_directories;
use wasip2::filesystem::types::{
    Descriptor, DescriptorFlags, DescriptorType, ErrorCode, OpenFlags, PathFlags,
};

/// The stamps of every advisory file under `db`; through `std::fs` when
/// `db` is not under a directory the stage was given.
///
/// # Errors
///
/// [`OsvError`] naming the directory or file that could not be read.
pub fn list(db: &Path) -> Result<Vec<Stamp>, OsvError> {
    let Some((preopen, rest)) = preopen_of(db) else {
        return osv::cache::stamps(db);
    };
    let root = match rest.as_os_str().is_empty() {
        true => preopen,
        false => preopen
            .open_at(
                PathFlags::SYMLINK_FOLLOW,
                &rest.to_string_lossy(),
                OpenFlags::DIRECTORY,
                DescriptorFlags::READ,
            )
            .map_err(|code| dir_error(db, code))?,
    };
    let mut stamps = Vec::new();
    walk(&root, db, "", &mut stamps)?;
    Ok(stamps)
}

/// Stamps the advisory files of the directory `dir` (at `path`, named
/// `prefix` under the database) and of its subdirectories, in the order
/// `std`'s walk takes: entries sorted by name, each subdirectory where
/// its name sorts; links to directories are not followed.
fn walk(
    dir: &Descriptor,
    path: &Path,
    prefix: &str,
    stamps: &mut Vec<Stamp>,
) -> Result<(), OsvError> {
    let stream = dir.read_directory().map_err(|code| dir_error(path, code))?;
    let mut entries = Vec::new();
    while let Some(entry) = stream
        .read_directory_entry()
        .map_err(|code| dir_error(path, code))?
    {
        entries.push((entry.name, entry.type_ == DescriptorType::Directory));
    }
    drop(stream);
    entries.sort();
    for (name, is_dir) in entries {
        if is_dir {
            let subdir = dir
                .open_at(
                    PathFlags::empty(),
                    &name,
                    OpenFlags::DIRECTORY,
                    DescriptorFlags::READ,
                )
                .map_err(|code| dir_error(&path.join(&name), code))?;
            walk(
                &subdir,
                &path.join(&name),
                &format!("{prefix}{name}/"),
                stamps,
            )?;
        } else if osv::cache::is_advisory_file(Path::new(&name)) {
            let stat = dir
                .stat_at(PathFlags::SYMLINK_FOLLOW, &name)
                .map_err(|code| OsvError::ReadFile {
                    path: path.join(&name),
                    error: io_error(code),
                })?;
            let modified = stat.data_modification_timestamp.map_or(0, |time| {
                u128::from(time.seconds) * 1_000_000_000 + u128::from(time.nanoseconds)
            });
            stamps.push(Stamp {
                name: format!("{prefix}{name}"),
                size: stat.size,
                modified,
            });
        }
    }
    Ok(())
}

/// The preopened directory `db` is in, and `db`'s path under it: the
/// preopen with the longest path that is a prefix of `db`, compared by
/// components. `None` for a relative `db` or one under no preopen.
fn preopen_of(db: &Path) -> Option<(Descriptor, PathBuf)> {
    if !db.is_absolute() || db.components().any(|part| part == Component::ParentDir) {
        return None;
    }
    get_directories()
        .into_iter()
        .filter_map(|(descriptor, guest)| {
            let rest = db.strip_prefix(&guest).ok()?.to_owned();
            Some((Path::new(&guest).components().count(), descriptor, rest))
        })
        .max_by_key(|(depth, ..)| *depth)
        .map(|(_, descriptor, rest)| (descriptor, rest))
}

fn dir_error(path: &Path, code: ErrorCode) -> OsvError {
    OsvError::ReadDir {
        path: path.to_owned(),
        error: io_error(code),
    }
}

fn io_error(code: ErrorCode) -> io::Error {
    io::Error::other(code.message())
}
