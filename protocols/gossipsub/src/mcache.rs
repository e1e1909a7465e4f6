//! The message cache (spec v1.0, "Message Cache"): the messages of the
//! last `mcache_len` heartbeats, to answer IWANT, and the ids of the
//! newest `mcache_gossip` of them, to advertise in IHAVE.
//!
//! ```text
//! windows: [ newest | … | oldest ]   shift() on each heartbeat drops the oldest
//! entries: id → (raw message, topic, IWANT answers per peer)
//! ```

use std::collections::{HashMap, VecDeque};

use strata_core::PeerId;
use strata_pubsub::MessageId;

#[derive(Debug)]
struct Entry {
    raw: Vec<u8>,
    topic: String,
    served: HashMap<PeerId, u32>,
}

/// The cache.
#[derive(Debug)]
pub(crate) struct MessageCache {
    windows: VecDeque<Vec<MessageId>>,
    entries: HashMap<MessageId, Entry>,
    gossip: usize,
}

impl MessageCache {
    pub(crate) fn new(len: usize, gossip: usize) -> Self {
        let mut windows = VecDeque::with_capacity(len);
        windows.resize_with(len.max(1), Vec::new);
        Self { windows, entries: HashMap::new(), gossip }
    }

    /// Adds a message (`raw` as it travels) to the newest window.
    pub(crate) fn put(&mut self, id: MessageId, raw: Vec<u8>, topic: &str) {
        if self.entries.contains_key(&id) {
            return;
        }
        self.entries.insert(id.clone(), Entry { raw, topic: topic.to_owned(), served: HashMap::new() });
        if let Some(newest) = self.windows.front_mut() {
            newest.push(id);
        }
    }

    /// The message for an IWANT from `peer`, unless it has asked for it
    /// `limit` times already (spec v1.1: gossip retransmission).
    pub(crate) fn serve(&mut self, id: &MessageId, peer: PeerId, limit: u32) -> Option<&[u8]> {
        let entry = self.entries.get_mut(id)?;
        let served = entry.served.entry(peer).or_default();
        if *served >= limit {
            return None;
        }
        *served += 1;
        Some(&entry.raw)
    }

    /// Whether the cache holds it.
    #[cfg(test)]
    pub(crate) fn contains(&self, id: &MessageId) -> bool {
        self.entries.contains_key(id)
    }

    /// The ids to advertise for `topic`: those of the newest `gossip`
    /// windows.
    pub(crate) fn gossip_ids(&self, topic: &str) -> Vec<MessageId> {
        self.windows
            .iter()
            .take(self.gossip)
            .flatten()
            .filter(|id| self.entries.get(*id).is_some_and(|entry| entry.topic == topic))
            .cloned()
            .collect()
    }

    /// A heartbeat: the oldest window's messages leave, a new window opens.
    pub(crate) fn shift(&mut self) {
        if let Some(oldest) = self.windows.pop_back() {
            for id in oldest {
                self.entries.remove(&id);
            }
        }
        self.windows.push_front(Vec::new());
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> MessageId {
        MessageId::new(vec![n])
    }

    #[test]
    fn messages_live_len_heartbeats_and_are_gossiped_for_gossip_of_them() {
        let mut cache = MessageCache::new(3, 2);
        cache.put(id(1), vec![1], "t");
        cache.put(id(2), vec![2], "other");
        assert_eq!(cache.gossip_ids("t"), [id(1)]);
        cache.shift();
        assert_eq!(cache.gossip_ids("t"), [id(1)], "second window still gossiped");
        cache.shift();
        assert!(cache.gossip_ids("t").is_empty(), "third window: kept, not gossiped");
        assert!(cache.contains(&id(1)));
        cache.shift();
        assert!(!cache.contains(&id(1)), "gone after three heartbeats");
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn an_iwant_is_answered_at_most_limit_times_per_peer() {
        let mut cache = MessageCache::new(3, 2);
        cache.put(id(1), vec![9], "t");
        let (a, b) = (PeerId::random(), PeerId::random());
        assert_eq!(cache.serve(&id(1), a, 2), Some(&[9_u8][..]));
        assert!(cache.serve(&id(1), a, 2).is_some());
        assert!(cache.serve(&id(1), a, 2).is_none());
        assert!(cache.serve(&id(1), b, 2).is_some());
        assert!(cache.serve(&id(2), b, 2).is_none());
    }
}
