//! The routing table (`libp2p-kad-dht.md`, "Kademlia routing table"): 256
//! k-buckets, bucket `i` holding peers whose key is at a distance in
//! `[2^i, 2^(i+1))` from ours. Only server-mode peers enter it.
//!
//! ```text
//! insert(peer) ─▶ its bucket: known ─▶ moved to the most-recent end, addresses updated
//!                             room   ─▶ appended
//!                             full   ─▶ kept as the bucket's pending candidate; the caller
//!                                       checks the least-recently-seen entry and, if it is
//!                                       gone, removes it: the candidate takes its place
//! closest(key, n) ─▶ the n entries nearest to key
//! ```
//!
//! Kademlia's rule: long-lived peers are preferred (they tend to stay),
//! so a full bucket keeps what it has until one of its peers fails.

use strata_core::{Multiaddr, PeerId};

use crate::key::{Distance, Key};

/// A peer in the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The peer.
    pub peer: PeerId,
    /// Its key.
    pub key: Key,
    /// Its addresses.
    pub addrs: Vec<Multiaddr>,
}

/// What inserting a peer did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Insert {
    /// A new entry.
    Added,
    /// It was there: now the most recently seen.
    Updated,
    /// The bucket is full: it waits as the candidate; `oldest` should be
    /// checked (and removed if gone).
    Pending {
        /// The bucket's least-recently-seen peer.
        oldest: PeerId,
    },
    /// Our own id: never inserted.
    Local,
}

#[derive(Clone, Debug, Default)]
struct Bucket {
    /// Least recently seen first.
    entries: Vec<Entry>,
    pending: Option<Entry>,
}

/// The k-buckets around our key.
#[derive(Clone, Debug)]
pub struct RoutingTable {
    local: Key,
    k: usize,
    max_addrs: usize,
    buckets: Vec<Bucket>,
}

impl RoutingTable {
    /// An empty table around `local` with buckets of `k`.
    pub fn new(local: PeerId, k: usize) -> Self {
        Self { local: Key::of_peer(local), k: k.max(1), max_addrs: 8, buckets: vec![Bucket::default(); 256] }
    }

    fn bucket_of(&self, key: &Key) -> Option<usize> {
        self.local.distance(key).bucket()
    }

    /// Inserts (or refreshes) a server-mode peer with its addresses.
    pub fn insert(&mut self, peer: PeerId, addrs: &[Multiaddr]) -> Insert {
        let key = Key::of_peer(peer);
        let Some(index) = self.bucket_of(&key) else { return Insert::Local };
        let (k, max_addrs) = (self.k, self.max_addrs);
        let bucket = &mut self.buckets[index];
        let merge = |entry: &mut Entry| {
            for addr in addrs {
                if !entry.addrs.contains(addr) {
                    entry.addrs.push(addr.clone());
                }
            }
            let excess = entry.addrs.len().saturating_sub(max_addrs);
            entry.addrs.drain(..excess);
        };
        if let Some(position) = bucket.entries.iter().position(|entry| entry.peer == peer) {
            let mut entry = bucket.entries.remove(position);
            merge(&mut entry);
            bucket.entries.push(entry);
            return Insert::Updated;
        }
        let mut entry = Entry { peer, key, addrs: Vec::new() };
        merge(&mut entry);
        if bucket.entries.len() < k {
            bucket.entries.push(entry);
            return Insert::Added;
        }
        let oldest = bucket.entries[0].peer;
        bucket.pending = Some(entry);
        Insert::Pending { oldest }
    }

    /// Removes a peer (it failed, or turned client); a pending candidate
    /// of its bucket takes its place. `true` if it was there.
    pub fn remove(&mut self, peer: PeerId) -> bool {
        let Some(index) = self.bucket_of(&Key::of_peer(peer)) else { return false };
        let bucket = &mut self.buckets[index];
        if bucket.pending.as_ref().is_some_and(|pending| pending.peer == peer) {
            bucket.pending = None;
            return false;
        }
        let Some(position) = bucket.entries.iter().position(|entry| entry.peer == peer) else { return false };
        bucket.entries.remove(position);
        if let Some(pending) = bucket.pending.take() {
            bucket.entries.push(pending);
        }
        true
    }

    /// Whether `peer` is in the table.
    pub fn contains(&self, peer: PeerId) -> bool {
        let key = Key::of_peer(peer);
        self.bucket_of(&key).is_some_and(|index| self.buckets[index].entries.iter().any(|entry| entry.peer == peer))
    }

    /// The `n` entries nearest to `key`, nearest first.
    pub fn closest(&self, key: &Key, n: usize) -> Vec<Entry> {
        let mut all: Vec<(Distance, &Entry)> = self
            .buckets
            .iter()
            .flat_map(|bucket| &bucket.entries)
            .map(|entry| (entry.key.distance(key), entry))
            .collect();
        all.sort_by_key(|(distance, _)| *distance);
        all.into_iter().take(n).map(|(_, entry)| entry.clone()).collect()
    }

    /// How many peers the table holds.
    pub fn len(&self) -> usize {
        self.buckets.iter().map(|bucket| bucket.entries.len()).sum()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The indices of the buckets holding peers.
    pub fn non_empty_buckets(&self) -> Vec<usize> {
        (0..256).filter(|index| !self.buckets[*index].entries.is_empty()).collect()
    }

    /// A random peer id whose key falls in bucket `index` (for a bucket
    /// refresh), found by sampling: sha2-256 peer ids of random digests,
    /// at most 65,536 tries (bucket `i` is hit with probability
    /// `2^(i-256)`, so the nearest buckets are out of reach and skipped).
    pub fn random_peer_in_bucket(&self, index: usize) -> Option<PeerId> {
        let mut bytes = [0u8; 34];
        bytes[0] = 0x12;
        bytes[1] = 32;
        for _ in 0..65_536 {
            strata_core::random::fill(&mut bytes[2..]).ok()?;
            let peer = PeerId::from_bytes(&bytes).ok()?;
            if self.bucket_of(&Key::of_peer(peer)) == Some(index) {
                return Some(peer);
            }
        }
        None
    }

    /// Every entry, for inspection.
    pub fn entries(&self) -> Vec<Entry> {
        self.buckets.iter().flat_map(|bucket| bucket.entries.iter().cloned()).collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn addr(n: u8) -> Multiaddr {
        format!("/ip4/10.0.0.{n}/tcp/1").parse().unwrap()
    }

    #[test]
    fn peers_go_into_their_bucket_and_come_out_nearest_first() {
        let local = PeerId::random();
        let mut table = RoutingTable::new(local, 20);
        assert_eq!(table.insert(local, &[]), Insert::Local);
        let peers: Vec<PeerId> = (0..50).map(|_| PeerId::random()).collect();
        for peer in &peers {
            assert_ne!(table.insert(*peer, &[addr(1)]), Insert::Local);
        }
        let target = Key::new(b"target");
        let closest = table.closest(&target, 10);
        let mut expected: Vec<PeerId> = table.entries().iter().map(|entry| entry.peer).collect();
        expected.sort_by_key(|peer| Key::of_peer(*peer).distance(&target));
        assert_eq!(closest.iter().map(|entry| entry.peer).collect::<Vec<_>>(), expected[..10]);
        assert_eq!(table.insert(peers[0], &[addr(2)]), Insert::Updated);
        assert!(table.entries().iter().any(|entry| entry.peer == peers[0] && entry.addrs.len() == 2));
    }

    #[test]
    fn a_full_bucket_keeps_its_peers_and_a_candidate_replaces_one_that_goes() {
        let local = PeerId::random();
        let mut table = RoutingTable::new(local, 2);
        // About half of all keys fall in bucket 255: fill it.
        let far: Vec<PeerId> = std::iter::repeat_with(|| table.random_peer_in_bucket(255).unwrap()).take(3).collect();
        assert_eq!(table.insert(far[0], &[]), Insert::Added);
        assert_eq!(table.insert(far[1], &[]), Insert::Added);
        assert_eq!(table.insert(far[2], &[]), Insert::Pending { oldest: far[0] });
        assert!(!table.contains(far[2]));
        assert!(table.remove(far[0]));
        assert!(table.contains(far[2]), "the candidate took the free place");
        assert_eq!(table.len(), 2);
        assert_eq!(table.non_empty_buckets(), [255]);
    }
}
