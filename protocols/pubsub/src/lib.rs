#![doc = include_str!("../README.md")]

pub mod budget;
pub mod message;
pub mod rpc;
pub mod seen;
pub mod service;
pub mod signing;
pub mod topics;
pub mod validation;
pub mod writer;

pub use budget::Budgets;
pub use message::{MAX_SEQNO_LEN, Message, MessageError, MessageId, MessageIdFn};
pub use rpc::Rpc;
pub use seen::SeenCache;
pub use service::{Action, Event, PeerConnection, Router, Service, ServiceConfig};
pub use signing::{SignatureError, SignaturePolicy};
pub use topics::{LocalTopics, PeerTopics, Subscribers, Subscription, TooManyTopics, TopicChange};
pub use validation::{Validator, Verdict};
pub use writer::{SendError, StreamStyle, WriterConfig, Writers};
