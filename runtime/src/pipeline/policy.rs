//! The policy file: the rules a pipeline runs under, beyond its own grants.
//!
//! ```toml
//! [policy]
//! id = "cdc-ato"                 # must match the pipeline's `policy.id`
//! version = "2026.11"            # and its `policy.version`
//!
//! [trust]                        # present: every plugin must be trusted
//! builtin = true                 # the standard plugins shipped in gantry
//! [[trust.signer]]
//! name = "platform-team"
//! public-key = "ed25519:…"       # base64 of the 32-byte key
//! kinds = ["build", "test"]      # the stage kinds it may sign plugins for
//!
//! [ceilings.scan]                # the most a scan stage may be granted
//! read = [".", "mount:osv"]
//! exec = []
//!
//! [exec]                         # programs run through `exec`
//! confinement = "require"        # refuse runs the kernel cannot confine
//! read = ["/usr", "/etc"]        # system paths every program may read
//!
//! [[suppress]]                   # a finding accepted for a while
//! id = "RUSTSEC-2020-0071"
//! package = "time@0.1.45"
//! reason = "…"
//! expires = 2027-03-31
//!
//! [licences]                     # SPDX ids
//! allow = ["MIT", "Apache-2.0"]
//! unknown = "warn"
//! ```
//!
//! `[[suppress]]` and `[licences]` are described in [`rules`].
//!
//! Everything is checked when the pipeline loads, so a run never starts
//! under a policy it cannot apply.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use gantry_plugin_core::policy::{LicenceRules, PolicyRules, Suppression};
use serde::{Deserialize, Serialize, Serializer};
use toml::Spanned;

use super::error::{PipelineError, Scope};
use super::grants::{GrantPath, StageGrants, normalise_grant, slash_path};
use super::limits::{MAX_MEMORY, StageLimits, parse_size, parse_timeout};
use super::names::is_deceptive_char;
use super::net::{NetGrant, parse_net};
use super::parse::parse_toml;

mod rules;

/// The system directories a program run through `exec` may read when the
/// policy file names none: what a compiler and its tools need to start.
pub const DEFAULT_EXEC_READ: [&str; 5] = ["/usr", "/lib", "/lib64", "/bin", "/etc"];

/// A policy file, read and checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    /// `[policy] id`.
    pub id: String,
    /// `[policy] version`.
    pub version: String,
    /// `[policy] description`, for people reading the ATO packet.
    pub description: Option<String>,
    /// `[trust]`: when present, only trusted plugins run.
    pub trust: Option<TrustPolicy>,
    /// `[ceilings.<kind>]`: the most a stage of each kind may be granted.
    pub ceilings: BTreeMap<PluginKind, Ceiling>,
    /// `[exec]`: how programs run through `exec` are confined.
    pub exec: ExecRules,
    /// `[[suppress]]`: findings accepted until a date, in file order.
    pub suppressions: Vec<Suppression>,
    /// `[licences]`: the licence policy, when the file has one.
    pub licences: Option<LicenceRules>,
}

impl Policy {
    /// The policy a pipeline without a policy file runs under: no trust
    /// requirement, no ceilings, default `exec` confinement.
    pub fn permissive(id: &str, version: &str) -> Policy {
        Policy {
            id: id.to_owned(),
            version: version.to_owned(),
            description: None,
            trust: None,
            ceilings: BTreeMap::new(),
            exec: ExecRules::default(),
            suppressions: Vec::new(),
            licences: None,
        }
    }

    /// The suppressions and licence policy as the JSON handed to stages in
    /// `stage-input.policy-rules`; `{}` when the policy has neither.
    pub fn rules_json(&self) -> String {
        let rules = PolicyRules {
            suppress: self.suppressions.clone(),
            licences: self.licences.clone(),
        };
        serde_json::to_string(&rules).expect("policy rules always serialize")
    }

    /// The ceiling for stages of `kind`, if the policy sets one.
    pub fn ceiling(&self, kind: PluginKind) -> Option<&Ceiling> {
        self.ceilings.get(&kind)
    }
}

/// What kind of work a stage does, as a plugin declares it (and, under a
/// trust policy, as its signer vouches for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PluginKind {
    Build,
    Test,
    Scan,
    Ato,
    Promote,
    Custom,
}

impl PluginKind {
    /// Every kind, in the order the WIT lists them.
    pub const ALL: [PluginKind; 6] = [
        PluginKind::Build,
        PluginKind::Test,
        PluginKind::Scan,
        PluginKind::Ato,
        PluginKind::Promote,
        PluginKind::Custom,
    ];

    /// The kind's name as files write it: `scan`.
    pub fn as_str(self) -> &'static str {
        match self {
            PluginKind::Build => "build",
            PluginKind::Test => "test",
            PluginKind::Scan => "scan",
            PluginKind::Ato => "ato",
            PluginKind::Promote => "promote",
            PluginKind::Custom => "custom",
        }
    }

    /// The kind named `name`, if there is one.
    pub fn from_name(name: &str) -> Option<PluginKind> {
        PluginKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }
}

impl fmt::Display for PluginKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `[trust]`: who may vouch for plugins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrustPolicy {
    /// Whether the standard plugins built into gantry are trusted.
    pub builtin: bool,
    /// The keys that may sign plugins, in file order.
    pub signers: Vec<Signer>,
}

impl TrustPolicy {
    /// The signers whose key is `key`.
    pub fn signer_with_key(&self, key: &PublicKey) -> Option<&Signer> {
        self.signers.iter().find(|s| &s.public_key == key)
    }
}

/// One `[[trust.signer]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signer {
    /// A name for people and the audit trail.
    pub name: String,
    pub public_key: PublicKey,
    /// The stage kinds this key may sign plugins for.
    pub kinds: Vec<PluginKind>,
}

/// An ed25519 public key, written `ed25519:<base64 of its 32 bytes>`.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey(ed25519_dalek::VerifyingKey);

impl PublicKey {
    /// The prefix that names the algorithm.
    pub const PREFIX: &'static str = "ed25519:";

    /// Parses `ed25519:<base64>`.
    ///
    /// # Errors
    ///
    /// Says what is wrong: the prefix, the encoding, the length, or a value
    /// that is not a point on the curve.
    pub fn parse(text: &str) -> Result<PublicKey, &'static str> {
        let encoded = text
            .strip_prefix(Self::PREFIX)
            .ok_or("it does not start with `ed25519:`")?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| "the key is not valid base64")?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "an ed25519 public key is 32 bytes")?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map_err(|_| "the bytes are not an ed25519 public key")?;
        Ok(PublicKey(key))
    }

    /// The key, for verifying signatures.
    pub fn verifying_key(&self) -> &ed25519_dalek::VerifyingKey {
        &self.0
    }
}

impl From<ed25519_dalek::VerifyingKey> for PublicKey {
    fn from(key: ed25519_dalek::VerifyingKey) -> Self {
        PublicKey(key)
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let encoded = base64::engine::general_purpose::STANDARD.encode(self.0.as_bytes());
        write!(f, "{}{encoded}", Self::PREFIX)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// `[ceilings.<kind>]`: the most a stage of one kind may be granted.
///
/// A key the table leaves out does not limit that capability; an empty
/// list allows none of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Ceiling {
    /// Workspace paths (`.`, `src`) and mounts (`mount:osv`) a stage may
    /// read; a grant at or below one of them is within the ceiling.
    pub read: Option<Vec<String>>,
    /// As `read`, for write grants.
    pub write: Option<Vec<String>>,
    /// Program names a stage may run, as its `exec` grant writes them.
    pub exec: Option<Vec<String>>,
    /// Environment variable names.
    pub env: Option<Vec<String>>,
    /// Network destinations.
    pub net: Option<Vec<NetGrant>>,
    /// The largest memory limit a stage may set, in bytes.
    pub memory: Option<u64>,
    /// The longest time limit a stage may set.
    #[serde(serialize_with = "serialize_duration")]
    pub timeout: Option<Duration>,
}

fn serialize_duration<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(duration) => s.collect_str(&humantime::format_duration(*duration)),
        None => s.serialize_none(),
    }
}

/// One grant or limit of a stage beyond its kind's ceiling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Excess {
    /// The grant or limit key: `read`, `exec`, `memory`, …
    pub key: &'static str,
    /// What the stage has, as the pipeline writes it.
    pub granted: String,
    /// What the ceiling allows, as the policy writes it.
    pub allowed: String,
}

impl fmt::Display for Excess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` grants `{}`, beyond the policy's ceiling ({})",
            self.key, self.granted, self.allowed
        )
    }
}

impl Ceiling {
    /// Every grant and limit of a stage that goes beyond this ceiling, in
    /// the order the grants table lists its keys.
    pub fn excess(&self, grants: &StageGrants, limits: &StageLimits) -> Vec<Excess> {
        let mut excess = Vec::new();
        let mut check = |key: &'static str, allowed: &Option<Vec<String>>, granted: Vec<String>| {
            let Some(allowed) = allowed else { return };
            for grant in granted {
                let within = match key {
                    "read" | "write" => allowed.iter().any(|a| path_within(&grant, a)),
                    _ => allowed.contains(&grant),
                };
                if !within {
                    excess.push(Excess {
                        key,
                        granted: grant,
                        allowed: list_allowed(allowed),
                    });
                }
            }
        };
        check("read", &self.read, written(&grants.read));
        check("write", &self.write, written(&grants.write));
        let programs = grants.exec.iter().map(|g| g.name.clone()).collect();
        check("exec", &self.exec, programs);
        check("env", &self.env, grants.env.clone());
        let net = self
            .net
            .as_ref()
            .map(|n| n.iter().map(ToString::to_string).collect());
        let granted_net = grants.net.iter().map(ToString::to_string).collect();
        check("net", &net, granted_net);
        if let Some(max) = self.memory.filter(|max| limits.memory > *max) {
            excess.push(Excess {
                key: "memory",
                granted: bytesize::ByteSize(limits.memory).to_string(),
                allowed: format!("at most {}", bytesize::ByteSize(max)),
            });
        }
        if let Some(max) = self.timeout.filter(|max| limits.timeout > *max) {
            excess.push(Excess {
                key: "timeout",
                granted: humantime::format_duration(limits.timeout).to_string(),
                allowed: format!("at most {}", humantime::format_duration(max)),
            });
        }
        excess
    }
}

fn written(paths: &[GrantPath]) -> Vec<String> {
    paths.iter().map(GrantPath::as_written).collect()
}

fn list_allowed(allowed: &[String]) -> String {
    if allowed.is_empty() {
        return "none allowed".to_owned();
    }
    let quoted: Vec<String> = allowed.iter().map(|a| format!("`{a}`")).collect();
    format!("allowed: {}", quoted.join(", "))
}

/// Whether a path grant, as written and normalised, is `allowed` or below
/// it. A mount is within only its own name; `.` holds every workspace path.
fn path_within(grant: &str, allowed: &str) -> bool {
    let is_mount = |p: &str| p.starts_with("mount:");
    if is_mount(grant) || is_mount(allowed) {
        return grant == allowed;
    }
    allowed == "."
        || grant == allowed
        || grant
            .strip_prefix(allowed)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// How the host confines programs run through `exec`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Confinement {
    /// Confine as far as the kernel allows; run unconfined, with a warning
    /// on the record, where it cannot.
    #[default]
    BestEffort,
    /// Refuse to run a program the kernel cannot confine.
    Require,
}

/// `[exec]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExecRules {
    pub confinement: Confinement,
    /// Host directories every program may read (besides its stage's
    /// grants): canonical, existing directories, in file order.
    pub read: Vec<PathBuf>,
}

impl Default for ExecRules {
    fn default() -> Self {
        ExecRules {
            confinement: Confinement::default(),
            read: DEFAULT_EXEC_READ
                .iter()
                .filter_map(|dir| std::fs::canonicalize(dir).ok())
                .collect(),
        }
    }
}

/// The policy file as serde reads it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicyFile {
    policy: Spanned<RawPolicyHeader>,
    trust: Option<Spanned<RawTrust>>,
    #[serde(default)]
    ceilings: BTreeMap<Spanned<String>, Spanned<RawCeiling>>,
    exec: Option<Spanned<RawExec>>,
    #[serde(default)]
    suppress: Vec<Spanned<rules::RawSuppression>>,
    licences: Option<Spanned<rules::RawLicences>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicyHeader {
    id: Spanned<String>,
    version: Spanned<String>,
    description: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrust {
    builtin: Option<bool>,
    #[serde(default)]
    signer: Vec<Spanned<RawSigner>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawSigner {
    name: Spanned<String>,
    public_key: Spanned<String>,
    kinds: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCeiling {
    read: Option<Vec<Spanned<String>>>,
    write: Option<Vec<Spanned<String>>>,
    exec: Option<Vec<Spanned<String>>>,
    env: Option<Vec<Spanned<String>>>,
    net: Option<Vec<Spanned<String>>>,
    memory: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExec {
    confinement: Option<Spanned<String>>,
    read: Option<Vec<Spanned<String>>>,
}

/// What the pipeline file says of its policy, to check the file against.
pub(super) struct Expected<'a> {
    pub id: &'a str,
    pub version: &'a str,
}

/// Reads and checks a policy file on its own, outside any pipeline (for
/// `gantry plugin verify --policy`): its id and version are taken as they
/// are.
///
/// # Errors
///
/// As [`load`](super::load) for a pipeline: the file, line and key of the
/// first problem.
pub fn load_policy_file(path: &Path) -> Result<Policy, PipelineError> {
    let source = super::read_source(path, path.display().to_string())?;
    let raw: RawPolicyFile = parse_toml(&source)?;
    let header = raw.policy.get_ref();
    let (id, version) = (
        header.id.get_ref().clone(),
        header.version.get_ref().clone(),
    );
    read_policy(
        path,
        path.display().to_string(),
        &Expected {
            id: &id,
            version: &version,
        },
    )
}

/// Reads and checks a policy file, naming it `display` in messages.
pub(super) fn read_policy(
    path: &Path,
    display: String,
    expected: &Expected<'_>,
) -> Result<Policy, PipelineError> {
    let source = super::read_source(path, display)?;
    let raw: RawPolicyFile = parse_toml(&source)?;
    let top = Scope::file(&source);

    let header = raw.policy.into_inner();
    let id = text(&top, header.id, "policy.id", "the policy id")?;
    let version = text(&top, header.version, "policy.version", "the policy version")?;
    for (key, found, wanted) in [
        ("policy.id", &id, expected.id),
        ("policy.version", &version, expected.version),
    ] {
        if found.get_ref() != wanted {
            return Err(PipelineError::InvalidValue {
                at: top.at(found.span(), key),
                message: format!(
                    "the policy file says `{}`, but the pipeline names `{wanted}`\n  \
                     hint: a pipeline names the policy it was written for; update one of \
                     the two so they agree",
                    found.get_ref()
                ),
            });
        }
    }
    let description = header
        .description
        .map(|d| text(&top, d, "policy.description", "the description"))
        .transpose()?
        .map(Spanned::into_inner);
    let trust = raw.trust.map(|t| check_trust(&top, t)).transpose()?;
    let mut ceilings = BTreeMap::new();
    for (kind, ceiling) in raw.ceilings {
        let Some(parsed) = PluginKind::from_name(kind.get_ref()) else {
            return Err(unknown_kind(&top, &kind, "ceilings"));
        };
        ceilings.insert(parsed, check_ceiling(&top, parsed, ceiling.into_inner())?);
    }
    let exec = raw
        .exec
        .map(|e| check_exec(&top, e.into_inner()))
        .transpose()?
        .unwrap_or_default();
    let suppressions = rules::check_suppressions(&top, raw.suppress)?;
    let licences = raw
        .licences
        .map(|l| rules::check_licences(&top, l.into_inner()))
        .transpose()?;
    Ok(Policy {
        id: id.into_inner(),
        version: version.into_inner(),
        description,
        trust,
        ceilings,
        exec,
        suppressions,
        licences,
    })
}

/// A string people read: not empty, nothing that could disguise it.
fn text(
    top: &Scope<'_>,
    value: Spanned<String>,
    key: &str,
    what: &'static str,
) -> Result<Spanned<String>, PipelineError> {
    if value.get_ref().trim().is_empty() {
        return Err(PipelineError::Empty {
            at: top.at(value.span(), key),
            what,
        });
    }
    if value.get_ref().chars().any(is_deceptive_char) {
        return Err(PipelineError::DeceptiveText {
            at: top.at(value.span(), key),
            what,
            text: value.get_ref().clone(),
        });
    }
    Ok(value)
}

fn unknown_kind(top: &Scope<'_>, kind: &Spanned<String>, key: &str) -> PipelineError {
    let key = if key == "ceilings" {
        format!("ceilings.{}", kind.get_ref())
    } else {
        key.to_owned()
    };
    let names: Vec<String> = PluginKind::ALL
        .iter()
        .map(|k| format!("`{}`", k.as_str()))
        .collect();
    PipelineError::InvalidValue {
        at: top.at(kind.span(), &key),
        message: format!(
            "unknown stage kind `{}`\n  hint: the kinds are {}",
            kind.get_ref(),
            names.join(", ")
        ),
    }
}

fn check_trust(top: &Scope<'_>, raw: Spanned<RawTrust>) -> Result<TrustPolicy, PipelineError> {
    let raw = raw.into_inner();
    let mut signers: Vec<Signer> = Vec::new();
    for signer in raw.signer {
        let signer = signer.into_inner();
        let name = text(top, signer.name, "trust.signer.name", "the signer's name")?;
        let public_key = PublicKey::parse(signer.public_key.get_ref()).map_err(|reason| {
            PipelineError::InvalidValue {
                at: top.at(signer.public_key.span(), "trust.signer.public-key"),
                message: format!(
                    "invalid public key of signer `{}`: {reason}\n  hint: `gantry keygen` \
                     prints a key in the form `ed25519:<base64>`",
                    name.get_ref()
                ),
            }
        })?;
        if let Some(first) = signers.iter().find(|s| s.public_key == public_key) {
            return Err(PipelineError::InvalidValue {
                at: top.at(signer.public_key.span(), "trust.signer.public-key"),
                message: format!(
                    "signer `{}` has the same key as signer `{}`; a key belongs to one signer",
                    name.get_ref(),
                    first.name
                ),
            });
        }
        let mut kinds = Vec::new();
        for kind in &signer.kinds {
            let parsed = PluginKind::from_name(kind.get_ref())
                .ok_or_else(|| unknown_kind(top, kind, "trust.signer.kinds"))?;
            kinds.push(parsed);
        }
        signers.push(Signer {
            name: name.into_inner(),
            public_key,
            kinds,
        });
    }
    Ok(TrustPolicy {
        builtin: raw.builtin.unwrap_or(true),
        signers,
    })
}

fn check_ceiling(
    top: &Scope<'_>,
    kind: PluginKind,
    raw: RawCeiling,
) -> Result<Ceiling, PipelineError> {
    let key = |name: &str| format!("ceilings.{kind}.{name}");
    let paths = |list: Option<Vec<Spanned<String>>>, name: &str| {
        list.map(|entries| {
            entries
                .into_iter()
                .map(|entry| ceiling_path(top, entry, &key(name)))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()
    };
    let plain = |list: Option<Vec<Spanned<String>>>| {
        list.map(|entries| entries.into_iter().map(Spanned::into_inner).collect())
    };
    let net = raw
        .net
        .map(|entries| {
            entries
                .into_iter()
                .map(|entry| {
                    parse_net(entry.get_ref()).map_err(|reason| PipelineError::InvalidNet {
                        at: top.at(entry.span(), &key("net")),
                        entry: entry.get_ref().clone(),
                        reason,
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let memory = raw
        .memory
        .map(|m| {
            parse_size(m.get_ref(), MAX_MEMORY).map_err(|reason| PipelineError::InvalidSize {
                at: top.at(m.span(), &key("memory")),
                value: m.get_ref().clone(),
                reason,
            })
        })
        .transpose()?;
    let timeout = raw
        .timeout
        .map(|t| {
            parse_timeout(t.get_ref()).map_err(|reason| PipelineError::InvalidDuration {
                at: top.at(t.span(), &key("timeout")),
                value: t.get_ref().clone(),
                reason,
            })
        })
        .transpose()?;
    Ok(Ceiling {
        read: paths(raw.read, "read")?,
        write: paths(raw.write, "write")?,
        exec: plain(raw.exec),
        env: plain(raw.env),
        net,
        memory,
        timeout,
    })
}

/// A ceiling path as a grant would write it, normalised the same way so
/// the two compare as text.
fn ceiling_path(
    top: &Scope<'_>,
    entry: Spanned<String>,
    key: &str,
) -> Result<String, PipelineError> {
    if entry.get_ref().starts_with("mount:") {
        return Ok(entry.into_inner());
    }
    normalise_grant(entry.get_ref())
        .map(|rel| slash_path(&rel))
        .map_err(|_| PipelineError::InvalidValue {
            at: top.at(entry.span(), key),
            message: format!(
                "`{}` is not a path inside the workspace\n  hint: write a relative path \
                 like `.` or `src`, or a mount like `mount:osv`",
                entry.get_ref()
            ),
        })
}

fn check_exec(top: &Scope<'_>, raw: RawExec) -> Result<ExecRules, PipelineError> {
    let confinement = match raw.confinement {
        None => Confinement::default(),
        Some(value) => match value.get_ref().as_str() {
            "best-effort" => Confinement::BestEffort,
            "require" => Confinement::Require,
            other => {
                return Err(PipelineError::InvalidValue {
                    at: top.at(value.span(), "exec.confinement"),
                    message: format!(
                        "unknown confinement `{other}`\n  hint: write `require` to refuse \
                         programs the kernel cannot confine, or `best-effort`"
                    ),
                });
            }
        },
    };
    let read = match raw.read {
        None => ExecRules::default().read,
        Some(entries) => entries
            .into_iter()
            .map(|entry| system_dir(top, entry))
            .collect::<Result<_, _>>()?,
    };
    Ok(ExecRules { confinement, read })
}

/// An absolute, existing host directory that programs may read.
fn system_dir(top: &Scope<'_>, entry: Spanned<String>) -> Result<PathBuf, PipelineError> {
    let at = || top.at(entry.span(), "exec.read");
    let path = Path::new(entry.get_ref());
    if !path.is_absolute() {
        return Err(PipelineError::InvalidValue {
            at: at(),
            message: format!(
                "`{}` is not an absolute path\n  hint: `exec.read` names host directories, \
                 like `/usr`",
                entry.get_ref()
            ),
        });
    }
    match std::fs::canonicalize(path) {
        Ok(dir) if dir.is_dir() => Ok(dir),
        Ok(_) => Err(PipelineError::InvalidValue {
            at: at(),
            message: format!("`{}` is not a directory", entry.get_ref()),
        }),
        Err(e) => Err(PipelineError::InvalidValue {
            at: at(),
            message: format!("`{}` cannot be used: {e}", entry.get_ref()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn policy(text: &str) -> Result<Policy, PipelineError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("policy.toml");
        std::fs::write(&path, text).expect("write policy");
        read_policy(
            &path,
            "policy.toml".into(),
            &Expected {
                id: "p",
                version: "1",
            },
        )
    }

    const KEY: &str = "ed25519:O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik=";

    #[test]
    fn a_bare_policy_has_no_trust_and_no_ceilings() {
        let policy = policy("[policy]\nid = \"p\"\nversion = \"1\"\n").unwrap();
        assert_eq!(policy.trust, None);
        assert!(policy.ceilings.is_empty());
        assert_eq!(policy.exec.confinement, Confinement::BestEffort);
        assert!(policy.exec.read.iter().any(|p| p == Path::new("/usr")));
    }

    #[test]
    fn trust_ceilings_and_exec_are_read() {
        let policy = policy(&format!(
            "[policy]\nid = \"p\"\nversion = \"1\"\n\
             [trust]\nbuiltin = false\n\
             [[trust.signer]]\nname = \"team\"\npublic-key = \"{KEY}\"\nkinds = [\"scan\"]\n\
             [ceilings.scan]\nread = [\"./src/\", \"mount:osv\"]\nexec = []\n\
             net = [\"https://API.osv.dev:443\"]\nmemory = \"256 MiB\"\n\
             [exec]\nconfinement = \"require\"\nread = [\"/usr\"]\n"
        ))
        .unwrap();
        let trust = policy.trust.unwrap();
        assert!(!trust.builtin);
        assert_eq!(trust.signers[0].kinds, [PluginKind::Scan]);
        assert_eq!(trust.signers[0].public_key.to_string(), KEY);
        let scan = &policy.ceilings[&PluginKind::Scan];
        assert_eq!(
            scan.read.as_deref(),
            Some(&["src".into(), "mount:osv".into()][..])
        );
        assert_eq!(scan.exec.as_deref(), Some(&[][..]));
        assert_eq!(scan.write, None);
        assert_eq!(
            scan.net.as_ref().unwrap()[0].to_string(),
            "https://api.osv.dev:443"
        );
        assert_eq!(scan.memory, Some(256 << 20));
        assert_eq!(policy.exec.confinement, Confinement::Require);
    }

    #[test]
    fn a_policy_for_another_pipeline_is_refused() {
        let err = policy("[policy]\nid = \"other\"\nversion = \"1\"\n").unwrap_err();
        let err = err.to_string();
        assert!(err.contains("policy.toml:2"), "{err}");
        assert!(err.contains("`other`") && err.contains("`p`"), "{err}");
    }

    #[test]
    fn bad_keys_kinds_and_values_name_their_place() {
        let head = "[policy]\nid = \"p\"\nversion = \"1\"\n";
        let cases = [
            (
                "[ceilings.deploy]\nexec = []\n",
                "unknown stage kind `deploy`",
            ),
            (
                "[[trust.signer]]\nname = \"t\"\npublic-key = \"rsa:abc\"\nkinds = []\n",
                "does not start with `ed25519:`",
            ),
            (
                "[[trust.signer]]\nname = \"t\"\npublic-key = \"ed25519:AAAA\"\nkinds = []\n",
                "32 bytes",
            ),
            (
                "[exec]\nconfinement = \"strict\"\n",
                "unknown confinement `strict`",
            ),
            ("[exec]\nread = [\"usr\"]\n", "not an absolute path"),
            (
                "[ceilings.scan]\nread = [\"../etc\"]\n",
                "not a path inside the workspace",
            ),
            (
                "[ceilings.scan]\nnet = [\"api.osv.dev\"]\n",
                "no `scheme://`",
            ),
            ("[trust]\nsigners = []\n", "unknown key"),
        ];
        for (tail, expected) in cases {
            let err = policy(&format!("{head}{tail}")).unwrap_err().to_string();
            assert!(err.contains(expected), "{tail}: {err}");
            assert!(err.starts_with("policy.toml:"), "{tail}: {err}");
        }
    }

    #[test]
    fn one_key_cannot_be_two_signers() {
        let signer = |name: &str| {
            format!("[[trust.signer]]\nname = \"{name}\"\npublic-key = \"{KEY}\"\nkinds = []\n")
        };
        let text = format!(
            "[policy]\nid = \"p\"\nversion = \"1\"\n{}{}",
            signer("a"),
            signer("b")
        );
        let err = policy(&text).unwrap_err().to_string();
        assert!(err.contains("same key as signer `a`"), "{err}");
    }

    #[test]
    fn paths_within_a_ceiling() {
        assert!(path_within("src", "."));
        assert!(path_within("src/a", "src"));
        assert!(path_within("src", "src"));
        assert!(!path_within("srcx", "src"));
        assert!(!path_within("mount:osv", "."));
        assert!(path_within("mount:osv", "mount:osv"));
        assert!(!path_within(".", "src"));
    }
}
