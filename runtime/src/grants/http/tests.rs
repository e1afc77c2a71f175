//! The client's checks, against real lookups and a real listener.

use std::net::TcpListener;

use super::*;

fn policy(grants: &[(&str, &str, u16)]) -> HttpPolicy {
    let sandbox = Sandbox {
        net: grants
            .iter()
            .map(|(scheme, host, port)| Destination::from_grant(scheme, host, *port).unwrap())
            .collect(),
        ..Sandbox::default()
    };
    HttpPolicy::new(&sandbox, Instant::now() + Duration::from_secs(60))
}

fn get(url: &str) -> HttpRequest {
    HttpRequest {
        method: Method::GET,
        url: url.to_owned(),
        headers: Vec::new(),
        body: None,
        timeout: None,
    }
}

fn with_header(name: &str, value: &str) -> HttpRequest {
    HttpRequest {
        headers: vec![(name.to_owned(), value.to_owned())],
        ..get("https://api.osv.dev/")
    }
}

/// A listener on loopback that accepts nothing; `connections` says how
/// many connections reached it.
struct Listener(TcpListener);

impl Listener {
    fn new() -> Listener {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        Listener(listener)
    }

    fn port(&self) -> u16 {
        self.0.local_addr().unwrap().port()
    }

    fn connections(&self) -> usize {
        std::iter::from_fn(|| self.0.accept().ok()).count()
    }
}

/// A name other than `localhost` that this machine resolves to a loopback
/// address through `/etc/hosts`, if it has one.
fn other_loopback_name() -> Option<String> {
    let hosts = std::fs::read_to_string("/etc/hosts").ok()?;
    hosts.lines().find_map(|line| {
        let mut words = line.split('#').next()?.split_whitespace();
        let address: IpAddr = words.next()?.parse().ok()?;
        if !address.is_loopback() {
            return None;
        }
        words
            .find(|name| !name.eq_ignore_ascii_case("localhost") && !name.contains(':'))
            .map(str::to_owned)
    })
}

#[test]
fn headers_the_client_sets_are_refused() {
    let policy = policy(&[("https", "api.osv.dev", 443)]);
    for (name, value) in [
        ("Host", "evil.com"),
        ("host", "api.osv.dev"),
        ("Content-Length", "0"),
        ("Transfer-Encoding", "chunked"),
        ("Connection", "keep-alive, Upgrade"),
        ("Upgrade", "h2c"),
        ("TE", "trailers"),
        ("Proxy-Authorization", "Basic eDp5"),
        ("Proxy-Connection", "keep-alive"),
        ("X-Ok", "a\r\nHost: evil.com"),
        ("Bad Name", "x"),
        ("", "x"),
    ] {
        let err = policy.prepare(with_header(name, value)).unwrap_err();
        assert!(matches!(err, HttpFailure::Invalid(_)), "{name}: {err}");
    }
    let ok = policy
        .prepare(with_header("Authorization", "Bearer t"))
        .unwrap();
    assert_eq!(ok.headers.len(), 1);
}

#[test]
fn oversized_requests_are_refused_before_sending() {
    let policy = policy(&[("https", "api.osv.dev", 443)]);
    let mut big = get("https://api.osv.dev/");
    big.body = Some(vec![0; MAX_REQUEST_BODY + 1]);
    assert!(matches!(policy.prepare(big), Err(HttpFailure::Invalid(_))));
    let mut many = get("https://api.osv.dev/");
    many.headers = (0..=MAX_HEADERS)
        .map(|i| (format!("x-{i}"), "v".into()))
        .collect();
    assert!(matches!(policy.prepare(many), Err(HttpFailure::Invalid(_))));
    let huge = with_header("x-big", &"v".repeat(MAX_HEADER_BYTES));
    assert!(matches!(policy.prepare(huge), Err(HttpFailure::Invalid(_))));
}

#[test]
fn the_time_limit_is_capped_by_the_default_and_the_stage() {
    let policy = policy(&[("https", "api.osv.dev", 443)]);
    let mut long = get("https://api.osv.dev/");
    long.timeout = Some(Duration::from_secs(3600));
    let prepared = policy.prepare(long).unwrap();
    assert!(prepared.deadline <= Instant::now() + DEFAULT_TIMEOUT);

    let mut short_stage = policy;
    short_stage.deadline = Instant::now() + Duration::from_millis(10);
    let prepared = short_stage.prepare(get("https://api.osv.dev/")).unwrap();
    assert!(prepared.deadline <= short_stage.deadline);
    let mut forever = get("https://api.osv.dev/");
    forever.timeout = Some(Duration::MAX);
    assert!(short_stage.prepare(forever).is_ok());
}

#[test]
fn an_ungranted_url_is_refused_before_anything_is_built() {
    let listener = Listener::new();
    let policy = policy(&[("http", "localhost", listener.port())]);
    let url = format!("http://127.0.0.1:{}/", listener.port());
    let Err(HttpFailure::Refused(refusal)) = policy.prepare(get(&url)) else {
        panic!("an IP literal for a named grant was prepared");
    };
    assert_eq!(refusal.reason, RefusalReason::NotGranted);
    assert!(policy.client.is_none());
    assert_eq!(listener.connections(), 0);
}

#[tokio::test]
async fn loopback_found_by_lookup_is_dropped_for_a_name_other_than_localhost() {
    let found: Vec<IpAddr> = tokio::net::lookup_host(("localhost", 0))
        .await
        .unwrap()
        .map(|a| a.ip())
        .collect();
    assert!(!found.is_empty());
    let err = reachable_addresses("rebound.example", &found).unwrap_err();
    assert!(matches!(err.reason, RefusalReason::Address(_)), "{err}");
    assert!(err.to_string().contains("loopback"), "{err}");

    let mixed: Vec<IpAddr> = ["169.254.169.254", "93.184.216.34", "::ffff:127.0.0.1"]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
    assert_eq!(
        reachable_addresses("mixed.example", &mixed).unwrap(),
        [mixed[1]]
    );
    let metadata = reachable_addresses("meta.example", &mixed[..1]).unwrap_err();
    assert!(
        metadata.to_string().contains("cloud metadata"),
        "{metadata}"
    );
}

#[tokio::test]
async fn a_granted_name_resolving_to_loopback_is_refused_before_connecting() {
    let Some(name) = other_loopback_name() else {
        eprintln!("skipped: no name but `localhost` resolves to loopback in /etc/hosts");
        return;
    };
    let listener = Listener::new();
    let mut policy = policy(&[("http", &name, listener.port())]);
    let url = format!("http://{name}:{}/", listener.port());
    let prepared = policy.prepare(get(&url)).unwrap();
    let Err(HttpFailure::Refused(refusal)) = policy.send(prepared).await else {
        panic!("`{name}` reached loopback");
    };
    assert!(
        matches!(refusal.reason, RefusalReason::Address(_)),
        "{refusal}"
    );
    assert_eq!(refusal.asked, format!("http://{name}:{}", listener.port()));
    assert_eq!(listener.connections(), 0);
}

#[tokio::test]
async fn localhost_reaches_loopback_without_dns() {
    let resolver = GrantedResolver {
        grants: Arc::new(NetGrants::new(vec![
            Destination::from_grant("http", "localhost", 80).unwrap(),
        ])),
    };
    let found: Vec<SocketAddr> = resolver
        .resolve("localhost".parse().unwrap())
        .await
        .unwrap()
        .collect();
    assert!(found.iter().all(|a| a.ip().is_loopback()), "{found:?}");
    assert_eq!(found.len(), 2);
    let refused = resolver.resolve("example.com".parse().unwrap()).await;
    assert!(refused.is_err(), "an ungranted name was looked up");
}
