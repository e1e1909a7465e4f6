//! The seen-cache: which messages were delivered and forwarded already.
//!
//! Floods loop back: the same message arrives from several neighbours. The
//! cache keeps each [`MessageId`] for `ttl` and at most `capacity` of them
//! (the oldest forgotten first), so a message is handled at most once
//! within that window.

use std::{
    collections::{HashSet, VecDeque},
    time::{Duration, Instant},
};

use crate::MessageId;

#[derive(Debug)]
pub(crate) struct SeenCache {
    ids: HashSet<MessageId>,
    order: VecDeque<(Instant, MessageId)>,
    ttl: Duration,
    capacity: usize,
}

impl SeenCache {
    pub(crate) fn new(ttl: Duration, capacity: usize) -> Self {
        Self { ids: HashSet::new(), order: VecDeque::new(), ttl, capacity: capacity.max(1) }
    }

    /// Records `id`; true if it was not seen within the window.
    pub(crate) fn insert(&mut self, id: MessageId, now: Instant) -> bool {
        // Forget what is older than the ttl, then check, then make room.
        while self.order.front().is_some_and(|(at, _)| now.duration_since(*at) >= self.ttl) {
            self.pop_oldest();
        }
        if self.ids.contains(&id) {
            return false;
        }
        while self.order.len() >= self.capacity {
            self.pop_oldest();
        }
        self.ids.insert(id.clone());
        self.order.push_back((now, id));
        true
    }

    fn pop_oldest(&mut self) {
        if let Some((_, old)) = self.order.pop_front() {
            self.ids.remove(&old);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> MessageId {
        crate::message::tests_support::id(n)
    }

    #[test]
    fn duplicates_within_the_window_are_caught() {
        let mut cache = SeenCache::new(Duration::from_secs(10), 100);
        let now = Instant::now();
        assert!(cache.insert(id(1), now));
        assert!(!cache.insert(id(1), now + Duration::from_secs(5)));
        assert!(cache.insert(id(1), now + Duration::from_secs(11)), "forgotten after the ttl");
    }

    #[test]
    fn the_oldest_go_first_when_full() {
        let mut cache = SeenCache::new(Duration::from_secs(10), 2);
        let now = Instant::now();
        assert!(cache.insert(id(1), now));
        assert!(cache.insert(id(2), now));
        assert!(cache.insert(id(3), now));
        assert!(cache.insert(id(1), now), "1 was evicted");
        assert!(!cache.insert(id(3), now));
    }
}
