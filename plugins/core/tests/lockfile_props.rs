//! Property tests of the lockfile readers, `lockfile::parse`.
//!
//! - Whatever the text (arbitrary, made of lockfile syntax, or a fixture
//!   with lines cut, doubled, swapped or overwritten), every reader gives
//!   an inventory or an error, never a panic; an error names the file, and
//!   neither a warning nor an error carries a control character.
//! - A lockfile put together from generated packages gives exactly those
//!   packages: a requirements file with N pins (LF or CRLF, hashes,
//!   comments, continuations) N packages in order; a poetry.lock, uv.lock
//!   or Cargo.lock its packages and every edge; a Pipfile.lock and a
//!   go.mod their packages.
//!
//! Each property runs 32 cases by default, so the suite stays quick; set
//! `PROPTEST_CASES` for more (`PROPTEST_CASES=5000 cargo test -p
//! gantry-plugin-core --test lockfile_props`).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use gantry_plugin_core::lockfile::{self, Format};
use gantry_plugin_core::package::Inventory;
use proptest::prelude::*;
use proptest::test_runner::Config;

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

const FORMATS: [Format; 6] = [
    Format::Cargo,
    Format::Requirements,
    Format::Poetry,
    Format::Pipfile,
    Format::Uv,
    Format::GoMod,
];

/// Every fixture lockfile with its format, for mutation.
fn fixtures() -> Vec<(Format, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lockfiles");
    let mut found = Vec::new();
    for format_dir in std::fs::read_dir(root).unwrap() {
        for case in std::fs::read_dir(format_dir.unwrap().path()).unwrap() {
            for file in std::fs::read_dir(case.unwrap().path()).unwrap() {
                let path = file.unwrap().path();
                let name = path.file_name().unwrap().to_str().unwrap();
                if let Some(format) = Format::detect(name) {
                    found.push((format, std::fs::read_to_string(&path).unwrap()));
                }
            }
        }
    }
    found.sort();
    found
}

/// Reads `text` as `format`; an include or `go.sum` is `text` itself,
/// so included files are as hostile as the top one.
fn read(format: Format, text: &str) -> Result<Inventory, String> {
    let companion = |name: &str| {
        if name.ends_with(".toml") {
            return Err(std::io::ErrorKind::NotFound.into());
        }
        Ok(text.to_owned())
    };
    lockfile::parse(format, format.name(), text, &companion).map_err(|e| e.to_string())
}

fn has_hidden(text: &str) -> bool {
    text.chars().any(char::is_control)
}

/// Whether an error names the lockfile, or for a requirements file the
/// file it includes where the problem is.
fn names_file(format: Format, error: &str) -> bool {
    match format {
        Format::Requirements => error.starts_with("lockfile `") && error.contains(".txt`"),
        _ => error.contains(&format!("`{}`", format.name())),
    }
}

/// Reads `text` in every format and checks what any answer must be.
fn check_any_text(text: &str) -> Result<(), TestCaseError> {
    for format in FORMATS {
        match read(format, text) {
            Ok(inventory) => {
                for warning in &inventory.warnings {
                    prop_assert!(!has_hidden(warning), "{format:?}: {warning:?}");
                }
                for package in &inventory.packages {
                    prop_assert!(!has_hidden(&package.name) && !has_hidden(&package.version));
                    let mut in_range = package.dependencies.iter();
                    prop_assert!(in_range.all(|&d| d < inventory.packages.len()));
                }
                prop_assert!(
                    inventory
                        .roots
                        .iter()
                        .all(|&r| r < inventory.packages.len())
                );
            }
            Err(error) => {
                prop_assert!(names_file(format, &error), "{format:?}: {error}");
                // A TOML error quotes the line it is on across lines.
                let quoted = error.replace(['\n', '\r'], "");
                prop_assert!(!has_hidden(&quoted), "{format:?}: {error:?}");
            }
        }
    }
    Ok(())
}

/// Lines of every format's syntax, some broken, with multi-byte text.
fn syntax_line() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("[[package]]".to_owned()),
        Just("[metadata]".to_owned()),
        Just("lock-version = \"2.0\"".to_owned()),
        Just("version = 1".to_owned()),
        Just("version = 3".to_owned()),
        Just("name = \"six\"".to_owned()),
        Just("version = \"1.17.0\"".to_owned()),
        Just("source = { registry = \"https://pypi.org/simple\" }".to_owned()),
        Just("dependencies = [\"six\", { name = \"six\" }]".to_owned()),
        Just("{\"default\": {\"six\": {\"version\": \"==1\"}}}".to_owned()),
        Just("module example.com/m".to_owned()),
        Just("require (".to_owned()),
        Just(")".to_owned()),
        Just("golang.org/x/text v0.14.0 // indirect".to_owned()),
        Just("replace a => ../b".to_owned()),
        Just("-r requirements.txt".to_owned()),
        Just("-e .[dev]".to_owned()),
        Just("six==1.17.0 --hash=sha256:aa \\".to_owned()),
        Just("pkg @ git+https://h/r.git@abc#egg=pkg".to_owned()),
        "[a-z]{1,8}(==|>=|===|~=)[0-9.]{1,6}",
        "\\PC{0,24}",
        "[-=@#\\[\\]{}\"'.:/\\\\ é\u{feff}\u{202e}\u{0}\u{1b}]{0,24}",
    ]
}

/// `text` with one line cut, doubled, swapped with the next or replaced.
fn mutate(text: &str, at: usize, how: u8, new: &str) -> String {
    let mut lines: Vec<&str> = text.lines().collect();
    if lines.is_empty() {
        return new.to_owned();
    }
    let at = at % lines.len();
    match how % 4 {
        0 => {
            lines.remove(at);
        }
        1 => lines.insert(at, lines[at]),
        2 if at + 1 < lines.len() => lines.swap(at, at + 1),
        _ => lines[at] = new,
    }
    lines.join("\n")
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_make_a_reader_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        check_any_text(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn lockfile_syntax_in_any_order_never_makes_a_reader_panic(
        lines in prop::collection::vec(syntax_line(), 0..24),
        crlf in any::<bool>(),
    ) {
        let newline = if crlf { "\r\n" } else { "\n" };
        check_any_text(&lines.join(newline))?;
    }

    #[test]
    fn a_mutated_fixture_never_makes_a_reader_panic(
        pick in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), syntax_line()), 1..4),
    ) {
        let all = fixtures();
        let (format, mut text) = all[pick.index(all.len())].clone();
        for (at, how, new) in &edits {
            text = mutate(&text, *at, *how, new);
        }
        // Its own format first: that is where the reader goes deepest.
        if let Err(error) = read(format, &text) {
            prop_assert!(names_file(format, &error), "{format:?}: {error}");
        }
        check_any_text(&text)?;
    }
}

/// Distinct PyPI-style names (distinct once normalised) with versions.
fn pins(max: usize) -> impl Strategy<Value = Vec<(String, String)>> {
    let name = "[a-z][a-z0-9]{0,6}([-_.][a-z0-9]{1,4})?";
    let version = "[0-9]{1,3}(\\.[0-9]{1,3}){0,3}";
    prop::collection::vec((name, version), 0..max).prop_map(|pins| {
        let mut seen = BTreeSet::new();
        let key = |name: &str| name.replace(['_', '.'], "-");
        pins.into_iter()
            .filter(|(name, _)| seen.insert(key(name)))
            .collect()
    })
}

/// Random edges among `n` packages, as lists of targets.
fn edges(n: usize, picks: &[(usize, usize)]) -> Vec<BTreeSet<usize>> {
    let mut found = vec![BTreeSet::new(); n];
    if n == 0 {
        return found;
    }
    for &(from, to) in picks {
        found[from % n].insert(to % n);
    }
    found
}

fn got_edges(inventory: &Inventory) -> Vec<BTreeSet<usize>> {
    let packages = inventory.packages.iter();
    packages
        .map(|p| p.dependencies.iter().copied().collect())
        .collect()
}

fn got_pins(inventory: &Inventory) -> Vec<(String, String)> {
    let packages = inventory.packages.iter();
    packages
        .map(|p| (p.name.clone(), p.version.clone()))
        .collect()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_requirements_file_with_n_pins_gives_those_n_packages(
        pins in pins(40),
        crlf in any::<bool>(),
        bom in any::<bool>(),
        style in prop::collection::vec(0u8..4, 40),
    ) {
        let mut text = String::from(if bom { "\u{feff}# locked\n" } else { "# locked\n" });
        for ((name, version), style) in pins.iter().zip(style.iter().cycle()) {
            let line = match style {
                0 => format!("{name}=={version}"),
                1 => format!("{name} === {version}  # pinned"),
                2 => format!("{name}=={version} \\\n    --hash=sha256:{:02x}", version.len()),
                _ => format!("{name}[extra]=={version} ; python_version >= \"3.8\""),
            };
            write!(text, "{line}\n\n").unwrap();
        }
        if crlf {
            text = text.replace('\n', "\r\n");
        }
        let inventory = read(Format::Requirements, &text).unwrap();
        prop_assert_eq!(got_pins(&inventory), pins);
        prop_assert!(inventory.warnings.is_empty(), "{:?}", inventory.warnings);
    }

    #[test]
    fn a_poetry_lock_gives_its_packages_and_edges(
        pins in pins(30),
        picks in prop::collection::vec((any::<usize>(), any::<usize>()), 0..60),
    ) {
        let wanted = edges(pins.len(), &picks);
        let mut text = String::from("[metadata]\nlock-version = \"2.0\"\n");
        for ((name, version), targets) in pins.iter().zip(&wanted) {
            write!(text, "\n[[package]]\nname = \"{name}\"\nversion = \"{version}\"\n").unwrap();
            text.push_str("\n[package.dependencies]\n");
            for &target in targets {
                writeln!(text, "\"{}\" = \"*\"", pins[target].0.to_uppercase()).unwrap();
            }
        }
        let inventory = read(Format::Poetry, &text).unwrap();
        prop_assert_eq!(got_pins(&inventory), pins);
        prop_assert_eq!(got_edges(&inventory), wanted);
        prop_assert!(inventory.warnings.is_empty(), "{:?}", inventory.warnings);
    }

    #[test]
    fn a_uv_lock_gives_its_packages_and_edges(
        pins in pins(30),
        picks in prop::collection::vec((any::<usize>(), any::<usize>()), 0..60),
    ) {
        let wanted = edges(pins.len(), &picks);
        let mut text = String::from("version = 1\n");
        for ((name, version), targets) in pins.iter().zip(&wanted) {
            write!(
                text,
                "\n[[package]]\nname = \"{name}\"\nversion = \"{version}\"\n\
                 source = {{ registry = \"https://pypi.org/simple\" }}\ndependencies = [\n"
            )
            .unwrap();
            for &target in targets {
                writeln!(text, "  {{ name = \"{}\" }},", pins[target].0).unwrap();
            }
            text.push_str("]\n");
        }
        let inventory = read(Format::Uv, &text).unwrap();
        prop_assert_eq!(got_pins(&inventory), pins);
        prop_assert_eq!(got_edges(&inventory), wanted);
        prop_assert!(inventory.warnings.is_empty(), "{:?}", inventory.warnings);
    }

    #[test]
    fn a_cargo_lock_gives_its_packages_and_edges(
        pins in pins(30),
        picks in prop::collection::vec((any::<usize>(), any::<usize>()), 0..60),
    ) {
        let wanted = edges(pins.len(), &picks);
        let semver = |version: &str| {
            let mut parts: Vec<&str> = version.split('.').collect();
            parts.resize(3, "0");
            parts[..3].iter().map(|p| p.trim_start_matches('0')).map(|p| if p.is_empty() { "0" } else { p }).collect::<Vec<_>>().join(".")
        };
        let mut text = String::from("version = 4\n");
        for ((name, version), targets) in pins.iter().zip(&wanted) {
            write!(text, "\n[[package]]\nname = \"{name}\"\nversion = \"{}\"\ndependencies = [\n", semver(version)).unwrap();
            for &target in targets {
                writeln!(text, "  \"{}\",", pins[target].0).unwrap();
            }
            text.push_str("]\n");
        }
        let inventory = read(Format::Cargo, &text).unwrap();
        let names: Vec<&str> = inventory.packages.iter().map(|p| p.name.as_str()).collect();
        let wanted_names: Vec<&str> = pins.iter().map(|(name, _)| name.as_str()).collect();
        prop_assert_eq!(names, wanted_names);
        prop_assert_eq!(got_edges(&inventory), wanted);
    }

    #[test]
    fn a_pipfile_lock_and_a_go_mod_give_their_packages(pins in pins(30)) {
        let entries: Vec<String> = pins
            .iter()
            .map(|(name, version)| format!("\"{name}\": {{\"version\": \"=={version}\"}}"))
            .collect();
        let text = format!("{{\"default\": {{{}}}}}", entries.join(", "));
        let inventory = read(Format::Pipfile, &text).unwrap();
        let mut sorted = pins.clone();
        sorted.sort();
        // Entries are read by name.
        prop_assert_eq!(got_pins(&inventory), sorted);

        let mut go_mod = String::from("module example.com/app\n\nrequire (\n");
        for (name, version) in &pins {
            writeln!(go_mod, "\texample.com/{name} v{version}").unwrap();
        }
        go_mod.push_str(")\n");
        let companion = |_: &str| Err(std::io::ErrorKind::NotFound.into());
        let inventory = lockfile::parse(Format::GoMod, "go.mod", &go_mod, &companion).unwrap();
        let modules: Vec<(String, String)> = pins
            .iter()
            .map(|(name, version)| (format!("example.com/{name}"), format!("v{version}")))
            .collect();
        prop_assert_eq!(&got_pins(&inventory)[1..], &modules[..]);
    }
}
