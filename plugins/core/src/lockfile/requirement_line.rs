//! One logical line of a pip requirements file, read into what it asks
//! for.
//!
//! [`Line::parse`] takes a line with its continuations joined and its
//! comment removed, and tells an option (`-r`, `--index-url`, …) from a
//! requirement. A requirement is a PEP 508 name with extras, a version
//! specifier and a marker; a `name @ url` direct reference; a bare URL, a
//! version control reference or a path, named by `#egg=`; or any of these
//! after `-e`. What the line means for the inventory is the reader's
//! business (see [`super::requirements`]).

use crate::package::Origin;

/// What one line says.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Line {
    /// `-r file` (`constraints` false) or `-c file` (true).
    Include { target: String, constraints: bool },
    /// `--index-url url`: where every package comes from.
    IndexUrl(String),
    /// `--extra-index-url url` or `--find-links url`: another place a
    /// package may come from.
    ExtraSource { option: String, url: String },
    /// An option that does not change which packages are installed.
    Ignored,
    /// An option pip may know but this reader does not.
    UnknownOption(String),
    /// A requirement, editable or not.
    Requirement(Entry),
}

/// A requirement: a name (empty when only a location gives one), what
/// pins it, and the `--hash` values.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Entry {
    pub name: String,
    pub spec: Spec,
    pub hashes: Vec<String>,
}

/// How a requirement chooses its version.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Spec {
    /// `==version` or `===version`: one version of the index's package.
    Pinned(String),
    /// Any other specifier (or none), as written.
    Unpinned(String),
    /// A URL, repository or path, with the version its file name or
    /// revision gives (empty when neither does).
    Located { origin: Origin, version: String },
}

/// Options pip accepts in a requirements file that change how packages
/// are fetched or built but not which ones are installed.
const HARMLESS_OPTIONS: [&str; 10] = [
    "--no-index",
    "--pre",
    "--prefer-binary",
    "--require-hashes",
    "--trusted-host",
    "--no-binary",
    "--only-binary",
    "--use-feature",
    "--config-settings",
    "--global-option",
];

/// Version control schemes pip knows, as written before `+`.
const VCS_PREFIXES: [&str; 4] = ["git+", "hg+", "svn+", "bzr+"];

/// Archive suffixes of source distributions.
const SDIST_SUFFIXES: [&str; 5] = [".tar.gz", ".zip", ".tar.bz2", ".tgz", ".tar.xz"];

impl Line {
    /// Reads a logical line.
    ///
    /// # Errors
    ///
    /// A sentence saying why the line is not a requirement or option pip
    /// would accept.
    pub(super) fn parse(line: &str) -> Result<Self, String> {
        if line.starts_with('-') {
            option(line)
        } else {
            requirement(line, false).map(Self::Requirement)
        }
    }
}

/// An option line.
fn option(line: &str) -> Result<Line, String> {
    let (name, value) = split_option(line);
    let needs_value = || {
        if value.is_empty() {
            Err(format!("`{name}` needs a value"))
        } else {
            Ok(value.to_owned())
        }
    };
    Ok(match name {
        "-r" | "--requirement" => Line::Include {
            target: needs_value()?,
            constraints: false,
        },
        "-c" | "--constraint" => Line::Include {
            target: needs_value()?,
            constraints: true,
        },
        "-e" | "--editable" => Line::Requirement(requirement(&needs_value()?, true)?),
        "-i" | "--index-url" => Line::IndexUrl(needs_value()?),
        "--extra-index-url" | "-f" | "--find-links" => Line::ExtraSource {
            option: name.to_owned(),
            url: needs_value()?,
        },
        name if HARMLESS_OPTIONS.contains(&name) => Line::Ignored,
        name => Line::UnknownOption(name.to_owned()),
    })
}

/// `--name=value`, `--name value`, `-x value` or `-xvalue` as name and
/// value (empty for a flag).
fn split_option(line: &str) -> (&str, &str) {
    if line.starts_with("--") {
        let end = line.find(['=', ' ', '\t']).unwrap_or(line.len());
        let value = line[end..].trim_start_matches('=').trim();
        return (&line[..end], value);
    }
    let end = line.char_indices().nth(2).map_or(line.len(), |(i, _)| i);
    (&line[..end], line[end..].trim_start_matches('=').trim())
}

/// A requirement, with its per-requirement options; `editable` when it
/// followed `-e`, which allows only locations.
fn requirement(text: &str, editable: bool) -> Result<Entry, String> {
    let (body, options) = split_trailing_options(text);
    let hashes = hashes(options)?;
    let (name, spec) = if let Some((name, url)) = direct_reference(body) {
        let (_, spec) = location(strip_url_marker(url))?;
        (name.to_owned(), spec)
    } else if editable || is_location(body) {
        location(strip_url_marker(body))?
    } else {
        named(body)?
    };
    Ok(Entry { name, spec, hashes })
}

/// The requirement and the options after it (`--hash=…`), split at the
/// first option.
fn split_trailing_options(text: &str) -> (&str, &str) {
    let bytes = text.as_bytes();
    let start = (1..bytes.len())
        .find(|&i| bytes[i - 1].is_ascii_whitespace() && text[i..].starts_with("--"));
    match start {
        Some(start) => (text[..start].trim(), &text[start..]),
        None => (text.trim(), ""),
    }
}

/// The `--hash` values among a requirement's options, each `alg:hex`.
fn hashes(options: &str) -> Result<Vec<String>, String> {
    let mut found = Vec::new();
    let mut words = options.split_whitespace();
    while let Some(word) = words.next() {
        let value = match word.strip_prefix("--hash") {
            Some("") => words.next().unwrap_or_default(),
            Some(rest) if rest.starts_with('=') => &rest[1..],
            _ => continue,
        };
        match value.split_once(':') {
            Some((alg, digest)) if !alg.is_empty() && !digest.is_empty() => {
                found.push(value.to_owned());
            }
            _ => return Err(format!("`--hash` value `{value}` is not `<alg>:<digest>`")),
        }
    }
    Ok(found)
}

/// `name[extras] @ url` as name and URL, when the text has that form.
fn direct_reference(body: &str) -> Option<(&str, &str)> {
    let (head, url) = body.split_once('@')?;
    let name = strip_extras(head.trim()).ok()?;
    is_project_name(name).then_some((name, url.trim()))
}

/// A URL requirement without its marker, which must follow whitespace so
/// that a `;` inside the URL is not taken for one.
fn strip_url_marker(text: &str) -> &str {
    let bytes = text.as_bytes();
    let end = (1..bytes.len())
        .find(|&i| bytes[i] == b';' && bytes[i - 1].is_ascii_whitespace())
        .unwrap_or(text.len());
    text[..end].trim()
}

/// Whether a requirement is a URL or path rather than a project name.
fn is_location(body: &str) -> bool {
    body.starts_with(['.', '/', '~'])
        || body.contains(['/', '\\'])
        || body.contains("://")
        || body.starts_with("file:")
        || is_archive(body)
}

fn is_archive(text: &str) -> bool {
    text.ends_with(".whl") || SDIST_SUFFIXES.iter().any(|suffix| text.ends_with(suffix))
}

/// A PEP 508 requirement by name: `name[extras] specifiers ; marker`.
fn named(body: &str) -> Result<(String, Spec), String> {
    let body = body.split_once(';').map_or(body, |(head, _)| head).trim();
    let end = body
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(body.len());
    let name = &body[..end];
    if !is_project_name(name) {
        return Err("expected a project name, a URL or a path".to_owned());
    }
    let rest = strip_extras(&body[end..])?;
    let rest = rest.trim().trim_start_matches('(').trim_end_matches(')');
    Ok((name.to_owned(), specifier(rest.trim())?))
}

/// The text after a name with its `[extras]` removed.
fn strip_extras(text: &str) -> Result<&str, String> {
    let trimmed = text.trim_start();
    let Some(extras) = trimmed.strip_prefix('[') else {
        return Ok(text.trim_end_matches(|c: char| c.is_whitespace()));
    };
    match extras.split_once(']') {
        Some((_, rest)) => Ok(rest),
        None => Err("`[` of the extras is never closed".to_owned()),
    }
}

/// PEP 508's name rule: letters, digits, `-`, `_` and `.`, starting and
/// ending with a letter or digit.
fn is_project_name(name: &str) -> bool {
    let edges_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    edges_ok(name.chars().next())
        && edges_ok(name.chars().last())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A specifier set: pinned when one clause is `===v`, or `==v` without a
/// wildcard.
fn specifier(spec: &str) -> Result<Spec, String> {
    const OPERATORS: [&str; 8] = ["===", "==", "!=", "~=", "<=", ">=", "<", ">"];
    if spec.is_empty() {
        return Ok(Spec::Unpinned(String::new()));
    }
    let mut pin = None;
    for clause in spec.split(',').map(str::trim) {
        let Some(op) = OPERATORS.iter().find(|op| clause.starts_with(**op)) else {
            return Err(format!("`{clause}` is not a version specifier"));
        };
        let version = clause[op.len()..].trim();
        if version.is_empty() {
            return Err(format!("`{clause}` has no version"));
        }
        if *op == "===" || (*op == "==" && !version.contains('*')) {
            pin = Some(version.to_owned());
        }
    }
    Ok(pin.map_or_else(|| Spec::Unpinned(spec.to_owned()), Spec::Pinned))
}

/// A URL, repository or path requirement: the `#egg=` name (or empty)
/// and where it comes from.
fn location(text: &str) -> Result<(String, Spec), String> {
    let (target, fragment) = text.split_once('#').unwrap_or((text, ""));
    let target = strip_location_extras(target);
    let egg = fragment
        .split('&')
        .find_map(|part| part.strip_prefix("egg="))
        .map(|egg| egg.split('[').next().unwrap_or(egg).to_owned());
    if target.is_empty() {
        return Err("the requirement names no URL or path".to_owned());
    }
    let (origin, version, from_file) = if VCS_PREFIXES.iter().any(|p| target.starts_with(p)) {
        let (url, rev) = split_revision(target);
        let commit = is_commit(rev).then(|| rev.to_owned());
        let origin = Origin::Vcs {
            url: url.to_owned(),
            commit,
        };
        (origin, rev.to_owned(), None)
    } else if target.contains("://") && !target.starts_with("file:") {
        let origin = Origin::Url {
            url: target.to_owned(),
        };
        (origin, String::new(), archive_name(target))
    } else {
        let path = strip_file_scheme(target);
        let origin = Origin::Local {
            path: Some(path.trim_end_matches('/').to_owned()).filter(|p| !p.is_empty()),
        };
        (origin, String::new(), archive_name(path))
    };
    let (name, version) = match (egg, from_file) {
        (Some(egg), Some((_, version))) => (egg, version),
        (Some(egg), None) => (egg, version),
        (None, Some((name, version))) => (name, version),
        (None, None) => (String::new(), version),
    };
    Ok((name, Spec::Located { origin, version }))
}

/// A path without the `[extras]` pip allows after it (`-e .[dev]`).
fn strip_location_extras(target: &str) -> &str {
    match target
        .strip_suffix(']')
        .and_then(|head| head.rsplit_once('['))
    {
        Some((path, _)) if !target.contains("://") => path,
        _ => target,
    }
}

/// A `file:` URL's path, or the text itself.
fn strip_file_scheme(target: &str) -> &str {
    target
        .strip_prefix("file://")
        .or_else(|| target.strip_prefix("file:"))
        .unwrap_or(target)
}

/// A version control URL without its `@revision`, and the revision (empty
/// when there is none). The `@` of a user (`git@host`) is not a revision.
fn split_revision(target: &str) -> (&str, &str) {
    let path_start = match target.find("://") {
        Some(scheme_end) => {
            let host_start = scheme_end + 3;
            target[host_start..]
                .find('/')
                .map_or(target.len(), |i| host_start + i)
        }
        None => target.find(':').map_or(0, |i| i + 1),
    };
    match target[path_start..].rfind('@') {
        Some(at) => (&target[..path_start + at], &target[path_start + at + 1..]),
        None => (target, ""),
    }
}

/// Whether a revision is a commit id rather than a branch or tag.
fn is_commit(rev: &str) -> bool {
    (7..=40).contains(&rev.len()) && rev.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The project name and version in a wheel's or source archive's file
/// name (`name-1.0-py3-none-any.whl`, `name-1.0.tar.gz`).
fn archive_name(target: &str) -> Option<(String, String)> {
    let file = target.rsplit('/').next()?;
    if let Some(stem) = file.strip_suffix(".whl") {
        let mut parts = stem.split('-');
        let name = parts.next()?;
        let version = parts.next()?;
        return Some((name.to_owned(), version.to_owned()));
    }
    let stem = SDIST_SUFFIXES
        .iter()
        .find_map(|suffix| file.strip_suffix(suffix))?;
    let (name, version) = stem.rsplit_once('-')?;
    Some((name.to_owned(), version.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(line: &str) -> Entry {
        match Line::parse(line).unwrap() {
            Line::Requirement(entry) => entry,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn pins_with_extras_markers_and_hashes_are_read() {
        let found = entry(
            "requests[socks, security] == 2.31.0 ; python_version < \"3.11\" \
             --hash=sha256:aa --hash sha256:bb",
        );
        assert_eq!(found.name, "requests");
        assert_eq!(found.spec, Spec::Pinned("2.31.0".into()));
        assert_eq!(found.hashes, ["sha256:aa", "sha256:bb"]);
        assert_eq!(entry("PyYAML===6.0.1").spec, Spec::Pinned("6.0.1".into()));
    }

    #[test]
    fn ranges_and_wildcards_do_not_pin() {
        assert_eq!(entry("flask>=2,<3").spec, Spec::Unpinned(">=2,<3".into()));
        assert_eq!(entry("flask==2.*").spec, Spec::Unpinned("==2.*".into()));
        assert_eq!(entry("flask").spec, Spec::Unpinned(String::new()));
        assert!(Line::parse("flask=>2").is_err());
        assert_eq!(
            Line::parse("--frobnicate").unwrap(),
            Line::UnknownOption("--frobnicate".into())
        );
    }

    #[test]
    fn vcs_revisions_split_after_the_host_so_users_stay_in_the_url() {
        assert_eq!(
            split_revision("git+ssh://git@github.com/a/b.git@v1.0"),
            ("git+ssh://git@github.com/a/b.git", "v1.0")
        );
        assert_eq!(
            split_revision("git+https://github.com/a/b"),
            ("git+https://github.com/a/b", "")
        );
        assert!(is_commit("0123abc") && !is_commit("v1.0") && !is_commit("main"));
    }

    #[test]
    fn archives_name_their_project_and_version() {
        assert_eq!(
            archive_name("https://x/dist/typing_extensions-4.12.2-py3-none-any.whl"),
            Some(("typing_extensions".into(), "4.12.2".into()))
        );
        assert_eq!(
            archive_name("./vendor/my-lib-1.0.tar.gz"),
            Some(("my-lib".into(), "1.0".into()))
        );
        assert_eq!(archive_name("./src/app"), None);
    }

    #[test]
    fn options_take_their_values_in_every_spelling() {
        assert_eq!(split_option("-rbase.txt"), ("-r", "base.txt"));
        assert_eq!(split_option("-r base.txt"), ("-r", "base.txt"));
        assert_eq!(
            split_option("--index-url=https://x"),
            ("--index-url", "https://x")
        );
        assert_eq!(split_option("--no-index"), ("--no-index", ""));
        assert!(Line::parse("-r").is_err());
    }
}
