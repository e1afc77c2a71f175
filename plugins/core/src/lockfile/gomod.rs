//! Go modules: `go.mod` with the `go.sum` beside it.
//!
//! `go.mod` names the main module (the project, a local root) and, since
//! Go 1.17, requires every module the build needs, the ones it does not
//! import directly marked `// indirect`. Those requirements are the
//! packages here, each a Go module from the module proxy with its version
//! as written (`v1.2.3`, a pseudo-version such as
//! `v0.0.0-20210101000000-abcdef123456`, `v2.0.0+incompatible`); a major
//! version suffix (`/v2`) is part of the module path.
//!
//! `replace` directives are applied as the go command applies them: a
//! module replaced by another module version is that module, and one
//! replaced by a directory is part of the project (local, with the
//! directory as its path). A replacement written for one version applies
//! only to it. `exclude` directives are kept to warn when a required
//! version is excluded, which the go command would step past.
//!
//! `go.sum` is read through the caller's companion callback and gives
//! each module its `h1:` hash (of the module's files; the `/go.mod` hash
//! of a module is not the module's). Lines for modules that are not in
//! the build list are old or unused and not packages. A missing `go.sum`
//! is a warning: the modules are still known, only not their hashes.
//!
//! `go.mod` does not record which module needs which, so the inventory
//! has no graph; `// indirect` is understood but changes nothing here.

use std::collections::{BTreeMap, BTreeSet};

use super::LockfileError;
use crate::package::{Ecosystem, Inventory, Origin, Package};

/// Reads a `go.mod` and its `go.sum`.
pub(super) fn parse(
    path: &str,
    text: &str,
    companion: &dyn Fn(&str) -> std::io::Result<String>,
) -> Result<Inventory, LockfileError> {
    let module_file = ModFile::parse(path, text)?;
    let mut inventory = Inventory::new(path, "go.mod", text.as_bytes());
    inventory.warnings = module_file.warnings.clone();
    inventory.roots.push(0);
    inventory.packages.push(Package {
        origin: Origin::Local {
            path: Some(".".to_owned()),
        },
        ..Package::new(Ecosystem::Go, &module_file.module, "")
    });
    let directives = Directives::new(&module_file);
    for require in &module_file.requires {
        inventory
            .packages
            .push(directives.resolve(path, require, &mut inventory.warnings));
    }
    match companion("go.sum") {
        Ok(sums) => add_hashes(path, &sums, &mut inventory),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            inventory.warnings.push(format!(
                "`{path}`: no go.sum beside it, so the modules have no hashes; run `go mod tidy`"
            ))
        }
        Err(error) => {
            return Err(LockfileError::Companion {
                path: path.to_owned(),
                needed: "go.sum".to_owned(),
                error,
            });
        }
    }
    Ok(inventory)
}

/// A module path and version as a directive writes them; the version is
/// empty for a directory or an unversioned `replace` left side.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ModuleRef {
    path: String,
    version: String,
    line: usize,
}

/// What `go.mod` says, directive by directive.
#[derive(Debug, Default)]
struct ModFile {
    module: String,
    requires: Vec<ModuleRef>,
    /// `old => new`, in file order.
    replaces: Vec<(ModuleRef, ModuleRef)>,
    excludes: Vec<ModuleRef>,
    warnings: Vec<String>,
}

/// Directives that do not change which modules the build uses.
const OTHER_DIRECTIVES: [&str; 6] = ["go", "toolchain", "godebug", "retract", "tool", "ignore"];

impl ModFile {
    fn parse(path: &str, text: &str) -> Result<Self, LockfileError> {
        let invalid = |line, message: String| LockfileError::Invalid {
            path: path.to_owned(),
            line: Some(line),
            message,
        };
        let mut file = Self::default();
        let mut block: Option<String> = None;
        for (index, raw) in text.lines().enumerate() {
            let number = index + 1;
            let line = raw.split_once("//").map_or(raw, |(code, _)| code).trim();
            if line.is_empty() {
                continue;
            }
            if let Some(verb) = &block {
                if line == ")" {
                    block = None;
                } else {
                    let verb = verb.clone();
                    file.directive(path, &verb, line, number)
                        .map_err(|m| invalid(number, m))?;
                }
                continue;
            }
            let (verb, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            match rest.trim() {
                "(" => block = Some(verb.to_owned()),
                rest => file
                    .directive(path, verb, rest, number)
                    .map_err(|m| invalid(number, m))?,
            }
        }
        if block.is_some() {
            return Err(invalid(
                text.lines().count(),
                "a `(` block is never closed".into(),
            ));
        }
        if file.module.is_empty() {
            let message = "no `module` directive; not a go.mod".to_owned();
            return Err(LockfileError::Invalid {
                path: path.to_owned(),
                line: None,
                message,
            });
        }
        Ok(file)
    }

    /// One directive (or one line of a directive's block).
    fn directive(&mut self, path: &str, verb: &str, args: &str, line: usize) -> Result<(), String> {
        match verb {
            "module" => self.module = unquote(args).to_owned(),
            "require" => self.requires.push(versioned(args, line, "require")?),
            "exclude" => self.excludes.push(versioned(args, line, "exclude")?),
            "replace" => self.replaces.push(replacement(args, line)?),
            verb if OTHER_DIRECTIVES.contains(&verb) => {}
            verb => self.warnings.push(format!(
                "`{path}`, line {line}: unknown directive `{verb}` ignored"
            )),
        }
        Ok(())
    }
}

/// The `replace` and `exclude` directives by module path, so that each
/// requirement is looked up instead of compared with every directive.
struct Directives<'a> {
    /// Replacements of each module path, in file order.
    replaces: BTreeMap<&'a str, Vec<&'a (ModuleRef, ModuleRef)>>,
    /// Excluded modules as `(path, version)`.
    excludes: BTreeSet<(&'a str, &'a str)>,
}

impl<'a> Directives<'a> {
    fn new(file: &'a ModFile) -> Self {
        let mut replaces: BTreeMap<&str, Vec<_>> = BTreeMap::new();
        for replace in &file.replaces {
            replaces
                .entry(replace.0.path.as_str())
                .or_default()
                .push(replace);
        }
        let excludes = file.excludes.iter();
        Self {
            replaces,
            excludes: excludes
                .map(|module| (module.path.as_str(), module.version.as_str()))
                .collect(),
        }
    }

    /// The package a requirement becomes, once replaced and checked
    /// against the excludes.
    fn resolve(&self, path: &str, require: &ModuleRef, warnings: &mut Vec<String>) -> Package {
        let key = (require.path.as_str(), require.version.as_str());
        if self.excludes.contains(&key) {
            warnings.push(format!(
                "`{path}`, line {}: `{} {}` is required but excluded; the go command \
                 would use the next version, which go.mod does not name",
                require.line, require.path, require.version
            ));
        }
        // A replacement of this exact version wins over one of every
        // version, as in the go command.
        let replaced = self
            .replaces
            .get(require.path.as_str())
            .into_iter()
            .flatten()
            .filter(|(old, _)| old.version.is_empty() || old.version == require.version)
            .max_by_key(|(old, _)| !old.version.is_empty());
        match replaced {
            Some((_, new)) if new.version.is_empty() => Package {
                origin: Origin::Local {
                    path: Some(new.path.clone()),
                },
                ..Package::new(Ecosystem::Go, &require.path, &require.version)
            },
            Some((_, new)) => Package::new(Ecosystem::Go, &new.path, &new.version),
            None => Package::new(Ecosystem::Go, &require.path, &require.version),
        }
    }
}

/// `path version` of a `require` or `exclude`.
fn versioned(args: &str, line: usize, verb: &str) -> Result<ModuleRef, String> {
    let words: Vec<&str> = args.split_whitespace().map(unquote).collect();
    let [path, version] = words[..] else {
        return Err(format!(
            "`{verb} {args}`: expected a module path and a version"
        ));
    };
    check_version(path, version)?;
    Ok(ModuleRef {
        path: path.to_owned(),
        version: version.to_owned(),
        line,
    })
}

/// `old [version] => new [version]`; a new side without a version is a
/// directory.
fn replacement(args: &str, line: usize) -> Result<(ModuleRef, ModuleRef), String> {
    let Some((old, new)) = args.split_once("=>") else {
        return Err(format!("`replace {args}`: expected `=>`"));
    };
    let side = |text: &str| -> Result<ModuleRef, String> {
        let words: Vec<&str> = text.split_whitespace().map(unquote).collect();
        let (path, version) = match words[..] {
            [path] => (path, ""),
            [path, version] => {
                check_version(path, version)?;
                (path, version)
            }
            _ => return Err(format!("`replace {args}`: expected a path and a version")),
        };
        let path = path.to_owned();
        let version = version.to_owned();
        Ok(ModuleRef {
            path,
            version,
            line,
        })
    };
    let (old, new) = (side(old)?, side(new)?);
    if new.version.is_empty() && !is_directory(&new.path) {
        return Err(format!(
            "`replace {args}`: a module replacement needs a version; \
             a directory must start with `./`, `../` or `/`"
        ));
    }
    Ok((old, new))
}

/// Whether a replacement path is a directory rather than a module path.
fn is_directory(path: &str) -> bool {
    path.starts_with("./") || path.starts_with("../") || path.starts_with('/') || path == "."
}

/// A module version must start with `v` and have a major version.
fn check_version(path: &str, version: &str) -> Result<(), String> {
    let major = version
        .strip_prefix('v')
        .and_then(|rest| rest.split('.').next());
    match major {
        Some(major) if !major.is_empty() && major.bytes().all(|b| b.is_ascii_digit()) => Ok(()),
        _ => Err(format!(
            "module `{path}` has version `{version}`, which is not a Go module version (`v1.2.3`)"
        )),
    }
}

/// A path or version without the quotes go.mod allows around it.
fn unquote(word: &str) -> &str {
    word.trim_matches(|c| c == '"' || c == '`')
}

/// The file `name` in the directory of `path`, for messages.
fn beside(path: &str, name: &str) -> String {
    match path.rfind(['/', '\\']) {
        Some(end) => format!("{}{name}", &path[..=end]),
        None => name.to_owned(),
    }
}

/// Gives each registry module its `h1:` hash from `go.sum`, and warns of
/// modules go.sum does not list at all.
fn add_hashes(path: &str, sums: &str, inventory: &mut Inventory) {
    let mut by_module: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
    for (index, line) in sums.lines().enumerate() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words[..] {
            [] => {}
            [module, version, hash] if hash.starts_with("h1:") => {
                by_module.entry((module, version)).or_default().push(hash);
            }
            _ => inventory.warnings.push(format!(
                "`{}`, line {}: not `<module> <version> h1:<hash>`",
                beside(path, "go.sum"),
                index + 1
            )),
        }
    }
    for package in inventory
        .packages
        .iter_mut()
        .filter(|p| !p.origin.is_local())
    {
        let module = by_module.get(&(package.name.as_str(), package.version.as_str()));
        if let Some(hashes) = module {
            package.hashes = hashes.iter().map(|hash| (*hash).to_owned()).collect();
            continue;
        }
        let go_mod_version = format!("{}/go.mod", package.version);
        if !by_module.contains_key(&(package.name.as_str(), go_mod_version.as_str())) {
            inventory.warnings.push(format!(
                "`{path}`: go.sum has no entry for `{package}`; run `go mod tidy`"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GO_MOD: &str =
        include_str!("../../tests/fixtures/lockfiles/go/replace-and-versions/go.mod");
    const GO_SUM: &str =
        include_str!("../../tests/fixtures/lockfiles/go/replace-and-versions/go.sum");

    fn hashes_of(inventory: &Inventory, name: &str) -> Vec<String> {
        let package = inventory.packages.iter().find(|p| p.name == name).unwrap();
        package.hashes.clone()
    }

    #[test]
    fn modules_take_their_h1_hash_and_never_the_go_mod_one() {
        let inventory = parse("go.mod", GO_MOD, &|_| Ok(GO_SUM.to_owned())).unwrap();
        assert_eq!(
            hashes_of(&inventory, "github.com/go-chi/chi/v5"),
            ["h1:9euLV5sTrTNTRUU9POmDUvfxyj6LAABLUcEWO+JJb4s="]
        );
        // The replacement's hash, not the replaced module's.
        assert_eq!(
            hashes_of(&inventory, "go.uber.org/mock"),
            ["h1:VcM4ZOtdbR4f6VXfiOpwpVJDL6lCReaZ6mw31wqh7KU="]
        );
        assert!(hashes_of(&inventory, "example.com/gantry/tools").is_empty());
        assert!(inventory.warnings.is_empty(), "{:?}", inventory.warnings);
    }

    #[test]
    fn go_sum_is_asked_for_beside_go_mod_and_unreadable_is_an_error() {
        let asked = std::cell::RefCell::new(Vec::new());
        let denied = |name: &str| {
            asked.borrow_mut().push(name.to_owned());
            Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied))
        };
        let error = parse("app/go.mod", GO_MOD, &denied).unwrap_err();
        assert_eq!(*asked.borrow(), ["go.sum"]);
        assert!(error.to_string().contains("needs `go.sum`"), "{error}");
    }

    #[test]
    fn versions_must_be_go_module_versions() {
        assert!(check_version("m", "v1.2.3").is_ok());
        assert!(check_version("m", "v0.0.0-20210101000000-abcdef123456").is_ok());
        assert!(check_version("m", "v2.0.0+incompatible").is_ok());
        assert!(check_version("m", "1.2.3").is_err());
        assert!(check_version("m", "vX").is_err());
    }

    #[test]
    fn a_replacement_for_one_version_beats_one_for_all() {
        let text = "module m\nrequire a.example/x v1.0.0\n\
                    replace a.example/x => b.example/x v2.0.0\n\
                    replace a.example/x v1.0.0 => ../x\n";
        let inventory = parse("go.mod", text, &|_| Ok(String::new())).unwrap();
        let x = &inventory.packages[1];
        assert_eq!(
            (x.name.as_str(), x.version.as_str()),
            ("a.example/x", "v1.0.0")
        );
        assert_eq!(
            x.origin,
            Origin::Local {
                path: Some("../x".into())
            }
        );
    }
}
