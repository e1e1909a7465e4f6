//! Topic subscriptions, our side: who here wants which topic (local
//! subscribers, each an async stream of messages) and the topics we
//! announce. What each peer announced is in its record ([`crate::Peers`]).
//! Plain data, no I/O.
//!
//! Spec: `libp2p-pubsub.md`, "The RPC" (`SubOpts`): a peer announces its
//! subscriptions to every peer it connects to, then each change.

use std::collections::{BTreeSet, HashMap};

use tokio::sync::mpsc;

use crate::Message;

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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

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

/// The topics someone here is subscribed to. Every router announces them
/// once to each new peer ([`crate::Peers::greet`]) and each change to
/// every peer.
#[derive(Debug, Default)]
pub struct LocalTopics {
    topics: BTreeSet<String>,
}

impl LocalTopics {
    /// The RPC announcing our subscriptions, if we have any.
    pub fn announcement(&self) -> Option<Vec<u8>> {
        if self.topics.is_empty() {
            return None;
        }
        Some(crate::Rpc::subscriptions(self.topics.iter().map(|topic| (topic.as_str(), true))).encode())
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
}
