//! The roles file: which identities hold which roles.
//!
//! ```toml
//! [identity.officer]
//! roles = ["SECURITY_OFFICER"]
//! [identity.dev]
//! roles = ["DEVELOPER"]
//! ```
//!
//! An approval gate names a role; `gantry approve --as <identity>` is
//! accepted only for an identity that holds it. An identity may have its
//! own key, `public-key = "ed25519:<base64>"`: its decisions must then be
//! signed with the private half (`gantry approve --key`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use toml::Spanned;

use super::error::{PipelineError, Scope};
use super::model::{RawIdentity, RawRoles};
use super::names::is_deceptive_char;
use super::parse::parse_toml;

/// Identities and the roles each holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Roles {
    identities: BTreeMap<String, Vec<String>>,
    /// `public-key` by identity, as written (checked to parse).
    keys: BTreeMap<String, String>,
}

impl Roles {
    /// The roles `identity` holds, or `None` for an identity the file does
    /// not list.
    pub fn roles_of(&self, identity: &str) -> Option<&[String]> {
        self.identities.get(identity).map(Vec::as_slice)
    }

    /// Whether `identity` is listed and holds `role`.
    pub fn has_role(&self, identity: &str, role: &str) -> bool {
        self.roles_of(identity)
            .is_some_and(|roles| roles.iter().any(|r| r == role))
    }

    /// The public key (`ed25519:<base64>`) bound to `identity`, if any.
    pub fn public_key(&self, identity: &str) -> Option<&str> {
        self.keys.get(identity).map(String::as_str)
    }

    /// The identities whose bound key is `public_key`, in name order.
    pub fn identities_with_key<'a>(
        &'a self,
        public_key: &'a str,
    ) -> impl Iterator<Item = &'a str> + 'a {
        self.keys
            .iter()
            .filter(move |(_, key)| key.as_str() == public_key)
            .map(|(identity, _)| identity.as_str())
    }

    /// The identities holding `role`, in name order.
    pub fn holders<'a>(&'a self, role: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.identities
            .iter()
            .filter(move |(_, roles)| roles.iter().any(|r| r == role))
            .map(|(identity, _)| identity.as_str())
    }
}

/// Reads and validates a roles file.
///
/// # Errors
///
/// Returns [`PipelineError`] when the file cannot be read, is not valid
/// TOML, has unknown keys, or lists an empty role name.
pub fn load_roles(path: &Path) -> Result<Roles, PipelineError> {
    read_roles(path, path.display().to_string())
}

/// Reads a roles file, naming it `display` in messages.
pub(super) fn read_roles(path: &Path, display: String) -> Result<Roles, PipelineError> {
    let source = super::read_source(path, display)?;
    let raw: RawRoles = parse_toml(&source)?;
    let top = Scope::file(&source);

    let mut identities = BTreeMap::new();
    let mut keys = BTreeMap::new();
    for (identity, mut entry) in raw.identity {
        if let Some(key) = entry.get_mut().public_key.take() {
            keys.insert(identity.clone(), check_public_key(&top, &identity, key)?);
        }
        let roles = check_identity(&top, &identity, entry)?;
        identities.insert(identity, roles);
    }
    Ok(Roles { identities, keys })
}

/// Checks `[identity.<name>] public-key`: an ed25519 key as `gantry keygen`
/// writes it.
fn check_public_key(
    top: &Scope<'_>,
    identity: &str,
    key: Spanned<String>,
) -> Result<String, PipelineError> {
    match super::PublicKey::parse(key.get_ref()) {
        Ok(_) => Ok(key.into_inner()),
        Err(problem) => Err(PipelineError::InvalidValue {
            at: top.at(key.span(), &format!("identity.{identity}.public-key")),
            message: format!(
                "`{}` is not a public key: {problem}\n  hint: `gantry keygen --out <file>` \
                 prints one as `ed25519:<base64>`",
                key.get_ref()
            ),
        }),
    }
}

/// Checks one `[identity.<name>]`: its name and role names must read as
/// what they are, since reviewers and the audit trail show them.
fn check_identity(
    top: &Scope<'_>,
    identity: &str,
    entry: Spanned<RawIdentity>,
) -> Result<Vec<String>, PipelineError> {
    if identity.chars().any(is_deceptive_char) {
        return Err(PipelineError::DeceptiveText {
            at: top.at(entry.span(), "identity"),
            what: "the identity",
            text: identity.to_owned(),
        });
    }
    let key = format!("identity.{identity}.roles");
    let roles = entry.into_inner().roles;
    if let Some(empty) = roles.iter().find(|role| role.get_ref().trim().is_empty()) {
        let at = top.at(empty.span(), &key);
        return Err(PipelineError::Empty {
            at,
            what: "a role name",
        });
    }
    if let Some(bad) = roles
        .iter()
        .find(|r| r.get_ref().chars().any(is_deceptive_char))
    {
        return Err(PipelineError::DeceptiveText {
            at: top.at(bad.span(), &key),
            what: "the role name",
            text: bad.get_ref().clone(),
        });
    }
    Ok(roles.into_iter().map(Spanned::into_inner).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(text: &str) -> Result<Roles, PipelineError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("roles.toml");
        std::fs::write(&path, text).expect("write roles");
        load_roles(&path)
    }

    #[test]
    fn identities_hold_the_roles_listed_for_them() {
        let roles = roles(
            "[identity.officer]\nroles = [\"SECURITY_OFFICER\"]\n\
             [identity.dev]\nroles = [\"DEVELOPER\"]\n",
        )
        .expect("valid roles file");
        assert!(roles.has_role("officer", "SECURITY_OFFICER"));
        assert!(!roles.has_role("dev", "SECURITY_OFFICER"));
        assert!(!roles.has_role("nobody", "DEVELOPER"));
        assert_eq!(roles.roles_of("dev"), Some(&["DEVELOPER".to_owned()][..]));
        assert_eq!(roles.roles_of("nobody"), None);
        assert_eq!(
            roles.holders("SECURITY_OFFICER").collect::<Vec<_>>(),
            ["officer"]
        );
    }

    #[test]
    fn unknown_keys_in_a_roles_file_are_refused_with_their_line() {
        let error = roles("[identity.dev]\nroles = [\"DEVELOPER\"]\npubkey = \"x\"\n")
            .expect_err("unknown key");
        let text = error.to_string();
        assert!(
            text.contains(":3: `identity.dev`: unknown key `pubkey`"),
            "{text}"
        );
    }

    #[test]
    fn a_bound_public_key_is_kept_and_a_malformed_one_named_with_its_line() {
        let key = crate::audit::keys::public_key_text(
            &ed25519_dalek::SigningKey::from_bytes(&[9; 32]).verifying_key(),
        );
        let text = format!(
            "[identity.officer]\nroles = [\"SECURITY_OFFICER\"]\npublic-key = \"{key}\"\n\
             [identity.dev]\nroles = [\"DEVELOPER\"]\n"
        );
        let parsed = roles(&text).expect("valid roles file");
        assert_eq!(parsed.public_key("officer"), Some(key.as_str()));
        assert_eq!(parsed.public_key("dev"), None);
        assert_eq!(
            parsed.identities_with_key(&key).collect::<Vec<_>>(),
            ["officer"]
        );

        let error =
            roles("[identity.dev]\nroles = [\"DEVELOPER\"]\npublic-key = \"ed25519:AAAA\"\n")
                .expect_err("short key");
        let text = error.to_string();
        assert!(
            text.contains(
                ":3: `identity.dev.public-key`: `ed25519:AAAA` is not a public key: \
                           an ed25519 public key is 32 bytes"
            ),
            "{text}"
        );
    }

    #[test]
    fn identities_and_roles_with_terminal_escapes_are_refused() {
        let error = roles("[identity.\"officer\\u001b[8m\"]\nroles = [\"R\"]\n")
            .expect_err("escape in identity");
        let text = error.to_string();
        assert!(
            text.contains(":1: `identity`: the identity \"officer\\u{1b}[8m\" has a control"),
            "{text}"
        );
        let error = roles("[identity.dev]\nroles = [\"SECURITY\\u202eOFFICER\"]\n")
            .expect_err("bidi override in role");
        let text = error.to_string();
        assert!(
            text.contains(":2: `identity.dev.roles`: the role name \"SECURITY\\u{202e}OFFICER\""),
            "{text}"
        );
    }

    #[test]
    fn empty_role_names_are_refused() {
        let error = roles("[identity.dev]\nroles = [\"\"]\n").expect_err("empty role");
        let text = error.to_string();
        assert!(
            text.contains(":2: `identity.dev.roles`: a role name may not be empty"),
            "{text}"
        );
    }
}
