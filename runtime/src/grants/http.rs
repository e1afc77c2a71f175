//! Requests a stage sends through the `http` import, made by the host.
//!
//! [`HttpPolicy`] holds the stage's [`NetGrants`] and sends each request
//! with reqwest in two steps. [`HttpPolicy::prepare`] checks everything the
//! plugin wrote (the URL against the grants, the method, headers and body
//! against the limits) before anything leaves the host. [`HttpPolicy::send`]
//! then sends it with a client that enforces the grants on everything the
//! exchange does later: it looks up only granted names and drops the
//! addresses a name may not reach (`GrantedResolver`), follows a redirect
//! only to a granted destination and at most [`MAX_REDIRECTS`] times, and
//! stops reading the response at [`MAX_RESPONSE_BYTES`] or the time limit.
//!
//! The client uses no proxy (whatever the host's environment says), keeps
//! no cookies, sends no `Referer`, and does not decompress bodies.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Client, Method, redirect};
use tokio::time::Instant;
use url::Url;

use super::Sandbox;
use super::net::{Destination, LookupRule, NetGrants, Refusal, RefusalReason, special_address};

/// The most redirects one request follows.
pub const MAX_REDIRECTS: usize = 5;
/// The largest response body read, in bytes.
pub const MAX_RESPONSE_BYTES: u64 = 16 << 20;
/// The largest request body sent, in bytes.
pub const MAX_REQUEST_BODY: usize = 16 << 20;
/// The most request headers a plugin may send.
pub const MAX_HEADERS: usize = 64;
/// The most bytes of request header names and values, all counted.
pub const MAX_HEADER_BYTES: usize = 64 << 10;
/// The longest a request may take when the plugin asks for no less, or
/// for more.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Headers the client sets itself, which a plugin could otherwise use to
/// smuggle a second request or steer a proxy.
const FORBIDDEN_HEADERS: [&str; 10] = [
    "host",
    "connection",
    "keep-alive",
    "content-length",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "expect",
    "forwarded",
];

/// A request as a plugin asks for it, before any check.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub timeout: Option<Duration>,
}

/// A request that passed every check, ready to send.
#[derive(Debug)]
pub struct PreparedRequest {
    /// Where it goes first.
    pub destination: Destination,
    pub method: Method,
    url: Url,
    headers: HeaderMap,
    body: Option<Vec<u8>>,
    deadline: Instant,
}

impl PreparedRequest {
    /// The size of the body to send, in bytes.
    pub fn body_len(&self) -> usize {
        self.body.as_ref().map_or(0, Vec::len)
    }
}

/// What came back, after any redirects.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Where the response came from, when a redirect led elsewhere.
    pub redirected_to: Option<Destination>,
}

/// Why a request got no response.
#[derive(Debug, thiserror::Error)]
pub enum HttpFailure {
    /// The grants refused the request, or one of its redirects.
    #[error("{0}")]
    Refused(Refusal),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("the request timed out")]
    TimedOut,
    #[error("{0}")]
    Failed(String),
}

/// One stage's network access.
pub struct HttpPolicy {
    grants: Arc<NetGrants>,
    deadline: Instant,
    /// Built at the first request: most stages never send one.
    client: Option<Client>,
}

impl HttpPolicy {
    /// Takes the destinations from `sandbox`; no request may run past
    /// `deadline`, the stage's own.
    pub fn new(sandbox: &Sandbox, deadline: Instant) -> HttpPolicy {
        HttpPolicy {
            grants: Arc::new(NetGrants::new(sandbox.net.clone())),
            deadline,
            client: None,
        }
    }

    /// Checks a request before anything is sent: its URL against the
    /// grants, its method, headers and body against the limits.
    ///
    /// # Errors
    ///
    /// [`HttpFailure::Refused`] when the grants refuse the URL (to be
    /// audited), [`HttpFailure::Invalid`] for a header or body the host
    /// does not send.
    pub fn prepare(&self, request: HttpRequest) -> Result<PreparedRequest, HttpFailure> {
        let (url, destination) = self
            .grants
            .check_written(&request.url)
            .map_err(HttpFailure::Refused)?;
        let headers = header_map(&request.headers).map_err(HttpFailure::Invalid)?;
        if let Some(body) = &request.body
            && body.len() > MAX_REQUEST_BODY
        {
            return Err(HttpFailure::Invalid(format!(
                "the body is larger than {MAX_REQUEST_BODY} bytes"
            )));
        }
        let timeout = request
            .timeout
            .unwrap_or(DEFAULT_TIMEOUT)
            .min(DEFAULT_TIMEOUT);
        let deadline = Instant::now()
            .checked_add(timeout)
            .map_or(self.deadline, |d| d.min(self.deadline));
        Ok(PreparedRequest {
            destination,
            method: request.method,
            url,
            headers,
            body: request.body,
            deadline,
        })
    }

    /// Sends a prepared request and reads the whole response.
    ///
    /// # Errors
    ///
    /// [`HttpFailure::Refused`] when a redirect leads to a destination the
    /// grants refuse, or a granted name resolves only to addresses it may
    /// not reach (to be audited); otherwise what went wrong with the
    /// exchange.
    pub async fn send(&mut self, request: PreparedRequest) -> Result<HttpResponse, HttpFailure> {
        let client = self.client()?;
        let deadline = request.deadline;
        let exchange = exchange(client, request);
        match tokio::time::timeout_at(deadline, exchange).await {
            Ok(outcome) => outcome,
            Err(_) => Err(HttpFailure::TimedOut),
        }
    }

    fn client(&mut self) -> Result<Client, HttpFailure> {
        if let Some(client) = &self.client {
            return Ok(client.clone());
        }
        let client = build_client(&self.grants)
            .map_err(|e| HttpFailure::Failed(format!("failed to set up the HTTP client: {e}")))?;
        self.client = Some(client.clone());
        Ok(client)
    }
}

fn build_client(grants: &Arc<NetGrants>) -> reqwest::Result<Client> {
    let hops = grants.clone();
    let policy = redirect::Policy::custom(move |attempt| {
        // `previous` holds the first URL too.
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
        }
        match hops.check(attempt.url()) {
            Ok(_) => attempt.follow(),
            Err(refusal) => attempt.error(refusal),
        }
    });
    Client::builder()
        .no_proxy()
        .redirect(policy)
        .referer(false)
        .dns_resolver(Arc::new(GrantedResolver {
            grants: grants.clone(),
        }))
        .connect_timeout(DEFAULT_TIMEOUT)
        .user_agent(concat!("gantry/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Sends the request and reads the body up to [`MAX_RESPONSE_BYTES`].
async fn exchange(client: Client, request: PreparedRequest) -> Result<HttpResponse, HttpFailure> {
    let mut builder = client
        .request(request.method, request.url)
        .headers(request.headers);
    if let Some(body) = request.body {
        builder = builder.body(body);
    }
    let first = &request.destination;
    let mut response = builder.send().await.map_err(|e| failure(e, first))?;
    let redirected_to = Some(destination_of_response(response.url()))
        .flatten()
        .filter(|d| d != first);

    if let Some(length) = response.content_length()
        && length > MAX_RESPONSE_BYTES
    {
        return Err(too_large(Some(length)));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| failure(e, first))? {
        if (body.len() + chunk.len()) as u64 > MAX_RESPONSE_BYTES {
            return Err(too_large(None));
        }
        body.extend_from_slice(&chunk);
    }
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), value)
        })
        .collect();
    Ok(HttpResponse {
        status: response.status().as_u16(),
        headers,
        body,
        redirected_to,
    })
}

fn destination_of_response(url: &Url) -> Option<Destination> {
    let host = url.host_str()?;
    Destination::from_grant(url.scheme(), host, url.port_or_known_default()?).ok()
}

fn too_large(length: Option<u64>) -> HttpFailure {
    let size = length.map_or_else(|| "more".to_owned(), |n| format!("{n} bytes"));
    HttpFailure::TooLarge(format!(
        "the response body is {size}; at most {MAX_RESPONSE_BYTES} bytes are read"
    ))
}

/// Turns a client error into what the plugin is told, finding a refusal
/// made by the redirect policy or the resolver among its causes.
///
/// The resolver knows only the name it refused; when that is the first
/// destination's, the refusal names the whole destination.
fn failure(err: reqwest::Error, first: &Destination) -> HttpFailure {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    while let Some(current) = cause {
        if let Some(refusal) = current.downcast_ref::<Refusal>() {
            let mut refusal = refusal.clone();
            if refusal.asked == first.host().to_string() {
                refusal.asked = first.to_string();
            } else if let Some(url) = err.url().filter(|u| u.host_str() == Some(&refusal.asked)) {
                // A redirect's lookup: the error names the URL it was for.
                let port = url.port_or_known_default().unwrap_or_default();
                refusal.asked = format!("{}://{}:{port}", url.scheme(), refusal.asked);
            }
            return HttpFailure::Refused(refusal);
        }
        cause = current.source();
    }
    if err.is_timeout() {
        return HttpFailure::TimedOut;
    }
    HttpFailure::Failed(error_chain(err))
}

/// The error and its causes on one line, without the URL: the plugin
/// knows it, and its query may hold secrets that do not belong in logs.
fn error_chain(err: reqwest::Error) -> String {
    let err = err.without_url();
    let mut text = err.to_string();
    let mut cause = std::error::Error::source(&err);
    while let Some(current) = cause {
        text.push_str(": ");
        text.push_str(&current.to_string());
        cause = current.source();
    }
    text
}

/// Checks the plugin's headers and builds the header map.
fn header_map(headers: &[(String, String)]) -> Result<HeaderMap, String> {
    if headers.len() > MAX_HEADERS {
        return Err(format!("more than {MAX_HEADERS} headers"));
    }
    let total: usize = headers.iter().map(|(k, v)| k.len() + v.len()).sum();
    if total > MAX_HEADER_BYTES {
        return Err(format!(
            "the headers are larger than {MAX_HEADER_BYTES} bytes"
        ));
    }
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let shown: String = name
            .chars()
            .take(64)
            .flat_map(char::escape_default)
            .collect();
        let parsed = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("`{shown}` is not a valid header name"))?;
        let lower = parsed.as_str();
        if FORBIDDEN_HEADERS.contains(&lower) || lower.starts_with("proxy-") {
            return Err(format!(
                "the header `{lower}` is set by the host and may not be sent"
            ));
        }
        let value = HeaderValue::from_str(value)
            .map_err(|_| format!("the value of `{lower}` has characters a header cannot hold"))?;
        map.append(parsed, value);
    }
    Ok(map)
}

/// Looks up only granted names, and keeps only the addresses a name may
/// reach; `localhost` is answered without asking DNS.
struct GrantedResolver {
    grants: Arc<NetGrants>,
}

impl Resolve for GrantedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let grants = self.grants.clone();
        let name = name.as_str().to_ascii_lowercase();
        Box::pin(async move {
            let addresses = granted_addresses(&grants, &name).await?;
            let addrs: Addrs = Box::new(addresses.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// The addresses a granted name may be reached at: `localhost` is answered
/// without asking DNS; any other granted name is looked up, keeping only
/// the addresses [`special_address`] does not name. Used by the `http`
/// import and by the filtering proxy for programs alike.
///
/// # Errors
///
/// A [`Refusal`] for a name no grant names (it is not looked up at all),
/// or one that resolves only to addresses it may not reach; the lookup's
/// own failure otherwise.
pub async fn granted_addresses(
    grants: &NetGrants,
    name: &str,
) -> Result<Vec<IpAddr>, Box<dyn std::error::Error + Send + Sync>> {
    match grants.lookup_rule(name) {
        None => Err(refused(name, RefusalReason::NotGranted).into()),
        Some(LookupRule::Loopback) => Ok(vec![
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ]),
        Some(LookupRule::Public) => {
            let found = tokio::net::lookup_host((name, 0)).await?;
            let found: Vec<IpAddr> = found.map(|a| a.ip()).collect();
            Ok(reachable_addresses(name, &found)?)
        }
    }
}

/// The addresses of `name` it may reach by name: all but the ones
/// [`special_address`] names.
///
/// # Errors
///
/// A [`Refusal`] naming the addresses when none is left.
pub fn reachable_addresses(name: &str, found: &[IpAddr]) -> Result<Vec<IpAddr>, Refusal> {
    let (special, kept): (Vec<IpAddr>, Vec<IpAddr>) =
        found.iter().partition(|&&ip| special_address(ip).is_some());
    if !special.is_empty() {
        tracing::debug!(%name, ?special, "dropped addresses a name may not reach");
    }
    if !kept.is_empty() || special.is_empty() {
        return Ok(kept);
    }
    let listed: Vec<String> = special
        .iter()
        .map(|ip| format!("{ip} ({})", special_address(*ip).unwrap_or_default()))
        .collect();
    Err(refused(name, RefusalReason::Address(listed.join(", "))))
}

/// A refusal for a name, whichever of its granted destinations asked.
///
/// The resolver sees only the name; [`failure`] names the whole
/// destination, from the request's first or from the URL the error is for.
fn refused(name: &str, reason: RefusalReason) -> Refusal {
    Refusal {
        asked: name.to_owned(),
        reason,
    }
}

#[cfg(test)]
mod tests;
