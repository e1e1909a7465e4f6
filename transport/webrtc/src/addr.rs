//! Between WebRTC-direct multiaddrs and UDP socket addresses.
//!
//! ```text
//! /ip4/<a>/udp/<p>/webrtc-direct/certhash/<multibase multihash>   dial (the certhash is required)
//! /ip4/<a>/udp/<p>/webrtc-direct                                  listen (our certhash is added)
//! ```
//!
//! (`libp2p-webrtc-direct.md`, "Addressing"; `/ip6` alike.) A trailing
//! `/p2p/<id>` is the host's business and never reaches us.

use std::net::{IpAddr, SocketAddr};

use strata_core::{Multiaddr, multiaddr::Component, transport::reachable_socket_addrs};

use crate::Fingerprint;

/// The socket address and, if present, every certhash of a WebRTC-direct
/// address. `None` if `addr` is not one.
pub(crate) fn parse(addr: &Multiaddr) -> Option<(SocketAddr, Vec<Vec<u8>>)> {
    let mut components = addr.iter();
    let ip: IpAddr = match components.next()? {
        Component::Ip4(ip) => ip.into(),
        Component::Ip6(ip) => ip.into(),
        _ => return None,
    };
    let (Some(Component::Udp(port)), Some(Component::WebrtcDirect)) = (components.next(), components.next()) else {
        return None;
    };
    let mut hashes = Vec::new();
    for component in components {
        match component {
            Component::Certhash(hash) => hashes.push(hash.into_owned()),
            _ => return None,
        }
    }
    Some((SocketAddr::new(ip, port), hashes))
}

/// `/ip4|ip6/<a>/udp/<p>/webrtc-direct/certhash/<fingerprint>`.
pub fn socket_addr_to_multiaddr(socket: SocketAddr, fingerprint: Fingerprint) -> Multiaddr {
    Multiaddr::from_ip(socket.ip())
        .with(Component::Udp(socket.port()))
        .with(Component::WebrtcDirect)
        .with(Component::Certhash(fingerprint.to_multihash().into()))
}

/// The addresses peers can dial to reach a listener bound to `bound`.
pub(crate) fn reachable_addrs(bound: SocketAddr, fingerprint: Fingerprint) -> Vec<Multiaddr> {
    reachable_socket_addrs(bound).into_iter().map(|socket| socket_addr_to_multiaddr(socket, fingerprint)).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn webrtc_direct_addresses_and_nothing_else() {
        let parse_text = |text: &str| parse(&text.parse::<Multiaddr>().unwrap());
        let fingerprint = Fingerprint::from_bytes([9; 32]);
        let socket: SocketAddr = "127.0.0.1:4001".parse().unwrap();
        let full = socket_addr_to_multiaddr(socket, fingerprint);
        assert!(full.to_string().starts_with("/ip4/127.0.0.1/udp/4001/webrtc-direct/certhash/uEiA"), "{full}");
        assert_eq!(parse(&full), Some((socket, vec![fingerprint.to_multihash()])));
        // The text form goes through core's multibase parser.
        assert_eq!(parse_text(&full.to_string()), Some((socket, vec![fingerprint.to_multihash()])));
        assert_eq!(parse_text("/ip6/::1/udp/1/webrtc-direct"), Some(("[::1]:1".parse().unwrap(), vec![])));
        for other in [
            "/ip4/127.0.0.1/udp/4001/quic-v1",
            "/ip4/127.0.0.1/udp/4001/webrtc",
            "/ip4/127.0.0.1/tcp/4001/webrtc-direct",
            "/dns4/example.com/udp/4001/webrtc-direct",
            "/ip4/127.0.0.1/udp/4001/webrtc-direct/ws",
        ] {
            assert_eq!(parse_text(other), None, "{other}");
        }
    }
}
