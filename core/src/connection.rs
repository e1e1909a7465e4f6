//! `ConnectionSource`: the seam between a host and everything below it.
//!
//! A host wants *upgraded* connections: authenticated (the remote's
//! verified [`PeerId`]) and multiplexed (a [`MuxedConnection`]). How they
//! are made is the source's business:
//!
//! ```text
//! TCP:  transport ── multistream "/noise" ── Noise ── multistream "/yamux/1.0.0" ── muxer ─┐
//! QUIC: QUIC + TLS 1.3 (the peer id from the certificate; QUIC's streams are the muxer) ───┴─▶ (PeerId, MuxedConnection)
//! ```
//!
//! The first is the host's `Upgrader` (a transport, security upgrades and
//! muxers, negotiated from ordered lists); the second is a transport crate
//! that implements this trait itself, depending on `core` alone. A host
//! holds several sources and picks one per address.

use std::future::Future;

use crate::{Multiaddr, MuxedConnection, PeerId};

/// The remote of a dial proved another identity than the one dialed (a
/// `/p2p/<id>` address). Every security upgrade and secure transport
/// reports it as this type, as its error's [`source`](std::error::Error::source),
/// so that a host tells it apart the same way over each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("dialed {expected}, but the remote proved to be {actual}")]
pub struct PeerIdMismatch {
    /// The peer id dialed.
    pub expected: PeerId,
    /// The peer id the remote proved.
    pub actual: PeerId,
}

/// Something that dials and accepts upgraded connections.
pub trait ConnectionSource: Send + Sync + 'static {
    /// An established connection.
    type Connection: MuxedConnection;
    /// A bound listener.
    type Listener: ConnectionListener<Connection = Self::Connection, Error = Self::Error>;
    /// What dialing, listening or upgrading can fail with.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Whether [`dial`](Self::dial) can serve `addr`: without its trailing
    /// `/p2p/<id>`, except in a relay circuit address
    /// (`…/p2p-circuit/p2p/<id>`), where it stays on.
    fn can_dial(&self, addr: &Multiaddr) -> bool;

    /// Whether [`listen`](Self::listen) can serve `addr`.
    fn can_listen(&self, addr: &Multiaddr) -> bool;

    /// Connects to `addr` and upgrades the connection. With `expected`, a
    /// remote that proves another identity is an error. Implementations
    /// bound the whole dial with a timeout of their own configuration.
    fn dial(
        &self,
        addr: &Multiaddr,
        expected: Option<PeerId>,
    ) -> impl Future<Output = Result<(PeerId, Self::Connection), Self::Error>> + Send;

    /// Binds a listener to `addr`.
    fn listen(&self, addr: &Multiaddr) -> impl Future<Output = Result<Self::Listener, Self::Error>> + Send;

    /// Opens the way for `addr` to connect to us, for a hole punch
    /// (`libp2p-relay-DCUtR.md`, "Simultaneous Connect"): a QUIC source
    /// sends UDP packets of random bytes to `addr` from its listening
    /// socket, so that our NAT lets the remote's handshake in, while the
    /// remote dials us. Returns once the remote's connection arrived or the
    /// source's own time limit passed; the connection itself comes in
    /// through a listener, as any other. Default: nothing to do (a TCP
    /// hole punch is a dial from both sides, see `Transport::dial_from_listen_port`).
    fn hole_punch(&self, addr: &Multiaddr) -> impl Future<Output = Result<(), Self::Error>> + Send {
        let _ = addr;
        std::future::ready(Ok(()))
    }
}

/// A bound listener of a [`ConnectionSource`].
pub trait ConnectionListener: Send + 'static {
    /// An established connection.
    type Connection: MuxedConnection;
    /// What accepting or upgrading can fail with.
    type Error: std::error::Error + Send + Sync + 'static;
    /// The upgrade of one accepted connection, run apart from the accept
    /// loop so that a slow handshake holds up no other connection.
    type Upgrade: Future<Output = Result<(PeerId, Self::Connection), Self::Error>> + Send + 'static;

    /// The addresses a peer can dial to reach this listener.
    fn local_addrs(&self) -> Vec<Multiaddr>;

    /// Waits for the next inbound connection; returns the address it comes
    /// from and its upgrade, not yet started. Cancel-safe.
    fn accept(&mut self) -> impl Future<Output = Result<(Multiaddr, Self::Upgrade), Self::Error>> + Send;
}
