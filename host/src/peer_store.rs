//! The peer store: what the host has learned of each peer.
//!
//! Addresses (from successful dials and from identify), protocols, agent
//! and protocol versions, public key and last round-trip time. Identify
//! and ping feed it; [`crate::Host::dial_peer`] dials the addresses it
//! holds. Plain data, no I/O: the host keeps it behind a mutex.
//!
//! Bounds: at most `max_peers` entries, `max_addrs` addresses per peer
//! (the newest kept), [`MAX_PROTOCOLS`] protocols per peer, and
//! `max_bytes` in all (what peers tell us about themselves is theirs to
//! choose, so entries alone do not bound it). An entry of a peer that is
//! no longer connected ages out after `ttl`; when the store is full (in
//! entries or bytes), the disconnected peer seen longest ago goes first,
//! and a connected peer is never evicted.

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

/// The most protocols kept per peer (the first ones it named).
pub(crate) const MAX_PROTOCOLS: usize = 256;

#[derive(Debug)]
struct Entry {
    info: PeerInfo,
    connections: usize,
    last_seen: Instant,
    /// What `info` costs, roughly, in bytes.
    bytes: usize,
}

/// The rough size of `info` (what its strings and addresses hold, plus a
/// fixed share for the entry itself).
fn size_of(info: &PeerInfo) -> usize {
    let addrs: usize = info.addrs.iter().map(|addr| addr.to_vec().len() + 24).sum();
    let protocols: usize = info.protocols.iter().map(|protocol| protocol.len() + 24).sum();
    let versions =
        info.agent_version.as_ref().map_or(0, String::len) + info.protocol_version.as_ref().map_or(0, String::len);
    256 + addrs + protocols + versions
}

/// The store. See the module documentation.
#[derive(Debug)]
pub(crate) struct PeerStore {
    entries: HashMap<PeerId, Entry>,
    max_peers: usize,
    max_addrs: usize,
    max_bytes: usize,
    bytes: usize,
    ttl: Duration,
}

impl PeerStore {
    pub(crate) fn new(max_peers: usize, max_addrs: usize, max_bytes: usize, ttl: Duration) -> Self {
        Self {
            entries: HashMap::new(),
            max_peers: max_peers.max(1),
            max_addrs: max_addrs.max(1),
            max_bytes,
            bytes: 0,
            ttl,
        }
    }

    /// The bytes the store accounts for.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
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
            bytes: 0,
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
        entry.info.protocols.truncate(MAX_PROTOCOLS);
        let bytes = size_of(&entry.info);
        self.bytes = self.bytes - entry.bytes + bytes;
        entry.bytes = bytes;
        // Over the byte bound: the stalest disconnected peers go (never
        // this one, which a protocol is updating right now).
        while self.bytes > self.max_bytes {
            let stalest = self
                .entries
                .iter()
                .filter(|(other, e)| e.connections == 0 && **other != peer)
                .min_by_key(|(_, e)| e.last_seen)
                .map(|(other, _)| *other);
            match stalest {
                Some(other) => self.remove(other),
                None => break,
            }
        }
        true
    }

    fn remove(&mut self, peer: PeerId) {
        if let Some(entry) = self.entries.remove(&peer) {
            self.bytes -= entry.bytes;
        }
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
        let mut freed = 0;
        self.entries.retain(|_, entry| {
            let keep = entry.connections > 0 || now.duration_since(entry.last_seen) < ttl;
            if !keep {
                freed += entry.bytes;
            }
            keep
        });
        self.bytes -= freed;
    }

    /// Frees one place if the store is full; false if every entry is a
    /// connected peer.
    fn make_room(&mut self) -> bool {
        if self.entries.len() < self.max_peers {
            return true;
        }
        let oldest =
            self.entries.iter().filter(|(_, e)| e.connections == 0).min_by_key(|(_, e)| e.last_seen).map(|(p, _)| *p);
        let Some(peer) = oldest else { return false };
        self.remove(peer);
        true
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn addr(port: u16) -> Multiaddr {
        format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap()
    }

    #[test]
    fn addresses_are_deduplicated_and_bounded() {
        let mut store = PeerStore::new(10, 3, 1 << 20, Duration::from_mins(1));
        let (peer, now) = (PeerId::random(), Instant::now());
        for port in [1, 2, 1, 3, 4] {
            store.add_addr(peer, addr(port), now);
        }
        assert_eq!(store.get(peer, now).unwrap().addrs, [addr(1), addr(3), addr(4)]);
    }

    #[test]
    fn disconnected_peers_age_out_and_connected_ones_stay() {
        let mut store = PeerStore::new(10, 3, 1 << 20, Duration::from_mins(1));
        let (a, b, now) = (PeerId::random(), PeerId::random(), Instant::now());
        store.connected(a, now);
        store.connected(b, now);
        store.disconnected(b, now);
        let later = now + Duration::from_secs(61);
        assert!(store.get(a, later).is_some(), "connected: kept");
        assert!(store.get(b, later).is_none(), "disconnected past the ttl: gone");
    }

    #[test]
    fn the_store_is_bounded_in_bytes_too() {
        let mut store = PeerStore::new(10_000, 32, 64 * 1024, Duration::from_mins(10));
        let now = Instant::now();
        let connected = PeerId::random();
        store.connected(connected, now);
        for n in 0..1000u64 {
            let peer = PeerId::random();
            let at = now + Duration::from_millis(n);
            store.update(peer, at, |info| {
                info.protocols = (0..1000).map(|p| format!("/protocol/{p}/{}", "x".repeat(100))).collect();
            });
            assert!(store.bytes() <= 64 * 1024 + 256 * 140 + 256, "{} bytes", store.bytes());
            assert!(store.get(peer, at).is_some_and(|info| info.protocols.len() == MAX_PROTOCOLS));
        }
        assert!(store.get(connected, now).is_some(), "a connected peer is never evicted");
    }

    #[test]
    fn a_full_store_evicts_the_stalest_disconnected_peer_only() {
        let mut store = PeerStore::new(2, 3, 1 << 20, Duration::from_mins(10));
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
