#![doc = include_str!("../README.md")]

mod config;
pub mod control;
mod gossip;
mod heartbeat;
mod mcache;
mod mesh;
mod outbox;
mod rng;
mod router;
pub mod score;
mod service;

pub use config::{Config, MeshParams};
pub use router::{GossipRouter, Violation};
pub use score::{ScoreParams, Thresholds, TopicScoreParams};
pub use service::Gossipsub;
pub use strata_pubsub::{
    Event, Message, MessageError, MessageId, MessageIdFn, SignaturePolicy, Subscription, Validator, Verdict,
    service::Error,
};

/// The protocol ids served and proposed, preferred first: gossipsub v1.2,
/// v1.1, v1.0, and floodsub for floodsub-only peers.
pub const PROTOCOLS: &[&str] = &["/meshsub/1.2.0", "/meshsub/1.1.0", "/meshsub/1.0.0", "/floodsub/1.0.0"];
