//! `wasi:filesystem` with every refusal on the record.
//!
//! wasmtime-wasi confines a plugin to its preopened directories: `..` past
//! a preopen, absolute paths and symlinks that lead out are refused inside
//! cap-std, where the host never sees them. This module puts its own
//! implementation of `wasi:filesystem/types` and `preopens` in front of
//! wasmtime-wasi's: every call is passed on unchanged, so none of its checks
//! is weakened, and what comes back is looked at. A path operation (or a
//! write, resize or time change through a descriptor) refused as not
//! permitted, denied access or read-only becomes a [`Denial`] naming the
//! guest path the plugin asked for (`open-at /workspace/../etc/passwd`) and
//! the grant that would allow it.
//!
//! On top of wasmtime-wasi's checks it refuses hard links and renames
//! between two preopens: each grant is a tree of its own, and a hard link
//! from one into `/out` would make the host hash, and the next stage read,
//! a file that another grant can still change. (wasmtime-wasi 48 refuses a
//! link or rename out of a read-only preopen, or between preopens of
//! different permissions, but allows both between two writable ones.) It also counts what the
//! stage's limits bound: descriptors open at once, and bytes written under
//! `/out` (see [`OutBudget`]), as they are written.
//!
//! The guest path of each descriptor is tracked from its preopen's name,
//! joined with the paths it was opened by, exactly as asked.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use wasmtime::component::{HasData, Linker, Resource};
use wasmtime_wasi::filesystem::WasiFilesystemCtxView;
use wasmtime_wasi::p2::bindings::filesystem::preopens;
use wasmtime_wasi::p2::bindings::filesystem::types::{
    self, Advice, DescriptorFlags, DescriptorStat, DescriptorType, DirectoryEntry,
    DirectoryEntryStream, ErrorCode, Filesize, HostDescriptor, HostDirectoryEntryStream,
    MetadataHashValue, NewTimestamp, OpenFlags, PathFlags,
};
use wasmtime_wasi::p2::{DynOutputStream, FsError, FsResult, OutputStream, Pollable, StreamResult};

use super::limits::{Crossed, LogMeter, OutBudget, Tripwire};
use super::state::{StageEvents, StageState};
use crate::grants::{Access, Denial, Sandbox};

/// The guest path of the output directory, whose writes are counted.
const OUT: &str = "/out";
/// The longest path kept in a denial; a plugin chooses it, and the audit
/// trail is no place for megabytes of it.
const MAX_ASKED: usize = 1024;

/// Adds `wasi:filesystem/types` and `preopens`, implemented by
/// [`AuditedFs`].
///
/// # Errors
///
/// When an interface is already in the linker.
pub(super) fn add_to_linker(linker: &mut Linker<StageState>) -> wasmtime::Result<()> {
    preopens::add_to_linker::<_, AuditedFilesystem>(linker, audited_fs)?;
    types::add_to_linker::<_, AuditedFilesystem>(linker, audited_fs)
}

/// The filesystem imports, implemented by [`AuditedFs`].
struct AuditedFilesystem;

impl HasData for AuditedFilesystem {
    type Data<'a> = AuditedFs<'a>;
}

fn audited_fs(state: &mut StageState) -> AuditedFs<'_> {
    AuditedFs {
        fs: WasiFilesystemCtxView {
            ctx: state.wasi.filesystem(),
            table: &mut state.table,
        },
        tracker: &mut state.fs,
        log: &mut state.log,
        events: &*state.events,
    }
}

/// One preopened directory, as the plugin sees it.
#[derive(Debug, Clone)]
struct Root {
    guest: String,
    access: Access,
}

/// A descriptor the plugin holds: where it is and under which preopen.
#[derive(Debug, Clone)]
struct Opened {
    path: String,
    root: usize,
}

/// What the host knows of a stage's descriptors, and the budgets they
/// spend.
pub(super) struct FsTracker {
    roots: Vec<Root>,
    opened: HashMap<u32, Opened>,
    max_handles: u64,
    out: Arc<OutBudget>,
    tripwire: Tripwire,
}

impl FsTracker {
    pub fn new(
        sandbox: &Sandbox,
        max_handles: u64,
        out: Arc<OutBudget>,
        tripwire: Tripwire,
    ) -> Self {
        let roots = sandbox
            .preopens
            .iter()
            .map(|p| Root {
                guest: p.guest.clone(),
                access: p.access,
            })
            .collect();
        FsTracker {
            roots,
            opened: HashMap::new(),
            max_handles,
            out,
            tripwire,
        }
    }

    /// Counts `more` new descriptors against the stage's `handles` limit.
    /// Streams, pollables and directory listings are bounded by the
    /// resource table's capacity instead (see `resource_table`).
    fn admit(&self, more: usize) -> wasmtime::Result<()> {
        let open = self.opened.len().saturating_add(more) as u64;
        if open > self.max_handles {
            return Err(self.tripwire.trip(Crossed::Handles));
        }
        Ok(())
    }

    fn root_of(&self, fd: &Resource<types::Descriptor>) -> Option<&Root> {
        let opened = self.opened.get(&fd.rep())?;
        self.roots.get(opened.root)
    }

    fn is_out(&self, fd: &Resource<types::Descriptor>) -> bool {
        self.root_of(fd).is_some_and(|root| root.guest == OUT)
    }
}

/// The filesystem view of one call: wasmtime-wasi's, with the tracker and
/// where denials go.
pub(super) struct AuditedFs<'a> {
    fs: WasiFilesystemCtxView<'a>,
    tracker: &'a mut FsTracker,
    log: &'a mut LogMeter,
    events: &'a dyn StageEvents,
}

/// A path operation, named as in the WIT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    OpenAt,
    CreateDirectoryAt,
    RenameAt,
    LinkAt,
    SymlinkAt,
    ReadlinkAt,
    RemoveDirectoryAt,
    UnlinkFileAt,
    StatAt,
    SetTimesAt,
    MetadataHashAt,
    Write,
    SetSize,
    SetTimes,
    WriteViaStream,
    AppendViaStream,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::OpenAt => "open-at",
            Op::CreateDirectoryAt => "create-directory-at",
            Op::RenameAt => "rename-at",
            Op::LinkAt => "link-at",
            Op::SymlinkAt => "symlink-at",
            Op::ReadlinkAt => "readlink-at",
            Op::RemoveDirectoryAt => "remove-directory-at",
            Op::UnlinkFileAt => "unlink-file-at",
            Op::StatAt => "stat-at",
            Op::SetTimesAt => "set-times-at",
            Op::MetadataHashAt => "metadata-hash-at",
            Op::Write => "write",
            Op::SetSize => "set-size",
            Op::SetTimes => "set-times",
            Op::WriteViaStream => "write-via-stream",
            Op::AppendViaStream => "append-via-stream",
        }
    }

    /// Whether the operation changes something, and so needs a write grant.
    fn mutates(self) -> bool {
        !matches!(
            self,
            Op::ReadlinkAt | Op::StatAt | Op::MetadataHashAt | Op::OpenAt
        )
    }
}

impl AuditedFs<'_> {
    /// The guest path `path` names relative to `fd`, as the plugin asked.
    fn guest_path(&self, fd: &Resource<types::Descriptor>, path: &str) -> String {
        let Some(parent) = self.tracker.opened.get(&fd.rep()) else {
            return path.to_owned();
        };
        join_guest(&parent.path, path)
    }

    /// Reports `result` as a denial when it is a refusal; passes it on.
    fn audited<T>(
        &mut self,
        result: FsResult<T>,
        op: Op,
        fd: &Resource<types::Descriptor>,
        asked: String,
        writes: bool,
    ) -> FsResult<T> {
        let Err(err) = &result else {
            return result;
        };
        let missing = match err.downcast_ref() {
            // What cap-std gives for a path that leaves its base, and
            // wasmtime-wasi for a change under a read-only preopen.
            Some(ErrorCode::NotPermitted | ErrorCode::ReadOnly) => {
                let root = self.tracker.root_of(fd);
                missing_grant(root, op.mutates() || writes)
            }
            Some(ErrorCode::Access) => "none: the host's file permissions refuse it".to_owned(),
            _ => return result,
        };
        self.deny(op, asked, missing)?;
        result
    }

    /// Refuses to open a FIFO, socket or device, before wasmtime-wasi opens
    /// it. File operations block the thread the stage runs on (see
    /// `grants::Sandbox::wasi_ctx`), and opening or reading a FIFO with no
    /// writer would block it past the stage's time limit. A path that does
    /// not exist yet, or cannot be looked at, is left to `open_at`.
    async fn refuse_special_file(
        &mut self,
        fd: &Resource<types::Descriptor>,
        path_flags: PathFlags,
        path: &str,
        asked: &str,
    ) -> FsResult<()> {
        let borrowed = Resource::new_borrow(fd.rep());
        let Ok(stat) = self.fs.stat_at(borrowed, path_flags, path.to_owned()).await else {
            return Ok(());
        };
        // wasmtime-wasi reports a FIFO or socket as `unknown`: whatever is
        // not a file, a directory or a link not followed is refused.
        let kind = match stat.type_ {
            DescriptorType::RegularFile
            | DescriptorType::Directory
            | DescriptorType::SymbolicLink => return Ok(()),
            DescriptorType::Fifo => "a FIFO",
            DescriptorType::Socket => "a socket",
            DescriptorType::CharacterDevice | DescriptorType::BlockDevice => "a device",
            DescriptorType::Unknown => "a FIFO or a socket",
        };
        self.deny(
            Op::OpenAt,
            asked.to_owned(),
            format!("none: `{asked}` is {kind}; plugins open only files and directories"),
        )?;
        Err(ErrorCode::Access.into())
    }

    /// Records one denial; it counts as a log line of the stage.
    fn deny(&mut self, op: Op, asked: String, missing_grant: String) -> FsResult<()> {
        if let Err(limit) = self.log.line(std::time::Instant::now()) {
            return Err(FsError::trap(self.tracker.tripwire.trip(limit)));
        }
        self.events.denied(&Denial {
            capability: "fs",
            asked: format!("{} {}", op.name(), shorten(&asked)),
            missing_grant,
        });
        Ok(())
    }

    /// Refuses a link or rename between two preopens, before wasmtime-wasi
    /// sees it.
    fn refuse_across(
        &mut self,
        op: Op,
        from: &Resource<types::Descriptor>,
        to: &Resource<types::Descriptor>,
        asked: &str,
    ) -> FsResult<()> {
        let root =
            |fd: &Resource<types::Descriptor>| self.tracker.opened.get(&fd.rep()).map(|o| o.root);
        let (Some(from_root), Some(to_root)) = (root(from), root(to)) else {
            return Ok(());
        };
        if from_root == to_root {
            return Ok(());
        }
        let missing = format!(
            "none: {} stays within one grant, and `{}` and `{}` are two",
            op.name(),
            self.tracker.roots[from_root].guest,
            self.tracker.roots[to_root].guest
        );
        self.deny(op, asked.to_owned(), missing)?;
        Err(ErrorCode::NotPermitted.into())
    }

    /// Refuses a symlink whose relative target climbs out of the grant it
    /// is made in: cap-std refuses absolute targets and never follows a
    /// link out, but a program run later in the workspace would.
    fn refuse_leaving_link(
        &mut self,
        fd: &Resource<types::Descriptor>,
        target: &str,
        link: &str,
        asked: &str,
    ) -> FsResult<()> {
        let Some(opened) = self.tracker.opened.get(&fd.rep()) else {
            return Ok(());
        };
        let root = &self.tracker.roots[opened.root].guest;
        if target.starts_with('/') || link.starts_with('/') {
            return Ok(());
        }
        let link_path = join_guest(&opened.path, link);
        let link_dir = link_path.rsplit_once('/').map_or("", |(dir, _)| dir);
        if stays_within(root, &join_guest(link_dir, target)) {
            return Ok(());
        }
        let missing = format!("none: a symlink made in `{root}` must lead inside it");
        self.deny(Op::SymlinkAt, asked.to_owned(), missing)?;
        Err(ErrorCode::NotPermitted.into())
    }

    /// The bytes a write to `fd` at `offset` adds beyond the file's end:
    /// a hole is charged like the zeroes it reads as.
    fn hole(&mut self, fd: &Resource<types::Descriptor>, offset: u64) -> u64 {
        let Ok(wasmtime_wasi::filesystem::Descriptor::File(file)) = self.fs.table.get(fd) else {
            return 0;
        };
        let len = file.file.metadata().map_or(0, |m| m.len());
        offset.saturating_sub(len)
    }

    /// Charges a write of `bytes` at `offset` when `fd` is under `/out`.
    fn charge_out(
        &mut self,
        fd: &Resource<types::Descriptor>,
        offset: u64,
        bytes: u64,
    ) -> FsResult<()> {
        if !self.tracker.is_out(fd) {
            return Ok(());
        }
        let charge = bytes.saturating_add(self.hole(fd, offset));
        self.tracker.out.charge(charge).map_err(FsError::trap)
    }

    /// Wraps a stream writing under `/out` so that its bytes are counted.
    fn count_stream(
        &mut self,
        fd: &Resource<types::Descriptor>,
        stream: Resource<DynOutputStream>,
    ) -> FsResult<Resource<DynOutputStream>> {
        if !self.tracker.is_out(fd) {
            return Ok(stream);
        }
        let inner = self.fs.table.delete(stream)?;
        let counted: DynOutputStream = Box::new(CountedStream {
            inner,
            budget: self.tracker.out.clone(),
        });
        Ok(self.fs.table.push(counted)?)
    }

    fn track(&mut self, fd: &Resource<types::Descriptor>, opened: Opened) {
        self.tracker.opened.insert(fd.rep(), opened);
    }
}

/// The grant that would allow a refused operation under `root`.
fn missing_grant(root: Option<&Root>, writes: bool) -> String {
    let Some(root) = root else {
        return "none: the descriptor is unknown".to_owned();
    };
    if writes && root.access == Access::ReadOnly {
        return write_grant(&root.guest);
    }
    format!(
        "none: `..`, absolute paths and symlinks stay inside `{}`",
        root.guest
    )
}

/// The write grant a pipeline would give for the preopen at `guest`.
fn write_grant(guest: &str) -> String {
    if guest == "/workspace" {
        return "write = [\".\"]".to_owned();
    }
    if let Some(sub) = guest.strip_prefix("/workspace/") {
        return format!("write = [{sub:?}]");
    }
    if let Some(mount) = guest.strip_prefix("/mnt/") {
        return format!("write = [\"mount:{mount}\"]");
    }
    format!("none: `{guest}` is always read-only")
}

/// `path` as the plugin named it from the directory `parent`.
fn join_guest(parent: &str, path: &str) -> String {
    if path.starts_with('/') {
        return format!("{path} (from {parent})");
    }
    if path.is_empty() || path == "." {
        return parent.to_owned();
    }
    format!("{}/{path}", parent.trim_end_matches('/'))
}

/// Whether `path`, with its `.` and `..` resolved as text, is `root` or
/// below it.
fn stays_within(root: &str, path: &str) -> bool {
    let mut resolved: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if resolved.pop().is_none() {
                    return false;
                }
            }
            part => resolved.push(part),
        }
    }
    let root: Vec<&str> = root.split('/').filter(|p| !p.is_empty()).collect();
    resolved.starts_with(&root)
}

/// Cuts a plugin's path for the record.
fn shorten(text: &str) -> String {
    if text.len() <= MAX_ASKED {
        return text.to_owned();
    }
    let mut cut = MAX_ASKED;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &text[..cut])
}

impl preopens::Host for AuditedFs<'_> {
    fn get_directories(&mut self) -> wasmtime::Result<Vec<(Resource<types::Descriptor>, String)>> {
        self.tracker.admit(self.tracker.roots.len())?;
        let directories = preopens::Host::get_directories(&mut self.fs)?;
        for (fd, name) in &directories {
            let root = self.tracker.roots.iter().position(|r| &r.guest == name);
            let Some(root) = root else { continue };
            let path = name.clone();
            self.track(fd, Opened { path, root });
        }
        Ok(directories)
    }
}

impl types::Host for AuditedFs<'_> {
    fn convert_error_code(&mut self, err: FsError) -> wasmtime::Result<ErrorCode> {
        types::Host::convert_error_code(&mut self.fs, err)
    }

    fn filesystem_error_code(
        &mut self,
        err: Resource<wasmtime::Error>,
    ) -> wasmtime::Result<Option<ErrorCode>> {
        types::Host::filesystem_error_code(&mut self.fs, err)
    }
}

impl HostDescriptor for AuditedFs<'_> {
    async fn advise(
        &mut self,
        fd: Resource<types::Descriptor>,
        offset: Filesize,
        len: Filesize,
        advice: Advice,
    ) -> FsResult<()> {
        self.fs.advise(fd, offset, len, advice).await
    }

    async fn sync_data(&mut self, fd: Resource<types::Descriptor>) -> FsResult<()> {
        self.fs.sync_data(fd).await
    }

    async fn get_flags(&mut self, fd: Resource<types::Descriptor>) -> FsResult<DescriptorFlags> {
        self.fs.get_flags(fd).await
    }

    async fn get_type(&mut self, fd: Resource<types::Descriptor>) -> FsResult<DescriptorType> {
        self.fs.get_type(fd).await
    }

    async fn set_size(&mut self, fd: Resource<types::Descriptor>, size: Filesize) -> FsResult<()> {
        // Growing a file is charged like writing its new zeroes.
        self.charge_out(&fd, size, 0)?;
        let asked = self.guest_path(&fd, "");
        let borrowed = Resource::new_borrow(fd.rep());
        let result = self.fs.set_size(fd, size).await;
        self.audited(result, Op::SetSize, &borrowed, asked, true)
    }

    async fn set_times(
        &mut self,
        fd: Resource<types::Descriptor>,
        atim: NewTimestamp,
        mtim: NewTimestamp,
    ) -> FsResult<()> {
        let asked = self.guest_path(&fd, "");
        let borrowed = Resource::new_borrow(fd.rep());
        let result = self.fs.set_times(fd, atim, mtim).await;
        self.audited(result, Op::SetTimes, &borrowed, asked, true)
    }

    async fn read(
        &mut self,
        fd: Resource<types::Descriptor>,
        len: Filesize,
        offset: Filesize,
    ) -> FsResult<(Vec<u8>, bool)> {
        self.fs.read(fd, len, offset).await
    }

    async fn write(
        &mut self,
        fd: Resource<types::Descriptor>,
        buf: Vec<u8>,
        offset: Filesize,
    ) -> FsResult<Filesize> {
        self.charge_out(&fd, offset, buf.len() as u64)?;
        let asked = self.guest_path(&fd, "");
        let borrowed = Resource::new_borrow(fd.rep());
        let result = self.fs.write(fd, buf, offset).await;
        self.audited(result, Op::Write, &borrowed, asked, true)
    }

    async fn read_directory(
        &mut self,
        fd: Resource<types::Descriptor>,
    ) -> FsResult<Resource<DirectoryEntryStream>> {
        self.fs.read_directory(fd).await
    }

    async fn sync(&mut self, fd: Resource<types::Descriptor>) -> FsResult<()> {
        self.fs.sync(fd).await
    }

    async fn create_directory_at(
        &mut self,
        fd: Resource<types::Descriptor>,
        path: String,
    ) -> FsResult<()> {
        let asked = self.guest_path(&fd, &path);
        let borrowed = Resource::new_borrow(fd.rep());
        let result = self.fs.create_directory_at(fd, path).await;
        self.audited(result, Op::CreateDirectoryAt, &borrowed, asked, true)
    }

    async fn stat(&mut self, fd: Resource<types::Descriptor>) -> FsResult<DescriptorStat> {
        self.fs.stat(fd).await
    }

    async fn stat_at(
        &mut self,
        fd: Resource<types::Descriptor>,
        path_flags: PathFlags,
        path: String,
    ) -> FsResult<DescriptorStat> {
        let asked = self.guest_path(&fd, &path);
        let borrowed = Resource::new_borrow(fd.rep());
        let result = self.fs.stat_at(fd, path_flags, path).await;
        self.audited(result, Op::StatAt, &borrowed, asked, false)
    }

    async fn set_times_at(
        &mut self,
        fd: Resource<types::Descriptor>,
        path_flags: PathFlags,
        path: String,
        atim: NewTimestamp,
        mtim: NewTimestamp,
    ) -> FsResult<()> {
        let asked = self.guest_path(&fd, &path);
        let borrowed = Resource::new_borrow(fd.rep());
        let result = self.fs.set_times_at(fd, path_flags, path, atim, mtim).await;
        self.audited(result, Op::SetTimesAt, &borrowed, asked, true)
    }

    async fn link_at(
        &mut self,
        fd: Resource<types::Descriptor>,
        old_path_flags: PathFlags,
        old_path: String,
        new_descriptor: Resource<types::Descriptor>,
        new_path: String,
    ) -> FsResult<()> {
        let asked = format!(
            "{} -> {}",
            self.guest_path(&new_descriptor, &new_path),
            self.guest_path(&fd, &old_path)
        );
        self.refuse_across(Op::LinkAt, &fd, &new_descriptor, &asked)?;
        let borrowed = Resource::new_borrow(fd.rep());
        let result = self
            .fs
            .link_at(fd, old_path_flags, old_path, new_descriptor, new_path)
            .await;
        self.audited(result, Op::LinkAt, &borrowed, asked, true)
    }

    async fn open_at(
        &mut self,
        fd: Resource<types::Descriptor>,
        path_flags: PathFlags,
        path: String,
        oflags: OpenFlags,
        flags: DescriptorFlags,
    ) -> FsResult<Resource<types::Descriptor>> {
        self.tracker.admit(1).map_err(FsError::trap)?;
        let asked = self.guest_path(&fd, &path);
        let parent = self.tracker.opened.get(&fd.rep()).cloned();
        let borrowed = Resource::new_borrow(fd.rep());
        // Opening to create, truncate or write needs a write grant.
        let writes = flags.contains(DescriptorFlags::WRITE)
            || oflags.intersects(OpenFlags::CREATE | OpenFlags::TRUNCATE);
        self.refuse_special_file(&fd, path_flags, &path, &asked)
            .await?;
        let result = self.fs.open_at(fd, path_flags, path, oflags, flags).await;
        let opened = self.audited(result, Op::OpenAt, &borrowed, asked.clone(), writes)?;
        if let Some(parent) = parent {
            let root = parent.root;
            self.track(&opened, Opened { path: asked, root });
        }
        Ok(opened)
    }

    fn drop(&mut self, fd: Resource<types::Descriptor>) -> wasmtime::Result<()> {
        self.tracker.opened.remove(&fd.rep());
        HostDescriptor::drop(&mut self.fs, fd)
    }

    async fn readlink_at(
        &mut self,
        fd: Resource<types::Descriptor>,
        path: String,
    ) -> FsResult<String> {
        let asked = self.guest_path(&fd, &path);
        let borrowed = Resource::new_borrow(fd.rep());
        let result = self.fs.readlink_at(fd, path).await;
        self.audited(result, Op::ReadlinkAt, &borrowed, asked, false)
    }

    async fn remove_directory_at(
        &mut self,
        fd: Resource<types::Descriptor>,
        path: String,
    ) -> FsResult<()> {
        let asked = self.guest_path(&fd, &path);
        let borrowed = Resource::new_borrow(fd.rep());
        let result = self.fs.remove_directory_at(fd, path).await;
        self.audited(result, Op::RemoveDirectoryAt, &borrowed, asked, true)
    }

    async fn rename_at(
        &mut self,
        fd: Resource<types::Descriptor>,
        old_path: String,
        new_fd: Resource<types::Descriptor>,
        new_path: String,
    ) -> FsResult<()> {
        let asked = format!(
            "{} -> {}",
            self.guest_path(&fd, &old_path),
            self.guest_path(&new_fd, &new_path)
        );
        self.refuse_across(Op::RenameAt, &fd, &new_fd, &asked)?;
        let borrowed = Resource::new_borrow(fd.rep());
        let result = self.fs.rename_at(fd, old_path, new_fd, new_path).await;
        self.audited(result, Op::RenameAt, &borrowed, asked, true)
    }

    async fn symlink_at(
        &mut self,
        fd: Resource<types::Descriptor>,
        src_path: String,
        dest_path: String,
    ) -> FsResult<()> {
        let asked = format!("{} -> {src_path}", self.guest_path(&fd, &dest_path));
        self.refuse_leaving_link(&fd, &src_path, &dest_path, &asked)?;
        let borrowed = Resource::new_borrow(fd.rep());
        let result = self.fs.symlink_at(fd, src_path, dest_path).await;
        self.audited(result, Op::SymlinkAt, &borrowed, asked, true)
    }

    async fn unlink_file_at(
        &mut self,
        fd: Resource<types::Descriptor>,
        path: String,
    ) -> FsResult<()> {
        let asked = self.guest_path(&fd, &path);
        let borrowed = Resource::new_borrow(fd.rep());
        let result = self.fs.unlink_file_at(fd, path).await;
        self.audited(result, Op::UnlinkFileAt, &borrowed, asked, true)
    }

    fn read_via_stream(
        &mut self,
        fd: Resource<types::Descriptor>,
        offset: Filesize,
    ) -> FsResult<Resource<wasmtime_wasi::p2::DynInputStream>> {
        self.fs.read_via_stream(fd, offset)
    }

    fn write_via_stream(
        &mut self,
        fd: Resource<types::Descriptor>,
        offset: Filesize,
    ) -> FsResult<Resource<DynOutputStream>> {
        let asked = self.guest_path(&fd, "");
        let borrowed = Resource::new_borrow(fd.rep());
        self.charge_out(&borrowed, offset, 0)?;
        let result = self.fs.write_via_stream(fd, offset);
        let stream = self.audited(result, Op::WriteViaStream, &borrowed, asked, true)?;
        self.count_stream(&borrowed, stream)
    }

    fn append_via_stream(
        &mut self,
        fd: Resource<types::Descriptor>,
    ) -> FsResult<Resource<DynOutputStream>> {
        let asked = self.guest_path(&fd, "");
        let borrowed = Resource::new_borrow(fd.rep());
        let result = self.fs.append_via_stream(fd);
        let stream = self.audited(result, Op::AppendViaStream, &borrowed, asked, true)?;
        self.count_stream(&borrowed, stream)
    }

    async fn is_same_object(
        &mut self,
        a: Resource<types::Descriptor>,
        b: Resource<types::Descriptor>,
    ) -> wasmtime::Result<bool> {
        self.fs.is_same_object(a, b).await
    }

    async fn metadata_hash(
        &mut self,
        fd: Resource<types::Descriptor>,
    ) -> FsResult<MetadataHashValue> {
        self.fs.metadata_hash(fd).await
    }

    async fn metadata_hash_at(
        &mut self,
        fd: Resource<types::Descriptor>,
        path_flags: PathFlags,
        path: String,
    ) -> FsResult<MetadataHashValue> {
        let asked = self.guest_path(&fd, &path);
        let borrowed = Resource::new_borrow(fd.rep());
        let result = self.fs.metadata_hash_at(fd, path_flags, path).await;
        self.audited(result, Op::MetadataHashAt, &borrowed, asked, false)
    }
}

impl HostDirectoryEntryStream for AuditedFs<'_> {
    async fn read_directory_entry(
        &mut self,
        stream: Resource<DirectoryEntryStream>,
    ) -> FsResult<Option<DirectoryEntry>> {
        self.fs.read_directory_entry(stream).await
    }

    fn drop(&mut self, stream: Resource<DirectoryEntryStream>) -> wasmtime::Result<()> {
        HostDirectoryEntryStream::drop(&mut self.fs, stream)
    }
}

/// An output stream under `/out` whose bytes are charged before they are
/// written.
struct CountedStream {
    inner: DynOutputStream,
    budget: Arc<OutBudget>,
}

impl CountedStream {
    fn charge(&self, bytes: usize) -> StreamResult<()> {
        self.budget
            .charge(bytes as u64)
            .map_err(wasmtime_wasi::p2::StreamError::Trap)
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for CountedStream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.charge(bytes.len())?;
        self.inner.write(bytes)
    }

    fn flush(&mut self) -> StreamResult<()> {
        self.inner.flush()
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        self.inner.check_write()
    }

    fn write_zeroes(&mut self, nelem: usize) -> StreamResult<()> {
        self.charge(nelem)?;
        self.inner.write_zeroes(nelem)
    }

    async fn blocking_write_and_flush(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.charge(bytes.len())?;
        self.inner.blocking_write_and_flush(bytes).await
    }

    async fn cancel(&mut self) {
        self.inner.cancel().await;
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CountedStream {
    async fn ready(&mut self) {
        self.inner.ready().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_targets_are_resolved_as_text_against_their_grant() {
        assert!(stays_within("/workspace", "/workspace/a/../b"));
        assert!(stays_within("/workspace", "/workspace"));
        assert!(!stays_within("/workspace", "/workspace/../etc"));
        assert!(!stays_within("/workspace/src", "/workspace/src/../../x"));
        assert!(!stays_within("/out", "/outside/x"));
        assert!(!stays_within("/out", "/../../out/x/../../etc"));
    }

    #[test]
    fn guest_paths_are_shown_as_asked() {
        assert_eq!(
            join_guest("/workspace", "../etc/passwd"),
            "/workspace/../etc/passwd"
        );
        assert_eq!(join_guest("/workspace/", "a"), "/workspace/a");
        assert_eq!(join_guest("/out", "."), "/out");
        assert_eq!(join_guest("/out", "/etc/passwd"), "/etc/passwd (from /out)");
    }

    #[test]
    fn the_missing_grant_is_the_write_grant_of_a_read_only_preopen() {
        let root = |guest: &str, access| Root {
            guest: guest.into(),
            access,
        };
        let workspace = root("/workspace", Access::ReadOnly);
        assert_eq!(missing_grant(Some(&workspace), true), "write = [\".\"]");
        let sub = root("/workspace/src/gen", Access::ReadOnly);
        assert_eq!(missing_grant(Some(&sub), true), "write = [\"src/gen\"]");
        let mount = root("/mnt/osv", Access::ReadOnly);
        assert_eq!(missing_grant(Some(&mount), true), "write = [\"mount:osv\"]");
        let upstream = root("/in/build", Access::ReadOnly);
        assert_eq!(
            missing_grant(Some(&upstream), true),
            "none: `/in/build` is always read-only"
        );
        // Reading out of a preopen is not a missing grant but an escape.
        let escape = missing_grant(Some(&workspace), false);
        assert!(escape.contains("stay inside `/workspace`"), "{escape}");
        let out = root("/out", Access::ReadWrite);
        assert!(missing_grant(Some(&out), true).starts_with("none: "));
    }

    #[test]
    fn long_paths_are_cut_for_the_record() {
        let long = "é".repeat(MAX_ASKED);
        let cut = shorten(&long);
        assert!(cut.len() <= MAX_ASKED + '…'.len_utf8(), "{}", cut.len());
        assert!(cut.ends_with('…'));
        assert_eq!(shorten("short"), "short");
    }
}
