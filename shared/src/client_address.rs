//! The client's address on the local server: the TCP peer, or, when the peer is a reverse
//! proxy the operator trusts (`INFENTRE_TRUSTED_PROXIES`), the address that proxy reports in
//! `X-Forwarded-For`. Anyone else's `X-Forwarded-For` is ignored: a client could write
//! anything there, and would then choose its own throttling bucket.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::config::{ConfigError, Source};
use crate::http::ClientAddress;

/// Addresses and networks (`10.0.0.0/8`, `::1`) whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    pub const SETTING: &'static str = "INFENTRE_TRUSTED_PROXIES";

    /// Comma-separated addresses or CIDR networks; empty trusts nobody.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut networks = Vec::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (ip, prefix) = match entry.split_once('/') {
                Some((ip, prefix)) => (ip, Some(prefix)),
                None => (entry, None),
            };
            let ip: IpAddr = ip.parse().map_err(|_| format!("{entry:?} is not an IP address or network"))?;
            let ip = ip.to_canonical();
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let prefix = match prefix {
                None => max,
                Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or(format!("{entry:?} has a bad prefix"))?,
            };
            networks.push((ip, prefix));
        }
        Ok(Self(networks))
    }

    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        Self::parse(&source.get(Self::SETTING).unwrap_or_default())
            .map_err(|reason| ConfigError::Invalid { name: Self::SETTING, reason })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|&(network, prefix)| match (network, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                masked(u32::from(n).into(), prefix, 32) == masked(u32::from(a).into(), prefix, 32)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => masked(u128::from(n), prefix, 128) == masked(u128::from(a), prefix, 128),
            _ => false,
        })
    }

    /// The client: from the peer, walk `X-Forwarded-For` right to left while the hop we
    /// stand on is trusted; the first untrusted (or last reported) address is the client.
    pub fn client(&self, peer: IpAddr, forwarded_for: &[&str]) -> IpAddr {
        let mut client = peer.to_canonical();
        let hops = forwarded_for.iter().flat_map(|header| header.split(',')).map(str::trim).collect::<Vec<_>>();
        for hop in hops.into_iter().rev() {
            if !self.contains(client) {
                break;
            }
            match parse_hop(hop) {
                Some(ip) => client = ip,
                None => break,
            }
        }
        client
    }
}

fn masked(bits: u128, prefix: u8, width: u32) -> u128 {
    let shift = width - u32::from(prefix);
    if shift >= 128 { 0 } else { bits >> shift }
}

/// An address as proxies write it: `203.0.113.7`, `203.0.113.7:4711`, `2001:db8::1`, `[2001:db8::1]:4711`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>().ok().or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip())).map(|ip| ip.to_canonical())
}

/// Middleware for a server run with `into_make_service_with_connect_info::<SocketAddr>()`:
/// puts the [`ClientAddress`] in the request's extensions.
pub async fn from_peer(State(trusted): State<Arc<TrustedProxies>>, mut request: Request, next: Next) -> Response {
    if let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>().copied() {
        let forwarded: Vec<&str> =
            request.headers().get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect();
        let client = trusted.client(peer.ip(), &forwarded);
        request.extensions_mut().insert(ClientAddress(client));
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let nobody = TrustedProxies::default();
        assert_eq!(nobody.client(ip("198.51.100.1"), &["203.0.113.9"]), ip("198.51.100.1"));
        let proxy = TrustedProxies::parse("10.0.0.0/8").unwrap();
        assert_eq!(proxy.client(ip("198.51.100.1"), &["203.0.113.9"]), ip("198.51.100.1"));
    }

    #[test]
    fn a_trusted_proxy_reports_the_client_and_spoofed_hops_before_it_do_not_count() {
        let proxies = TrustedProxies::parse(" 10.0.0.0/8, ::1 ,192.0.2.7").unwrap();
        assert_eq!(proxies.client(ip("10.1.2.3"), &["203.0.113.9"]), ip("203.0.113.9"));
        // The client wrote "1.1.1.1" itself; our proxy appended what it saw.
        assert_eq!(proxies.client(ip("10.1.2.3"), &["1.1.1.1, 203.0.113.9"]), ip("203.0.113.9"));
        // Two of our proxies in a row, the header split over two lines.
        assert_eq!(proxies.client(ip("10.1.2.3"), &["1.1.1.1, 203.0.113.9", "192.0.2.7"]), ip("203.0.113.9"));
        assert_eq!(proxies.client(ip("::1"), &["[2001:db8::5]:4711"]), ip("2001:db8::5"));
        assert_eq!(proxies.client(ip("::ffff:10.0.0.1"), &["203.0.113.9:80"]), ip("203.0.113.9"));
        assert_eq!(proxies.client(ip("10.1.2.3"), &["garbage"]), ip("10.1.2.3"), "nothing usable: the proxy itself");
        assert_eq!(proxies.client(ip("10.1.2.3"), &[]), ip("10.1.2.3"));
    }

    #[test]
    fn bad_entries_are_refused() {
        for bad in ["10.0.0.0/33", "localhost", "10.0.0.0/x", "::1/129"] {
            assert!(TrustedProxies::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(TrustedProxies::parse("").unwrap(), TrustedProxies::default());
        let source = std::collections::HashMap::from([("INFENTRE_TRUSTED_PROXIES", "proxy.internal")]);
        let err = TrustedProxies::from_source(&source).unwrap_err();
        assert!(err.to_string().starts_with("INFENTRE_TRUSTED_PROXIES is invalid"), "{err}");
    }

    #[test]
    fn networks_match_by_prefix() {
        let proxies = TrustedProxies::parse("172.16.0.0/12, 2001:db8::/32, 0.0.0.0/0").unwrap();
        assert!(proxies.contains(ip("8.8.8.8")), "/0 is everything");
        let narrow = TrustedProxies::parse("172.16.0.0/12, 2001:db8::/32").unwrap();
        assert!(narrow.contains(ip("172.31.255.1")) && !narrow.contains(ip("172.32.0.1")));
        assert!(narrow.contains(ip("2001:db8:ffff::1")) && !narrow.contains(ip("2001:db9::1")));
    }
}
