//! Tests of OCI layouts: reproducibility, verification and copying.

use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};

use flate2::read::GzDecoder;

use super::*;

/// A fresh directory under the system's temporary directory, removed
/// when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("gantry-oci-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn spec(version: &str) -> ImageSpec {
    ImageSpec {
        name: "contact-tracing".to_owned(),
        version: version.to_owned(),
        entrypoint: vec!["/app/contact-tracing".to_owned()],
        files: vec![
            LayerFile {
                path: "app/contact-tracing".into(),
                mode: 0o755,
                contents: b"ELF".into(),
            },
            LayerFile {
                path: "etc/app/config.toml".into(),
                mode: 0o644,
                contents: b"a=1".into(),
            },
        ],
    }
}

fn files_of(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(next) = pending.pop() {
        for entry in fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let bytes = fs::read(&path).unwrap();
                files.insert(path.strip_prefix(dir).unwrap().to_owned(), bytes);
            }
        }
    }
    files
}

fn layer_entries(dir: &Path, image: &Image) -> Vec<(String, u32, u64, u64, u64)> {
    let gz = read_blob(dir, &image.manifest.layers[0]).unwrap();
    let mut tar = Vec::new();
    GzDecoder::new(gz.as_slice()).read_to_end(&mut tar).unwrap();
    assert_eq!(image.config.rootfs.diff_ids, vec![Digest::of(&tar)]);
    let mut archive = tar::Archive::new(tar.as_slice());
    let entries = archive.entries().unwrap().map(|entry| {
        let entry = entry.unwrap();
        let header = entry.header();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let (uid, gid) = (header.uid().unwrap(), header.gid().unwrap());
        (
            path,
            header.mode().unwrap(),
            header.mtime().unwrap(),
            uid,
            gid,
        )
    });
    entries.collect()
}

#[test]
fn image_names_and_tags_follow_the_distribution_grammar() {
    for name in [
        "contact-tracing",
        "a",
        "web.api",
        "my_app",
        "my__app",
        "a--b",
        "v2",
    ] {
        assert_eq!(check_image_name(name), Ok(()), "{name}");
    }
    for name in [
        "", "Upper", "-lead", "trail-", "a..b", "../up", "a/b", "a b", "a._b",
    ] {
        assert!(check_image_name(name).is_err(), "{name}");
    }
    for tag in ["0.1.0", "v1.2.3-rc.1", "latest", "_x"] {
        assert_eq!(check_tag(tag), Ok(()), "{tag}");
    }
    for tag in ["", ".hidden", "-x", "1.0+build", "a/b", &"x".repeat(129)] {
        assert!(check_tag(tag).is_err(), "{tag}");
    }
}

#[test]
fn same_spec_gives_byte_identical_layouts() {
    let (first, second) = (TempDir::new(), TempDir::new());
    let a = write_layout(&first.0, &spec("0.1.0")).unwrap();
    let mut reordered = spec("0.1.0");
    reordered.files.reverse();
    let b = write_layout(&second.0, &reordered).unwrap();
    assert_eq!(a.digest, b.digest);
    assert_eq!(files_of(&first.0), files_of(&second.0));
}

#[test]
fn written_layout_reads_back_with_its_annotations_and_config() {
    let dir = TempDir::new();
    let descriptor = write_layout(&dir.0, &spec("0.1.0")).unwrap();
    let layout = read_layout(&dir.0).unwrap();
    assert_eq!(layout.image.descriptor, descriptor);
    assert_eq!(descriptor.ref_name(), Some("0.1.0"));
    assert_eq!(descriptor.annotations[ANNOTATION_TITLE], "contact-tracing");
    assert_eq!(layout.image.config.os, "linux");
    assert_eq!(layout.image.config.architecture, "amd64");
    assert_eq!(
        layout.image.config.config.entrypoint,
        ["/app/contact-tracing"]
    );
    let marker = fs::read_to_string(dir.0.join("oci-layout")).unwrap();
    assert_eq!(marker, r#"{"imageLayoutVersion":"1.0.0"}"#);
}

#[test]
fn layer_holds_sorted_files_and_parents_owned_by_root_at_the_epoch() {
    let dir = TempDir::new();
    write_layout(&dir.0, &spec("0.1.0")).unwrap();
    let layout = read_layout(&dir.0).unwrap();
    let entries = layer_entries(&dir.0, &layout.image);
    let expected = [
        ("app/", 0o755),
        ("app/contact-tracing", 0o755),
        ("etc/", 0o755),
        ("etc/app/", 0o755),
        ("etc/app/config.toml", 0o644),
    ];
    let paths: Vec<(&str, u32)> = entries.iter().map(|e| (e.0.as_str(), e.1)).collect();
    assert_eq!(paths, expected);
    assert!(entries.iter().all(|e| e.2 == 0 && e.3 == 0 && e.4 == 0));
}

#[test]
fn gzip_header_has_no_name_or_time() {
    let dir = TempDir::new();
    write_layout(&dir.0, &spec("0.1.0")).unwrap();
    let layout = read_layout(&dir.0).unwrap();
    let gz = read_blob(&dir.0, &layout.image.manifest.layers[0]).unwrap();
    assert_eq!(gz[3], 0, "no optional header fields");
    assert_eq!(&gz[4..8], &[0, 0, 0, 0], "mtime is zero");
}

#[test]
fn different_contents_give_a_different_manifest_digest() {
    let (first, second) = (TempDir::new(), TempDir::new());
    let a = write_layout(&first.0, &spec("0.1.0")).unwrap();
    let mut changed = spec("0.1.0");
    changed.files[0].mode = 0o700;
    let b = write_layout(&second.0, &changed).unwrap();
    assert_ne!(a.digest, b.digest);
}

#[test]
fn tampered_layer_is_refused_naming_the_blob() {
    let dir = TempDir::new();
    write_layout(&dir.0, &spec("0.1.0")).unwrap();
    let layer = read_layout(&dir.0).unwrap().image.manifest.layers[0].clone();
    let path = blob_path(&dir.0, &layer.digest);
    let mut bytes = fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    fs::write(&path, bytes).unwrap();
    let error = read_layout(&dir.0).unwrap_err();
    assert!(matches!(error, OciError::DigestMismatch { path: p, .. } if p == path));
}

#[test]
fn truncated_blob_is_refused_by_size() {
    let dir = TempDir::new();
    write_layout(&dir.0, &spec("0.1.0")).unwrap();
    let config = read_layout(&dir.0).unwrap().image.manifest.config;
    let path = blob_path(&dir.0, &config.digest);
    fs::write(&path, b"{}").unwrap();
    assert!(
        matches!(read_layout(&dir.0), Err(OciError::SizeMismatch { expected, .. })
        if expected == config.size)
    );
}

#[test]
fn stray_blob_that_does_not_match_its_name_is_refused() {
    let dir = TempDir::new();
    write_layout(&dir.0, &spec("0.1.0")).unwrap();
    let stray = blob_path(&dir.0, &Digest::of(b"something"));
    fs::write(stray, b"something else").unwrap();
    assert!(matches!(
        read_layout(&dir.0),
        Err(OciError::DigestMismatch { .. })
    ));
}

#[test]
fn digest_that_climbs_out_of_the_blob_directory_is_refused() {
    let text = format!("sha256:../../{}", "a".repeat(58));
    assert!(matches!(
        Digest::try_from(text),
        Err(OciError::InvalidDigest(_))
    ));
    assert!(Digest::try_from(format!("sha256:{}", "A".repeat(64))).is_err());
    assert!(Digest::try_from(format!("sha256:{}", "a".repeat(64))).is_ok());
}

#[test]
fn layer_paths_that_climb_or_repeat_are_refused() {
    let dir = TempDir::new();
    let mut climbing = spec("0.1.0");
    climbing.files[0].path = "app/../../etc/passwd".into();
    let error = write_layout(&dir.0, &climbing).unwrap_err();
    assert!(matches!(error, OciError::InvalidLayerPath { .. }));

    let mut repeated = spec("0.1.0");
    repeated.files[1].path = "/app/contact-tracing".into();
    let error = write_layout(&dir.0, &repeated).unwrap_err();
    assert_eq!(
        error.to_string(),
        "layer path `app/contact-tracing` is given twice"
    );
}

#[test]
fn layout_with_two_images_is_not_a_single_image_layout() {
    let (build, registry) = (TempDir::new(), TempDir::new());
    write_layout(&build.0, &spec("0.1.0")).unwrap();
    copy_image(&build.0, &registry.0, "0.1.0").unwrap();
    let other = TempDir::new();
    write_layout(&other.0, &spec("0.2.0")).unwrap();
    copy_image(&other.0, &registry.0, "0.2.0").unwrap();
    let error = read_layout(&registry.0).unwrap_err();
    assert!(matches!(error, OciError::ManifestCount { count: 2, .. }));
}

#[test]
fn copy_creates_the_target_and_replaces_an_entry_with_the_same_tag() {
    let (build, registry) = (TempDir::new(), TempDir::new());
    let target = registry.0.join("contact-tracing");
    let first = write_layout(&build.0, &spec("0.1.0")).unwrap();
    let copied = copy_image(&build.0, &target, "0.1.0").unwrap();
    assert_eq!(copied.descriptor.digest, first.digest);
    assert_eq!(copied.replaced, None);

    let rebuilt = TempDir::new();
    let mut changed = spec("0.1.0");
    changed.files[0].contents = b"ELF2".into();
    let second = write_layout(&rebuilt.0, &changed).unwrap();
    let copied = copy_image(&rebuilt.0, &target, "0.1.0").unwrap();
    assert_eq!(copied.replaced.map(|d| d.digest), Some(first.digest));

    let index = read_index(&target).unwrap();
    assert_eq!(index.manifests.len(), 1);
    assert_eq!(index.manifests[0].digest, second.digest);
    let image = read_image(&target, &index.manifests[0]).unwrap();
    assert_eq!(image.config.config.entrypoint, ["/app/contact-tracing"]);
}

#[test]
fn copy_refuses_a_target_blob_that_was_tampered_with() {
    let (build, registry) = (TempDir::new(), TempDir::new());
    let descriptor = write_layout(&build.0, &spec("0.1.0")).unwrap();
    copy_image(&build.0, &registry.0, "0.1.0").unwrap();
    fs::write(blob_path(&registry.0, &descriptor.digest), b"{}").unwrap();
    let error = copy_image(&build.0, &registry.0, "0.1.0").unwrap_err();
    assert!(matches!(error, OciError::SizeMismatch { .. }));
}
