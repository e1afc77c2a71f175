//! Network grants: `scheme://host:port` destinations a stage may reach
//! through the host's `http` import.
//!
//! A grant names one exact destination. There are no wildcards, no paths and
//! no default ports, so what a security team reads in the pipeline file is
//! exactly what the host allows.

use std::fmt;
use std::net::Ipv6Addr;

use serde::{Serialize, Serializer};

/// The schemes the host's HTTP client speaks.
const SCHEMES: [&str; 2] = ["http", "https"];

/// One destination a stage may send requests to.
///
/// Displays and serializes as `scheme://host:port`. The host is lowercase;
/// an IPv6 address keeps its brackets (`[::1]`), as in a URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NetGrant {
    /// `http` or `https`.
    pub scheme: String,
    /// A DNS name, an IPv4 address, or a bracketed IPv6 address.
    pub host: String,
    /// The port, never 0.
    pub port: u16,
}

impl fmt::Display for NetGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

impl Serialize for NetGrant {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl std::str::FromStr for NetGrant {
    type Err = &'static str;

    /// Parses `scheme://host:port` as a `net` grant entry is parsed.
    fn from_str(entry: &str) -> Result<NetGrant, &'static str> {
        parse_net(entry)
    }
}

/// Parses a `net` grant entry.
///
/// # Errors
///
/// Returns which part of the entry is malformed.
pub(super) fn parse_net(entry: &str) -> Result<NetGrant, &'static str> {
    let (scheme, rest) = entry.split_once("://").ok_or("it has no `scheme://`")?;
    if !SCHEMES.contains(&scheme) {
        return Err("the scheme is not `http` or `https`");
    }
    if rest.contains(['/', '?', '#']) {
        return Err("it has a path; grant only `scheme://host:port`");
    }
    if rest.contains('@') {
        return Err("it has user information before the host");
    }
    let (host, port) = rest.rsplit_once(':').ok_or("it has no `:port`")?;
    Ok(NetGrant {
        scheme: scheme.to_owned(),
        host: parse_host(host)?,
        port: parse_port(port)?,
    })
}

fn parse_port(port: &str) -> Result<u16, &'static str> {
    if port.is_empty() || !port.chars().all(|c| c.is_ascii_digit()) {
        return Err("the port is not a number");
    }
    match port.parse::<u16>() {
        Ok(0) | Err(_) => Err("the port is not between 1 and 65535"),
        Ok(port) => Ok(port),
    }
}

/// Checks a host: a bracketed IPv6 address, or dot-separated labels (which
/// covers IPv4 addresses), each 1 to 63 letters, digits or `-`.
fn parse_host(host: &str) -> Result<String, &'static str> {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        let address: Ipv6Addr = inner.parse().map_err(|_| "the IPv6 address is malformed")?;
        return Ok(format!("[{address}]"));
    }
    if host.is_empty() {
        return Err("it has no host");
    }
    if host.len() > 253 {
        return Err("the host name is longer than 253 characters");
    }
    if !host.split('.').all(is_host_label) {
        return Err("the host is not a valid host name or address");
    }
    // The HTTP client reads `127.1` or `0x7f.0.0.1` as an IPv4 address:
    // a grant must say plainly which host it names.
    match url::Host::parse(host) {
        Ok(url::Host::Domain(_)) => {}
        Ok(parsed) if parsed.to_string() == host => {}
        Ok(_) => return Err("the host is an IPv4 address not written as four decimal numbers"),
        Err(_) => return Err("the host ends in a number but is not an IPv4 address"),
    }
    Ok(host.to_ascii_lowercase())
}

fn is_host_label(label: &str) -> bool {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '-';
    (1..=63).contains(&label.len())
        && label.chars().all(allowed)
        && !label.starts_with('-')
        && !label.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(scheme: &str, host: &str, port: u16) -> NetGrant {
        NetGrant {
            scheme: scheme.into(),
            host: host.into(),
            port,
        }
    }

    #[test]
    fn net_grants_parse_scheme_host_and_port() {
        let cases = [
            (
                "https://api.osv.dev:443",
                grant("https", "api.osv.dev", 443),
            ),
            ("http://localhost:5000", grant("http", "localhost", 5000)),
            ("http://10.0.0.7:8080", grant("http", "10.0.0.7", 8080)),
            ("https://[::1]:8443", grant("https", "[::1]", 8443)),
            (
                "https://API.OSV.dev:443",
                grant("https", "api.osv.dev", 443),
            ),
        ];
        for (entry, expected) in cases {
            assert_eq!(parse_net(entry), Ok(expected), "{entry}");
        }
    }

    #[test]
    fn net_grants_display_as_written() {
        let grant = parse_net("https://[0:0::1]:443").expect("valid");
        assert_eq!(grant.to_string(), "https://[::1]:443");
        assert_eq!(
            serde_json::to_string(&grant).expect("json"),
            "\"https://[::1]:443\""
        );
    }

    #[test]
    fn malformed_net_grants_say_what_is_wrong() {
        let cases = [
            ("api.osv.dev:443", "it has no `scheme://`"),
            (
                "ftp://files.example:21",
                "the scheme is not `http` or `https`",
            ),
            ("https://api.osv.dev", "it has no `:port`"),
            ("https://api.osv.dev:", "the port is not a number"),
            ("https://api.osv.dev:https", "the port is not a number"),
            (
                "https://api.osv.dev:0",
                "the port is not between 1 and 65535",
            ),
            (
                "https://api.osv.dev:65536",
                "the port is not between 1 and 65535",
            ),
            (
                "https://api.osv.dev:443/v1",
                "it has a path; grant only `scheme://host:port`",
            ),
            (
                "https://me@api.osv.dev:443",
                "it has user information before the host",
            ),
            ("https://:443", "it has no host"),
            (
                "https://*.osv.dev:443",
                "the host is not a valid host name or address",
            ),
            (
                "https://-bad.dev:443",
                "the host is not a valid host name or address",
            ),
            (
                "https://a..dev:443",
                "the host is not a valid host name or address",
            ),
            ("https://[::g]:443", "the IPv6 address is malformed"),
            (
                "http://127.1:80",
                "the host is an IPv4 address not written as four decimal numbers",
            ),
            (
                "http://0x7f.0.0.1:80",
                "the host is an IPv4 address not written as four decimal numbers",
            ),
            (
                "http://2130706433:80",
                "the host is an IPv4 address not written as four decimal numbers",
            ),
            (
                "http://1.2.3.999:80",
                "the host ends in a number but is not an IPv4 address",
            ),
            (
                "http://internal.42:80",
                "the host ends in a number but is not an IPv4 address",
            ),
        ];
        for (entry, reason) in cases {
            assert_eq!(parse_net(entry), Err(reason), "{entry}");
        }
    }
}
