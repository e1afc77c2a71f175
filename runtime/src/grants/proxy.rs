//! The filtering proxy through which programs run by a stage with a `net`
//! grant reach the network.
//!
//! The kernel cannot filter connections by host name, so a program may
//! connect (by Landlock) only to this proxy, on 127.0.0.1, and the proxy
//! lets through only the stage's granted destinations:
//!
//! - `CONNECT host:port` (what HTTPS clients send), matched as
//!   `https://host:port`;
//! - an absolute-form plain request, `GET http://host:port/path HTTP/1.1`,
//!   matched as `http://host:port` (port 80 when the URL has none) and
//!   forwarded in origin form with `Connection: close`, so that a client
//!   cannot reuse the connection for another host.
//!
//! Destinations are checked exactly as the `http` import checks them
//! ([`NetGrants::check_written`]): exact scheme, host and port, unusual
//! spellings refused; and a granted name is resolved as that import
//! resolves it ([`granted_addresses`]), so it cannot lead to a loopback,
//! link-local or metadata address unless granted as such. Everything else
//! gets `403 Forbidden` and is reported as a [`Denial`]. One proxy serves
//! one stage and stops when it is dropped.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use std::net::{IpAddr, SocketAddr};

use url::Host;

use super::http::granted_addresses;
use super::net::{Destination, NetGrants, Refusal};
use super::{Denial, DenialSink};

/// The longest request head read from a program.
const MAX_HEAD: usize = 16 * 1024;
/// How long a program may take to send its request head, and the proxy to
/// connect to a destination.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// A running proxy; dropping it stops it.
pub struct FilteringProxy {
    port: u16,
    task: JoinHandle<()>,
}

impl FilteringProxy {
    /// Starts a proxy on 127.0.0.1 and an ephemeral port.
    ///
    /// # Errors
    ///
    /// Fails when no port can be bound.
    pub async fn start(
        grants: Arc<NetGrants>,
        denials: Arc<dyn DenialSink>,
    ) -> std::io::Result<FilteringProxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        Ok(FilteringProxy::adopt(listener, grants, denials))
    }

    /// Serves the proxy on a listener already bound: the one a program's
    /// child made in its own network namespace.
    pub fn adopt(
        listener: TcpListener,
        grants: Arc<NetGrants>,
        denials: Arc<dyn DenialSink>,
    ) -> FilteringProxy {
        let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (grants, denials) = (grants.clone(), denials.clone());
                tokio::spawn(async move {
                    if let Err(e) = serve(client, &grants, denials.as_ref()).await {
                        tracing::debug!("proxy connection ended: {e}");
                    }
                });
            }
        });
        FilteringProxy { port, task }
    }

    /// The port on 127.0.0.1 programs connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The proxy's URL, for `HTTPS_PROXY` and friends.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for FilteringProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What a program asked the proxy for.
#[derive(Debug, PartialEq, Eq)]
struct Request {
    scheme: &'static str,
    host: String,
    port: u16,
    /// For plain HTTP: the head to send upstream, in origin form.
    forward: Option<Vec<u8>>,
}

impl Request {
    fn destination(&self) -> String {
        format!("{}://{}:{}", self.scheme, self.host, self.port)
    }
}

async fn serve(
    mut client: TcpStream,
    grants: &NetGrants,
    denials: &dyn DenialSink,
) -> std::io::Result<()> {
    let (head, rest) = tokio::time::timeout(STEP_TIMEOUT, read_head(&mut client)).await??;
    let request = match parse_request(&head) {
        Ok(request) => request,
        Err(asked) => return refuse(&mut client, denials, asked, "net = [\"…\"]".into()).await,
    };
    let destination = match check(grants, &request) {
        Ok(destination) => destination,
        Err(refusal) => return refuse_with(&mut client, denials, &refusal).await,
    };
    let mut upstream = match tokio::time::timeout(STEP_TIMEOUT, connect(grants, &destination)).await
    {
        Ok(Ok(upstream)) => upstream,
        Ok(Err(Unreachable::Refused(refusal))) => {
            return refuse_with(&mut client, denials, &refusal).await;
        }
        Ok(Err(Unreachable::Failed(e))) => {
            tracing::debug!(%destination, "proxy could not connect: {e}");
            return respond(&mut client, "502 Bad Gateway").await;
        }
        Err(_) => return respond(&mut client, "504 Gateway Timeout").await,
    };
    match &request.forward {
        None => respond(&mut client, "200 Connection established").await?,
        Some(head) => upstream.write_all(head).await?,
    }
    upstream.write_all(&rest).await?;
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}

/// Checks what a program asked for exactly as the `http` import checks a
/// URL.
fn check(grants: &NetGrants, request: &Request) -> Result<Destination, Refusal> {
    grants
        .check_written(&format!("{}/", request.destination()))
        .map(|(_, destination)| destination)
}

/// Why the proxy reached no destination.
enum Unreachable {
    /// The name resolves only to addresses a name grant may not reach.
    Refused(Refusal),
    Failed(String),
}

/// Resolves a granted destination as the `http` import does and connects
/// to the first address that answers.
async fn connect(grants: &NetGrants, destination: &Destination) -> Result<TcpStream, Unreachable> {
    let addresses =
        match destination.host() {
            Host::Domain(name) => granted_addresses(grants, name).await.map_err(|e| match e
                .downcast::<Refusal>()
            {
                Ok(refusal) => Unreachable::Refused(*refusal),
                Err(e) => Unreachable::Failed(e.to_string()),
            })?,
            Host::Ipv4(ip) => vec![IpAddr::V4(*ip)],
            Host::Ipv6(ip) => vec![IpAddr::V6(*ip)],
        };
    let mut last = String::from("the host has no address");
    for address in addresses {
        match TcpStream::connect(SocketAddr::new(address, destination.port())).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e.to_string(),
        }
    }
    Err(Unreachable::Failed(last))
}

async fn refuse_with(
    client: &mut TcpStream,
    denials: &dyn DenialSink,
    refusal: &Refusal,
) -> std::io::Result<()> {
    denials.denied(&refusal.denial());
    respond(client, "403 Forbidden").await
}

async fn refuse(
    client: &mut TcpStream,
    denials: &dyn DenialSink,
    asked: String,
    missing_grant: String,
) -> std::io::Result<()> {
    denials.denied(&Denial {
        capability: "net",
        asked,
        missing_grant,
    });
    respond(client, "403 Forbidden").await
}

async fn respond(client: &mut TcpStream, status: &str) -> std::io::Result<()> {
    let extra = match status.starts_with("200") {
        true => "",
        false => "Content-Length: 0\r\nConnection: close\r\n",
    };
    let text = format!("HTTP/1.1 {status}\r\n{extra}\r\n");
    client.write_all(text.as_bytes()).await
}

/// Reads up to the blank line ending a request head; returns the head and
/// whatever the program sent after it.
async fn read_head(client: &mut TcpStream) -> std::io::Result<(Vec<u8>, Vec<u8>)> {
    let mut buffer = Vec::new();
    let mut chunk = [0; 4096];
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buffer.split_off(end + 4);
            return Ok((buffer, rest));
        }
        if buffer.len() > MAX_HEAD {
            return Err(std::io::Error::other("request head too long"));
        }
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

/// Parses a request head; on failure returns what was asked, printable.
fn parse_request(head: &[u8]) -> Result<Request, String> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap_or_default();
    let shown = || {
        first
            .escape_default()
            .to_string()
            .chars()
            .take(200)
            .collect::<String>()
    };
    let mut parts = first.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(shown());
    };
    if !version.starts_with("HTTP/1.") {
        return Err(shown());
    }
    if method == "CONNECT" {
        let (host, port) = split_host_port(target, None).ok_or_else(shown)?;
        return Ok(Request {
            scheme: "https",
            host,
            port,
            forward: None,
        });
    }
    let rest = target.strip_prefix("http://").ok_or_else(shown)?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if authority.contains('@') {
        return Err(shown());
    }
    let (host, port) = split_host_port(authority, Some(80)).ok_or_else(shown)?;
    let path = if path.is_empty() { "/" } else { path };
    let mut forward = format!("{method} {path} {version}\r\n");
    for line in lines.filter(|l| !l.is_empty()) {
        let name = line
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        // The destination names the host itself: a `Host` of the program's
        // could reach another site behind the same address.
        if !matches!(
            name.as_str(),
            "connection" | "proxy-connection" | "keep-alive" | "host"
        ) {
            forward.push_str(line);
            forward.push_str("\r\n");
        }
    }
    match port {
        80 => forward.push_str(&format!("Host: {host}\r\n")),
        _ => forward.push_str(&format!("Host: {host}:{port}\r\n")),
    }
    forward.push_str("Connection: close\r\n\r\n");
    Ok(Request {
        scheme: "http",
        host,
        port,
        forward: Some(forward.into_bytes()),
    })
}

/// `host:port` (or `[v6]:port`); the port may be left out when a default
/// is given. The host comes back lowercase, an IPv6 address bracketed and
/// in its canonical form.
fn split_host_port(authority: &str, default_port: Option<u16>) -> Option<(String, u16)> {
    let (host, port) = if let Some(v6_end) = authority.find(']') {
        let (host, after) = authority.split_at(v6_end + 1);
        match after.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if after.is_empty() => (host, None),
            None => return None,
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(port) if port.chars().all(|c| c.is_ascii_digit()) => port.parse().ok()?,
        Some(_) => return None,
        None => default_port?,
    };
    if host.is_empty() || port == 0 {
        return None;
    }
    let host = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => format!("[{}]", v6.parse::<std::net::Ipv6Addr>().ok()?),
        None if host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.".contains(c)) =>
        {
            host.to_ascii_lowercase()
        }
        None => return None,
    };
    Some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants(scheme: &str, host: &str, port: u16) -> NetGrants {
        NetGrants::new(vec![Destination::from_grant(scheme, host, port).unwrap()])
    }

    #[test]
    fn connect_requests_match_https_grants_exactly() {
        let grants = grants("https", "index.crates.io", 443);
        let asked = |head: &str| parse_request(head.as_bytes()).unwrap();
        let ok = asked("CONNECT INDEX.crates.io:443 HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(check(&grants, &ok).is_ok());
        for refused in [
            "CONNECT index.crates.io:80 HTTP/1.1\r\n\r\n",
            "CONNECT index.crates.io.evil:443 HTTP/1.1\r\n\r\n",
            "CONNECT crates.io:443 HTTP/1.1\r\n\r\n",
            "GET http://index.crates.io:443/ HTTP/1.1\r\n\r\n",
        ] {
            assert!(check(&grants, &asked(refused)).is_err(), "{refused}");
        }
    }

    #[test]
    fn plain_requests_are_forwarded_in_origin_form_without_keep_alive() {
        let head = "GET http://Example.test/a?b HTTP/1.1\r\nHost: other.test\r\n\
                    Proxy-Connection: keep-alive\r\n\r\n";
        let request = parse_request(head.as_bytes()).unwrap();
        assert_eq!(request.destination(), "http://example.test:80");
        let forward = String::from_utf8(request.forward.unwrap()).unwrap();
        assert_eq!(
            forward,
            "GET /a?b HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n"
        );
    }

    #[test]
    fn malformed_and_other_requests_are_refused() {
        for head in [
            "GET /relative HTTP/1.1\r\n\r\n",
            "GET https://example.test/ HTTP/1.1\r\n\r\n",
            "GET http://user@example.test/ HTTP/1.1\r\n\r\n",
            "CONNECT example.test HTTP/1.1\r\n\r\n",
            "CONNECT example.test:0 HTTP/1.1\r\n\r\n",
            "CONNECT [::1 HTTP/1.1\r\n\r\n",
            "SSH-2.0-OpenSSH\r\n\r\n",
        ] {
            assert!(parse_request(head.as_bytes()).is_err(), "{head}");
        }
        let v6 = parse_request(b"CONNECT [0:0::1]:8443 HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(v6.destination(), "https://[::1]:8443");
    }

    #[test]
    fn numeric_spellings_of_a_granted_address_are_refused_as_the_http_import_refuses_them() {
        let grants = grants("http", "127.0.0.1", 8080);
        let asked = |head: &str| parse_request(head.as_bytes()).unwrap();
        assert!(
            check(
                &grants,
                &asked("GET http://127.0.0.1:8080/ HTTP/1.1\r\n\r\n")
            )
            .is_ok()
        );
        for spelled in ["2130706433", "0x7f.0.0.1", "127.1"] {
            let head = format!("GET http://{spelled}:8080/ HTTP/1.1\r\n\r\n");
            assert!(check(&grants, &asked(&head)).is_err(), "{spelled}");
        }
    }
}
