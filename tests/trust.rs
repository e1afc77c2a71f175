//! Plugin integrity: keys, signatures, a trust policy that fails closed, and
//! the policy's ceilings, through the real `gantry` binary.
//!
//! Every refusal must come before any stage runs (no run directory), exit
//! 2, name the stage, plugin, digest and reason, and be on the audit trail,
//! which still verifies.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};
use serde_json::Value;

use crate::support::{Gantry, Ran, Scratch, stage};

/// A copy of the no-op fixture plugin (kind `custom`) and a key pair made
/// with `gantry keygen`, in a directory of their own.
struct Signing {
    dir: tempfile::TempDir,
    gantry: Gantry,
}

impl Signing {
    fn new() -> Result<Signing> {
        let dir = tempfile::tempdir()?;
        let noop = Path::new(crate::support::PLUGIN_DIR).join("fixture_noop.wasm");
        std::fs::copy(noop, dir.path().join("noop.wasm"))?;
        Ok(Signing {
            dir,
            gantry: Gantry::new()?,
        })
    }

    fn plugin(&self) -> PathBuf {
        self.dir.path().join("noop.wasm")
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// `gantry keygen --out <name>`; the public key it printed.
    fn keygen(&self, name: &str) -> Result<String> {
        let ran = self.gantry.run(&["keygen", "--out", &self.path(name)])?;
        ensure!(ran.code == 0, "keygen failed: {ran:?}");
        Ok(ran.stdout.trim().to_owned())
    }

    /// `gantry plugin sign noop.wasm --key <key> --kind <kind>`.
    fn sign(&self, key: &str, kind: &str) -> Result<()> {
        let plugin = self.plugin().display().to_string();
        let args = [
            "plugin",
            "sign",
            &plugin,
            "--key",
            &self.path(key),
            "--kind",
            kind,
        ];
        let ran = self.gantry.run(&args)?;
        ensure!(ran.code == 0, "sign failed: {ran:?}");
        Ok(())
    }

    fn digest(&self) -> Result<String> {
        Ok(gantry::store::sha256_file(&self.plugin())?)
    }
}

/// A policy trusting `signers` (name, key, kinds), with `extra` after.
fn policy(builtin: bool, signers: &[(&str, &str, &str)], extra: &str) -> String {
    let mut text =
        format!("[policy]\nid = \"p\"\nversion = \"1\"\n\n[trust]\nbuiltin = {builtin}\n");
    for (name, key, kinds) in signers {
        text.push_str(&format!(
            "\n[[trust.signer]]\nname = \"{name}\"\npublic-key = \"{key}\"\nkinds = {kinds}\n"
        ));
    }
    text.push_str(extra);
    text
}

/// A pipeline under `policy.toml` whose stage `probe` runs `plugin` (TOML
/// value), followed by `rest`.
fn pipeline(plugin: &str, rest: &str) -> String {
    format!(
        "[pipeline]\nname = \"trusted\"\nworkspace = \"ws\"\n\
         policy = {{ id = \"p\", version = \"1\", file = \"policy.toml\" }}\n\
         roles = \"roles.toml\"\n\n[[stage]]\nid = \"probe\"\nplugin = {plugin}\n{rest}"
    )
}

fn quoted(path: &Path) -> String {
    format!("{:?}", path.display().to_string())
}

/// Runs `pipeline` under `policy`.
fn run(gantry: &Gantry, pipeline: &str, policy: &str) -> Result<(Ran, Scratch)> {
    let scratch = Scratch::new(pipeline)?;
    scratch.write("policy.toml", policy)?;
    scratch.write(
        "roles.toml",
        "[identity.officer]\nroles = [\"SECURITY_OFFICER\"]\n",
    )?;
    let ran = gantry.run(&["run", &scratch.pipeline()])?;
    Ok((ran, scratch))
}

/// Checks a refusal before anything ran: exit 2 naming the stage, plugin,
/// digest and `reason`, no run directory, one `run-refused` event saying
/// the same, and a trail that verifies. Returns the event's refusal.
fn assert_refused(gantry: &Gantry, ran: &Ran, digest: &str, reason: &str) -> Result<Value> {
    ensure!(ran.code == 2, "expected exit 2: {ran:?}");
    for part in ["stage `probe`", digest, reason] {
        ensure!(ran.stderr.contains(part), "no `{part}` in:\n{}", ran.stderr);
    }
    ensure!(ran.stderr.contains("hint:"), "no hint in:\n{}", ran.stderr);
    let runs = gantry.state_dir().join("runs");
    let count = std::fs::read_dir(&runs).map(|d| d.count()).unwrap_or(0);
    ensure!(count == 0, "a run was recorded though it was refused");

    let events = gantry.audit_events()?;
    ensure!(
        !events.iter().any(|e| e["event"] == "stage-start"),
        "a stage started: {events:?}"
    );
    let refused: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "run-refused")
        .collect();
    ensure!(
        refused.len() == 1,
        "expected one run-refused event: {events:?}"
    );
    let refusal = refused[0]["refusals"][0].clone();
    ensure!(refusal["stage"] == "probe", "{refusal}");
    ensure!(refusal["digest"] == digest, "{refusal}");
    ensure!(
        refusal["plugin"].as_str().is_some_and(|p| !p.is_empty()),
        "{refusal}"
    );
    let audited = refusal["reason"].as_str().unwrap_or_default();
    ensure!(audited.contains(reason), "audited reason `{audited}`");
    ensure!(
        ran.stderr
            .contains(refused[0]["run"].as_str().unwrap_or("?")),
        "the message does not name the audited run id:\n{}",
        ran.stderr
    );
    gantry.assert_audit_intact()?;
    Ok(refusal)
}

/// Signs the fixture with a trusted key for `sign_kind`, runs it under a
/// policy trusting that key for `trusted_kinds`, after `tamper` had its
/// way with the files; asserts the refusal.
fn refused_after(
    sign_kind: &str,
    trusted_kinds: &str,
    tamper: impl FnOnce(&Signing) -> Result<()>,
    reason: &str,
) -> Result<()> {
    let signing = Signing::new()?;
    let public = signing.keygen("platform.pem")?;
    signing.sign("platform.pem", sign_kind)?;
    tamper(&signing)?;
    let policy = policy(true, &[("platform", &public, trusted_kinds)], "");
    let (ran, _scratch) = run(
        &signing.gantry,
        &pipeline(&quoted(&signing.plugin()), ""),
        &policy,
    )?;
    assert_refused(&signing.gantry, &ran, &signing.digest()?, reason)?;
    Ok(())
}

#[test]
fn keygen_writes_a_private_key_at_mode_0600_and_refuses_to_overwrite() -> Result<()> {
    let signing = Signing::new()?;
    let public = signing.keygen("platform.pem")?;
    ensure!(public.starts_with("ed25519:"), "{public}");
    let key = signing.dir.path().join("platform.pem");
    let mode = std::fs::metadata(&key)?.permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let pem = std::fs::read_to_string(&key)?;
    ensure!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem}");
    assert_eq!(
        std::fs::read_to_string(signing.path("platform.pem.pub"))?.trim(),
        public
    );

    let again = signing
        .gantry
        .run(&["keygen", "--out", &signing.path("platform.pem")])?;
    assert_eq!(again.code, 2, "{again:?}");
    ensure!(
        again.stderr.contains("refusing to overwrite"),
        "{}",
        again.stderr
    );
    assert_eq!(std::fs::read_to_string(&key)?, pem, "the key was replaced");

    let json = signing
        .gantry
        .run(&["keygen", "--out", &signing.path("other.pem"), "--json"])?;
    let object = json.json()?;
    ensure!(
        object["public_key"]
            .as_str()
            .is_some_and(|k| k.starts_with("ed25519:"))
    );
    Ok(())
}

#[test]
fn a_private_key_others_can_read_is_refused() -> Result<()> {
    let signing = Signing::new()?;
    signing.keygen("platform.pem")?;
    let key = signing.dir.path().join("platform.pem");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644))?;
    let plugin = signing.plugin().display().to_string();
    let key_arg = key.display().to_string();
    let args = [
        "plugin", "sign", &plugin, "--key", &key_arg, "--kind", "custom",
    ];
    let ran = signing.gantry.run(&args)?;
    assert_eq!(ran.code, 2, "{ran:?}");
    ensure!(ran.stderr.contains("readable by others"), "{}", ran.stderr);
    ensure!(ran.stderr.contains("chmod 600"), "{}", ran.stderr);
    ensure!(
        !signing.dir.path().join("noop.wasm.sig").exists(),
        "it signed anyway"
    );
    Ok(())
}

#[test]
fn sign_and_verify_round_trip_through_the_cli() -> Result<()> {
    let signing = Signing::new()?;
    let public = signing.keygen("platform.pem")?;
    signing.sign("platform.pem", "scan")?;
    let digest = signing.digest()?;

    // The envelope is DSSE, over the canonical statement of digest and kind.
    let envelope: Value =
        serde_json::from_str(&std::fs::read_to_string(signing.path("noop.wasm.sig"))?)?;
    assert_eq!(
        envelope["payloadType"],
        "application/vnd.gantry.plugin+json"
    );
    assert_eq!(envelope["signatures"][0]["keyid"], public.as_str());
    use base64::Engine as _;
    let payload = base64::engine::general_purpose::STANDARD
        .decode(envelope["payload"].as_str().unwrap_or_default())?;
    assert_eq!(
        String::from_utf8(payload)?,
        format!("{{\"digest\":\"{digest}\",\"kind\":\"scan\"}}")
    );

    let plugin = signing.plugin().display().to_string();
    let verify = |extra: &[&str]| {
        let mut args = vec!["plugin", "verify", plugin.as_str(), "--json"];
        args.extend_from_slice(extra);
        signing.gantry.run(&args)
    };
    let ran = verify(&["--public-key", &public])?;
    assert_eq!(ran.code, 0, "{ran:?}");
    let object = ran.json()?;
    assert_eq!(object["digest"], digest.as_str());
    assert_eq!(object["kind"], "scan");
    assert_eq!(object["signer"]["key"], public.as_str());

    let policy_file = signing.dir.path().join("policy.toml");
    std::fs::write(
        &policy_file,
        policy(true, &[("platform", &public, "[\"scan\"]")], ""),
    )?;
    let policy_arg = policy_file.display().to_string();
    let ran = verify(&["--policy", &policy_arg])?;
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(ran.json()?["signer"]["name"], "platform");

    // Not for this kind, by another key, and with no signature at all.
    std::fs::write(
        &policy_file,
        policy(true, &[("platform", &public, "[\"build\"]")], ""),
    )?;
    let ran = verify(&["--policy", &policy_arg])?;
    assert_eq!(ran.code, 1, "{ran:?}");
    ensure!(ran.stderr.contains("only for `build`"), "{}", ran.stderr);
    let other = signing.keygen("other.pem")?;
    let ran = verify(&["--public-key", &other])?;
    assert_eq!(ran.code, 1, "{ran:?}");
    ensure!(
        ran.json()?["reason"]
            .as_str()
            .unwrap_or_default()
            .contains(&public)
    );
    let missing = signing.path("missing.sig");
    let ran = verify(&["--public-key", &public, "--signature", &missing])?;
    assert_eq!(ran.code, 1, "{ran:?}");
    ensure!(ran.stderr.contains("no signature file"), "{}", ran.stderr);
    Ok(())
}

#[test]
fn a_trusted_signed_plugin_runs_with_its_signer_on_the_record() -> Result<()> {
    let signing = Signing::new()?;
    let public = signing.keygen("platform.pem")?;
    signing.sign("platform.pem", "custom")?;
    let policy = policy(false, &[("platform", &public, "[\"custom\"]")], "");
    let (ran, _scratch) = run(
        &signing.gantry,
        &pipeline(&quoted(&signing.plugin()), ""),
        &policy,
    )?;
    assert_eq!(ran.code, 0, "{ran:?}");

    let digest = signing.digest()?;
    let events = signing.gantry.audit_events()?;
    let start = events
        .iter()
        .find(|e| e["event"] == "stage-start")
        .context("no stage-start event")?;
    assert_eq!(start["plugin_digest"], digest.as_str());
    assert_eq!(start["plugin_kind"], "custom");
    assert_eq!(start["plugin_signer"]["name"], "platform");
    assert_eq!(start["plugin_signer"]["key"], public.as_str());

    let run_id = signing.gantry.only_run()?;
    let record = signing.gantry.run_record(&run_id)?;
    let pin = &record["pins"]["plugins"]["probe"];
    assert_eq!(pin["signer"]["name"], "platform");
    assert_eq!(pin["kind"], "custom");
    let sig = std::fs::read(signing.path("noop.wasm.sig"))?;
    assert_eq!(pin["signature"], gantry::store::sha256_bytes(&sig).as_str());
    signing.gantry.assert_audit_intact()
}

#[test]
fn a_signature_named_in_the_pipeline_is_the_one_checked() -> Result<()> {
    let signing = Signing::new()?;
    let public = signing.keygen("platform.pem")?;
    signing.sign("platform.pem", "custom")?;
    let named = signing.dir.path().join("envelopes/noop.dsse.json");
    std::fs::create_dir(named.parent().context("parent")?)?;
    std::fs::rename(signing.path("noop.wasm.sig"), &named)?;
    let plugin = format!(
        "{{ path = {}, signature = {} }}",
        quoted(&signing.plugin()),
        quoted(&named)
    );
    let policy = policy(true, &[("platform", &public, "[\"custom\"]")], "");
    let (ran, _scratch) = run(&signing.gantry, &pipeline(&plugin, ""), &policy)?;
    assert_eq!(ran.code, 0, "{ran:?}");
    Ok(())
}

#[test]
fn standard_plugins_are_recorded_as_builtin_with_their_kind() -> Result<()> {
    let gantry = Gantry::new()?;
    let policy = policy(true, &[], "");
    let (ran, _scratch) = run(&gantry, &pipeline("\"gantry:ato\"", ""), &policy)?;
    // Whatever the ato plugin makes of a run with no inputs, it started.
    ensure!(!ran.stderr.contains("refuses"), "{ran:?}");
    let events = gantry.audit_events()?;
    let start = events
        .iter()
        .find(|e| e["event"] == "stage-start")
        .context("no stage-start event")?;
    assert_eq!(start["plugin_signer"], "builtin");
    assert_eq!(start["plugin_kind"], "ato");
    let digest = gantry::store::sha256_bytes(gantry::engine::builtin_bytes(
        gantry::pipeline::BuiltinPlugin::Ato,
    ));
    assert_eq!(start["plugin_digest"], digest.as_str());
    Ok(())
}

#[test]
fn an_unsigned_plugin_is_refused() -> Result<()> {
    refused_after(
        "custom",
        "[\"custom\"]",
        |s| Ok(std::fs::remove_file(s.path("noop.wasm.sig"))?),
        "no signature file",
    )
}

#[test]
fn a_plugin_signed_by_an_unknown_key_is_refused() -> Result<()> {
    refused_after(
        "custom",
        "[\"custom\"]",
        |s| {
            s.keygen("stranger.pem")?;
            s.sign("stranger.pem", "custom")
        },
        "which no `[[trust.signer]]` of the policy names",
    )
}

#[test]
fn a_signer_not_trusted_for_the_kind_is_refused() -> Result<()> {
    refused_after(
        "custom",
        "[\"build\", \"test\"]",
        |_| Ok(()),
        "only for `build`, `test`",
    )
}

#[test]
fn a_plugin_changed_after_signing_is_refused() -> Result<()> {
    refused_after(
        "custom",
        "[\"custom\"]",
        |s| {
            let mut bytes = std::fs::read(s.plugin())?;
            bytes.push(0);
            Ok(std::fs::write(s.plugin(), bytes)?)
        },
        "the plugin changed after it was signed",
    )
}

#[test]
fn a_garbage_signature_file_is_refused() -> Result<()> {
    refused_after(
        "custom",
        "[\"custom\"]",
        |s| {
            Ok(std::fs::write(
                s.path("noop.wasm.sig"),
                b"\x7fELF not an envelope",
            )?)
        },
        "is malformed",
    )
}

#[test]
fn a_truncated_signature_file_is_refused() -> Result<()> {
    refused_after(
        "custom",
        "[\"custom\"]",
        |s| {
            let text = std::fs::read(s.path("noop.wasm.sig"))?;
            Ok(std::fs::write(
                s.path("noop.wasm.sig"),
                &text[..text.len() / 2],
            )?)
        },
        "is malformed",
    )
}

#[test]
fn an_envelope_of_another_payload_type_is_refused() -> Result<()> {
    refused_after(
        "custom",
        "[\"custom\"]",
        |s| {
            let key = gantry::audit::keys::load_private_key(Path::new(&s.path("platform.pem")))?;
            let payload = format!("{{\"digest\":\"{}\",\"kind\":\"custom\"}}", s.digest()?);
            let envelope = gantry::audit::dsse::Envelope::sign(
                "application/vnd.in-toto+json",
                payload.as_bytes(),
                &key,
            );
            Ok(std::fs::write(s.path("noop.wasm.sig"), envelope.to_json())?)
        },
        "not a plugin signature",
    )
}

#[test]
fn a_plugin_whose_describe_disagrees_with_its_signed_kind_is_refused() -> Result<()> {
    refused_after(
        "scan",
        "[\"scan\"]",
        |_| Ok(()),
        "says it is a `custom` plugin",
    )
}

#[test]
fn a_standard_plugin_is_refused_when_builtin_is_not_trusted() -> Result<()> {
    let gantry = Gantry::new()?;
    let policy = policy(false, &[], "");
    let (ran, _scratch) = run(&gantry, &pipeline("\"gantry:ato\"", ""), &policy)?;
    let digest = gantry::store::sha256_bytes(gantry::engine::builtin_bytes(
        gantry::pipeline::BuiltinPlugin::Ato,
    ));
    let refusal = assert_refused(&gantry, &ran, &digest, "does not trust them")?;
    assert_eq!(refusal["plugin"], "gantry:ato");
    Ok(())
}

#[test]
fn grants_beyond_the_ceiling_refuse_the_run_naming_each() -> Result<()> {
    let gantry = Gantry::new()?;
    let ceilings = "\n[ceilings.ato]\nread = []\nenv = [\"LANG\"]\nmemory = \"64 MiB\"\n";
    let policy = policy(true, &[], ceilings);
    let stage = "[stage.grants]\nread = [\".\"]\nenv = [\"HOME\", \"LANG\"]\n\
                 [stage.limits]\nmemory = \"128 MiB\"\n";
    let (ran, _scratch) = run(&gantry, &pipeline("\"gantry:ato\"", stage), &policy)?;
    let digest = gantry::store::sha256_bytes(gantry::engine::builtin_bytes(
        gantry::pipeline::BuiltinPlugin::Ato,
    ));
    let refusal = assert_refused(&gantry, &ran, &digest, "`[ceilings.ato]`")?;
    for excess in [
        "`read` grants `.`",
        "`env` grants `HOME`",
        "`memory` grants `",
    ] {
        ensure!(
            ran.stderr.contains(excess),
            "no `{excess}` in:\n{}",
            ran.stderr
        );
    }
    ensure!(
        !ran.stderr.contains("`LANG`,"),
        "LANG is within the ceiling:\n{}",
        ran.stderr
    );
    assert_eq!(refusal["check"], "ceiling");
    assert_eq!(refusal["kind"], "ato");
    let keys: Vec<&str> = refusal["excess"]
        .as_array()
        .context("excess")?
        .iter()
        .filter_map(|e| e["key"].as_str())
        .collect();
    assert_eq!(keys, ["read", "env", "memory"]);
    Ok(())
}

/// A pipeline whose signed plugin stage is followed by a review gate.
fn gated(signing: &Signing, policy_text: &str) -> Result<(String, Scratch)> {
    let gate = "\n[[stage]]\nid = \"review\"\napproval = { role = \"SECURITY_OFFICER\" }\n\
                needs = [\"probe\"]\n";
    let (ran, scratch) = run(
        &signing.gantry,
        &pipeline(&quoted(&signing.plugin()), gate),
        policy_text,
    )?;
    ensure!(ran.code == 4, "expected a stop at the gate: {ran:?}");
    Ok((signing.gantry.only_run()?, scratch))
}

#[test]
fn approve_refuses_once_the_signature_is_gone_or_replaced() -> Result<()> {
    let signing = Signing::new()?;
    let public = signing.keygen("platform.pem")?;
    let second = signing.keygen("second.pem")?;
    signing.sign("platform.pem", "custom")?;
    let trusted = [
        ("platform", public.as_str(), "[\"custom\"]"),
        ("second", second.as_str(), "[\"custom\"]"),
    ];
    let (run_id, _scratch) = gated(&signing, &policy(true, &trusted, ""))?;
    let record = signing.gantry.run_record(&run_id)?;
    assert_eq!(stage(&record, "review")?["status"], "awaiting-approval");

    // Gone: the trust check itself refuses, on the record of this run.
    let sig = signing.path("noop.wasm.sig");
    let kept = std::fs::read(&sig)?;
    std::fs::remove_file(&sig)?;
    let ran = signing
        .gantry
        .run(&["approve", &run_id, "--as", "officer"])?;
    assert_eq!(ran.code, 2, "{ran:?}");
    ensure!(ran.stderr.contains("no signature file"), "{}", ran.stderr);
    let refused = signing.gantry.audit_events_of(&run_id)?;
    ensure!(
        refused.iter().any(|e| e["event"] == "run-refused"),
        "the refusal is not on the run's record: {refused:?}"
    );

    // Replaced by another trusted signer's: valid, but not what was pinned.
    std::fs::write(&sig, &kept)?;
    signing.sign("second.pem", "custom")?;
    let ran = signing
        .gantry
        .run(&["approve", &run_id, "--as", "officer"])?;
    assert_eq!(ran.code, 2, "{ran:?}");
    ensure!(
        ran.stderr
            .contains("signature of the plugin of stage `probe` changed"),
        "{}",
        ran.stderr
    );
    let ran = signing.gantry.run(&["resume", &run_id])?;
    assert_eq!(ran.code, 2, "{ran:?}");

    // The one it started with: approval goes through.
    std::fs::write(&sig, &kept)?;
    let ran = signing
        .gantry
        .run(&["approve", &run_id, "--as", "officer"])?;
    assert_eq!(ran.code, 0, "{ran:?}");
    signing.gantry.assert_audit_intact()
}
