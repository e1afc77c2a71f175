//! Package hashes as lockfiles write them, read into algorithm and hex.
//!
//! Lockfiles record integrity hashes in two shapes: `<alg>:<hex>` (Cargo,
//! pip's `--hash`, Poetry, Pipfile.lock, uv) and npm's Subresource
//! Integrity strings, `<alg>-<base64>`, possibly several separated by
//! spaces. SBOM formats want the algorithm by name and the digest in hex,
//! so [`parse_hashes`] converts both. What is neither (Go's `h1:` directory
//! hashes, an algorithm no SBOM format names, a digest of the wrong length)
//! is given back as written, for the SBOM to keep as a property.

use base64::Engine as _;

/// A digest algorithm both CycloneDX and SPDX name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Algorithm {
    /// MD5, 16 bytes.
    Md5,
    /// SHA-1, 20 bytes (old npm lockfiles).
    Sha1,
    /// SHA-256, 32 bytes.
    Sha256,
    /// SHA-384, 48 bytes.
    Sha384,
    /// SHA-512, 64 bytes (npm).
    Sha512,
}

impl Algorithm {
    /// The algorithm a lockfile's lower-case name stands for.
    fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "md5" => Some(Self::Md5),
            "sha1" => Some(Self::Sha1),
            "sha256" => Some(Self::Sha256),
            "sha384" => Some(Self::Sha384),
            "sha512" => Some(Self::Sha512),
            _ => None,
        }
    }

    /// The digest's length in bytes.
    fn len(self) -> usize {
        match self {
            Self::Md5 => 16,
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    /// CycloneDX's name: `SHA-256`.
    pub fn cyclonedx_name(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Sha1 => "SHA-1",
            Self::Sha256 => "SHA-256",
            Self::Sha384 => "SHA-384",
            Self::Sha512 => "SHA-512",
        }
    }

    /// SPDX's name: `SHA256`.
    pub fn spdx_name(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Sha384 => "SHA384",
            Self::Sha512 => "SHA512",
        }
    }
}

/// One digest: the algorithm and the value in lower-case hex.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Checksum {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The digest in lower-case hex, of the algorithm's length.
    pub hex: String,
}

/// The hashes of a package, split into those converted and those kept as
/// written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hashes {
    /// Digests an SBOM can state by algorithm.
    pub checksums: Vec<Checksum>,
    /// Hashes in no shape read here, as the lockfile wrote them.
    pub unconverted: Vec<String>,
}

/// Reads each of a package's hashes (see the module docs).
pub fn parse_hashes<'a>(written: impl IntoIterator<Item = &'a String>) -> Hashes {
    let mut hashes = Hashes::default();
    for text in written {
        let parts: Option<Vec<Checksum>> = text.split_whitespace().map(parse_one).collect();
        match parts {
            Some(parts) if !parts.is_empty() => hashes.checksums.extend(parts),
            _ => hashes.unconverted.push(text.clone()),
        }
    }
    hashes
}

/// Reads `<alg>:<hex>` or `<alg>-<base64>`.
fn parse_one(text: &str) -> Option<Checksum> {
    if let Some((name, hex)) = text.split_once(':') {
        let algorithm = Algorithm::from_name(name)?;
        let bytes = hex::decode(hex).ok()?;
        return checksum(algorithm, &bytes);
    }
    let (name, encoded) = text.split_once('-')?;
    let algorithm = Algorithm::from_name(name)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    checksum(algorithm, &bytes)
}

fn checksum(algorithm: Algorithm, bytes: &[u8]) -> Option<Checksum> {
    (bytes.len() == algorithm.len()).then(|| Checksum {
        algorithm,
        hex: hex::encode(bytes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(texts: &[&str]) -> Hashes {
        let owned: Vec<String> = texts.iter().map(|t| (*t).to_owned()).collect();
        parse_hashes(&owned)
    }

    #[test]
    fn colon_hex_hashes_are_read_and_lowercased() {
        let upper = format!("sha256:{}", "AB".repeat(32));
        let hashes = parse(&[&upper]);
        assert_eq!(hashes.checksums[0].algorithm, Algorithm::Sha256);
        assert_eq!(hashes.checksums[0].hex, "ab".repeat(32));
        assert!(hashes.unconverted.is_empty());
    }

    #[test]
    fn npm_integrity_strings_become_hex_with_their_algorithm() {
        // sha512 of the empty string, as npm writes it.
        let sri = "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==";
        let hashes = parse(&[sri]);
        assert_eq!(hashes.checksums.len(), 1);
        assert_eq!(hashes.checksums[0].algorithm, Algorithm::Sha512);
        assert!(hashes.checksums[0].hex.starts_with("cf83e1357eefb8bd"));
        assert_eq!(hashes.checksums[0].hex.len(), 128);

        let sha1 = "sha1-2jmj7l5rSw0yVb/vlWAYkK/YBwk=";
        let hashes = parse(&[sha1]);
        assert_eq!(hashes.checksums[0].algorithm, Algorithm::Sha1);
        assert_eq!(
            hashes.checksums[0].hex,
            "da39a3ee5e6b4b0d3255bfef95601890afd80709"
        );
    }

    #[test]
    fn several_integrity_hashes_in_one_string_are_all_kept() {
        let both =
            "sha1-2jmj7l5rSw0yVb/vlWAYkK/YBwk= sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
        let hashes = parse(&[both]);
        let algorithms: Vec<Algorithm> = hashes.checksums.iter().map(|c| c.algorithm).collect();
        assert_eq!(algorithms, [Algorithm::Sha1, Algorithm::Sha256]);
    }

    #[test]
    fn other_shapes_are_kept_as_written() {
        let go = "h1:Fw3xl8dd6bQXCm8dvPlHPh3R8Y5e9Yyq8EwgpoV0zWc=";
        let short = "sha256:abcd";
        let unknown = "blake2b:00";
        let not_base64 = "sha512-***";
        let hashes = parse(&[go, short, unknown, not_base64]);
        assert!(hashes.checksums.is_empty());
        assert_eq!(hashes.unconverted, [go, short, unknown, not_base64]);
    }

    #[test]
    fn names_follow_each_format() {
        assert_eq!(Algorithm::Sha512.cyclonedx_name(), "SHA-512");
        assert_eq!(Algorithm::Sha512.spdx_name(), "SHA512");
        assert_eq!(Algorithm::Sha1.cyclonedx_name(), "SHA-1");
    }
}
