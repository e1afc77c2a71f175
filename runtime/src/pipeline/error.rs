//! Errors from loading a pipeline or roles file.
//!
//! Every message reads `<file>:<line>: <where>: <what>`, followed by a
//! `  hint: …` line when there is something the user can change. `<where>`
//! names the stage by id and the key, as in
//! ``pipelines/x.toml:14: stage `scan`, `grants`: unknown key `netwrk` ``.
//! The line is left out when it cannot be known, and `<where>` when the
//! problem belongs to the file as a whole.
//!
//! The `Display` of a [`PipelineError`] is the whole text a user sees, hint
//! included; no error here has a `source()`, so printing an error chain does
//! not repeat anything.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

/// Where in a pipeline file something went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    file: Arc<str>,
    line: Option<usize>,
    context: String,
}

impl Location {
    /// A location in no particular file, for unit tests.
    #[cfg(test)]
    pub(super) fn unknown_for_tests() -> Location {
        Location {
            file: Arc::from("test.toml"),
            line: None,
            context: String::new(),
        }
    }

    /// The file as the user named it.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The 1-based line, when it is known.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// The table, stage or key the problem is in; empty for the whole file.
    pub fn context(&self) -> &str {
        &self.context
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.context.is_empty() {
            write!(f, ": {}", self.context)?;
        }
        Ok(())
    }
}

/// The text of a TOML file and the name it is reported under.
pub(super) struct Source {
    display: Arc<str>,
    pub(super) text: String,
}

impl Source {
    pub(super) fn new(display: String, text: String) -> Self {
        Self {
            display: display.into(),
            text,
        }
    }

    /// The file as the user named it.
    pub(super) fn display(&self) -> &str {
        &self.display
    }

    /// A location at the start of `span`, inside `context`.
    pub(super) fn at(&self, span: Range<usize>, context: impl Into<String>) -> Location {
        Location {
            file: self.display.clone(),
            line: Some(self.line_of(span.start)),
            context: context.into(),
        }
    }

    /// A location for a problem whose line is unknown.
    pub(super) fn at_unknown_line(&self, context: impl Into<String>) -> Location {
        Location {
            file: self.display.clone(),
            line: None,
            context: context.into(),
        }
    }

    /// The 1-based line holding byte `offset`.
    pub(super) fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }
}

/// Builds locations for the keys of one table: a stage, or the whole file.
pub(super) struct Scope<'a> {
    source: &'a Source,
    label: String,
}

impl<'a> Scope<'a> {
    /// Keys at the top of the file; their context is the dotted key alone.
    pub(super) fn file(source: &'a Source) -> Self {
        Self {
            source,
            label: String::new(),
        }
    }

    /// Keys of a stage, named as in [`stage_label`].
    pub(super) fn stage(source: &'a Source, id: Option<&str>, index: usize) -> Self {
        Self {
            source,
            label: stage_label(id, index),
        }
    }

    /// The file the scope is in.
    pub(super) fn source(&self) -> &'a Source {
        self.source
    }

    /// A location at `span`, for the dotted `key` (empty for the scope itself).
    pub(super) fn at(&self, span: Range<usize>, key: &str) -> Location {
        let context = match (self.label.is_empty(), key.is_empty()) {
            (_, true) => self.label.clone(),
            (true, false) => format!("`{key}`"),
            (false, false) => format!("{}, `{key}`", self.label),
        };
        self.source.at(span, context)
    }
}

/// How a stage is named in messages: by id when it has a valid one,
/// otherwise by its 1-based position in the file.
pub(super) fn stage_label(id: Option<&str>, index: usize) -> String {
    match id {
        Some(id) => format!("stage `{id}`"),
        None => format!("stage #{}", index + 1),
    }
}

/// What is wrong with a path named in a pipeline file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathProblem {
    /// Nothing is there.
    Missing,
    /// It exists but is not a directory.
    NotADirectory,
    /// It exists but is not a regular file.
    NotAFile,
    /// The operating system refused to resolve it.
    Unresolvable(std::io::ErrorKind),
}

impl fmt::Display for PathProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => f.write_str(
                "does not exist\n  hint: paths in a pipeline file are relative to \
                 the directory that holds it",
            ),
            Self::NotADirectory => f.write_str("is not a directory"),
            Self::NotAFile => f.write_str("is not a file"),
            Self::Unresolvable(kind) => write!(f, "cannot be resolved ({kind})"),
        }
    }
}

/// A pipeline or roles file that cannot be used; every variant exits 2.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// The file could not be read.
    #[error("failed to read `{file}`: {reason}")]
    Read {
        /// The file as the user named it.
        file: String,
        /// What the operating system said.
        reason: std::io::Error,
    },

    /// The text is not valid TOML.
    #[error("{at}: {message}")]
    Syntax { at: Location, message: String },

    /// A table holds a key the schema does not know.
    #[error("{at}: unknown key `{key}`\n  hint: {}", allowed_keys(allowed))]
    UnknownKey {
        at: Location,
        key: String,
        allowed: Vec<String>,
    },

    /// A required key is absent.
    #[error("{at}: missing key `{key}`")]
    MissingKey { at: Location, key: String },

    /// A value has the wrong type or shape.
    #[error("{at}: {message}")]
    InvalidValue { at: Location, message: String },

    /// A required string is empty; `what` names it ("the pipeline name").
    #[error("{at}: {what} may not be empty")]
    Empty { at: Location, what: &'static str },

    /// A name people read holds a control character or an invisible one
    /// that could make it display as something else.
    #[error(
        "{at}: {what} {text:?} has a control or invisible formatting character\n  hint: \
         write it in plain printable characters"
    )]
    DeceptiveText {
        at: Location,
        what: &'static str,
        text: String,
    },

    /// A stage id or mount name breaks the naming rules.
    #[error(
        "{at}: invalid {kind} `{value}`: {reason}\n  hint: use lowercase letters, digits \
         and `-`, starting with a letter or digit, at most 63 characters"
    )]
    InvalidName {
        at: Location,
        kind: &'static str,
        value: String,
        reason: &'static str,
    },

    /// A pipeline with more stages than Gantry orders.
    #[error(
        "{at}: a pipeline may have at most {max} stages\n  hint: split it into \
         pipelines that run one after another"
    )]
    TooManyStages { at: Location, max: usize },

    /// Two stages share an id.
    #[error(
        "{at}: duplicate stage id, first used by the stage on line {first_line}\n  hint: \
         give each stage its own `id`"
    )]
    DuplicateStage { at: Location, first_line: usize },

    /// `needs` names a stage that does not exist.
    #[error(
        "{at}: unknown stage `{need}`\n  hint: the stages are {}",
        quoted(known)
    )]
    UnknownNeed {
        at: Location,
        need: String,
        known: Vec<String>,
    },

    /// A stage names itself in `needs`.
    #[error("{at}: a stage cannot need itself\n  hint: remove `{id}` from its `needs`")]
    SelfNeed { at: Location, id: String },

    /// The `needs` of some stages form a cycle; `cycle` starts and ends on
    /// the same stage.
    #[error(
        "{at}: `needs` form a cycle: {}\n  hint: remove {}",
        cycle.join(" -> "),
        cycle_cut(cycle)
    )]
    Cycle { at: Location, cycle: Vec<String> },

    /// A stage has both `plugin` and `approval`.
    #[error(
        "{at}: a stage has `plugin` or `approval`, not both\n  hint: split it in two: \
         the plugin stage, then an approval stage that needs it"
    )]
    PluginAndApproval { at: Location },

    /// A stage has neither `plugin` nor `approval`.
    #[error(
        "{at}: a stage needs `plugin` or `approval`\n  hint: set `plugin = \
         \"gantry:<build|test|scan|ato|promote>\"`, a path to a `.wasm` file, or \
         `approval = {{ role = \"…\" }}`"
    )]
    NoPluginOrApproval { at: Location },

    /// An approval stage has a key only plugin stages take.
    #[error(
        "{at}: an approval stage takes no `{key}`\n  hint: remove it; only plugin stages \
         have `config`, `grants` and `limits`"
    )]
    ApprovalWithPluginKey { at: Location, key: &'static str },

    /// An approval stage, but the pipeline names no roles file.
    #[error(
        "{at}: an approval stage needs a roles file\n  hint: set `roles = \"roles.toml\"` \
         under `[pipeline]`, naming who holds role `{role}`"
    )]
    ApprovalWithoutRoles { at: Location, role: String },

    /// A `gantry:` plugin name that is not a standard plugin.
    #[error(
        "{at}: unknown standard plugin `{name}`\n  hint: the standard plugins are \
         `gantry:build`, `gantry:test`, `gantry:scan`, `gantry:ato` and `gantry:promote`"
    )]
    UnknownBuiltin { at: Location, name: String },

    /// A plugin pin that is not a sha256 digest.
    #[error(
        "{at}: invalid sha256 `{value}`\n  hint: write the 64 lowercase hex digits of the \
         `.wasm` file's sha256, as `sha256sum` prints them"
    )]
    InvalidSha256 { at: Location, value: String },

    /// A file or directory the pipeline names is missing or of the wrong kind.
    #[error("{at}: {what} `{path}` {problem}")]
    BadPath {
        at: Location,
        what: String,
        path: String,
        problem: PathProblem,
    },

    /// A mount is declared under the name of the built-in registry mount.
    #[error(
        "{at}: mount `registry` is built in and cannot be declared\n  hint: remove it from \
         `[pipeline.mounts]`; stages grant it as `mount:registry`"
    )]
    ReservedMount { at: Location },

    /// A grant names a mount that is not declared.
    #[error(
        "{at}: mount `{name}` is not declared\n  hint: declare it under \
         `[pipeline.mounts]`, as `{name} = \"<directory>\"`"
    )]
    UndeclaredMount { at: Location, name: String },

    /// A grant path is absolute.
    #[error("{at}: grant path `{path}` is absolute\n  hint: {GRANT_HINT}")]
    AbsoluteGrant { at: Location, path: String },

    /// A grant path uses `..` to leave the workspace.
    #[error("{at}: grant path `{path}` climbs out of the workspace\n  hint: {GRANT_HINT}")]
    GrantClimbsOut { at: Location, path: String },

    /// A grant path leads outside the workspace through a symlink.
    #[error(
        "{at}: grant path `{path}` resolves to `{}`, outside the workspace\n  hint: it \
         follows a symlink out; to grant the target, declare it under `[pipeline.mounts]` \
         and grant `mount:<name>`",
        target.display()
    )]
    GrantEscapes {
        at: Location,
        path: String,
        target: std::path::PathBuf,
    },

    /// A grant path names nothing, or not a directory.
    #[error("{at}: grant path `{path}` {problem}")]
    BadGrantPath {
        at: Location,
        path: String,
        problem: GrantPathProblem,
    },

    /// An `env` grant that is not a variable name.
    #[error(
        "{at}: invalid environment variable name `{name}`\n  hint: use letters, digits and \
         `_`, not starting with a digit"
    )]
    InvalidEnvName { at: Location, name: String },

    /// An `exec` grant that is a relative path.
    #[error(
        "{at}: program `{name}` is a relative path\n  hint: grant a bare name to look up on \
         `PATH`, or an absolute path"
    )]
    RelativeExec { at: Location, name: String },

    /// An `exec` grant whose program cannot be found.
    #[error(
        "{at}: program `{name}` not found on `PATH`\n  hint: install it, or grant it by \
         absolute path"
    )]
    ExecNotFound { at: Location, name: String },

    /// An `exec` grant naming a path that is not an executable file.
    #[error("{at}: program `{name}` is not an executable file")]
    NotExecutable { at: Location, name: String },

    /// An `exec-read` or `exec-write` entry that cannot be granted.
    #[error("{at}: host path `{path}` {problem}")]
    BadExecPath {
        at: Location,
        path: String,
        problem: ExecPathProblem,
    },

    /// A `net` grant that is not `scheme://host:port`.
    #[error(
        "{at}: malformed network grant `{entry}`: {reason}\n  hint: write \
         `scheme://host:port`, e.g. `https://api.osv.dev:443`"
    )]
    InvalidNet {
        at: Location,
        entry: String,
        reason: &'static str,
    },

    /// A size limit that is not a positive size within its ceiling.
    #[error(
        "{at}: invalid size `{value}`: {reason}\n  hint: write a number and a unit, \
         e.g. \"256 MiB\", \"64MB\" or \"1 GiB\""
    )]
    InvalidSize {
        at: Location,
        value: String,
        reason: String,
    },

    /// A timeout that is not a positive duration.
    #[error(
        "{at}: invalid duration `{value}`: {reason}\n  hint: write a number and a unit, \
         e.g. \"90s\", \"2m\" or \"1h 30m\""
    )]
    InvalidDuration {
        at: Location,
        value: String,
        reason: String,
    },

    /// A count limit that is not a whole number within its ceiling.
    #[error(
        "{at}: invalid count `{value}`: {reason}\n  hint: write a whole number from 1 to {max}"
    )]
    InvalidCount {
        at: Location,
        value: i64,
        reason: String,
        max: u64,
    },
}

/// Why a workspace grant path cannot be granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantPathProblem {
    /// Nothing is there.
    Missing,
    /// A file, but grants open directories.
    NotADirectory,
    /// The operating system refused to resolve it.
    Unresolvable(std::io::ErrorKind),
}

impl fmt::Display for GrantPathProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => f.write_str("does not exist in the workspace"),
            Self::NotADirectory => f.write_str(
                "is not a directory\n  hint: grants open directories; grant the one that \
                 holds the file",
            ),
            Self::Unresolvable(kind) => write!(f, "cannot be resolved ({kind})"),
        }
    }
}

/// Why an `exec-read` or `exec-write` entry cannot be granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecPathProblem {
    /// Neither absolute nor starting with `~/` or `$NAME`.
    NotAbsolute,
    /// `$…` not followed by a variable name.
    BadVariable(String),
    /// The variable it starts with is not set (or empty).
    Unset(String),
    /// Nothing is there; the expanded path, when it differs from the
    /// written one.
    Missing(String),
    /// The operating system refused to resolve it.
    Unresolvable(std::io::ErrorKind),
}

impl fmt::Display for ExecPathProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAbsolute => f.write_str(
                "is not absolute\n  hint: programs' host paths are absolute, or start with \
                 `~/` or `$NAME/` (expanded from the environment); workspace directories \
                 are granted with `read` and `write`",
            ),
            Self::BadVariable(name) => write!(
                f,
                "starts with `${name}`, which is not a variable name\n  hint: write \
                 `$NAME/…` with letters, digits and `_`, without braces"
            ),
            Self::Unset(name) => write!(
                f,
                "needs `${name}`, which is not set in gantry's environment\n  hint: set \
                 `{name}` before running gantry, or write the path out"
            ),
            Self::Missing(expanded) => write!(
                f,
                "does not exist{}\n  hint: grant only directories that are there when the \
                 pipeline loads, such as a toolchain that is installed",
                match expanded.is_empty() {
                    true => String::new(),
                    false => format!(" (it expands to `{expanded}`)"),
                }
            ),
            Self::Unresolvable(kind) => write!(f, "cannot be resolved ({kind})"),
        }
    }
}

const GRANT_HINT: &str = "grant paths are relative to the workspace; declare a directory \
                          outside it under `[pipeline.mounts]` and grant `mount:<name>`";

/// "`a`, `b` and `c`".
fn quoted(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.split_last() {
        None => "none".to_owned(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

fn allowed_keys(allowed: &[String]) -> String {
    match allowed {
        [] => "this table takes no keys".to_owned(),
        [only] => format!("the only key allowed here is `{only}`"),
        _ => format!("the keys allowed here are {}", quoted(allowed)),
    }
}

/// The edge that closes a cycle: "`a` from the `needs` of stage `b`".
fn cycle_cut(cycle: &[String]) -> String {
    match cycle {
        [.., from, to] => format!("`{to}` from the `needs` of stage `{from}`"),
        _ => "one of the `needs` in the cycle".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_count_lines_from_one() {
        let source = Source::new("x.toml".into(), "a = 1\nb = 2\n".into());
        assert_eq!(source.line_of(0), 1);
        assert_eq!(source.line_of(6), 2);
        assert_eq!(source.at(6..7, "`b`").to_string(), "x.toml:2: `b`");
        assert_eq!(source.at_unknown_line("").to_string(), "x.toml");
    }

    #[test]
    fn name_lists_read_as_prose() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(quoted(&names(&["a"])), "`a`");
        assert_eq!(quoted(&names(&["a", "b", "c"])), "`a`, `b` and `c`");
    }

    #[test]
    fn cycle_hint_cuts_the_closing_edge() {
        let cycle = ["a", "b", "a"].map(String::from);
        assert_eq!(cycle_cut(&cycle), "`a` from the `needs` of stage `b`");
    }
}
