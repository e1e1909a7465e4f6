//! What one router step sends, gathered per peer, then cut into RPCs.
//!
//! A step (an RPC received, a heartbeat, a subscription) may owe a peer
//! several things: subscription changes, GRAFTs, IHAVEs, messages. They
//! travel together where they fit: subscriptions and control in one RPC,
//! each message in an RPC of its own (as rust-libp2p and go send them),
//! and nothing larger than [`MAX_RPC`] bytes, the smallest limit real
//! implementations read (rust-libp2p's `max_transmit_size`, 64 KiB): long
//! id lists are cut into pieces.

use std::collections::BTreeMap;

use strata_core::PeerId;
use strata_pubsub::{Action, MessageId, Rpc, rpc::SubOpts};

use crate::control::{
    ControlGraft, ControlIDontWant, ControlIHave, ControlIWant, ControlMessage, ControlPrune, PeerInfo,
};

/// The largest RPC we send that carries no message (control and
/// subscriptions); a message's RPC is as large as the message.
pub(crate) const MAX_RPC: usize = 60 * 1024;

/// Ids per IHAVE, IWANT or IDONTWANT entry we send (a few KiB of ids).
const IDS_PER_ENTRY: usize = 500;

#[derive(Debug, Default)]
struct Pending {
    subscriptions: Vec<SubOpts>,
    messages: Vec<Vec<u8>>,
    control: ControlMessage,
}

/// The RPCs owed, per peer, in peer order (deterministic).
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    peers: BTreeMap<PeerId, Pending>,
}

fn ids(ids: &[MessageId]) -> Vec<Vec<u8>> {
    ids.iter().map(|id| id.as_bytes().to_vec()).collect()
}

impl Outbox {
    fn to(&mut self, peer: PeerId) -> &mut Pending {
        self.peers.entry(peer).or_default()
    }

    pub(crate) fn subscription(&mut self, peer: PeerId, topic: &str, subscribe: bool) {
        self.to(peer).subscriptions.push(SubOpts { subscribe: Some(subscribe), topic_id: Some(topic.to_owned()) });
    }

    /// A message, as the RPC that carries it alone
    /// ([`message_rpc`]: encoded once, however many peers get it).
    pub(crate) fn message(&mut self, peer: PeerId, rpc: Vec<u8>) {
        self.to(peer).messages.push(rpc);
    }

    pub(crate) fn graft(&mut self, peer: PeerId, topic: &str) {
        self.to(peer).control.graft.push(ControlGraft { topic_id: Some(topic.to_owned()) });
    }

    /// A PRUNE with our backoff, offering `exchange` peers (peer
    /// exchange: their ids, without signed records, as rust-libp2p sends).
    pub(crate) fn prune(&mut self, peer: PeerId, topic: &str, backoff_secs: u64, exchange: &[PeerId]) {
        let peers =
            exchange.iter().map(|id| PeerInfo { peer_id: Some(id.to_bytes()), signed_peer_record: None }).collect();
        let prune = ControlPrune { topic_id: Some(topic.to_owned()), peers, backoff: Some(backoff_secs) };
        self.to(peer).control.prune.push(prune);
    }

    pub(crate) fn ihave(&mut self, peer: PeerId, topic: &str, message_ids: &[MessageId]) {
        for chunk in message_ids.chunks(IDS_PER_ENTRY) {
            let ihave = ControlIHave { topic_id: Some(topic.to_owned()), message_ids: ids(chunk) };
            self.to(peer).control.ihave.push(ihave);
        }
    }

    pub(crate) fn iwant(&mut self, peer: PeerId, message_ids: &[MessageId]) {
        for chunk in message_ids.chunks(IDS_PER_ENTRY) {
            self.to(peer).control.iwant.push(ControlIWant { message_ids: ids(chunk) });
        }
    }

    pub(crate) fn idontwant(&mut self, peer: PeerId, id: &MessageId) {
        self.to(peer).control.idontwant.push(ControlIDontWant { message_ids: ids(std::slice::from_ref(id)) });
    }

    /// The RPCs, as actions: per peer, subscriptions and control first
    /// (cut to fit [`MAX_RPC`]), then each message alone.
    pub(crate) fn into_actions(self, actions: &mut Vec<Action>) {
        for (peer, pending) in self.peers {
            for rpc in control_rpcs(pending.subscriptions, pending.control) {
                actions.push(Action::Send { peer, rpc });
            }
            for rpc in pending.messages {
                actions.push(Action::Send { peer, rpc });
            }
        }
    }
}

/// The RPC that carries one message alone.
pub(crate) fn message_rpc(raw: &[u8]) -> Vec<u8> {
    Rpc::messages(vec![raw.to_vec()]).encode()
}

/// Packs subscriptions and control entries greedily into RPCs of at most
/// [`MAX_RPC`] bytes (an entry is never split further: each is bounded by
/// `IDS_PER_ENTRY`).
fn control_rpcs(subscriptions: Vec<SubOpts>, control: ControlMessage) -> Vec<Vec<u8>> {
    let mut rpcs = Vec::new();
    let mut current = Rpc { subscriptions, ..Rpc::default() };
    let mut current_control = ControlMessage::default();
    let entries = control
        .graft
        .into_iter()
        .map(|graft| ControlMessage { graft: vec![graft], ..Default::default() })
        .chain(control.prune.into_iter().map(|prune| ControlMessage { prune: vec![prune], ..Default::default() }))
        .chain(control.ihave.into_iter().map(|ihave| ControlMessage { ihave: vec![ihave], ..Default::default() }))
        .chain(control.iwant.into_iter().map(|iwant| ControlMessage { iwant: vec![iwant], ..Default::default() }))
        .chain(
            control.idontwant.into_iter().map(|entry| ControlMessage { idontwant: vec![entry], ..Default::default() }),
        );
    for entry in entries {
        let size = current_control.encode().len() + entry.encode().len() + 16;
        if !current_control.is_empty() && size + subscriptions_len(&current) > MAX_RPC {
            current.control = Some(std::mem::take(&mut current_control).encode());
            rpcs.push(std::mem::take(&mut current).encode());
        }
        merge(&mut current_control, entry);
    }
    if !current_control.is_empty() {
        current.control = Some(current_control.encode());
    }
    if !current.subscriptions.is_empty() || current.control.is_some() {
        rpcs.push(current.encode());
    }
    rpcs
}

fn subscriptions_len(rpc: &Rpc) -> usize {
    rpc.subscriptions.iter().map(|sub| sub.topic_id.as_ref().map_or(0, String::len) + 8).sum()
}

fn merge(into: &mut ControlMessage, entry: ControlMessage) {
    into.ihave.extend(entry.ihave);
    into.iwant.extend(entry.iwant);
    into.graft.extend(entry.graft);
    into.prune.extend(entry.prune);
    into.idontwant.extend(entry.idontwant);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn sent(outbox: Outbox) -> Vec<(PeerId, Rpc)> {
        let mut actions = Vec::new();
        outbox.into_actions(&mut actions);
        actions
            .into_iter()
            .map(|action| match action {
                Action::Send { peer, rpc } => {
                    assert!(rpc.len() <= MAX_RPC + 1024 * 64, "bounded");
                    (peer, Rpc::decode(&rpc).unwrap())
                }
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn control_and_subscriptions_share_an_rpc_messages_go_alone() {
        let peer = PeerId::random();
        let mut outbox = Outbox::default();
        outbox.subscription(peer, "t", true);
        outbox.graft(peer, "t");
        outbox.message(peer, message_rpc(&[1]));
        outbox.message(peer, message_rpc(&[2]));
        let rpcs = sent(outbox);
        assert_eq!(rpcs.len(), 3);
        assert_eq!(rpcs[0].1.subscriptions.len(), 1);
        let control = ControlMessage::decode(rpcs[0].1.control.as_deref().unwrap()).unwrap();
        assert_eq!(control.graft.len(), 1);
        assert_eq!(rpcs[1].1.publish, [vec![1]]);
        assert_eq!(rpcs[2].1.publish, [vec![2]]);
    }

    #[test]
    fn a_long_ihave_is_cut_into_rpcs_under_the_limit() {
        let peer = PeerId::random();
        let mut outbox = Outbox::default();
        let ids: Vec<MessageId> =
            (0..5000_u32).map(|n| MessageId::new([n.to_be_bytes().to_vec(), vec![0; 36]].concat())).collect();
        outbox.ihave(peer, "t", &ids);
        let rpcs = sent(outbox);
        assert!(rpcs.len() > 1, "{} RPCs", rpcs.len());
        let mut total = 0;
        for (_, rpc) in &rpcs {
            assert!(rpc.encode().len() <= MAX_RPC);
            let control = ControlMessage::decode(rpc.control.as_deref().unwrap()).unwrap();
            total += control.ihave.iter().map(|ihave| ihave.message_ids.len()).sum::<usize>();
        }
        assert_eq!(total, 5000, "no id lost");
    }
}
