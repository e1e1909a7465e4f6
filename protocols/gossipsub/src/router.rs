//! The gossipsub router: a state machine with no I/O. The shared pubsub
//! service feeds it peers, RPC bytes, local subscriptions, publishes,
//! validation verdicts and heartbeats, with the time; it answers with
//! actions (send, deliver, validate, dial, report). This file holds the
//! state and the reactions to RPCs; `router/path.rs` the message path,
//! `mesh.rs` the mesh rules (GRAFT, PRUNE, backoff, peer exchange),
//! `gossip.rs` IHAVE/IWANT and their promises, `heartbeat.rs` the
//! periodic upkeep.
//!
//! **Each piece of state has one owner.** What the router keeps of a peer
//! is one record ([`Peers`] with a [`PeerState`]), so a disconnect is
//! one removal there; the three other owners that know peers forget it
//! with one call each: the [`Overlay`] (meshes, fanouts and backoffs, by
//! topic), the IWANT [`Promises`] (by message id) and [`PeerScore`]
//! (which keeps a negative score for `retain_score`, as the spec wants).
//!
//! Spec: `libp2p-gossipsub-v1.0.md` "Message Processing", "Control
//! Message Processing", "Topic Membership"; `-v1.1.md` "Peer Scoring",
//! "Flood Publishing", "Extended Validators", "Explicit Peering
//! Agreements"; `-v1.2.md` "IDONTWANT".
//!
//! ```text
//! RPC ─▶ graylisted sender? drop it all
//!     ─▶ subscriptions ─▶ pubsub::Peers (who wants what)
//!     ─▶ messages ─▶ budget ─▶ decode ─▶ seen? (a copy: scored) ─▶ signature (bad: P4)
//!                   ─▶ validator? (Action::Validate … Router::validated) ─▶ accept:
//!                      mcache ─▶ IDONTWANT to the mesh (large ones) ─▶ forward to the
//!                      mesh, direct and floodsub peers ─▶ deliver if subscribed
//!     ─▶ control ─▶ GRAFT / PRUNE (mesh.rs), IHAVE / IWANT / IDONTWANT (gossip.rs)
//! ```

use std::{
    collections::{BTreeSet, HashMap, HashSet},
    time::{Duration, Instant},
};

use strata_core::PeerId;
use strata_pubsub::{
    Action, Event, FromConfig, LocalTopics, MeshRouter, Message, MessageId, PeerConnection, Peers, Rpc, SeenCache,
    ServiceConfig, TopicChange, Verdict, Violation, rpc::SubOpts,
};

use crate::{
    Config,
    control::ControlMessage,
    gossip::Promises,
    mcache::MessageCache,
    outbox::{Outbox, message_rpc},
    overlay::Overlay,
    rng::Rng,
    score::PeerScore,
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

/// What the router keeps of one peer, beside its topics and budget (the
/// rest of its [`strata_pubsub::Peer`] record).
#[derive(Debug, Default)]
pub(crate) struct PeerState {
    /// What it speaks, once it opened a stream to us.
    pub(crate) kind: Option<Kind>,
    /// Whether we dialed it (for `D_out`).
    pub(crate) outbound: bool,
    /// When it last sent us a message (new or a copy): an IWANT promise
    /// made before that is kept.
    pub(crate) last_message: Option<Instant>,
    /// IHAVE entries received this heartbeat.
    pub(crate) ihaves: usize,
    /// Message ids asked for with IWANT this heartbeat.
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
    /// Our topics.
    pub(crate) local: LocalTopics,
    /// One record per peer known (connected, or heard from first).
    pub(crate) peers: Peers<PeerState>,
    /// The direct peers of the config (whether connected or not).
    pub(crate) direct: HashSet<PeerId>,
    pub(crate) overlay: Overlay,
    pub(crate) promises: Promises,
    pub(crate) scores: PeerScore,
    pending: HashMap<MessageId, Pending>,
    pub(crate) seen: SeenCache,
    pub(crate) mcache: MessageCache,
    pub(crate) rng: Rng,
    pub(crate) ticks: u64,
}

impl GossipRouter {
    /// A router with `config`.
    pub fn new(config: Config) -> Self {
        let shared = &config.shared;
        Self {
            local: LocalTopics::default(),
            peers: Peers::new(shared.max_topics_per_peer(), shared.max_messages_per_sec()),
            direct: config.direct_peers.iter().map(|(peer, _)| *peer).collect(),
            overlay: Overlay::default(),
            promises: Promises::default(),
            scores: PeerScore::new(config.scoring.clone(), shared.seen_ttl()),
            pending: HashMap::new(),
            seen: shared.seen_cache(),
            mcache: MessageCache::new(config.mcache_len, config.mcache_gossip),
            rng: Rng::new(config.seed),
            ticks: 0,
            config,
        }
    }

    /// The peers in our mesh of `topic`.
    pub fn mesh_peers(&self, topic: &str) -> Vec<PeerId> {
        self.overlay.mesh_peers(topic)
    }

    /// The score of `peer` (0 with scoring off, or for a direct peer).
    pub fn score(&self, peer: PeerId, now: Instant) -> f64 {
        if self.direct.contains(&peer) { 0.0 } else { self.scores.score(peer, now) }
    }

    /// Sets the application's score of a connected peer (P5); `false` for
    /// a peer not connected or with scoring off.
    pub fn set_application_score(&mut self, peer: PeerId, value: f64) -> bool {
        self.scores.set_application_score(peer, value)
    }

    /// Whether `peer` is connected (known to the router).
    pub(crate) fn is_connected(&self, peer: PeerId) -> bool {
        self.peers.contains(peer)
    }

    /// Whether we dialed `peer`.
    pub(crate) fn is_outbound(&self, peer: PeerId) -> bool {
        self.peers.get(peer).is_some_and(|record| record.data.outbound)
    }

    /// What `peer` speaks; a peer not heard on a stream yet is taken for a
    /// meshsub peer without IDONTWANT.
    pub(crate) fn kind(&self, peer: PeerId) -> Kind {
        self.peers.get(peer).and_then(|record| record.data.kind).unwrap_or(Kind::Meshsub10)
    }

    /// Peers subscribed to `topic` that may join a mesh or get gossip:
    /// meshsub peers that are not direct, sorted (the random choice is the
    /// caller's).
    pub(crate) fn gossip_peers(&self, topic: &str) -> Vec<PeerId> {
        let mut peers: Vec<PeerId> = self
            .peers
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
        let (applied, error) = match self.peers.apply(from, changes) {
            Ok(applied) => (applied, None),
            Err(mut error) => (std::mem::take(&mut error.applied), Some(error)),
        };
        for TopicChange { topic, subscribed } in applied {
            if subscribed {
                actions.push(Action::Report(Event::Subscribed { peer: from, topic }));
            } else {
                if self.overlay.unsubscribed(&topic, from) {
                    self.scores.prune(from, &topic, now);
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
        if self.score(from, now) >= self.scores.thresholds().gossip {
            self.ihave(from, control.ihave, now, out);
            self.iwant(from, control.iwant, out);
        }
        self.idontwant(from, control.idontwant);
    }
}

impl FromConfig for GossipRouter {
    type Config = Config;

    fn from_config(config: Config) -> (Self, ServiceConfig) {
        let service = config.service();
        (Self::new(config), service)
    }
}

impl MeshRouter for GossipRouter {
    fn mesh_peers(&self, topic: &str) -> Vec<PeerId> {
        self.overlay.mesh_peers(topic)
    }

    fn score(&self, peer: PeerId, now: Instant) -> f64 {
        GossipRouter::score(self, peer, now)
    }

    fn set_application_score(&mut self, peer: PeerId, score: f64) -> bool {
        self.scores.set_application_score(peer, score)
    }
}

impl strata_pubsub::Router for GossipRouter {
    fn peer_connected(&mut self, peer: PeerId, connection: &PeerConnection, _now: Instant) -> Vec<Action> {
        if connection.outbound {
            self.peers.entry(peer).data.outbound = true;
        }
        self.scores.add_peer(peer, connection.remote_addr.ip());
        let Some(rpc) = self.peers.greet(peer, &self.local) else { return Vec::new() };
        vec![Action::Send { peer, rpc }]
    }

    /// The peer's record goes, and the other owners forget it.
    fn peer_disconnected(&mut self, peer: PeerId, now: Instant) -> Vec<Action> {
        self.overlay.remove_peer(peer);
        self.promises.forget(peer);
        self.scores.remove_peer(peer, now);
        let topics = self.peers.remove(peer);
        topics.into_iter().map(|topic| Action::Report(Event::Unsubscribed { peer, topic })).collect()
    }

    fn peer_protocol(&mut self, peer: PeerId, protocol: &str) {
        if let Some(kind) = Kind::of(protocol) {
            self.peers.entry(peer).data.kind = Some(kind);
        }
    }

    fn set_local(&mut self, topic: &str, subscribed: bool, now: Instant) -> Vec<Action> {
        let changed = self.local.set(topic, subscribed);
        let mut actions = Vec::new();
        if !changed {
            return actions;
        }
        let mut out = Outbox::default();
        for peer in self.peers.sorted() {
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
        let id = self.config.shared.message_id().id(message);
        self.seen.insert(id.clone(), now);
        self.mcache.put(id, raw.clone(), topic);
        let publish_threshold = self.scores.thresholds().publish;
        let mut targets: BTreeSet<PeerId> = if self.config.flood_publish {
            let peers = self.peers.peers_of(topic);
            peers.into_iter().filter(|peer| self.score(*peer, now) >= publish_threshold).collect()
        } else if let Some(mesh) = self.overlay.mesh(topic) {
            mesh.clone()
        } else if let Some(fanout) = self.overlay.fanout(topic) {
            fanout.clone()
        } else {
            let candidates: Vec<PeerId> = self
                .gossip_peers(topic)
                .into_iter()
                .filter(|peer| self.score(*peer, now) >= publish_threshold)
                .collect();
            let chosen: BTreeSet<PeerId> = self.rng.choose(candidates, self.config.mesh.d).into_iter().collect();
            self.overlay.set_fanout(topic, chosen.clone());
            chosen
        };
        targets.extend(
            self.peers
                .peers_of(topic)
                .into_iter()
                .filter(|peer| self.kind(*peer) == Kind::Floodsub || self.direct.contains(peer)),
        );
        if !self.local.contains(topic) {
            self.overlay.published(topic, now);
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
        if self.score(from, now) < self.scores.thresholds().graylist {
            tracing::trace!(%from, "gossipsub: ignoring an RPC of a graylisted peer");
            return (Vec::new(), None);
        }
        let Ok(rpc) = Rpc::decode(bytes) else { return (Vec::new(), Some(Violation::Malformed)) };
        let mut actions = Vec::new();
        if let Err(violation) = self.subscriptions(from, rpc.subscriptions, now, &mut actions) {
            return (actions, Some(violation));
        }
        if !rpc.publish.is_empty() && !self.peers.spend(from, rpc.publish.len(), now) {
            return (actions, Some(Violation::OverBudget(self.peers.per_sec())));
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
                self.scores.rejected(id);
            }
            Verdict::Ignore => self.scores.ignored(id),
        }
        actions
    }

    fn heartbeat(&mut self, now: Instant) -> Vec<Action> {
        self.heartbeat_at(now)
    }

    fn peers_of(&self, topic: &str) -> Vec<PeerId> {
        self.peers.peers_of(topic)
    }

    fn peer_count(&self) -> usize {
        self.peers.len()
    }
}

/// A backoff a peer asked for, bounded (an hour at most).
pub(crate) fn asked_backoff(secs: Option<u64>, default: Duration) -> Duration {
    secs.map_or(default, Duration::from_secs).min(Duration::from_hours(1))
}

mod path;

#[cfg(test)]
mod tests;
