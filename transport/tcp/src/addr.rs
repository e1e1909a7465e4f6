//! Between multiaddrs and socket addresses.
//!
//! What the transport serves, by shape (`multiaddr.md`; the component names
//! are those of `multiaddr-protocols.csv`):
//!
//! ```text
//! dial:   /ip4/<a>/tcp/<p>   /ip6/<a>/tcp/<p>   /dns|dns4|dns6/<name>/tcp/<p>
//! listen: /ip4/<a>/tcp/<p>   /ip6/<a>/tcp/<p>
//! ```
//!
//! A listener on an unspecified address (`0.0.0.0`, `::`) is reachable on
//! every interface of its family, so it reports one address per interface
//! rather than the wildcard, which no peer can dial.

use std::{borrow::Cow, net::SocketAddr};

use strata_core::{
    Multiaddr,
    multiaddr::{Component, DnsFamily},
    transport::reachable_socket_addrs,
};

/// Where a dial goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DialTarget<'a> {
    /// A socket address, as is.
    Socket(SocketAddr),
    /// A name to resolve first.
    Dns { name: Cow<'a, str>, port: u16, family: DnsFamily },
}

/// The dial target of `addr`, if it has one of the shapes this transport
/// dials.
pub(crate) fn dial_target(addr: &Multiaddr) -> Option<DialTarget<'_>> {
    let mut components = addr.iter();
    let (host, Some(Component::Tcp(port)), None) = (components.next()?, components.next(), components.next()) else {
        return None;
    };
    Some(match host {
        Component::Ip4(ip) => DialTarget::Socket(SocketAddr::new(ip.into(), port)),
        Component::Ip6(ip) => DialTarget::Socket(SocketAddr::new(ip.into(), port)),
        Component::Dns(name) => DialTarget::Dns { name, port, family: DnsFamily::Any },
        Component::Dns4(name) => DialTarget::Dns { name, port, family: DnsFamily::V4 },
        Component::Dns6(name) => DialTarget::Dns { name, port, family: DnsFamily::V6 },
        _ => return None,
    })
}

/// The socket address to bind for `addr`, if it is `/ip4|ip6/<a>/tcp/<p>`.
pub(crate) fn listen_target(addr: &Multiaddr) -> Option<SocketAddr> {
    match dial_target(addr)? {
        DialTarget::Socket(socket) => Some(socket),
        DialTarget::Dns { .. } => None,
    }
}

/// `/ip4/<a>/tcp/<p>` or `/ip6/<a>/tcp/<p>` for a socket address; an
/// IPv4-mapped IPv6 address (a v4 peer on a dual-stack socket) is written
/// as the IPv4 address it is.
pub fn socket_addr_to_multiaddr(socket: SocketAddr) -> Multiaddr {
    Multiaddr::from_ip(socket.ip()).with(Component::Tcp(socket.port()))
}

/// The addresses peers can dial to reach a listener bound to `bound`.
pub(crate) fn reachable_addrs(bound: SocketAddr) -> Vec<Multiaddr> {
    reachable_socket_addrs(bound).into_iter().map(socket_addr_to_multiaddr).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Multiaddr {
        text.parse().unwrap()
    }

    #[test]
    fn dial_shapes() {
        assert_eq!(dial_target(&parse("/ip4/1.2.3.4/tcp/80")), Some(DialTarget::Socket("1.2.3.4:80".parse().unwrap())));
        assert_eq!(dial_target(&parse("/ip6/::1/tcp/80")), Some(DialTarget::Socket("[::1]:80".parse().unwrap())));
        assert_eq!(
            dial_target(&parse("/dns4/example.com/tcp/443")),
            Some(DialTarget::Dns { name: "example.com".into(), port: 443, family: DnsFamily::V4 })
        );
        for other in
            ["/ip4/1.2.3.4/udp/80", "/ip4/1.2.3.4/tcp/80/ws", "/ip4/1.2.3.4", "/tcp/80", "/dnsaddr/x.io/tcp/1", ""]
        {
            assert_eq!(dial_target(&parse(other)), None, "{other}");
        }
        assert_eq!(listen_target(&parse("/dns/localhost/tcp/1")), None, "names are dialed, not bound");
    }

    #[test]
    fn mapped_addresses_are_written_as_ipv4() {
        let mapped: SocketAddr = "[::ffff:10.1.2.3]:7".parse().unwrap();
        assert_eq!(socket_addr_to_multiaddr(mapped), parse("/ip4/10.1.2.3/tcp/7"));
    }

    /// Computed from the interface list, without binding anything.
    #[test]
    fn wildcard_listeners_report_concrete_addresses() {
        let addrs = reachable_addrs("0.0.0.0:4001".parse().unwrap());
        assert!(addrs.contains(&parse("/ip4/127.0.0.1/tcp/4001")), "{addrs:?}");
        assert!(addrs.iter().all(|a| !a.to_string().starts_with("/ip4/0.0.0.0")));
    }
}
