//! The client's address: the peer of the connection, or, when that peer is a reverse proxy the
//! operator trusts (`GATEWAY_TRUSTED_PROXIES`), the address the proxies put in `Forwarded`
//! (RFC 7239) or `X-Forwarded-For`. A header from anyone else is ignored, so a client cannot
//! choose the address the sign-in limiter counts and the log shows.
//!
//! The proxies append as they pass the request on, so the list is read from its right end: each
//! address a trusted proxy wrote is skipped until the first one that is not a trusted proxy,
//! which is the client (whatever a client put further left is its own claim, never believed).

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use anyhow::Context;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request};

/// Addresses and networks of the reverse proxies in front of the gateway.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<(IpAddr, u8)>,
}

impl fmt::Debug for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.nets.iter().map(|(ip, len)| format!("{ip}/{len}")))
            .finish()
    }
}

impl TrustedProxies {
    /// A comma-separated list of addresses (`127.0.0.1`, `::1`) and networks (`10.0.0.0/8`,
    /// `fd00::/8`).
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let mut nets = Vec::new();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (addr, len) = match item.split_once('/') {
                Some((a, l)) => (a, Some(l)),
                None => (item, None),
            };
            let ip: IpAddr = addr
                .parse()
                .with_context(|| format!("{item:?} is not an IP address or network"))?;
            let ip = canonical(ip);
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let len = match len {
                None => max,
                Some(l) => l
                    .parse::<u8>()
                    .ok()
                    .filter(|l| *l <= max)
                    .with_context(|| format!("{item:?}: the prefix length must be 0..={max}"))?,
            };
            nets.push((ip, len));
        }
        Ok(Self { nets })
    }

    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.nets.iter().any(|&(net, len)| in_net(ip, net, len))
    }

    /// The client of a request that came from `peer` with `headers`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.contains(peer) {
            return peer;
        }
        let Some(chain) = forwarded_chain(headers) else {
            return peer;
        };
        // Right to left: past the trusted proxies to the first address that is not one.
        let mut client = peer;
        for hop in chain.iter().rev() {
            let Some(ip) = hop else {
                // A hop a proxy could not name (`unknown`, a garbled value): stop believing.
                return client;
            };
            client = canonical(*ip);
            if !self.contains(client) {
                return client;
            }
        }
        client
    }

    /// The client of `request`, `None` when the connection's address is unknown (a test
    /// without a socket).
    pub fn client_of<B>(&self, request: &Request<B>) -> Option<IpAddr> {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())?;
        Some(self.client(peer, request.headers()))
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`, what a dual-stack socket reports) as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn in_net(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// The hops the proxies recorded, leftmost first: from `Forwarded`'s `for=` parameters if the
/// request has that header, else from `X-Forwarded-For`; `None` for a hop that names no address.
/// `None` overall when neither header is there.
fn forwarded_chain(headers: &HeaderMap) -> Option<Vec<Option<IpAddr>>> {
    let forwarded: Vec<&str> = headers
        .get_all("forwarded")
        .iter()
        .map(|v| v.to_str().unwrap_or(""))
        .collect();
    if !forwarded.is_empty() {
        let mut hops = Vec::new();
        for element in forwarded.iter().flat_map(|v| v.split(',')) {
            let node = element.split(';').find_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                k.trim().eq_ignore_ascii_case("for").then(|| v.trim())
            });
            hops.push(node.and_then(forwarded_node));
        }
        return Some(hops);
    }
    let xff: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| v.to_str().unwrap_or(""))
        .collect();
    if xff.is_empty() {
        return None;
    }
    Some(
        xff.iter()
            .flat_map(|v| v.split(','))
            .map(|hop| forwarded_node(hop.trim()))
            .collect(),
    )
}

/// `192.0.2.1`, `"192.0.2.1:4711"`, `"[2001:db8::1]:4711"`, `[2001:db8::1]`, `2001:db8::1`.
fn forwarded_node(text: &str) -> Option<IpAddr> {
    let text = text.trim().trim_matches('"');
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sock) = text.parse::<SocketAddr>() {
        return Some(sock.ip());
    }
    text.strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .and_then(|t| t.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn networks_parse_and_match() {
        let t = TrustedProxies::parse(" 127.0.0.1, 10.0.0.0/8 ,fd00::/8,").unwrap();
        for yes in ["127.0.0.1", "10.1.2.3", "::ffff:10.9.9.9", "fd12::1"] {
            assert!(t.contains(ip(yes)), "{yes}");
        }
        for no in ["127.0.0.2", "11.0.0.1", "fe80::1", "::1"] {
            assert!(!t.contains(ip(no)), "{no}");
        }
        assert!(
            TrustedProxies::parse("0.0.0.0/0")
                .unwrap()
                .contains(ip("8.8.8.8"))
        );
        assert!(TrustedProxies::parse("").unwrap().is_empty());
        for bad in ["10.0.0.0/33", "proxy.local", "10.0.0.1/x", "::1/129"] {
            assert!(TrustedProxies::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_header_counts_only_from_a_trusted_proxy() {
        let t = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let spoof = headers(&[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(
            t.client(ip("203.0.113.9"), &spoof),
            ip("203.0.113.9"),
            "an untrusted peer's header is ignored"
        );
        assert_eq!(t.client(ip("10.0.0.2"), &spoof), ip("1.2.3.4"));
        assert_eq!(
            t.client(ip("10.0.0.2"), &HeaderMap::new()),
            ip("10.0.0.2"),
            "no header: the proxy itself"
        );
        let none = TrustedProxies::default();
        assert_eq!(
            none.client(ip("10.0.0.2"), &spoof),
            ip("10.0.0.2"),
            "no trusted proxies: headers never count"
        );
    }

    #[test]
    fn the_chain_is_read_from_the_right_past_trusted_proxies_only() {
        let t = TrustedProxies::parse("10.0.0.0/8").unwrap();
        // The client claimed 6.6.6.6; the first proxy saw 198.51.100.7 and a second proxy 10.1.1.1.
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6, 198.51.100.7"),
            ("x-forwarded-for", "10.1.1.1"),
        ]);
        assert_eq!(t.client(ip("10.0.0.2"), &h), ip("198.51.100.7"));
        let all_proxies = headers(&[("x-forwarded-for", "10.3.3.3, 10.1.1.1")]);
        assert_eq!(t.client(ip("10.0.0.2"), &all_proxies), ip("10.3.3.3"));
        let garbled = headers(&[("x-forwarded-for", "6.6.6.6, nonsense")]);
        assert_eq!(
            t.client(ip("10.0.0.2"), &garbled),
            ip("10.0.0.2"),
            "an unreadable hop is not skipped over"
        );
    }

    #[test]
    fn forwarded_wins_over_x_forwarded_for() {
        let t = TrustedProxies::parse("::1, 10.0.0.0/8").unwrap();
        let h = headers(&[
            (
                "forwarded",
                "for=6.6.6.6, for=\"[2001:db8::7]:4711\";proto=https",
            ),
            ("x-forwarded-for", "1.2.3.4"),
        ]);
        assert_eq!(t.client(ip("::1"), &h), ip("2001:db8::7"));
        let h = headers(&[("forwarded", "For=\"192.0.2.60:8080\";by=10.0.0.1")]);
        assert_eq!(t.client(ip("10.0.0.1"), &h), ip("192.0.2.60"));
        let h = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(t.client(ip("10.0.0.1"), &h), ip("10.0.0.1"));
        assert_eq!(
            t.client(ip("::ffff:10.0.0.1"), &HeaderMap::new()),
            ip("10.0.0.1"),
            "a mapped address is the IPv4 one"
        );
    }
}
