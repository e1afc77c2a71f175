//! The state directory's layout, its lock and the run records in it.

use std::fs::{self, DirBuilder, File, TryLockError};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::files::{sync_dir, write_atomic};
use super::{RunId, StoreError};

/// Where each part of the layout lives, relative to the state dir.
const RUNS_DIR: &str = "runs";
const AUDIT_FILE: &str = "audit.jsonl";
const REGISTRY_DIR: &str = "registry";
const CACHE_DIR: &str = "cache";
const LOCK_FILE: &str = "lock";
const STAGES_DIR: &str = "stages";
const RUN_RECORD: &str = "run.json";

/// The cache holds native code compiled from components: only its owner may
/// read or replace it.
const CACHE_MODE: u32 = 0o700;

/// An open state directory, locked for this process until dropped.
///
/// The lock is an exclusive `flock` on `<state-dir>/lock`, which also holds
/// the pid of its holder so that a refused process can say who has it. The
/// operating system releases the lock when the process exits, however it
/// exits, so a crash never leaves the directory locked.
#[derive(Debug)]
pub struct StateDir {
    root: PathBuf,
    /// Held only for its lock, released when the file is closed.
    _lock: File,
}

impl StateDir {
    /// Opens the state directory at `path`, creating its layout if missing,
    /// and takes its lock.
    ///
    /// `cache/` is created with mode 0700, and narrowed back to 0700 if
    /// something widened it. Waiting is never done: a held lock is an error.
    ///
    /// # Errors
    ///
    /// [`StoreError::Locked`] naming the directory and the holder's pid when
    /// another process (or another `StateDir` in this one) has it open;
    /// [`StoreError::Io`] when the layout cannot be created.
    pub fn open(path: &Path) -> Result<StateDir, StoreError> {
        let root = std::path::absolute(path).map_err(|e| StoreError::io("resolve", path, e))?;
        fs::create_dir_all(&root).map_err(|e| StoreError::io("create directory", &root, e))?;
        let lock = acquire_lock(&root)?;

        for dir in [RUNS_DIR, REGISTRY_DIR] {
            let path = root.join(dir);
            fs::create_dir_all(&path).map_err(|e| StoreError::io("create directory", path, e))?;
        }
        create_private_dir(&root.join(CACHE_DIR))?;
        tracing::debug!(state_dir = %root.display(), "opened state dir");
        Ok(StateDir { root, _lock: lock })
    }

    /// The state directory itself, as an absolute path.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<state-dir>/runs`, holding one directory per run.
    pub fn runs_dir(&self) -> PathBuf {
        self.root.join(RUNS_DIR)
    }

    /// `<state-dir>/audit.jsonl`, the audit trail of every run.
    pub fn audit_path(&self) -> PathBuf {
        self.root.join(AUDIT_FILE)
    }

    /// `<state-dir>/registry`, the embedded OCI registry.
    pub fn registry_dir(&self) -> PathBuf {
        self.root.join(REGISTRY_DIR)
    }

    /// `<state-dir>/cache`, compiled components (mode 0700).
    pub fn cache_dir(&self) -> PathBuf {
        self.root.join(CACHE_DIR)
    }

    /// `<state-dir>/runs/<run>`.
    pub fn run_dir(&self, run: &RunId) -> PathBuf {
        self.runs_dir().join(run.as_str())
    }

    /// `<state-dir>/runs/<run>/stages/<stage>`.
    ///
    /// `stage` must be a validated stage id: it becomes a path component.
    pub fn stage_dir(&self, run: &RunId, stage: &str) -> PathBuf {
        debug_assert!(
            Path::new(stage).file_name() == Some(stage.as_ref()),
            "stage id `{stage}` is not a single path component"
        );
        self.run_dir(run).join(STAGES_DIR).join(stage)
    }

    /// Creates the directory of a new run and returns its path.
    ///
    /// # Errors
    ///
    /// [`StoreError::RunExists`] when it already exists (a run id is never
    /// reused); [`StoreError::Io`] when it cannot be created.
    pub fn create_run_dir(&self, run: &RunId) -> Result<PathBuf, StoreError> {
        let path = self.run_dir(run);
        match fs::create_dir(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(StoreError::RunExists { path });
            }
            Err(e) => return Err(StoreError::io("create directory", path, e)),
        }
        sync_dir(&self.runs_dir())?;
        Ok(path)
    }

    /// Writes `runs/<run>/run.json` atomically and durably, as pretty JSON;
    /// `record` is the engine's run record.
    ///
    /// # Errors
    ///
    /// [`StoreError::Serialize`] when the record cannot be serialized;
    /// [`StoreError::Io`] when it cannot be written, for instance because
    /// [`StateDir::create_run_dir`] was not called first.
    pub fn save_run<T: Serialize>(&self, run: &RunId, record: &T) -> Result<(), StoreError> {
        let mut json =
            serde_json::to_vec_pretty(record).map_err(|source| StoreError::Serialize {
                run: run.clone(),
                source,
            })?;
        json.push(b'\n');
        write_atomic(&self.run_record_path(run), &json)
    }

    /// Reads `runs/<run>/run.json`.
    ///
    /// # Errors
    ///
    /// [`StoreError::RunNotFound`] when there is no such run (the message
    /// hints at `gantry runs`); [`StoreError::StrayRunDir`] when the run's
    /// directory is a symlink or not a directory; [`StoreError::Parse`]
    /// when the record does not parse as `T`; [`StoreError::Io`] when it
    /// cannot be read, or is missing from the run's directory.
    pub fn load_run<T: DeserializeOwned>(&self, run: &RunId) -> Result<T, StoreError> {
        self.check_run_dir(run)?;
        let path = self.run_record_path(run);
        let bytes = fs::read(&path).map_err(|e| StoreError::io("read", &path, e))?;
        serde_json::from_slice(&bytes).map_err(|source| StoreError::Parse { path, source })
    }

    /// Checks that `runs/<run>` is a directory of its own: a symlink there
    /// would have the run read, and then written, somewhere else.
    fn check_run_dir(&self, run: &RunId) -> Result<(), StoreError> {
        let path = self.run_dir(run);
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => Ok(()),
            Ok(_) => Err(StoreError::StrayRunDir { path }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(StoreError::RunNotFound {
                run: run.clone(),
                dir: self.root.clone(),
            }),
            Err(e) => Err(StoreError::io("inspect", path, e)),
        }
    }

    /// The runs in this state dir, oldest first.
    ///
    /// Every directory under `runs/` named like a run id counts, whether or
    /// not its record has been saved yet; anything else there is ignored.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] when `runs/` cannot be listed.
    pub fn list_runs(&self) -> Result<Vec<RunId>, StoreError> {
        let dir = self.runs_dir();
        let entries = fs::read_dir(&dir).map_err(|e| StoreError::io("list", &dir, e))?;
        let mut runs = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| StoreError::io("list", &dir, e))?;
            let is_dir = entry.file_type().is_ok_and(|kind| kind.is_dir());
            let name = entry.file_name();
            match name.to_str().map(RunId::parse) {
                Some(Ok(run)) if is_dir => runs.push(run),
                _ => tracing::debug!(entry = ?name, "ignoring stray entry in runs/"),
            }
        }
        // Ids begin with their UTC start time, so text order is time order.
        runs.sort();
        Ok(runs)
    }

    /// `<state-dir>/runs/<run>/run.json`.
    fn run_record_path(&self, run: &RunId) -> PathBuf {
        self.run_dir(run).join(RUN_RECORD)
    }
}

/// Opens `<root>/lock`, takes its exclusive lock without waiting and writes
/// this process's pid in it.
fn acquire_lock(root: &Path) -> Result<File, StoreError> {
    let path = root.join(LOCK_FILE);
    // Not truncated on open: until we hold the lock, the pid in it is the
    // holder's, which the error below reports. Never through a symlink:
    // writing the pid would clobber whatever file it points at.
    let mut file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(&path)
        .map_err(|e| StoreError::io("open lock file", &path, e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let holder = read_holder(&mut file);
            return Err(StoreError::Locked {
                dir: root.to_path_buf(),
                holder,
            });
        }
        Err(TryLockError::Error(e)) => return Err(StoreError::io("lock", path, e)),
    }
    record_holder(&mut file).map_err(|e| StoreError::io("write lock file", &path, e))?;
    Ok(file)
}

/// The pid written in a lock file, if it holds one.
fn read_holder(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

/// Replaces the lock file's content with this process's pid.
fn record_holder(file: &mut File) -> io::Result<()> {
    file.set_len(0)?;
    file.write_all(format!("{}\n", std::process::id()).as_bytes())
}

/// Creates `path` with mode 0700 if missing, and narrows it to 0700 if its
/// mode lets anyone but its owner in.
///
/// # Errors
///
/// [`StoreError::Io`] naming the directory when it cannot be created or
/// narrowed.
pub fn create_private_dir(path: &Path) -> Result<(), StoreError> {
    DirBuilder::new()
        .recursive(true)
        .mode(CACHE_MODE)
        .create(path)
        .map_err(|e| StoreError::io("create directory", path, e))?;
    let meta = fs::metadata(path).map_err(|e| StoreError::io("inspect", path, e))?;
    if meta.permissions().mode() & 0o077 == 0 {
        return Ok(());
    }
    tracing::warn!(dir = %path.display(), "component cache was not private; resetting it to 0700");
    fs::set_permissions(path, fs::Permissions::from_mode(CACHE_MODE))
        .map_err(|e| StoreError::io("restrict permissions of", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn open_creates_the_layout_with_a_private_cache() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("state");
        let state = StateDir::open(&root).unwrap();
        assert_eq!(state.root(), root);
        assert!(state.runs_dir().is_dir());
        assert!(state.registry_dir().is_dir());
        assert_eq!(mode_of(&state.cache_dir()), 0o700);
        assert_eq!(state.audit_path(), root.join("audit.jsonl"));
        let pid = fs::read_to_string(root.join("lock")).unwrap();
        assert_eq!(pid.trim(), std::process::id().to_string());
    }

    #[test]
    fn open_narrows_a_cache_dir_that_others_can_read() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        fs::create_dir(&cache).unwrap();
        fs::set_permissions(&cache, fs::Permissions::from_mode(0o755)).unwrap();
        let _state = StateDir::open(dir.path()).unwrap();
        assert_eq!(mode_of(&cache), 0o700);
    }

    #[test]
    fn second_open_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = StateDir::open(dir.path()).unwrap();

        let err = StateDir::open(dir.path()).unwrap_err();
        let StoreError::Locked { holder, .. } = &err else {
            panic!("expected a lock error, got {err}");
        };
        assert_eq!(*holder, Some(std::process::id()));
        let message = err.to_string();
        assert!(
            message.contains(&dir.path().display().to_string()),
            "{message}"
        );
        assert!(
            message.contains(&format!("process {}", std::process::id())),
            "{message}"
        );
        assert!(
            message.contains("pass a different --state-dir"),
            "{message}"
        );

        drop(first);
        StateDir::open(dir.path()).unwrap();
    }

    #[test]
    fn a_lock_file_that_is_a_symlink_is_refused_not_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "precious").unwrap();
        let state = dir.path().join("state");
        fs::create_dir(&state).unwrap();
        std::os::unix::fs::symlink(&victim, state.join("lock")).unwrap();

        let err = StateDir::open(&state).unwrap_err();
        assert!(err.to_string().contains("lock file"), "{err}");
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
    }

    #[test]
    fn run_records_round_trip_and_are_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path()).unwrap();
        let run = RunId::generate();
        let run_dir = state.create_run_dir(&run).unwrap();
        assert_eq!(run_dir, dir.path().join("runs").join(run.as_str()));

        state
            .save_run(&run, &serde_json::json!({"status": "running"}))
            .unwrap();
        state
            .save_run(&run, &serde_json::json!({"status": "done"}))
            .unwrap();
        let record: serde_json::Value = state.load_run(&run).unwrap();
        assert_eq!(record, serde_json::json!({"status": "done"}));
        let names: Vec<_> = fs::read_dir(&run_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["run.json"]);
    }

    #[test]
    fn a_run_dir_is_never_created_twice() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path()).unwrap();
        let run = RunId::generate();
        state.create_run_dir(&run).unwrap();
        let err = state.create_run_dir(&run).unwrap_err();
        assert!(matches!(err, StoreError::RunExists { .. }), "{err}");
    }

    #[test]
    fn loading_an_unknown_run_names_it_and_hints_at_gantry_runs() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path()).unwrap();
        let run = RunId::parse("20261203-134501-0a9f3c").unwrap();
        let err = state.load_run::<serde_json::Value>(&run).unwrap_err();
        assert!(matches!(err, StoreError::RunNotFound { .. }));
        let message = err.to_string();
        assert!(message.contains("20261203-134501-0a9f3c"), "{message}");
        assert!(message.contains("`gantry runs`"), "{message}");
    }

    #[test]
    fn a_corrupt_run_record_is_a_parse_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path()).unwrap();
        let run = RunId::generate();
        let run_dir = state.create_run_dir(&run).unwrap();
        fs::write(run_dir.join("run.json"), "{not json").unwrap();
        let err = state.load_run::<serde_json::Value>(&run).unwrap_err();
        assert!(matches!(err, StoreError::Parse { .. }));
        assert!(err.to_string().contains("run.json"), "{err}");
    }

    #[test]
    fn a_run_dir_that_is_a_symlink_is_refused_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        fs::write(
            elsewhere.path().join("run.json"),
            "{\"status\": \"forged\"}",
        )
        .unwrap();
        let state = StateDir::open(dir.path()).unwrap();
        let run = RunId::parse("20261203-134501-0a9f3c").unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), state.run_dir(&run)).unwrap();

        let err = state.load_run::<serde_json::Value>(&run).unwrap_err();
        assert!(matches!(err, StoreError::StrayRunDir { .. }), "{err}");
        let message = err.to_string();
        assert!(message.contains("20261203-134501-0a9f3c"), "{message}");
        assert!(message.contains("symlink"), "{message}");
    }

    #[test]
    fn a_run_dir_without_its_record_names_the_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path()).unwrap();
        let run = RunId::generate();
        state.create_run_dir(&run).unwrap();
        let err = state.load_run::<serde_json::Value>(&run).unwrap_err();
        assert!(matches!(err, StoreError::Io { .. }), "{err}");
        assert!(err.to_string().contains("run.json"), "{err}");
    }

    #[test]
    fn list_runs_is_oldest_first_and_skips_strays() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path()).unwrap();
        let ids = [
            "20261203-134502-000000",
            "20251231-235959-ffffff",
            "20261203-134501-ffffff",
        ];
        for id in ids {
            state.create_run_dir(&RunId::parse(id).unwrap()).unwrap();
        }
        fs::create_dir(state.runs_dir().join("not-a-run")).unwrap();
        fs::write(state.runs_dir().join("20261203-134503-000000"), "a file").unwrap();

        let listed: Vec<String> = state
            .list_runs()
            .unwrap()
            .iter()
            .map(|r| r.to_string())
            .collect();
        assert_eq!(
            listed,
            [
                "20251231-235959-ffffff",
                "20261203-134501-ffffff",
                "20261203-134502-000000"
            ]
        );
    }

    #[test]
    fn stage_dirs_live_under_their_run() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path()).unwrap();
        let run = RunId::parse("20261203-134501-0a9f3c").unwrap();
        let expected = dir.path().join("runs/20261203-134501-0a9f3c/stages/scan");
        assert_eq!(state.stage_dir(&run, "scan"), expected);
    }
}
