//! `gossipsub::Config`: the spec's parameters (`libp2p-gossipsub-v1.0.md`
//! "Parameters", `-v1.1.md` "Overview of New Parameters", `-v1.2.md`) with
//! their defaults, and the limits a hostile peer meets, on top of the
//! configuration every pubsub router shares ([`strata_pubsub::Config`]:
//! signature policy, message ids, sizes, budgets, queues).

use std::time::Duration;

use strata_core::{Multiaddr, PeerId};
use strata_pubsub::{ServiceConfig, Validator};

use crate::{
    PROTOCOLS,
    score::{InvalidParams, ScoreParams, Thresholds},
};

/// Configuration of [`crate::Gossipsub`]: the shared pubsub
/// configuration (`Config::from(pubsub::Config::default()…)` to change
/// it) and gossipsub's own parameters.
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) shared: strata_pubsub::Config,
    pub(crate) mesh: MeshParams,
    pub(crate) heartbeat: Duration,
    pub(crate) fanout_ttl: Duration,
    pub(crate) mcache_len: usize,
    pub(crate) mcache_gossip: usize,
    pub(crate) prune_backoff: Duration,
    pub(crate) flood_publish: bool,
    pub(crate) max_ihave_length: usize,
    pub(crate) max_ihave_messages: usize,
    pub(crate) gossip_retransmission: u32,
    pub(crate) idontwant_threshold: usize,
    pub(crate) max_idontwant_ids: usize,
    pub(crate) max_control_items: usize,
    pub(crate) seed: Option<u64>,
    pub(crate) scoring: Option<(ScoreParams, Thresholds)>,
    pub(crate) validator: Option<Validator>,
    pub(crate) direct_peers: Vec<(PeerId, Vec<Multiaddr>)>,
    pub(crate) direct_connect_ticks: u64,
    pub(crate) peer_exchange: bool,
    pub(crate) prune_peers: usize,
    pub(crate) iwant_followup: Duration,
    pub(crate) opportunistic_graft_ticks: u64,
    pub(crate) opportunistic_graft_peers: usize,
    pub(crate) max_pending_validations: usize,
}

/// The mesh degree parameters: `D` and its bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MeshParams {
    /// `D`: the mesh size aimed at.
    pub d: usize,
    /// `D_lo`: below it the heartbeat grafts up to `D`.
    pub d_lo: usize,
    /// `D_hi`: above it the heartbeat prunes down to `D`.
    pub d_hi: usize,
    /// `D_lazy`: how many peers outside the mesh get gossip (at least).
    pub d_lazy: usize,
    /// `D_score`: how many of the best-scoring peers a pruned-down mesh keeps.
    pub d_score: usize,
    /// `D_out`: how many outbound peers (we dialed) a mesh keeps at least.
    pub d_out: usize,
}

impl Default for MeshParams {
    /// The spec's: `D` 6, `D_lo` 4, `D_hi` 12, `D_lazy` 6, `D_score` 4,
    /// `D_out` 2 (rust-libp2p uses `D_lo` 5; go 4).
    fn default() -> Self {
        Self { d: 6, d_lo: 4, d_hi: 12, d_lazy: 6, d_score: 4, d_out: 2 }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::from(strata_pubsub::Config::default())
    }
}

impl From<strata_pubsub::Config> for Config {
    /// Gossipsub's defaults on top of `shared`.
    fn from(shared: strata_pubsub::Config) -> Self {
        Self {
            shared,
            mesh: MeshParams::default(),
            heartbeat: Duration::from_secs(1),
            fanout_ttl: Duration::from_mins(1),
            mcache_len: 5,
            mcache_gossip: 3,
            prune_backoff: Duration::from_mins(1),
            flood_publish: true,
            max_ihave_length: 5000,
            max_ihave_messages: 10,
            gossip_retransmission: 3,
            idontwant_threshold: 1000,
            max_idontwant_ids: 5000,
            max_control_items: 5000,
            seed: None,
            scoring: Some((ScoreParams::default(), Thresholds::default())),
            validator: None,
            direct_peers: Vec::new(),
            direct_connect_ticks: 60,
            peer_exchange: true,
            prune_peers: 16,
            iwant_followup: Duration::from_secs(3),
            opportunistic_graft_ticks: 60,
            opportunistic_graft_peers: 2,
            max_pending_validations: 8192,
        }
    }
}

impl Config {
    /// What the shared service needs of it.
    pub(crate) fn service(&self) -> ServiceConfig {
        ServiceConfig {
            protocols: PROTOCOLS,
            shared: self.shared.clone(),
            heartbeat: Some(self.heartbeat),
            validator: self.validator.clone(),
            known_addrs: self.direct_peers.clone(),
        }
    }

    /// The shared pubsub configuration under gossipsub's.
    pub fn shared(&self) -> &strata_pubsub::Config {
        &self.shared
    }

    /// Peer scoring (v1.1) with `params` and `thresholds`, checked against
    /// the spec's rules. Default: on, with [`ScoreParams::default`] and
    /// [`Thresholds::default`] (see `score` module docs for what they suit).
    pub fn with_scoring(mut self, params: ScoreParams, thresholds: Thresholds) -> Result<Self, InvalidParams> {
        params.validate()?;
        thresholds.validate()?;
        self.scoring = Some((params, thresholds));
        Ok(self)
    }

    /// Turns peer scoring off: every peer scores 0, nobody is graylisted.
    #[must_use]
    pub fn without_scoring(mut self) -> Self {
        self.scoring = None;
        self
    }

    /// The application's validator: each received message waits for its
    /// verdict before it is forwarded or delivered, and rejected ones
    /// count against their senders' scores (P4). Default: none (every
    /// message with a valid signature is accepted).
    #[must_use]
    pub fn with_validator(mut self, validator: Validator) -> Self {
        self.validator = Some(validator);
        self
    }

    /// A direct (explicit) peer: sent every message of the topics it is
    /// subscribed to, never grafted or scored, and redialed at `addrs`
    /// (every minute, at the default heartbeat) while disconnected. Both
    /// sides should list each other.
    #[must_use]
    pub fn with_direct_peer(mut self, peer: PeerId, addrs: Vec<Multiaddr>) -> Self {
        self.direct_peers.push((peer, addrs));
        self
    }

    /// Peer exchange (v1.1): our PRUNEs offer the pruned peer up to 16
    /// other peers of the topic, and the peers offered to us by a peer
    /// scoring at least the accept-PX threshold are dialed (where the
    /// host's peer store knows their addresses). Default: on.
    #[must_use]
    pub fn with_peer_exchange(mut self, on: bool) -> Self {
        self.peer_exchange = on;
        self
    }

    /// The mesh degree. Default: [`MeshParams::default`]. `D_lo ≤ D ≤
    /// D_hi` is kept by moving the bounds where needed, and `D_score ≤ D`,
    /// `D_out ≤ min(D_lo, D/2)` as the spec requires.
    #[must_use]
    pub fn with_mesh(mut self, mut mesh: MeshParams) -> Self {
        mesh.d = mesh.d.max(1);
        mesh.d_lo = mesh.d_lo.min(mesh.d);
        mesh.d_hi = mesh.d_hi.max(mesh.d);
        mesh.d_score = mesh.d_score.min(mesh.d);
        mesh.d_out = mesh.d_out.min(mesh.d / 2).min(mesh.d_lo);
        self.mesh = mesh;
        self
    }

    /// Time between heartbeats (mesh upkeep, gossip, cache shift).
    /// Default: 1 s.
    #[must_use]
    pub fn with_heartbeat(mut self, interval: Duration) -> Self {
        self.heartbeat = interval.max(Duration::from_millis(10));
        self
    }

    /// How long the fanout of a topic we publish to without subscribing is
    /// kept after the last publish. Default: 60 s.
    #[must_use]
    pub fn with_fanout_ttl(mut self, ttl: Duration) -> Self {
        self.fanout_ttl = ttl;
        self
    }

    /// The message cache: `len` heartbeats of history, the newest `gossip`
    /// of them advertised in IHAVE. Default: 5 and 3.
    #[must_use]
    pub fn with_history(mut self, len: usize, gossip: usize) -> Self {
        self.mcache_len = len.max(1);
        self.mcache_gossip = gossip.clamp(1, self.mcache_len);
        self
    }

    /// How long a pruned peer must wait before it may GRAFT again, sent in
    /// our PRUNEs and kept for theirs when they send none. Default: 60 s.
    #[must_use]
    pub fn with_prune_backoff(mut self, backoff: Duration) -> Self {
        self.prune_backoff = backoff;
        self
    }

    /// Whether our own messages go to every subscribed peer rather than
    /// only the mesh (v1.1 flood publishing). Default: on.
    #[must_use]
    pub fn with_flood_publish(mut self, on: bool) -> Self {
        self.flood_publish = on;
        self
    }

    /// Messages of at least this many bytes make us send IDONTWANT to the
    /// mesh before forwarding (v1.2). Default: 1000 (rust-libp2p's).
    #[must_use]
    pub fn with_idontwant_threshold(mut self, bytes: usize) -> Self {
        self.idontwant_threshold = bytes;
        self
    }

    /// Seeds the router's random choices (mesh and gossip peers), for
    /// reproducible simulations. Default: a random seed.
    #[must_use]
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }
}
