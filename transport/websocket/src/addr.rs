//! Which multiaddrs are WebSocket addresses, and what they say.
//!
//! Spec: `libp2p-websockets.md`, "Addressing". A WebSocket address is a
//! TCP address followed by `/ws` (plain), `/tls/ws` or `/wss` (in TLS), or
//! `/tls/sni/<name>/ws` (in TLS, with the name to send in the TLS
//! handshake when the address names an IP):
//!
//! ```text
//! /ip4/192.0.2.0/tcp/1234/ws                  plain, Host: 192.0.2.0:1234
//! /dns4/example.com/tcp/443/tls/ws            TLS, server name example.com
//! /ip4/192.0.2.0/tcp/443/tls/sni/example.com/ws   TLS to an IP, server name example.com
//! /dns/example.com/wss                        TLS, TCP port 443 (the default)
//! /ip4/192.0.2.0/ws                           plain, TCP port 80 (the default)
//! ```
//!
//! [`split`] takes one apart into the TCP address the inner transport
//! serves and the [`Ws`] part; [`Ws::suffix`] puts the canonical form
//! (`/ws` or `/tls/ws`) back on the inner transport's addresses.

use std::borrow::Cow;

use strata_core::{Multiaddr, multiaddr::Component};

/// The TCP port a `/ws` address without one means (HTTP's).
const DEFAULT_PLAIN_PORT: u16 = 80;
/// The TCP port a `/tls/ws` address without one means (HTTPS').
const DEFAULT_TLS_PORT: u16 = 443;

/// The WebSocket part of an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Ws {
    /// Whether the WebSocket runs inside TLS (`/tls/ws`, `/wss`).
    pub(crate) tls: bool,
    /// The TLS server name: `/sni/<name>`, else the DNS name of the
    /// address, else its IP, written as text.
    pub(crate) server_name: String,
    /// The `Host` header of the HTTP upgrade request (`name:port`,
    /// `[v6]:port`).
    pub(crate) host: String,
}

impl Ws {
    /// What follows the TCP address in the addresses this transport
    /// reports: `/ws`, or `/tls/ws` (the canonical form of `/wss`).
    pub(crate) fn suffix(tls: bool) -> &'static [Component<'static>] {
        if tls { &[Component::Tls, Component::Ws] } else { &[Component::Ws] }
    }
}

/// `tcp` with the WebSocket suffix (`/ws` or `/tls/ws`) appended.
pub(crate) fn with_suffix(tcp: Multiaddr, tls: bool) -> Multiaddr {
    Ws::suffix(tls).iter().cloned().fold(tcp, Multiaddr::with)
}

/// Splits a WebSocket address into the TCP address to dial or bind and
/// its WebSocket part; `None` if `addr` is not one.
pub(crate) fn split(addr: &Multiaddr) -> Option<(Multiaddr, Ws)> {
    let components: Vec<Component<'_>> = addr.iter().collect();
    let (tls, sni, tcp_part) = match components.as_slice() {
        [rest @ .., Component::Wss] | [rest @ .., Component::Tls, Component::Ws] => (true, None, rest),
        [rest @ .., Component::Tls, Component::Sni(name), Component::Ws] => (true, Some(name.clone()), rest),
        [rest @ .., Component::Ws] => (false, None, rest),
        _ => return None,
    };
    let (host, port) = match tcp_part {
        [host] => (host, if tls { DEFAULT_TLS_PORT } else { DEFAULT_PLAIN_PORT }),
        [host, Component::Tcp(port)] => (host, *port),
        _ => return None,
    };
    let name: Cow<'_, str> = match host {
        Component::Ip4(ip) => ip.to_string().into(),
        Component::Ip6(ip) => ip.to_string().into(),
        Component::Dns(name) | Component::Dns4(name) | Component::Dns6(name) => name.clone(),
        _ => return None,
    };
    let host_header = match host {
        Component::Ip6(_) => format!("[{name}]:{port}"),
        _ => format!("{name}:{port}"),
    };
    let tcp = Multiaddr::from(host.clone()).with(Component::Tcp(port));
    let server_name = sni.unwrap_or(name).into_owned();
    Some((tcp, Ws { tls, server_name, host: host_header }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Multiaddr {
        text.parse().unwrap()
    }

    fn ws(tls: bool, server_name: &str, host: &str) -> Ws {
        Ws { tls, server_name: server_name.into(), host: host.into() }
    }

    /// The spec's examples ("Addressing"), less `/http-path` (not in
    /// strata's protocol table).
    #[test]
    fn the_spec_examples() {
        let cases = [
            ("/ip4/192.0.2.0/tcp/1234/ws", "/ip4/192.0.2.0/tcp/1234", ws(false, "192.0.2.0", "192.0.2.0:1234")),
            ("/ip4/192.0.2.0/tcp/1234/tls/ws", "/ip4/192.0.2.0/tcp/1234", ws(true, "192.0.2.0", "192.0.2.0:1234")),
            (
                "/ip4/192.0.2.0/tcp/1234/tls/sni/foo.example.com/ws",
                "/ip4/192.0.2.0/tcp/1234",
                ws(true, "foo.example.com", "192.0.2.0:1234"),
            ),
            ("/ip4/192.0.2.0/ws", "/ip4/192.0.2.0/tcp/80", ws(false, "192.0.2.0", "192.0.2.0:80")),
            ("/ip4/192.0.2.0/tls/ws", "/ip4/192.0.2.0/tcp/443", ws(true, "192.0.2.0", "192.0.2.0:443")),
            ("/ip4/192.0.2.0/wss", "/ip4/192.0.2.0/tcp/443", ws(true, "192.0.2.0", "192.0.2.0:443")),
            ("/dns/example.com/wss", "/dns/example.com/tcp/443", ws(true, "example.com", "example.com:443")),
            ("/ip6/::1/tcp/7/ws", "/ip6/::1/tcp/7", ws(false, "::1", "[::1]:7")),
            ("/dns4/a.io/tcp/8/wss", "/dns4/a.io/tcp/8", ws(true, "a.io", "a.io:8")),
        ];
        for (text, tcp, expected) in cases {
            assert_eq!(split(&parse(text)), Some((parse(tcp), expected)), "{text}");
        }
    }

    #[test]
    fn other_shapes_are_not_websocket() {
        for text in [
            "/ip4/1.2.3.4/tcp/80",
            "/ip4/1.2.3.4/udp/80/ws",
            "/ip4/1.2.3.4/tcp/80/ws/p2p-circuit",
            "/ws",
            "/tcp/80/ws",
            "/dnsaddr/x.io/ws",
            "/ip4/1.2.3.4/tcp/80/sni/x.io/ws",
            "/ip4/1.2.3.4/tcp/80/tls/wss",
            "/ip4/1.2.3.4/udp/1/quic-v1",
        ] {
            assert_eq!(split(&parse(text)), None, "{text}");
        }
    }

    #[test]
    fn suffixes_are_canonical() {
        let tcp = parse("/ip4/127.0.0.1/tcp/5");
        assert_eq!(with_suffix(tcp.clone(), false), parse("/ip4/127.0.0.1/tcp/5/ws"));
        assert_eq!(with_suffix(tcp, true), parse("/ip4/127.0.0.1/tcp/5/tls/ws"));
    }
}
