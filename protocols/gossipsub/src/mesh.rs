//! The mesh rules: joining and leaving a topic, the GRAFTs and PRUNEs peers
//! send, backoff, peer exchange, and the heartbeat's upkeep of each mesh.
//! The sets themselves are the [`Overlay`](crate::overlay::Overlay)'s.
//!
//! Spec: `libp2p-gossipsub-v1.0.md` "Topic Membership", "Mesh
//! Maintenance"; `-v1.1.md` "PRUNE Backoff and Peer Exchange", "Outbound
//! Mesh Quotas", "Opportunistic Grafting", "Explicit Peering Agreements".
//!
//! ```text
//! GRAFT ─▶ not subscribed / direct / backing off (P7) / negative score / full
//!          (unless we dialed it) ─▶ PRUNE;  otherwise ─▶ mesh
//! PRUNE ─▶ out of the mesh, backoff; offered peers dialed if the pruner's
//!          score reaches accept_px
//! heartbeat, per topic:
//!     negative scores ─▶ PRUNE
//!     |mesh| < D_lo ─▶ GRAFT up to D (non-negative, not backing off)
//!     |mesh| > D_hi ─▶ keep the D_score best, then D_out outbound, then random, up to D
//!     outbound < D_out ─▶ GRAFT outbound peers
//!     every opportunistic_graft_ticks: median score < threshold ─▶ GRAFT 2 better peers
//! ```

use std::{collections::BTreeSet, time::Instant};

use strata_core::PeerId;
use strata_pubsub::{Action, Event};

use crate::{
    control::ControlPrune,
    outbox::Outbox,
    router::{GossipRouter, Kind, asked_backoff},
};

/// Why we prune a peer: it decides whether we offer it other peers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reason {
    /// Mesh full, leaving, or too many: peer exchange offered.
    Routine,
    /// The peer misbehaved (backoff, score): nothing offered.
    Penalty,
}

impl GossipRouter {
    /// Peers of `topic` that may be grafted now: subscribed meshsub peers,
    /// not direct, not in the mesh, not backing off, scoring at least 0.
    fn graft_candidates(&self, topic: &str, mesh: &BTreeSet<PeerId>, now: Instant) -> Vec<PeerId> {
        self.gossip_peers(topic)
            .into_iter()
            .filter(|peer| {
                !mesh.contains(peer) && !self.overlay.in_backoff(*peer, topic, now) && self.score(*peer, now) >= 0.0
            })
            .collect()
    }

    fn add_to_mesh(&mut self, peer: PeerId, topic: &str, now: Instant, out: &mut Outbox, actions: &mut Vec<Action>) {
        out.graft(peer, topic);
        self.grafted(peer, topic, now, actions);
    }

    fn grafted(&mut self, peer: PeerId, topic: &str, now: Instant, actions: &mut Vec<Action>) {
        self.overlay.graft(topic, peer);
        self.scores.graft(peer, topic, now);
        actions.push(Action::Report(Event::Grafted { peer, topic: topic.to_owned() }));
    }

    /// Sends `peer` a PRUNE for `topic` (with peer exchange for routine
    /// prunes of v1.1 peers) and backs off from it.
    fn send_prune(&mut self, peer: PeerId, topic: &str, reason: Reason, now: Instant, out: &mut Outbox) {
        let exchange = if reason == Reason::Routine && self.config.peer_exchange && self.kind(peer) >= Kind::Meshsub11 {
            let others: Vec<PeerId> = self
                .gossip_peers(topic)
                .into_iter()
                .filter(|other| *other != peer && self.score(*other, now) >= 0.0)
                .collect();
            self.rng.choose(others, self.config.prune_peers)
        } else {
            Vec::new()
        };
        out.prune(peer, topic, self.config.prune_backoff.as_secs(), &exchange);
        self.overlay.back_off(peer, topic, now, self.config.prune_backoff);
    }

    /// Takes `peer` out of our mesh of `topic` with a PRUNE.
    fn remove_from_mesh(
        &mut self,
        peer: PeerId,
        topic: &str,
        reason: Reason,
        now: Instant,
        out: &mut Outbox,
        actions: &mut Vec<Action>,
    ) {
        self.overlay.prune(topic, peer);
        self.scores.prune(peer, topic, now);
        self.send_prune(peer, topic, reason, now, out);
        actions.push(Action::Report(Event::Pruned { peer, topic: topic.to_owned() }));
    }

    /// Joins `topic`: the mesh starts from its fanout, then from other
    /// eligible peers, up to `D`; each gets a GRAFT.
    pub(crate) fn join(&mut self, topic: &str, now: Instant, out: &mut Outbox, actions: &mut Vec<Action>) {
        let mut mesh: BTreeSet<PeerId> = self.overlay.join(topic);
        mesh.retain(|peer| !self.overlay.in_backoff(*peer, topic, now) && self.score(*peer, now) >= 0.0);
        let d = self.config.mesh.d;
        if mesh.len() > d {
            mesh = self.rng.choose(mesh.into_iter().collect(), d).into_iter().collect();
        }
        let candidates = self.graft_candidates(topic, &mesh, now);
        mesh.extend(self.rng.choose(candidates, d - mesh.len()));
        for peer in mesh {
            self.add_to_mesh(peer, topic, now, out, actions);
        }
    }

    /// Leaves `topic`: every mesh peer gets a PRUNE with our backoff.
    pub(crate) fn leave(&mut self, topic: &str, now: Instant, out: &mut Outbox, actions: &mut Vec<Action>) {
        for peer in self.mesh_peers(topic) {
            self.remove_from_mesh(peer, topic, Reason::Routine, now, out, actions);
        }
        self.overlay.leave(topic);
    }

    /// A GRAFT from `from`: accepted into the mesh, or answered with a PRUNE.
    pub(crate) fn graft(
        &mut self,
        from: PeerId,
        topic: &str,
        now: Instant,
        out: &mut Outbox,
        actions: &mut Vec<Action>,
    ) {
        let Some(mesh) = self.overlay.mesh(topic) else {
            // Not subscribed: refuse, without a backoff of ours.
            out.prune(from, topic, self.config.prune_backoff.as_secs(), &[]);
            return;
        };
        if mesh.contains(&from) {
            return;
        }
        let full = mesh.len() >= self.config.mesh.d_hi && !self.is_outbound(from);
        if self.kind(from) == Kind::Floodsub || self.direct.contains(&from) {
            tracing::debug!(%from, %topic, "gossipsub: GRAFT from a floodsub or direct peer refused");
            out.prune(from, topic, self.config.prune_backoff.as_secs(), &[]);
        } else if self.overlay.in_backoff(from, topic, now) {
            // Grafting while told to back off: a behaviour penalty (P7).
            self.scores.penalize(from, 1.0);
            self.send_prune(from, topic, Reason::Penalty, now, out);
        } else if self.score(from, now) < 0.0 {
            self.send_prune(from, topic, Reason::Penalty, now, out);
        } else if full {
            self.send_prune(from, topic, Reason::Routine, now, out);
        } else {
            self.grafted(from, topic, now, actions);
        }
    }

    /// A PRUNE from `from`: out of the mesh, its backoff kept, and the
    /// peers it offers dialed if it scores well enough.
    pub(crate) fn pruned(&mut self, from: PeerId, prune: ControlPrune, now: Instant, actions: &mut Vec<Action>) {
        let Some(topic) = prune.topic_id else { return };
        if self.overlay.prune(&topic, from) {
            self.scores.prune(from, &topic, now);
            actions.push(Action::Report(Event::Pruned { peer: from, topic: topic.clone() }));
        }
        // A backoff only for a topic we are in: one for any topic a peer
        // names would let it fill the map, since backoffs outlive a
        // disconnect.
        if self.overlay.is_joined(&topic) {
            let backoff = asked_backoff(prune.backoff, self.config.prune_backoff);
            self.overlay.back_off(from, &topic, now, backoff);
        }
        let accept_px = self.config.peer_exchange && self.score(from, now) >= self.scores.thresholds().accept_px;
        if !accept_px || !self.overlay.is_joined(&topic) {
            return;
        }
        let offered = prune.peers.into_iter().take(self.config.prune_peers);
        for peer in offered.filter_map(|info| PeerId::from_bytes(&info.peer_id?).ok()) {
            if !self.is_connected(peer) {
                actions.push(Action::Dial(peer));
            }
        }
    }

    /// The heartbeat's upkeep of our mesh of `topic`.
    pub(crate) fn maintain_mesh(&mut self, topic: &str, now: Instant, out: &mut Outbox, actions: &mut Vec<Action>) {
        let subscribed: BTreeSet<PeerId> = self.gossip_peers(topic).into_iter().collect();
        self.overlay.retain_mesh(topic, |peer| subscribed.contains(peer));
        for peer in self.mesh_peers(topic) {
            if self.score(peer, now) < 0.0 {
                self.remove_from_mesh(peer, topic, Reason::Penalty, now, out, actions);
            }
        }
        let params = self.config.mesh;
        let mesh: BTreeSet<PeerId> = self.mesh_peers(topic).into_iter().collect();
        if mesh.len() < params.d_lo {
            let candidates = self.graft_candidates(topic, &mesh, now);
            for peer in self.rng.choose(candidates, params.d - mesh.len()) {
                self.add_to_mesh(peer, topic, now, out, actions);
            }
        } else if mesh.len() > params.d_hi {
            let keep = self.keep_when_oversubscribed(mesh.iter().copied().collect(), now);
            for peer in mesh.iter().filter(|peer| !keep.contains(peer)) {
                self.remove_from_mesh(*peer, topic, Reason::Routine, now, out, actions);
            }
        }
        self.meet_outbound_quota(topic, now, out, actions);
        let opportunistic = self.config.opportunistic_graft_ticks;
        if opportunistic > 0 && self.ticks.is_multiple_of(opportunistic) {
            self.graft_opportunistically(topic, now, out, actions);
        }
    }

    /// Which `D` peers of an oversubscribed mesh stay: the `D_score`
    /// best-scoring, then enough outbound peers for `D_out`, then random.
    fn keep_when_oversubscribed(&mut self, mut mesh: Vec<PeerId>, now: Instant) -> BTreeSet<PeerId> {
        let params = self.config.mesh;
        self.rng.shuffle(&mut mesh);
        mesh.sort_by(|a, b| self.score(*b, now).total_cmp(&self.score(*a, now)));
        let mut rest = mesh.split_off(params.d_score.min(mesh.len()));
        self.rng.shuffle(&mut rest);
        let mut keep: BTreeSet<PeerId> = mesh.into_iter().collect();
        let outbound_kept = keep.iter().filter(|peer| self.is_outbound(**peer)).count();
        let wanted_outbound = params.d_out.saturating_sub(outbound_kept);
        let (outbound, inbound): (Vec<PeerId>, Vec<PeerId>) =
            rest.into_iter().partition(|peer| self.is_outbound(*peer));
        let (first, later) = outbound.split_at(wanted_outbound.min(outbound.len()));
        for peer in first.iter().chain(later).chain(&inbound) {
            if keep.len() >= params.d {
                break;
            }
            keep.insert(*peer);
        }
        keep
    }

    /// Grafts outbound peers until the mesh has `D_out` of them.
    fn meet_outbound_quota(&mut self, topic: &str, now: Instant, out: &mut Outbox, actions: &mut Vec<Action>) {
        let mesh: BTreeSet<PeerId> = self.mesh_peers(topic).into_iter().collect();
        let outbound = mesh.iter().filter(|peer| self.is_outbound(**peer)).count();
        let wanted = self.config.mesh.d_out.saturating_sub(outbound);
        if wanted == 0 || mesh.len() < self.config.mesh.d_lo {
            return;
        }
        let candidates: Vec<PeerId> =
            self.graft_candidates(topic, &mesh, now).into_iter().filter(|peer| self.is_outbound(*peer)).collect();
        for peer in self.rng.choose(candidates, wanted) {
            self.add_to_mesh(peer, topic, now, out, actions);
        }
    }

    /// Opportunistic grafting: when the mesh's median score is below the
    /// threshold, graft a few peers scoring above the median.
    fn graft_opportunistically(&mut self, topic: &str, now: Instant, out: &mut Outbox, actions: &mut Vec<Action>) {
        let mesh: BTreeSet<PeerId> = self.mesh_peers(topic).into_iter().collect();
        if mesh.len() <= 1 {
            return;
        }
        let mut scores: Vec<f64> = mesh.iter().map(|peer| self.score(*peer, now)).collect();
        scores.sort_by(f64::total_cmp);
        let median = scores[scores.len() / 2];
        if median >= self.scores.thresholds().opportunistic_graft {
            return;
        }
        let candidates: Vec<PeerId> = self
            .graft_candidates(topic, &mesh, now)
            .into_iter()
            .filter(|peer| self.score(*peer, now) > median)
            .collect();
        for peer in self.rng.choose(candidates, self.config.opportunistic_graft_peers) {
            tracing::debug!(%peer, %topic, "gossipsub: opportunistic graft");
            self.add_to_mesh(peer, topic, now, out, actions);
        }
    }
}
