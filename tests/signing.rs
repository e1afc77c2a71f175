//! The signed trail: the pipeline key, the `sign` import, provenance,
//! signed approvals and checkpoints, and `gantry audit verify` naming
//! exactly what was tampered with.
//!
//! The pipeline here runs `gantry:test` (running `true`), then `gantry:ato`
//! (which has the host sign its packet), a gate for a `SECURITY_OFFICER`
//! whose key the roles file binds, then a last `gantry:test`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};
use serde_json::Value;

use crate::support::{Gantry, Ran, Scratch, interop_python, read_json, run_interop_check, stage};

const SIGNED: &str = r#"
[pipeline]
name = "signed"
workspace = "ws"
roles = "roles.toml"
signing-key = { path = "keys/pipeline.pem" }

[[stage]]
id = "first"
plugin = "gantry:test"
config = { command = ["true"] }
grants = { exec = ["true"] }

[[stage]]
id = "ato"
plugin = "gantry:ato"
needs = ["first"]

[[stage]]
id = "review"
approval = { role = "SECURITY_OFFICER", min = 1 }
needs = ["ato"]

[[stage]]
id = "last"
plugin = "gantry:test"
needs = ["review"]
config = { command = ["true"] }
grants = { exec = ["true"] }
"#;

/// A scratch pipeline with a pipeline key, and officer and developer keys
/// bound in its roles file.
struct Signed {
    scratch: Scratch,
    gantry: Gantry,
}

impl Signed {
    fn new() -> Result<Signed> {
        let scratch = Scratch::new(SIGNED)?;
        let gantry = Gantry::new()?;
        std::fs::create_dir_all(scratch.path().join("keys"))?;
        let mut public = std::collections::BTreeMap::new();
        for name in ["pipeline", "officer", "dev"] {
            let out = scratch.path().join(format!("keys/{name}.pem"));
            let ran = gantry.run(&["keygen", "--out", &out.display().to_string()])?;
            ensure!(ran.code == 0, "keygen failed: {ran:?}");
            public.insert(name, ran.stdout.trim().to_owned());
        }
        scratch.write(
            "roles.toml",
            &format!(
                "[identity.officer]\nroles = [\"SECURITY_OFFICER\"]\npublic-key = \"{}\"\n\n\
                 [identity.dev]\nroles = [\"DEVELOPER\"]\npublic-key = \"{}\"\n\n\
                 [identity.deputy]\nroles = [\"SECURITY_OFFICER\"]\n",
                public["officer"], public["dev"]
            ),
        )?;
        Ok(Signed { scratch, gantry })
    }

    fn key(&self, name: &str) -> String {
        self.scratch
            .path()
            .join(format!("keys/{name}.pem"))
            .display()
            .to_string()
    }

    /// Runs the pipeline to its gate; returns the run id.
    fn run_to_gate(&self) -> Result<String> {
        let ran = self.gantry.run(&["run", &self.scratch.pipeline()])?;
        ensure!(ran.code == 4, "expected a stop at the gate: {ran:?}");
        self.gantry.only_run()
    }

    fn approve(&self, run: &str, identity: &str, key: Option<&str>) -> Result<Ran> {
        let mut args = vec!["approve", run, "--as", identity];
        let key = key.map(|k| self.key(k));
        if let Some(key) = &key {
            args.extend(["--key", key]);
        }
        self.gantry.run(&args)
    }

    /// A run approved by the officer and resumed to success.
    fn finished_run(&self) -> Result<String> {
        let run = self.run_to_gate()?;
        let ran = self.approve(&run, "officer", Some("officer"))?;
        ensure!(ran.code == 0, "approve failed: {ran:?}");
        let ran = self.gantry.run(&["resume", &run])?;
        ensure!(ran.code == 0, "resume failed: {ran:?}");
        Ok(run)
    }

    fn provenance(&self, run: &str) -> PathBuf {
        self.gantry.run_dir(run).join("provenance.dsse.json")
    }

    /// `audit verify`, which must fail; returns what it printed.
    fn verify_fails(&self) -> Result<String> {
        let ran = self.gantry.run(&["audit", "verify"])?;
        ensure!(ran.code == 1, "expected a broken trail: {ran:?}");
        Ok(ran.stderr)
    }

    fn log(&self) -> PathBuf {
        self.gantry.state_dir().join("audit.jsonl")
    }
}

fn events_named<'a>(events: &'a [Value], name: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == name).collect()
}

/// The payload of a DSSE envelope, parsed.
fn payload(envelope: &Value) -> Result<Value> {
    use base64::Engine as _;
    let text = envelope["payload"].as_str().context("no payload")?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(text)?;
    Ok(serde_json::from_slice(&bytes)?)
}

#[test]
fn a_signed_run_records_its_key_attests_checkpoints_and_verifies() -> Result<()> {
    let signed = Signed::new()?;
    let run = signed.finished_run()?;
    let events = signed.gantry.audit_events_of(&run)?;
    let public = std::fs::read_to_string(signed.key("pipeline") + ".pub")?;

    let start = events_named(&events, "run-start")[0];
    assert_eq!(start["signing_key"]["public_key"], public.trim());
    assert_eq!(
        start["signing_key"]["keyid"].as_str().map(str::len),
        Some(64)
    );

    // The ato stage signed its packet through the host, and it was audited.
    let signs = events_named(&events, "signed");
    assert_eq!(signs.len(), 1, "{signs:?}");
    assert_eq!(signs[0]["stage"], "ato");
    let record = signed.gantry.run_record(&run)?;
    let ato = stage(&record, "ato")?;
    let names: Vec<_> = ato["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["name"])
        .collect();
    assert!(
        names.contains(&&Value::from("assessment-results-signature")),
        "{names:?}"
    );

    // The provenance was written before the gate, and the approval names it.
    let attestation = events_named(&events, "attestation")[0];
    let approval = events_named(&events, "approval")[0];
    assert!(attestation["seq"].as_u64() < approval["seq"].as_u64());
    let statement = payload(&approval["envelope"])?;
    assert_eq!(statement["run"], run.as_str());
    assert_eq!(statement["role"], "SECURITY_OFFICER");
    assert_eq!(
        format!(
            "sha256:{}",
            statement["attestation"]["digest"]["sha256"]
                .as_str()
                .unwrap()
        ),
        attestation["digest"].as_str().unwrap()
    );
    assert!(
        statement["atoPacket"]["digest"]["sha256"].is_string(),
        "{statement}"
    );

    let provenance: Value = read_json(&signed.provenance(&run))?;
    assert_eq!(provenance["payloadType"], "application/vnd.in-toto+json");
    let statement = payload(&provenance)?;
    assert_eq!(statement["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(statement["predicateType"], "https://slsa.dev/provenance/v1");
    let stages = &statement["predicate"]["buildDefinition"]["internalParameters"]["stages"];
    assert_eq!(stages[0]["id"], "first");
    assert_eq!(stages[0]["grants"]["exec"][0]["name"], "true", "{stages}");

    // A checkpoint after the approval and one at the run's end.
    let checkpoints: Vec<_> = events_named(&events, "checkpoint")
        .iter()
        .map(|c| c["after"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(checkpoints, ["approval", "run-end"]);

    let ran = signed.gantry.run(&["audit", "verify", "--json"])?;
    assert_eq!(ran.code, 0, "{ran:?}");
    let summary = &ran.json()?["summary"]["signatures"];
    assert_eq!(summary["checkpoints"], 2, "{summary}");
    assert_eq!(summary["attestations"], 1);
    assert_eq!(summary["signed_decisions"], 1);
    assert_eq!(summary["unsigned_decisions"], 0);
    Ok(())
}

#[test]
fn a_changed_byte_in_the_provenance_is_named_by_file() -> Result<()> {
    let signed = Signed::new()?;
    let run = signed.finished_run()?;
    let path = signed.provenance(&run);
    let mut bytes = std::fs::read(&path)?;
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(&path, bytes)?;
    let message = signed.verify_fails()?;
    assert!(message.contains("provenance.dsse.json"), "{message}");
    assert!(message.contains(&format!("run {run}")), "{message}");
    Ok(())
}

#[test]
fn a_provenance_re_signed_by_another_key_is_refused() -> Result<()> {
    let signed = Signed::new()?;
    let run = signed.finished_run()?;
    // Swap the whole file for one signed by the developer's key, and fix
    // the digests in the run record so that only the signature is wrong.
    let path = signed.provenance(&run);
    let mut envelope: Value = read_json(&path)?;
    let dev = gantry::audit::keys::load_private_key(Path::new(&signed.key("dev")))?;
    let bytes = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.decode(envelope["payload"].as_str().unwrap())?
    };
    let forged = gantry::audit::dsse::Envelope::sign("application/vnd.in-toto+json", &bytes, &dev);
    envelope["signatures"] = serde_json::to_value(&forged.signatures)?;
    std::fs::write(&path, serde_json::to_string_pretty(&envelope)?)?;
    let message = signed.verify_fails()?;
    assert!(message.contains("provenance.dsse.json"), "{message}");
    Ok(())
}

#[test]
fn a_swapped_checkpoint_signature_is_named_by_line() -> Result<()> {
    let signed = Signed::new()?;
    signed.finished_run()?;
    let log = signed.log();
    let text = std::fs::read_to_string(&log)?;
    let mut lines: Vec<Value> = text
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let checkpoints: Vec<usize> = (0..lines.len())
        .filter(|i| lines[*i]["event"] == "checkpoint")
        .collect();
    ensure!(checkpoints.len() == 2, "{checkpoints:?}");
    // The second checkpoint gets the first's signature; the line is
    // re-hashed and the chain re-linked, as a forger who knows the format
    // would do, so only the signature is wrong.
    let first_sig = lines[checkpoints[0]]["envelope"]["signatures"].clone();
    lines[checkpoints[1]]["envelope"]["signatures"] = first_sig;
    rechain(&log, &mut lines)?;
    let message = signed.verify_fails()?;
    assert!(
        message.contains(&format!("line {}", checkpoints[1] + 1)),
        "{message}"
    );
    assert!(message.contains("signature does not verify"), "{message}");
    Ok(())
}

#[test]
fn an_approval_with_a_developer_key_is_refused_and_audited() -> Result<()> {
    let signed = Signed::new()?;
    let run = signed.run_to_gate()?;

    let ran = signed.approve(&run, "officer", Some("dev"))?;
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.stderr.contains("bound to `dev`"), "{}", ran.stderr);
    let ran = signed.approve(&run, "officer", None)?;
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.stderr.contains("must be signed"), "{}", ran.stderr);
    // `deputy` has no key bound: a key given cannot be checked.
    let ran = signed.approve(&run, "deputy", Some("officer"))?;
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(
        ran.stderr.contains("binds no key to `deputy`"),
        "{}",
        ran.stderr
    );

    let events = signed.gantry.audit_events_of(&run)?;
    let refused = events_named(&events, "approval-refused");
    assert_eq!(refused.len(), 3, "{refused:?}");
    assert!(events_named(&events, "approval").is_empty());

    // The control: the officer's own key is accepted.
    let ran = signed.approve(&run, "officer", Some("officer"))?;
    assert_eq!(ran.code, 0, "{ran:?}");
    signed.gantry.assert_audit_intact()
}

#[test]
fn an_approval_re_signed_with_a_developer_key_fails_verification() -> Result<()> {
    let signed = Signed::new()?;
    signed.finished_run()?;
    let log = signed.log();
    let text = std::fs::read_to_string(&log)?;
    let mut lines: Vec<Value> = text
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let index = lines
        .iter()
        .position(|l| l["event"] == "approval")
        .context("no approval")?;
    let dev = gantry::audit::keys::load_private_key(Path::new(&signed.key("dev")))?;
    let statement = {
        use base64::Engine as _;
        let text = lines[index]["envelope"]["payload"]
            .as_str()
            .unwrap()
            .to_owned();
        base64::engine::general_purpose::STANDARD.decode(text)?
    };
    let forged = gantry::audit::dsse::Envelope::sign(
        "application/vnd.gantry.approval+json",
        &statement,
        &dev,
    );
    lines[index]["envelope"] = serde_json::to_value(&forged)?;
    rechain(&log, &mut lines)?;
    let message = signed.verify_fails()?;
    assert!(
        message.contains(&format!("line {}", index + 1)),
        "{message}"
    );
    assert!(
        message.contains("the key the roles file binds to `officer`"),
        "{message}"
    );
    Ok(())
}

#[test]
fn a_run_without_a_signing_key_gets_one_in_the_state_dir() -> Result<()> {
    let scratch = Scratch::new(
        "[pipeline]\nname = \"keyless\"\nworkspace = \"ws\"\n\n[[stage]]\nid = \"t\"\n\
         plugin = \"gantry:test\"\nconfig = { command = [\"true\"] }\ngrants = { exec = [\"true\"] }\n",
    )?;
    let gantry = Gantry::new()?;
    for _ in 0..2 {
        let ran = gantry.run(&["run", &scratch.pipeline()])?;
        assert_eq!(ran.code, 0, "{ran:?}");
    }
    let keys: Vec<_> = std::fs::read_dir(gantry.state_dir().join("keys"))?.collect();
    assert_eq!(keys.len(), 1, "one key for the pipeline, made once");
    let starts: Vec<_> = gantry
        .audit_events()?
        .into_iter()
        .filter(|e| e["event"] == "run-start")
        .map(|e| e["signing_key"]["public_key"].clone())
        .collect();
    assert_eq!(starts.len(), 2);
    assert_eq!(starts[0], starts[1]);
    assert!(starts[0].as_str().unwrap().starts_with("ed25519:"));
    gantry.assert_audit_intact()
}

#[test]
fn a_bad_signing_key_is_named_with_file_key_and_line() -> Result<()> {
    let scratch = Scratch::new(&SIGNED.replace("keys/pipeline.pem", "keys/absent.pem"))?;
    scratch.write(
        "roles.toml",
        "[identity.officer]\nroles = [\"SECURITY_OFFICER\"]\n",
    )?;
    let gantry = Gantry::new()?;
    let ran = gantry.run(&["inspect", &scratch.pipeline()])?;
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(
        ran.stderr
            .contains("pipeline.toml:6: `pipeline.signing-key.path`"),
        "{}",
        ran.stderr
    );
    let scratch =
        Scratch::new(&SIGNED.replace("{ path = \"keys/pipeline.pem\" }", "{ env = \"1X\" }"))?;
    scratch.write(
        "roles.toml",
        "[identity.officer]\nroles = [\"SECURITY_OFFICER\"]\n",
    )?;
    let ran = gantry.run(&["inspect", &scratch.pipeline()])?;
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(
        ran.stderr.contains("`pipeline.signing-key.env`"),
        "{}",
        ran.stderr
    );
    Ok(())
}

#[test]
fn the_provenance_and_packet_signature_verify_with_securesystemslib() -> Result<()> {
    let Some(python) = interop_python() else {
        return Ok(());
    };
    let signed = Signed::new()?;
    let run = signed.finished_run()?;
    let public = PathBuf::from(signed.key("pipeline") + ".pub");
    let provenance = signed.provenance(&run);
    let args: [&Path; 3] = [&provenance, &public, Path::new("--in-toto")];
    let said = run_interop_check(&python, "check_dsse.py", &args)?;
    assert!(said.starts_with("ok: "), "{said}");
    let packet = signed
        .gantry
        .run_dir(&run)
        .join("stages/ato/out/assessment-results.dsse.json");
    run_interop_check(&python, "check_dsse.py", &[&packet, &public])?;

    // The control: the developer's key must not verify it.
    let dev = PathBuf::from(signed.key("dev") + ".pub");
    let wrong = run_interop_check(&python, "check_dsse.py", &[&provenance, &dev]);
    ensure!(wrong.is_err(), "a wrong key verified: {wrong:?}");
    Ok(())
}

/// Writes `lines` back to the log at `log`, re-hashing and re-linking
/// every line as a forger who knows the format would, and rewriting the
/// chain heads the run records hold to match.
fn rechain(log: &Path, lines: &mut [Value]) -> Result<()> {
    let mut prev = "0".repeat(64);
    let mut text = String::new();
    let mut renamed = Vec::new();
    for line in lines.iter_mut() {
        let object = line.as_object_mut().context("line is not an object")?;
        let old = object.remove("hash").unwrap_or_default();
        object.insert("prev".into(), prev.clone().into());
        let canonical = gantry::audit::canonical_json(line);
        let hash = crate::support::sha256_hex(canonical.as_bytes());
        line["hash"] = hash.clone().into();
        text.push_str(&gantry::audit::canonical_json(line));
        text.push('\n');
        renamed.push((old.as_str().unwrap_or_default().to_owned(), hash.clone()));
        prev = hash;
    }
    std::fs::write(log, text)?;
    let runs = log.with_file_name("runs");
    for entry in std::fs::read_dir(runs)? {
        let record = entry?.path().join("run.json");
        let mut text = std::fs::read_to_string(&record)?;
        for (old, new) in &renamed {
            text = text.replace(old.as_str(), new);
        }
        std::fs::write(&record, text)?;
    }
    Ok(())
}

#[test]
fn a_stage_not_of_kind_ato_is_refused_signing_and_the_refusal_audited() -> Result<()> {
    use crate::sandbox::case::{Case, assert_attempts, assert_sandbox_held};

    let case = Case::new("sign-ungranted", |_| String::new())?;
    let ran = case.run()?;
    let metadata = assert_sandbox_held(&case, &ran)?;
    assert_attempts(
        &metadata,
        "refused: not-granted: ",
        &["sign.plain", "sign.in-toto"],
    )?;
    let events = case.gantry.audit_events_of(&case.gantry.only_run()?)?;
    let denials = events_named(&events, "denied");
    assert_eq!(denials.len(), 2, "{denials:#?}");
    assert!(
        denials.iter().all(|d| d["capability"] == "sign"),
        "{denials:#?}"
    );
    assert_eq!(denials[1]["asked"], "sign `application/vnd.in-toto+json`");
    assert!(events_named(&events, "signed").is_empty());

    // `inspect` says so before anything runs.
    let ran = case
        .gantry
        .run(&["inspect", "--json", &case.scratch.pipeline()])?;
    let report = ran.json()?;
    let findings = report["stages"][0]["findings"]
        .as_array()
        .context("findings")?;
    let codes: Vec<_> = findings.iter().map(|f| &f["code"]).collect();
    assert!(
        codes.contains(&&Value::from("sign-not-allowed")),
        "{codes:?}"
    );
    assert_eq!(report["stages"][0]["may_sign"], false);
    case.gantry.assert_audit_intact()
}

#[test]
fn a_run_whose_stage_failed_has_no_provenance_but_a_signed_end() -> Result<()> {
    let scratch = Scratch::new(
        "[pipeline]\nname = \"failing\"\nworkspace = \"ws\"\n\n[[stage]]\nid = \"t\"\n\
         plugin = \"gantry:test\"\nconfig = { command = [\"false\"] }\n\
         grants = { exec = [\"false\"] }\n",
    )?;
    let gantry = Gantry::new()?;
    let ran = gantry.run(&["run", &scratch.pipeline()])?;
    assert_eq!(ran.code, 1, "{ran:?}");
    let run = gantry.only_run()?;
    let events = gantry.audit_events_of(&run)?;
    assert!(
        events_named(&events, "attestation").is_empty(),
        "{events:#?}"
    );
    ensure!(!gantry.run_dir(&run).join("provenance.dsse.json").exists());
    let last = events.last().context("no events")?;
    assert_eq!(last["event"], "checkpoint");
    assert_eq!(last["after"], "run-end");
    gantry.assert_audit_intact()
}
