//! Property tests of the pipeline parser, `gantry::pipeline::load`.
//!
//! - Whatever the text (arbitrary, TOML-like, or a valid pipeline with a
//!   line cut, doubled, swapped or overwritten), loading never panics, and
//!   every error names the file it is about and, when it gives a line, a
//!   line that file has.
//! - A pipeline put together from generated stages loads, and keeps its
//!   stage ids in file order and its grants as written.
//!
//! Each property runs 32 cases by default; set `PROPTEST_CASES` for more.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use gantry::pipeline::{self, GrantPath};
use proptest::prelude::*;
use proptest::test_runner::Config;

use crate::support::repo_root;

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32);
    Config {
        cases,
        // A failing case is printed, shrunk; nothing is written to the tree.
        failure_persistence: None,
        ..Config::default()
    }
}

/// A scratch copy of `tests/ui/good.toml` with everything it names: the
/// workspace `ws/` and `good/` (policy, roles, the `osv` mount).
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        let dir = tempfile::tempdir().expect("temp dir");
        let ui = repo_root().join("tests/ui");
        copy_dir(&ui.join("ws"), &dir.path().join("ws"));
        copy_dir(&ui.join("good"), &dir.path().join("good"));
        Scratch { dir }
    }

    /// Writes `text` as the pipeline file and loads it.
    fn load(&self, text: &str) -> (PathBuf, Result<pipeline::PipelineSpec, String>) {
        let path = self.dir.path().join("pipeline.toml");
        std::fs::write(&path, text).expect("write pipeline");
        let loaded = pipeline::load(&path).map_err(|e| e.to_string());
        (path, loaded)
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("list dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

fn good_text() -> String {
    std::fs::read_to_string(repo_root().join("tests/ui/good.toml")).expect("good.toml")
}

/// Checks that an error names a file in the scratch directory (the
/// pipeline, or a policy or roles file it names) and, where it gives a
/// line, a line of that file.
fn check_error(scratch: &Scratch, message: &str) -> Result<(), TestCaseError> {
    let dir = format!("{}/", scratch.dir.path().display());
    let rest = message
        .strip_prefix(&dir)
        .or_else(|| message.strip_prefix(&format!("failed to read `{dir}")));
    let Some(rest) = rest else {
        return Err(TestCaseError::fail(format!(
            "the error names no file of the pipeline: {message}"
        )));
    };
    let end = rest.find([':', '`']).unwrap_or(rest.len());
    let file = scratch.dir.path().join(&rest[..end]);
    prop_assert!(file.is_file(), "names `{}`: {message}", file.display());

    let after = &rest[end..];
    let digits: String = after
        .strip_prefix(':')
        .unwrap_or_default()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    if let Ok(line) = digits.parse::<usize>() {
        let lines = std::fs::read_to_string(&file).map_or(0, |t| t.lines().count());
        prop_assert!(
            (1..=lines + 1).contains(&line),
            "line {line} of a {lines}-line file: {message}"
        );
    }
    Ok(())
}

/// Pieces of pipeline files, to build text that gets past the TOML parser
/// more often than arbitrary text does.
const FRAGMENTS: &[&str] = &[
    "[pipeline]\n",
    "[[stage]]\n",
    "[stage.grants]\n",
    "[stage.limits]\n",
    "[stage.config]\n",
    "[pipeline.mounts]\n",
    "name = \"p\"\n",
    "workspace = \"ws\"\n",
    "workspace = \"..\"\n",
    "id = \"a\"\n",
    "id = \"b\"\n",
    "plugin = \"gantry:scan\"\n",
    "plugin = { path = \"x.wasm\" }\n",
    "approval = { role = \"R\" }\n",
    "needs = [\"a\"]\n",
    "read = [\".\", \"mount:osv\"]\n",
    "write = [\"../x\"]\n",
    "exec = [\"sh\"]\n",
    "env = [\"HOME\"]\n",
    "net = [\"https://h:1\"]\n",
    "memory = \"1 GiB\"\n",
    "timeout = \"0s\"\n",
    "policy = { id = \"cdc-ato\", version = \"2026.11\", file = \"good/policy.toml\" }\n",
    "roles = \"good/roles.toml\"\n",
    "osv = \"good/osv\"\n",
    "= ",
    "\"",
    "[",
    "]",
    "{",
    "}",
    ",",
    "\n",
    "\u{1b}[2J",
    "é",
];

fn toml_like() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 0..40).prop_map(|parts| parts.concat())
}

/// A change to a valid pipeline file's lines.
#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize),
    Duplicate(usize),
    Swap(usize, usize),
    Replace(usize, String),
    Insert(usize, String),
    /// Cuts the text at a byte offset (moved to a character boundary).
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let line = any::<usize>();
    let text = prop_oneof![
        ".{0,30}",
        prop::sample::select(FRAGMENTS).prop_map(str::to_owned)
    ];
    prop_oneof![
        line.prop_map(Mutation::Delete),
        line.prop_map(Mutation::Duplicate),
        (line, line).prop_map(|(a, b)| Mutation::Swap(a, b)),
        (line, text.clone()).prop_map(|(at, t)| Mutation::Replace(at, t)),
        (line, text).prop_map(|(at, t)| Mutation::Insert(at, t)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(text: &str, mutations: &[Mutation]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for mutation in mutations {
        let n = lines.len().max(1);
        match mutation {
            Mutation::Delete(at) if !lines.is_empty() => {
                lines.remove(at % n);
            }
            Mutation::Duplicate(at) if !lines.is_empty() => {
                let line = lines[at % n].clone();
                lines.insert(at % n, line);
            }
            Mutation::Swap(a, b) if !lines.is_empty() => lines.swap(a % n, b % n),
            Mutation::Replace(at, t) if !lines.is_empty() => lines[at % n] = t.clone(),
            Mutation::Insert(at, t) => lines.insert(at % (lines.len() + 1), t.clone()),
            Mutation::Truncate(at) => {
                let mut whole = lines.join("\n");
                let mut cut = at % (whole.len() + 1);
                while !whole.is_char_boundary(cut) {
                    cut -= 1;
                }
                whole.truncate(cut);
                lines = whole.lines().map(str::to_owned).collect();
            }
            _ => {}
        }
    }
    lines.join("\n") + "\n"
}

/// One generated stage: its id, the stages it needs, its grants.
#[derive(Debug, Clone)]
struct GenStage {
    id: String,
    needs: Vec<usize>,
    read: Vec<&'static str>,
    write: Vec<&'static str>,
    exec: bool,
    env: Vec<String>,
    net: Vec<(bool, String, u16)>,
}

fn gen_stage() -> impl Strategy<Value = GenStage> {
    let dirs = prop::sample::subsequence(vec![".", "src", "./src/", "mount:osv"], 0..=3);
    (
        "[a-z][a-z0-9-]{0,12}",
        prop::collection::vec(any::<usize>(), 0..3),
        dirs,
        prop::sample::subsequence(vec!["src", "mount:registry"], 0..=2),
        any::<bool>(),
        prop::collection::vec("[A-Za-z_][A-Za-z0-9_]{0,8}", 0..3),
        prop::collection::vec(
            (
                any::<bool>(),
                "[a-z]([a-z0-9-]{0,6}[a-z0-9])?(\\.[a-z]{2,4})?",
                1..u16::MAX,
            ),
            0..3,
        ),
    )
        .prop_map(|(id, needs, read, write, exec, env, net)| GenStage {
            id,
            needs,
            read,
            write,
            exec,
            env,
            net,
        })
}

/// Stages with distinct ids; each needs only stages before it.
fn gen_stages() -> impl Strategy<Value = Vec<GenStage>> {
    prop::collection::vec(gen_stage(), 1..8).prop_map(|mut stages| {
        let mut seen = std::collections::HashSet::new();
        stages.retain(|s| seen.insert(s.id.clone()));
        for (i, stage) in stages.iter_mut().enumerate() {
            stage.needs = if i == 0 {
                Vec::new()
            } else {
                let mut needs: Vec<usize> = stage.needs.iter().map(|n| n % i).collect();
                needs.sort_unstable();
                needs.dedup();
                needs
            };
        }
        stages
    })
}

fn quoted<T: AsRef<str>>(items: &[T]) -> String {
    let items: Vec<String> = items.iter().map(|i| format!("{:?}", i.as_ref())).collect();
    format!("[{}]", items.join(", "))
}

fn net_entry((secure, host, port): &(bool, String, u16)) -> String {
    let scheme = if *secure { "https" } else { "http" };
    format!("{scheme}://{host}:{port}")
}

fn pipeline_text(stages: &[GenStage]) -> String {
    let mut text = String::from(
        "[pipeline]\nname = \"generated\"\nworkspace = \"ws\"\n\
         [pipeline.mounts]\nosv = \"good/osv\"\n",
    );
    for stage in stages {
        let needs: Vec<&str> = stage.needs.iter().map(|&i| stages[i].id.as_str()).collect();
        let net: Vec<String> = stage.net.iter().map(net_entry).collect();
        let exec: &[&str] = if stage.exec { &["sh"] } else { &[] };
        let _ = write!(
            text,
            "\n[[stage]]\nid = {:?}\nplugin = \"gantry:scan\"\nneeds = {}\n[stage.grants]\n\
             read = {}\nwrite = {}\nexec = {}\nenv = {}\nnet = {}\n",
            stage.id,
            quoted(&needs),
            quoted(&stage.read),
            quoted(&stage.write),
            quoted(exec),
            quoted(&stage.env),
            quoted(&net),
        );
    }
    text
}

/// A grant path as the pipeline writes it once normalised.
fn normalised(written: &str) -> &str {
    match written {
        "./src/" => "src",
        other => other,
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_text_never_panics_the_parser_and_errors_name_the_file(text in "(?s).{0,400}") {
        let scratch = Scratch::new();
        if let (_, Err(message)) = scratch.load(&text) {
            check_error(&scratch, &message)?;
        }
    }

    #[test]
    fn toml_like_text_never_panics_the_parser_and_errors_name_the_file(text in toml_like()) {
        let scratch = Scratch::new();
        if let (_, Err(message)) = scratch.load(&text) {
            check_error(&scratch, &message)?;
        }
    }

    #[test]
    fn mutated_pipelines_never_panic_the_parser_and_errors_name_their_line(
        mutations in prop::collection::vec(mutation(), 1..4)
    ) {
        let scratch = Scratch::new();
        let text = mutate(&good_text(), &mutations);
        if let (_, Err(message)) = scratch.load(&text) {
            check_error(&scratch, &message)?;
        }
    }

    #[test]
    fn generated_pipelines_keep_their_stage_ids_and_grants(stages in gen_stages()) {
        let scratch = Scratch::new();
        let text = pipeline_text(&stages);
        let (_, loaded) = scratch.load(&text);
        let spec = loaded.map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let ids: Vec<&str> = spec.stages.iter().map(|s| s.id.as_str()).collect();
        let expected: Vec<&str> = stages.iter().map(|s| s.id.as_str()).collect();
        prop_assert_eq!(ids, expected);
        for (stage, generated) in spec.stages.iter().zip(&stages) {
            let grants = &stage.plugin().expect("a plugin stage").grants;
            let read: Vec<String> = grants.read.iter().map(GrantPath::as_written).collect();
            let want: Vec<&str> = generated.read.iter().map(|r| normalised(r)).collect();
            prop_assert_eq!(read, want);
            let write: Vec<String> = grants.write.iter().map(GrantPath::as_written).collect();
            prop_assert_eq!(write, generated.write.clone());
            prop_assert_eq!(grants.exec.len(), usize::from(generated.exec));
            prop_assert_eq!(&grants.env, &generated.env);
            let net: Vec<String> = grants.net.iter().map(ToString::to_string).collect();
            let want: Vec<String> = generated.net.iter().map(net_entry).collect();
            prop_assert_eq!(net, want);
            let needs: Vec<&str> = stage.needs.iter().map(|n| n.as_str()).collect();
            let want: Vec<&str> = generated.needs.iter().map(|&i| stages[i].id.as_str()).collect();
            prop_assert_eq!(needs, want);
        }
    }
}

#[test]
fn the_unmutated_pipeline_loads() {
    let scratch = Scratch::new();
    let (_, loaded) = scratch.load(&mutate(&good_text(), &[]));
    assert!(loaded.is_ok(), "{loaded:?}");
}

#[test]
fn the_error_check_refuses_errors_naming_no_file_or_a_line_past_the_end() {
    let scratch = Scratch::new();
    let (path, _) = scratch.load("[pipeline]\nname = 1\n");
    let shown = path.display();
    assert!(check_error(&scratch, &format!("{shown}:2: `name`: wrong type")).is_ok());
    assert!(check_error(&scratch, &format!("{shown}:9: `name`: wrong type")).is_err());
    assert!(check_error(&scratch, "invalid type: integer").is_err());
    assert!(check_error(&scratch, &format!("{shown}x:1: no such file")).is_err());
}
