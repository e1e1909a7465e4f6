#![doc = include_str!("../README.md")]

mod config;
pub mod control;
mod gossip;
mod heartbeat;
mod mcache;
mod mesh;
mod outbox;
mod overlay;
mod rng;
mod router;
pub mod score;

pub use config::{Config, MeshParams};
pub use router::GossipRouter;
pub use score::{ScoreParams, Thresholds, TopicScoreParams};
pub use strata_pubsub::{
    Error, Event, Message, MessageError, MessageId, MessageIdFn, SignaturePolicy, Subscription, Validator, Verdict,
    Violation,
};

/// The gossipsub service of a host ([`strata_pubsub::Service`] running a
/// [`GossipRouter`]): `Gossipsub::attach(&host, Config::default())` serves
/// [`PROTOCOLS`], follows the host's connections and starts the
/// heartbeat; the direct peers of the config are added to the host's peer
/// store (with their addresses) and dialed at the first heartbeat. Beside
/// the shared methods it answers for its mesh and scores
/// ([`mesh_peers`](strata_pubsub::Service::mesh_peers),
/// [`peer_score`](strata_pubsub::Service::peer_score),
/// [`set_application_score`](strata_pubsub::Service::set_application_score)).
/// Cheap to clone.
pub type Gossipsub = strata_pubsub::Service<GossipRouter>;

/// The protocol ids served and proposed, preferred first: gossipsub v1.2,
/// v1.1, v1.0, and floodsub for floodsub-only peers.
pub const PROTOCOLS: &[&str] = &["/meshsub/1.2.0", "/meshsub/1.1.0", "/meshsub/1.0.0", "/floodsub/1.0.0"];
