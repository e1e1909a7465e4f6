//! The flooding router: who wants which topic, and where each message
//! goes. A state machine with no I/O: the service feeds it what happens
//! (peers coming and going, RPC bytes, local subscriptions, the time) and
//! carries out the [`Action`]s it returns. Tested with bytes alone.
//!
//! Spec: `libp2p-pubsub.md` (floodsub, "simple flooding pubsub"):
//!
//! - On a new connection, each side announces its subscriptions; later
//!   subscribes and unsubscribes are announced to every connected peer.
//! - A message is delivered to local subscribers of any of its topics, and
//!   forwarded, as received, to every peer subscribed to any of its topics,
//!   except the peer it came from and its author.
//! - The seen-cache makes sure this happens at most once per message.
//!
//! The message model (codec, signatures, ids, seen-cache, topic tables)
//! is `strata-pubsub`'s; this file is only the flooding.

use std::time::Instant;

use strata_core::PeerId;
use strata_pubsub::{
    Action, Config, Event, FromConfig, LocalTopics, Message, MessageIdFn, PeerConnection, Peers, Rpc, SeenCache,
    ServiceConfig, TopicChange, Violation, message, rpc::SubOpts,
};

/// The floodsub router, with no I/O: what [`crate::Floodsub`] runs on the
/// shared pubsub service, public for simulations and other embeddings
/// (drive it through [`strata_pubsub::Router`]).
#[derive(Debug)]
pub struct FloodRouter {
    config: Config,
    message_id: MessageIdFn,
    /// Our topics.
    local: LocalTopics,
    /// One record per peer: its topics, budget, whether it was greeted.
    peers: Peers<()>,
    seen: SeenCache,
}

impl FloodRouter {
    /// A router with `config` (its limits and signature policy).
    pub fn new(config: Config) -> Self {
        let peers = Peers::new(config.max_topics_per_peer(), config.max_messages_per_sec());
        Self {
            message_id: config.message_id().clone(),
            seen: config.seen_cache(),
            config,
            local: LocalTopics::default(),
            peers,
        }
    }

    /// Sends a message to every peer subscribed to any of `topics`, except
    /// `skip`.
    fn flood(&self, raw: Vec<u8>, topics: &[String], skip: &[PeerId]) -> Vec<Action> {
        let rpc = Rpc::messages(vec![raw]).encode();
        let mut targets: Vec<PeerId> = self
            .peers
            .ids()
            .filter(|peer| !skip.contains(peer) && topics.iter().any(|topic| self.peers.is_subscribed(*peer, topic)))
            .collect();
        targets.sort();
        targets.into_iter().map(|peer| Action::Send { peer, rpc: rpc.clone() }).collect()
    }

    fn subscriptions(
        &mut self,
        from: PeerId,
        changes: Vec<SubOpts>,
        actions: &mut Vec<Action>,
    ) -> Result<(), Violation> {
        let report = |changes: Vec<TopicChange>, actions: &mut Vec<Action>| {
            actions.extend(changes.into_iter().map(|TopicChange { topic, subscribed }| {
                Action::Report(if subscribed {
                    Event::Subscribed { peer: from, topic }
                } else {
                    Event::Unsubscribed { peer: from, topic }
                })
            }));
        };
        match self.peers.apply(from, changes) {
            Ok(applied) => {
                report(applied, actions);
                Ok(())
            }
            Err(mut error) => {
                report(std::mem::take(&mut error.applied), actions);
                Err(error.into())
            }
        }
    }
}

impl FromConfig for FloodRouter {
    type Config = Config;

    fn from_config(config: Config) -> (Self, ServiceConfig) {
        let service = ServiceConfig {
            protocols: &[crate::PROTOCOL],
            shared: config.clone(),
            heartbeat: None,
            validator: None,
            known_addrs: Vec::new(),
        };
        (Self::new(config), service)
    }
}

impl strata_pubsub::Router for FloodRouter {
    /// A peer connected: tell it our subscriptions (once, however many
    /// connections it has).
    fn peer_connected(&mut self, peer: PeerId, _connection: &PeerConnection, _now: Instant) -> Vec<Action> {
        let Some(rpc) = self.peers.greet(peer, &self.local) else { return Vec::new() };
        vec![Action::Send { peer, rpc }]
    }

    /// A peer's last connection closed: forget its subscriptions.
    fn peer_disconnected(&mut self, peer: PeerId, _now: Instant) -> Vec<Action> {
        let topics = self.peers.remove(peer);
        topics.into_iter().map(|topic| Action::Report(Event::Unsubscribed { peer, topic })).collect()
    }

    /// The first local subscription to `topic` started (`true`) or the
    /// last ended: tell every peer.
    fn set_local(&mut self, topic: &str, subscribed: bool, _now: Instant) -> Vec<Action> {
        let changed = self.local.set(topic, subscribed);
        if !changed {
            return Vec::new();
        }
        let rpc = Rpc::subscriptions([(topic, subscribed)]).encode();
        self.peers.sorted().into_iter().map(|peer| Action::Send { peer, rpc: rpc.clone() }).collect()
    }

    /// The peers subscribed to `topic`.
    fn peers_of(&self, topic: &str) -> Vec<PeerId> {
        self.peers.peers_of(topic)
    }

    /// How many peers the router tracks.
    fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// A message we publish (`raw` on the wire, `message` decoded).
    fn publish(&mut self, raw: Vec<u8>, message: &Message, local: PeerId, now: Instant) -> Vec<Action> {
        self.seen.insert(self.message_id.id(message), now);
        self.flood(raw, &message.topics, &[local])
    }

    /// An RPC from `from`. On a violation, the actions of what came before
    /// it in the RPC are returned with it.
    fn receive(&mut self, from: PeerId, bytes: &[u8], now: Instant) -> (Vec<Action>, Option<Violation>) {
        let Ok(rpc) = Rpc::decode(bytes) else { return (Vec::new(), Some(Violation::Malformed)) };
        let mut actions = Vec::new();
        if let Err(violation) = self.subscriptions(from, rpc.subscriptions, &mut actions) {
            return (actions, Some(violation));
        }
        if !rpc.publish.is_empty() && !self.peers.spend(from, rpc.publish.len(), now) {
            return (actions, Some(Violation::OverBudget(self.peers.per_sec())));
        }
        for raw in rpc.publish {
            // Seen first, signature after: a duplicate costs no signature
            // check, and a forged copy cannot mark a real message seen.
            let checked =
                message::decode(self.config.policy(), self.config.max_message_len(), &raw).and_then(|decoded| {
                    let id = self.message_id.id(decoded.message());
                    if self.seen.contains(&id) { Ok(None) } else { Ok(Some((id, decoded.verify(&raw)?))) }
                });
            match checked {
                Ok(None) => {}
                Ok(Some((id, message))) => {
                    self.seen.insert(id, now);
                    let mut skip = vec![from];
                    skip.extend(message.source);
                    actions.extend(self.flood(raw, &message.topics, &skip));
                    if message.topics.iter().any(|topic| self.local.contains(topic)) {
                        actions.push(Action::Deliver(message));
                    }
                }
                Err(error) => tracing::debug!(%from, %error, "floodsub: dropping a message"),
            }
        }
        (actions, None)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use strata_core::Keypair;
    use strata_pubsub::SignaturePolicy;

    use strata_pubsub::Router as _;

    use super::*;

    fn connection() -> PeerConnection {
        PeerConnection { remote_addr: "/ip4/127.0.0.1/tcp/1".parse().unwrap(), outbound: false }
    }

    fn rpc_of(raw: Vec<u8>) -> Vec<u8> {
        Rpc::messages(vec![raw]).encode()
    }

    fn subscribe(topics: &[&str]) -> Vec<u8> {
        Rpc::subscriptions(topics.iter().map(|topic| (*topic, true))).encode()
    }

    #[test]
    fn a_message_is_delivered_and_flooded_once_except_to_sender_and_author() {
        let mut router = FloodRouter::new(Config::default());
        let (a, b, c) = (PeerId::random(), PeerId::random(), PeerId::random());
        let author = Keypair::ed25519_from_secret([3; 32]);
        let now = Instant::now();
        for peer in [a, b, c, author.peer_id()] {
            router.peer_connected(peer, &connection(), now);
            assert!(router.receive(peer, &subscribe(&["t"]), now).1.is_none());
        }
        router.set_local("t", true, now);
        assert!(router.peer_connected(a, &connection(), now).is_empty(), "announced once");
        let (raw, _) =
            message::publish(SignaturePolicy::StrictSign, &author.public(), |m| author.sign(m), 1, "t", b"x");
        let (actions, violation) = router.receive(a, &rpc_of(raw.clone()), now);
        assert!(violation.is_none());
        let sent_to: Vec<PeerId> = actions
            .iter()
            .filter_map(|action| if let Action::Send { peer, .. } = action { Some(*peer) } else { None })
            .collect();
        let mut expected = vec![b, c];
        expected.sort();
        assert_eq!(sent_to, expected);
        assert!(actions.iter().any(|action| matches!(action, Action::Deliver(m) if m.data == b"x")));
        assert!(router.receive(b, &rpc_of(raw), now).0.is_empty(), "seen already");
    }

    #[test]
    fn a_peer_heard_from_before_its_connection_event_is_still_announced_to() {
        let mut router = FloodRouter::new(Config::default());
        let now = Instant::now();
        router.set_local("t", true, now);
        let peer = PeerId::random();
        assert!(router.receive(peer, &subscribe(&["t"]), now).1.is_none());
        let announced = router.peer_connected(peer, &connection(), now);
        assert_eq!(announced, [Action::Send { peer, rpc: subscribe(&["t"]) }]);
    }

    #[test]
    fn too_many_topics_reports_what_was_applied() {
        let mut router = FloodRouter::new(Config::default().with_max_topics_per_peer(2));
        let peer = PeerId::random();
        let (actions, violation) = router.receive(peer, &subscribe(&["a", "b", "c"]), Instant::now());
        assert!(matches!(violation, Some(Violation::TooManyTopics(_))));
        assert_eq!(actions.len(), 2, "a and b are reported: {actions:?}");
        assert_eq!(router.peers_of("b"), [peer]);
    }

    #[test]
    fn a_disconnect_leaves_nothing_of_the_peer() {
        let mut router = FloodRouter::new(Config::default());
        let (peer, now) = (PeerId::random(), Instant::now());
        router.set_local("t", true, now);
        router.peer_connected(peer, &connection(), now);
        assert!(router.receive(peer, &subscribe(&["t", "u"]), now).1.is_none());
        assert_eq!(router.peer_count(), 1);
        let left = router.peer_disconnected(peer, now);
        assert_eq!(left.len(), 2, "both topics reported: {left:?}");
        assert_eq!(router.peer_count(), 0);
        assert!(router.peers_of("t").is_empty());
        assert_eq!(router.peer_connected(peer, &connection(), now).len(), 1, "greeted again on its return");
    }

    #[test]
    fn a_peer_past_its_message_budget_is_cut_until_it_refills() {
        let mut router = FloodRouter::new(Config::default().with_max_messages_per_sec(10));
        let (peer, now) = (PeerId::random(), Instant::now());
        let author = Keypair::ed25519_from_secret([4; 32]);
        let rpc = |n: u64| {
            let raw =
                message::publish(SignaturePolicy::StrictSign, &author.public(), |m| author.sign(m), n, "t", b"x").0;
            rpc_of(raw)
        };
        for n in 0..20 {
            assert!(router.receive(peer, &rpc(n), now).1.is_none(), "the burst (twice the rate) is allowed");
        }
        assert!(matches!(router.receive(peer, &rpc(20), now).1, Some(Violation::OverBudget(10))));
        let later = now + std::time::Duration::from_millis(150);
        assert!(router.receive(peer, &rpc(21), later).1.is_none(), "1.5 messages came back");
        router.peer_disconnected(peer, now);
        assert_eq!(router.peer_count(), 0);
    }

    #[test]
    fn arbitrary_rpcs_never_panic() {
        let mut router = FloodRouter::new(Config::default().with_max_topics_per_peer(8));
        let (peer, now) = (PeerId::random(), Instant::now());
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for len in 0..3000 {
            let bytes: Vec<u8> = (0..len % 300)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state.to_le_bytes()[0]
                })
                .collect();
            let _ = router.receive(peer, &bytes, now);
        }
    }
}
