//! A hostile stage that sends HTTP requests past its `net` grant.
//!
//! `[stage.config]` lists the attempts, each with a label, a URL as the
//! plugin writes it, and what the host must answer: `ok` for a legitimate
//! request (the attempt is `allowed` with the status and the body's first
//! bytes), or the error variant it must return (`not-granted`,
//! `invalid-request`, `too-large`, `timed-out`). Any other answer is an
//! escape: a response means the request got through, and an error of
//! another kind (`failed`, say) means the host tried to connect.
//!
//! The test supplies the URLs because only it knows the ports of the
//! servers it started; the attacks are in the test's table, one line each.

use gantry_plugin_sdk::http::{HttpError, Method, Request, Response};
use gantry_plugin_sdk::{
    Capabilities, Guest, PluginInfo, StageError, StageInput, StageOutput, config,
};
use hostile_probe::{Attempts, Outcome, first_bytes, plugin_info};
use serde::Deserialize;

/// The stage's `[stage.config]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NetConfig {
    attempts: Vec<Attempt>,
}

/// One request and what the host must answer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Attempt {
    label: String,
    url: String,
    expect: String,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    headers: Vec<(String, String)>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    timeout_ms: Option<u64>,
}

struct NetBypass;

impl Guest for NetBypass {
    fn describe() -> PluginInfo {
        plugin_info("net-bypass", Capabilities::none())
    }

    fn run(input: StageInput) -> Result<StageOutput, StageError> {
        let config: NetConfig = config::parse(&input.config)?;
        let mut attempts = Attempts::new();
        for attempt in &config.attempts {
            let answer = request(attempt)?.try_send();
            attempts.record(&attempt.label, judge(&attempt.expect, answer));
        }
        Ok(attempts.into_output())
    }
}

gantry_plugin_sdk::export!(NetBypass);

fn request(attempt: &Attempt) -> Result<Request, StageError> {
    let method = match attempt.method.as_deref().unwrap_or("get") {
        "get" => Method::Get,
        "head" => Method::Head,
        "post" => Method::Post,
        "put" => Method::Put,
        "delete" => Method::Delete,
        "patch" => Method::Patch,
        "options" => Method::Options,
        other => {
            return Err(config::invalid(
                "method",
                format!("unknown method `{other}`"),
            ));
        }
    };
    let mut request = Request::new(method, &attempt.url);
    for (name, value) in &attempt.headers {
        request = request.header(name, value);
    }
    if let Some(body) = &attempt.body {
        request = request.body(body.clone().into_bytes());
    }
    if let Some(ms) = attempt.timeout_ms {
        request = request.timeout(std::time::Duration::from_millis(ms));
    }
    Ok(request)
}

/// What an answer means for an attempt that expected `expect`.
fn judge(expect: &str, answer: Result<Response, HttpError>) -> Outcome {
    match (expect, answer) {
        ("ok", Ok(response)) => Outcome::Allowed(evidence(&response)),
        ("ok", Err(error)) => Outcome::Blocked(error_text(&error)),
        (_, Ok(response)) => Outcome::Escaped(evidence(&response)),
        (expect, Err(error)) if variant(&error) == expect => Outcome::Refused(error_text(&error)),
        (_, Err(error)) => Outcome::Escaped(format!("the host tried: {}", error_text(&error))),
    }
}

fn evidence(response: &Response) -> String {
    format!(
        "status {}, {}",
        response.status,
        first_bytes(&response.body)
    )
}

fn variant(error: &HttpError) -> &'static str {
    match error {
        HttpError::NotGranted(_) => "not-granted",
        HttpError::InvalidRequest(_) => "invalid-request",
        HttpError::TooLarge(_) => "too-large",
        HttpError::TimedOut => "timed-out",
        HttpError::Failed(_) => "failed",
    }
}

fn error_text(error: &HttpError) -> String {
    let detail = match error {
        HttpError::NotGranted(why)
        | HttpError::InvalidRequest(why)
        | HttpError::TooLarge(why)
        | HttpError::Failed(why) => why.as_str(),
        HttpError::TimedOut => "",
    };
    format!("{}: {detail}", variant(error))
}
