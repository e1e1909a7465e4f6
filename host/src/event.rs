//! What a host reports: connections coming and going, listen addresses,
//! failures. Any number of subscribers follow them
//! ([`crate::Host::events`]); the stream is lossy (a broadcast), so
//! protocols follow connections with [`crate::Host::lifecycle`] instead.

use std::sync::Arc;

use strata_core::{Endpoint, Multiaddr, PeerId};

use crate::Error;

/// A host's name for one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub(crate) u64);

/// Something that happened to a host.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Event {
    /// A connection is upgraded and ready for streams.
    ConnectionEstablished {
        /// The authenticated remote.
        peer: PeerId,
        /// The host's name for the connection.
        connection: ConnectionId,
        /// Whether we dialed it or accepted it.
        endpoint: Endpoint,
        /// The remote's address (as dialed, or as seen on accept).
        remote_addr: Multiaddr,
    },
    /// A connection ended, by either side.
    ConnectionClosed {
        /// The remote.
        peer: PeerId,
        /// The host's name for the connection.
        connection: ConnectionId,
        /// Whether we dialed it or accepted it.
        endpoint: Endpoint,
        /// The remote's address.
        remote_addr: Multiaddr,
    },
    /// The host listens on a new address.
    ListenAddr {
        /// The address, dialable by peers.
        addr: Multiaddr,
    },
    /// The set of protocols the host serves changed (a handler was added
    /// or removed): identify pushes it to connected peers.
    ProtocolsChanged,
    /// What the peer store knows a peer serves changed (identify told us
    /// its protocols): read it with [`crate::Host::peer_info`].
    PeerProtocolsChanged {
        /// The peer.
        peer: PeerId,
    },
    /// A dial failed.
    DialFailed {
        /// The address dialed.
        addr: Multiaddr,
        /// Why.
        error: Arc<Error>,
    },
    /// An inbound connection failed before it was established.
    InboundFailed {
        /// Where it came from.
        remote_addr: Multiaddr,
        /// Why.
        error: Arc<Error>,
    },
}
