//! The heartbeat (spec v1.0 "Heartbeat"; v1.1 "PRUNE Backoff"): mesh
//! upkeep, fanout upkeep, gossip emission, then the message cache shifts
//! and the per-heartbeat counters start again.
//!
//! ```text
//! for each subscribed topic: drop mesh peers that left the topic;
//!     |mesh| < D_lo ─▶ GRAFT random eligible peers up to D
//!     |mesh| > D_hi ─▶ PRUNE random mesh peers down to D (with backoff)
//! for each fanout topic: forget it after fanout_ttl without a publish; refill up to D
//! for each mesh or fanout topic with recent ids: IHAVE to D_lazy (or a quarter
//!     of the eligible, if more) peers outside the mesh/fanout
//! mcache.shift(); counters cleared; expired backoffs forgotten
//! ```

use std::{collections::BTreeSet, time::Instant};

use strata_core::PeerId;
use strata_pubsub::{Action, Event};

use crate::{outbox::Outbox, router::GossipRouter};

impl GossipRouter {
    pub(crate) fn heartbeat_at(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Outbox::default();
        let mut actions = Vec::new();
        self.backoff.retain(|_, until| *until > now);
        let topics: Vec<String> = self.local.iter().map(str::to_owned).collect();
        for topic in &topics {
            self.maintain_mesh(topic, now, &mut out, &mut actions);
        }
        self.maintain_fanout(now);
        self.emit_gossip(&mut out);
        self.mcache.shift();
        for counters in self.counters.values_mut() {
            counters.ihaves = 0;
            counters.asked = 0;
            counters.dont_send.clear();
        }
        out.into_actions(&mut actions);
        actions
    }

    fn maintain_mesh(&mut self, topic: &str, now: Instant, out: &mut Outbox, actions: &mut Vec<Action>) {
        let subscribed: BTreeSet<PeerId> = self.gossip_peers(topic).into_iter().collect();
        let mut mesh = self.mesh.remove(topic).unwrap_or_default();
        mesh.retain(|peer| subscribed.contains(peer));
        let params = self.config.mesh;
        if mesh.len() < params.d_lo {
            let candidates: Vec<PeerId> = subscribed
                .iter()
                .copied()
                .filter(|peer| !mesh.contains(peer) && !self.in_backoff(*peer, topic, now))
                .collect();
            for peer in self.rng.choose(candidates, params.d - mesh.len()) {
                mesh.insert(peer);
                out.graft(peer, topic);
                actions.push(Action::Report(Event::Grafted { peer, topic: topic.to_owned() }));
            }
        }
        if mesh.len() > params.d_hi {
            let excess = mesh.len() - params.d;
            for peer in self.rng.choose(mesh.iter().copied().collect(), excess) {
                mesh.remove(&peer);
                out.prune(peer, topic, self.backoff_secs());
                self.set_backoff(peer, topic, now, self.config.prune_backoff);
                actions.push(Action::Report(Event::Pruned { peer, topic: topic.to_owned() }));
            }
        }
        self.mesh.insert(topic.to_owned(), mesh);
    }

    fn maintain_fanout(&mut self, now: Instant) {
        let ttl = self.config.fanout_ttl;
        let expired: Vec<String> = self
            .fanout_published
            .iter()
            .filter(|(_, published)| now.saturating_duration_since(**published) > ttl)
            .map(|(topic, _)| topic.clone())
            .collect();
        for topic in expired {
            self.fanout.remove(&topic);
            self.fanout_published.remove(&topic);
        }
        let topics: Vec<String> = self.fanout.keys().cloned().collect();
        for topic in topics {
            let subscribed: BTreeSet<PeerId> = self.gossip_peers(&topic).into_iter().collect();
            let mut fanout = self.fanout.remove(&topic).unwrap_or_default();
            fanout.retain(|peer| subscribed.contains(peer));
            let d = self.config.mesh.d;
            if fanout.len() < d {
                let candidates: Vec<PeerId> =
                    subscribed.iter().copied().filter(|peer| !fanout.contains(peer)).collect();
                fanout.extend(self.rng.choose(candidates, d - fanout.len()));
            }
            self.fanout.insert(topic, fanout);
        }
    }

    fn emit_gossip(&mut self, out: &mut Outbox) {
        let topics: BTreeSet<String> = self.mesh.keys().chain(self.fanout.keys()).cloned().collect();
        for topic in topics {
            let mut ids = self.mcache.gossip_ids(&topic);
            if ids.is_empty() {
                continue;
            }
            if ids.len() > self.config.max_ihave_length {
                ids = self.rng.choose(ids, self.config.max_ihave_length);
            }
            let mesh = self.mesh.get(&topic).or_else(|| self.fanout.get(&topic)).cloned().unwrap_or_default();
            let eligible: Vec<PeerId> =
                self.gossip_peers(&topic).into_iter().filter(|peer| !mesh.contains(peer)).collect();
            // go's and rust's rule: D_lazy peers, or a quarter of the
            // eligible ones if that is more.
            let count = self.config.mesh.d_lazy.max(eligible.len() / 4);
            for peer in self.rng.choose(eligible, count) {
                out.ihave(peer, &topic, &ids);
            }
        }
    }
}
