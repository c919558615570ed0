//! Value types of the configuration: secrets that never print, IP networks for trusted
//! proxies, and the list syntax shared by the environment and the file.

use std::fmt;

/// A secret value (JWT key, card hashing key): never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// A secret of at least 32 bytes; an empty value means "generate one and keep it in the
/// database".
pub(super) fn secret(value: &str, name: &str) -> Result<Option<Secret>, String> {
    match value.len() {
        0 => Ok(None),
        1..32 => Err(format!(
            "{name} must be at least 32 characters (use e.g. `openssl rand -hex 32`)"
        )),
        _ => Ok(Some(Secret(value.as_bytes().to_vec()))),
    }
}

/// Splits a comma-separated list (the environment's form of a TOML array).
pub(super) fn list(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

/// An IP network: an address and a prefix length (a bare address is a /32 or /128).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpNet {
    address: std::net::IpAddr,
    prefix: u8,
}

impl IpNet {
    pub fn parse(text: &str) -> Option<Self> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address.parse().ok()?, Some(prefix.parse::<u8>().ok()?)),
            None => (text.parse().ok()?, None),
        };
        let max = match address {
            std::net::IpAddr::V4(_) => 32,
            std::net::IpAddr::V6(_) => 128,
        };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Self { address, prefix })
    }

    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr::{V4, V6};
        let ip = match ip {
            V6(v6) => v6.to_ipv4_mapped().map_or(V6(v6), V4),
            other => other,
        };
        match (self.address, ip) {
            (V4(net), V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (V6(net), V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// `server.public_url`: the URL clients reach this server at (`https://bank.example.com`, or
/// with a path prefix the proxy strips, `https://example.com/bank`). Links are built from it
/// instead of the request's `Host`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicUrl {
    /// Scheme, authority and path prefix, without a trailing slash.
    base: String,
    /// The host without port, lower case (`bank.example.com`, `[2001:db8::1]`).
    host_name: String,
}

impl PublicUrl {
    pub fn parse(text: &str) -> Result<Self, String> {
        let error = || {
            format!(
                "expected an http(s) URL without query or fragment such as https://bank.example.com, got {text:?}"
            )
        };
        let rest = text
            .strip_prefix("https://")
            .or_else(|| text.strip_prefix("http://"))
            .ok_or_else(error)?;
        let printable = text.bytes().all(|b| b.is_ascii_graphic());
        if !printable || text.contains(['?', '#', '@', '\\']) {
            return Err(error());
        }
        let authority = rest.split('/').next().unwrap_or_default();
        let host_name = crate::http::host::host_name(authority)
            .ok_or_else(error)?
            .to_ascii_lowercase();
        Ok(Self {
            base: text.trim_end_matches('/').to_owned(),
            host_name,
        })
    }

    /// `https://bank.example.com` (no trailing slash): prefix a path starting with `/`.
    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn host_name(&self) -> &str {
        &self.host_name
    }
}

#[cfg(test)]
mod public_url_tests {
    use super::PublicUrl;

    #[test]
    fn a_public_url_keeps_its_prefix_and_knows_its_host() {
        let url = PublicUrl::parse("https://Bank.Example.com:8443/bank/").expect("valid");
        assert_eq!(url.base(), "https://Bank.Example.com:8443/bank");
        assert_eq!(url.host_name(), "bank.example.com");
        for bad in [
            "bank.example.com",
            "ftp://bank.example.com",
            "https://",
            "https://bank.example.com/?a=1",
            "https://user@bank.example.com",
            "https://bank example.com",
        ] {
            assert!(PublicUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
