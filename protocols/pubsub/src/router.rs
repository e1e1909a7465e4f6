//! The router seam: what a pubsub router is told ([`Router`]), what it
//! answers ([`Action`]), and what the service reports ([`Event`]). A
//! router is a state machine with no I/O; the service drives it.

use std::time::Instant;

use strata_core::{Multiaddr, PeerId};

use crate::{Message, MessageId, TooManyTopics, Verdict};

/// What a router asks the service to do.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// Send an encoded RPC to a peer.
    Send {
        /// The peer.
        peer: PeerId,
        /// The RPC's bytes, without the length prefix.
        rpc: Vec<u8>,
    },
    /// Hand a message to the local subscribers of its topics.
    Deliver(Message),
    /// Report to event subscribers.
    Report(Event),
    /// Ask the application's [`Validator`](crate::Validator) about a received message; the
    /// verdict comes back through [`Router::validated`].
    Validate {
        /// The message's id.
        id: MessageId,
        /// The peer it came from.
        from: PeerId,
        /// The message.
        message: Message,
    },
    /// Connect to a peer at the addresses the host's peer store holds for
    /// it (peer exchange, direct peers), unless connected or dialing.
    Dial(PeerId),
}

/// The first connection of a peer, as a router sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerConnection {
    /// The remote's address (its IP, for colocation scoring).
    pub remote_addr: Multiaddr,
    /// Whether we dialed it.
    pub outbound: bool,
}

/// What the service reports.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A peer subscribed to a topic.
    Subscribed {
        /// The peer.
        peer: PeerId,
        /// The topic.
        topic: String,
    },
    /// A peer unsubscribed from a topic, or left.
    Unsubscribed {
        /// The peer.
        peer: PeerId,
        /// The topic.
        topic: String,
    },
    /// A peer joined our mesh of a topic (gossipsub).
    Grafted {
        /// The peer.
        peer: PeerId,
        /// The topic.
        topic: String,
    },
    /// A peer left our mesh of a topic (gossipsub).
    Pruned {
        /// The peer.
        peer: PeerId,
        /// The topic.
        topic: String,
    },
}

/// A peer broke a rule: it loses the stream it did it on (the actions
/// taken before the breach stand). The same for every router.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Violation {
    /// The RPC, or its control part, is not a valid protobuf.
    #[error("malformed RPC")]
    Malformed,
    /// More topics than allowed.
    #[error(transparent)]
    TooManyTopics(#[from] TooManyTopics),
    /// More messages a second than allowed.
    #[error("more than its budget of {0} messages a second")]
    OverBudget(u32),
}

/// A pubsub router: who wants which topic and where each message goes,
/// with no I/O (the service feeds it events and the time, and carries
/// out its actions). Object-safe: `Service<dyn Router>` runs any of them.
pub trait Router: Send + 'static {
    /// A peer connected (its first connection).
    fn peer_connected(&mut self, peer: PeerId, connection: &PeerConnection, now: Instant) -> Vec<Action>;
    /// A peer's last connection closed: the router forgets it.
    fn peer_disconnected(&mut self, peer: PeerId, now: Instant) -> Vec<Action>;
    /// A peer opened a stream to us with `protocol` (one of the service's):
    /// what it speaks.
    fn peer_protocol(&mut self, _peer: PeerId, _protocol: &str) {}
    /// The first local subscription to `topic` started, or the last ended.
    fn set_local(&mut self, topic: &str, subscribed: bool, now: Instant) -> Vec<Action>;
    /// A message we publish (`raw` on the wire, `message` decoded).
    fn publish(&mut self, raw: Vec<u8>, message: &Message, local: PeerId, now: Instant) -> Vec<Action>;
    /// An RPC from `peer`; with a violation, the actions of what came
    /// before it in the RPC.
    fn receive(&mut self, peer: PeerId, rpc: &[u8], now: Instant) -> (Vec<Action>, Option<Violation>);
    /// The application's verdict on a message the router asked about with
    /// [`Action::Validate`].
    fn validated(&mut self, _id: &MessageId, _verdict: Verdict, _now: Instant) -> Vec<Action> {
        Vec::new()
    }
    /// The periodic heartbeat, for routers with a
    /// [`ServiceConfig::heartbeat`](crate::ServiceConfig::heartbeat).
    fn heartbeat(&mut self, _now: Instant) -> Vec<Action> {
        Vec::new()
    }
    /// The peers subscribed to `topic`.
    fn peers_of(&self, topic: &str) -> Vec<PeerId>;
    /// How many peers the router keeps state for (zero once all left).
    fn peer_count(&self) -> usize;
}

/// A router built from its configuration: what
/// [`Service::attach`](crate::Service::attach) takes.
pub trait FromConfig: Router + Sized {
    /// The router's configuration (the shared [`Config`](crate::Config),
    /// and the router's own parameters on top).
    type Config;

    /// The router, and what the service needs of the configuration.
    fn from_config(config: Self::Config) -> (Self, crate::ServiceConfig);
}

/// A router that keeps a mesh per topic and scores its peers (gossipsub):
/// a [`Service`](crate::Service) of it answers for its mesh and scores.
pub trait MeshRouter: Router {
    /// The peers in our mesh of `topic`.
    fn mesh_peers(&self, topic: &str) -> Vec<PeerId>;
    /// The score of `peer` at `now` (0 with scoring off, or for a peer
    /// never seen).
    fn score(&self, peer: PeerId, now: Instant) -> f64;
    /// Sets the application's score of a connected peer; `false` if the
    /// peer is not connected or scoring is off.
    fn set_application_score(&mut self, peer: PeerId, score: f64) -> bool;
}
