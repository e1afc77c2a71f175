//! The destination matcher, example by example and by property.

use proptest::prelude::*;

use super::*;

fn grants(entries: &[(&str, &str, u16)]) -> NetGrants {
    NetGrants::new(
        entries
            .iter()
            .map(|(scheme, host, port)| Destination::from_grant(scheme, host, *port).unwrap())
            .collect(),
    )
}

fn osv() -> NetGrants {
    grants(&[("https", "api.osv.dev", 443)])
}

fn refusal(grants: &NetGrants, url: &str) -> RefusalReason {
    match grants.check_written(url) {
        Ok((_, destination)) => panic!("`{url}` was allowed as {destination}"),
        Err(refusal) => refusal.reason,
    }
}

fn allowed(grants: &NetGrants, url: &str) -> String {
    match grants.check_written(url) {
        Ok((_, destination)) => destination.to_string(),
        Err(refusal) => panic!("`{url}` was refused: {refusal}"),
    }
}

#[test]
fn the_exact_destination_is_allowed_with_or_without_its_default_port() {
    let osv = osv();
    for url in [
        "https://api.osv.dev/v1/query",
        "https://api.osv.dev:443/v1/query",
        "https://api.osv.dev",
        "https://API.OSV.DEV/v1/query",
        "HTTPS://Api.Osv.Dev:443?x=1",
        "https://api.osv.dev#frag",
    ] {
        assert_eq!(allowed(&osv, url), "https://api.osv.dev:443", "{url}");
    }
}

#[test]
fn look_alike_hosts_are_not_granted() {
    let osv = osv();
    for url in [
        "https://api.osv.dev.evil.com/",
        "https://evilapi.osv.dev/",
        "https://osv.dev/",
        "https://x.api.osv.dev/",
        "https://api.osv.de/",
        "https://api-osv.dev/",
        "https://api.osv.devx/",
        "https://apii.osv.dev/",
    ] {
        assert_eq!(refusal(&osv, url), RefusalReason::NotGranted, "{url}");
    }
}

#[test]
fn another_scheme_or_port_is_another_destination() {
    let osv = osv();
    for url in [
        "http://api.osv.dev/",
        "http://api.osv.dev:443/",
        "https://api.osv.dev:8443/",
        "https://api.osv.dev:80/",
    ] {
        assert_eq!(refusal(&osv, url), RefusalReason::NotGranted, "{url}");
    }
    let http = grants(&[("http", "example.test", 80)]);
    assert_eq!(
        allowed(&http, "http://example.test/"),
        "http://example.test:80"
    );
    assert_eq!(
        allowed(&http, "http://example.test:80/"),
        "http://example.test:80"
    );
    assert_eq!(
        refusal(&http, "https://example.test/"),
        RefusalReason::NotGranted
    );
}

#[test]
fn other_schemes_are_refused() {
    let osv = osv();
    for (url, scheme) in [
        ("ftp://api.osv.dev/", "ftp"),
        ("file:///etc/passwd", "file"),
        ("ws://api.osv.dev/", "ws"),
        ("wss://api.osv.dev/", "wss"),
        ("gopher://api.osv.dev:443/", "gopher"),
        ("data:text/plain,hi", "data"),
    ] {
        assert_eq!(
            refusal(&osv, url),
            RefusalReason::Scheme(scheme.into()),
            "{url}"
        );
    }
}

#[test]
fn user_information_is_refused() {
    let osv = osv();
    for url in [
        "https://user@api.osv.dev/",
        "https://user:secret@api.osv.dev/",
        "https://:secret@api.osv.dev/",
        "https://api.osv.dev:443@api.osv.dev/",
    ] {
        assert_eq!(refusal(&osv, url), RefusalReason::UserInfo, "{url}");
    }
    // An `@` after the granted host moves the host elsewhere.
    assert_eq!(
        refusal(&osv, "https://api.osv.dev@evil.com/"),
        RefusalReason::UserInfo
    );
    // An empty user part parses to no user at all; its spelling is refused.
    assert!(matches!(
        refusal(&osv, "https://@api.osv.dev/"),
        RefusalReason::Unusual { .. }
    ));
}

#[test]
fn unusual_spellings_of_a_granted_host_are_refused() {
    let osv = osv();
    for url in [
        "https://api%2Eosv.dev/",
        "https://%61pi.osv.dev/",
        "https://ａｐｉ.osv.dev/",
        "https://api。osv.dev/",
        "https:api.osv.dev/",
        "https:/api.osv.dev/",
        "https:///api.osv.dev/",
        "https://api.osv.dev:0443/",
        "https://api.osv.dev:/",
    ] {
        assert!(
            matches!(refusal(&osv, url), RefusalReason::Unusual { .. }),
            "{url}: {:?}",
            osv.check_written(url)
        );
    }
}

#[test]
fn text_the_parser_would_rewrite_is_refused() {
    let osv = osv();
    for url in [
        "https:\\\\api.osv.dev/",
        "https://api.osv.dev\\@evil.com/",
        "https://api.osv.dev\t.evil.com/",
        "https://api.osv\n.dev/",
        " https://api.osv.dev/",
        "https://api.osv.dev/ ",
        "https://api.osv.dev/\u{0}",
    ] {
        assert!(
            matches!(refusal(&osv, url), RefusalReason::Malformed(_)),
            "{url:?}"
        );
    }
    let long = format!("https://api.osv.dev/{}", "a".repeat(MAX_URL_BYTES));
    assert!(matches!(refusal(&osv, &long), RefusalReason::Malformed(_)));
    assert!(matches!(
        refusal(&osv, "not a url"),
        RefusalReason::Malformed(_)
    ));
    assert!(matches!(
        refusal(&osv, "/v1/query"),
        RefusalReason::Malformed(_)
    ));
}

#[test]
fn a_trailing_dot_is_refused_not_normalised() {
    let osv = osv();
    assert_eq!(
        refusal(&osv, "https://api.osv.dev./"),
        RefusalReason::TrailingDot("api.osv.dev.".into())
    );
    assert!(Destination::from_grant("https", "api.osv.dev.", 443).is_err());
}

#[test]
fn ip_literals_do_not_match_a_named_host() {
    let local = grants(&[("http", "localhost", 8080)]);
    for url in [
        "http://127.0.0.1:8080/",
        "http://[::1]:8080/",
        "http://0.0.0.0:8080/",
    ] {
        assert_eq!(refusal(&local, url), RefusalReason::NotGranted, "{url}");
    }
    assert_eq!(
        allowed(&local, "http://localhost:8080/"),
        "http://localhost:8080"
    );
    assert_eq!(
        allowed(&local, "http://LocalHost:8080/"),
        "http://localhost:8080"
    );
}

#[test]
fn numeric_forms_of_a_granted_address_are_refused() {
    let literal = grants(&[("http", "127.0.0.1", 8080)]);
    assert_eq!(
        allowed(&literal, "http://127.0.0.1:8080/"),
        "http://127.0.0.1:8080"
    );
    for url in [
        "http://2130706433:8080/",
        "http://0x7f000001:8080/",
        "http://0x7f.0.0.1:8080/",
        "http://0177.0.0.1:8080/",
        "http://127.1:8080/",
        "http://127.0.1:8080/",
        "http://127.000.000.001:8080/",
        "http://%31%32%37.0.0.1:8080/",
    ] {
        assert!(
            matches!(refusal(&literal, url), RefusalReason::Unusual { .. }),
            "{url}: {:?}",
            literal.check_written(url)
        );
    }
    // The mapped IPv6 form is another host altogether.
    for url in [
        "http://[::ffff:127.0.0.1]:8080/",
        "http://[::ffff:7f00:1]:8080/",
    ] {
        let reason = refusal(&literal, url);
        assert!(
            matches!(
                reason,
                RefusalReason::NotGranted | RefusalReason::Unusual { .. }
            ),
            "{url}: {reason:?}"
        );
    }
}

#[test]
fn ipv6_literals_match_in_their_compressed_form() {
    let v6 = grants(&[("http", "[::1]", 8080)]);
    assert_eq!(allowed(&v6, "http://[::1]:8080/"), "http://[::1]:8080");
    assert!(matches!(
        refusal(&v6, "http://[0:0:0:0:0:0:0:1]:8080/"),
        RefusalReason::Unusual { .. }
    ));
    assert_eq!(
        refusal(&v6, "http://[::2]:8080/"),
        RefusalReason::NotGranted
    );
    assert_eq!(
        refusal(&v6, "http://localhost:8080/"),
        RefusalReason::NotGranted
    );
}

#[test]
fn metadata_addresses_are_refused_unless_granted() {
    let osv = osv();
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://100.100.100.200/latest/meta-data/",
    ] {
        assert_eq!(refusal(&osv, url), RefusalReason::NotGranted, "{url}");
    }
}

#[test]
fn grants_with_numeric_or_dotted_hosts_are_refused() {
    assert!(Destination::from_grant("http", "127.0.0.1", 80).is_ok());
    assert!(Destination::from_grant("http", "[::1]", 80).is_ok());
    assert!(Destination::from_grant("https", "API.osv.dev", 443).is_ok());
    for host in ["127.1", "0x7f.0.0.1", "2130706433", "1.2.3.999", "[0:0::1]"] {
        let err = Destination::from_grant("http", host, 80).unwrap_err();
        assert!(err.contains(host), "{host}: {err}");
    }
}

#[test]
fn denials_name_the_destination_and_the_missing_grant() {
    let osv = osv();
    let refused = osv.check_written("https://evil.com/steal").unwrap_err();
    let denial = refused.denial();
    assert_eq!(denial.capability, "net");
    assert_eq!(denial.asked, "https://evil.com:443");
    assert_eq!(denial.missing_grant, "net = [\"https://evil.com:443\"]");

    let denial = osv
        .check_written("https://u:p@api.osv.dev/")
        .unwrap_err()
        .denial();
    assert_eq!(denial.asked, "https://api.osv.dev:443");
    assert!(denial.missing_grant.starts_with("none: "), "{denial:?}");

    let denial = osv.check_written("\u{1b}[2Jnope").unwrap_err().denial();
    assert!(!denial.asked.contains('\u{1b}'), "{denial:?}");
}

#[test]
fn only_granted_names_are_looked_up_and_only_localhost_reaches_loopback() {
    let grants = grants(&[
        ("https", "api.osv.dev", 443),
        ("http", "localhost", 8080),
        ("http", "127.0.0.1", 9000),
    ]);
    assert_eq!(grants.lookup_rule("api.osv.dev"), Some(LookupRule::Public));
    assert_eq!(grants.lookup_rule("API.osv.dev"), Some(LookupRule::Public));
    assert_eq!(grants.lookup_rule("localhost"), Some(LookupRule::Loopback));
    assert_eq!(grants.lookup_rule("osv.dev"), None);
    assert_eq!(grants.lookup_rule("127.0.0.1"), None);
    assert_eq!(grants.lookup_rule("evil.com"), None);
    assert_eq!(NetGrants::default().lookup_rule("localhost"), None);
}

#[test]
fn special_addresses_are_named_in_every_form() {
    let special = [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("0.1.2.3", "unspecified"),
        ("::", "unspecified"),
        ("169.254.169.254", "cloud metadata"),
        ("100.100.100.200", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("febf::1", "link-local"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "cloud metadata"),
        ("::127.0.0.1", "loopback"),
        ("64:ff9b::7f00:1", "loopback"),
        ("::ffff:0.0.0.0", "unspecified"),
        ("255.255.255.255", "multicast, reserved or broadcast"),
        ("224.0.0.1", "multicast, reserved or broadcast"),
        ("ff02::1", "multicast, reserved or broadcast"),
        ("240.0.0.1", "multicast, reserved or broadcast"),
    ];
    for (address, kind) in special {
        let ip: IpAddr = address.parse().unwrap();
        assert_eq!(special_address(ip), Some(kind), "{address}");
    }
    for address in [
        "93.184.216.34",
        "10.0.0.7",
        "192.168.1.1",
        "100.64.0.1",
        "2606:4700::1111",
        "fec0::1",
        "fd00::1",
        "::ffff:93.184.216.34",
    ] {
        let ip: IpAddr = address.parse().unwrap();
        assert_eq!(special_address(ip), None, "{address}");
    }
}

/// A DNS label: letters, digits and inner hyphens.
fn label() -> impl Strategy<Value = String> {
    "[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?"
}

/// A host name of one to four labels that does not end in a number, so
/// that the parser keeps it a name.
fn host_name() -> impl Strategy<Value = String> {
    (prop::collection::vec(label(), 0..3), "[a-z][a-z0-9]{0,6}")
        .prop_map(|(mut labels, top)| {
            labels.push(top);
            labels.join(".")
        })
        // Punycode labels must decode; random ones rarely do.
        .prop_filter("no punycode", |host| !host.contains("xn--"))
}

fn scheme() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("http"), Just("https")]
}

fn default_port(scheme: &str) -> u16 {
    if scheme == "https" { 443 } else { 80 }
}

/// Mixes the case of `text` by the bits of `mask`.
fn mixed_case(text: &str, mask: u64) -> String {
    text.chars()
        .enumerate()
        .map(|(i, c)| {
            if mask >> (i % 64) & 1 == 1 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

fn config() -> ProptestConfig {
    // `PROPTEST_CASES` raises this for a longer run.
    ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(256),
    )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_random_destination_matches_only_an_equal_grant(
        granted in (scheme(), host_name(), 1..=u16::MAX),
        asked in (scheme(), host_name(), 1..=u16::MAX),
        path in "(/[a-z0-9._~-]{0,8}){0,3}",
    ) {
        let grants = grants(&[(granted.0, &granted.1, granted.2)]);
        let url = format!("{}://{}:{}{path}", asked.0, asked.1, asked.2);
        let same = granted == asked;
        prop_assert_eq!(grants.check_written(&url).is_ok(), same, "{}", url);
    }

    #[test]
    fn case_and_the_default_port_do_not_matter(
        scheme in scheme(),
        host in host_name(),
        mask in any::<u64>(),
        explicit in any::<bool>(),
    ) {
        let port = default_port(scheme);
        let grants = grants(&[(scheme, &mixed_case(&host, !mask), port)]);
        let written_host = mixed_case(&host, mask);
        let url = if explicit {
            format!("{}://{written_host}:{port}/", mixed_case(scheme, mask))
        } else {
            format!("{scheme}://{written_host}/")
        };
        let checked = grants.check_written(&url);
        prop_assert!(checked.is_ok(), "{}: {:?}", url, checked);
        prop_assert_eq!(checked.unwrap().1.to_string(), format!("{scheme}://{host}:{port}"));
    }

    #[test]
    fn look_alikes_of_a_granted_host_never_match(
        scheme in scheme(),
        host in host_name(),
        extra in label(),
        kind in 0..6u8,
        port in 1..=u16::MAX,
    ) {
        let grants = grants(&[(scheme, &host, port)]);
        let look_alike = match kind {
            0 => format!("{extra}.{host}"),
            1 => format!("{host}.{extra}x"),
            2 => format!("{extra}{host}"),
            3 => format!("{host}{extra}"),
            4 => format!("{extra}-{host}"),
            _ => host.split_once('.').map_or(format!("{host}x"), |(_, parent)| parent.to_owned()),
        };
        prop_assume!(look_alike != host);
        let url = format!("{scheme}://{look_alike}:{port}/");
        let checked = grants.check_written(&url);
        prop_assert!(checked.is_err(), "{} matched {}", url, host);
        prop_assert_eq!(grants.lookup_rule(&look_alike), None);
    }

    #[test]
    fn any_text_matches_only_as_the_granted_destination(
        text in "[a-zA-Z0-9:/.@%\\[\\]?#_-]{0,40}",
        prefix in prop_oneof![Just(""), Just("http://"), Just("https://"), Just("http://localhost")],
    ) {
        let grants = grants(&[("http", "localhost", 8080), ("https", "[::1]", 443)]);
        let url = format!("{prefix}{text}");
        if let Ok((parsed, destination)) = grants.check_written(&url) {
            let shown = destination.to_string();
            prop_assert!(
                shown == "http://localhost:8080" || shown == "https://[::1]:443",
                "{} became {}", url, shown
            );
            // The client connects where the parsed URL says.
            prop_assert_eq!(grants.check(&parsed), Ok(destination));
            prop_assert!(parsed.username().is_empty() && parsed.password().is_none());
        }
    }

    #[test]
    fn random_addresses_are_special_exactly_in_their_ranges(bits in any::<u32>()) {
        let v4 = Ipv4Addr::from(bits);
        let mapped = IpAddr::V6(v4.to_ipv6_mapped());
        prop_assert_eq!(special_address(IpAddr::V4(v4)), special_address(mapped));
        let [a, b, ..] = v4.octets();
        let expected = a == 0 || a == 127 || (a == 169 && b == 254) || a >= 224
            || v4 == Ipv4Addr::new(100, 100, 100, 200);
        prop_assert_eq!(special_address(IpAddr::V4(v4)).is_some(), expected, "{}", v4);
    }
}
