//! What a component imports, read from its type, and the capability each
//! import stands for.
//!
//! A plugin can only reach what it imports, and the host links only what it
//! offers, so the list of imports is the outer bound of what a plugin could
//! ever do, whatever its grants. `inspect` compares it with the grants: a
//! grant for an interface the plugin does not import is one it cannot use.

use serde::Serialize;
use wasmtime::Engine;
use wasmtime::component::Component;

/// A capability, as people reading an audit think of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    /// `wasi:filesystem/*`: files under the preopened directories.
    Files,
    /// `wasi:cli/environment`: the granted environment variables (and the
    /// empty argument list).
    Environment,
    /// `gantry:stage/exec`: host programs named in the `exec` grant.
    Exec,
    /// `gantry:stage/http`: requests to the `net` grant's destinations.
    Http,
    /// `gantry:stage/sign`: payloads signed by the host with the pipeline's
    /// key.
    Sign,
    /// `gantry:stage/log`: structured log lines.
    Log,
    /// `wasi:clocks/*`: the time of day and a monotonic clock.
    Clocks,
    /// `wasi:random/*`: random bytes.
    Random,
    /// `wasi:sockets/*`: linked, but every use is refused by the host.
    Sockets,
    /// `wasi:cli/stdin`, `stdout`, `stderr`, `terminal-*`: standard streams
    /// (stdin is closed; output is captured into the stage log).
    Stdio,
    /// Interfaces that give no access of their own: shared types, streams
    /// and polling (`wasi:io/*`), `wasi:cli/exit`.
    Support,
    /// An interface Gantry does not know; shown by its full name.
    Other,
}

impl Capability {
    /// The capability's name in reports: `files`, `exec`, …
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Files => "files",
            Capability::Environment => "environment",
            Capability::Exec => "exec",
            Capability::Http => "http",
            Capability::Sign => "sign",
            Capability::Log => "log",
            Capability::Clocks => "clocks",
            Capability::Random => "random",
            Capability::Sockets => "sockets",
            Capability::Stdio => "stdio",
            Capability::Support => "support",
            Capability::Other => "other",
        }
    }

    /// The capability an interface stands for, from its full name
    /// (`wasi:filesystem/types@0.2.6`); the version does not matter.
    pub fn of_interface(name: &str) -> Capability {
        let unversioned = name.split_once('@').map_or(name, |(head, _)| head);
        let Some((package, interface)) = unversioned.split_once('/') else {
            return Capability::Other;
        };
        match (package, interface) {
            ("wasi:filesystem", _) => Capability::Files,
            ("wasi:cli", "environment") => Capability::Environment,
            ("wasi:cli", "stdin" | "stdout" | "stderr") => Capability::Stdio,
            ("wasi:cli", i) if i.starts_with("terminal-") => Capability::Stdio,
            ("wasi:cli", "exit") => Capability::Support,
            ("wasi:clocks", _) => Capability::Clocks,
            ("wasi:random", _) => Capability::Random,
            ("wasi:sockets", _) => Capability::Sockets,
            ("wasi:io", _) => Capability::Support,
            ("gantry:stage", "exec") => Capability::Exec,
            ("gantry:stage", "http") => Capability::Http,
            ("gantry:stage", "sign") => Capability::Sign,
            ("gantry:stage", "log") => Capability::Log,
            ("gantry:stage", "types") => Capability::Support,
            _ => Capability::Other,
        }
    }
}

/// One interface a component imports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Import {
    /// The full name, e.g. `wasi:filesystem/preopens@0.2.6`.
    pub interface: String,
    /// What it gives the plugin.
    pub capability: Capability,
}

impl Import {
    /// An import named `interface`, with its capability.
    pub fn new(interface: &str) -> Import {
        Import {
            interface: interface.to_owned(),
            capability: Capability::of_interface(interface),
        }
    }
}

/// The interfaces `component` imports, sorted by capability, then name.
pub fn component_imports(component: &Component, engine: &Engine) -> Vec<Import> {
    let ty = component.component_type();
    let mut imports: Vec<Import> = ty
        .imports(engine)
        .map(|(name, _)| Import::new(name))
        .collect();
    imports.sort_by(|a, b| (a.capability, &a.interface).cmp(&(b.capability, &b.interface)));
    imports
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interfaces_map_to_capabilities_whatever_their_version() {
        let cases = [
            ("wasi:filesystem/preopens@0.2.6", Capability::Files),
            ("wasi:filesystem/types@0.2.0", Capability::Files),
            ("wasi:cli/environment@0.2.6", Capability::Environment),
            ("wasi:cli/stderr@0.2.6", Capability::Stdio),
            ("wasi:cli/terminal-stdout@0.2.6", Capability::Stdio),
            ("wasi:cli/exit@0.2.6", Capability::Support),
            ("wasi:io/streams@0.2.6", Capability::Support),
            ("wasi:clocks/wall-clock@0.2.6", Capability::Clocks),
            ("wasi:random/insecure-seed@0.2.6", Capability::Random),
            ("wasi:sockets/tcp@0.2.6", Capability::Sockets),
            ("gantry:stage/exec@0.1.0", Capability::Exec),
            ("gantry:stage/http@0.1.0", Capability::Http),
            ("gantry:stage/sign@0.1.0", Capability::Sign),
            ("gantry:stage/log@0.1.0", Capability::Log),
            ("gantry:stage/types@0.1.0", Capability::Support),
            ("wasi:http/outgoing-handler@0.2.6", Capability::Other),
            ("gantry:stage/keys@0.1.0", Capability::Other),
            ("bare-function", Capability::Other),
        ];
        for (name, expected) in cases {
            assert_eq!(Capability::of_interface(name), expected, "{name}");
        }
    }
}
