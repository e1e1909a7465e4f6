//! `Peers`: one record per peer a router knows, so that a disconnect is
//! one removal. A record holds what every router keeps of a peer (the
//! topics it announced, bounded; its message budget; whether it was told
//! our subscriptions) and, in [`Peer::data`], the router's own facts
//! (gossipsub: what it speaks, whether we dialed it, its gossip counters).
//!
//! Plain data, no I/O. A record is made by the first thing the router
//! learns of a peer (its connection, or an RPC that came before the
//! connection event did) and dropped with [`Peers::remove`].
//!
//! **Budgets** are token buckets: `max_messages_per_sec` a second, bursts
//! of twice as many. Every router spends from a peer's budget before it
//! decodes and checks the signatures of the peer's messages.

use std::{
    collections::{BTreeSet, HashMap},
    time::Instant,
};

use strata_core::PeerId;

use crate::{LocalTopics, TooManyTopics, TopicChange, rpc::SubOpts};

/// What a router keeps of one peer.
#[derive(Debug)]
pub struct Peer<T> {
    topics: BTreeSet<String>,
    greeted: bool,
    /// Message budget: tokens left, and when last refilled.
    tokens: f64,
    refilled: Option<Instant>,
    /// The router's own facts about the peer.
    pub data: T,
}

impl<T: Default> Default for Peer<T> {
    fn default() -> Self {
        Self { topics: BTreeSet::new(), greeted: false, tokens: 0.0, refilled: None, data: T::default() }
    }
}

impl<T> Peer<T> {
    /// The topics it announced, sorted.
    pub fn topics(&self) -> impl Iterator<Item = &str> {
        self.topics.iter().map(String::as_str)
    }

    /// Whether it announced `topic`.
    pub fn is_subscribed(&self, topic: &str) -> bool {
        self.topics.contains(topic)
    }
}

/// The records of every peer a router knows.
#[derive(Debug)]
pub struct Peers<T> {
    records: HashMap<PeerId, Peer<T>>,
    max_topics: usize,
    per_sec: u32,
}

impl<T: Default> Peers<T> {
    /// No peers yet; each may announce `max_topics` topics and send
    /// `per_sec` messages a second (at least one).
    pub fn new(max_topics: usize, per_sec: u32) -> Self {
        Self { records: HashMap::new(), max_topics, per_sec: per_sec.max(1) }
    }

    /// `peer`'s record, made if it has none.
    pub fn entry(&mut self, peer: PeerId) -> &mut Peer<T> {
        self.records.entry(peer).or_default()
    }

    /// `peer`'s record.
    pub fn get(&self, peer: PeerId) -> Option<&Peer<T>> {
        self.records.get(&peer)
    }

    /// `peer`'s record, to change.
    pub fn get_mut(&mut self, peer: PeerId) -> Option<&mut Peer<T>> {
        self.records.get_mut(&peer)
    }

    /// `peer` left: its record goes; the topics it had, sorted.
    pub fn remove(&mut self, peer: PeerId) -> Vec<String> {
        self.records.remove(&peer).map(|record| record.topics.into_iter().collect()).unwrap_or_default()
    }

    /// The peers known, in no order.
    pub fn ids(&self) -> impl Iterator<Item = PeerId> + '_ {
        self.records.keys().copied()
    }

    /// The peers known, sorted.
    pub fn sorted(&self) -> Vec<PeerId> {
        let mut peers: Vec<PeerId> = self.ids().collect();
        peers.sort();
        peers
    }

    /// Every record, to change.
    pub fn records_mut(&mut self) -> impl Iterator<Item = &mut Peer<T>> {
        self.records.values_mut()
    }

    /// Whether `peer` is known.
    pub fn contains(&self, peer: PeerId) -> bool {
        self.records.contains_key(&peer)
    }

    /// How many peers are known.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no peer is known.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Whether `peer` announced `topic`.
    pub fn is_subscribed(&self, peer: PeerId, topic: &str) -> bool {
        self.records.get(&peer).is_some_and(|record| record.is_subscribed(topic))
    }

    /// The peers subscribed to `topic`, sorted.
    pub fn peers_of(&self, topic: &str) -> Vec<PeerId> {
        let mut peers: Vec<PeerId> =
            self.records.iter().filter(|(_, record)| record.is_subscribed(topic)).map(|(peer, _)| *peer).collect();
        peers.sort();
        peers
    }

    /// Applies the subscription changes of one RPC from `peer`; returns
    /// the effective changes, in order. Entries without a topic are
    /// skipped; a missing `subscribe` means unsubscribe. Past the limit,
    /// the changes before it hold and are in the error.
    pub fn apply(&mut self, peer: PeerId, changes: Vec<SubOpts>) -> Result<Vec<TopicChange>, TooManyTopics> {
        let max = self.max_topics;
        let topics = &mut self.entry(peer).topics;
        let mut applied = Vec::new();
        for change in changes {
            let (Some(topic), subscribed) = (change.topic_id, change.subscribe.unwrap_or(false)) else { continue };
            if subscribed {
                if topics.contains(&topic) {
                    continue;
                }
                if topics.len() >= max {
                    return Err(TooManyTopics { max, applied });
                }
                topics.insert(topic.clone());
            } else if !topics.remove(&topic) {
                continue;
            }
            applied.push(TopicChange { topic, subscribed });
        }
        Ok(applied)
    }

    /// The sustained rate of every budget.
    pub fn per_sec(&self) -> u32 {
        self.per_sec
    }

    /// Takes `count` messages from `peer`'s budget; `false` if it has not
    /// that many left (nothing is taken then).
    pub fn spend(&mut self, peer: PeerId, count: usize, now: Instant) -> bool {
        let rate = f64::from(self.per_sec);
        let burst = 2.0 * rate;
        let record = self.entry(peer);
        let elapsed = record.refilled.map_or(burst / rate, |at| now.saturating_duration_since(at).as_secs_f64());
        record.tokens = (record.tokens + elapsed * rate).min(burst);
        record.refilled = Some(now);
        let cost = f64::from(u32::try_from(count).unwrap_or(u32::MAX));
        if record.tokens < cost {
            return false;
        }
        record.tokens -= cost;
        true
    }

    /// The RPC announcing our subscriptions to `peer`, unless it was told
    /// already (it is told once, however many connections it has) or
    /// there is nothing to tell.
    pub fn greet(&mut self, peer: PeerId, local: &LocalTopics) -> Option<Vec<u8>> {
        let record = self.entry(peer);
        if std::mem::replace(&mut record.greeted, true) {
            return None;
        }
        local.announcement()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use super::*;

    fn sub(topic: &str, subscribe: bool) -> SubOpts {
        SubOpts { subscribe: Some(subscribe), topic_id: Some(topic.into()) }
    }

    #[test]
    fn the_limit_reports_what_was_applied_before_it() {
        let mut table = Peers::<()>::new(2, 10);
        let peer = PeerId::random();
        let error = table.apply(peer, vec![sub("a", true), sub("b", true), sub("c", true)]).unwrap_err();
        let applied: Vec<&str> = error.applied.iter().map(|change| change.topic.as_str()).collect();
        assert_eq!(applied, ["a", "b"]);
        assert_eq!(table.peers_of("b"), [peer]);
        assert!(!table.is_subscribed(peer, "c"));
    }

    #[test]
    fn repeats_and_unknown_unsubscribes_change_nothing() {
        let mut table = Peers::<()>::new(8, 10);
        let peer = PeerId::random();
        let changes = table.apply(peer, vec![sub("a", true), sub("a", true), sub("b", false)]).unwrap();
        assert_eq!(changes, [TopicChange { topic: "a".into(), subscribed: true }]);
        assert_eq!(table.remove(peer), ["a"]);
        assert!(table.is_empty());
    }

    #[test]
    fn a_budget_allows_a_burst_of_twice_the_rate_then_refills_with_time() {
        let mut table = Peers::<()>::new(8, 10);
        let (peer, now) = (PeerId::random(), Instant::now());
        assert!(table.spend(peer, 20, now));
        assert!(!table.spend(peer, 1, now), "the burst is spent");
        assert!(!table.spend(peer, 2, now + Duration::from_millis(150)), "1.5 tokens came back");
        assert!(table.spend(peer, 1, now + Duration::from_millis(150)));
        assert!(table.spend(peer, 20, now + Duration::from_mins(1)), "full again, never more than the burst");
        assert!(!table.spend(peer, 1, now + Duration::from_mins(1)));
    }

    #[test]
    fn a_peer_is_greeted_once_and_only_with_something_to_say() {
        let mut table = Peers::<()>::new(8, 10);
        let mut local = LocalTopics::default();
        let (quiet, peer) = (PeerId::random(), PeerId::random());
        assert_eq!(table.greet(quiet, &local), None, "nothing to tell");
        local.set("t", true);
        assert_eq!(table.greet(quiet, &local), None, "told already (of nothing): changes reach it one by one");
        assert!(table.greet(peer, &local).is_some());
        assert_eq!(table.greet(peer, &local), None);
        table.remove(peer);
        assert!(table.greet(peer, &local).is_some(), "a peer that comes back is greeted again");
    }
}
