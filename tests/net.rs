//! Hostile requests against the `http` import and its `net` grants.
//!
//! The plugin `hostile/net-bypass` sends the requests each test lists and
//! reports what the host answered (`attempt.<label>` = `refused: …`,
//! `allowed: …`, `ESCAPED: …`). Real servers on loopback count what
//! reaches them, so each test also checks from the host's side what the
//! plugin cannot lie about: that a refused request reached no server, that
//! every refusal is audited as a `net` denial naming the destination and
//! the missing grant, that requests sent are audited too, and that the
//! audit trail verifies and the next run is unaffected.

mod server;

use std::collections::BTreeMap;

use anyhow::{Context, Result, ensure};
use serde_json::Value;

use self::server::TestServer;
use crate::support::{Gantry, Ran, Scratch, one_stage_pipeline, stage, test_plugin};

/// One request the plugin sends, and what the host must answer.
struct Attempt {
    label: String,
    url: String,
    expect: &'static str,
    extra: String,
}

fn attempt(label: &str, url: impl Into<String>, expect: &'static str) -> Attempt {
    Attempt {
        label: label.to_owned(),
        url: url.into(),
        expect,
        extra: String::new(),
    }
}

impl Attempt {
    /// Adds TOML keys to the attempt's inline table, e.g. `timeout-ms = 300`.
    fn with(mut self, keys: &str) -> Attempt {
        self.extra = format!(", {keys}");
        self
    }

    fn toml(&self) -> String {
        format!(
            "  {{ label = {:?}, url = {:?}, expect = {:?}{} }},\n",
            self.label, self.url, self.expect, self.extra
        )
    }
}

/// One run of the plugin with `grants` and `attempts` in a state
/// directory of its own.
struct NetCase {
    gantry: Gantry,
    scratch: Scratch,
}

impl NetCase {
    fn new(grants: &[String], attempts: &[Attempt]) -> Result<NetCase> {
        let extra = stage_toml(grants, attempts);
        let scratch = Scratch::new(&one_stage_pipeline(&test_plugin("net-bypass"), &extra))?;
        Ok(NetCase {
            gantry: Gantry::new()?,
            scratch,
        })
    }

    fn run_with_env(&self, env: &[(&str, &str)]) -> Result<Ran> {
        let mut command = self
            .gantry
            .command(&["--json", "run", &self.scratch.pipeline()]);
        command.envs(env.iter().copied());
        let output = command.output().context("failed to run gantry")?;
        Ok(Ran {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }

    /// Runs the stage and checks it held: exit 0, verdict `pass`, every
    /// attempt refused or allowed as it must be; returns the attempts.
    fn run_and_hold(&self) -> Result<BTreeMap<String, String>> {
        self.hold(self.run_with_env(&[])?)
    }

    fn hold(&self, ran: Ran) -> Result<BTreeMap<String, String>> {
        ensure!(ran.code == 0, "expected exit 0: {ran:?}");
        let record = self.gantry.run_record(&self.gantry.only_run()?)?;
        let stage = stage(&record, "probe")?;
        ensure!(stage["verdict"] == "pass", "verdict: {stage:#}");
        let metadata = stage["metadata"].as_object().context("metadata")?;
        let attempts: BTreeMap<_, _> = metadata
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect();
        for (label, outcome) in &attempts {
            let fine = outcome.starts_with("refused: ") || outcome.starts_with("allowed: ");
            ensure!(fine, "{label} = {outcome}");
        }
        self.gantry.assert_audit_intact()?;
        Ok(attempts)
    }

    /// The run's audit events named `event`.
    fn events(&self, event: &str) -> Result<Vec<Value>> {
        let events = self.gantry.audit_events_of(&self.gantry.only_run()?)?;
        Ok(events.into_iter().filter(|e| e["event"] == event).collect())
    }

    /// Asserts one `net` denial for each destination in `asked`, and no
    /// other, each naming the stage, the plugin and the missing grant.
    fn assert_denied(&self, asked: &[&str]) -> Result<()> {
        let denials = self.events("denied")?;
        let mut seen: Vec<&str> = denials
            .iter()
            .map(|d| d["asked"].as_str().unwrap_or_default())
            .collect();
        let mut expected = asked.to_vec();
        seen.sort_unstable();
        expected.sort_unstable();
        ensure!(seen == expected, "denied {seen:?}, expected {expected:?}");
        for denial in &denials {
            ensure!(denial["capability"] == "net", "{denial:#}");
            ensure!(denial["stage"] == "probe", "{denial:#}");
            let plugin = denial["plugin"].as_str().unwrap_or_default();
            ensure!(plugin.contains("net_bypass"), "{denial:#}");
            let missing = denial["missing_grant"].as_str().unwrap_or_default();
            let asked = denial["asked"].as_str().unwrap_or_default();
            let named = missing == format!("net = [\"{asked}\"]") || missing.starts_with("none: ");
            ensure!(named, "{denial:#}");
        }
        Ok(())
    }

    /// Runs a legitimate request in the same state directory and checks
    /// that it passes and that the earlier run's record is as it was.
    fn assert_next_run_unaffected(&self, server: &TestServer) -> Result<()> {
        let before = self.gantry.only_run()?;
        let record = self.gantry.run_record(&before)?;
        let grants = [format!("http://localhost:{}", server.port())];
        let url = format!("http://localhost:{}/next", server.port());
        let extra = stage_toml(&grants, &[attempt("next", url, "ok")]);
        let next = Scratch::new(&one_stage_pipeline(&test_plugin("net-bypass"), &extra))?;
        let ran = self.gantry.run(&["--json", "run", &next.pipeline()])?;
        ensure!(ran.code == 0, "the next run failed: {ran:?}");
        ensure!(ran.json()?["status"] == "succeeded", "{}", ran.stdout);
        ensure!(
            self.gantry.run_record(&before)? == record,
            "the earlier run's record changed"
        );
        ensure!(
            server
                .requests()
                .iter()
                .any(|r| r.starts_with("GET /next ")),
            "the next run's request did not arrive: {:?}",
            server.requests()
        );
        self.gantry.assert_audit_intact()
    }
}

/// The stage's grants and config: the attempts as an array of tables.
fn stage_toml(grants: &[String], attempts: &[Attempt]) -> String {
    let attempts: String = attempts.iter().map(Attempt::toml).collect();
    format!("[stage.grants]\nnet = {grants:?}\n[stage.config]\nattempts = [\n{attempts}]\n")
}

/// Asserts that every label's outcome starts with `prefix`.
fn assert_outcomes(
    attempts: &BTreeMap<String, String>,
    prefix: &str,
    labels: &[&str],
) -> Result<()> {
    for label in labels {
        let outcome = attempts
            .get(&format!("attempt.{label}"))
            .with_context(|| format!("no attempt `{label}` in {attempts:#?}"))?;
        ensure!(outcome.starts_with(prefix), "{label}: {outcome}");
    }
    Ok(())
}

#[test]
fn the_exact_granted_host_is_reached_without_any_proxy() -> Result<()> {
    let granted = TestServer::start("granted")?;
    let proxy = TestServer::start("proxy")?;
    let port = granted.port();
    let case = NetCase::new(
        &[format!("http://localhost:{port}")],
        &[
            attempt("plain", format!("http://localhost:{port}/plain"), "ok"),
            attempt("upper-case", format!("HTTP://LocalHost:{port}/upper"), "ok"),
            attempt("echo", format!("http://localhost:{port}/echo"), "ok")
                .with("method = \"post\", body = \"data\", headers = [[\"x-test\", \"1\"]]"),
        ],
    )?;
    // Every proxy variable a client might honour points at the other server.
    let proxy_url = format!("http://127.0.0.1:{}", proxy.port());
    let env = [
        ("HTTP_PROXY", proxy_url.as_str()),
        ("http_proxy", proxy_url.as_str()),
        ("ALL_PROXY", proxy_url.as_str()),
        ("all_proxy", proxy_url.as_str()),
    ];
    let attempts = case.hold(case.run_with_env(&env)?)?;
    assert_outcomes(
        &attempts,
        "allowed: status 200, 18 bytes: hello from granted",
        &["plain", "upper-case"],
    )?;
    let echo = &attempts["attempt.echo"];
    ensure!(echo.contains("POST /echo HTTP/1.1"), "{echo}");
    ensure!(echo.contains("x-test: 1"), "{echo}");

    ensure!(granted.requests().len() == 3, "{:?}", granted.requests());
    ensure!(proxy.connections() == 0, "the proxy was used");
    case.assert_denied(&[])?;
    let sent = case.events("http")?;
    ensure!(sent.len() == 3, "{sent:#?}");
    for record in &sent {
        ensure!(
            record["destination"] == format!("http://localhost:{port}"),
            "{record:#}"
        );
        ensure!(record["status"] == 200, "{record:#}");
        ensure!(record["stage"] == "probe", "{record:#}");
    }
    ensure!(
        sent[2]["method"] == "POST" && sent[2]["bytes_sent"] == 4,
        "{sent:#?}"
    );
    Ok(())
}

#[test]
fn look_alike_and_ungranted_destinations_are_refused_before_connecting() -> Result<()> {
    let granted = TestServer::start("granted")?;
    let other = TestServer::start("other")?;
    let (a, b) = (granted.port(), other.port());
    let refused = [
        ("subdomain", format!("http://api.localhost:{a}/")),
        ("suffix", format!("http://localhost.evil.test:{a}/")),
        ("prefix", format!("http://evillocalhost:{a}/")),
        ("ipv4-literal", format!("http://127.0.0.1:{a}/")),
        ("ipv6-literal", format!("http://[::1]:{a}/")),
        ("other-port", format!("http://localhost:{b}/")),
        ("other-scheme", format!("https://localhost:{a}/")),
        ("userinfo", format!("http://user:pw@localhost:{a}/")),
        (
            "userinfo-host",
            format!("http://localhost:{a}@127.0.0.1:{b}/"),
        ),
        (
            "backslash",
            format!("http://localhost:{a}\\@127.0.0.1:{b}/"),
        ),
        ("percent-encoded", format!("http://local%68ost:{a}/")),
        ("full-width", format!("http://ｌｏｃａｌｈｏｓｔ:{a}/")),
        ("trailing-dot", format!("http://localhost.:{a}/")),
        ("no-slashes", format!("http:localhost:{a}/")),
        (
            "metadata",
            "http://169.254.169.254/latest/meta-data/".to_owned(),
        ),
        (
            "metadata-v6",
            "http://[fd00:ec2::254]/latest/meta-data/".to_owned(),
        ),
        ("ftp", format!("ftp://localhost:{a}/")),
        ("file", "file:///etc/passwd".to_owned()),
    ];
    let attempts: Vec<Attempt> = refused
        .iter()
        .map(|(label, url)| attempt(label, url.clone(), "not-granted"))
        .collect();
    let case = NetCase::new(&[format!("http://localhost:{a}")], &attempts)?;
    let outcomes = case.run_and_hold()?;
    let labels: Vec<&str> = refused.iter().map(|(label, _)| *label).collect();
    assert_outcomes(&outcomes, "refused: not-granted: ", &labels)?;

    ensure!(granted.connections() == 0, "{:?}", granted.requests());
    ensure!(other.connections() == 0, "{:?}", other.requests());
    ensure!(case.events("http")?.is_empty(), "a request was sent");
    // Each denial names the destination as parsed (the URL as written,
    // escaped, when it did not parse), whatever its spelling.
    let asked = [
        format!("http://api.localhost:{a}"),
        format!("http://localhost.evil.test:{a}"),
        format!("http://evillocalhost:{a}"),
        format!("http://127.0.0.1:{a}"),
        format!("http://[::1]:{a}"),
        format!("http://localhost:{b}"),
        format!("https://localhost:{a}"),
        format!("http://localhost:{a}"),
        format!("http://127.0.0.1:{b}"),
        format!("http://localhost:{a}\\\\@127.0.0.1:{b}/"),
        format!("http://localhost:{a}"),
        format!("http://localhost:{a}"),
        format!("http://localhost.:{a}"),
        format!("http://localhost:{a}"),
        "http://169.254.169.254:80".to_owned(),
        "http://[fd00:ec2::254]:80".to_owned(),
        format!("ftp://localhost:{a}"),
        "file://".to_owned(),
    ];
    let asked: Vec<&str> = asked.iter().map(String::as_str).collect();
    case.assert_denied(&asked)?;
    let literal = format!("http://127.0.0.1:{a}");
    let denials = case.events("denied")?;
    let denial = denials
        .iter()
        .find(|d| d["asked"] == literal.as_str())
        .context("the IP literal's denial")?;
    ensure!(
        denial["missing_grant"] == format!("net = [\"{literal}\"]"),
        "{denial:#}"
    );
    case.assert_next_run_unaffected(&granted)
}

#[test]
fn numeric_spellings_of_a_granted_address_are_refused() -> Result<()> {
    let server = TestServer::start("literal")?;
    let port = server.port();
    let refused = [
        ("decimal", format!("http://2130706433:{port}/")),
        ("hex", format!("http://0x7f.0.0.1:{port}/")),
        ("octal", format!("http://0177.0.0.1:{port}/")),
        ("short", format!("http://127.1:{port}/")),
        ("mapped-v6", format!("http://[::ffff:127.0.0.1]:{port}/")),
        ("padded-port", format!("http://127.0.0.1:0{port}/")),
    ];
    let mut attempts: Vec<Attempt> = refused
        .iter()
        .map(|(label, url)| attempt(label, url.clone(), "not-granted"))
        .collect();
    attempts.push(attempt(
        "dotted",
        format!("http://127.0.0.1:{port}/ok"),
        "ok",
    ));
    let case = NetCase::new(&[format!("http://127.0.0.1:{port}")], &attempts)?;
    let outcomes = case.run_and_hold()?;
    let labels: Vec<&str> = refused.iter().map(|(label, _)| *label).collect();
    assert_outcomes(&outcomes, "refused: not-granted: ", &labels)?;
    assert_outcomes(&outcomes, "allowed: status 200", &["dotted"])?;
    ensure!(
        server.requests() == ["GET /ok HTTP/1.1"],
        "{:?}",
        server.requests()
    );
    ensure!(case.events("denied")?.len() == refused.len());
    Ok(())
}

#[test]
fn a_redirect_to_an_ungranted_host_is_refused_and_audited() -> Result<()> {
    let granted = TestServer::start("granted")?;
    let other = TestServer::start("other")?;
    let (a, b) = (granted.port(), other.port());
    let case = NetCase::new(
        &[format!("http://localhost:{a}")],
        &[
            attempt(
                "to-other",
                format!("http://localhost:{a}/to/localhost:{b}/ok"),
                "not-granted",
            ),
            attempt(
                "to-literal",
                format!("http://localhost:{a}/to/127.0.0.1:{a}/ok"),
                "not-granted",
            ),
        ],
    )?;
    let outcomes = case.run_and_hold()?;
    assert_outcomes(
        &outcomes,
        "refused: not-granted: ",
        &["to-other", "to-literal"],
    )?;

    ensure!(
        other.connections() == 0,
        "the redirect was followed: {:?}",
        other.requests()
    );
    ensure!(granted.requests().len() == 2, "{:?}", granted.requests());
    case.assert_denied(&[
        &format!("http://localhost:{b}"),
        &format!("http://127.0.0.1:{a}"),
    ])?;
    // The first request did leave the host, and is on the record.
    let sent = case.events("http")?;
    ensure!(sent.len() == 2, "{sent:#?}");
    ensure!(
        sent.iter()
            .all(|s| s["status"].is_null() && s["error"].is_string()),
        "{sent:#?}"
    );
    case.assert_next_run_unaffected(&granted)
}

#[test]
fn refused_requests_in_a_loop_meet_the_log_limits() -> Result<()> {
    let server = TestServer::start("granted")?;
    let attempts: Vec<Attempt> = (0..40)
        .map(|i| {
            attempt(
                &format!("flood-{i}"),
                "http://ungranted.example/",
                "not-granted",
            )
        })
        .collect();
    let extra = format!(
        "{}[stage.limits]\nlog-lines = 20\n",
        stage_toml(&[format!("http://127.0.0.1:{}", server.port())], &attempts)
    );
    let case = NetCase {
        gantry: Gantry::new()?,
        scratch: Scratch::new(&one_stage_pipeline(&test_plugin("net-bypass"), &extra))?,
    };
    let ran = case.run_with_env(&[])?;
    ensure!(ran.code == 3, "expected a limit fault: {ran:?}");
    ensure!(ran.stdout.contains("limit `log-lines` of 20"), "{ran:?}");
    let denied = case.events("denied")?;
    ensure!(denied.len() <= 20, "{} denials recorded", denied.len());
    let exceeded = case.events("limit-exceeded")?;
    ensure!(
        exceeded.len() == 1 && exceeded[0]["limit"] == "log-lines",
        "{exceeded:#?}"
    );
    case.gantry.assert_audit_intact()?;
    case.assert_next_run_unaffected(&server)
}

#[test]
fn a_redirect_to_another_granted_destination_is_followed() -> Result<()> {
    let first = TestServer::start("first")?;
    let second = TestServer::start("second")?;
    let (a, b) = (first.port(), second.port());
    let case = NetCase::new(
        &[
            format!("http://localhost:{a}"),
            format!("http://localhost:{b}"),
        ],
        &[attempt(
            "hop",
            format!("http://localhost:{a}/to/localhost:{b}/landed"),
            "ok",
        )],
    )?;
    let outcomes = case.run_and_hold()?;
    assert_outcomes(
        &outcomes,
        "allowed: status 200, 17 bytes: hello from second",
        &["hop"],
    )?;
    ensure!(first.requests().len() == 1 && second.requests() == ["GET /landed HTTP/1.1"]);
    let sent = case.events("http")?;
    ensure!(sent.len() == 1, "{sent:#?}");
    ensure!(
        sent[0]["destination"] == format!("http://localhost:{a}"),
        "{sent:#?}"
    );
    ensure!(
        sent[0]["redirected_to"] == format!("http://localhost:{b}"),
        "{sent:#?}"
    );
    case.assert_denied(&[])
}

#[test]
fn redirects_are_followed_a_bounded_number_of_times() -> Result<()> {
    let server = TestServer::start("loop")?;
    let port = server.port();
    let hop = format!("localhost:{port}/to/");
    let url = format!("http://{}end", hop.repeat(8));
    let case = NetCase::new(
        &[format!("http://localhost:{port}")],
        &[attempt("loop", url, "failed")],
    )?;
    let outcomes = case.run_and_hold()?;
    assert_outcomes(&outcomes, "refused: failed: ", &["loop"])?;
    ensure!(
        outcomes["attempt.loop"].contains("redirects"),
        "{outcomes:?}"
    );
    // The first request and five redirects, then no more.
    ensure!(server.requests().len() == 6, "{:?}", server.requests());
    Ok(())
}

#[test]
fn a_granted_name_that_resolves_to_loopback_is_refused_before_connecting() -> Result<()> {
    let Some(name) = other_loopback_name() else {
        eprintln!("skipped: /etc/hosts maps no name but `localhost` to loopback");
        return Ok(());
    };
    let server = TestServer::start("rebound")?;
    let port = server.port();
    let destination = format!("http://{name}:{port}");
    let case = NetCase::new(
        std::slice::from_ref(&destination),
        &[attempt("rebound", format!("{destination}/"), "not-granted")],
    )?;
    let outcomes = case.run_and_hold()?;
    assert_outcomes(&outcomes, "refused: not-granted: ", &["rebound"])?;
    ensure!(
        outcomes["attempt.rebound"].contains("loopback"),
        "{outcomes:?}"
    );
    ensure!(server.connections() == 0, "{:?}", server.requests());
    case.assert_denied(&[&destination])?;
    case.assert_next_run_unaffected(&server)
}

#[test]
fn oversized_and_slow_responses_are_cut_off() -> Result<()> {
    let server = TestServer::start("big")?;
    let port = server.port();
    let over = 16 * 1024 * 1024 + 1;
    let case = NetCase::new(
        &[format!("http://localhost:{port}")],
        &[
            attempt(
                "declared",
                format!("http://localhost:{port}/big/{over}"),
                "too-large",
            ),
            attempt(
                "streamed",
                format!("http://localhost:{port}/stream/{over}"),
                "too-large",
            ),
            attempt(
                "slow",
                format!("http://localhost:{port}/slow/5000"),
                "timed-out",
            )
            .with("timeout-ms = 300"),
            attempt("after", format!("http://localhost:{port}/after"), "ok"),
        ],
    )?;
    let outcomes = case.run_and_hold()?;
    assert_outcomes(&outcomes, "refused: too-large: ", &["declared", "streamed"])?;
    assert_outcomes(&outcomes, "refused: timed-out", &["slow"])?;
    assert_outcomes(&outcomes, "allowed: status 200", &["after"])?;
    case.assert_denied(&[])?;
    ensure!(case.events("http")?.len() == 4);
    Ok(())
}

#[test]
fn headers_that_could_smuggle_a_request_are_refused() -> Result<()> {
    let server = TestServer::start("headers")?;
    let port = server.port();
    let url = format!("http://localhost:{port}/echo");
    let refused = [
        ("host", "[[\"Host\", \"evil.test\"]]"),
        (
            "transfer-encoding",
            "[[\"Transfer-Encoding\", \"chunked\"]]",
        ),
        ("content-length", "[[\"Content-Length\", \"0\"]]"),
        ("connection", "[[\"Connection\", \"Upgrade\"]]"),
        ("proxy", "[[\"Proxy-Authorization\", \"Basic eDp5\"]]"),
        ("crlf", "[[\"X-Ok\", \"a\\r\\nHost: evil.test\"]]"),
    ];
    let attempts: Vec<Attempt> = refused
        .iter()
        .map(|(label, headers)| {
            attempt(label, url.clone(), "invalid-request").with(&format!("headers = {headers}"))
        })
        .collect();
    let case = NetCase::new(&[format!("http://localhost:{port}")], &attempts)?;
    let outcomes = case.run_and_hold()?;
    let labels: Vec<&str> = refused.iter().map(|(label, _)| *label).collect();
    assert_outcomes(&outcomes, "refused: invalid-request: ", &labels)?;
    ensure!(server.connections() == 0, "{:?}", server.requests());
    ensure!(case.events("http")?.is_empty());
    Ok(())
}

/// A name other than `localhost` that `/etc/hosts` maps to a loopback
/// address, if there is one.
fn other_loopback_name() -> Option<String> {
    let hosts = std::fs::read_to_string("/etc/hosts").ok()?;
    hosts.lines().find_map(|line| {
        let mut words = line.split('#').next()?.split_whitespace();
        let address: std::net::IpAddr = words.next()?.parse().ok()?;
        if !address.is_loopback() {
            return None;
        }
        words
            .find(|name| !name.eq_ignore_ascii_case("localhost") && !name.contains(':'))
            .map(str::to_owned)
    })
}
