//! The floodsub router: who wants which topic, and where each message
//! goes. A state machine with no I/O: the service feeds it what happens
//! and carries out the [`Action`]s it returns.
//!
//! Spec: `libp2p-pubsub.md` (floodsub, "simple flooding pubsub"):
//!
//! - On a new connection, each side announces its subscriptions; later
//!   subscribes and unsubscribes are announced to every connected peer.
//! - A message is delivered to local subscribers of any of its topics, and
//!   forwarded, as received, to every peer subscribed to any of its topics,
//!   except the peer it came from and its author.
//! - The seen-cache makes sure this happens at most once per message.

use std::{
    collections::{HashMap, HashSet},
    time::Instant,
};

use strata_core::PeerId;

use crate::{
    Config, Event, Message, MessageId,
    message::{self, MessageError},
    rpc::Rpc,
    seen::SeenCache,
};

/// What the service must do.
#[derive(Debug)]
pub(crate) enum Action {
    /// Send an encoded RPC to a peer.
    Send { peer: PeerId, rpc: Vec<u8> },
    /// Hand a message to the local subscribers of its topics.
    Deliver(Message),
    /// Report to event subscribers.
    Report(Event),
}

/// A peer broke a limit: it loses the stream it did it on.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Violation {
    #[error("malformed RPC")]
    Malformed,
    #[error("subscribed to more than {0} topics")]
    TooManyTopics(usize),
}

#[derive(Debug)]
pub(crate) struct Router {
    config: Config,
    local: HashMap<String, usize>,
    peers: HashMap<PeerId, HashSet<String>>,
    seen: SeenCache,
}

impl Router {
    pub(crate) fn new(config: Config) -> Self {
        let seen = SeenCache::new(config.seen_ttl, config.seen_capacity);
        Self { config, local: HashMap::new(), peers: HashMap::new(), seen }
    }

    fn announce(topic: &str, subscribe: bool) -> Vec<u8> {
        Rpc { subscriptions: vec![Rpc::subscription(topic, subscribe)], publish: Vec::new() }.encode()
    }

    /// A peer connected: tell it our subscriptions.
    pub(crate) fn peer_connected(&mut self, peer: PeerId) -> Vec<Action> {
        self.peers.entry(peer).or_default();
        let mut topics: Vec<&String> = self.local.keys().collect();
        if topics.is_empty() {
            return Vec::new();
        }
        topics.sort();
        let subscriptions = topics.into_iter().map(|topic| Rpc::subscription(topic, true)).collect();
        vec![Action::Send { peer, rpc: Rpc { subscriptions, publish: Vec::new() }.encode() }]
    }

    /// A peer's last connection closed: forget its subscriptions.
    pub(crate) fn peer_disconnected(&mut self, peer: PeerId) -> Vec<Action> {
        let mut topics: Vec<String> = self.peers.remove(&peer).unwrap_or_default().into_iter().collect();
        topics.sort();
        topics.into_iter().map(|topic| Action::Report(Event::Unsubscribed { peer, topic })).collect()
    }

    /// A local subscription to `topic` starts; the first is announced.
    pub(crate) fn subscribe(&mut self, topic: &str) -> Vec<Action> {
        let count = self.local.entry(topic.to_owned()).or_default();
        *count += 1;
        if *count > 1 {
            return Vec::new();
        }
        self.peers.keys().map(|peer| Action::Send { peer: *peer, rpc: Self::announce(topic, true) }).collect()
    }

    /// A local subscription to `topic` ends; the last is announced.
    pub(crate) fn unsubscribe(&mut self, topic: &str) -> Vec<Action> {
        match self.local.get_mut(topic) {
            Some(count) if *count > 1 => {
                *count -= 1;
                Vec::new()
            }
            Some(_) => {
                self.local.remove(topic);
                self.peers.keys().map(|peer| Action::Send { peer: *peer, rpc: Self::announce(topic, false) }).collect()
            }
            None => Vec::new(),
        }
    }

    /// The peers subscribed to `topic`.
    pub(crate) fn peers_of(&self, topic: &str) -> Vec<PeerId> {
        let mut peers: Vec<PeerId> =
            self.peers.iter().filter(|(_, topics)| topics.contains(topic)).map(|(peer, _)| *peer).collect();
        peers.sort();
        peers
    }

    /// Sends a message to every peer subscribed to any of `topics`, except
    /// `skip`.
    fn flood(&self, raw: Vec<u8>, topics: &[String], skip: &[PeerId]) -> Vec<Action> {
        let rpc = Rpc { subscriptions: Vec::new(), publish: vec![raw] }.encode();
        let mut targets: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(peer, wanted)| !skip.contains(peer) && topics.iter().any(|topic| wanted.contains(topic)))
            .map(|(peer, _)| *peer)
            .collect();
        targets.sort();
        targets.into_iter().map(|peer| Action::Send { peer, rpc: rpc.clone() }).collect()
    }

    /// A message we publish.
    pub(crate) fn publish(
        &mut self,
        raw: Vec<u8>,
        id: MessageId,
        topic: &str,
        local: PeerId,
        now: Instant,
    ) -> Vec<Action> {
        self.seen.insert(id, now);
        self.flood(raw, &[topic.to_owned()], &[local])
    }

    /// An RPC from `from`.
    pub(crate) fn receive(&mut self, from: PeerId, bytes: &[u8], now: Instant) -> Result<Vec<Action>, Violation> {
        let rpc = Rpc::decode(bytes).map_err(|_| Violation::Malformed)?;
        let mut actions = Vec::new();
        for sub in rpc.subscriptions {
            let (Some(topic), subscribe) = (sub.topic_id, sub.subscribe.unwrap_or(false)) else { continue };
            let topics = self.peers.entry(from).or_default();
            if subscribe {
                if !topics.contains(&topic) && topics.len() >= self.config.max_topics_per_peer {
                    return Err(Violation::TooManyTopics(self.config.max_topics_per_peer));
                }
                if topics.insert(topic.clone()) {
                    actions.push(Action::Report(Event::Subscribed { peer: from, topic }));
                }
            } else if topics.remove(&topic) {
                actions.push(Action::Report(Event::Unsubscribed { peer: from, topic }));
            }
        }
        for raw in rpc.publish {
            if raw.len() > self.config.max_message_len + 1024 {
                tracing::debug!(%from, len = raw.len(), "floodsub: dropping an oversized message");
                continue;
            }
            match message::receive(self.config.policy, &raw) {
                Ok((message, id)) => {
                    if message.data.len() > self.config.max_message_len || !self.seen.insert(id, now) {
                        continue;
                    }
                    let mut skip = vec![from];
                    skip.extend(message.source);
                    actions.extend(self.flood(raw, &message.topics, &skip));
                    if message.topics.iter().any(|topic| self.local.contains_key(topic)) {
                        actions.push(Action::Deliver(message));
                    }
                }
                Err(error) => Self::dropped(from, &error),
            }
        }
        Ok(actions)
    }

    fn dropped(from: PeerId, error: &MessageError) {
        tracing::debug!(%from, %error, "floodsub: dropping a message");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arbitrary_rpcs_never_panic() {
        let mut router = Router::new(Config::default().with_max_topics_per_peer(8));
        let (peer, now) = (PeerId::random(), Instant::now());
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for len in 0..3000 {
            let bytes: Vec<u8> = (0..len % 300)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state.to_le_bytes()[0]
                })
                .collect();
            let _ = router.receive(peer, &bytes, now);
        }
    }
}
