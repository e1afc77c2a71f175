//! The OSV API's requests, sent through the host's `http` import.
//!
//! The host sends a request only to a destination in the stage's `net`
//! grant and audits every refusal, so a scan configured with
//! `source = "api"` but not granted the API's host stops with the
//! refusal's message rather than falling back to anything.

use std::time::Duration;

use gantry_plugin_core::osv::api::Transport;
use gantry_plugin_sdk::http::{self, Request, Response};

/// How long one request may take; the host caps it with its own limit.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How much of an error answer's body a message quotes.
const QUOTED_BODY: usize = 200;

/// Sends the client's requests with the `http` import.
pub struct HostTransport;

impl Transport for HostTransport {
    fn post_json(&mut self, url: &str, body: Vec<u8>) -> Result<Vec<u8>, String> {
        let request = Request::post(url)
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body(body);
        send(url, &request)
    }

    fn get(&mut self, url: &str) -> Result<Vec<u8>, String> {
        send(url, &Request::get(url).header("accept", "application/json"))
    }
}

fn send(url: &str, request: &Request) -> Result<Vec<u8>, String> {
    let response = request
        .clone()
        .timeout(REQUEST_TIMEOUT)
        .try_send()
        .map_err(|error| http::describe(url, &error))?;
    if !response.is_success() {
        return Err(status_error(url, &response));
    }
    Ok(response.body)
}

/// "request to `…` answered 404: <the start of the body>".
fn status_error(url: &str, response: &Response) -> String {
    let text = response.text();
    let quoted: String = text.chars().take(QUOTED_BODY).collect();
    format!(
        "request to `{url}` answered {}: {}",
        response.status,
        quoted.trim()
    )
}
