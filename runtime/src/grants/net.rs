//! Which network destinations a stage's `http` requests may reach.
//!
//! A `net` grant names one destination, `scheme://host:port`. A request is
//! allowed only when its URL's scheme, host and port are exactly a
//! grant's: the host compared without regard to case, the scheme's default
//! port made explicit (`https` 443, `http` 80). There are no wildcards: a
//! subdomain, a prefix or suffix of a granted name, another port or scheme,
//! or the address a granted name resolves to written as an IP literal, are
//! all different destinations.
//!
//! URLs are parsed the way the HTTP client parses them (WHATWG, the `url`
//! crate) and matched on the parsed host, so the check and the connection
//! can never disagree about where a request goes. On top of that, a URL
//! the plugin writes must spell its host the way the parser prints it: a
//! URL whose host is percent-encoded, written with a backslash, a trailing
//! dot, Unicode look-alikes, or an IPv4 address in decimal, octal or hex
//! (`2130706433`, `0177.0.0.1`, `127.1`) is refused even when it would
//! parse to a granted destination, because such forms exist only to slip
//! past checks that read the text.
//!
//! All of this happens before any connection or DNS lookup. A name that is
//! granted may still resolve to an address the stage must not reach
//! (DNS rebinding, or an internal name pointing at the cloud metadata
//! service): [`special_address`] classifies the addresses a lookup returns,
//! and the resolver in [`super::http`] drops them unless the grant names
//! `localhost`, whose only addresses are loopback ones. An IP literal
//! granted as such (`http://127.0.0.1:8080`) is reached without a lookup.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Serialize, Serializer};
use url::{Host, Url};

use super::Denial;

/// The longest URL a plugin may send, in bytes.
pub const MAX_URL_BYTES: usize = 8 * 1024;

/// The one name a grant may give to reach loopback addresses.
const LOCALHOST: &str = "localhost";

/// A scheme the host's HTTP client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn parse(scheme: &str) -> Option<Scheme> {
        match scheme {
            "http" => Some(Scheme::Http),
            "https" => Some(Scheme::Https),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// One destination, `scheme://host:port`, in canonical form: the host as
/// the URL parser prints it (lowercase; IPv6 compressed, in brackets) and
/// the port always explicit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Destination {
    scheme: Scheme,
    host: Host<String>,
    port: u16,
}

impl Destination {
    /// The destination a `net` grant names.
    ///
    /// # Errors
    ///
    /// Says why when `host` is not a host the URL parser keeps as written
    /// (ignoring case): a numeric form of an IPv4 address other than the
    /// dotted one, a trailing dot, or anything that does not parse.
    pub fn from_grant(scheme: &str, host: &str, port: u16) -> Result<Destination, String> {
        let written = format!("{scheme}://{host}:{port}/");
        let url = Url::parse(&written).map_err(|e| format!("`{written}` is not a URL: {e}"))?;
        let canonical = url.host_str().unwrap_or_default();
        if !canonical.eq_ignore_ascii_case(host) {
            return Err(format!(
                "the host `{host}` is read as `{canonical}`; write `{canonical}`"
            ));
        }
        destination_of(&url).map_err(|refusal| refusal.reason.to_string())
    }

    /// The host, as the URL parser prints it.
    pub fn host(&self) -> &Host<String> {
        &self.host
    }

    /// The port, always explicit.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the host is an IP address rather than a name.
    pub fn is_ip(&self) -> bool {
        !matches!(self.host, Host::Domain(_))
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `Host` prints IPv6 addresses in brackets, as a URL writes them.
        write!(f, "{}://{}:{}", self.scheme.as_str(), self.host, self.port)
    }
}

impl Serialize for Destination {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A request the grants refuse, before anything is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// What was asked, printable: `scheme://host:port` when the URL parsed,
    /// else the start of the URL as written.
    pub asked: String,
    pub reason: RefusalReason,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefusalReason {
    #[error("the URL is malformed: {0}")]
    Malformed(String),
    #[error("the scheme `{0}` is not `http` or `https`")]
    Scheme(String),
    #[error("the URL carries user information before the host")]
    UserInfo,
    #[error("the URL writes its host and port as `{written}`; write `{canonical}`")]
    Unusual { written: String, canonical: String },
    #[error("the host `{0}` ends with a dot; grants name hosts without one")]
    TrailingDot(String),
    #[error("no `net` grant names this destination")]
    NotGranted,
    /// A granted name that resolved only to addresses a name grant may not
    /// reach.
    #[error("it resolves only to addresses it may not reach by name: {0}")]
    Address(String),
}

impl Refusal {
    /// The denial to log and audit: what was asked and the grant that
    /// would allow it, or why none would.
    pub fn denial(&self) -> Denial {
        let missing_grant = match &self.reason {
            RefusalReason::NotGranted => format!("net = [\"{}\"]", self.asked),
            RefusalReason::Address(_) => {
                format!("none: {}; grant the address itself", self.reason)
            }
            reason => format!("none: {reason}"),
        };
        Denial {
            capability: "net",
            asked: self.asked.clone(),
            missing_grant,
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` is refused: {}", self.asked, self.reason)
    }
}

impl std::error::Error for Refusal {}

/// How the resolver may look a granted name up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupRule {
    /// `localhost`: the loopback addresses, without asking DNS.
    Loopback,
    /// Any name else: DNS, keeping only addresses [`special_address`]
    /// does not name.
    Public,
}

/// The destinations one stage may reach.
#[derive(Debug, Clone, Default)]
pub struct NetGrants {
    granted: Vec<Destination>,
}

impl NetGrants {
    pub fn new(granted: Vec<Destination>) -> NetGrants {
        NetGrants { granted }
    }

    /// Whether the stage may reach nothing at all.
    pub fn is_empty(&self) -> bool {
        self.granted.is_empty()
    }

    /// Checks a URL as a plugin wrote it, and parses it.
    ///
    /// # Errors
    ///
    /// A [`Refusal`] when the URL is malformed or longer than
    /// [`MAX_URL_BYTES`], is not `http` or `https`, carries user
    /// information, spells its host or port unusually, or names a
    /// destination no grant names.
    pub fn check_written(&self, written: &str) -> Result<(Url, Destination), Refusal> {
        let malformed = |why: String| Refusal {
            asked: printable_prefix(written),
            reason: RefusalReason::Malformed(why),
        };
        if written.len() > MAX_URL_BYTES {
            return Err(malformed(format!("longer than {MAX_URL_BYTES} bytes")));
        }
        // The parser drops tabs and line breaks, strips spaces at the ends
        // and reads `\` as `/`: text a check and a person would read
        // differently from the client.
        if written
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
        {
            return Err(malformed(
                "it contains whitespace, control characters or a backslash".into(),
            ));
        }
        let url = Url::parse(written).map_err(|e| malformed(e.to_string()))?;
        let destination = destination_of(&url)?;
        check_spelling(written, &url, &destination)?;
        self.granted(destination).map(|d| (url, d))
    }

    /// Checks a parsed URL: the target of a redirect, or a URL
    /// [`Self::check_written`] parsed.
    ///
    /// # Errors
    ///
    /// A [`Refusal`] for a scheme other than `http` or `https`, user
    /// information, a trailing dot, or a destination no grant names.
    pub fn check(&self, url: &Url) -> Result<Destination, Refusal> {
        self.granted(destination_of(url)?)
    }

    fn granted(&self, destination: Destination) -> Result<Destination, Refusal> {
        if self.granted.contains(&destination) {
            return Ok(destination);
        }
        Err(Refusal {
            asked: destination.to_string(),
            reason: RefusalReason::NotGranted,
        })
    }

    /// How the resolver may look `name` up, or `None` when no grant names
    /// it, in which case it must not be looked up at all.
    pub fn lookup_rule(&self, name: &str) -> Option<LookupRule> {
        let granted = self.granted.iter().any(|d| match &d.host {
            Host::Domain(host) => host.eq_ignore_ascii_case(name),
            _ => false,
        });
        match (granted, name.eq_ignore_ascii_case(LOCALHOST)) {
            (false, _) => None,
            (true, true) => Some(LookupRule::Loopback),
            (true, false) => Some(LookupRule::Public),
        }
    }
}

/// The destination of a parsed URL, refusing what no grant can allow.
fn destination_of(url: &Url) -> Result<Destination, Refusal> {
    let asked = || asked_of(url);
    let refuse = |reason| Refusal {
        asked: asked(),
        reason,
    };
    let scheme = Scheme::parse(url.scheme())
        .ok_or_else(|| refuse(RefusalReason::Scheme(url.scheme().to_owned())))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse(RefusalReason::UserInfo));
    }
    let Some(host) = url.host() else {
        return Err(refuse(RefusalReason::Malformed("it has no host".into())));
    };
    if let Host::Domain(name) = host
        && name.ends_with('.')
    {
        return Err(refuse(RefusalReason::TrailingDot(name.to_owned())));
    }
    let port = url
        .port_or_known_default()
        .ok_or_else(|| refuse(RefusalReason::Malformed("it has no port".into())))?;
    Ok(Destination {
        scheme,
        host: host.to_owned(),
        port,
    })
}

/// Refuses a URL whose scheme, host and port, as written, are not exactly
/// how the parser prints them (ignoring case), with or without the port
/// when it is the scheme's default.
fn check_spelling(written: &str, url: &Url, destination: &Destination) -> Result<(), Refusal> {
    let scheme = destination.scheme.as_str();
    let canonical = format!("{}:{}", destination.host, destination.port);
    let unusual = |written: &str| Refusal {
        asked: destination.to_string(),
        reason: RefusalReason::Unusual {
            written: written.to_owned(),
            canonical: format!("{scheme}://{canonical}"),
        },
    };
    let Some(rest) = written
        .get(..scheme.len() + 3)
        .filter(|head| head.eq_ignore_ascii_case(&format!("{scheme}://")))
        .map(|head| &written[head.len()..])
    else {
        // `http:host`, `http:/host` and `http:///host` parse too.
        let head: String = written.chars().take(scheme.len() + 3).collect();
        return Err(unusual(&head));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = url.host_str().unwrap_or_default();
    let plain = authority.eq_ignore_ascii_case(&canonical)
        || (url.port().is_none() && authority.eq_ignore_ascii_case(host));
    if plain {
        return Ok(());
    }
    Err(unusual(&format!("{scheme}://{authority}")))
}

/// `scheme://host:port` of a parsed URL, whatever its scheme.
fn asked_of(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port_or_known_default() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    }
}

/// The start of an unparsed URL, cut and escaped so that it prints on one
/// line: it is whatever the plugin sent.
fn printable_prefix(written: &str) -> String {
    let mut shown: String = written
        .chars()
        .take(200)
        .flat_map(char::escape_default)
        .collect();
    if written.chars().count() > 200 {
        shown.push('…');
    }
    shown
}

/// Names the kind of address a stage may reach only by granting it
/// literally (or, for loopback, by granting `localhost`): loopback,
/// link-local, cloud metadata, unspecified, multicast, reserved and
/// broadcast addresses, also when an IPv6 address embeds such an IPv4 one
/// (`::ffff:127.0.0.1`, `::127.0.0.1`, `64:ff9b::7f00:1`).
///
/// Returns `None` for any other address.
pub fn special_address(address: IpAddr) -> Option<&'static str> {
    match address {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => special_v6(v6),
    }
}

fn special_v4(address: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = address.octets();
    // Connecting to any 0.x.x.x address reaches this host on Linux.
    if a == 0 {
        return Some("unspecified");
    }
    if address.is_loopback() {
        return Some("loopback");
    }
    // 169.254.169.254 is link-local; 100.100.100.200 is Alibaba Cloud's.
    if address == Ipv4Addr::new(169, 254, 169, 254) || address == Ipv4Addr::new(100, 100, 100, 200)
    {
        return Some("cloud metadata");
    }
    if a == 169 && b == 254 {
        return Some("link-local");
    }
    // Multicast, the reserved 240/4 and the broadcast address.
    if a >= 224 {
        return Some("multicast, reserved or broadcast");
    }
    None
}

fn special_v6(address: Ipv6Addr) -> Option<&'static str> {
    if address.is_unspecified() {
        return Some("unspecified");
    }
    if address.is_loopback() {
        return Some("loopback");
    }
    if let Some(v4) = embedded_v4(address) {
        return special_v4(v4);
    }
    let first = address.segments()[0];
    // AWS's metadata service on IPv6.
    if address == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        return Some("cloud metadata");
    }
    if first & 0xffc0 == 0xfe80 {
        return Some("link-local");
    }
    if first & 0xff00 == 0xff00 {
        return Some("multicast, reserved or broadcast");
    }
    None
}

/// The IPv4 address an IPv6 one carries: IPv4-mapped (`::ffff:0:0/96`),
/// IPv4-compatible (`::/96`) and NAT64 (`64:ff9b::/96`) forms.
fn embedded_v4(address: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = address.segments();
    let prefix_zero = s[..5].iter().all(|&x| x == 0);
    let mapped = prefix_zero && (s[5] == 0 || s[5] == 0xffff);
    let nat64 = s[0] == 0x64 && s[1] == 0xff9b && s[2..6].iter().all(|&x| x == 0);
    if !mapped && !nat64 {
        return None;
    }
    let [.., a, b, c, d] = address.octets();
    Some(Ipv4Addr::new(a, b, c, d))
}

#[cfg(test)]
mod tests;
