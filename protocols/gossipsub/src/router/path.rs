//! The message path of the gossipsub router: a message from a peer is
//! decoded, looked up in the seen-cache, its signature checked, handed to
//! the application's validator if there is one, and once accepted cached
//! for gossip, forwarded and delivered (spec v1.0 "Message Processing",
//! v1.1 "Extended Validators", v1.2 "IDONTWANT").

use std::{collections::BTreeSet, time::Instant};

use strata_core::PeerId;
use strata_pubsub::{Action, Message, MessageId, message};

use super::{GossipRouter, Kind, Pending};
use crate::outbox::{Outbox, message_rpc};

impl GossipRouter {
    /// One message from `from`: decoded, looked up, verified, validated.
    pub(super) fn message(
        &mut self,
        from: PeerId,
        raw: &[u8],
        now: Instant,
        out: &mut Outbox,
        actions: &mut Vec<Action>,
    ) {
        let decoded = match message::decode(self.config.shared.policy(), self.config.shared.max_message_len(), raw) {
            Ok(decoded) => decoded,
            Err(error) => {
                tracing::debug!(%from, %error, "gossipsub: dropping a message");
                return;
            }
        };
        self.peers.entry(from).data.last_message = Some(now);
        let id = self.config.shared.message_id().id(decoded.message());
        if self.seen.contains(&id) {
            self.scores.duplicate(from, &id, now);
            return;
        }
        let Some(topic) = decoded.message().topics.first().cloned() else { return };
        let scored = self.overlay.is_joined(&topic);
        let message = match decoded.verify(raw) {
            Ok(message) => message,
            Err(error) => {
                tracing::debug!(%from, %error, "gossipsub: dropping a message with a bad signature");
                if scored {
                    self.scores.invalid(from, &topic);
                }
                return;
            }
        };
        // Seen only once its signature holds: a forged copy cannot
        // suppress the real message.
        self.seen.insert(id.clone(), now);
        self.promises.fulfilled(&id);
        if scored {
            self.scores.validating(from, &id, &topic, now);
        }
        if self.config.validator.is_none() {
            return self.accept(from, id, raw.to_vec(), message, now, out, actions);
        }
        if self.pending.len() >= self.config.max_pending_validations {
            tracing::debug!(%from, "gossipsub: too many messages awaiting validation; ignoring one");
            return;
        }
        actions.push(Action::Validate { id: id.clone(), from, message: message.clone() });
        self.pending.insert(id, Pending { from, raw: raw.to_vec(), message });
    }

    /// A valid message: cached for gossip, forwarded, delivered.
    #[allow(clippy::too_many_arguments)] // the message's parts and the step's outputs
    pub(super) fn accept(
        &mut self,
        from: PeerId,
        id: MessageId,
        raw: Vec<u8>,
        message: Message,
        now: Instant,
        out: &mut Outbox,
        actions: &mut Vec<Action>,
    ) {
        let Some(topic) = message.topics.first().cloned() else { return };
        self.scores.accepted(&id, now);
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
        let rpc = message_rpc(&raw);
        for peer in targets {
            let unwanted = self.peers.get(peer).is_some_and(|record| record.data.dont_send.contains(&id));
            if !unwanted {
                out.message(peer, rpc.clone());
            }
        }
        self.mcache.put(id, raw, &topic);
        if self.local.contains(&topic) {
            actions.push(Action::Deliver(message));
        }
    }

    /// Where a received message goes: our mesh of its topic, and the
    /// direct and floodsub peers subscribed to it, minus `skip` (sender,
    /// author).
    fn forward_targets(&self, topic: &str, skip: &[PeerId]) -> BTreeSet<PeerId> {
        let mut targets: BTreeSet<PeerId> = self.overlay.mesh(topic).cloned().unwrap_or_default();
        targets.extend(
            self.peers
                .peers_of(topic)
                .into_iter()
                .filter(|peer| self.kind(*peer) == Kind::Floodsub || self.direct.contains(peer)),
        );
        targets.retain(|peer| !skip.contains(peer));
        targets
    }
}
