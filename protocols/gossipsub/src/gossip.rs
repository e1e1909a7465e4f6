//! Gossip: IHAVE (what we have), IWANT (what we ask for), IDONTWANT
//! (what a peer already has), and the promises an answered IHAVE makes.
//!
//! Spec: `libp2p-gossipsub-v1.0.md` "Control Message Processing";
//! `-v1.1.md` "Spam Protection Measures" (bounded IHAVE/IWANT, IWANT
//! retransmission limit, promises: a peer that advertises a message and
//! does not deliver it when asked earns a behaviour penalty); `-v1.2.md`
//! "IDONTWANT".
//!
//! ```text
//! IHAVE ─▶ at most max_ihave_messages entries and max_ihave_length ids per peer per
//!          heartbeat ─▶ ids of our topics not seen ─▶ IWANT, one id promised (kept
//!          when the message comes, or when that peer sends any message in time)
//! IWANT ─▶ at most max_control_items ids ─▶ served from the mcache, each id at most
//!          gossip_retransmission times to one peer
//! heartbeat: IHAVE of the recent ids to D_lazy (or a quarter of the eligible) peers
//!          outside the mesh scoring at least the gossip threshold; promises past
//!          iwant_followup ─▶ P7 for the peer that made them
//! ```

use std::{collections::HashMap, time::Instant};

use strata_core::PeerId;
use strata_pubsub::MessageId;

use crate::{
    control::{ControlIDontWant, ControlIHave, ControlIWant},
    outbox::{Outbox, message_rpc},
    router::GossipRouter,
};

/// Messages peers advertised and we asked for: who owes which, by when
/// (when each peer last sent a message is in its record).
///
/// A promise is kept when the message arrives (from anyone, known by our
/// id), or when the peer that made it sends us any message before the
/// deadline: implementations name messages differently (rust-libp2p's
/// default id is text, go's and ours bytes; applications plug in content
/// hashes), so the ids a peer advertises may never match ours, and the
/// message it sends for them is the only sign that it answered.
#[derive(Debug, Default)]
pub(crate) struct Promises {
    /// Per id, the peers that owe it: when they promised, and the deadline.
    owed: HashMap<MessageId, HashMap<PeerId, (Instant, Instant)>>,
}

impl Promises {
    fn add(&mut self, peer: PeerId, id: MessageId, now: Instant, deadline: Instant) {
        self.owed.entry(id).or_default().entry(peer).or_insert((now, deadline));
    }

    /// The message arrived (from whoever): nobody owes it any more.
    pub(crate) fn fulfilled(&mut self, id: &MessageId) {
        self.owed.remove(id);
    }

    /// `peer` left: it owes nothing any more.
    pub(crate) fn forget(&mut self, peer: PeerId) {
        self.owed.retain(|_, peers| {
            peers.remove(&peer);
            !peers.is_empty()
        });
    }

    /// Whether `peer` owes anything.
    #[cfg(test)]
    pub(crate) fn mentions(&self, peer: PeerId) -> bool {
        self.owed.values().any(|peers| peers.contains_key(&peer))
    }

    /// The promises broken by `now`, per peer (`last_message`: when a peer
    /// last sent us a message); every promise past its deadline is dropped.
    pub(crate) fn broken(
        &mut self,
        now: Instant,
        last_message: impl Fn(PeerId) -> Option<Instant>,
    ) -> HashMap<PeerId, usize> {
        let mut broken: HashMap<PeerId, usize> = HashMap::new();
        self.owed.retain(|_, peers| {
            peers.retain(|peer, (promised, deadline)| {
                let late = *deadline <= now;
                let answered = last_message(*peer).is_some_and(|at| at >= *promised);
                if late && !answered {
                    *broken.entry(*peer).or_default() += 1;
                }
                !late
            });
            !peers.is_empty()
        });
        broken
    }
}

impl GossipRouter {
    /// IHAVEs: the ids of subscribed topics we have not seen are asked
    /// for, within the per-heartbeat bounds (`max_ihave_messages`
    /// entries, `max_ihave_length` ids); one of them is a promise.
    pub(crate) fn ihave(&mut self, from: PeerId, ihaves: Vec<ControlIHave>, now: Instant, out: &mut Outbox) {
        let (max_entries, max_ids) = (self.config.max_ihave_messages, self.config.max_ihave_length);
        let counters = &mut self.peers.entry(from).data;
        let mut wanted = Vec::new();
        for ihave in ihaves {
            counters.ihaves += 1;
            if counters.ihaves > max_entries {
                break;
            }
            let subscribed = ihave.topic_id.as_ref().is_some_and(|topic| self.overlay.is_joined(topic));
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
        if wanted.is_empty() {
            return;
        }
        out.iwant(from, &wanted);
        // As go and rust-libp2p do: one id of the batch, picked at random,
        // stands for the promise (one broken promise per unanswered IWANT).
        if let Some(id) = self.rng.choose(wanted, 1).pop() {
            self.promises.add(from, id, now, now + self.config.iwant_followup);
        }
    }

    /// IWANTs: served from the message cache, each id at most
    /// `gossip_retransmission` times to one peer.
    pub(crate) fn iwant(&mut self, from: PeerId, iwants: Vec<ControlIWant>, out: &mut Outbox) {
        let retransmission = self.config.gossip_retransmission;
        let wanted = iwants.into_iter().flat_map(|iwant| iwant.message_ids).take(self.config.max_control_items);
        for id in wanted {
            if let Some(raw) = self.mcache.serve(&MessageId::new(id), from, retransmission) {
                out.message(from, message_rpc(raw));
            }
        }
    }

    /// IDONTWANTs: those ids are not sent to `from` this heartbeat (at
    /// most `max_idontwant_ids` remembered).
    pub(crate) fn idontwant(&mut self, from: PeerId, entries: Vec<ControlIDontWant>) {
        let limit = self.config.max_idontwant_ids;
        let counters = &mut self.peers.entry(from).data;
        for id in entries.into_iter().flat_map(|entry| entry.message_ids) {
            if counters.dont_send.len() >= limit {
                break;
            }
            counters.dont_send.insert(MessageId::new(id));
        }
    }

    /// The heartbeat's IHAVEs: each mesh or fanout topic's recent ids to
    /// `D_lazy` peers outside it (or a quarter of the eligible, if more).
    pub(crate) fn emit_gossip(&mut self, now: Instant, out: &mut Outbox) {
        let gossip = self.scores.thresholds().gossip;
        for (topic, mesh) in self.overlay.gossip_topics() {
            let mut ids = self.mcache.gossip_ids(&topic);
            if ids.is_empty() {
                continue;
            }
            if ids.len() > self.config.max_ihave_length {
                ids = self.rng.choose(ids, self.config.max_ihave_length);
            }
            let eligible: Vec<PeerId> = self
                .gossip_peers(&topic)
                .into_iter()
                .filter(|peer| !mesh.contains(peer) && self.score(*peer, now) >= gossip)
                .collect();
            // go's and rust's rule: D_lazy peers, or a quarter of the
            // eligible ones if that is more.
            let count = self.config.mesh.d_lazy.max(eligible.len() / 4);
            for peer in self.rng.choose(eligible, count) {
                out.ihave(peer, &topic, &ids);
            }
        }
    }

    /// Broken promises become behaviour penalties.
    pub(crate) fn penalize_broken_promises(&mut self, now: Instant) {
        let peers = &self.peers;
        let broken = self.promises.broken(now, |peer| peers.get(peer).and_then(|record| record.data.last_message));
        for (peer, count) in broken {
            tracing::debug!(%peer, count, "gossipsub: IWANT promises broken");
            #[allow(clippy::cast_precision_loss)] // a handful per heartbeat
            self.scores.penalize(peer, count as f64);
        }
    }
}
