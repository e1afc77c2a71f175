//! OCI image layouts (image-spec 1.1): writing one image reproducibly,
//! reading and verifying a layout, and copying an image between layouts.
//!
//! A layout is a directory holding `oci-layout`, `index.json` and content
//! addressed blobs under `blobs/sha256/`. The build plugin writes one with
//! [`write_layout`], the promote plugin copies it into a registry with
//! [`copy_image`], and both trust a blob only after its digest and size
//! have been checked.
//!
//! Images are reproducible: the layer's entries are sorted, owned by root,
//! dated at the epoch and given fixed modes, and the gzip header carries no
//! name or time, so the same files give byte-identical blobs and the same
//! manifest digest.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use flate2::{Compression, GzBuilder};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// Media type of an image index, and so of a whole layout.
pub const MEDIA_TYPE_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Media type of an image manifest.
pub const MEDIA_TYPE_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Media type of an image configuration.
pub const MEDIA_TYPE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// Media type of a gzip-compressed tar layer.
pub const MEDIA_TYPE_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// Annotation naming a manifest's tag inside a layout's `index.json`.
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// Annotation giving an image's human-readable title.
pub const ANNOTATION_TITLE: &str = "org.opencontainers.image.title";
/// The `imageLayoutVersion` this module writes and reads.
pub const LAYOUT_VERSION: &str = "1.0.0";

/// Modification time of every layer entry: the Unix epoch.
const ENTRY_MTIME: u64 = 0;
/// Mode of the directories the layer creates above each file.
const DIRECTORY_MODE: u32 = 0o755;

/// Why an OCI layout could not be written, read or copied.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    /// A file or directory could not be read or written.
    #[error("failed to {action} `{path}`")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A JSON document of the layout is malformed.
    #[error("failed to parse `{path}`")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// A digest is not `sha256:` followed by 64 lowercase hex digits.
    #[error("malformed digest `{0}`: expected `sha256:` and 64 lowercase hex digits")]
    InvalidDigest(String),
    /// A blob's content does not hash to its digest.
    #[error("blob `{path}` has digest `{actual}`, expected `{expected}`")]
    DigestMismatch {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    /// A blob's length differs from its descriptor's size.
    #[error("blob `{path}` is {actual} bytes, its descriptor says {expected}")]
    SizeMismatch {
        path: PathBuf,
        expected: u64,
        actual: u64,
    },
    /// The layout's `oci-layout` names a version this module does not read.
    #[error("layout `{path}` has imageLayoutVersion `{version}`, expected `1.0.0`")]
    UnsupportedLayout { path: PathBuf, version: String },
    /// The index of a single-image layout holds no manifest or several.
    #[error("index `{path}` holds {count} manifests, expected exactly one")]
    ManifestCount { path: PathBuf, count: usize },
    /// A descriptor points at something other than what is expected there.
    #[error("descriptor `{digest}` has media type `{actual}`, expected `{expected}`")]
    UnexpectedMediaType {
        digest: String,
        expected: &'static str,
        actual: String,
    },
    /// A path to put in the layer is empty, absolute, or climbs with `..`.
    #[error("invalid layer path `{path}`: {reason}")]
    InvalidLayerPath { path: String, reason: &'static str },
    /// Two files were given the same path in the layer.
    #[error("layer path `{0}` is given twice")]
    DuplicateLayerPath(String),
    /// The layer archive could not be assembled.
    #[error("failed to assemble the layer archive")]
    Layer(#[source] io::Error),
}

/// A content digest, `sha256:<64 lowercase hex digits>`.
///
/// Validated on parse, so a digest read from a descriptor can name a blob
/// file without being able to climb out of `blobs/sha256/`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Digest(String);

impl Digest {
    /// The sha256 digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Digest(format!("sha256:{}", hex::encode(Sha256::digest(bytes))))
    }

    /// The 64 hex digits, which name the blob file.
    pub fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }

    /// The digest as written in descriptors, `sha256:<hex>`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Digest {
    type Error = OciError;

    fn try_from(text: String) -> Result<Self, OciError> {
        let valid = text.strip_prefix("sha256:").is_some_and(|hex| {
            hex.len() == 64
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
        if valid {
            Ok(Digest(text))
        } else {
            Err(OciError::InvalidDigest(text))
        }
    }
}

impl From<Digest> for String {
    fn from(digest: Digest) -> String {
        digest.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A reference to a blob: what it is, its digest and its size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Descriptor {
    /// The descriptor of `bytes` as a blob of `media_type`.
    pub fn of(media_type: &str, bytes: &[u8]) -> Self {
        Descriptor {
            media_type: media_type.to_owned(),
            digest: Digest::of(bytes),
            size: bytes.len() as u64,
            annotations: BTreeMap::new(),
        }
    }

    /// The `org.opencontainers.image.ref.name` annotation, the tag.
    pub fn ref_name(&self) -> Option<&str> {
        self.annotations
            .get(ANNOTATION_REF_NAME)
            .map(String::as_str)
    }
}

/// A layout's `index.json`: the manifests it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub manifests: Vec<Descriptor>,
}

impl Default for Index {
    fn default() -> Self {
        Index {
            schema_version: 2,
            media_type: Some(MEDIA_TYPE_INDEX.to_owned()),
            manifests: vec![],
        }
    }
}

/// An image manifest: its configuration and layers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

/// The parts of an image configuration Gantry writes and reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    pub architecture: String,
    pub os: String,
    #[serde(default)]
    pub config: ExecutionConfig,
    pub rootfs: RootFs,
}

/// How a container of the image starts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionConfig {
    #[serde(rename = "Entrypoint", default, skip_serializing_if = "Vec::is_empty")]
    pub entrypoint: Vec<String>,
}

/// The uncompressed digests of the image's layers, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFs {
    #[serde(rename = "type")]
    pub kind: String,
    pub diff_ids: Vec<Digest>,
}

/// One file to put in the image's layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerFile {
    /// Where the file goes, relative to the image root, e.g. `app/server`.
    pub path: String,
    /// Permission bits, e.g. `0o755`.
    pub mode: u32,
    pub contents: Vec<u8>,
}

/// Everything needed to write a single-layer image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSpec {
    /// The image's name, recorded as its title annotation.
    pub name: String,
    /// The image's version, recorded as its tag (`ref.name`).
    pub version: String,
    pub entrypoint: Vec<String>,
    pub files: Vec<LayerFile>,
}

/// A verified image read from a layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// The manifest's descriptor as the index lists it.
    pub descriptor: Descriptor,
    pub manifest: Manifest,
    pub config: ImageConfig,
}

/// A whole layout: its index and the image it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub index: Index,
    pub image: Image,
}

/// Writes `image` as a new OCI layout in `dir`, for linux/amd64.
///
/// Returns the manifest's descriptor, whose digest identifies the image.
/// Writing the same spec twice gives byte-identical files.
///
/// # Errors
///
/// Returns [`OciError::InvalidLayerPath`] or [`OciError::DuplicateLayerPath`]
/// for a bad file list, and [`OciError::Io`] when a file cannot be written.
pub fn write_layout(dir: &Path, image: &ImageSpec) -> Result<Descriptor, OciError> {
    let tar = layer_tar(&image.files)?;
    let layer = gzip(&tar)?;
    let layer_descriptor = Descriptor::of(MEDIA_TYPE_LAYER_GZIP, &layer);
    let config = to_json(&ImageConfig {
        architecture: "amd64".to_owned(),
        os: "linux".to_owned(),
        config: ExecutionConfig {
            entrypoint: image.entrypoint.clone(),
        },
        rootfs: RootFs {
            kind: "layers".to_owned(),
            diff_ids: vec![Digest::of(&tar)],
        },
    });
    let manifest = to_json(&Manifest {
        schema_version: 2,
        media_type: Some(MEDIA_TYPE_MANIFEST.to_owned()),
        config: Descriptor::of(MEDIA_TYPE_CONFIG, &config),
        layers: vec![layer_descriptor],
    });

    let mut descriptor = Descriptor::of(MEDIA_TYPE_MANIFEST, &manifest);
    descriptor
        .annotations
        .insert(ANNOTATION_REF_NAME.to_owned(), image.version.clone());
    descriptor
        .annotations
        .insert(ANNOTATION_TITLE.to_owned(), image.name.clone());

    for blob in [&layer, &config, &manifest] {
        write_blob(dir, blob)?;
    }
    write_layout_marker(dir)?;
    let index = Index {
        manifests: vec![descriptor.clone()],
        ..Index::default()
    };
    write_atomic(&dir.join("index.json"), &to_json_pretty(&index))?;
    Ok(descriptor)
}

/// Reads the layout in `dir`, which must hold exactly one image, and checks
/// every blob in it.
///
/// # Errors
///
/// Returns an error when a file is missing or malformed, the index holds no
/// manifest or several, or any blob under `blobs/sha256/` does not match its
/// digest (or, for the image's blobs, its size).
pub fn read_layout(dir: &Path) -> Result<Layout, OciError> {
    let index = read_index(dir)?;
    let [descriptor] = index.manifests.as_slice() else {
        let path = dir.join("index.json");
        return Err(OciError::ManifestCount {
            path,
            count: index.manifests.len(),
        });
    };
    let image = read_image(dir, descriptor)?;
    verify_all_blobs(dir)?;
    Ok(Layout { index, image })
}

/// Reads the layout's `index.json` after checking its `oci-layout` version.
///
/// # Errors
///
/// Returns an error when either file is missing or malformed, or the layout
/// version is not `1.0.0`.
pub fn read_index(dir: &Path) -> Result<Index, OciError> {
    let marker_path = dir.join("oci-layout");
    let marker: LayoutMarker = read_json(&marker_path)?;
    if marker.image_layout_version != LAYOUT_VERSION {
        let version = marker.image_layout_version;
        return Err(OciError::UnsupportedLayout {
            path: dir.to_owned(),
            version,
        });
    }
    read_json(&dir.join("index.json"))
}

/// Reads and verifies the manifest `descriptor` points at, its config, and
/// its layers' digests and sizes.
///
/// # Errors
///
/// Returns an error when a blob is missing, malformed, of the wrong media
/// type, or does not match its descriptor.
pub fn read_image(dir: &Path, descriptor: &Descriptor) -> Result<Image, OciError> {
    expect_media_type(descriptor, MEDIA_TYPE_MANIFEST)?;
    let manifest_path = blob_path(dir, &descriptor.digest);
    let manifest: Manifest = parse_json(&manifest_path, &read_blob(dir, descriptor)?)?;
    expect_media_type(&manifest.config, MEDIA_TYPE_CONFIG)?;
    let config_path = blob_path(dir, &manifest.config.digest);
    let config: ImageConfig = parse_json(&config_path, &read_blob(dir, &manifest.config)?)?;
    for layer in &manifest.layers {
        read_blob(dir, layer)?;
    }
    Ok(Image {
        descriptor: descriptor.clone(),
        manifest,
        config,
    })
}

/// Reads the blob `descriptor` points at, checking its size and digest.
///
/// # Errors
///
/// Returns an error when the blob is missing or does not match.
pub fn read_blob(dir: &Path, descriptor: &Descriptor) -> Result<Vec<u8>, OciError> {
    let path = blob_path(dir, &descriptor.digest);
    let bytes = fs::read(&path).map_err(io_error("read", &path))?;
    if bytes.len() as u64 != descriptor.size {
        let actual = bytes.len() as u64;
        return Err(OciError::SizeMismatch {
            path,
            expected: descriptor.size,
            actual,
        });
    }
    check_digest(&path, &bytes, &descriptor.digest)?;
    Ok(bytes)
}

/// Where the blob with `digest` lives in the layout at `dir`.
pub fn blob_path(dir: &Path, digest: &Digest) -> PathBuf {
    dir.join("blobs").join("sha256").join(digest.hex())
}

/// Checks that `name` is a repository name component as the distribution
/// spec writes it: lowercase letters and digits, separated by single `.`,
/// `_`, `__` or runs of `-`. Such a name is also a safe directory name.
///
/// # Errors
///
/// Returns what is wrong with the name.
pub fn check_image_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() || name.len() > 128 {
        return Err("must be 1 to 128 characters long");
    }
    let alphanumeric = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let separator = |c: char| matches!(c, '.' | '_' | '-');
    if !name.chars().all(|c| alphanumeric(c) || separator(c)) {
        return Err("may hold only lowercase letters, digits, `.`, `_` and `-`");
    }
    let ends_ok = name.starts_with(alphanumeric) && name.ends_with(alphanumeric);
    let runs_ok = !name.contains("..") && !name.contains("___") && !name.contains(".-");
    if !ends_ok || !runs_ok || name.contains("-.") || name.contains("_.") || name.contains("._") {
        return Err("must start and end with a letter or digit, with single separators between");
    }
    Ok(())
}

/// Checks that `tag` is a tag as the distribution spec writes it: up to 128
/// letters, digits, `_`, `.` and `-`, not starting with `.` or `-`.
///
/// # Errors
///
/// Returns what is wrong with the tag.
pub fn check_tag(tag: &str) -> Result<(), &'static str> {
    if tag.is_empty() || tag.len() > 128 {
        return Err("must be 1 to 128 characters long");
    }
    if tag.starts_with(['.', '-']) {
        return Err("must not start with `.` or `-`");
    }
    if !tag
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        return Err("may hold only letters, digits, `_`, `.` and `-`");
    }
    Ok(())
}

/// What [`copy_image`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopiedImage {
    /// The manifest's descriptor as the target index now lists it.
    pub descriptor: Descriptor,
    /// The descriptor the same tag pointed at before, if any.
    pub replaced: Option<Descriptor>,
}

/// Copies the single image of the layout in `from` into the layout in `to`
/// (created when missing), tagged `tag`.
///
/// Blobs already in the target are checked, not rewritten; copied blobs are
/// checked after writing. An older index entry with the same tag is
/// replaced. Every file is written by temporary file and rename.
///
/// # Errors
///
/// Returns an error when the source does not verify, the target is not a
/// layout this module reads, a blob in the target does not match its
/// digest, or a file cannot be written.
pub fn copy_image(from: &Path, to: &Path, tag: &str) -> Result<CopiedImage, OciError> {
    let source = read_layout(from)?;
    let image = &source.image;
    let mut blobs = vec![&image.manifest.config];
    blobs.extend(&image.manifest.layers);
    blobs.push(&image.descriptor);
    for blob in blobs {
        copy_blob(from, to, blob)?;
    }

    let mut index = if to.join("index.json").exists() {
        read_index(to)?
    } else {
        Index::default()
    };
    let mut descriptor = image.descriptor.clone();
    descriptor
        .annotations
        .insert(ANNOTATION_REF_NAME.to_owned(), tag.to_owned());
    let replaced = index
        .manifests
        .iter()
        .position(|entry| entry.ref_name() == Some(tag));
    let replaced = replaced.map(|position| index.manifests.remove(position));
    index.manifests.push(descriptor.clone());

    write_layout_marker(to)?;
    write_atomic(&to.join("index.json"), &to_json_pretty(&index))?;
    Ok(CopiedImage {
        descriptor,
        replaced,
    })
}

/// Copies one blob unless the target already holds it, then verifies the
/// target's copy.
fn copy_blob(from: &Path, to: &Path, descriptor: &Descriptor) -> Result<(), OciError> {
    if !blob_path(to, &descriptor.digest).exists() {
        let bytes = read_blob(from, descriptor)?;
        write_blob(to, &bytes)?;
    }
    read_blob(to, descriptor).map(drop)
}

/// The `oci-layout` file.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LayoutMarker {
    image_layout_version: String,
}

/// Builds the uncompressed layer: each file with its parent directories,
/// sorted by path, owned by root, dated at the epoch.
fn layer_tar(files: &[LayerFile]) -> Result<Vec<u8>, OciError> {
    let mut entries: BTreeMap<String, Option<&LayerFile>> = BTreeMap::new();
    for file in files {
        let path = normalise_layer_path(&file.path)?;
        for directory in parent_directories(&path) {
            entries.entry(directory).or_insert(None);
        }
        if entries.insert(path.clone(), Some(file)).is_some() {
            return Err(OciError::DuplicateLayerPath(path));
        }
    }

    let mut builder = tar::Builder::new(Vec::new());
    for (path, file) in &entries {
        append_entry(&mut builder, path, *file).map_err(OciError::Layer)?;
    }
    builder.into_inner().map_err(OciError::Layer)
}

/// Appends a directory (`file` is `None`) or a regular file to the archive.
fn append_entry(
    builder: &mut tar::Builder<Vec<u8>>,
    path: &str,
    file: Option<&LayerFile>,
) -> io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_mtime(ENTRY_MTIME);
    header.set_uid(0);
    header.set_gid(0);
    match file {
        None => {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(DIRECTORY_MODE);
            header.set_size(0);
            builder.append_data(&mut header, format!("{path}/"), io::empty())
        }
        Some(file) => {
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(file.mode & 0o7777);
            header.set_size(file.contents.len() as u64);
            builder.append_data(&mut header, path, file.contents.as_slice())
        }
    }
}

/// Checks a layer path and drops a leading `/` and `./` segments, so that
/// `/app/x`, `./app/x` and `app/x` are the same entry.
fn normalise_layer_path(path: &str) -> Result<String, OciError> {
    let invalid = |reason| OciError::InvalidLayerPath {
        path: path.to_owned(),
        reason,
    };
    let mut segments = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => return Err(invalid("`..` is not allowed")),
            other => segments.push(other),
        }
    }
    if segments.is_empty() {
        return Err(invalid("it names no file"));
    }
    Ok(segments.join("/"))
}

/// `a/b/c` gives `a` and `a/b`.
fn parent_directories(path: &str) -> impl Iterator<Item = String> + '_ {
    path.match_indices('/')
        .map(|(end, _)| path[..end].to_owned())
}

/// Compresses with a fixed header: no file name, no time, unknown OS.
fn gzip(bytes: &[u8]) -> Result<Vec<u8>, OciError> {
    let mut encoder = GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::new(), Compression::default());
    encoder.write_all(bytes).map_err(OciError::Layer)?;
    encoder.finish().map_err(OciError::Layer)
}

fn write_layout_marker(dir: &Path) -> Result<(), OciError> {
    let marker = LayoutMarker {
        image_layout_version: LAYOUT_VERSION.to_owned(),
    };
    write_atomic(&dir.join("oci-layout"), &to_json(&marker))
}

fn write_blob(dir: &Path, bytes: &[u8]) -> Result<(), OciError> {
    write_atomic(&blob_path(dir, &Digest::of(bytes)), bytes)
}

/// Checks every file under `blobs/sha256/` against the digest its name
/// gives, so a layout cannot carry a tampered blob that no descriptor names.
fn verify_all_blobs(dir: &Path) -> Result<(), OciError> {
    let blobs = dir.join("blobs").join("sha256");
    let entries = fs::read_dir(&blobs).map_err(io_error("list", &blobs))?;
    for entry in entries {
        let path = entry.map_err(io_error("list", &blobs))?.path();
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned());
        let digest = Digest::try_from(format!("sha256:{}", name.unwrap_or_default()))?;
        let bytes = fs::read(&path).map_err(io_error("read", &path))?;
        check_digest(&path, &bytes, &digest)?;
    }
    Ok(())
}

fn check_digest(path: &Path, bytes: &[u8], expected: &Digest) -> Result<(), OciError> {
    let actual = Digest::of(bytes);
    if &actual == expected {
        return Ok(());
    }
    Err(OciError::DigestMismatch {
        path: path.to_owned(),
        expected: expected.to_string(),
        actual: actual.to_string(),
    })
}

fn expect_media_type(descriptor: &Descriptor, expected: &'static str) -> Result<(), OciError> {
    if descriptor.media_type == expected {
        return Ok(());
    }
    Err(OciError::UnexpectedMediaType {
        digest: descriptor.digest.to_string(),
        expected,
        actual: descriptor.media_type.clone(),
    })
}

/// Writes `contents` beside `path` and renames it into place, creating
/// parent directories first.
fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), OciError> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io_error("create directory", parent))?;
    }
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy())
        .unwrap_or_default();
    let temporary = path.with_file_name(format!(".{name}.tmp"));
    fs::write(&temporary, contents).map_err(io_error("write", &temporary))?;
    fs::rename(&temporary, path).map_err(io_error("replace", path))
}

fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, OciError> {
    let bytes = fs::read(path).map_err(io_error("read", path))?;
    parse_json(path, &bytes)
}

fn parse_json<T: DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<T, OciError> {
    serde_json::from_slice(bytes).map_err(|source| OciError::Json {
        path: path.to_owned(),
        source,
    })
}

fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    // The models hold only strings, numbers, lists and string-keyed maps,
    // which serde_json always encodes.
    serde_json::to_vec(value).unwrap_or_default()
}

fn to_json_pretty<T: Serialize>(value: &T) -> Vec<u8> {
    let mut json = serde_json::to_vec_pretty(value).unwrap_or_default();
    json.push(b'\n');
    json
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> OciError {
    let path = path.to_owned();
    move |source| OciError::Io {
        action,
        path,
        source,
    }
}

#[cfg(test)]
mod tests;
