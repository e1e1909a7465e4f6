//! The seen-cache: which messages were handled already.
//!
//! Floods loop back: the same message arrives from several neighbours. The
//! cache keeps each [`MessageId`] for `ttl`, at most `capacity` of them and
//! at most `max_bytes` of id bytes (the oldest forgotten first), so a
//! message is handled at most once within that window and the cache's
//! memory is bounded whatever ids peers choose. Time comes in as an
//! argument (no clock inside), so the cache is tested with a fake one.

use std::{
    collections::{HashSet, VecDeque},
    time::{Duration, Instant},
};

use crate::MessageId;

/// What each entry costs beyond its id bytes (the set's and the queue's
/// share, roughly), counted against the byte bound.
const ENTRY_OVERHEAD: usize = 64;

/// A bounded, time-limited set of message ids.
#[derive(Debug)]
pub struct SeenCache {
    ids: HashSet<MessageId>,
    order: VecDeque<(Instant, MessageId)>,
    ttl: Duration,
    capacity: usize,
    max_bytes: usize,
    bytes: usize,
}

impl SeenCache {
    /// A cache that remembers ids for `ttl`, at most `capacity` of them
    /// and about `max_bytes` of memory.
    pub fn new(ttl: Duration, capacity: usize, max_bytes: usize) -> Self {
        Self { ids: HashSet::new(), order: VecDeque::new(), ttl, capacity: capacity.max(1), max_bytes, bytes: 0 }
    }

    fn cost(id: &MessageId) -> usize {
        id.as_bytes().len() + ENTRY_OVERHEAD
    }

    /// Records `id`; `true` if it was not seen within the window.
    pub fn insert(&mut self, id: MessageId, now: Instant) -> bool {
        // Forget what is older than the ttl, then check, then make room.
        while self.order.front().is_some_and(|(at, _)| now.saturating_duration_since(*at) >= self.ttl) {
            self.pop_oldest();
        }
        if self.ids.contains(&id) {
            return false;
        }
        let cost = Self::cost(&id);
        while !self.order.is_empty() && (self.order.len() >= self.capacity || self.bytes + cost > self.max_bytes) {
            self.pop_oldest();
        }
        self.bytes += cost;
        self.ids.insert(id.clone());
        self.order.push_back((now, id));
        true
    }

    /// Whether `id` is remembered.
    pub fn contains(&self, id: &MessageId) -> bool {
        self.ids.contains(id)
    }

    /// How many ids are remembered.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The memory the cache accounts for, in bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    fn pop_oldest(&mut self) {
        if let Some((_, old)) = self.order.pop_front() {
            self.bytes -= Self::cost(&old);
            self.ids.remove(&old);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> MessageId {
        MessageId::new(vec![n])
    }

    #[test]
    fn duplicates_within_the_window_are_caught() {
        let mut cache = SeenCache::new(Duration::from_secs(10), 100, 1 << 20);
        let now = Instant::now();
        assert!(cache.insert(id(1), now));
        assert!(!cache.insert(id(1), now + Duration::from_secs(5)));
        assert!(cache.insert(id(1), now + Duration::from_secs(11)), "forgotten after the ttl");
    }

    #[test]
    fn the_oldest_go_first_when_full() {
        let mut cache = SeenCache::new(Duration::from_secs(10), 2, 1 << 20);
        let now = Instant::now();
        assert!(cache.insert(id(1), now));
        assert!(cache.insert(id(2), now));
        assert!(cache.insert(id(3), now));
        assert!(cache.insert(id(1), now), "1 was evicted");
        assert!(!cache.insert(id(3), now));
    }

    #[test]
    fn large_ids_are_bounded_in_bytes() {
        let mut cache = SeenCache::new(Duration::from_secs(10), 100_000, 64 * 1024);
        let now = Instant::now();
        for n in 0..1000u32 {
            let mut bytes = vec![0u8; 16 * 1024];
            bytes[..4].copy_from_slice(&n.to_be_bytes());
            assert!(cache.insert(MessageId::new(bytes), now));
            assert!(cache.bytes() <= 64 * 1024 + 16 * 1024 + ENTRY_OVERHEAD);
        }
        assert!(cache.len() <= 4, "{} entries of 16 KiB in 64 KiB", cache.len());
    }
}
