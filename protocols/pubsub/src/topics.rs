//! Topic subscriptions, both sides: who here wants which topic (local
//! subscribers, each an async stream of messages) and which topics each
//! connected peer announced (bounded per peer). Plain data, no I/O.
//!
//! Spec: `libp2p-pubsub.md`, "The RPC" (`SubOpts`): a peer announces its
//! subscriptions to every peer it connects to, then each change.

use std::collections::{BTreeSet, HashMap};

use strata_core::PeerId;
use tokio::sync::mpsc;

use crate::{Message, rpc::SubOpts};

/// A local subscription to a topic. Messages arrive with
/// [`Subscription::next`]; a subscriber that falls behind by more than its
/// queue's capacity misses the newest messages (they are dropped for it,
/// not queued without bound). Dropping it unsubscribes (peers are told
/// when the last subscription to a topic goes).
pub struct Subscription {
    topic: String,
    receiver: mpsc::Receiver<Message>,
    on_drop: Option<Box<dyn FnOnce() + Send + Sync>>,
}

impl Subscription {
    /// A subscription to `topic` reading `receiver`; `on_drop` runs when it
    /// is dropped (the router's unsubscribe).
    pub fn new(
        topic: String,
        receiver: mpsc::Receiver<Message>,
        on_drop: impl FnOnce() + Send + Sync + 'static,
    ) -> Self {
        Self { topic, receiver, on_drop: Some(Box::new(on_drop)) }
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The next message; `None` once the router has stopped. Cancel-safe.
    pub async fn next(&mut self) -> Option<Message> {
        self.receiver.recv().await
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(on_drop) = self.on_drop.take() {
            on_drop();
        }
    }
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription").field("topic", &self.topic).finish_non_exhaustive()
    }
}

/// The local subscribers of each topic.
#[derive(Debug, Default)]
pub struct Subscribers {
    topics: HashMap<String, Vec<(u64, mpsc::Sender<Message>)>>,
    next_id: u64,
}

impl Subscribers {
    /// Adds a subscriber to `topic` with a queue of `capacity` messages;
    /// returns its id, its receiver, and whether it is the topic's first.
    pub fn add(&mut self, topic: &str, capacity: usize) -> (u64, mpsc::Receiver<Message>, bool) {
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        let id = self.next_id;
        self.next_id += 1;
        let list = self.topics.entry(topic.to_owned()).or_default();
        list.push((id, sender));
        (id, receiver, list.len() == 1)
    }

    /// Removes subscriber `id` of `topic`; `true` if it was the topic's
    /// last.
    pub fn remove(&mut self, topic: &str, id: u64) -> bool {
        let Some(list) = self.topics.get_mut(topic) else { return false };
        let before = list.len();
        list.retain(|(other, _)| *other != id);
        if list.is_empty() {
            self.topics.remove(topic);
            return before > 0;
        }
        false
    }

    /// Whether anyone here is subscribed to `topic`.
    pub fn contains(&self, topic: &str) -> bool {
        self.topics.contains_key(topic)
    }

    /// The topics someone here is subscribed to, sorted.
    pub fn topics(&self) -> Vec<&str> {
        let mut topics: Vec<&str> = self.topics.keys().map(String::as_str).collect();
        topics.sort_unstable();
        topics
    }

    /// Hands `message` to every local subscriber of its topics, without
    /// waiting: a full subscriber misses it.
    pub fn deliver(&self, message: &Message) {
        for topic in &message.topics {
            for (_, sender) in self.topics.get(topic).into_iter().flatten() {
                if sender.try_send(message.clone()).is_err() {
                    tracing::debug!(%topic, "pubsub: a subscriber is full or gone; message dropped for it");
                }
            }
        }
    }
}

/// One peer's subscription changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicChange {
    /// The topic.
    pub topic: String,
    /// Subscribed (`true`) or unsubscribed.
    pub subscribed: bool,
}

/// A peer announced more topics than allowed; the changes before the one
/// that crossed the limit were applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a peer subscribed to more than {max} topics")]
pub struct TooManyTopics {
    /// The limit.
    pub max: usize,
    /// The changes applied before it was crossed (they hold).
    pub applied: Vec<TopicChange>,
}

/// The topics each connected peer announced.
#[derive(Debug)]
pub struct PeerTopics {
    peers: HashMap<PeerId, BTreeSet<String>>,
    max_per_peer: usize,
}

impl PeerTopics {
    /// An empty table, allowing `max_per_peer` topics per peer.
    pub fn new(max_per_peer: usize) -> Self {
        Self { peers: HashMap::new(), max_per_peer }
    }

    /// A peer connected (with no topics yet).
    pub fn add_peer(&mut self, peer: PeerId) {
        self.peers.entry(peer).or_default();
    }

    /// A peer left: its topics, sorted.
    pub fn remove_peer(&mut self, peer: PeerId) -> Vec<String> {
        self.peers.remove(&peer).map(|topics| topics.into_iter().collect()).unwrap_or_default()
    }

    /// The peers known (connected), in no order.
    pub fn peers(&self) -> impl Iterator<Item = PeerId> + '_ {
        self.peers.keys().copied()
    }

    /// Whether `peer` is known.
    pub fn contains(&self, peer: PeerId) -> bool {
        self.peers.contains_key(&peer)
    }

    /// How many peers are known.
    pub fn len(&self) -> usize {
        self.peers.len()
    }

    /// Whether no peer is known.
    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }

    /// Whether `peer` announced `topic`.
    pub fn is_subscribed(&self, peer: PeerId, topic: &str) -> bool {
        self.peers.get(&peer).is_some_and(|topics| topics.contains(topic))
    }

    /// The peers subscribed to `topic`, sorted.
    pub fn peers_of(&self, topic: &str) -> Vec<PeerId> {
        let mut peers: Vec<PeerId> =
            self.peers.iter().filter(|(_, topics)| topics.contains(topic)).map(|(peer, _)| *peer).collect();
        peers.sort();
        peers
    }

    /// Applies the subscription changes of one RPC from `peer`; returns
    /// the effective changes, in order. Entries without a topic are
    /// skipped; a missing `subscribe` means unsubscribe.
    pub fn apply(&mut self, peer: PeerId, changes: Vec<SubOpts>) -> Result<Vec<TopicChange>, TooManyTopics> {
        let topics = self.peers.entry(peer).or_default();
        let mut applied = Vec::new();
        for change in changes {
            let (Some(topic), subscribed) = (change.topic_id, change.subscribe.unwrap_or(false)) else { continue };
            if subscribed {
                if topics.contains(&topic) {
                    continue;
                }
                if topics.len() >= self.max_per_peer {
                    return Err(TooManyTopics { max: self.max_per_peer, applied });
                }
                topics.insert(topic.clone());
            } else if !topics.remove(&topic) {
                continue;
            }
            applied.push(TopicChange { topic, subscribed });
        }
        Ok(applied)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn sub(topic: &str, subscribe: bool) -> SubOpts {
        SubOpts { subscribe: Some(subscribe), topic_id: Some(topic.into()) }
    }

    #[test]
    fn the_limit_reports_what_was_applied_before_it() {
        let mut table = PeerTopics::new(2);
        let peer = PeerId::random();
        let error = table.apply(peer, vec![sub("a", true), sub("b", true), sub("c", true)]).unwrap_err();
        let applied: Vec<&str> = error.applied.iter().map(|change| change.topic.as_str()).collect();
        assert_eq!(applied, ["a", "b"]);
        assert_eq!(table.peers_of("b"), [peer]);
        assert!(!table.is_subscribed(peer, "c"));
    }

    #[test]
    fn repeats_and_unknown_unsubscribes_change_nothing() {
        let mut table = PeerTopics::new(8);
        let peer = PeerId::random();
        let changes = table.apply(peer, vec![sub("a", true), sub("a", true), sub("b", false)]).unwrap();
        assert_eq!(changes, [TopicChange { topic: "a".into(), subscribed: true }]);
        assert_eq!(table.remove_peer(peer), ["a"]);
        assert!(table.is_empty());
    }

    #[test]
    fn subscribers_know_their_first_and_last() {
        let mut subscribers = Subscribers::default();
        let (one, _r1, first) = subscribers.add("t", 4);
        assert!(first);
        let (two, _r2, first) = subscribers.add("t", 4);
        assert!(!first);
        assert!(!subscribers.remove("t", one));
        assert!(subscribers.remove("t", two));
        assert!(!subscribers.contains("t"));
    }
}

/// The topics someone here is subscribed to, and the peers that were told
/// them: every router announces its subscriptions once to each new peer
/// (however many connections it has) and each change to every peer.
#[derive(Debug, Default)]
pub struct LocalTopics {
    topics: std::collections::BTreeSet<String>,
    announced: std::collections::HashSet<PeerId>,
}

impl LocalTopics {
    /// A peer connected: the RPC announcing our subscriptions, unless it
    /// was told already or there is nothing to tell.
    pub fn greet(&mut self, peer: PeerId) -> Option<Vec<u8>> {
        if !self.announced.insert(peer) || self.topics.is_empty() {
            return None;
        }
        Some(crate::Rpc::subscriptions(self.topics.iter().map(|topic| (topic.as_str(), true))).encode())
    }

    /// A peer left: it will be greeted again if it comes back.
    pub fn forget(&mut self, peer: PeerId) {
        self.announced.remove(&peer);
    }

    /// Subscribes (`true`) or unsubscribes; `false` if nothing changed.
    pub fn set(&mut self, topic: &str, subscribed: bool) -> bool {
        if subscribed { self.topics.insert(topic.to_owned()) } else { self.topics.remove(topic) }
    }

    /// Whether we are subscribed to `topic`.
    pub fn contains(&self, topic: &str) -> bool {
        self.topics.contains(topic)
    }

    /// Our topics, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.topics.iter().map(String::as_str)
    }

    /// How many peers were greeted and not forgotten.
    pub fn greeted(&self) -> usize {
        self.announced.len()
    }
}
