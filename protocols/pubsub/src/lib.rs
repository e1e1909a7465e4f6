#![doc = include_str!("../README.md")]

pub mod config;
pub mod message;
pub mod peers;
pub mod router;
pub mod rpc;
pub mod seen;
pub mod service;
pub mod signing;
pub mod topics;
pub mod validation;
pub mod writer;

pub use config::Config;
pub use message::{MAX_SEQNO_LEN, Message, MessageError, MessageId, MessageIdFn};
pub use peers::{Peer, Peers};
pub use router::{Action, Event, FromConfig, MeshRouter, PeerConnection, Router, Violation};
pub use rpc::Rpc;
pub use seen::SeenCache;
pub use service::{Error, Service, ServiceConfig};
pub use signing::{SignatureError, SignaturePolicy};
pub use topics::{LocalTopics, Subscribers, Subscription, TooManyTopics, TopicChange};
pub use validation::{Validator, Verdict};
pub use writer::{StreamStyle, StyleJudge, WriterConfig, Writers};
