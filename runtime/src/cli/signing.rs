//! `gantry keygen`, `gantry plugin sign` and `gantry plugin verify`: keys
//! and plugin signatures, without a state directory.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Subcommand;
use serde_json::json;

use super::output::terminal_safe;
use crate::audit::keys;
use crate::engine::{self, Verified};
use crate::pipeline::{self, PluginKind, PublicKey, Signer, TrustPolicy};
use crate::store;

/// `gantry plugin …`.
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Sign a plugin: write a DSSE envelope vouching for its exact digest
    /// and its stage kind.
    ///
    /// The envelope goes to `<PLUGIN>.sig`, where pipelines look for it,
    /// unless `--out` says otherwise; an older signature there is replaced.
    Sign {
        /// The plugin component, e.g. `plugins/check.wasm`.
        #[arg(value_name = "PLUGIN")]
        plugin: PathBuf,
        /// The signer's private key, as `gantry keygen` writes it (mode
        /// 0600).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The kind of stage the plugin may run as: build, test, scan, ato,
        /// promote or custom.
        #[arg(long, value_name = "KIND", value_parser = parse_kind)]
        kind: PluginKind,
        /// Where to write the envelope. Default: `<PLUGIN>.sig`.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Verify a plugin's signature against a policy's `[trust]` or one
    /// public key; exit 1 says why it does not hold.
    Verify {
        /// The plugin component.
        #[arg(value_name = "PLUGIN")]
        plugin: PathBuf,
        /// A policy file whose `[[trust.signer]]` tables say which keys may
        /// sign which kinds.
        #[arg(long, value_name = "FILE", required_unless_present = "public_key")]
        policy: Option<PathBuf>,
        /// Trust this one key, for any kind, instead of a policy.
        #[arg(long, value_name = "ed25519:BASE64", conflicts_with = "policy")]
        public_key: Option<String>,
        /// The envelope. Default: `<PLUGIN>.sig`.
        #[arg(long, value_name = "FILE")]
        signature: Option<PathBuf>,
    },
}

fn parse_kind(text: &str) -> Result<PluginKind, String> {
    PluginKind::from_name(text).ok_or_else(|| {
        let names: Vec<&str> = PluginKind::ALL.iter().map(|k| k.as_str()).collect();
        format!("unknown kind `{text}`; the kinds are {}", names.join(", "))
    })
}

/// `gantry keygen --out <FILE>`: a new key pair, the private half at
/// `FILE` (mode 0600), the public half at `FILE.pub` and on stdout.
pub fn keygen(out: &Path, json: bool) -> anyhow::Result<i32> {
    let public_path = sibling(out, "pub");
    for path in [out, public_path.as_path()] {
        if std::fs::symlink_metadata(path).is_ok() {
            let path = path.to_owned();
            return Err(store::StoreError::Exists { path }.into());
        }
    }
    let key = keys::generate()?;
    keys::write_private_key(out, &key)?;
    let public = keys::public_key_text(&key.verifying_key());
    store::write_atomic(&public_path, format!("{public}\n").as_bytes())?;
    if json {
        let object = json!({
            "private_key": out.display().to_string(),
            "public_key_file": public_path.display().to_string(),
            "public_key": public,
        });
        println!("{object}");
    } else {
        eprintln!(
            "wrote private key `{}` (mode 0600) and public key `{}`",
            out.display(),
            public_path.display()
        );
        println!("{public}");
    }
    Ok(0)
}

/// Runs `gantry plugin sign` or `verify`.
pub fn plugin(command: &PluginCommand, json: bool) -> anyhow::Result<i32> {
    match command {
        PluginCommand::Sign {
            plugin,
            key,
            kind,
            out,
        } => sign(plugin, key, *kind, out.as_deref(), json),
        PluginCommand::Verify {
            plugin,
            policy,
            public_key,
            signature,
        } => {
            let trust = trust_from(policy.as_deref(), public_key.as_deref())?;
            verify(plugin, &trust, signature.as_deref(), json)
        }
    }
}

fn sign(
    plugin: &Path,
    key: &Path,
    kind: PluginKind,
    out: Option<&Path>,
    json: bool,
) -> anyhow::Result<i32> {
    let digest = plugin_digest(plugin)?;
    let key = keys::load_private_key(key)?;
    let envelope = engine::sign_plugin(&digest, kind, &key);
    let out = out.map_or_else(|| sibling(plugin, "sig"), Path::to_owned);
    store::write_atomic(&out, envelope.to_json().as_bytes())?;
    let public = keys::public_key_text(&key.verifying_key());
    if json {
        let object = json!({
            "plugin": plugin.display().to_string(),
            "digest": digest,
            "kind": kind,
            "key": public,
            "signature": out.display().to_string(),
        });
        println!("{object}");
    } else {
        eprintln!(
            "signed `{}` ({digest}) as a `{kind}` plugin with key {public}\nwrote `{}`",
            plugin.display(),
            out.display()
        );
    }
    Ok(0)
}

/// The trust to verify against: a policy file's `[trust]`, or one key.
fn trust_from(policy: Option<&Path>, public_key: Option<&str>) -> anyhow::Result<TrustPolicy> {
    if let Some(text) = public_key {
        let key = PublicKey::parse(text)
            .map_err(|reason| anyhow::anyhow!("invalid --public-key `{text}`: {reason}"))?;
        return Ok(TrustPolicy {
            builtin: false,
            signers: vec![Signer {
                name: "--public-key".to_owned(),
                public_key: key,
                kinds: PluginKind::ALL.to_vec(),
            }],
        });
    }
    let path = policy.context("give --policy or --public-key")?;
    let policy = pipeline::load_policy_file(path)?;
    policy.trust.with_context(|| {
        format!(
            "policy `{}` has no `[trust]` table, so it trusts no signer\n  hint: add \
             `[[trust.signer]]` tables naming the keys that may sign plugins",
            path.display()
        )
    })
}

fn verify(
    plugin: &Path,
    trust: &TrustPolicy,
    signature: Option<&Path>,
    json: bool,
) -> anyhow::Result<i32> {
    let digest = plugin_digest(plugin)?;
    let signature = signature.map_or_else(|| sibling(plugin, "sig"), Path::to_owned);
    let checked = engine::read_signature(&signature).and_then(|envelope| {
        engine::verify_plugin_signature(trust, &signature, &envelope, &digest)
    });
    let shown = plugin.display().to_string();
    match checked {
        Ok(Verified { signer, kind }) => {
            let key = signer.public_key.to_string();
            if json {
                let object = json!({
                    "verified": true, "plugin": shown, "digest": digest, "kind": kind,
                    "signer": { "name": signer.name, "key": key },
                });
                println!("{object}");
            } else {
                eprintln!("plugin `{}` is signed and trusted", terminal_safe(&shown));
                eprintln!("  digest   {digest}");
                eprintln!("  signer   `{}` ({key})", terminal_safe(&signer.name));
                eprintln!("  kind     {kind}");
            }
            Ok(0)
        }
        Err(reason) => {
            if json {
                let object = json!({
                    "verified": false, "plugin": shown, "digest": digest,
                    "reason": reason.to_string(),
                });
                println!("{object}");
            }
            eprintln!(
                "error: plugin `{}` ({digest}) does not verify: {}",
                terminal_safe(&shown),
                terminal_safe(&reason.to_string())
            );
            Ok(1)
        }
    }
}

fn plugin_digest(plugin: &Path) -> anyhow::Result<String> {
    store::sha256_file(plugin)
        .with_context(|| format!("failed to read plugin `{}`", plugin.display()))
}

/// `<path>.<extension>` beside `path`: `signer.pem` → `signer.pem.pub`.
fn sibling(path: &Path, extension: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(extension);
    PathBuf::from(name)
}
