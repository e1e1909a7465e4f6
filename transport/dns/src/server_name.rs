//! A DNS name that is also a TLS server name stays in the address when
//! the name is resolved.
//!
//! `/dns4/node.example/tcp/443/tls/ws` (or `/wss`) resolves to
//! `/ip4/192.0.2.7/tcp/443/…`, and the name the server's certificate is
//! issued for would be lost with it: TLS would check the certificate
//! against the IP. The spec's `/sni/<name>` (`libp2p-websockets.md`,
//! "Addressing"; `libp2p-tls.md`) says the name explicitly, so the
//! resolver writes it in whenever it replaces a host name in front of a
//! TLS WebSocket address that has none, also for names reached through a
//! `/dnsaddr` link:
//!
//! ```text
//! /dns4/node.example/tcp/443/wss ─▶ /ip4/192.0.2.7/tcp/443/tls/sni/node.example/ws
//! ```

use std::borrow::Cow;

use strata_core::multiaddr::Component;

/// `rest` (what followed the `/dns*` component naming `host`) with
/// `/tls/sni/<host>/ws` in place of a final `/tls/ws` or `/wss` (before a
/// `/p2p/<id>`); unchanged if it is not a TLS WebSocket address or names
/// its server already.
pub(crate) fn keep_server_name<'a>(host: &str, rest: Vec<Component<'a>>) -> Vec<Component<'a>> {
    let end = match rest.last() {
        Some(Component::P2p(_)) => rest.len() - 1,
        _ => rest.len(),
    };
    let at = match &rest[..end] {
        [.., Component::Tls, Component::Ws] => end - 2,
        [.., Component::Wss] => end - 1,
        _ => return rest,
    };
    let mut named: Vec<Component<'a>> = rest[..at].to_vec();
    named.extend([Component::Tls, Component::Sni(Cow::Owned(host.to_owned())), Component::Ws]);
    named.extend(rest[end..].iter().cloned());
    named
}

#[cfg(test)]
mod tests {
    use strata_core::Multiaddr;

    use super::*;

    /// `addr` with its first component (a `/dns*` name) resolved to
    /// `/ip4/192.0.2.7`, as the resolver writes it.
    fn resolved(addr: &str) -> String {
        let addr: Multiaddr = addr.parse().unwrap();
        let components: Vec<Component<'_>> = addr.iter().collect();
        let host = match &components[0] {
            Component::Dns(name) | Component::Dns4(name) | Component::Dns6(name) => name.to_string(),
            other => panic!("not a name: {other:?}"),
        };
        let rest = keep_server_name(&host, components[1..].to_vec());
        let ip: Multiaddr = "/ip4/192.0.2.7".parse().unwrap();
        rest.into_iter().fold(ip, Multiaddr::with).to_string()
    }

    #[test]
    fn a_tls_websocket_name_becomes_its_sni() {
        let id = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";
        for (from, to) in [
            ("/dns4/a.example/tcp/443/wss", "/ip4/192.0.2.7/tcp/443/tls/sni/a.example/ws".to_owned()),
            ("/dns/a.example/tcp/1/tls/ws", "/ip4/192.0.2.7/tcp/1/tls/sni/a.example/ws".to_owned()),
            (
                &format!("/dns4/a.example/tcp/443/wss/p2p/{id}"),
                format!("/ip4/192.0.2.7/tcp/443/tls/sni/a.example/ws/p2p/{id}"),
            ),
        ] {
            assert_eq!(resolved(from), to, "{from}");
        }
    }

    #[test]
    fn other_addresses_keep_their_shape() {
        for (from, to) in [
            ("/dns4/a.example/tcp/80/ws", "/ip4/192.0.2.7/tcp/80/ws"),
            ("/dns4/a.example/tcp/443/tls/sni/b.example/ws", "/ip4/192.0.2.7/tcp/443/tls/sni/b.example/ws"),
            ("/dns4/a.example/tcp/443", "/ip4/192.0.2.7/tcp/443"),
        ] {
            assert_eq!(resolved(from), to, "{from}");
        }
    }
}
