//! The `Host` header: which names this server answers to (`server.allowed_hosts`, Django's
//! `ALLOWED_HOSTS`), and the base of the absolute links it builds (`server.public_url`).
//!
//! Pagination links are absolute URLs built from the request's host, so a request with
//! `Host: evil.example` used to get `next` links pointing there: a cache or a link-following
//! client could be steered to another site. A request naming a host that is not allowed now
//! answers `400 invalid_host` before any handler runs. Health and metrics probes are exempt:
//! load balancers and Prometheus address a node by its IP, and those routes build no links.

use axum::http::{HeaderMap, header};

use crate::config::Config;

/// Routes answered whatever the `Host` header says.
const HOST_EXEMPT_PATHS: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// Whether a request with these headers to `path` may be served. A request without a `Host`
/// header (HTTP/1.0) is served; its links use `server.public_url` or `localhost`.
pub fn is_allowed(config: &Config, path: &str, headers: &HeaderMap) -> bool {
    if HOST_EXEMPT_PATHS.contains(&path.trim_end_matches('/')) {
        return true;
    }
    let Some(host) = headers.get(header::HOST) else {
        return true;
    };
    let Some(name) = host.to_str().ok().and_then(host_name) else {
        return false;
    };
    let name = name.to_ascii_lowercase();
    let listen_ip = config.listen.ip();
    if !listen_ip.is_unspecified() && name == bracketed(&listen_ip.to_string(), listen_ip.is_ipv6())
    {
        return true;
    }
    if config
        .public_url
        .as_ref()
        .is_some_and(|url| url.host_name() == name)
    {
        return true;
    }
    config
        .allowed_hosts
        .iter()
        .any(|pattern| matches(pattern, &name))
}

/// Logged at start-up when the server listens on every interface but still answers only to
/// local names: reaching it by this machine's address or name would answer `400` until the
/// operator says which names are theirs.
pub fn warn_if_only_local_names(config: &Config) {
    let only_defaults = config.allowed_hosts == Config::default().allowed_hosts;
    if config.listen.ip().is_unspecified() && only_defaults && config.public_url.is_none() {
        tracing::warn!(
            listen = %config.listen,
            "listening on every interface, but server.allowed_hosts has only local names: requests to this machine's other names answer 400 invalid_host until they are added (BANKD_SERVER_ALLOWED_HOSTS)"
        );
    }
}

/// The name in a `Host` header without its port: `example.com:8000` → `example.com`,
/// `[::1]:8000` → `[::1]`. `None` when it is not a plausible host.
pub fn host_name(host: &str) -> Option<&str> {
    let name = if host.starts_with('[') {
        let end = host.find(']')?;
        let (name, rest) = host.split_at(end + 1);
        if !(rest.is_empty() || rest.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        name
    } else {
        match host.split_once(':') {
            Some((name, port)) if is_port(port) => name,
            Some(_) => return None,
            None => host,
        }
    };
    let plausible = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.[]:".contains(&b));
    plausible.then_some(name)
}

fn is_port(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && text.parse::<u16>().is_ok()
}

fn bracketed(address: &str, v6: bool) -> String {
    if v6 {
        format!("[{address}]")
    } else {
        address.to_owned()
    }
}

/// Django's rules: `*` matches anything, `.example.com` matches `example.com` and every
/// subdomain, anything else matches itself (case-insensitively; `name` is lower case).
fn matches(pattern: &str, name: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    if pattern == "*" {
        return true;
    }
    match pattern.strip_prefix('.') {
        Some(domain) => name == domain || name.ends_with(&pattern),
        None => name == pattern,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_host(host: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, host.parse().expect("a header value"));
        headers
    }

    #[test]
    fn local_names_are_allowed_by_default_and_others_are_not() {
        let config = Config::default();
        for host in [
            "localhost",
            "localhost:8000",
            "LOCALHOST",
            "app.localhost",
            "127.0.0.1:8000",
            "[::1]:8000",
        ] {
            assert!(
                is_allowed(&config, "/api/accounts", &with_host(host)),
                "{host}"
            );
        }
        for host in [
            "evil.example",
            "evil.example:8000",
            "127.0.0.1:8000@evil.example",
            "localhost.evil.example",
            "127.0.0.1:notaport",
            "",
            "[::1",
        ] {
            assert!(
                !is_allowed(&config, "/api/accounts", &with_host(host)),
                "{host}"
            );
        }
    }

    #[test]
    fn health_probes_are_answered_for_any_host() {
        let config = Config::default();
        for path in ["/healthz", "/readyz", "/metrics", "/readyz/"] {
            assert!(
                is_allowed(&config, path, &with_host("10.1.2.3:8000")),
                "{path}"
            );
        }
    }

    #[test]
    fn patterns_follow_djangos_rules() {
        assert!(matches(".example.com", "example.com"));
        assert!(matches(".example.com", "api.example.com"));
        assert!(!matches(".example.com", "badexample.com"));
        assert!(matches("Bank.Example.com", "bank.example.com"));
        assert!(!matches("bank.example.com", "api.bank.example.com"));
        assert!(matches("*", "anything"));
    }

    #[test]
    fn a_specific_listen_address_is_allowed() {
        let config = Config {
            listen: "192.0.2.10:8000".parse().expect("an address"),
            ..Config::default()
        };
        assert!(is_allowed(&config, "/api/", &with_host("192.0.2.10:8000")));
        assert!(!is_allowed(&config, "/api/", &with_host("192.0.2.11:8000")));
    }
}
