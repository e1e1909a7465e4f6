//! The host's peer store, seen from its handle: what is known of peers,
//! how protocols record what they learn, and dialing a peer by what is
//! known of it (see `peer_store.rs` for the store itself).

use std::time::Instant;

use strata_core::{PeerId, multiaddr::Component};

use crate::{Error, Event, Host, PeerInfo, Result};

impl Host {
    /// Connects to `peer` at the addresses the peer store holds for it,
    /// newest first, until one works; a connected peer is returned at once.
    pub async fn dial_peer(&self, peer: PeerId) -> Result<PeerId> {
        if self.is_connected(peer) {
            return Ok(peer);
        }
        let addrs = self.peer_info(peer).map(|info| info.addrs).unwrap_or_default();
        let mut last_error = Error::NotConnected(peer);
        for addr in addrs.into_iter().rev() {
            let Ok(addr) = addr.with_p2p(peer) else { continue };
            match self.dial(addr).await {
                Ok(peer) => return Ok(peer),
                Err(error) => last_error = error,
            }
        }
        Err(last_error)
    }

    /// What the peer store knows of `peer`.
    pub fn peer_info(&self, peer: PeerId) -> Option<PeerInfo> {
        self.inner.peers().get(peer, Instant::now())
    }

    /// The peers the peer store knows.
    pub fn known_peers(&self) -> Vec<PeerId> {
        self.inner.peers().peers(Instant::now())
    }

    /// Records what a protocol learned of `peer` (identify, ping, an
    /// application). Addresses are deduplicated and bounded; `/p2p/`
    /// suffixes are stripped. Returns `false` if the store is full of
    /// connected peers and `peer` is new.
    ///
    /// A change of the peer's protocol list is reported as
    /// [`Event::PeerProtocolsChanged`] (protocols that follow what peers
    /// serve, like Kademlia's routing table, listen for it).
    pub fn update_peer(&self, peer: PeerId, change: impl FnOnce(&mut PeerInfo)) -> bool {
        let mut protocols_changed = false;
        let updated = self.inner.peers().update(peer, Instant::now(), |info| {
            let before = info.protocols.clone();
            change(info);
            protocols_changed = info.protocols != before;
            for addr in &mut info.addrs {
                if matches!(addr.iter().last(), Some(Component::P2p(_))) {
                    *addr = addr.without_peer_id();
                }
            }
        });
        if protocols_changed {
            self.inner.emit(Event::PeerProtocolsChanged { peer });
        }
        updated
    }
}
