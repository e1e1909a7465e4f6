//! The peers discovered, with when each expires: the sans-IO part of the
//! service (announcements and time in, events out).
//!
//! ```text
//! Announcement ─▶ new peer (table not full) ─▶ Discovered
//!              ─▶ known peer: expiry pushed back; new addresses ─▶ Discovered again
//!              ─▶ TTL 0 (a goodbye) ─▶ Expired
//! expire(now) ─▶ peers past their TTL ─▶ Expired
//! ```

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use strata_core::{Multiaddr, PeerId};

use crate::packet::Announcement;

/// What discovery reports.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A peer was found, or announced new addresses.
    Discovered {
        /// The peer.
        peer: PeerId,
        /// All the addresses it announced (without `/p2p/`).
        addrs: Vec<Multiaddr>,
    },
    /// A peer's announcement expired (it stopped answering, or said goodbye).
    Expired {
        /// The peer.
        peer: PeerId,
    },
}

#[derive(Debug)]
struct Entry {
    addrs: Vec<Multiaddr>,
    expires: Instant,
}

/// The discovered peers, bounded.
#[derive(Debug)]
pub(crate) struct Peers {
    entries: HashMap<PeerId, Entry>,
    capacity: usize,
    max_addrs: usize,
}

impl Peers {
    pub(crate) fn new(max_peers: usize, max_addrs: usize) -> Self {
        Self { entries: HashMap::new(), capacity: max_peers, max_addrs }
    }

    /// Takes in an announcement heard at `now`.
    pub(crate) fn observe(&mut self, announcement: Announcement, now: Instant) -> Option<Event> {
        let Announcement { peer, addrs, ttl } = announcement;
        if ttl.is_zero() {
            return self.entries.remove(&peer).map(|_| Event::Expired { peer });
        }
        let expires = now + ttl.min(Duration::from_hours(24));
        if let Some(entry) = self.entries.get_mut(&peer) {
            entry.expires = entry.expires.max(expires);
            let fresh: Vec<Multiaddr> = addrs.into_iter().filter(|addr| !entry.addrs.contains(addr)).collect();
            if fresh.is_empty() {
                return None;
            }
            entry.addrs.extend(fresh);
            let excess = entry.addrs.len().saturating_sub(self.max_addrs);
            entry.addrs.drain(..excess);
            return Some(Event::Discovered { peer, addrs: entry.addrs.clone() });
        }
        if self.entries.len() >= self.capacity || addrs.is_empty() {
            return None;
        }
        let addrs: Vec<Multiaddr> = addrs.into_iter().take(self.max_addrs).collect();
        self.entries.insert(peer, Entry { addrs: addrs.clone(), expires });
        Some(Event::Discovered { peer, addrs })
    }

    /// The peers whose announcements ran out by `now`, forgotten.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<Event> {
        let mut gone: Vec<PeerId> =
            self.entries.iter().filter(|(_, entry)| entry.expires <= now).map(|(peer, _)| *peer).collect();
        gone.sort();
        for peer in &gone {
            self.entries.remove(peer);
        }
        gone.into_iter().map(|peer| Event::Expired { peer }).collect()
    }

    /// When the next announcement runs out.
    pub(crate) fn next_expiry(&self) -> Option<Instant> {
        self.entries.values().map(|entry| entry.expires).min()
    }

    /// The peers known now, with their addresses.
    pub(crate) fn list(&self) -> Vec<(PeerId, Vec<Multiaddr>)> {
        let mut list: Vec<(PeerId, Vec<Multiaddr>)> =
            self.entries.iter().map(|(peer, entry)| (*peer, entry.addrs.clone())).collect();
        list.sort_by_key(|(peer, _)| *peer);
        list
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn announce(peer: PeerId, addr: &str, secs: u64) -> Announcement {
        Announcement { peer, addrs: vec![addr.parse().unwrap()], ttl: Duration::from_secs(secs) }
    }

    #[test]
    fn a_peer_is_discovered_once_refreshed_and_expires_after_its_ttl() {
        let mut peers = Peers::new(10, 4);
        let (peer, now) = (PeerId::random(), Instant::now());
        let first = peers.observe(announce(peer, "/ip4/10.0.0.1/tcp/1", 10), now);
        assert!(matches!(first, Some(Event::Discovered { .. })));
        assert_eq!(peers.observe(announce(peer, "/ip4/10.0.0.1/tcp/1", 10), now + Duration::from_secs(5)), None);
        assert!(peers.expire(now + Duration::from_secs(12)).is_empty(), "refreshed at 5 s: until 15 s");
        assert_eq!(peers.expire(now + Duration::from_secs(15)), [Event::Expired { peer }]);
        assert!(peers.list().is_empty());
    }

    #[test]
    fn new_addresses_are_reported_and_a_goodbye_expires_at_once() {
        let mut peers = Peers::new(10, 2);
        let (peer, now) = (PeerId::random(), Instant::now());
        peers.observe(announce(peer, "/ip4/10.0.0.1/tcp/1", 10), now);
        let Some(Event::Discovered { addrs, .. }) = peers.observe(announce(peer, "/ip4/10.0.0.2/tcp/1", 10), now)
        else {
            panic!("new address")
        };
        assert_eq!(addrs.len(), 2);
        let Some(Event::Discovered { addrs, .. }) = peers.observe(announce(peer, "/ip4/10.0.0.3/tcp/1", 10), now)
        else {
            panic!("new address")
        };
        assert_eq!(addrs.len(), 2, "bounded: the oldest went");
        assert_eq!(peers.observe(announce(peer, "/ip4/10.0.0.3/tcp/1", 0), now), Some(Event::Expired { peer }));
    }

    #[test]
    fn the_table_is_bounded() {
        let mut peers = Peers::new(3, 4);
        let now = Instant::now();
        let found = (0..10)
            .filter(|_| peers.observe(announce(PeerId::random(), "/ip4/10.0.0.1/tcp/1", 10), now).is_some())
            .count();
        assert_eq!(found, 3);
        assert_eq!(peers.list().len(), 3);
    }
}
