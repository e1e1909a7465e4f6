//! The gossipsub router: a state machine with no I/O. The shared pubsub
//! service feeds it peers, RPC bytes, local subscriptions, publishes,
//! validation verdicts and heartbeats, with the time; it answers with
//! actions (send, deliver, validate, dial, report). This file holds the
//! state and the reactions to RPCs; `router/path.rs` the message path,
//! `mesh.rs` the mesh (GRAFT, PRUNE, backoff,
//! peer exchange), `gossip.rs` IHAVE/IWANT and their promises,
//! `heartbeat.rs` the periodic upkeep, `score.rs` peer scoring.
//!
//! Spec: `libp2p-gossipsub-v1.0.md` "Message Processing", "Control
//! Message Processing", "Topic Membership"; `-v1.1.md` "Peer Scoring",
//! "Flood Publishing", "Extended Validators", "Explicit Peering
//! Agreements"; `-v1.2.md` "IDONTWANT".
//!
//! ```text
//! RPC ─▶ graylisted sender? drop it all
//!     ─▶ subscriptions ─▶ PeerTopics (who wants what)
//!     ─▶ messages ─▶ budget ─▶ decode ─▶ seen? (a copy: scored) ─▶ signature (bad: P4)
//!                   ─▶ validator? (Action::Validate … Router::validated) ─▶ accept:
//!                      mcache ─▶ IDONTWANT to the mesh (large ones) ─▶ forward to the
//!                      mesh, direct and floodsub peers ─▶ deliver if subscribed
//!     ─▶ control ─▶ GRAFT / PRUNE (mesh.rs), IHAVE / IWANT / IDONTWANT (gossip.rs)
//! ```

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, HashSet},
    time::{Duration, Instant},
};

use strata_core::PeerId;
use strata_pubsub::{
    Action, Budgets, Event, LocalTopics, Message, MessageId, PeerConnection, PeerTopics, Rpc, SeenCache, TooManyTopics,
    TopicChange, Verdict, rpc::SubOpts,
};

use crate::{
    Config,
    control::ControlMessage,
    gossip::Promises,
    mcache::MessageCache,
    outbox::{Outbox, message_rpc},
    rng::Rng,
    score::{PeerScore, Thresholds},
};

/// What a peer speaks, learned from the protocol of its streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    /// `/floodsub/1.0.0`: never in a mesh, sent every message of its topics.
    Floodsub,
    /// `/meshsub/1.0.0`.
    Meshsub10,
    /// `/meshsub/1.1.0`: understands peer exchange and backoff.
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
pub enum Violation {
    /// The RPC or its control part is not a valid protobuf.
    #[error("malformed RPC")]
    Malformed,
    /// More topics than allowed.
    #[error(transparent)]
    TooManyTopics(#[from] TooManyTopics),
    /// More messages a second than allowed.
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

/// A received message waiting for the application's verdict.
#[derive(Debug)]
struct Pending {
    from: PeerId,
    raw: Vec<u8>,
    message: Message,
}

/// The gossipsub router, with no I/O: what [`crate::Gossipsub`] runs on
/// the shared pubsub service, public for simulations and other
/// embeddings (drive it through [`strata_pubsub::Router`]).
#[derive(Debug)]
pub struct GossipRouter {
    pub(crate) config: Config,
    /// Our topics, and the peers told them.
    pub(crate) local: LocalTopics,
    pub(crate) topics: PeerTopics,
    pub(crate) kinds: HashMap<PeerId, Kind>,
    pub(crate) connected: HashSet<PeerId>,
    /// Peers we dialed (for `D_out`).
    pub(crate) outbound: HashSet<PeerId>,
    pub(crate) direct: HashSet<PeerId>,
    /// Our mesh per subscribed topic.
    pub(crate) mesh: BTreeMap<String, BTreeSet<PeerId>>,
    /// Peers we publish to, per topic we publish to without subscribing.
    pub(crate) fanout: BTreeMap<String, BTreeSet<PeerId>>,
    pub(crate) fanout_published: HashMap<String, Instant>,
    /// Until when a (peer, topic) may not be grafted.
    pub(crate) backoff: HashMap<(PeerId, String), Instant>,
    pub(crate) counters: HashMap<PeerId, Counters>,
    pub(crate) promises: Promises,
    pub(crate) score: Option<PeerScore>,
    pub(crate) thresholds: Thresholds,
    pending: HashMap<MessageId, Pending>,
    pub(crate) seen: SeenCache,
    pub(crate) mcache: MessageCache,
    budgets: Budgets,
    pub(crate) rng: Rng,
    pub(crate) ticks: u64,
}

impl GossipRouter {
    /// A router with `config`.
    pub fn new(config: Config) -> Self {
        let (score, thresholds) = match &config.scoring {
            Some((params, thresholds)) => (Some(PeerScore::new(params.clone(), config.seen_ttl)), *thresholds),
            None => (None, Thresholds::default()),
        };
        Self {
            local: LocalTopics::default(),
            topics: PeerTopics::new(config.max_topics_per_peer),
            kinds: HashMap::new(),
            connected: HashSet::new(),
            outbound: HashSet::new(),
            direct: config.direct_peers.iter().map(|(peer, _)| *peer).collect(),
            mesh: BTreeMap::new(),
            fanout: BTreeMap::new(),
            fanout_published: HashMap::new(),
            backoff: HashMap::new(),
            counters: HashMap::new(),
            promises: Promises::default(),
            score,
            thresholds,
            pending: HashMap::new(),
            seen: SeenCache::new(config.seen_ttl, config.seen_capacity, config.seen_max_bytes),
            mcache: MessageCache::new(config.mcache_len, config.mcache_gossip),
            budgets: Budgets::new(config.max_messages_per_sec),
            rng: Rng::new(config.seed),
            ticks: 0,
            config,
        }
    }

    /// The peers in our mesh of `topic`.
    pub fn mesh_peers(&self, topic: &str) -> Vec<PeerId> {
        self.mesh.get(topic).map(|peers| peers.iter().copied().collect()).unwrap_or_default()
    }

    /// The score of `peer` (0 with scoring off, or for a direct peer).
    pub fn score(&self, peer: PeerId, now: Instant) -> f64 {
        match &self.score {
            Some(score) if !self.direct.contains(&peer) => score.score(peer, now),
            _ => 0.0,
        }
    }

    /// Sets the application's score of a connected peer (P5); `false` for
    /// a peer not connected or with scoring off.
    pub fn set_application_score(&mut self, peer: PeerId, value: f64) -> bool {
        self.score.as_mut().is_some_and(|score| score.set_application_score(peer, value))
    }

    /// What `peer` speaks; a peer not heard on a stream yet is taken for a
    /// meshsub peer without IDONTWANT.
    pub(crate) fn kind(&self, peer: PeerId) -> Kind {
        self.kinds.get(&peer).copied().unwrap_or(Kind::Meshsub10)
    }

    /// Peers subscribed to `topic` that may join a mesh or get gossip:
    /// meshsub peers that are not direct, sorted (the random choice is the
    /// caller's).
    pub(crate) fn gossip_peers(&self, topic: &str) -> Vec<PeerId> {
        let mut peers: Vec<PeerId> = self
            .topics
            .peers_of(topic)
            .into_iter()
            .filter(|peer| self.kind(*peer) != Kind::Floodsub && !self.direct.contains(peer))
            .collect();
        peers.sort();
        peers
    }

    fn subscriptions(
        &mut self,
        from: PeerId,
        changes: Vec<SubOpts>,
        now: Instant,
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
                if self.mesh.get_mut(&topic).is_some_and(|mesh| mesh.remove(&from))
                    && let Some(score) = &mut self.score
                {
                    score.prune(from, &topic, now);
                }
                if let Some(fanout) = self.fanout.get_mut(&topic) {
                    fanout.remove(&from);
                }
                actions.push(Action::Report(Event::Unsubscribed { peer: from, topic }));
            }
        }
        error.map_or(Ok(()), |error| Err(error.into()))
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
            self.pruned(from, prune, now, actions);
        }
        // Gossip from a peer under the gossip threshold is ignored (v1.1).
        if self.score(from, now) >= self.thresholds.gossip {
            self.ihave(from, control.ihave, now, out);
            self.iwant(from, control.iwant, out);
        }
        self.idontwant(from, control.idontwant);
    }
}

impl strata_pubsub::Router for GossipRouter {
    type Violation = Violation;

    fn peer_connected(&mut self, peer: PeerId, connection: &PeerConnection, _now: Instant) -> Vec<Action> {
        self.topics.add_peer(peer);
        self.connected.insert(peer);
        if connection.outbound {
            self.outbound.insert(peer);
        }
        if let Some(score) = &mut self.score {
            score.add_peer(peer, connection.remote_addr.ip());
        }
        let Some(rpc) = self.local.greet(peer) else { return Vec::new() };
        vec![Action::Send { peer, rpc }]
    }

    fn peer_disconnected(&mut self, peer: PeerId, now: Instant) -> Vec<Action> {
        self.local.forget(peer);
        self.budgets.remove(peer);
        self.kinds.remove(&peer);
        self.connected.remove(&peer);
        self.outbound.remove(&peer);
        self.counters.remove(&peer);
        self.promises.forget(peer);
        for peers in self.mesh.values_mut().chain(self.fanout.values_mut()) {
            peers.remove(&peer);
        }
        if let Some(score) = &mut self.score {
            score.remove_peer(peer, now);
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
        let publish_threshold = self.thresholds.publish;
        let mut targets: BTreeSet<PeerId> = if self.config.flood_publish {
            let peers = self.topics.peers_of(topic);
            peers.into_iter().filter(|peer| self.score(*peer, now) >= publish_threshold).collect()
        } else if let Some(mesh) = self.mesh.get(topic) {
            mesh.clone()
        } else {
            if !self.fanout.contains_key(topic) {
                let candidates: Vec<PeerId> = self
                    .gossip_peers(topic)
                    .into_iter()
                    .filter(|peer| self.score(*peer, now) >= publish_threshold)
                    .collect();
                let chosen = self.rng.choose(candidates, self.config.mesh.d);
                self.fanout.insert(topic.clone(), chosen.into_iter().collect());
            }
            self.fanout.get(topic).cloned().unwrap_or_default()
        };
        targets.extend(
            self.topics
                .peers_of(topic)
                .into_iter()
                .filter(|peer| self.kind(*peer) == Kind::Floodsub || self.direct.contains(peer)),
        );
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
        if self.score(from, now) < self.thresholds.graylist {
            tracing::trace!(%from, "gossipsub: ignoring an RPC of a graylisted peer");
            return (Vec::new(), None);
        }
        let Ok(rpc) = Rpc::decode(bytes) else { return (Vec::new(), Some(Violation::Malformed)) };
        let mut actions = Vec::new();
        if let Err(violation) = self.subscriptions(from, rpc.subscriptions, now, &mut actions) {
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

    fn validated(&mut self, id: &MessageId, verdict: Verdict, now: Instant) -> Vec<Action> {
        let mut actions = Vec::new();
        let Some(Pending { from, raw, message }) = self.pending.remove(id) else { return actions };
        match verdict {
            Verdict::Accept => {
                let mut out = Outbox::default();
                self.accept(from, id.clone(), raw, message, now, &mut out, &mut actions);
                out.into_actions(&mut actions);
            }
            Verdict::Reject => {
                tracing::debug!(%from, "gossipsub: the application rejected a message");
                if let Some(score) = &mut self.score {
                    score.rejected(id);
                }
            }
            Verdict::Ignore => {
                if let Some(score) = &mut self.score {
                    score.ignored(id);
                }
            }
        }
        actions
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
            .max(self.connected.len())
    }
}

/// A backoff a peer asked for, bounded (an hour at most).
pub(crate) fn asked_backoff(secs: Option<u64>, default: Duration) -> Duration {
    secs.map_or(default, Duration::from_secs).min(Duration::from_hours(1))
}

mod path;

#[cfg(test)]
mod tests;
