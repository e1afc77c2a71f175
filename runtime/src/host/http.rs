//! The host side of the `http` import.
//!
//! The WIT documents what `send` does; this connects it to the stage's
//! `HttpPolicy` and events: a refusal by the grants is a denial, and a
//! request that passed the checks made before sending is an
//! [`HttpRecord`], whatever came of it (a refusal at a redirect or a
//! lookup is then both).

use std::time::Instant;

use reqwest::Method;

use super::bindings::http::{self, HttpError};
use super::state::StageState;
use crate::grants::http::{HttpFailure, HttpRequest, HttpResponse};

/// One request a stage sent through `http`, for the audit trail.
///
/// Only the destination is kept, not the path or query, which may carry
/// tokens; nor are headers or bodies.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HttpRecord {
    pub method: String,
    /// `scheme://host:port` of the first request.
    pub destination: String,
    /// Where the response came from, when redirects led elsewhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirected_to: Option<String>,
    /// The response's status, or `None` when none came.
    pub status: Option<u16>,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Why no response was returned, when none was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub duration_ms: u64,
}

impl http::Host for StageState {
    async fn send(
        &mut self,
        request: http::Request,
    ) -> wasmtime::Result<Result<http::Response, HttpError>> {
        let prepared = match self.http.prepare(plain_request(request)) {
            Ok(prepared) => prepared,
            Err(failure) => return Ok(Err(self.refuse(failure)?)),
        };
        let started = Instant::now();
        let mut record = HttpRecord {
            method: prepared.method.to_string(),
            destination: prepared.destination.to_string(),
            redirected_to: None,
            status: None,
            bytes_sent: prepared.body_len() as u64,
            bytes_received: 0,
            error: None,
            duration_ms: 0,
        };
        let outcome = self.http.send(prepared).await;
        record.duration_ms = started.elapsed().as_millis() as u64;
        match &outcome {
            Ok(response) => {
                record.status = Some(response.status);
                record.bytes_received = response.body.len() as u64;
                record.redirected_to = response.redirected_to.as_ref().map(|d| d.to_string());
            }
            Err(failure) => record.error = Some(failure.to_string()),
        }
        self.count_record()?;
        self.events.http(&record);
        Ok(match outcome {
            Ok(response) => Ok(wit_response(response)),
            Err(failure) => Err(self.refuse(failure)?),
        })
    }
}

impl StageState {
    /// Tells the plugin why its request failed; a refusal by the grants
    /// is reported as a denial first.
    fn refuse(&mut self, failure: HttpFailure) -> wasmtime::Result<HttpError> {
        Ok(match failure {
            HttpFailure::Refused(refusal) => {
                self.count_record()?;
                let mut denial = refusal.denial();
                denial.asked = super::state::truncate(denial.asked, super::state::MAX_LOG_MESSAGE);
                self.events.denied(&denial);
                HttpError::NotGranted(refusal.to_string())
            }
            HttpFailure::Invalid(why) => HttpError::InvalidRequest(why),
            HttpFailure::TooLarge(why) => HttpError::TooLarge(why),
            HttpFailure::TimedOut => HttpError::TimedOut,
            HttpFailure::Failed(why) => HttpError::Failed(why),
        })
    }
}

fn plain_request(request: http::Request) -> HttpRequest {
    HttpRequest {
        method: match request.method {
            http::Method::Get => Method::GET,
            http::Method::Head => Method::HEAD,
            http::Method::Post => Method::POST,
            http::Method::Put => Method::PUT,
            http::Method::Delete => Method::DELETE,
            http::Method::Patch => Method::PATCH,
            http::Method::Options => Method::OPTIONS,
        },
        url: request.url,
        headers: request.headers,
        body: request.body,
        timeout: request.timeout_ms.map(std::time::Duration::from_millis),
    }
}

fn wit_response(response: HttpResponse) -> http::Response {
    http::Response {
        status: response.status,
        headers: response.headers,
        body: response.body,
    }
}
