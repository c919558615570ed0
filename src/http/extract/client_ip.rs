//! Who the client is: its address behind trusted proxies, and the key it is throttled by.
//!
//! Proxies append to `X-Forwarded-For` in different shapes: `203.0.113.7`,
//! `203.0.113.7:51234`, `2001:db8::7`, `[2001:db8::7]`, `[2001:db8::7]:443`, sometimes quoted,
//! sometimes `unknown` or an obfuscated name. The list is read from the right, where the hops we
//! trust wrote: each trusted hop vouches for the entry to its left. The first entry that is not
//! a trusted proxy is the client. An entry that cannot be read ends the walk, and the hop that
//! wrote it is taken as the client: skipping it would let the entry to its left — which the
//! client itself may have sent — be believed (a spoofed address for throttling and the audit log).

use std::net::{IpAddr, Ipv6Addr};

use axum::http::HeaderMap;

use crate::config::IpNet;

/// The client's address: the TCP peer, unless the peer is a trusted proxy, in which case the
/// right-most address in `X-Forwarded-For` that is not itself a trusted proxy. Without trusted
/// proxies the header is ignored, so a client cannot choose its own address.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
    let mut client = peer;
    if !is_trusted(client) {
        return client;
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|value| value.to_str().unwrap_or(""))
        .flat_map(|value| value.split(','))
        .collect();
    for entry in entries.into_iter().rev() {
        let Some(ip) = parse_forwarded_entry(entry) else {
            // The trusted hop in `client` wrote something unreadable: it is the client.
            return client;
        };
        client = ip;
        if !is_trusted(ip) {
            return ip;
        }
    }
    // Every hop was a trusted proxy: the left-most is the furthest one known.
    client
}

/// One `X-Forwarded-For` entry as an address, with an optional port, brackets or quotes
/// removed. `None` for anything else (`unknown`, names, garbage).
pub fn parse_forwarded_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    let entry = entry
        .strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
        .unwrap_or(entry);
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = entry.strip_prefix('[') {
        // `[v6]` or `[v6]:port`.
        let (address, after) = rest.split_once(']')?;
        let port_ok = after.is_empty() || after.strip_prefix(':').is_some_and(is_port);
        return port_ok
            .then(|| address.parse::<Ipv6Addr>().ok().map(IpAddr::V6))
            .flatten();
    }
    // `v4:port` (a bare v6 address has several colons and parsed above).
    let (address, port) = entry.rsplit_once(':')?;
    if !is_port(port) {
        return None;
    }
    address.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

fn is_port(text: &str) -> bool {
    !text.is_empty() && text.len() <= 5 && text.parse::<u16>().is_ok()
}

/// The key a client is throttled by: its IPv4 address, or its IPv6 /64. One IPv6 subscriber
/// is usually given a whole /64 and can rotate through its 2^64 addresses at will, so
/// throttling single IPv6 addresses would not throttle anyone.
pub fn throttle_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let network = u128::from(v6) & (u128::MAX << 64);
                format!("{}/64", Ipv6Addr::from(network))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append("x-forwarded-for", value.parse().expect("a header value"));
        }
        map
    }

    fn trusted(nets: &[&str]) -> Vec<IpNet> {
        nets.iter()
            .map(|net| IpNet::parse(net).expect("a network"))
            .collect()
    }

    #[test]
    fn entries_with_ports_brackets_and_quotes_are_read() {
        for (entry, expected) in [
            ("203.0.113.7", "203.0.113.7"),
            (" 203.0.113.7:51234 ", "203.0.113.7"),
            ("2001:db8::7", "2001:db8::7"),
            ("[2001:db8::7]", "2001:db8::7"),
            ("[2001:db8::7]:443", "2001:db8::7"),
            ("\"[2001:db8::7]:443\"", "2001:db8::7"),
            ("::ffff:203.0.113.7", "::ffff:203.0.113.7"),
        ] {
            assert_eq!(parse_forwarded_entry(entry), Some(ip(expected)), "{entry}");
        }
        for entry in [
            "",
            "unknown",
            "_hidden",
            "203.0.113.7:",
            "203.0.113.7:99999",
            "[2001:db8::7",
            "[2001:db8::7]x",
            "[203.0.113.7]",
            "example.com:80",
        ] {
            assert_eq!(parse_forwarded_entry(entry), None, "{entry}");
        }
    }

    #[test]
    fn a_proxy_that_appends_a_port_does_not_let_the_left_entry_through() {
        let proxies = trusted(&["10.0.0.0/8"]);
        let peer = ip("10.0.0.1");

        let spoofed = headers(&["6.6.6.6, 198.51.100.9:40000"]);
        let bracketed = headers(&["6.6.6.6", "[2001:db8::9]:40000"]);

        assert_eq!(client_ip(peer, &spoofed, &proxies), ip("198.51.100.9"));
        assert_eq!(client_ip(peer, &bracketed, &proxies), ip("2001:db8::9"));
    }

    #[test]
    fn an_unreadable_trusted_hop_is_taken_as_the_client() {
        let proxies = trusted(&["10.0.0.0/8"]);

        let garbage_from_peer = headers(&["6.6.6.6, unknown"]);
        let garbage_behind_a_second_proxy = headers(&["6.6.6.6, garbage, 10.0.0.2"]);

        assert_eq!(
            client_ip(ip("10.0.0.1"), &garbage_from_peer, &proxies),
            ip("10.0.0.1")
        );
        assert_eq!(
            client_ip(ip("10.0.0.1"), &garbage_behind_a_second_proxy, &proxies),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn an_untrusted_peer_cannot_choose_its_address() {
        let proxies = trusted(&["10.0.0.0/8"]);

        let claimed = headers(&["1.2.3.4"]);

        assert_eq!(
            client_ip(ip("198.51.100.1"), &claimed, &proxies),
            ip("198.51.100.1")
        );
        assert_eq!(client_ip(ip("10.0.0.1"), &claimed, &[]), ip("10.0.0.1"));
    }

    #[test]
    fn ipv6_clients_are_throttled_by_their_64() {
        assert_eq!(
            throttle_key(ip("2001:db8:1:2:aaaa::1")),
            throttle_key(ip("2001:db8:1:2:ffff:1:2:3"))
        );
        assert_ne!(
            throttle_key(ip("2001:db8:1:2::1")),
            throttle_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(throttle_key(ip("2001:db8:1:2::1")), "2001:db8:1:2::/64");
        assert_eq!(throttle_key(ip("::ffff:203.0.113.7")), "203.0.113.7");
        assert_eq!(throttle_key(ip("203.0.113.7")), "203.0.113.7");
    }
}
