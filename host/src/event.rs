//! What a host reports: connections coming and going, listen addresses,
//! failures. Any number of subscribers follow them
//! ([`crate::Host::events`]); the stream is lossy (a broadcast), so
//! protocols follow connections with [`crate::Host::lifecycle`] instead.

use std::sync::Arc;

use strata_core::{Endpoint, Multiaddr, PeerId};

use crate::{DialError, Error};

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
    /// The host no longer listens on an address (its listener was
    /// stopped, [`crate::Host::stop_listening`]).
    ListenAddrExpired {
        /// The address.
        addr: Multiaddr,
    },
    /// A peer told us the address it sees us at (identify's
    /// `observedAddr`, reported with [`crate::Host::report_observed_addr`]):
    /// a candidate external address, not a confirmed one. `AutoNAT` tests
    /// such candidates; hole punching offers them.
    AddrObserved {
        /// The peer that observed it.
        peer: PeerId,
        /// The address, as the peer saw it (not translated to our listen
        /// ports).
        addr: Multiaddr,
    },
    /// An address was confirmed as reachable from outside
    /// ([`crate::Host::add_external_addr`]): identify now tells it to peers.
    ExternalAddrConfirmed {
        /// The address.
        addr: Multiaddr,
    },
    /// An external address is no longer confirmed
    /// ([`crate::Host::remove_external_addr`]).
    ExternalAddrExpired {
        /// The address.
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
        /// Why (the same kinds over every transport).
        error: Arc<DialError>,
    },
    /// An inbound connection failed before it was established.
    InboundFailed {
        /// Where it came from.
        remote_addr: Multiaddr,
        /// Why.
        error: Arc<Error>,
    },
}
