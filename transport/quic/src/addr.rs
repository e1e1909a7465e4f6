//! Between QUIC multiaddrs and UDP socket addresses.
//!
//! ```text
//! /ip4/<a>/udp/<p>/quic-v1   /ip6/<a>/udp/<p>/quic-v1
//! ```
//!
//! (`/quic`, the draft-29 version, is not spoken: rust-, go- and js-libp2p
//! dropped it.) A listener on a wildcard address reports one address per
//! interface of its family.

use std::net::{IpAddr, SocketAddr};

use strata_core::{Multiaddr, multiaddr::Component, transport::reachable_socket_addrs};

/// The socket address of `/ip4|ip6/<a>/udp/<p>/quic-v1`.
pub(crate) fn socket_of(addr: &Multiaddr) -> Option<SocketAddr> {
    let mut components = addr.iter();
    let ip: IpAddr = match components.next()? {
        Component::Ip4(ip) => ip.into(),
        Component::Ip6(ip) => ip.into(),
        _ => return None,
    };
    let (Some(Component::Udp(port)), Some(Component::QuicV1), None) =
        (components.next(), components.next(), components.next())
    else {
        return None;
    };
    Some(SocketAddr::new(ip, port))
}

/// `/ip4|ip6/<a>/udp/<p>/quic-v1` for a socket address (an IPv4-mapped
/// IPv6 address written as the IPv4 address it is).
pub fn socket_addr_to_multiaddr(socket: SocketAddr) -> Multiaddr {
    Multiaddr::from_ip(socket.ip()).with(Component::Udp(socket.port())).with(Component::QuicV1)
}

/// The addresses peers can dial to reach an endpoint bound to `bound`.
pub(crate) fn reachable_addrs(bound: SocketAddr) -> Vec<Multiaddr> {
    reachable_socket_addrs(bound).into_iter().map(socket_addr_to_multiaddr).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn quic_v1_addresses_and_nothing_else() {
        let parse = |text: &str| text.parse::<Multiaddr>().unwrap();
        assert_eq!(socket_of(&parse("/ip4/127.0.0.1/udp/4001/quic-v1")), Some("127.0.0.1:4001".parse().unwrap()));
        assert_eq!(socket_of(&parse("/ip6/::1/udp/4001/quic-v1")), Some("[::1]:4001".parse().unwrap()));
        for other in [
            "/ip4/127.0.0.1/udp/4001/quic",
            "/ip4/127.0.0.1/tcp/4001",
            "/ip4/127.0.0.1/udp/4001",
            "/dns4/example.com/udp/4001/quic-v1",
            "/ip4/127.0.0.1/udp/4001/quic-v1/webtransport",
        ] {
            assert_eq!(socket_of(&parse(other)), None, "{other}");
        }
        let socket: SocketAddr = "127.0.0.1:4001".parse().unwrap();
        assert_eq!(socket_addr_to_multiaddr(socket).to_string(), "/ip4/127.0.0.1/udp/4001/quic-v1");
        assert_eq!(socket_of(&socket_addr_to_multiaddr(socket)), Some(socket));
    }
}
