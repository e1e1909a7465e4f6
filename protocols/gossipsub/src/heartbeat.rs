//! The heartbeat (spec v1.0 "Heartbeat"; v1.1 "Peer Scoring", "Explicit
//! Peering Agreements"): scores decay, each mesh is kept (`mesh.rs`),
//! fanouts too, gossip goes out (`gossip.rs`), broken promises are
//! penalised, direct peers are redialed, then the message cache shifts
//! and the per-heartbeat counters start again.
//!
//! ```text
//! scores: decay, expire ─▶ for each subscribed topic: maintain_mesh
//! for each fanout topic: forget it after fanout_ttl without a publish;
//!     drop peers under the publish threshold; refill up to D
//! IHAVE to peers outside each mesh/fanout ─▶ broken IWANT promises ─▶ P7
//! every direct_connect_ticks: Dial the direct peers not connected
//! mcache.shift(); counters cleared; expired backoffs forgotten
//! ```

use std::{collections::BTreeSet, time::Instant};

use strata_core::PeerId;
use strata_pubsub::Action;

use crate::{outbox::Outbox, router::GossipRouter};

impl GossipRouter {
    pub(crate) fn heartbeat_at(&mut self, now: Instant) -> Vec<Action> {
        self.ticks += 1;
        let mut out = Outbox::default();
        let mut actions = Vec::new();
        self.scores.refresh(now);
        self.overlay.expire_backoffs(now);
        let topics: Vec<String> = self.local.iter().map(str::to_owned).collect();
        for topic in &topics {
            self.maintain_mesh(topic, now, &mut out, &mut actions);
        }
        self.maintain_fanout(now);
        self.emit_gossip(now, &mut out);
        self.penalize_broken_promises(now);
        self.redial_direct_peers(&mut actions);
        self.mcache.shift();
        for record in self.peers.records_mut() {
            record.data.ihaves = 0;
            record.data.asked = 0;
            record.data.dont_send.clear();
        }
        out.into_actions(&mut actions);
        actions
    }

    fn maintain_fanout(&mut self, now: Instant) {
        let threshold = self.scores.thresholds().publish;
        for topic in self.overlay.expire_fanouts(now, self.config.fanout_ttl) {
            let eligible: BTreeSet<PeerId> =
                self.gossip_peers(&topic).into_iter().filter(|peer| self.score(*peer, now) >= threshold).collect();
            let mut fanout = self.overlay.fanout(&topic).cloned().unwrap_or_default();
            fanout.retain(|peer| eligible.contains(peer));
            let d = self.config.mesh.d;
            if fanout.len() < d {
                let candidates: Vec<PeerId> = eligible.iter().copied().filter(|peer| !fanout.contains(peer)).collect();
                fanout.extend(self.rng.choose(candidates, d - fanout.len()));
            }
            self.overlay.set_fanout(&topic, fanout);
        }
    }

    fn redial_direct_peers(&self, actions: &mut Vec<Action>) {
        let every = self.config.direct_connect_ticks.max(1);
        // The first heartbeat dials too: direct peers connect at start.
        if self.ticks % every != 1 % every {
            return;
        }
        let mut direct: Vec<PeerId> = self.direct.iter().copied().filter(|peer| !self.is_connected(*peer)).collect();
        direct.sort();
        actions.extend(direct.into_iter().map(Action::Dial));
    }
}
