//! ed25519 keys: making them, keeping the private half private, and
//! writing the public half the way policy and roles files take it.
//!
//! A private key is a PKCS#8 PEM file (`-----BEGIN PRIVATE KEY-----`), the
//! form OpenSSL and most tools read, kept at mode 0600: [`load_private_key`]
//! refuses a file that its group or others could read. A public key is
//! written `ed25519:<base64 of its 32 bytes>`.
//!
//! Keys never enter a sandbox: only the host signs.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};

use crate::store::{self, StoreError};

/// How a public key's text starts, naming its algorithm.
pub const PUBLIC_KEY_PREFIX: &str = "ed25519:";

/// What can go wrong making, reading or writing a key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The system's random source failed.
    #[error("failed to draw random bytes for a new key: {0}")]
    Random(String),
    /// The key file could not be read.
    #[error("failed to read private key `{}`: {error}", path.display())]
    Read { path: PathBuf, error: io::Error },
    /// Its group or others may read the key file.
    #[error(
        "private key `{}` is readable by others (mode {mode:04o})\n  hint: run \
         `chmod 600 {}`; if others could read it, make a new key with `gantry keygen`",
        path.display(),
        path.display()
    )]
    NotPrivate { path: PathBuf, mode: u32 },
    /// The file is not a PKCS#8 PEM ed25519 private key.
    #[error(
        "`{}` is not an ed25519 private key in PKCS#8 PEM form: {reason}\n  hint: \
         `gantry keygen --out <file>` makes one",
        path.display()
    )]
    Malformed { path: PathBuf, reason: String },
    /// Writing a key file failed (or it exists already).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A new key pair from the operating system's random source.
///
/// # Errors
///
/// [`KeyError::Random`] when the random source fails.
pub fn generate() -> Result<SigningKey, KeyError> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(SigningKey::from_bytes(&secret))
}

/// Writes `key` to a new file at `path` as PKCS#8 PEM, mode 0600.
///
/// # Errors
///
/// Refuses to replace a file that exists ([`StoreError::Exists`]); fails
/// when the file cannot be written durably.
pub fn write_private_key(path: &Path, key: &SigningKey) -> Result<(), KeyError> {
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| KeyError::Malformed {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    store::write_new_private(path, pem.as_bytes())?;
    Ok(())
}

/// Reads a private key written by [`write_private_key`] (or any PKCS#8 PEM
/// ed25519 key).
///
/// # Errors
///
/// [`KeyError::NotPrivate`] when the file's group or others have any
/// permission on it; [`KeyError::Read`] or [`KeyError::Malformed`]
/// otherwise.
pub fn load_private_key(path: &Path) -> Result<SigningKey, KeyError> {
    let read = |error| KeyError::Read {
        path: path.to_owned(),
        error,
    };
    let mode = std::fs::metadata(path).map_err(read)?.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(KeyError::NotPrivate {
            path: path.to_owned(),
            mode: mode & 0o7777,
        });
    }
    let text = std::fs::read_to_string(path).map_err(read)?;
    SigningKey::from_pkcs8_pem(&text).map_err(|e| KeyError::Malformed {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

/// Signs `message` with `key`; the 64-byte ed25519 signature.
pub fn sign(key: &SigningKey, message: &[u8]) -> [u8; 64] {
    key.sign(message).to_bytes()
}

/// Whether `signature` is `key`'s signature of `message`.
///
/// Strict verification: it also refuses the weak keys and non-canonical
/// signatures that plain ed25519 verification would let through.
pub fn verify(key: &VerifyingKey, message: &[u8], signature: &[u8]) -> bool {
    let Ok(bytes) = <[u8; 64]>::try_from(signature) else {
        return false;
    };
    let signature = ed25519_dalek::Signature::from_bytes(&bytes);
    key.verify_strict(message, &signature).is_ok()
}

/// A public key as policy files write it: `ed25519:<base64>`.
pub fn public_key_text(key: &VerifyingKey) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(key.as_bytes());
    format!("{PUBLIC_KEY_PREFIX}{encoded}")
}

/// A key's id: the lowercase hex sha256 of its 32 public-key bytes.
///
/// Envelopes gantry signs with a pipeline or approver key carry it as their
/// `keyid`, and anyone holding the public key can compute it.
pub fn key_id(key: &VerifyingKey) -> String {
    use sha2::{Digest as _, Sha256};
    hex::encode(Sha256::digest(key.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest as _;

    #[test]
    fn a_written_key_loads_back_and_signs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signer.pem");
        let key = generate().unwrap();
        write_private_key(&path, &key).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{text}");

        let loaded = load_private_key(&path).unwrap();
        assert_eq!(loaded.to_bytes(), key.to_bytes());
        let signature = sign(&loaded, b"message");
        assert!(verify(&key.verifying_key(), b"message", &signature));
        assert!(!verify(&key.verifying_key(), b"massage", &signature));
        assert!(!verify(&key.verifying_key(), b"message", &signature[..63]));
    }

    #[test]
    fn an_existing_file_is_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signer.pem");
        std::fs::write(&path, "keep me").unwrap();
        let err = write_private_key(&path, &generate().unwrap()).unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep me");
    }

    #[test]
    fn a_key_others_can_read_is_refused_with_a_hint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signer.pem");
        write_private_key(&path, &generate().unwrap()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let err = load_private_key(&path).unwrap_err().to_string();
        assert!(err.contains("readable by others (mode 0640)"), "{err}");
        assert!(err.contains("chmod 600"), "{err}");
    }

    #[test]
    fn a_key_id_is_the_sha256_of_the_public_bytes() {
        let key = SigningKey::from_bytes(&[7; 32]).verifying_key();
        let id = key_id(&key);
        assert_eq!(id.len(), 64);
        assert_eq!(id, hex::encode(sha2::Sha256::digest(key.as_bytes())));
        let other = SigningKey::from_bytes(&[8; 32]).verifying_key();
        assert_ne!(key_id(&other), id);
    }

    #[test]
    fn public_keys_are_written_with_their_algorithm() {
        let key = SigningKey::from_bytes(&[7; 32]).verifying_key();
        let text = public_key_text(&key);
        assert!(text.starts_with("ed25519:"));
        assert_eq!(text.len(), "ed25519:".len() + 44);
    }
}
