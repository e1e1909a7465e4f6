//! The gossipsub router: a state machine with no I/O. The shared pubsub
//! service feeds it peers, RPC bytes, local subscriptions, publishes and
//! heartbeats, with the time; it answers with actions (send, deliver,
//! report). This file holds the state and the reactions to what peers
//! send; `heartbeat.rs` the periodic upkeep.
//!
//! Spec: `libp2p-gossipsub-v1.0.md` "Message Processing", "Control
//! Message Processing", "Topic Membership"; `-v1.1.md` "PRUNE Backoff",
//! "Flood Publishing"; `-v1.2.md` "IDONTWANT".
//!
//! ```text
//! RPC ─▶ subscriptions ─▶ PeerTopics (who wants what)
//!     ─▶ messages ─▶ budget ─▶ decode + signature ─▶ seen? ─▶ mcache
//!                   ─▶ IDONTWANT to the mesh (large ones) ─▶ forward to the mesh
//!                      and to floodsub peers ─▶ deliver if subscribed
//!     ─▶ control ─▶ GRAFT / PRUNE (mesh, backoff), IHAVE ─▶ IWANT, IWANT ─▶ messages,
//!                   IDONTWANT ─▶ not sent to that peer
//! ```
//!
//! Peer exchange: the PRUNEs we send offer no peers (we keep no signed
//! peer records yet), and the peers offered to us are not dialed; the
//! spec makes both optional.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, HashSet},
    time::{Duration, Instant},
};

use strata_core::PeerId;
use strata_pubsub::{
    Action, Budgets, Event, LocalTopics, Message, MessageId, PeerTopics, Rpc, SeenCache, TooManyTopics, TopicChange,
    message, rpc::SubOpts,
};

use crate::{
    Config,
    control::{ControlIHave, ControlMessage},
    mcache::MessageCache,
    outbox::{Outbox, message_rpc},
    rng::Rng,
};

/// What a peer speaks, learned from the protocol of its streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    /// `/floodsub/1.0.0`: never in a mesh, sent every message of its topics.
    Floodsub,
    /// `/meshsub/1.0.0`.
    Meshsub10,
    /// `/meshsub/1.1.0`.
    Meshsub11,
    /// `/meshsub/1.2.0`: understands IDONTWANT.
    Meshsub12,
}

impl Kind {
    pub(crate) fn of(protocol: &str) -> Option<Self> {
        match protocol {
            "/floodsub/1.0.0" => Some(Self::Floodsub),
            "/meshsub/1.0.0" => Some(Self::Meshsub10),
            "/meshsub/1.1.0" => Some(Self::Meshsub11),
            "/meshsub/1.2.0" => Some(Self::Meshsub12),
            _ => None,
        }
    }
}

/// A peer broke a rule: it loses the stream it did it on (the actions
/// taken before the breach stand).
#[derive(Debug, thiserror::Error)]
pub(crate) enum Violation {
    #[error("malformed RPC")]
    Malformed,
    #[error(transparent)]
    TooManyTopics(#[from] TooManyTopics),
    #[error("more than its budget of {0} messages a second")]
    OverBudget(u32),
}

/// What one peer did this heartbeat, bounded by the config.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// IHAVE entries received.
    pub(crate) ihaves: usize,
    /// Message ids asked for with IWANT.
    pub(crate) asked: usize,
    /// Ids it said it does not want (IDONTWANT), cleared each heartbeat.
    pub(crate) dont_send: HashSet<MessageId>,
}

#[derive(Debug)]
pub(crate) struct GossipRouter {
    pub(crate) config: Config,
    /// Our topics, and the peers told them.
    pub(crate) local: LocalTopics,
    pub(crate) topics: PeerTopics,
    pub(crate) kinds: HashMap<PeerId, Kind>,
    /// Our mesh per subscribed topic.
    pub(crate) mesh: BTreeMap<String, BTreeSet<PeerId>>,
    /// Peers we publish to, per topic we publish to without subscribing.
    pub(crate) fanout: BTreeMap<String, BTreeSet<PeerId>>,
    pub(crate) fanout_published: HashMap<String, Instant>,
    /// Until when a (peer, topic) may not be grafted.
    pub(crate) backoff: HashMap<(PeerId, String), Instant>,
    pub(crate) counters: HashMap<PeerId, Counters>,
    seen: SeenCache,
    pub(crate) mcache: MessageCache,
    budgets: Budgets,
    pub(crate) rng: Rng,
}

impl GossipRouter {
    pub(crate) fn new(config: Config) -> Self {
        Self {
            local: LocalTopics::default(),
            topics: PeerTopics::new(config.max_topics_per_peer),
            kinds: HashMap::new(),
            mesh: BTreeMap::new(),
            fanout: BTreeMap::new(),
            fanout_published: HashMap::new(),
            backoff: HashMap::new(),
            counters: HashMap::new(),
            seen: SeenCache::new(config.seen_ttl, config.seen_capacity, config.seen_max_bytes),
            mcache: MessageCache::new(config.mcache_len, config.mcache_gossip),
            budgets: Budgets::new(config.max_messages_per_sec),
            rng: Rng::new(config.seed),
            config,
        }
    }

    /// The peers in our mesh of `topic`.
    pub(crate) fn mesh_peers(&self, topic: &str) -> Vec<PeerId> {
        self.mesh.get(topic).map(|peers| peers.iter().copied().collect()).unwrap_or_default()
    }

    /// What `peer` speaks; a peer not heard on a stream yet is taken for a
    /// meshsub peer without IDONTWANT.
    pub(crate) fn kind(&self, peer: PeerId) -> Kind {
        self.kinds.get(&peer).copied().unwrap_or(Kind::Meshsub10)
    }

    /// Peers subscribed to `topic` that may join a mesh or get gossip:
    /// meshsub peers, sorted (the random choice is the caller's).
    pub(crate) fn gossip_peers(&self, topic: &str) -> Vec<PeerId> {
        let mut peers: Vec<PeerId> =
            self.topics.peers_of(topic).into_iter().filter(|peer| self.kind(*peer) != Kind::Floodsub).collect();
        peers.sort();
        peers
    }

    pub(crate) fn in_backoff(&self, peer: PeerId, topic: &str, now: Instant) -> bool {
        self.backoff.get(&(peer, topic.to_owned())).is_some_and(|until| *until > now)
    }

    pub(crate) fn set_backoff(&mut self, peer: PeerId, topic: &str, now: Instant, backoff: Duration) {
        let until = now + backoff;
        let entry = self.backoff.entry((peer, topic.to_owned())).or_insert(until);
        *entry = (*entry).max(until);
    }

    pub(crate) fn backoff_secs(&self) -> u64 {
        self.config.prune_backoff.as_secs()
    }

    /// Joins `topic`: the mesh starts from its fanout, then from other
    /// subscribed peers, up to `D`; each gets a GRAFT.
    fn join(&mut self, topic: &str, now: Instant, out: &mut Outbox, actions: &mut Vec<Action>) {
        let mut mesh: BTreeSet<PeerId> = self.fanout.remove(topic).unwrap_or_default();
        self.fanout_published.remove(topic);
        mesh.retain(|peer| !self.in_backoff(*peer, topic, now));
        let d = self.config.mesh.d;
        if mesh.len() > d {
            let chosen = self.rng.choose(mesh.into_iter().collect(), d);
            mesh = chosen.into_iter().collect();
        }
        let candidates: Vec<PeerId> = self
            .gossip_peers(topic)
            .into_iter()
            .filter(|peer| !mesh.contains(peer) && !self.in_backoff(*peer, topic, now))
            .collect();
        mesh.extend(self.rng.choose(candidates, d - mesh.len()));
        for peer in &mesh {
            out.graft(*peer, topic);
            actions.push(Action::Report(Event::Grafted { peer: *peer, topic: topic.to_owned() }));
        }
        self.mesh.insert(topic.to_owned(), mesh);
    }

    /// Leaves `topic`: every mesh peer gets a PRUNE with our backoff.
    fn leave(&mut self, topic: &str, now: Instant, out: &mut Outbox, actions: &mut Vec<Action>) {
        for peer in self.mesh.remove(topic).unwrap_or_default() {
            out.prune(peer, topic, self.backoff_secs());
            self.set_backoff(peer, topic, now, self.config.prune_backoff);
            actions.push(Action::Report(Event::Pruned { peer, topic: topic.to_owned() }));
        }
    }

    fn subscriptions(
        &mut self,
        from: PeerId,
        changes: Vec<SubOpts>,
        actions: &mut Vec<Action>,
    ) -> Result<(), Violation> {
        let (applied, error) = match self.topics.apply(from, changes) {
            Ok(applied) => (applied, None),
            Err(mut error) => (std::mem::take(&mut error.applied), Some(error)),
        };
        for TopicChange { topic, subscribed } in applied {
            if subscribed {
                actions.push(Action::Report(Event::Subscribed { peer: from, topic }));
            } else {
                for peers in [self.mesh.get_mut(&topic), self.fanout.get_mut(&topic)].into_iter().flatten() {
                    peers.remove(&from);
                }
                actions.push(Action::Report(Event::Unsubscribed { peer: from, topic }));
            }
        }
        error.map_or(Ok(()), |error| Err(error.into()))
    }

    /// One message from `from`: checked, remembered, forwarded, delivered.
    fn message(&mut self, from: PeerId, raw: &[u8], now: Instant, out: &mut Outbox, actions: &mut Vec<Action>) {
        let message = match message::receive(self.config.policy, self.config.max_message_len, raw) {
            Ok(message) => message,
            Err(error) => {
                tracing::debug!(%from, %error, "gossipsub: dropping a message");
                return;
            }
        };
        let id = self.config.message_id.id(&message);
        if !self.seen.insert(id.clone(), now) {
            return;
        }
        let Some(topic) = message.topics.first().cloned() else { return };
        self.mcache.put(id.clone(), raw.to_vec(), &topic);
        let mut skip = vec![from];
        skip.extend(message.source);
        let targets = self.forward_targets(&topic, &skip);
        if raw.len() >= self.config.idontwant_threshold {
            for peer in self.mesh_peers(&topic) {
                if peer != from && self.kind(peer) == Kind::Meshsub12 {
                    out.idontwant(peer, &id);
                }
            }
        }
        let rpc = message_rpc(raw);
        for peer in targets {
            let unwanted = self.counters.get(&peer).is_some_and(|counters| counters.dont_send.contains(&id));
            if !unwanted {
                out.message(peer, rpc.clone());
            }
        }
        if self.local.contains(&topic) {
            actions.push(Action::Deliver(message));
        }
    }

    /// Where a received message goes: our mesh of its topic and the
    /// floodsub peers subscribed to it, minus `skip` (sender, author).
    fn forward_targets(&self, topic: &str, skip: &[PeerId]) -> BTreeSet<PeerId> {
        let mut targets: BTreeSet<PeerId> = self.mesh.get(topic).cloned().unwrap_or_default();
        targets.extend(self.topics.peers_of(topic).into_iter().filter(|peer| self.kind(*peer) == Kind::Floodsub));
        targets.retain(|peer| !skip.contains(peer));
        targets
    }

    /// The control part of an RPC from `from`, each list bounded.
    fn control(
        &mut self,
        from: PeerId,
        control: ControlMessage,
        now: Instant,
        out: &mut Outbox,
        actions: &mut Vec<Action>,
    ) {
        let max = self.config.max_control_items;
        for graft in control.graft.into_iter().take(max) {
            if let Some(topic) = graft.topic_id {
                self.graft(from, &topic, now, out, actions);
            }
        }
        for prune in control.prune.into_iter().take(max) {
            let Some(topic) = prune.topic_id else { continue };
            if self.mesh.get_mut(&topic).is_some_and(|mesh| mesh.remove(&from)) {
                actions.push(Action::Report(Event::Pruned { peer: from, topic: topic.clone() }));
            }
            let backoff = prune.backoff.map_or(self.config.prune_backoff, Duration::from_secs);
            self.set_backoff(from, &topic, now, backoff.min(Duration::from_hours(1)));
        }
        self.ihave(from, control.ihave, out);
        let retransmission = self.config.gossip_retransmission;
        let wanted = control.iwant.into_iter().flat_map(|iwant| iwant.message_ids).take(max);
        for id in wanted {
            if let Some(raw) = self.mcache.serve(&MessageId::new(id), from, retransmission) {
                out.message(from, message_rpc(raw));
            }
        }
        let limit = self.config.max_idontwant_ids;
        let counters = self.counters.entry(from).or_default();
        for id in control.idontwant.into_iter().flat_map(|entry| entry.message_ids) {
            if counters.dont_send.len() >= limit {
                break;
            }
            counters.dont_send.insert(MessageId::new(id));
        }
    }

    /// A GRAFT: accepted into the mesh, or answered with a PRUNE (not
    /// subscribed, floodsub peer, backing off, mesh full).
    fn graft(&mut self, from: PeerId, topic: &str, now: Instant, out: &mut Outbox, actions: &mut Vec<Action>) {
        let Some(mesh) = self.mesh.get(topic) else {
            // Not subscribed: refuse without a backoff of ours.
            out.prune(from, topic, self.backoff_secs());
            return;
        };
        if mesh.contains(&from) {
            return;
        }
        let full = mesh.len() >= self.config.mesh.d_hi;
        if self.kind(from) == Kind::Floodsub || self.in_backoff(from, topic, now) || full {
            out.prune(from, topic, self.backoff_secs());
            self.set_backoff(from, topic, now, self.config.prune_backoff);
            return;
        }
        if let Some(mesh) = self.mesh.get_mut(topic) {
            mesh.insert(from);
        }
        actions.push(Action::Report(Event::Grafted { peer: from, topic: topic.to_owned() }));
    }

    /// IHAVEs: the ids of subscribed topics we have not seen are asked
    /// for, within the per-heartbeat bounds (spec v1.1: `max_ihave_length`,
    /// `max_ihave_messages`).
    fn ihave(&mut self, from: PeerId, ihaves: Vec<ControlIHave>, out: &mut Outbox) {
        let (max_entries, max_ids) = (self.config.max_ihave_messages, self.config.max_ihave_length);
        let counters = self.counters.entry(from).or_default();
        let mut wanted = Vec::new();
        for ihave in ihaves {
            counters.ihaves += 1;
            if counters.ihaves > max_entries {
                break;
            }
            let subscribed = ihave.topic_id.as_ref().is_some_and(|topic| self.mesh.contains_key(topic));
            if !subscribed {
                continue;
            }
            for id in ihave.message_ids {
                if counters.asked >= max_ids {
                    break;
                }
                let id = MessageId::new(id);
                if !self.seen.contains(&id) && !wanted.contains(&id) {
                    counters.asked += 1;
                    wanted.push(id);
                }
            }
        }
        if !wanted.is_empty() {
            out.iwant(from, &wanted);
        }
    }
}

impl strata_pubsub::Router for GossipRouter {
    type Violation = Violation;

    fn peer_connected(&mut self, peer: PeerId, _now: Instant) -> Vec<Action> {
        self.topics.add_peer(peer);
        let Some(rpc) = self.local.greet(peer) else { return Vec::new() };
        vec![Action::Send { peer, rpc }]
    }

    fn peer_disconnected(&mut self, peer: PeerId) -> Vec<Action> {
        self.local.forget(peer);
        self.budgets.remove(peer);
        self.kinds.remove(&peer);
        self.counters.remove(&peer);
        self.backoff.retain(|(backed_off, _), _| *backed_off != peer);
        for peers in self.mesh.values_mut().chain(self.fanout.values_mut()) {
            peers.remove(&peer);
        }
        let topics = self.topics.remove_peer(peer);
        topics.into_iter().map(|topic| Action::Report(Event::Unsubscribed { peer, topic })).collect()
    }

    fn peer_protocol(&mut self, peer: PeerId, protocol: &str) {
        if let Some(kind) = Kind::of(protocol) {
            self.kinds.insert(peer, kind);
        }
    }

    fn set_local(&mut self, topic: &str, subscribed: bool, now: Instant) -> Vec<Action> {
        let changed = self.local.set(topic, subscribed);
        let mut actions = Vec::new();
        if !changed {
            return actions;
        }
        let mut out = Outbox::default();
        let mut peers: Vec<PeerId> = self.topics.peers().collect();
        peers.sort();
        for peer in peers {
            out.subscription(peer, topic, subscribed);
        }
        if subscribed {
            self.join(topic, now, &mut out, &mut actions);
        } else {
            self.leave(topic, now, &mut out, &mut actions);
        }
        out.into_actions(&mut actions);
        actions
    }

    fn publish(&mut self, raw: Vec<u8>, message: &Message, local: PeerId, now: Instant) -> Vec<Action> {
        let mut actions = Vec::new();
        let Some(topic) = message.topics.first() else { return actions };
        let id = self.config.message_id.id(message);
        self.seen.insert(id.clone(), now);
        self.mcache.put(id, raw.clone(), topic);
        let mut targets: BTreeSet<PeerId> = if self.config.flood_publish {
            self.topics.peers_of(topic).into_iter().collect()
        } else if let Some(mesh) = self.mesh.get(topic) {
            mesh.clone()
        } else {
            if !self.fanout.contains_key(topic) {
                let chosen = self.rng.choose(self.gossip_peers(topic), self.config.mesh.d);
                self.fanout.insert(topic.clone(), chosen.into_iter().collect());
            }
            self.fanout.get(topic).cloned().unwrap_or_default()
        };
        targets.extend(self.topics.peers_of(topic).into_iter().filter(|peer| self.kind(*peer) == Kind::Floodsub));
        if !self.local.contains(topic) {
            self.fanout_published.insert(topic.clone(), now);
        }
        targets.remove(&local);
        let mut out = Outbox::default();
        let rpc = message_rpc(&raw);
        for peer in targets {
            out.message(peer, rpc.clone());
        }
        out.into_actions(&mut actions);
        actions
    }

    fn receive(&mut self, from: PeerId, bytes: &[u8], now: Instant) -> (Vec<Action>, Option<Violation>) {
        let Ok(rpc) = Rpc::decode(bytes) else { return (Vec::new(), Some(Violation::Malformed)) };
        let mut actions = Vec::new();
        if let Err(violation) = self.subscriptions(from, rpc.subscriptions, &mut actions) {
            return (actions, Some(violation));
        }
        if !rpc.publish.is_empty() && !self.budgets.spend(from, rpc.publish.len(), now) {
            return (actions, Some(Violation::OverBudget(self.budgets.per_sec())));
        }
        let mut out = Outbox::default();
        for raw in rpc.publish {
            self.message(from, &raw, now, &mut out, &mut actions);
        }
        let mut violation = None;
        if let Some(control) = rpc.control {
            match ControlMessage::decode(&control) {
                Ok(control) => self.control(from, control, now, &mut out, &mut actions),
                Err(_) => violation = Some(Violation::Malformed),
            }
        }
        out.into_actions(&mut actions);
        (actions, violation)
    }

    fn heartbeat(&mut self, now: Instant) -> Vec<Action> {
        self.heartbeat_at(now)
    }

    fn peers_of(&self, topic: &str) -> Vec<PeerId> {
        self.topics.peers_of(topic)
    }

    fn peer_count(&self) -> usize {
        self.topics
            .len()
            .max(self.local.greeted())
            .max(self.budgets.len())
            .max(self.kinds.len())
            .max(self.counters.len())
    }
}

#[cfg(test)]
mod tests;
