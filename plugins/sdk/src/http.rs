//! Sending HTTP requests through the `http` import.
//!
//! The host sends a request only to a destination in the stage's `net`
//! grant (`scheme://host:port`, matched exactly), follows redirects only to
//! granted destinations, and bounds the response's size and time; see the
//! WIT docs for the details.
//!
//! ```ignore
//! let response = gantry_plugin_sdk::http::Request::post("https://api.osv.dev/v1/query")
//!     .header("content-type", "application/json")
//!     .body(query.into_bytes())
//!     .send()?;
//! ```

use std::time::Duration;

use crate::StageError;
use crate::bindings::gantry::stage::http as wit;

pub use wit::{HttpError, Method};

/// A request to send; build it with [`Request::get`] or [`Request::post`]
/// and the methods below.
#[derive(Debug, Clone)]
pub struct Request {
    inner: wit::Request,
}

/// What the destination answered, after any redirects.
#[derive(Debug, Clone)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// Header names (lowercase) and values.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// True for a 2xx status.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first value of header `name`, compared without regard to case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body as text, lossily decoded.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Request {
    /// A request with `method` to `url`, no headers, no body, and the
    /// host's default time limit.
    pub fn new(method: Method, url: &str) -> Request {
        Request {
            inner: wit::Request {
                method,
                url: url.to_owned(),
                headers: Vec::new(),
                body: None,
                timeout_ms: None,
            },
        }
    }

    /// A `GET` request to `url`.
    pub fn get(url: &str) -> Request {
        Request::new(Method::Get, url)
    }

    /// A `POST` request to `url`.
    pub fn post(url: &str) -> Request {
        Request::new(Method::Post, url)
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.inner.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: Vec<u8>) -> Request {
        self.inner.body = Some(body);
        self
    }

    /// Waits at most `limit` for the whole exchange (the host caps it).
    pub fn timeout(mut self, limit: Duration) -> Request {
        self.inner.timeout_ms = Some(u64::try_from(limit.as_millis()).unwrap_or(u64::MAX));
        self
    }

    /// Sends the request and returns the host's answer as it is, for a
    /// caller that handles each [`HttpError`] itself.
    ///
    /// # Errors
    ///
    /// The [`HttpError`] the host returned.
    pub fn try_send(&self) -> Result<Response, HttpError> {
        let response = wit::send(&self.inner)?;
        Ok(Response {
            status: response.status,
            headers: response.headers,
            body: response.body,
        })
    }

    /// Sends the request and reads the whole response. A response with an
    /// error status is still an `Ok`: the caller decides what it means.
    ///
    /// # Errors
    ///
    /// Returns [`StageError::Internal`] naming the URL when the host
    /// refused or could not complete the request.
    pub fn send(&self) -> Result<Response, StageError> {
        self.try_send()
            .map_err(|error| StageError::Internal(describe(&self.inner.url, &error)))
    }
}

/// Says why a request to `url` failed, with a hint when the grant is
/// what is missing.
pub fn describe(url: &str, error: &HttpError) -> String {
    match error {
        HttpError::NotGranted(why) => {
            format!("request to `{url}` refused: {why}; grant it in the stage's `net` list")
        }
        HttpError::InvalidRequest(why) => format!("request to `{url}` is invalid: {why}"),
        HttpError::TooLarge(why) => format!("response from `{url}` is too large: {why}"),
        HttpError::TimedOut => format!("request to `{url}` timed out"),
        HttpError::Failed(why) => format!("request to `{url}` failed: {why}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builder_fills_the_request() {
        let request = Request::post("https://api.osv.dev/v1/query")
            .header("content-type", "application/json")
            .body(b"{}".to_vec())
            .timeout(Duration::from_secs(5));
        assert_eq!(request.inner.method, Method::Post);
        assert_eq!(request.inner.headers.len(), 1);
        assert_eq!(request.inner.body.as_deref(), Some(&b"{}"[..]));
        assert_eq!(request.inner.timeout_ms, Some(5000));
    }

    #[test]
    fn a_refusal_says_which_grant_to_add() {
        let text = describe(
            "https://evil.com/",
            &HttpError::NotGranted("no grant".into()),
        );
        assert!(text.contains("`net` list"), "{text}");
        assert_eq!(
            describe("https://a/", &HttpError::TimedOut),
            "request to `https://a/` timed out"
        );
    }

    #[test]
    fn headers_are_found_without_regard_to_case() {
        let response = Response {
            status: 204,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: Vec::new(),
        };
        assert!(response.is_success());
        assert_eq!(response.header("Content-Type"), Some("text/plain"));
        assert_eq!(response.header("x-missing"), None);
    }
}
