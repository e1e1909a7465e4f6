//! `Transport`: turning a multiaddr into a raw byte stream, and back.
//!
//! The bottom layer of a connection (`libp2p-connections.md`,
//! "Connection establishment"). A transport dials an address and yields a
//! raw, unauthenticated [`ByteStream`]; or it listens on an address and
//! yields the streams of peers that dial in, each with the address the
//! peer is seen from. Security and multiplexing are added above it by the
//! upgrader; a transport knows nothing of them.
//!
//! A host may hold several transports and pick one per address, so each
//! says which addresses it can serve ([`Transport::can_dial`],
//! [`Transport::can_listen`]) and refuses others with an error rather than
//! guessing.

use std::{
    future::Future,
    net::{IpAddr, SocketAddr},
};

use crate::{ByteStream, Multiaddr};

/// Which side of a connection we are: the one that dialed, or the one that
/// accepted. Security and muxer protocols need it to pick their roles (the
/// dialer is the Noise initiator, for example).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// We dialed: the outbound side.
    Dialer,
    /// We accepted: the inbound side.
    Listener,
}

/// A way to reach peers: dials and listens on multiaddrs.
pub trait Transport: Send + Sync + 'static {
    /// The raw stream of one connection.
    type Stream: ByteStream;
    /// A bound listener, accepting inbound connections.
    type Listener: Listener<Stream = Self::Stream, Error = Self::Error>;
    /// What dialing or listening can fail with.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Whether [`dial`](Self::dial) can serve `addr`: without its trailing
    /// `/p2p/<id>`, which is the upgrader's business, except in a relay
    /// circuit address (`…/p2p-circuit/p2p/<id>`), where the id names the
    /// peer the relay must reach and stays on.
    fn can_dial(&self, addr: &Multiaddr) -> bool;

    /// Whether [`listen`](Self::listen) can serve `addr`.
    fn can_listen(&self, addr: &Multiaddr) -> bool;

    /// Opens a connection to `addr`. Implementations bound the wait with a
    /// connect timeout of their own configuration.
    fn dial(&self, addr: &Multiaddr) -> impl Future<Output = Result<Self::Stream, Self::Error>> + Send;

    /// Opens a connection to `addr` from the port this transport listens
    /// on, with no fallback to another port: a hole punch's dial
    /// (`libp2p-relay-DCUtR.md`, "Simultaneous Connect"), where only the
    /// listen port's NAT mapping is the one the peer was told about, and a
    /// dial from elsewhere punches nothing. Default: [`dial`](Self::dial),
    /// for transports that have no port to share.
    fn dial_from_listen_port(
        &self,
        addr: &Multiaddr,
    ) -> impl Future<Output = Result<Self::Stream, Self::Error>> + Send {
        self.dial(addr)
    }

    /// Opens a connection to `addr` from a port of its own, never the
    /// listen port: the retry after two nodes that dialed each other's
    /// listen ports at the same moment met in one TCP connection (a
    /// simultaneous open, in which both are dialers and the handshake
    /// fails). Default: [`dial`](Self::dial), for transports that never
    /// share a port.
    fn dial_from_new_port(&self, addr: &Multiaddr) -> impl Future<Output = Result<Self::Stream, Self::Error>> + Send {
        self.dial(addr)
    }

    /// Binds a listener to `addr` (a port 0 picks a free port).
    fn listen(&self, addr: &Multiaddr) -> impl Future<Output = Result<Self::Listener, Self::Error>> + Send;
}

/// A bound listener of a [`Transport`].
pub trait Listener: Send + 'static {
    /// The raw stream of one accepted connection.
    type Stream: ByteStream;
    /// What accepting can fail with.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The addresses a peer can dial to reach this listener: the real bound
    /// port, and concrete interface addresses in place of a wildcard one.
    fn local_addrs(&self) -> Vec<Multiaddr>;

    /// Waits for the next inbound connection; returns its stream and the
    /// address the remote is seen from. Cancel-safe: dropping the future
    /// loses no connection.
    fn accept(&mut self) -> impl Future<Output = Result<(Self::Stream, Multiaddr), Self::Error>> + Send;
}

/// The socket addresses a peer can reach a socket bound to `bound` on:
/// `bound` itself, or for a wildcard IP (`0.0.0.0`, `::`) every interface
/// address of its family with the bound port (no peer can dial a
/// wildcard), sorted. Link-local IPv6 addresses are left out: dialing one
/// needs a zone. Every transport that binds sockets reports its listen
/// addresses through this, turning each into its own multiaddr shape.
pub fn reachable_socket_addrs(bound: SocketAddr) -> Vec<SocketAddr> {
    reachable_ips(bound.ip()).into_iter().map(|ip| SocketAddr::new(ip, bound.port())).collect()
}

fn reachable_ips(bound: IpAddr) -> Vec<IpAddr> {
    if !bound.is_unspecified() {
        return vec![bound];
    }
    let interfaces = match if_addrs::get_if_addrs() {
        Ok(interfaces) => interfaces,
        Err(error) => {
            tracing::warn!(%error, "cannot list network interfaces; reporting the wildcard address");
            return vec![bound];
        }
    };
    let mut ips: Vec<IpAddr> = interfaces
        .iter()
        .map(if_addrs::Interface::ip)
        .filter(|ip| ip.is_ipv4() == bound.is_ipv4())
        .filter(|ip| !matches!(ip, IpAddr::V6(v6) if v6.is_unicast_link_local()))
        .collect();
    ips.sort();
    ips.dedup();
    ips
}
