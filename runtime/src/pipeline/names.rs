//! Validated names: stage ids and mount names.
//!
//! Both become path components on disk (`runs/<run>/stages/<id>/`,
//! `/mnt/<name>`), so they share one conservative rule: lowercase ASCII
//! letters, digits and `-`, not starting with `-`, 1 to 63 characters. That
//! rules out `.`, `..`, separators and anything a file system might fold.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The longest name allowed, so that it fits a DNS label and any file system.
pub const MAX_NAME_LEN: usize = 63;

/// Checks `name` against the naming rule, saying which part it breaks.
pub(super) fn check_name(name: &str) -> Result<(), &'static str> {
    let Some(first) = name.chars().next() else {
        return Err("it is empty");
    };
    if name.len() > MAX_NAME_LEN {
        return Err("it is longer than 63 characters");
    }
    if first == '-' {
        return Err("it starts with `-`");
    }
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    if !name.chars().all(allowed) {
        return Err("it has a character other than a-z, 0-9 and `-`");
    }
    Ok(())
}

/// Whether `c` can disguise text on a terminal: a control character
/// (escapes, line breaks), or an invisible one that reorders or hides the
/// text around it (bidirectional overrides, zero-width characters).
pub fn is_deceptive_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200b}'..='\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{feff}'
        )
}

/// Writes every character [`is_deceptive_char`] flags as its escape
/// (`\u{1b}`, `\u{202e}`), so text from a pipeline or a plugin can be
/// printed safely; with `keep_layout`, line breaks and tabs stay as they
/// are (for multi-line text such as a reviewer's summary).
pub fn escape_deceptive(text: &str, keep_layout: bool) -> String {
    let mut shown = String::with_capacity(text.len());
    for c in text.chars() {
        let layout = keep_layout && (c == '\n' || c == '\t');
        if is_deceptive_char(c) && !layout {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
    }
    shown
}

/// Declares a string newtype whose values obey [`check_name`].
macro_rules! validated_name {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates `name`.
            ///
            /// # Errors
            ///
            /// Returns why the name breaks the naming rule.
            pub fn new(name: impl Into<String>) -> Result<Self, &'static str> {
                let name = name.into();
                check_name(&name)?;
                Ok(Self(name))
            }

            /// The name as written.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;

            fn try_from(name: String) -> Result<Self, String> {
                Self::new(name.clone())
                    .map_err(|reason| format!("invalid name `{name}`: {reason}"))
            }
        }

        impl From<$name> for String {
            fn from(name: $name) -> String {
                name.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

validated_name!(
    /// The id of a stage, unique within its pipeline: `[a-z0-9][a-z0-9-]*`,
    /// at most 63 characters.
    StageId
);

validated_name!(
    /// The name of a mount, declared under `[pipeline.mounts]` and granted as
    /// `mount:<name>`; the same rule as [`StageId`].
    MountName
);

impl MountName {
    /// The built-in mount holding the embedded OCI registry.
    pub const REGISTRY: &str = "registry";

    /// Whether this is the built-in `registry` mount.
    pub fn is_registry(&self) -> bool {
        self.0 == Self::REGISTRY
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_of_lowercase_letters_digits_and_dashes_are_valid() {
        for id in ["build", "scan-2", "0", "a-b-c", &"a".repeat(63)] {
            assert!(StageId::new(id).is_ok(), "{id}");
        }
    }

    #[test]
    fn ids_that_could_misbehave_as_paths_are_rejected() {
        let cases = [
            ("", "it is empty"),
            ("-scan", "it starts with `-`"),
            ("Scan", "it has a character other than a-z, 0-9 and `-`"),
            ("a_b", "it has a character other than a-z, 0-9 and `-`"),
            ("..", "it has a character other than a-z, 0-9 and `-`"),
            ("a/b", "it has a character other than a-z, 0-9 and `-`"),
            ("é", "it has a character other than a-z, 0-9 and `-`"),
        ];
        for (id, reason) in cases {
            assert_eq!(StageId::new(id), Err(reason), "{id:?}");
        }
        let long = "a".repeat(64);
        assert_eq!(StageId::new(long), Err("it is longer than 63 characters"));
    }

    #[test]
    fn control_and_invisible_reordering_characters_are_deceptive() {
        for c in [
            '\n', '\u{1b}', '\0', '\u{202e}', '\u{2066}', '\u{200b}', '\u{feff}',
        ] {
            assert!(is_deceptive_char(c), "{c:?}");
        }
        for c in ['a', ' ', 'é', '…', '\u{2010}'] {
            assert!(!is_deceptive_char(c), "{c:?}");
        }
    }

    #[test]
    fn names_deserialize_only_when_valid() {
        let ok: MountName = serde_json::from_str("\"osv\"").expect("valid name");
        assert_eq!(ok, "osv");
        assert!(serde_json::from_str::<MountName>("\"O S V\"").is_err());
    }

    #[test]
    fn registry_is_recognised_as_the_built_in_mount() {
        assert!(MountName::new("registry").expect("valid").is_registry());
        assert!(!MountName::new("osv").expect("valid").is_registry());
    }

    #[test]
    fn escape_deceptive_escapes_forged_lines_and_keeps_layout_on_request() {
        let forged = "done\n2026-01-01 WARN forged \u{1b}[2J\u{202e}é";
        assert_eq!(
            escape_deceptive(forged, false),
            "done\\n2026-01-01 WARN forged \\u{1b}[2J\\u{202e}é"
        );
        assert_eq!(escape_deceptive("a\n\tb\u{1b}", true), "a\n\tb\\u{1b}");
    }
}
