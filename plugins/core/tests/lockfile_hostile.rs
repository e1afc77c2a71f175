//! Lockfiles written to hurt the reader, each case a hole found in the
//! readers and closed.
//!
//! Lockfiles come from the workspace being scanned, so their author may
//! mean harm: these cases make a reader panic, overflow its stack, take
//! time out of all proportion to the file, read files outside the
//! workspace, or pass control characters on to reports, unless the reader
//! guards against it. Each test is named after what it guards and has a
//! control that must still be read.
//!
//! The scale cases do not time anything: with the quadratic lookups they
//! guard against they ran for minutes; now they take well under a second.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use gantry_plugin_core::lockfile::{self, Format, LockfileError};
use gantry_plugin_core::package::Inventory;

/// A companion that serves `files` by their path relative to the
/// lockfile, and records every path asked for.
struct Files {
    files: BTreeMap<String, String>,
    asked: RefCell<Vec<String>>,
}

impl Files {
    fn new(files: &[(&str, &str)]) -> Self {
        let files = files
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
        Self {
            files: files.collect(),
            asked: RefCell::new(Vec::new()),
        }
    }

    fn parse(&self, format: Format, path: &str, text: &str) -> Result<Inventory, LockfileError> {
        let companion = |name: &str| {
            self.asked.borrow_mut().push(name.to_owned());
            let found = self.files.get(name).cloned();
            found.ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
        };
        lockfile::parse(format, path, text, &companion)
    }
}

fn parse(format: Format, text: &str) -> Result<Inventory, LockfileError> {
    Files::new(&[]).parse(format, format.name(), text)
}

fn names(inventory: &Inventory) -> Vec<String> {
    let packages = inventory.packages.iter();
    packages
        .map(|p| format!("{}@{}", p.name, p.version))
        .collect()
}

fn has_hidden(text: &str) -> bool {
    text.chars().any(|c| c.is_control() || c == '\u{202e}')
}

/// Runs `parse` on a thread with a stack of 1 MiB, the size a plugin's
/// WebAssembly stack has, and gives its result or the panic.
fn on_small_stack(format: Format, text: String) -> std::thread::Result<Result<usize, String>> {
    let thread = std::thread::Builder::new().stack_size(1 << 20);
    let handle = thread
        .spawn(move || {
            let read = parse(format, &text);
            read.map(|i| i.packages.len()).map_err(|e| e.to_string())
        })
        .unwrap();
    handle.join()
}

#[test]
fn a_byte_order_mark_does_not_hide_the_first_requirement() {
    let plain = parse(Format::Requirements, "requests==2.31.0\nsix==1.17.0\n").unwrap();
    let marked = parse(
        Format::Requirements,
        "\u{feff}requests==2.31.0\nsix==1.17.0\n",
    )
    .unwrap();
    assert_eq!(names(&marked), ["requests@2.31.0", "six@1.17.0"]);
    assert!(marked.warnings.is_empty(), "{:?}", marked.warnings);
    // The digest stays the file's, mark and all.
    assert_ne!(plain.digest, marked.digest);
}

#[test]
fn a_byte_order_mark_is_read_past_in_every_format() {
    let pipfile = r#"{"default": {"six": {"version": "==1.17.0"}}}"#;
    let go_mod = "module example.com/app\n\nrequire golang.org/x/text v0.14.0\n";
    let uv = "version = 1\n";
    for (format, text) in [
        (Format::Pipfile, pipfile),
        (Format::GoMod, go_mod),
        (Format::Uv, uv),
    ] {
        let plain = parse(format, text).unwrap();
        let marked = parse(format, &format!("\u{feff}{text}")).unwrap();
        assert_eq!(names(&marked), names(&plain), "{format:?}");
    }
    assert!(parse(Format::Pipfile, &format!("\u{feff}\u{feff}{pipfile}")).is_err());
}

#[test]
fn a_requirements_file_made_on_windows_is_read() {
    let files = Files::new(&[("sub/base.txt", "six==1.17.0\r\n")]);
    let text = "# made on Windows\r\nrequests==2.31.0 \\\r\n    --hash=sha256:aa\r\n\
                -r sub\\base.txt\r\n";
    let inventory = files
        .parse(Format::Requirements, "requirements.txt", text)
        .unwrap();
    assert_eq!(names(&inventory), ["requests@2.31.0", "six@1.17.0"]);
    assert_eq!(inventory.packages[0].hashes, ["sha256:aa"]);
    assert!(inventory.warnings.is_empty(), "{:?}", inventory.warnings);
}

#[test]
fn an_include_climbing_out_of_the_workspace_is_refused_before_it_is_read() {
    let files = Files::new(&[("../common.txt", "six==1.17.0\n")]);
    let path = "services/api/requirements.txt";
    // Up one directory, still inside the workspace: read.
    let inside = files.parse(Format::Requirements, path, "-r ../common.txt\n");
    assert_eq!(names(&inside.unwrap()), ["six@1.17.0"]);

    let text = "six==1.17.0\n-r ../../../etc/passwd\n";
    let error = files
        .parse(Format::Requirements, path, text)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("requirements.txt`, line 2: `../../../etc/passwd` leads outside"),
        "{error}"
    );
    assert_eq!(*files.asked.borrow(), ["../common.txt"]);
}

#[test]
fn an_include_of_a_lockfile_given_by_absolute_path_stays_in_its_directory() {
    let files = Files::new(&[("sub/more.txt", "six==1.17.0\n")]);
    let path = "/srv/app/requirements.txt";
    let inside = files.parse(Format::Requirements, path, "-r sub/more.txt\n");
    assert_eq!(names(&inside.unwrap()), ["six@1.17.0"]);
    let error = files
        .parse(Format::Requirements, path, "-r ../other/more.txt\n")
        .unwrap_err();
    assert!(error.to_string().contains("leads outside"), "{error}");
}

#[test]
fn an_absolute_include_is_refused_before_it_is_read() {
    let files = Files::new(&[]);
    for target in ["/etc/passwd", "C:\\Windows\\win.ini", "c:/x.txt"] {
        let text = format!("-c {target}\n");
        let error = files
            .parse(Format::Requirements, "requirements.txt", &text)
            .unwrap_err();
        assert!(error.to_string().contains("is an absolute path"), "{error}");
    }
    assert!(files.asked.borrow().is_empty());
}

#[test]
fn a_local_directory_outside_the_workspace_is_not_read() {
    let pyproject = "[project]\nname = \"secret\"\nversion = \"1\"\n";
    let files = Files::new(&[
        ("../x/pyproject.toml", pyproject),
        ("libs/x/pyproject.toml", pyproject),
    ]);
    let text = "-e ../x\n-e /etc\n-e ./libs/x\n";
    let inventory = files
        .parse(Format::Requirements, "requirements.txt", text)
        .unwrap();
    assert_eq!(*files.asked.borrow(), ["libs/x/pyproject.toml"]);
    assert_eq!(names(&inventory), ["../x@", "/etc@", "secret@1"]);
    assert_eq!(inventory.warnings.len(), 2, "{:?}", inventory.warnings);
}

/// `count` files, each including the next `fan_out` times.
fn include_chain(count: usize, fan_out: usize) -> Files {
    let files: Vec<(String, String)> = (0..count)
        .map(|i| {
            let mut text = format!("p{i}==1.0\n");
            for _ in 0..fan_out {
                if i + 1 < count {
                    writeln!(text, "-r f{}.txt", i + 1).unwrap();
                }
            }
            (format!("f{i}.txt"), text)
        })
        .collect();
    let borrowed: Vec<(&str, &str)> = files.iter().map(|(k, v)| (&k[..], &v[..])).collect();
    Files::new(&borrowed)
}

#[test]
fn includes_nested_too_deep_are_refused_instead_of_overflowing_the_stack() {
    let shallow = include_chain(15, 1);
    let inventory = shallow.parse(Format::Requirements, "requirements.txt", "-r f0.txt\n");
    assert_eq!(inventory.unwrap().packages.len(), 15);

    let deep = include_chain(5000, 1);
    let error = deep
        .parse(Format::Requirements, "requirements.txt", "-r f0.txt\n")
        .unwrap_err();
    assert!(
        error.to_string().contains("nest more than 16 files deep"),
        "{error}"
    );
}

#[test]
fn a_file_included_many_times_is_read_once() {
    // Each file includes the next twice: 2^14 reads if each were re-read.
    let files = include_chain(15, 2);
    let inventory = files
        .parse(
            Format::Requirements,
            "requirements.txt",
            "-r f0.txt\n-r f0.txt\n",
        )
        .unwrap();
    assert_eq!(inventory.packages.len(), 15);
    assert_eq!(files.asked.borrow().len(), 15);
    // The same file as constraints is another reading.
    let files = Files::new(&[("c.txt", "six==1.17.0\n")]);
    let text = "-r c.txt\n-c c.txt\nsix\n";
    let inventory = files
        .parse(Format::Requirements, "requirements.txt", text)
        .unwrap();
    assert_eq!(files.asked.borrow().len(), 2);
    assert_eq!(names(&inventory), ["six@1.17.0"]);
}

#[test]
fn control_characters_in_names_and_versions_are_left_out_with_a_warning() {
    let cases = [
        (
            Format::Requirements,
            "six==1.17.0\nevil==1.0\u{1b}[2J\n".to_owned(),
        ),
        (
            Format::Pipfile,
            r#"{"default": {"six": {"version": "==1.17.0"}, "ev\u0000il": {"version": "==1"}}}"#
                .to_owned(),
        ),
        (
            Format::Poetry,
            "[metadata]\nlock-version = \"2.0\"\n\
             [[package]]\nname = \"six\"\nversion = \"1.17.0\"\n\
             [[package]]\nname = \"evil\\u202e\"\nversion = \"1\"\n"
                .to_owned(),
        ),
        (
            Format::Uv,
            "version = 1\n[[package]]\nname = \"six\"\nversion = \"1.17.0\"\n\
             source = { registry = \"https://pypi.org/simple\" }\n\
             [[package]]\nname = \"evil\"\nversion = \"1\"\n\
             source = { git = \"https://x/\\u0007\" }\n"
                .to_owned(),
        ),
    ];
    for (format, text) in cases {
        let inventory = parse(format, &text).unwrap();
        assert_eq!(names(&inventory), ["six@1.17.0"], "{format:?}");
        let warning = inventory
            .warnings
            .iter()
            .find(|w| w.contains("control character"));
        assert!(warning.is_some(), "{format:?}: {:?}", inventory.warnings);
        assert!(
            !inventory.warnings.iter().any(|w| has_hidden(w)),
            "{format:?}"
        );
    }
}

#[test]
fn edges_stay_right_when_a_package_is_left_out() {
    let text = "version = 3\n\
                [[package]]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\"bad\\u0000\", \"b\"]\n\
                [[package]]\nname = \"bad\\u0000\"\nversion = \"1.0.0\"\n\
                [[package]]\nname = \"b\"\nversion = \"1.0.0\"\n";
    let inventory = parse(Format::Cargo, text).unwrap();
    assert_eq!(names(&inventory), ["app@0.1.0", "b@1.0.0"]);
    assert_eq!(inventory.packages[0].dependencies, [1]);
    assert_eq!(inventory.roots, [0]);
}

#[test]
fn control_characters_quoted_in_errors_are_escaped() {
    let go_mod = "module m\nrequire \u{1b}]0;pwned\u{7} 1.0\n";
    let error = parse(Format::GoMod, go_mod).unwrap_err().to_string();
    assert!(error.contains("\\u{1b}]0;pwned\\u{7}"), "{error}");
    assert!(!has_hidden(&error), "{error:?}");
    let bad_toml = "version = 3\n[[package]]\nname = \"a\u{1b}[1m\"\n";
    let error = parse(Format::Cargo, bad_toml).unwrap_err().to_string();
    assert!(!has_hidden(&error.replace('\n', "")), "{error:?}");
}

#[test]
fn deeply_nested_toml_and_json_are_refused_instead_of_overflowing_the_stack() {
    let depth = 20_000;
    let cases = [
        (
            Format::Cargo,
            format!("x = {}{}", "[".repeat(depth), "]".repeat(depth)),
        ),
        (
            Format::Poetry,
            format!("x = {}1{}", "{a=".repeat(depth), "}".repeat(depth)),
        ),
        (Format::Uv, format!("{} = 1", vec!["a"; depth].join("."))),
        (
            Format::Pipfile,
            format!(
                r#"{{"default": {}{}}}"#,
                "[".repeat(depth),
                "]".repeat(depth)
            ),
        ),
    ];
    for (format, text) in cases {
        let read = on_small_stack(format, text).expect("the reader panicked");
        assert!(read.is_err(), "{format:?}: {read:?}");
    }
    // A lockfile of ordinary depth on the same stack is read.
    let read = on_small_stack(Format::Uv, "version = 1\nx = [[[1]]]\n".to_owned());
    assert_eq!(read.unwrap(), Ok(0));
}

#[test]
fn empty_files_are_read_as_empty_or_refused_by_name() {
    let empty_ok = [Format::Requirements, Format::Cargo];
    for format in empty_ok {
        assert!(parse(format, "").unwrap().packages.is_empty(), "{format:?}");
    }
    for format in [Format::Poetry, Format::Pipfile, Format::Uv, Format::GoMod] {
        let error = parse(format, "").unwrap_err().to_string();
        assert!(error.contains(format.name()), "{format:?}: {error}");
    }
}

#[test]
fn a_pipfile_lock_naming_twenty_thousand_packages_is_read() {
    let mut text = String::from(r#"{"default": {"#);
    for i in 0..20_000 {
        let comma = if i == 0 { "" } else { "," };
        write!(text, r#"{comma}"p{i}": {{"version": "==1.0"}}"#).unwrap();
    }
    text.push_str("}}");
    assert_eq!(
        parse(Format::Pipfile, &text).unwrap().packages.len(),
        20_000
    );
}

#[test]
fn a_requirements_file_pinning_twenty_thousand_packages_is_read() {
    let mut text = String::new();
    for i in 0..20_000 {
        writeln!(text, "p{i}==1.0 --hash=sha256:{i:x}").unwrap();
        writeln!(text, "P{i}==1.0 --hash=sha256:{i:x} --hash=sha256:ff{i:x}").unwrap();
    }
    let inventory = parse(Format::Requirements, &text).unwrap();
    assert_eq!(inventory.packages.len(), 20_000);
    assert_eq!(inventory.packages[7].hashes, ["sha256:7", "sha256:ff7"]);
}

#[test]
fn a_requirements_line_continued_two_hundred_thousand_times_is_read() {
    let text = format!("six==1.17.0 {}--hash=sha256:aa\n", "\\\n".repeat(200_000));
    let inventory = parse(Format::Requirements, &text).unwrap();
    assert_eq!(inventory.packages[0].hashes, ["sha256:aa"]);
}

#[test]
fn a_go_mod_with_huge_blocks_is_read() {
    let mut text = String::from("module m\nrequire (\n");
    for i in 0..30_000 {
        writeln!(text, "e.com/m{i} v1.0.{i}").unwrap();
    }
    text.push_str(")\nreplace (\n");
    for i in 0..30_000 {
        writeln!(text, "e.com/m{i} => e.com/q{i} v2.0.0").unwrap();
    }
    text.push_str(")\nexclude (\n");
    for i in 0..30_000 {
        writeln!(text, "e.com/m{i} v1.0.{}", i + 1).unwrap();
    }
    text.push_str(")\n");
    let inventory = parse(Format::GoMod, &text).unwrap();
    assert_eq!(inventory.packages.len(), 30_001);
    assert_eq!(names(&inventory)[5], "e.com/q4@v2.0.0");
}

#[test]
fn lockfiles_with_twenty_thousand_linked_packages_are_read() {
    let n = 20_000;
    let mut cargo = String::from("version = 3\n");
    let mut poetry = String::from("[metadata]\nlock-version = \"2.0\"\n");
    let mut uv = String::from("version = 1\n");
    for i in 0..n {
        let (a, b) = ((i + 1) % n, (i + 7) % n);
        write!(
            cargo,
            "[[package]]\nname = \"p{i}\"\nversion = \"1.0.0\"\ndependencies = [\"p{a}\", \"p{b}\"]\n"
        )
        .unwrap();
        write!(
            poetry,
            "[[package]]\nname = \"p{i}\"\nversion = \"1.0\"\n[package.dependencies]\np{a} = \"*\"\n"
        )
        .unwrap();
        write!(
            uv,
            "[[package]]\nname = \"p{i}\"\nversion = \"1.0\"\n\
             source = {{ registry = \"https://pypi.org/simple\" }}\n\
             dependencies = [{{ name = \"p{a}\" }}, {{ name = \"p{b}\" }}]\n"
        )
        .unwrap();
    }
    for (format, text, edges) in [
        (Format::Cargo, cargo, 2),
        (Format::Poetry, poetry, 1),
        (Format::Uv, uv, 2),
    ] {
        let inventory = parse(format, &text).unwrap();
        assert_eq!(inventory.packages.len(), n, "{format:?}");
        let linked = inventory.packages.iter().map(|p| p.dependencies.len());
        assert_eq!(linked.sum::<usize>(), n * edges, "{format:?}");
    }
}

#[test]
fn a_cargo_lock_with_ten_thousand_versions_of_one_crate_is_read() {
    let n = 10_000;
    let mut text = String::from("version = 3\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\n");
    text.push_str("dependencies = [\n");
    for i in 0..n {
        writeln!(text, "  \"x 1.0.{i}\",").unwrap();
    }
    text.push_str("]\n");
    for i in 0..n {
        write!(text, "[[package]]\nname = \"x\"\nversion = \"1.0.{i}\"\n").unwrap();
    }
    let inventory = parse(Format::Cargo, &text).unwrap();
    assert_eq!(inventory.packages[0].dependencies.len(), n);
    // Named without its version, one of many is ambiguous.
    let ambiguous = text.replacen("\"x 1.0.0\"", "\"x\"", 1);
    let error = parse(Format::Cargo, &ambiguous).unwrap_err();
    assert!(
        error.to_string().contains("more than one package"),
        "{error}"
    );
}

#[test]
fn a_lock_version_with_control_characters_is_shown_escaped() {
    let text = "[metadata]\nlock-version = \"2.\\u001b[2J\"\n";
    let inventory = parse(Format::Poetry, text).unwrap();
    assert_eq!(inventory.format, "poetry.lock 2.\\u{1b}[2J");
}

#[test]
fn duplicate_keys_are_refused_in_toml_and_read_as_pipenv_reads_them_in_json() {
    let cargo = "version = 3\n[[package]]\nname = \"a\"\nname = \"b\"\nversion = \"1.0.0\"\n";
    let error = parse(Format::Cargo, cargo).unwrap_err();
    assert!(error.to_string().contains("duplicate key"), "{error}");
    let uv = "version = 1\nversion = 1\n";
    assert!(parse(Format::Uv, uv).is_err());
    // Python's json module, which pipenv reads with, keeps the last value
    // of a repeated key, and so pipenv installs that one.
    let pipfile =
        r#"{"default": {"six": {"version": "==1.16.0"}, "six": {"version": "==1.17.0"}}}"#;
    assert_eq!(
        names(&parse(Format::Pipfile, pipfile).unwrap()),
        ["six@1.17.0"]
    );
}
