//! The reliable connection lifecycle: how protocols learn of every
//! connection opening and closing.
//!
//! [`crate::Host::events`] is a broadcast for applications: a slow
//! subscriber misses events (`Lagged`). Protocols keep per-peer state, and a
//! missed `Closed` leaks it for ever, a missed `Established` leaves a peer
//! unannounced; so they subscribe here instead. Each [`Lifecycle`] is a
//! bounded queue that the host **waits on** (back-pressure, never loss):
//!
//! ```text
//! connection added/removed ─▶ (under one ordering lock) ─▶ every Lifecycle queue, in order
//! ```
//!
//! Guarantees, and how they are kept:
//!
//! - **Every event, once.** A subscription starts with the connections
//!   open at that moment (as `Established`), then sees every change after
//!   it: the snapshot and the registration happen under the table's lock,
//!   and each change picks its recipients under the same lock.
//! - **In order, host-wide.** Changes are made and delivered one at a time
//!   (an async ordering lock held from the table change to the last
//!   delivery), so for one peer `first` comes before any later `last`.
//! - **Back-pressure.** A full queue makes the host wait, so new
//!   connections are not registered until every protocol has caught up.
//!   Handle each event promptly (no waiting on the host inside the loop:
//!   spawn such work). A dropped `Lifecycle` is forgotten.

use strata_core::{Endpoint, Multiaddr, PeerId, multiaddr::Component};
use tokio::sync::mpsc;

use crate::ConnectionId;

/// A connection opened or closed, as protocols see it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionEvent {
    /// A connection is established.
    Established {
        /// The authenticated remote.
        peer: PeerId,
        /// The host's name for the connection.
        connection: ConnectionId,
        /// Whether we dialed it or accepted it.
        endpoint: Endpoint,
        /// The remote's address.
        remote_addr: Multiaddr,
        /// Whether it is the peer's only connection (it was not connected).
        first: bool,
    },
    /// A connection closed.
    Closed {
        /// The remote.
        peer: PeerId,
        /// The host's name for the connection.
        connection: ConnectionId,
        /// Whether we dialed it or accepted it.
        endpoint: Endpoint,
        /// The remote's address.
        remote_addr: Multiaddr,
        /// Whether it was the peer's last connection (it is gone now).
        last: bool,
    },
}

impl ConnectionEvent {
    /// The peer it is about.
    pub fn peer(&self) -> PeerId {
        match self {
            Self::Established { peer, .. } | Self::Closed { peer, .. } => *peer,
        }
    }

    /// Whether the connection is limited: relayed through a circuit relay
    /// (see [`is_relayed`]), which caps its duration and the bytes it may
    /// carry. Protocols should avoid bulk transfer over it.
    pub fn is_limited(&self) -> bool {
        match self {
            Self::Established { remote_addr, .. } | Self::Closed { remote_addr, .. } => is_relayed(remote_addr),
        }
    }
}

/// Whether `addr` goes through a circuit relay (it has a `/p2p-circuit`
/// component, `libp2p-relay-circuit-v2.md`): the remote address of a
/// relayed connection, on both sides, is such an address, so this is how
/// the host tells limited connections apart.
pub fn is_relayed(addr: &Multiaddr) -> bool {
    addr.iter().any(|component| matches!(component, Component::P2pCircuit))
}

/// A protocol's subscription to the lifecycle ([`crate::Host::lifecycle`]).
#[derive(Debug)]
pub struct Lifecycle {
    pub(crate) receiver: mpsc::Receiver<ConnectionEvent>,
}

impl Lifecycle {
    /// The next event; `None` once the host has shut down. Cancel-safe.
    pub async fn next(&mut self) -> Option<ConnectionEvent> {
        self.receiver.recv().await
    }
}

/// Delivers `event` to every queue in `hooks`, waiting for room in each.
///
/// Every queue with room gets it first, without yielding: an awaited
/// send may yield (tokio's cooperative budget) even with room, and a
/// protocol told first could then act on the connection (identify asks,
/// the answer comes back and is reported) before the others hear of it.
/// Only full queues are waited for, after.
pub(crate) async fn deliver(hooks: Vec<mpsc::Sender<ConnectionEvent>>, event: &ConnectionEvent) {
    let mut full = Vec::new();
    for hook in hooks {
        match hook.try_send(event.clone()) {
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {} // closed: the Lifecycle was dropped
            Err(mpsc::error::TrySendError::Full(_)) => full.push(hook),
        }
    }
    for hook in full {
        // An error means the Lifecycle was dropped: nothing to tell.
        let _ = hook.send(event.clone()).await;
    }
}
