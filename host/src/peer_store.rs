//! The peer store: what the host has learned of each peer.
//!
//! Addresses (from successful dials and from identify), protocols, agent
//! and protocol versions, public key and last round-trip time. Identify
//! and ping feed it; [`crate::Host::dial_peer`] dials the addresses it
//! holds. Plain data, no I/O: the host keeps it behind a mutex.
//!
//! Bounds: at most `max_peers` entries and `max_addrs` addresses per peer
//! (the newest kept). An entry of a peer that is no longer connected ages
//! out after `ttl`; when the store is full, the disconnected peer seen
//! longest ago goes first, and a connected peer is never evicted.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use strata_core::{Multiaddr, PeerId, PublicKey};

/// What is known of one peer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PeerInfo {
    /// Addresses it can be reached at, newest last.
    pub addrs: Vec<Multiaddr>,
    /// The protocols it serves (from identify).
    pub protocols: Vec<String>,
    /// Its implementation, like `strata/0.1.0` (from identify).
    pub agent_version: Option<String>,
    /// Its protocol family (from identify).
    pub protocol_version: Option<String>,
    /// Its public key (from identify, checked against its peer id).
    pub public_key: Option<PublicKey>,
    /// The last round-trip time measured (by ping).
    pub rtt: Option<Duration>,
}

#[derive(Debug)]
struct Entry {
    info: PeerInfo,
    connections: usize,
    last_seen: Instant,
}

/// The store. See the module documentation.
#[derive(Debug)]
pub(crate) struct PeerStore {
    entries: HashMap<PeerId, Entry>,
    max_peers: usize,
    max_addrs: usize,
    ttl: Duration,
}

impl PeerStore {
    pub(crate) fn new(max_peers: usize, max_addrs: usize, ttl: Duration) -> Self {
        Self { entries: HashMap::new(), max_peers: max_peers.max(1), max_addrs: max_addrs.max(1), ttl }
    }

    pub(crate) fn get(&mut self, peer: PeerId, now: Instant) -> Option<PeerInfo> {
        self.expire(now);
        self.entries.get(&peer).map(|entry| entry.info.clone())
    }

    pub(crate) fn peers(&mut self, now: Instant) -> Vec<PeerId> {
        self.expire(now);
        let mut peers: Vec<PeerId> = self.entries.keys().copied().collect();
        peers.sort();
        peers
    }

    /// Updates (or creates) the entry of `peer`. Returns `false` if the
    /// store is full of connected peers and `peer` is new.
    pub(crate) fn update(&mut self, peer: PeerId, now: Instant, change: impl FnOnce(&mut PeerInfo)) -> bool {
        self.expire(now);
        if !self.entries.contains_key(&peer) && !self.make_room() {
            return false;
        }
        let max_addrs = self.max_addrs;
        let entry = self.entries.entry(peer).or_insert_with(|| Entry {
            info: PeerInfo::default(),
            connections: 0,
            last_seen: now,
        });
        change(&mut entry.info);
        entry.last_seen = now;
        let addrs = &mut entry.info.addrs;
        let mut seen = std::collections::HashSet::new();
        // Keep the last occurrence of each address, then the newest few.
        let mut unique: Vec<Multiaddr> = addrs.drain(..).rev().filter(|a| seen.insert(a.clone())).collect();
        unique.reverse();
        let excess = unique.len().saturating_sub(max_addrs);
        addrs.extend(unique.into_iter().skip(excess));
        true
    }

    pub(crate) fn add_addr(&mut self, peer: PeerId, addr: Multiaddr, now: Instant) {
        self.update(peer, now, |info| info.addrs.push(addr));
    }

    pub(crate) fn connected(&mut self, peer: PeerId, now: Instant) {
        if self.update(peer, now, |_| {})
            && let Some(entry) = self.entries.get_mut(&peer)
        {
            entry.connections += 1;
        }
    }

    pub(crate) fn disconnected(&mut self, peer: PeerId, now: Instant) {
        if let Some(entry) = self.entries.get_mut(&peer) {
            entry.connections = entry.connections.saturating_sub(1);
            entry.last_seen = now;
        }
    }

    fn expire(&mut self, now: Instant) {
        let ttl = self.ttl;
        self.entries.retain(|_, entry| entry.connections > 0 || now.duration_since(entry.last_seen) < ttl);
    }

    /// Frees one place if the store is full; false if every entry is a
    /// connected peer.
    fn make_room(&mut self) -> bool {
        if self.entries.len() < self.max_peers {
            return true;
        }
        let oldest =
            self.entries.iter().filter(|(_, e)| e.connections == 0).min_by_key(|(_, e)| e.last_seen).map(|(p, _)| *p);
        oldest.is_some_and(|peer| self.entries.remove(&peer).is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> Multiaddr {
        format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap()
    }

    #[test]
    fn addresses_are_deduplicated_and_bounded() {
        let mut store = PeerStore::new(10, 3, Duration::from_mins(1));
        let (peer, now) = (PeerId::random(), Instant::now());
        for port in [1, 2, 1, 3, 4] {
            store.add_addr(peer, addr(port), now);
        }
        assert_eq!(store.get(peer, now).unwrap().addrs, [addr(1), addr(3), addr(4)]);
    }

    #[test]
    fn disconnected_peers_age_out_and_connected_ones_stay() {
        let mut store = PeerStore::new(10, 3, Duration::from_mins(1));
        let (a, b, now) = (PeerId::random(), PeerId::random(), Instant::now());
        store.connected(a, now);
        store.connected(b, now);
        store.disconnected(b, now);
        let later = now + Duration::from_secs(61);
        assert!(store.get(a, later).is_some(), "connected: kept");
        assert!(store.get(b, later).is_none(), "disconnected past the ttl: gone");
    }

    #[test]
    fn a_full_store_evicts_the_stalest_disconnected_peer_only() {
        let mut store = PeerStore::new(2, 3, Duration::from_mins(10));
        let now = Instant::now();
        let (a, b, c, d) = (PeerId::random(), PeerId::random(), PeerId::random(), PeerId::random());
        store.connected(a, now);
        store.add_addr(b, addr(1), now);
        store.add_addr(c, addr(2), now + Duration::from_secs(1));
        assert_eq!(store.peers(now + Duration::from_secs(1)).len(), 2);
        assert!(store.get(b, now).is_none(), "b was the stalest disconnected peer");
        store.connected(c, now);
        assert!(!store.update(d, now, |_| {}), "full of connected peers: refused");
    }
}
